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
	struct err err = { 0 };

	if (source_mem_new(data, size, "fuzz-sesparse.vmdk", &src, &err) == 0) {
		fuzz_check_extent(src, "fuzz-sesparse.vmdk", sesparse_open, fuzz_hash(data, size));
		source_unref(src);
	}
	return 0;
}
