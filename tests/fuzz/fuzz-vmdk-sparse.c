/* SPDX-License-Identifier: MIT */
/*
 * Hosted sparse VMDK extents (formats/disk/vmdk-sparse.c): the input is a whole "KDMV"
 * file.  It is opened as a bare extent (header, grain directory, grain tables, or the
 * stream footer and marker walk when the header says so), then walked and read; its
 * embedded descriptor, when it has one, is read too and the file opened as vmdk_open()
 * would (descriptor naming the file itself).  Every failure must come with a one-line
 * message.
 */
#include <errno.h>
#include <string.h>

#include "../../formats/disk/vmdk.h"
#include "disk-check.h"
#include "fuzz.h"

FUZZ_TARGET(vmdk_sparse, "vmdk-sparse")
{
	struct source *src;
	struct disk *d;
	struct err err = { 0 };
	char *text;
	size_t len;
	int r;

	if (source_mem_new(data, size, "fuzz.vmdk", &src, &err) < 0)
		return 0;
	fuzz_check_extent(src, "fuzz.vmdk", vmdk_sparse_open, fuzz_hash(data, size));

	r = vmdk_sparse_read_descriptor(src, &text, &len, &err);
	if (r == 0) {
		FUZZ_CHECK(strlen(text) == len, "descriptor length %zu, strlen %zu", len,
			   strlen(text));
		free(text);
		err_clear(&err);
		r = vmdk_open(src, NULL, &d, &err);
		if (r == 0) {
			fuzz_check_disk(d, fuzz_hash(data, size) ^ 1);
			disk_unref(d);
		} else {
			fuzz_check_err(r, &err);
		}
	} else if (r != -ENOENT) {
		fuzz_check_err(r, &err);
	}
	source_unref(src);
	return 0;
}
