/* SPDX-License-Identifier: MIT */
/*
 * Hosted sparse and streamOptimized extents, built in memory by a writer of our own that
 * follows the VMware spec (not our reader), then read back byte for byte and by status,
 * and then damaged at random: every damaged image must either open and read (any bytes,
 * any -errno) or be refused with a message naming it, never crash under ASan/UBSan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../formats/common/bounds.h"
#include "../../formats/common/endian.h"
#include "../../formats/disk/vmdk.h"
#include "../lib/harness.h"

HARNESS_MAIN

#define S 512u

enum layout { L_SPARSE, L_STREAM_QEMU, L_STREAM_VMW, L_STREAM_NOTABLES };

struct img {
	uint8_t *b;
	size_t len, cap;
};

static void img_put(struct img *m, size_t off, const void *p, size_t n)
{
	if (off + n > m->cap) {
		size_t cap = (off + n) * 2;

		m->b = realloc(m->b, cap);
		ASSERT(m->b);
		memset(m->b + m->cap, 0, cap - m->cap);
		m->cap = cap;
	}
	memcpy(m->b + off, p, n);
	if (off + n > m->len)
		m->len = off + n;
}

static size_t img_sectors(const struct img *m)
{
	return (m->len + S - 1) / S;
}

static void put_header(struct img *m, size_t at, uint64_t cap, uint64_t grain, uint32_t flags,
		       uint64_t gd, uint64_t rgd, uint64_t overhead, uint16_t compress)
{
	uint8_t h[S] = { 0 };

	memcpy(h, "KDMV", 4);
	put_le32(h + 4, compress ? 3 : 1);
	put_le32(h + 8, flags);
	put_le64(h + 12, cap);
	put_le64(h + 20, grain);
	put_le64(h + 28, 0);
	put_le64(h + 36, 0);
	put_le32(h + 44, 512);
	put_le64(h + 48, rgd);
	put_le64(h + 56, gd);
	put_le64(h + 64, overhead);
	memcpy(h + 73, "\n \r\n", 4);
	h[77] = (uint8_t)compress;
	h[78] = (uint8_t)(compress >> 8);
	img_put(m, at, h, S);
}

/* Deterministic guest content; grain g is: absent when g % 5 == 1, zeros-but-allocated
 * when g % 7 == 3, a "zeroed grain" GTE (sparse only) when g % 11 == 4, else data. */
static uint8_t guest_byte(uint64_t off)
{
	return (uint8_t)((off * 2654435761u) >> 13);
}

enum { G_ABSENT, G_ZEROS, G_ZEROED, G_DATA };

static int grain_kind(uint64_t g, bool zeroed_ok)
{
	if (g % 5 == 1)
		return G_ABSENT;
	if (zeroed_ok && g % 11 == 4)
		return G_ZEROED;
	if (g % 7 == 3)
		return G_ZEROS;
	return G_DATA;
}

static void expect_bytes(uint8_t *want, uint64_t cap_bytes, uint64_t gb, bool zeroed_ok)
{
	for (uint64_t o = 0; o < cap_bytes; o++)
		want[o] = grain_kind(o / gb, zeroed_ok) == G_DATA ? guest_byte(o) : 0;
}

/* Build an image of cap sectors with grain sectors per grain. */
static struct img build(enum layout l, uint64_t cap, uint64_t grain)
{
	struct img m = { 0 };
	uint64_t gb = grain * S, ng = (cap + grain - 1) / grain, nt = (ng + 511) / 512;
	bool stream = l != L_SPARSE;
	uint32_t flags = 1 | (stream ? (1u << 16) | (1u << 17) : (1u << 1) | (1u << 2));
	uint32_t *gt = calloc(nt * 512, 4), *gd = calloc(nt, 4);
	uint64_t gd_sectors = (nt * 4 + S - 1) / S, overhead, pos, gd_at = 0, rgd_at = 0;
	uint8_t *grainbuf = malloc(gb), *cbuf = malloc(compressBound(gb) + 12);

	ASSERT(gt && gd && grainbuf && cbuf);
	/* Tables up front for the sparse and qemu-stream layouts: rgd, rgts, gd, gts. */
	if (l == L_SPARSE || l == L_STREAM_QEMU) {
		rgd_at = 1;
		gd_at = rgd_at + gd_sectors + nt * 4;
		overhead = gd_at + gd_sectors + nt * 4;
	} else {
		overhead = 1;
	}
	overhead = (overhead + 127) / 128 * 128;
	pos = overhead;
	for (uint64_t g = 0; g < ng; g++) {
		uint64_t n = MIN(gb, cap * S - g * gb);
		int k = grain_kind(g, !stream);

		if (k == G_ABSENT)
			continue;
		if (k == G_ZEROED) {
			gt[g] = 1;
			continue;
		}
		for (uint64_t i = 0; i < n; i++)
			grainbuf[i] = k == G_DATA ? guest_byte(g * gb + i) : 0;
		gt[g] = (uint32_t)pos;
		if (stream) {
			uLongf clen = compressBound(gb);

			ASSERT_EQ(compress2(cbuf + 12, &clen, grainbuf, n, 6), Z_OK);
			put_le64(cbuf, g * grain);
			put_le32(cbuf + 8, (uint32_t)clen);
			img_put(&m, pos * S, cbuf, 12 + clen);
			pos += (12 + clen + S - 1) / S;
		} else {
			img_put(&m, pos * S, grainbuf, n);
			pos += (n + S - 1) / S;
		}
	}
	if (l == L_SPARSE || l == L_STREAM_QEMU) {
		for (uint64_t t = 0; t < nt; t++) {
			uint8_t ent[4];

			put_le32(ent, (uint32_t)(gd_at + gd_sectors + t * 4));
			img_put(&m, (gd_at * S) + t * 4, ent, 4);
			put_le32(ent, (uint32_t)(rgd_at + gd_sectors + t * 4));
			img_put(&m, (rgd_at * S) + t * 4, ent, 4);
			for (unsigned i = 0; i < 512; i++) {
				put_le32(ent, gt[t * 512 + i]);
				img_put(&m, (gd_at + gd_sectors + t * 4) * S + i * 4, ent, 4);
				img_put(&m, (rgd_at + gd_sectors + t * 4) * S + i * 4, ent, 4);
			}
		}
		put_header(&m, 0, cap, grain, flags, gd_at, rgd_at, overhead, stream ? 1 : 0);
		if (stream) {
			uint8_t eos[S] = { 0 };

			img_put(&m, pos * S, eos, S);
		}
	} else {
		uint8_t mk[S] = { 0 };

		put_header(&m, 0, cap, grain, flags, UINT64_MAX, 0, overhead, 1);
		if (l == L_STREAM_VMW) {
			for (uint64_t t = 0; t < nt; t++) {
				bool any = false;

				for (unsigned i = 0; i < 512; i++)
					any |= gt[t * 512 + i] != 0;
				if (!any)
					continue;
				memset(mk, 0, S);
				put_le64(mk, 4);
				put_le32(mk + 12, 1);
				img_put(&m, pos++ * S, mk, S);
				gd[t] = (uint32_t)pos;
				for (unsigned i = 0; i < 512; i++) {
					uint8_t ent[4];

					put_le32(ent, gt[t * 512 + i]);
					img_put(&m, pos * S + i * 4, ent, 4);
				}
				pos += 4;
			}
			memset(mk, 0, S);
			put_le64(mk, gd_sectors);
			put_le32(mk + 12, 2);
			img_put(&m, pos++ * S, mk, S);
			gd_at = pos;
			for (uint64_t t = 0; t < nt; t++) {
				uint8_t ent[4];

				put_le32(ent, gd[t]);
				img_put(&m, pos * S + t * 4, ent, 4);
			}
			pos += gd_sectors;
			memset(mk, 0, S);
			put_le64(mk, 1);
			put_le32(mk + 12, 3);
			img_put(&m, pos++ * S, mk, S);
			put_header(&m, pos++ * S, cap, grain, flags, gd_at, 0, overhead, 1);
		}
		memset(mk, 0, S);
		img_put(&m, pos++ * S, mk, S);
	}
	m.len = MAX(m.len, img_sectors(&m) * S);
	free(gt);
	free(gd);
	free(grainbuf);
	free(cbuf);
	return m;
}

static struct source *img_source(const struct img *m, const char *name)
{
	struct source *s;

	ASSERT_OK(source_mem_new(m->b, m->len, name, &s, E));
	return s;
}

static unsigned kind_state(int k)
{
	return k == G_ABSENT ? DISK_UNALLOC : k == G_ZEROED ? DISK_ZERO : DISK_DATA;
}

static void check_disk(struct disk *d, uint64_t cap, uint64_t grain, bool zeroed_ok)
{
	uint64_t bytes = cap * S, gb = grain * S, off = 0;
	uint8_t *want = malloc(bytes), *got = malloc(bytes);

	ASSERT(want && got);
	expect_bytes(want, bytes, gb, zeroed_ok);
	ASSERT_U64_EQ(d->size, bytes);
	ASSERT_OK(disk_read(d, got, bytes, 0));
	ASSERT(memcmp(want, got, bytes) == 0);
	/* Odd-sized reads across grain boundaries. */
	for (uint64_t o = 0; o + 777 <= bytes; o += 4099) {
		ASSERT_OK(disk_read(d, got, 777, o));
		ASSERT(memcmp(want + o, got, 777) == 0);
	}
	/* Status follows the table: absent → UNALLOC, zeroed GTE → ZERO, else DATA. */
	while (off < bytes) {
		struct disk_run run;
		unsigned want_state = kind_state(grain_kind(off / gb, zeroed_ok));

		ASSERT_OK(disk_status(d, off, bytes - off, &run));
		ASSERT(run.len > 0 && run.len <= bytes - off);
		ASSERT_EQ(run.state, want_state);
		for (uint64_t o = off; o < off + run.len; o += gb)
			ASSERT_EQ(kind_state(grain_kind(o / gb, zeroed_ok)), want_state);
		/* Runs are maximal: the next grain has another state. */
		if (off + run.len < bytes)
			ASSERT(kind_state(grain_kind((off + run.len) / gb, zeroed_ok)) != want_state);
		off += run.len;
	}
	free(want);
	free(got);
}

static void roundtrip(enum layout l, uint64_t cap, uint64_t grain)
{
	struct img m = build(l, cap, grain);
	struct source *s = img_source(&m, "t.vmdk");
	struct disk *d;

	ASSERT_OK(vmdk_sparse_open(s, "t.vmdk", &d, E));
	check_disk(d, cap, grain, l == L_SPARSE);
	disk_unref(d);
	source_unref(s);
	free(m.b);
}

TEST(monolithic_sparse_grain_sizes)
{
	roundtrip(L_SPARSE, 4096, 128);
	roundtrip(L_SPARSE, 4096 + 3, 128); /* short last grain */
	roundtrip(L_SPARSE, 20000, 8); 	    /* several grain tables, 4 KiB grains */
	roundtrip(L_SPARSE, 8192, 1024);    /* 512 KiB grains */
}

TEST(stream_qemu_layout)
{
	roundtrip(L_STREAM_QEMU, 4096, 128);
	roundtrip(L_STREAM_QEMU, 4096 + 5, 128);
	roundtrip(L_STREAM_QEMU, 40000, 16);
}

TEST(stream_vmware_layout_gd_at_end)
{
	roundtrip(L_STREAM_VMW, 4096, 128);
	roundtrip(L_STREAM_VMW, 4096 + 7, 128);
	roundtrip(L_STREAM_VMW, 40000, 16);
	roundtrip(L_STREAM_VMW, 8192, 256);
}

TEST(stream_without_tables_is_walked)
{
	roundtrip(L_STREAM_NOTABLES, 4096, 128);
	roundtrip(L_STREAM_NOTABLES, 40000 + 1, 16);
}

TEST(zeroed_grain_without_flag_is_an_error)
{
	struct img m = build(L_SPARSE, 4096, 128);
	struct source *s;
	struct disk *d;

	/* Clear flag bit 2: a GTE of 1 then points into the header, which must be refused
	 * rather than read as a grain of header bytes. */
	put_le32(m.b + 8, le32(m.b + 8) & ~(1u << 2));
	s = img_source(&m, "noflag.vmdk");
	ASSERT_ERR(vmdk_sparse_open(s, "noflag.vmdk", &d, E), -EINVAL, "noflag.vmdk");
	source_unref(s);
	free(m.b);
}

TEST(redundant_gd_used_when_primary_is_bad)
{
	struct img m = build(L_SPARSE, 4096, 128);
	struct source *s;
	struct disk *d;
	uint64_t gd = le64(m.b + 56);

	/* Point the primary GD's first table far past the end of the file. */
	put_le32(m.b + gd * S, 0x7ffffff0);
	s = img_source(&m, "rgd.vmdk");
	ASSERT_OK(vmdk_sparse_open(s, "rgd.vmdk", &d, E));
	check_disk(d, 4096, 128, true);
	disk_unref(d);
	source_unref(s);
	free(m.b);
}

TEST(header_errors_name_the_field)
{
	static const struct {
		size_t off, width;
		uint64_t val;
		const char *want;
	} cases[] = {
		{ 12, 8, UINT64_MAX, "capacity" },
		{ 12, 8, 1ull << 63, "capacity" },
		{ 20, 8, 100, "grain" },
		{ 20, 8, 0, "grain" },
		{ 20, 8, 1ull << 40, "grain" },
		{ 44, 4, 0, "GTE" },
		{ 44, 4, 0xffffffff, "GTE" },
		{ 4, 4, 99, "version" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct img m = build(L_SPARSE, 4096, 128);
		struct source *s;
		struct disk *d = NULL;
		int r;

		if (cases[i].width == 8)
			put_le64(m.b + cases[i].off, cases[i].val);
		else
			put_le32(m.b + cases[i].off, (uint32_t)cases[i].val);
		s = img_source(&m, "hdr.vmdk");
		err_clear(E);
		r = vmdk_sparse_open(s, "hdr.vmdk", &d, E);
		if (r == 0 || !strstr(E->msg, "hdr.vmdk") || !strcasestr(E->msg, cases[i].want))
			HARNESS_FAIL("case %zu: r=%d msg \"%s\", want \"%s\"", i, r, E->msg,
				     cases[i].want);
		source_unref(s);
		free(m.b);
	}
}

TEST(corrupt_grain_reads_eio_and_the_rest_reads)
{
	struct img m = build(L_STREAM_VMW, 4096, 128);
	struct source *s;
	struct disk *d;
	uint8_t buf[S * 128];
	uint64_t gte0;

	/* Grain 0 is data; its marker is at overHead. Damage its zlib stream. */
	gte0 = le64(m.b + 64);
	m.b[gte0 * S + 12 + 20] ^= 0x5a;
	m.b[gte0 * S + 12 + 21] ^= 0xa5;
	s = img_source(&m, "bad.vmdk");
	ASSERT_OK(vmdk_sparse_open(s, "bad.vmdk", &d, E));
	ASSERT_EQ(disk_read(d, buf, sizeof(buf), 0), -EIO);
	ASSERT_OK(disk_read(d, buf, sizeof(buf), 2 * sizeof(buf)));
	ASSERT_EQ(buf[5], guest_byte(2 * sizeof(buf) + 5));
	disk_unref(d);
	source_unref(s);
	free(m.b);
}

/* Random damage: flip bytes in the header and the metadata, truncate at random. */
static void fuzz(enum layout l, unsigned iters, unsigned seed)
{
	struct img m = build(l, 3000, 2); /* 1500 grains: three tables */
	uint8_t *copy = malloc(m.len), *buf = malloc(1 << 16);

	ASSERT(copy && buf);
	srand(seed);
	for (unsigned it = 0; it < iters; it++) {
		size_t len = m.len;
		struct source *s;
		struct disk *d = NULL;
		int r;

		memcpy(copy, m.b, m.len);
		for (int k = rand() % 4 + 1; k > 0; k--) {
			/* Mostly the header and the first tables, sometimes anywhere. */
			size_t lim = MIN(m.len, 80 * S);
			size_t pos = rand() % 2 ? (size_t)rand() % lim : (size_t)rand() % m.len;

			copy[pos] = rand() % 3 ? (uint8_t)rand() : (uint8_t)(rand() % 2 ? 0 : 0xff);
		}
		if (rand() % 8 == 0)
			len = (size_t)rand() % m.len;
		ASSERT_OK(source_mem_new(copy, len, "fz.vmdk", &s, E));
		err_clear(E);
		r = vmdk_sparse_open(s, "fz.vmdk", &d, E);
		if (r == 0) {
			for (int k = 0; k < 8; k++) {
				uint64_t sz = d->size, off, n;
				struct disk_run run;

				if (sz == 0)
					break;
				off = ((uint64_t)rand() << 20 ^ (uint64_t)rand()) % sz;
				n = (uint64_t)(rand() % (1 << 16)) + 1; /* MIN evaluates twice */
				n = MIN(sz - off, n);
				r = disk_read(d, buf, n, off);
				if (r != 0 && r != -EIO && r != -ENOMEM)
					HARNESS_FAIL("iteration %u: read returned %d", it, r);
				r = disk_status(d, off, n, &run);
				ASSERT(r == 0 && run.len > 0 && run.len <= sz - off);
			}
			disk_unref(d);
		} else if (!strstr(E->msg, "fz.vmdk")) {
			HARNESS_FAIL("iteration %u: refused with a message not naming the file: %s",
				     it, E->msg);
		}
		source_unref(s);
	}
	free(copy);
	free(buf);
	free(m.b);
}

TEST(fuzz_sparse)
{
	fuzz(L_SPARSE, 1000, 1);
}

TEST(fuzz_stream_vmware)
{
	fuzz(L_STREAM_VMW, 1000, 2);
}

TEST(fuzz_stream_walk)
{
	fuzz(L_STREAM_NOTABLES, 1000, 3);
}
