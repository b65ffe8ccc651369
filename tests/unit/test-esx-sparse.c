/* SPDX-License-Identifier: MIT */
/*
 * ESXi delta extents (COWD vmfsSparse, seSparse), built in memory by writers of our own
 * that follow the layouts in cowd.c and sesparse.c (VMware's Virtual Disk Format 1.1 and
 * qemu's reader), then read back byte for byte and by status, refused with a message
 * naming the field for each damaged header field, and then damaged at random: every
 * damaged image must either open and read (any bytes, 0 or -EIO) or be refused with a
 * message naming it, never crash under ASan/UBSan.  Also the descriptors that name them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/common/bounds.h"
#include "../../formats/common/endian.h"
#include "../../formats/disk/vmdk.h"
#include "../lib/harness.h"

HARNESS_MAIN

#define S 512u
#define GTN 4096u /* entries per grain table, both formats */

struct img {
	uint8_t *b;
	size_t len, cap;
};

static void img_grow(struct img *m, size_t len)
{
	if (len > m->cap) {
		size_t cap = len * 2;

		m->b = realloc(m->b, cap);
		ASSERT(m->b);
		memset(m->b + m->cap, 0, cap - m->cap);
		m->cap = cap;
	}
	if (len > m->len)
		m->len = len;
}

static void img_put(struct img *m, size_t off, const void *p, size_t n)
{
	img_grow(m, off + n);
	memcpy(m->b + off, p, n);
}

static void put32(struct img *m, size_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	img_put(m, off, b, 4);
}

static void put64(struct img *m, size_t off, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	img_put(m, off, b, 8);
}

static uint8_t guest_byte(uint64_t off)
{
	return (uint8_t)((off * 2654435761u) >> 13 | 1);
}

/* What grain g holds: the pattern decides, every `every`-th grain has data. */
enum { K_ABSENT, K_DATA, K_DATA_ZEROS, K_ZERO, K_UNMAPPED };

static int kind_of(uint64_t g, unsigned every, bool ses)
{
	if (g % every)
		return K_ABSENT;
	g /= every;
	if (g % 5 == 1)
		return K_ABSENT;
	if (g % 7 == 3)
		return K_DATA_ZEROS;
	if (ses && g % 11 == 4)
		return K_ZERO;
	if (ses && g % 13 == 6)
		return K_UNMAPPED;
	return K_DATA;
}

static unsigned want_state(int k)
{
	switch (k) {
	case K_ABSENT:
		return DISK_UNALLOC;
	case K_ZERO:
	case K_UNMAPPED:
		return DISK_ZERO;
	default:
		return DISK_DATA;
	}
}

struct spec {
	uint64_t cap;	    /* sectors */
	uint32_t grain;	    /* sectors (COWD) */
	unsigned every;	    /* see kind_of */
	uint64_t slot_base; /* seSparse: first grain slot used */
};

/* COWD: header, GD at sector 4, then tables and grains interleaved from the last grain
 * to the first, so the file order is the reverse of the disk order. */
static struct img build_cowd(const struct spec *sp)
{
	struct img m = { 0 };
	uint64_t gb = (uint64_t)sp->grain * S, ng = DIV_ROUND_UP(sp->cap, sp->grain);
	uint64_t nt = DIV_ROUND_UP(ng, GTN), free_s = 4 + DIV_ROUND_UP(nt * 4, S);
	uint32_t *gd = calloc(nt, 4);
	uint8_t *grain = malloc(gb);

	ASSERT(gd && grain);
	for (uint64_t g = ng; g-- > 0;) {
		int k = kind_of(g, sp->every, false);
		uint64_t t = g / GTN;

		if (k == K_ABSENT)
			continue;
		if (!gd[t]) {
			gd[t] = (uint32_t)free_s;
			img_grow(&m, (free_s + 32) * S);
			free_s += 32;
		}
		put32(&m, gd[t] * S + (g % GTN) * 4, (uint32_t)free_s);
		for (uint64_t i = 0; i < gb; i++)
			grain[i] = k == K_DATA ? guest_byte(g * gb + i) : 0;
		img_put(&m, free_s * S, grain, gb);
		free_s += sp->grain;
	}
	for (uint64_t t = 0; t < nt; t++)
		put32(&m, 4 * S + t * 4, gd[t]);
	img_put(&m, 0, "COWD", 4);
	put32(&m, 4, 1);
	put32(&m, 8, 3);
	put32(&m, 12, (uint32_t)sp->cap);
	put32(&m, 16, sp->grain);
	put32(&m, 20, 4);
	put32(&m, 24, (uint32_t)nt);
	put32(&m, 28, (uint32_t)free_s);
	img_grow(&m, MAX((size_t)free_s * S, (size_t)2048));
	free(gd);
	free(grain);
	return m;
}

/* seSparse offsets of the layout below, in sectors. */
struct ses_layout {
	uint64_t gd, gd_size, gts, gts_size, grains, grains_size;
};

/* seSparse, compact (ESXi rounds areas to 1 MiB; a reader must not care): header,
 * volatile header, GD, tables (numbered from the last table to the first), grains (slots
 * from slot_base on, in reverse disk order). */
static struct img build_ses(const struct spec *sp, struct ses_layout *ret_l)
{
	struct img m = { 0 };
	uint64_t ng = DIV_ROUND_UP(sp->cap, 8), nt = DIV_ROUND_UP(ng, GTN), slot = sp->slot_base;
	uint64_t used = 0;
	struct ses_layout l;
	uint64_t *gti = calloc(nt, 8);
	uint8_t grain[4096];

	ASSERT(gti);
	l.gd = 2;
	l.gd_size = DIV_ROUND_UP(nt * 8, S);
	l.gts = l.gd + l.gd_size;
	l.gts_size = nt * 64;
	l.grains = l.gts + l.gts_size;
	l.grains_size = sp->slot_base * 8 + ng * 8;
	img_grow(&m, l.grains * S);
	for (uint64_t g = ng; g-- > 0;) {
		int k = kind_of(g, sp->every, true);
		uint64_t t = g / GTN, e, valid = MIN((uint64_t)4096, sp->cap * S - g * 4096);

		if (k == K_ABSENT)
			continue;
		if (!gti[t])
			gti[t] = ++used; /* 1-based here; the GD entry holds used - 1 */
		if (k == K_ZERO) {
			e = (uint64_t)2 << 60;
		} else if (k == K_UNMAPPED) {
			e = (uint64_t)1 << 60 | (g * 977 & 0xffffff); /* stray low bits */
		} else {
			for (uint64_t i = 0; i < valid; i++)
				grain[i] = k == K_DATA ? guest_byte(g * 4096 + i) : 0;
			img_put(&m, (l.grains + slot * 8) * S, grain, valid);
			e = (uint64_t)3 << 60 | (slot & 0xfff) << 48 | slot >> 12;
			slot++;
		}
		put64(&m, (l.gts + (gti[t] - 1) * 64) * S + (g % GTN) * 8, e);
	}
	for (uint64_t t = 0; t < nt; t++)
		put64(&m, l.gd * S + t * 8, gti[t] ? 0x1000000000000000 | (gti[t] - 1) : 0);
	{
		uint64_t h[26] = { 0xcafebabe, 0x200000001,
				   sp->cap,    8,
				   64,	       0,
				   0,	       0,
				   0,	       0,
				   1,	       1,
				   0,	       0,
				   0,	       0,
				   l.gd,       l.gd_size,
				   l.gts,      l.gts_size,
				   0,	       0,
				   0,	       0,
				   l.grains,   l.grains_size };

		for (int i = 0; i < 26; i++)
			put64(&m, (size_t)i * 8, h[i]);
	}
	put64(&m, S, 0xcafecafe);
	put64(&m, S + 8, used);
	free(gti);
	if (ret_l)
		*ret_l = l;
	return m;
}

static uint8_t want_byte(const struct spec *sp, bool ses, uint64_t off)
{
	uint64_t gb = ses ? 4096 : (uint64_t)sp->grain * S;

	return kind_of(off / gb, sp->every, ses) == K_DATA ? guest_byte(off) : 0;
}

static struct disk *open_img(struct img *m, bool ses, struct source **ret_src)
{
	struct source *s;
	struct disk *d = NULL;

	ASSERT_OK(source_mem_new(m->b, m->len, "t.vmdk", &s, E));
	ASSERT_OK(ses ? sesparse_open(s, "t.vmdk", &d, E) : cowd_open(s, "t.vmdk", &d, E));
	*ret_src = s;
	return d;
}

/* Every byte, and the state and source bytes of every run, as the writer meant them. */
static void check_img(struct img *m, const struct spec *sp, bool ses)
{
	struct source *s;
	struct disk *d = open_img(m, ses, &s);
	uint64_t size = sp->cap * S, gb = ses ? 4096 : (uint64_t)sp->grain * S;
	uint8_t *buf = malloc(size), *src = malloc(1 << 16);
	unsigned seen[4] = { 0 };

	ASSERT(buf && src);
	ASSERT_U64_EQ(d->size, size);
	ASSERT_STREQ(d->ops->kind, ses ? "sesparse" : "cowd");
	ASSERT_OK(disk_read(d, buf, size, 0));
	for (uint64_t o = 0; o < size; o++)
		if (buf[o] != want_byte(sp, ses, o))
			HARNESS_FAIL("byte 0x%llx is 0x%02x, want 0x%02x", (unsigned long long)o,
				     buf[o], want_byte(sp, ses, o));
	/* Status, walked with small hints and with the whole disk as the hint. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t off = 0; off < size;) {
			struct disk_run run;
			uint64_t hint = pass ? size - off : 3 * gb + 5;

			ASSERT_OK(disk_status(d, off, hint, &run));
			seen[run.state]++;
			for (uint64_t o = off; o < off + run.len; o += gb - o % gb)
				if (run.state != want_state(kind_of(o / gb, sp->every, ses)))
					HARNESS_FAIL("status at 0x%llx: state %u for grain %llu",
						     (unsigned long long)off, run.state,
						     (unsigned long long)(o / gb));
			if (run.state == DISK_DATA) {
				size_t n = (size_t)MIN(run.len, (uint64_t)(1 << 16));

				ASSERT(run.src == s);
				ASSERT_OK(source_pread(run.src, src, n, run.src_off));
				ASSERT(memcmp(src, buf + off, n) == 0);
			}
			off += run.len;
		}
	}
	ASSERT(seen[DISK_UNALLOC] && seen[DISK_DATA] && (!ses || seen[DISK_ZERO]));
	/* Unaligned reads across grain and table boundaries. */
	for (int k = 0; k < 200; k++) {
		uint64_t off = (uint64_t)rand() % size, n = (uint64_t)rand() % 20000 + 1;

		n = MIN(size - off, n); /* MIN evaluates twice */

		ASSERT_OK(disk_read(d, src, n, off));
		ASSERT(memcmp(src, buf + off, n) == 0);
	}
	disk_unref(d);
	source_unref(s);
	free(buf);
	free(src);
}

TEST(cowd_one_sector_grains)
{
	struct spec sp = { .cap = 3 * GTN + 100, .grain = 1, .every = 1 };
	struct img m = build_cowd(&sp);

	check_img(&m, &sp, false);
	free(m.b);
}

TEST(cowd_big_grains_sparse_tables)
{
	/* 4 KiB grains, a short last grain, data in table 0 only: tables 1 and 2 do not
	 * exist (GD entries 0). */
	struct spec sp = { .cap = (uint64_t)8 * GTN * 2 + 20, .grain = 8, .every = 5000 };
	struct img m = build_cowd(&sp);

	check_img(&m, &sp, false);
	free(m.b);
}

TEST(sesparse_slots_past_4096_and_a_short_last_grain)
{
	/* Slots from 4000 on use both halves of the split index; 8 * 3 * 4096 - 3 sectors
	 * make the last grain 2.5 KiB. */
	struct spec sp = { .cap = 8 * 3 * GTN - 3, .every = 3, .slot_base = 4000 };
	struct img m = build_ses(&sp, NULL);

	check_img(&m, &sp, true);
	free(m.b);
}

TEST(sesparse_every_grain)
{
	struct spec sp = { .cap = 8 * GTN + 64, .every = 1 };
	struct img m = build_ses(&sp, NULL);

	check_img(&m, &sp, true);
	free(m.b);
}

/* Open a copy of m with le32/le64 val at off; expect code and substr. */
static void expect_poke(const struct img *m, bool ses, size_t off, int width, uint64_t val,
			size_t len, int code, const char *substr)
{
	uint8_t *c = malloc(MAX(m->len, off + 8));
	struct source *s;
	struct disk *d = NULL;
	int r;

	ASSERT(c);
	memcpy(c, m->b, m->len);
	if (width == 4)
		put_le32(c + off, (uint32_t)val);
	else if (width == 8)
		put_le64(c + off, val);
	ASSERT_OK(source_mem_new(c, len ? len : m->len, "bad.vmdk", &s, E));
	err_clear(E);
	r = ses ? sesparse_open(s, "bad.vmdk", &d, E) : cowd_open(s, "bad.vmdk", &d, E);
	if (r != code || !strstr(E->msg, substr) || !strstr(E->msg, "bad.vmdk"))
		HARNESS_FAIL("poke %zu=0x%llx len %zu: r=%d \"%s\", want %d and \"%s\"", off,
			     (unsigned long long)val, len, r, E->msg, code, substr);
	disk_unref(d);
	source_unref(s);
	free(c);
}

TEST(cowd_refusals_name_the_field)
{
	struct spec sp = { .cap = 2 * GTN, .grain = 1, .every = 3 };
	struct img m = build_cowd(&sp);
	uint32_t gt0 = le32(m.b + 4 * S), gte0 = le32(m.b + gt0 * S);

	expect_poke(&m, false, 0, 0, 0, 1000, -EINVAL, "header truncated");
	expect_poke(&m, false, 0, 0, 0, 3, -EINVAL, "not a COWD");
	expect_poke(&m, false, 0, 4, 0x44574f44, 0, -EINVAL, "magic");
	expect_poke(&m, false, 4, 4, 3, 0, -ENOTSUP, "version 3");
	expect_poke(&m, false, 16, 4, 3, 0, -EINVAL, "grain size 3");
	expect_poke(&m, false, 16, 4, 0, 0, -EINVAL, "grain size 0");
	expect_poke(&m, false, 16, 4, 1u << 20, 0, -EFBIG, "grain size");
	expect_poke(&m, false, 12, 4, 0, 0, -EINVAL, "capacity is 0");
	expect_poke(&m, false, 24, 4, 1, 0, -EINVAL, "does not cover");
	/* A capacity of 2 TiB needs a 4 MiB directory; so does a directory that says so. */
	expect_poke(&m, false, 12, 4, 0xffffffff, 0, -EINVAL, "does not cover");
	expect_poke(&m, false, 24, 4, 0xffffffff, 0, -EINVAL, "grain directory");
	expect_poke(&m, false, 20, 4, 0x7ffffff0, 0, -EINVAL, "past end of file");
	expect_poke(&m, false, 20, 4, 2, 0, -EINVAL, "overlaps the header");
	expect_poke(&m, false, 4 * S, 4, 0x7ffffff0, 0, -EINVAL, "grain table 0");
	expect_poke(&m, false, 4 * S, 4, 1, 0, -EINVAL, "overlaps the header");
	expect_poke(&m, false, 4 * S + 4, 4, gt0 + 1, 0, -EINVAL, "overlap");
	expect_poke(&m, false, gt0 * S, 4, 0x7ffffff0, 0, -EINVAL, "past end of file");
	expect_poke(&m, false, gt0 * S, 4, 2, 0, -EINVAL, "points into the metadata");
	expect_poke(&m, false, 0, 0, 0, (size_t)gte0 * S + 100, -EINVAL, "grain 0 ");
	expect_poke(&m, false, 0, 0, 0, (size_t)gt0 * S + 100, -EINVAL, "grain table");
	free(m.b);
}

TEST(sesparse_refusals_name_the_field)
{
	struct spec sp = { .cap = 8 * 2 * GTN, .every = 29 };
	struct ses_layout l;
	struct img m = build_ses(&sp, &l);
	size_t gt0 = (size_t)(l.gts + (le64(m.b + l.gd * S) & 0xffffffff) * 64) * S;
	uint64_t gte0 = le64(m.b + gt0);
	size_t grain0 =
		(size_t)(l.grains + ((gte0 >> 48 & 0xfff) | (gte0 & 0xffffffffffff) << 12) * 8) * S;

	ASSERT(gte0 >> 60 == 3);
	expect_poke(&m, true, 0, 0, 0, 300, -EINVAL, "header truncated");
	expect_poke(&m, true, 0, 8, 0xcafebabf, 0, -EINVAL, "magic");
	expect_poke(&m, true, 8, 8, 0x100000001, 0, -ENOTSUP, "version");
	expect_poke(&m, true, 16, 8, 0, 0, -EINVAL, "capacity");
	expect_poke(&m, true, 16, 8, (uint64_t)1 << 63, 0, -EFBIG, "capacity");
	expect_poke(&m, true, 16, 8, (uint64_t)1 << 40, 0, -EINVAL, "does not cover");
	expect_poke(&m, true, 24, 8, 16, 0, -ENOTSUP, "grain size");
	expect_poke(&m, true, 32, 8, 128, 0, -ENOTSUP, "grain table size");
	expect_poke(&m, true, 40, 8, 1, 0, -ENOTSUP, "flags");
	expect_poke(&m, true, 64, 8, 1, 0, -ENOTSUP, "reserved field 3");
	expect_poke(&m, true, 80, 8, 0, 0, -EINVAL, "volatile header");
	expect_poke(&m, true, 80, 8, 1u << 30, 0, -EINVAL, "volatile header");
	expect_poke(&m, true, S, 8, 0xcafecaff, 0, -EINVAL, "volatile header: magic");
	expect_poke(&m, true, S + 24, 8, 1, 0, -ENOTSUP, "replayJournal");
	expect_poke(&m, true, 128, 8, 1u << 30, 0, -EINVAL, "grain directory");
	expect_poke(&m, true, 136, 8, (uint64_t)1 << 58, 0, -EINVAL, "grain directory");
	expect_poke(&m, true, 136, 8, 0, 0, -EINVAL, "does not cover");
	expect_poke(&m, true, 144, 8, l.gd, 0, -EINVAL, "overlaps");
	expect_poke(&m, true, 192, 8, 0, 0, -EINVAL, "overlaps the grains area");
	expect_poke(&m, true, 200, 8, 0, 0, -EINVAL, "past the end of the grains area");
	expect_poke(&m, true, l.gd * S, 8, 0x2000000000000000, 0, -EINVAL,
		    "grain directory entry 0");
	expect_poke(&m, true, l.gd * S, 8, 0x1000000000000077, 0, -EINVAL, "past the 2 tables");
	expect_poke(&m, true, l.gd * S + 8, 8, le64(m.b + l.gd * S), 0, -EINVAL, "overlap");
	expect_poke(&m, true, gt0, 8, 0x4000000000000000, 0, -EINVAL, "unknown state");
	expect_poke(&m, true, gt0, 8, 5, 0, -EINVAL, "other bits");
	expect_poke(&m, true, gt0, 8, 0x3000000000000000 | (uint64_t)1 << 47, 0, -EINVAL,
		    "past the end of the grains area");
	expect_poke(&m, true, 0, 0, 0, grain0 + 100, -EINVAL, "past end of file");
	expect_poke(&m, true, 0, 0, 0, gt0 + 100, -EINVAL, "grain table");
	free(m.b);
}

/* Random damage: flip bytes in the metadata (header, directory, tables) and sometimes
 * anywhere, truncate at random. */
static void fuzz(bool ses, unsigned iters, unsigned seed)
{
	struct spec sp = { .cap = ses ? 8 * 2 * GTN + 40 : 2 * GTN + 300,
			   .grain = 1,
			   .every = ses ? 101 : 31 };
	struct ses_layout l;
	struct img m = ses ? build_ses(&sp, &l) : build_cowd(&sp);
	uint8_t *copy = malloc(m.len), *buf = malloc(1 << 16);
	/* Where the metadata is: [0, head) and, for COWD, the tables the GD names. */
	size_t head = ses ? (size_t)l.grains * S : 5 * S, tbl[3];

	ASSERT(copy && buf);
	for (int t = 0; t < 3; t++)
		tbl[t] = ses ? 0 : (size_t)le32(m.b + 4 * S + 4 * t) * S;
	srand(seed);
	for (unsigned it = 0; it < iters; it++) {
		size_t len = m.len;
		struct source *s;
		struct disk *d = NULL;
		int r;

		memcpy(copy, m.b, m.len);
		for (int k = rand() % 4 + 1; k > 0; k--) {
			size_t pos, t = (size_t)rand() % 3;

			if (rand() % 4 == 0)
				pos = (size_t)rand() % m.len;
			else if (!ses && tbl[t] && rand() % 2)
				pos = tbl[t] + (size_t)rand() % (GTN * 4);
			else
				pos = (size_t)rand() % head;
			copy[pos] = rand() % 3 ? (uint8_t)rand() : (uint8_t)(rand() % 2 ? 0 : 0xff);
		}
		if (rand() % 8 == 0)
			len = (size_t)rand() % m.len;
		ASSERT_OK(source_mem_new(copy, len, "fz.vmdk", &s, E));
		err_clear(E);
		r = ses ? sesparse_open(s, "fz.vmdk", &d, E) : cowd_open(s, "fz.vmdk", &d, E);
		if (r == 0) {
			/* The file does not change after the open checked it: reads work. */
			for (int k = 0; k < 8; k++) {
				uint64_t sz = d->size, off, n;
				struct disk_run run;

				off = ((uint64_t)rand() << 20 ^ (uint64_t)rand()) % sz;
				n = (uint64_t)(rand() % (1 << 16)) + 1; /* MIN evaluates twice */
				n = MIN(sz - off, n);
				r = disk_read(d, buf, n, off);
				if (r != 0)
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

TEST(fuzz_cowd)
{
	fuzz(false, 1000, 1);
}

TEST(fuzz_sesparse)
{
	fuzz(true, 1000, 2);
}

/* ---- through descriptors ---- */

struct memfs {
	const char *names[2];
	struct source *srcs[2];
};

static int memfs_open(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct memfs *m = opaque;

	for (int i = 0; i < 2 && m->names[i]; i++)
		if (strcmp(m->names[i], file) == 0) {
			*ret = source_ref(m->srcs[i]);
			return 0;
		}
	return err_set(err, ENOENT, "%s: no such file", file);
}

static int open_desc(const char *text, struct memfs *fs, struct disk **ret)
{
	struct vmdk_opts o = { .open_file = memfs_open, .opaque = fs };
	struct source *d;
	int r;

	ASSERT_OK(source_mem_new(text, strlen(text), "vm.vmdk", &d, E));
	err_clear(E);
	r = vmdk_open(d, &o, ret, E);
	source_unref(d);
	return r;
}

TEST(descriptors_open_the_deltas)
{
	struct spec sc = { .cap = GTN + 8, .grain = 1, .every = 2 };
	struct spec ss = { .cap = 8 * GTN, .every = 2 };
	struct img c = build_cowd(&sc), se = build_ses(&ss, NULL);
	struct memfs fs = { .names = { "vm-000001-delta.vmdk", "vm-000002-sesparse.vmdk" } };
	struct disk *d = NULL;
	uint8_t b[4096];

	ASSERT_OK(source_mem_new(c.b, c.len, "vm-000001-delta.vmdk", &fs.srcs[0], E));
	ASSERT_OK(source_mem_new(se.b, se.len, "vm-000002-sesparse.vmdk", &fs.srcs[1], E));
	ASSERT_OK(open_desc(
		"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
		"createType=\"vmfsSparse\"\nRW 4104 VMFSSPARSE \"vm-000001-delta.vmdk\"\n",
		&fs, &d));
	ASSERT_U64_EQ(d->size, sc.cap * S);
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	for (unsigned i = 0; i < sizeof(b); i++)
		ASSERT_EQ(b[i], want_byte(&sc, false, i));
	d = disk_unref(d);
	ASSERT_OK(open_desc(
		"createType=\"seSparse\"\nRW 32768 SESPARSE \"vm-000002-sesparse.vmdk\"\n", &fs,
		&d));
	ASSERT_U64_EQ(d->size, ss.cap * S);
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	for (unsigned i = 0; i < sizeof(b); i++)
		ASSERT_EQ(b[i], want_byte(&ss, true, i));
	d = disk_unref(d);
	/* The extent line and the header must agree on the size. */
	ASSERT_ERR(
		open_desc(
			"createType=\"seSparse\"\nRW 32760 SESPARSE \"vm-000002-sesparse.vmdk\"\n",
			&fs, &d),
		-EINVAL, "capacity of 32768");
	/* A delta's data file is not a disk without its descriptor. */
	ASSERT_ERR(vmdk_open(fs.srcs[0], NULL, &d, E), -EINVAL, "mount the descriptor");
	ASSERT_ERR(vmdk_open(fs.srcs[1], NULL, &d, E), -EINVAL, "seSparse");
	ASSERT(vmdk_probe(se.b, 8));
	/* The wrong decoder for the extent type names the file. */
	ASSERT_ERR(open_desc("createType=\"vmfsSparse\"\nRW 32768 VMFSSPARSE "
			     "\"vm-000002-sesparse.vmdk\"\n",
			     &fs, &d),
		   -EINVAL, "vm-000002-sesparse.vmdk: not a COWD");
	source_unref(fs.srcs[0]);
	source_unref(fs.srcs[1]);
	free(c.b);
	free(se.b);
}

TEST(raw_device_maps_are_refused)
{
	static const char *const descs[] = {
		"createType=\"vmfsRawDeviceMap\"\nRW 8 VMFSRDM \"x-rdm.vmdk\"\n",
		"createType=\"vmfsPassthroughRawDeviceMap\"\nRW 8 VMFSRDM \"x-rdmp.vmdk\"\n",
		"createType=\"vmfsRDM\"\nRW 8 VMFSRDM \"x-rdm.vmdk\"\n",
		"createType=\"vmfsRDMP\"\nRW 8 VMFSRDM \"x-rdmp.vmdk\"\n",
		"createType=\"custom\"\nRW 8 VMFSRAW \"x-rdm.vmdk\"\n",
	};
	struct memfs fs = { .names = { NULL } };

	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		struct disk *d = NULL;

		ASSERT_ERR(open_desc(descs[i], &fs, &d), -ENOTSUP, "raw device mapping (RDM)");
		ASSERT(strstr(E->msg, "vm.vmdk: ") == E->msg && strstr(E->msg, "copy the LUN"));
		ASSERT(!strchr(E->msg, '\n'));
	}
}

TEST(vmfs_thin_and_vmfs_extents)
{
	struct memfs fs = { .names = { "t-flat.vmdk" } };
	uint8_t raw[4096], b[4096];
	struct disk *d = NULL;

	for (unsigned i = 0; i < sizeof(raw); i++)
		raw[i] = guest_byte(i);
	ASSERT_OK(source_mem_new(raw, sizeof(raw), "t-flat.vmdk", &fs.srcs[0], E));
	ASSERT_OK(open_desc("createType=\"vmfsThin\"\nRW 8 VMFS \"t-flat.vmdk\"\n", &fs, &d));
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	ASSERT(memcmp(b, raw, sizeof(b)) == 0);
	d = disk_unref(d);
	ASSERT_OK(open_desc("createType=\"vmfsEagerZeroedThick\"\nRW 4 vmfs \"t-flat.vmdk\" 4\n",
			    &fs, &d));
	ASSERT_OK(disk_read(d, b, 2048, 0));
	ASSERT(memcmp(b, raw + 2048, 2048) == 0);
	d = disk_unref(d);
	source_unref(fs.srcs[0]);
}
