/* SPDX-License-Identifier: MIT */
/*
 * Random access into gzip data (formats/source/gzip.c): the input is a .gz file.  The
 * index is built, then checked against zlib's own one-pass inflate of the same bytes,
 * members followed as gzip.c promises: the source must open exactly when zlib reads the
 * whole input as gzip members (unless it runs out of memory or over a cap), have the size
 * zlib found, and read at random offsets, backwards and sequentially, the bytes zlib
 * produced.  This harness is built with gzip.c compiled with small checkpoint spans and
 * caps (see meson.build), so that small inputs make many checkpoints and thin the index.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "../../formats/source/gzip.h"
#include "disk-check.h"
#include "fuzz.h"

_Static_assert(GZIP_SPAN <= 65536, "fuzz-gzip needs gzip.c built with a small GZIP_SPAN");

/* Past this much output the reference gives up and only the index is exercised. */
#define REF_MAX (2u << 20)
#define READS 8
#define READ_MAX (32 * 1024)

/* zlib in one pass: 0 with the output in *ret, -1 when data is not whole gzip members
 * end to end, 1 when the output would pass REF_MAX. */
static int ref_inflate(const uint8_t *data, size_t size, uint8_t **ret, size_t *ret_len)
{
	z_stream z = { 0 };
	size_t cap = 64 * 1024, len = 0;
	uint8_t *out = malloc(cap);
	int r, zr;

	FUZZ_CHECK(out && inflateInit2(&z, 31) == Z_OK, "out of memory");
	if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) {
		r = -1;
		goto out;
	}
	z.next_in = (uint8_t *)data;
	z.avail_in = (uInt)size;
	for (;;) {
		if (len == cap) {
			if (cap >= REF_MAX) {
				r = 1;
				goto out;
			}
			cap *= 2;
			out = realloc(out, cap);
			FUZZ_CHECK(out, "out of memory");
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		zr = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (zr == Z_STREAM_END) {
			if (z.avail_in == 0) {
				r = 0;
				break;
			}
			if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b ||
			    inflateReset(&z) != Z_OK) {
				r = -1;
				goto out;
			}
			continue;
		}
		if (zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0))
			continue;
		r = -1; /* corrupt, or input ended inside a member */
		goto out;
	}
	inflateEnd(&z);
	*ret = out;
	*ret_len = len;
	return 0;
out:
	inflateEnd(&z);
	free(out);
	return r;
}

static void check_read(struct source *s, const uint8_t *ref, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n ? n : 1);
	int r;

	FUZZ_CHECK(buf, "out of memory");
	r = source_pread(s, buf, n, off);
	FUZZ_CHECK(r == 0, "read of 0x%zx bytes at 0x%" PRIx64 " failed: %d", n, off, r);
	FUZZ_CHECK(memcmp(buf, ref + off, n) == 0,
		   "0x%zx bytes at 0x%" PRIx64 " differ from zlib's", n, off);
	free(buf);
}

FUZZ_TARGET(gzip, "gzip")
{
	struct err err = { 0 };
	struct source *z, *s = NULL;
	uint8_t *ref = NULL;
	size_t ref_len = 0;
	uint64_t seed = fuzz_hash(data, size), offs[READS];
	int r, rr;

	if (source_mem_new(data, size, "fuzz.gz", &z, &err) < 0)
		return 0;
	r = source_gzip_new(z, "fuzz", &s, &err);
	source_unref(z);
	rr = ref_inflate(data, size, &ref, &ref_len);
	if (r < 0) {
		fuzz_check_err(r, &err);
		FUZZ_CHECK(rr != 0 || r == -ENOMEM || r == -EFBIG,
			   "zlib reads all %zu bytes (%zu out), the index refused them: %s", size,
			   ref_len, err.msg);
		free(ref);
		return 0;
	}
	FUZZ_CHECK(rr >= 0,
		   "the index opened data zlib calls corrupt or cut short (%" PRIu64 " bytes out)",
		   s->size);
	if (rr > 0) {
		/* Too big to compare: the ends must still read. */
		uint8_t b[16];

		FUZZ_CHECK(source_pread(s, b, MIN(s->size, sizeof(b)), 0) == 0, "first bytes");
		FUZZ_CHECK(source_pread(s, b, MIN(s->size, sizeof(b)),
					s->size - MIN(s->size, sizeof(b))) == 0,
			   "last bytes");
		source_unref(s);
		return 0;
	}
	FUZZ_CHECK(s->size == ref_len, "size 0x%" PRIx64 ", zlib made 0x%zx bytes", s->size,
		   ref_len);

	/* Random ranges, then the same offsets backwards: every read resumes from a
	 * checkpoint or a parked cursor. */
	for (int i = 0; i < READS && ref_len; i++) {
		uint64_t off = fuzz_rand(&seed) % ref_len;
		size_t n = (size_t)(1 + fuzz_rand(&seed) % MIN(ref_len - off, (uint64_t)READ_MAX));

		offs[i] = off;
		check_read(s, ref, off, n);
	}
	for (int i = READS - 1; i >= 0 && ref_len; i--)
		check_read(s, ref, offs[i], (size_t)MIN(ref_len - offs[i], (uint64_t)1000));
	/* Sequentially, in odd pieces, while that stays cheap. */
	if (ref_len <= (512u << 10))
		for (uint64_t off = 0; off < ref_len;) {
			uint64_t want = 1 + fuzz_rand(&seed) % (256 * 1024);
			size_t n = (size_t)MIN(ref_len - off, want);

			check_read(s, ref, off, n);
			off += n;
		}
	FUZZ_CHECK(source_pread(s, &r, 1, ref_len) == -EIO, "a read past the end");
	source_unref(s);
	free(ref);
	return 0;
}
