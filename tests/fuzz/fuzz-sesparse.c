/* SPDX-License-Identifier: MIT */
/*
 * ESXi seSparse delta extents (formats/disk/sesparse.c): the input is a whole
 * -sesparse.vmdk file (constant and volatile headers, grain directory, grain tables,
 * grains; the areas need not sit on the 1 MiB boundaries ESXi uses, so the seeds are
 * small), opened as one extent, then walked and read through disk-check.h.
 */
#include "../../formats/disk/vmdk.h"
#include "disk-check.h"
#include "fuzz.h"

FUZZ_TARGET(sesparse, "sesparse")
{
	struct source *src;
	struct disk *d;
	struct err err = { 0 };
	int r;

	if (source_mem_new(data, size, "fuzz-sesparse.vmdk", &src, &err) < 0)
		return 0;
	r = sesparse_open(src, "fuzz-sesparse.vmdk", &d, &err);
	if (r == 0) {
		FUZZ_CHECK(d->size % 512 == 0, "capacity 0x%" PRIx64 " is not whole sectors",
			   d->size);
		fuzz_check_disk(d, fuzz_hash(data, size));
		disk_unref(d);
	} else {
		fuzz_check_err(r, &err);
	}
	source_unref(src);
	return 0;
}
