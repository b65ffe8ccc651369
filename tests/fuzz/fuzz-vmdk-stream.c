/* SPDX-License-Identifier: MIT */
/*
 * The streamOptimized marker walk (formats/disk/vmdk-sparse.c, layout (c)): the path for
 * a stream whose header says "grain directory at the end" and whose footer is missing,
 * so the grains describe themselves.  The input is a KDMV file whose header this harness
 * forces into that shape (magic, stream flags, deflate, gdOffset ~0, no redundant GD) so
 * that every mutation lands in the markers instead of failing a header check; geometry,
 * overHead and everything after the header come from the input.  Then, as for any disk:
 * walk, probe, read (inflating grains).
 */
#include "../../formats/common/endian.h"
#include "../../formats/disk/vmdk.h"
#include "disk-check.h"
#include "fuzz.h"

#define HEADER 512

FUZZ_TARGET(vmdk_stream, "vmdk-stream")
{
	size_t n = size < HEADER ? HEADER : size;
	uint8_t *img = calloc(1, n);
	struct source *src;
	struct disk *d;
	struct err err = { 0 };
	int r;

	if (!img)
		return 0;
	memcpy(img, data, size);
	memcpy(img, "KDMV", 4);
	/* compressed grains and markers; no newline test, no redundant GD */
	put_le32(img + 8, (le32(img + 8) & ~3u) | (1u << 16) | (1u << 17));
	put_le64(img + 56, UINT64_MAX);
	img[77] = 1;
	img[78] = 0;
	r = source_mem_new(img, n, "fuzz-stream.vmdk", &src, &err);
	free(img);
	if (r < 0)
		return 0;
	r = vmdk_sparse_open(src, "fuzz-stream.vmdk", &d, &err);
	if (r == 0) {
		FUZZ_CHECK(d->costly, "a stream disk that does not say it inflates");
		fuzz_check_disk(d, fuzz_hash(data, size));
		disk_unref(d);
	} else {
		fuzz_check_err(r, &err);
	}
	source_unref(src);
	return 0;
}
