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
	struct err err = { 0 };

	if (source_mem_new(data, size, "fuzz-delta.vmdk", &src, &err) == 0) {
		fuzz_check_extent(src, "fuzz-delta.vmdk", cowd_open, fuzz_hash(data, size));
		source_unref(src);
	}
	return 0;
}
