/* SPDX-License-Identifier: MIT */
/*
 * ESXi vmfsSparse ("COWD") delta extents (formats/disk/cowd.c): the input is a whole
 * -delta.vmdk file, opened as one extent (header, grain directory, every grain table
 * checked at open), then walked and read through disk-check.h: runs inside the disk, DATA
 * runs reading as the file's bytes where status says they sit, the rest as zeros.
 */
#include "../../formats/disk/vmdk.h"
#include "disk-check.h"
#include "fuzz.h"

FUZZ_TARGET(cowd, "cowd")
{
	struct source *src;
	struct disk *d;
	struct err err = { 0 };
	int r;

	if (source_mem_new(data, size, "fuzz-delta.vmdk", &src, &err) < 0)
		return 0;
	r = cowd_open(src, "fuzz-delta.vmdk", &d, &err);
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
