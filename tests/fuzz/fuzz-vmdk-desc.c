/* SPDX-License-Identifier: MIT */
/*
 * The VMDK text descriptor (formats/disk/vmdk-desc.c), then the disk built from it
 * (formats/disk/vmdk.c): the input is a descriptor file.  Whatever the parser accepts must
 * be self-consistent (a createType, ZERO extents and only they without a file, every key
 * findable); then vmdk_open() builds the disk, opening every extent file through a
 * resolver that hands out the same 1 MiB in-memory file under the name asked for: a small
 * monolithicSparse extent of 2048 sectors in its first sectors (so SPARSE extents of that
 * size open) and bytes anyone can read as FLAT data.
 */
#include <errno.h>
#include <string.h>

#include "../../formats/common/endian.h"
#include "../../formats/disk/vmdk.h"
#include "disk-check.h"
#include "fuzz.h"

#define BACKING_SECTORS 2048u

static struct source *backing;

/* The resolver's file, made once and kept for the life of the process. */
static struct source *backing_get(void)
{
	uint8_t *b;

	if (backing)
		return backing;
	b = malloc(BACKING_SECTORS * 512);
	FUZZ_CHECK(b, "out of memory");
	for (size_t i = 0; i < BACKING_SECTORS * 512; i++)
		b[i] = (uint8_t)(i * 131 + (i >> 9) + 1);
	memset(b, 0, 16 * 512);
	memcpy(b, "KDMV", 4);
	put_le32(b + 4, 1);
	put_le32(b + 8, 1);		   /* the newline test bytes are valid */
	put_le64(b + 12, BACKING_SECTORS); /* capacity */
	put_le64(b + 20, 8);		   /* grain: 8 sectors */
	put_le32(b + 44, 512);		   /* GTEs per GT */
	put_le64(b + 56, 1);		   /* GD at sector 1: one table, at sector 2 */
	put_le64(b + 64, 16);		   /* overHead */
	memcpy(b + 73, "\n \r\n", 4);
	put_le32(b + 512, 2);
	put_le32(b + 1024 + 0 * 4, 16); /* grains 0 and 5 hold data */
	put_le32(b + 1024 + 5 * 4, 24);
	FUZZ_CHECK(source_mem_new(b, BACKING_SECTORS * 512, "extent.vmdk", &backing, NULL) == 0,
		   "out of memory");
	free(b);
	return backing;
}

/* Every name opens the same bytes, named after the file as the real resolvers name them,
 * so that the name reaches messages as it would. */
static int open_extent_file(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct source *b = backing_get();

	(void)opaque;
	FUZZ_CHECK(file && file[0], "asked to open an empty extent file name");
	return source_slice_new(b, 0, b->size, file, ret, err);
}

static void check_desc(const struct vmdk_desc *d)
{
	FUZZ_CHECK(d->create_type, "no createType after a successful parse");
	FUZZ_CHECK(d->n_extents <= VMDK_DESC_MAX_EXTENTS, "%zu extents", d->n_extents);
	for (size_t i = 0; i < d->n_extents; i++) {
		const struct vmdk_extent *x = &d->extents[i];

		FUZZ_CHECK(vmdk_extent_type_name(x->type), "extent %zu: type %d has no name", i,
			   (int)x->type);
		FUZZ_CHECK((x->type == VMDK_EXTENT_ZERO) == (x->file == NULL),
			   "extent %zu: type %s with file %s", i, vmdk_extent_type_name(x->type),
			   x->file ? x->file : "(none)");
		FUZZ_CHECK(!x->file || x->file[0], "extent %zu: empty file name", i);
	}
	for (size_t i = 0; i < d->n_kv; i++) {
		FUZZ_CHECK(d->kv[i].key && d->kv[i].value, "key %zu is NULL", i);
		FUZZ_CHECK(vmdk_desc_get(d, d->kv[i].key), "key \"%s\" cannot be found",
			   d->kv[i].key);
	}
}

FUZZ_TARGET(vmdk_desc, "vmdk-desc")
{
	struct vmdk_opts opts = { .open_file = open_extent_file };
	struct vmdk_desc *desc;
	struct source *src;
	struct disk *d;
	struct err err = { 0 };
	uint64_t sectors = 0;
	int r;

	(void)vmdk_probe(data, size);
	r = vmdk_desc_parse((const char *)data, size, "fuzz.vmdk", &desc, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return 0;
	}
	check_desc(desc);
	for (size_t i = 0; i < desc->n_extents; i++)
		sectors += desc->extents[i].sectors;
	vmdk_desc_free(desc);

	err_clear(&err);
	if (source_mem_new(data, size, "fuzz.vmdk", &src, &err) < 0)
		return 0;
	r = vmdk_open(src, &opts, &d, &err);
	if (r == 0) {
		/* A text descriptor's disk is its extents end to end. */
		if (size < 4 || memcmp(data, "KDMV", 4) != 0) {
			FUZZ_CHECK(vmdk_get_desc(d), "a descriptor disk without its descriptor");
			FUZZ_CHECK(d->size == sectors * 512,
				   "disk of 0x%" PRIx64 " bytes from extents of 0x%" PRIx64
				   " sectors",
				   d->size, sectors);
		}
		fuzz_check_disk(d, fuzz_hash(data, size));
		disk_unref(d);
	} else {
		fuzz_check_err(r, &err);
	}
	source_unref(src);
	return 0;
}
