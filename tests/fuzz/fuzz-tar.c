/* SPDX-License-Identifier: MIT */
/*
 * The tar member index (formats/source/tar.c), over an in-memory archive: the input is an
 * .ova (or any tar).  Every member of an index must keep tar.h's promises: a clean
 * relative name found again by tar_find(), data inside the archive, and a member source
 * whose bytes are the archive's bytes at data_off.
 *
 * libarchive refuses a header whose checksum is wrong, so almost every mutation of a
 * header would test only that.  Before indexing, the harness walks the blocks as a tar
 * reader does and gives every header a correct checksum, as any hostile writer would:
 * mutations then reach names, sizes, type flags and pax records.
 */
#include <errno.h>
#include <string.h>

#include "../../formats/source/tar.h"
#include "disk-check.h"
#include "fuzz.h"

/* Members read back; more are only looked up. */
#define READ_MEMBERS 64
#define READ_BYTES 512

#define BLOCK 512

/* A header's size field (octal or base-256), or 0 when it is neither. */
static uint64_t header_size(const uint8_t *h)
{
	uint64_t v = 0;

	if (h[124] & 0x80) {
		for (int i = 1; i < 12 && v < (UINT64_MAX >> 8); i++)
			v = v << 8 | h[124 + i];
		return v;
	}
	for (int i = 0; i < 12 && h[124 + i] >= '0' && h[124 + i] <= '7' && v < (UINT64_MAX >> 3);
	     i++)
		v = v << 3 | (uint64_t)(h[124 + i] - '0');
	return v;
}

static void fix_checksums(uint8_t *b, size_t size)
{
	static const uint8_t zero[BLOCK];
	size_t off = 0;

	while (size - off >= BLOCK) {
		uint8_t *h = b + off;
		unsigned sum = 0;
		uint64_t data;

		off += BLOCK;
		if (memcmp(h, zero, BLOCK) == 0)
			continue;
		memset(h + 148, ' ', 8);
		for (int i = 0; i < BLOCK; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		data = header_size(h);
		if (data > size - off)
			break;
		off += (size_t)round_up_pow2(data, BLOCK);
		if (off > size)
			break;
	}
}

static void check_name(const char *name)
{
	FUZZ_CHECK(name[0] && name[0] != '/', "member name \"%s\"", name);
	for (const char *p = name;;) {
		const char *c = strchr(p, '/');
		size_t len = c ? (size_t)(c - p) : strlen(p);

		FUZZ_CHECK(len && !(len == 1 && p[0] == '.') &&
				   !(len == 2 && p[0] == '.' && p[1] == '.'),
			   "member name \"%s\" has an empty, . or .. component", name);
		if (!c)
			break;
		p = c + 1;
	}
}

static void check_member(const struct tar_index *idx, size_t i, const uint8_t *data, size_t size)
{
	const struct tar_member *m = tar_member(idx, i);
	struct err err = { 0 };
	struct source *s;
	uint8_t buf[READ_BYTES];
	size_t n;
	int r;

	check_name(m->name);
	FUZZ_CHECK(strlen(m->name) <= TAR_NAME_MAX, "name of %zu bytes", strlen(m->name));
	FUZZ_CHECK(range_ok(m->data_off, m->size, size),
		   "member %s: 0x%" PRIx64 " bytes at 0x%" PRIx64 " in an archive of 0x%zx",
		   m->name, m->size, m->data_off, size);
	FUZZ_CHECK(tar_find(idx, m->name) == (int)i, "member %zu (%s) is found at %d", i, m->name,
		   tar_find(idx, m->name));
	if (i >= READ_MEMBERS)
		return;
	r = tar_member_source(idx, i, &s, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return;
	}
	FUZZ_CHECK(s->size == m->size, "member source of 0x%" PRIx64 " bytes, member 0x%" PRIx64,
		   s->size, m->size);
	n = (size_t)MIN(m->size, (uint64_t)READ_BYTES);
	if (n) {
		FUZZ_CHECK(source_pread(s, buf, n, 0) == 0, "member %s: first bytes", m->name);
		FUZZ_CHECK(memcmp(buf, data + m->data_off, n) == 0, "member %s: other bytes",
			   m->name);
		FUZZ_CHECK(source_pread(s, buf, n, m->size - n) == 0, "member %s: last bytes",
			   m->name);
		FUZZ_CHECK(memcmp(buf, data + m->data_off + m->size - n, n) == 0,
			   "member %s: other bytes at its end", m->name);
	}
	FUZZ_CHECK(source_pread(s, buf, 1, m->size) == -EIO, "member %s: read past its end",
		   m->name);
	source_unref(s);
}

FUZZ_TARGET(tar, "tar")
{
	struct err err = { 0 };
	struct tar_index *idx;
	struct source *ova;
	int r;

	uint8_t *b = malloc(size ? size : 1);

	FUZZ_CHECK(b, "out of memory");
	memcpy(b, data, size);
	fix_checksums(b, size);
	if (source_mem_new(b, size, "fuzz.ova", &ova, &err) < 0) {
		free(b);
		return 0;
	}
	r = tar_index_open(ova, &idx, &err);
	source_unref(ova);
	if (r < 0) {
		fuzz_check_err(r, &err);
		free(b);
		return 0;
	}
	FUZZ_CHECK(tar_count(idx) <= TAR_MAX_MEMBERS, "%zu members", tar_count(idx));
	for (size_t i = 0; i < tar_count(idx); i++)
		check_member(idx, i, b, size);
	FUZZ_CHECK(tar_find(idx, "") < 0, "the empty name is a member");
	tar_index_free(idx);
	free(b);
	return 0;
}
