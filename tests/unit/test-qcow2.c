/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 view against a slow reference: random disks made of data, zero and
 * unallocated runs; the whole image is generated, then walked by a tiny independent
 * qcow2 reader here (header, refcounts of every cluster, L1/L2 mapping) and, where
 * qemu-img is installed (tools/test installs it), checked by qemu-img check too.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/common/endian.h"
#include "../../formats/disk/disk.h"
#include "../../formats/view/view.h"
#include "../lib/harness.h"

#define CL 65536ull
#define DIV_UP(a, b) (((a) + (b) - 1) / (b))

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A disk of n runs with random states and lengths (in 512-byte units up to ~3 clusters);
 * its data sits in a memory source, or in a file when in_file (so views can place it). */
static struct disk *random_disk_in(unsigned n, bool in_file, struct source **ret_src)
{
	struct disk **parts = calloc(n, sizeof(*parts)), *c;
	uint64_t total = 0, src_len = 0;
	unsigned char *data;
	struct source *src;

	for (unsigned i = 0; i < n; i++)
		src_len += 512 * (1 + next_rand() % 400);
	data = malloc(src_len);
	for (uint64_t i = 0; i < src_len; i++)
		data[i] = (unsigned char)(next_rand() | 1);
	if (in_file) {
		char path[] = "/tmp/vmfs-test-qcow2-src-XXXXXX";
		int fd = mkstemp(path);

		ASSERT(fd >= 0);
		ASSERT(write(fd, data, src_len) == (ssize_t)src_len);
		close(fd);
		ASSERT_OK(source_file_open(path, "src", &src, E));
		unlink(path);
	} else {
		ASSERT_OK(source_mem_new(data, src_len, "src", &src, E));
	}
	free(data);
	for (unsigned i = 0; i < n; i++) {
		uint64_t len = 512 * (1 + next_rand() % 400);
		unsigned kind = next_rand() % 3;

		if (kind == 0 && total + len <= src_len)
			ASSERT_OK(disk_flat_new(src, total, len, "d", &parts[i], E));
		else
			ASSERT_OK(disk_zero_new(len, kind == 1 ? DISK_ZERO : DISK_UNALLOC, "z",
						&parts[i], E));
		total += len;
	}
	ASSERT_OK(disk_concat_new(parts, n, "rand.vmdk", &c, E));
	for (unsigned i = 0; i < n; i++)
		disk_unref(parts[i]);
	free(parts);
	*ret_src = src;
	return c;
}

static struct disk *random_disk(unsigned n, struct source **ret_src)
{
	return random_disk_in(n, false, ret_src);
}

/* Independent reading of the image: every cluster's refcount is 1, and every guest byte
 * read through L1/L2 equals the disk. */
static void check_image(const unsigned char *img, uint64_t img_size, struct disk *d)
{
	uint64_t size = be64(img + 24), l1_off = be64(img + 40), rt_off = be64(img + 48);
	uint32_t l1_size = be32(img + 36), rt_cl = be32(img + 56);
	uint64_t clusters = img_size / CL;
	unsigned char *guest = malloc(CL), *want = malloc(CL);

	ASSERT_EQ(be32(img), 0x514649fb);
	ASSERT_EQ(be32(img + 4), 3);
	ASSERT_EQ(be32(img + 20), 16);
	ASSERT_EQ(be32(img + 96), 4);
	ASSERT_U64_EQ(size, d->size);
	ASSERT_EQ(img_size % CL, 0);
	/* refcounts */
	for (uint64_t hc = 0; hc < clusters; hc++) {
		uint64_t rb = be64(img + rt_off + (hc / 32768) * 8);

		ASSERT(hc / 32768 < (uint64_t)rt_cl * 8192);
		ASSERT(rb && rb % CL == 0 && rb < img_size);
		ASSERT_EQ(be16(img + rb + (hc % 32768) * 2), 1);
	}
	/* mapping */
	ASSERT_EQ(l1_size, (size + CL * 8192 - 1) / (CL * 8192));
	for (uint64_t g = 0; g * CL < size; g++) {
		uint64_t l1e = be64(img + l1_off + (g / 8192) * 8), l2e = 0;
		size_t n = (size_t)(size - g * CL < CL ? size - g * CL : CL);
		struct disk_run run;

		if (l1e) {
			ASSERT(l1e >> 63);
			l1e &= ~(1ull << 63);
			ASSERT(l1e < img_size);
			l2e = be64(img + l1e + (g % 8192) * 8);
		}
		if (l2e & ~1ull) {
			uint64_t host = l2e & 0x00fffffffffffe00ull;

			ASSERT(l2e >> 63);
			ASSERT(host + CL <= img_size);
			memcpy(guest, img + host, CL);
		} else {
			memset(guest, 0, CL);
		}
		ASSERT_OK(disk_read(d, want, n, g * CL));
		ASSERT(memcmp(guest, want, n) == 0);
		/* a cluster with data must be mapped; one without must not own a host cluster */
		ASSERT_OK(disk_status(d, g * CL, n, &run));
		if (run.state == DISK_DATA && run.len >= n)
			ASSERT(l2e & ~1ull);
		if (run.state != DISK_DATA && run.len >= n)
			ASSERT(!(l2e & ~1ull));
		if (run.state == DISK_ZERO && run.len >= n)
			ASSERT_U64_EQ(l2e, 1);
	}
	free(guest);
	free(want);
}

static unsigned char *read_whole(struct view *v)
{
	unsigned char *img = malloc(v->size);

	/* odd-sized reads across cluster boundaries, as the kernel might issue them */
	for (uint64_t off = 0; off < v->size;) {
		size_t n = (size_t)(1 + next_rand() % (3 * CL));

		if (n > v->size - off)
			n = (size_t)(v->size - off);
		ASSERT_EQ(view_read(v, img + off, n, off), (long long)n);
		off += n;
	}
	return img;
}

static void qemu_check(const unsigned char *img, uint64_t size)
{
	char path[] = "/tmp/vmfs-test-qcow2-XXXXXX", cmd[256];
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	ASSERT(write(fd, img, size) == (ssize_t)size);
	close(fd);
	snprintf(cmd, sizeof(cmd), "qemu-img check -q -f qcow2 %s", path);
	if (system("command -v qemu-img >/dev/null") == 0)
		ASSERT_EQ(system(cmd), 0);
	unlink(path);
}

TEST(random_disks_match_reference)
{
	for (int round = 0; round < 25; round++) {
		struct source *src;
		struct disk *d = random_disk(1 + next_rand() % 60, &src);
		struct view *v;
		unsigned char *img;

		ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &v, E));
		img = read_whole(v);
		check_image(img, v->size, d);
		if (round < 5)
			qemu_check(img, v->size);
		free(img);
		view_unref(v);
		disk_unref(d);
		source_unref(src);
	}
}

/* The whole of v put together from its pieces (view_piece) the way FUSE replies: read,
 * zeros, or bytes of a file. */
static unsigned char *read_by_pieces(struct view *v, unsigned *ret_kinds)
{
	unsigned char *img = malloc(v->size);

	*ret_kinds = 0;
	for (uint64_t off = 0; off < v->size;) {
		size_t n = (size_t)(1 + next_rand() % (3 * CL));
		struct view_piece p;

		ASSERT_OK(view_piece(v, off, n, &p));
		ASSERT(p.len > 0 && p.len <= n && p.len <= v->size - off);
		*ret_kinds |= 1u << p.kind;
		if (p.kind == VIEW_PIECE_READ)
			ASSERT_EQ(view_read(v, img + off, p.len, off), (long long)p.len);
		else if (p.kind == VIEW_PIECE_ZERO)
			memset(img + off, 0, p.len);
		else
			ASSERT_EQ(pread(p.fd, img + off, p.len, (off_t)p.fd_off), (long long)p.len);
		off += p.len;
	}
	return img;
}

/* The pieces FUSE splices and fills must give the bytes a read gives, in both views. */
TEST(pieces_put_together_equal_reads)
{
	for (int round = 0; round < 10; round++) {
		struct source *src;
		struct disk *d = random_disk_in(1 + next_rand() % 60, true, &src);
		struct view *views[2];
		unsigned kinds;
		uint64_t data;

		ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &views[0], E));
		ASSERT_OK(view_raw_new(d, "disk.raw", &views[1], E));
		data = view_data_bytes(views[1]);
		for (int i = 0; i < 2; i++) {
			unsigned char *a = read_whole(views[i]);
			unsigned char *b = read_by_pieces(views[i], &kinds);

			ASSERT(memcmp(a, b, views[i]->size) == 0);
			/* data sits in the file, in either view; the raw view's holes are zeros
			 * and the qcow2 metadata is computed */
			ASSERT(!(kinds & (1u << VIEW_PIECE_FD)) == !data);
			if (i == 0)
				ASSERT(kinds & (1u << VIEW_PIECE_READ));
			else
				ASSERT(!(kinds & (1u << VIEW_PIECE_ZERO)) == (data == d->size));
			free(a);
			free(b);
			view_unref(views[i]);
		}
		disk_unref(d);
		source_unref(src);
	}
}

TEST(huge_sparse_disk_is_small_and_valid)
{
	/* 2 TiB, data at the start, in the middle and in the last partial cluster */
	struct source *src;
	struct disk *parts[5], *c;
	struct view *v;
	unsigned char *buf = calloc(1, 3 * CL);
	uint64_t size = (2ull << 40) - 4096;

	memset(buf, 0xab, 3 * CL);
	ASSERT_OK(source_mem_new(buf, 3 * CL, "src", &src, E));
	ASSERT_OK(disk_flat_new(src, 0, CL, "a", &parts[0], E));
	ASSERT_OK(disk_zero_new((1ull << 40) - CL, DISK_UNALLOC, "u", &parts[1], E));
	ASSERT_OK(disk_flat_new(src, CL, CL, "b", &parts[2], E));
	ASSERT_OK(disk_zero_new(size - (1ull << 40) - CL - 512, DISK_ZERO, "z", &parts[3], E));
	ASSERT_OK(disk_flat_new(src, 2 * CL, 512, "c", &parts[4], E));
	ASSERT_OK(disk_concat_new(parts, 5, "big", &c, E));
	for (int i = 0; i < 5; i++)
		disk_unref(parts[i]);
	ASSERT_OK(view_qcow2_new(c, "disk.qcow2", &v, E));
	/* header + refcount table + 1 block + L1 (4096 entries: 1 cluster) + L2s + 3 data */
	ASSERT(v->size < 4200 * CL);
	ASSERT_OK(view_read(v, buf, CL, 0));
	ASSERT_U64_EQ(be64(buf + 24), size);
	/* the last data cluster: zeros, then c's 512 bytes 4 KiB before the end of the
	 * disk, then zeros past the end of the disk */
	ASSERT_OK(view_read(v, buf, CL, v->size - CL));
	ASSERT_EQ(buf[CL - 4608 - 1], 0);
	ASSERT_EQ(buf[CL - 4608], 0xab);
	ASSERT_EQ(buf[CL - 4096 - 1], 0xab);
	ASSERT_EQ(buf[CL - 4096], 0);
	view_unref(v);
	disk_unref(c);
	source_unref(src);
	free(buf);
}

/*
 * Disks of the largest size a qcow2 L1 table allows (2 PiB), described by a rule rather
 * than by data: the map must cost what the allocation's shape costs, not what the
 * capacity claims.
 */
#define PIB2 (1ull << 51)

enum { RULE_DATA, RULE_COMB };

struct rule_disk {
	struct disk d;
	int rule;
};

static uint8_t rule_byte(uint64_t off)
{
	return (uint8_t)(off * 0x9e3779b97f4a7c15ull >> 56) | 1;
}

/* RULE_DATA: all data.  RULE_COMB: 64 KiB of data at the start of every 512 MiB. */
static int rule_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct rule_disk *r = (struct rule_disk *)d;
	uint64_t in = off % (CL * 8192);

	(void)len;
	if (r->rule == RULE_DATA)
		*ret = (struct disk_run){ .len = d->size - off, .state = DISK_DATA };
	else if (in < CL)
		*ret = (struct disk_run){ .len = CL - in, .state = DISK_DATA };
	else
		*ret = (struct disk_run){ .len = CL * 8192 - in, .state = DISK_UNALLOC };
	return 0;
}

static int rule_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	(void)d;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = rule_byte(off + i);
	return 0;
}

static void rule_free(struct disk *d)
{
	free(d);
}

static const struct disk_ops rule_ops = {
	.kind = "rule",
	.read = rule_read,
	.status = rule_status,
	.free = rule_free,
};

static struct disk *rule_disk(int rule, uint64_t size)
{
	struct rule_disk *r = calloc(1, sizeof(*r));

	ASSERT(r);
	r->rule = rule;
	ASSERT_OK(disk_init(&r->d, &rule_ops, "rule.vmdk", size, 512, false));
	return &r->d;
}

/* The header fields the checks below need. */
struct hdr {
	uint64_t l1_off, l1_entries, rt_off, rt_clusters;
};

static struct hdr read_hdr(struct view *v, uint64_t size)
{
	unsigned char h[112];
	struct hdr r;

	ASSERT_OK(view_read(v, h, sizeof(h), 0) == sizeof(h) ? 0 : -EIO);
	ASSERT_EQ(be32(h), 0x514649fb);
	ASSERT_U64_EQ(be64(h + 24), size);
	r.l1_entries = be32(h + 36);
	r.l1_off = be64(h + 40);
	r.rt_off = be64(h + 48);
	r.rt_clusters = be32(h + 56);
	ASSERT_U64_EQ(r.l1_entries, DIV_UP(size, CL * 8192));
	return r;
}

static uint64_t read_u64(struct view *v, uint64_t off)
{
	unsigned char b[8];

	ASSERT(view_read(v, b, 8, off) == 8);
	return be64(b);
}

/* Host clusters whose refcount block entry is 1: must be every cluster of the image. */
static void check_refcounts_cover(struct view *v, struct hdr h)
{
	uint64_t clusters = v->size / CL, counted = 0;
	unsigned char *b = malloc(CL);

	ASSERT(b);
	for (uint64_t i = 0; i < h.rt_clusters * 8192 && counted < clusters + 32768; i++) {
		uint64_t rb = read_u64(v, h.rt_off + i * 8);

		if (!rb)
			break;
		ASSERT(view_read(v, b, CL, rb) == (ssize_t)CL);
		for (uint64_t e = 0; e < 32768; e++) {
			uint64_t c = i * 32768 + e;

			ASSERT_EQ(be16(b + e * 2), c < clusters ? 1 : 0);
		}
		counted += 32768;
	}
	ASSERT(counted >= clusters);
	free(b);
}

TEST(empty_2pib_disk_costs_no_map)
{
	struct disk *d;
	struct view *v;
	struct hdr h;
	unsigned char *b = malloc(CL);

	ASSERT_OK(disk_zero_new(PIB2, DISK_UNALLOC, "empty", &d, E));
	ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &v, E));
	h = read_hdr(v, PIB2);
	/* header, refcount table, 1 block, L1 of 4 Mi entries (512 clusters), nothing else */
	ASSERT_U64_EQ(v->size, (1 + 1 + 1 + 512) * CL);
	for (uint64_t c = 0; c < 512; c++) {
		ASSERT(view_read(v, b, CL, h.l1_off + c * CL) == (ssize_t)CL);
		for (uint64_t i = 0; i < CL; i++)
			ASSERT_EQ(b[i], 0);
	}
	check_refcounts_cover(v, h);
	/* one more byte of guest is past what an L1 table may address */
	disk_unref(d);
	ASSERT_OK(disk_zero_new(PIB2 + 1, DISK_UNALLOC, "too big", &d, E));
	ASSERT_ERR(view_qcow2_new(d, "disk.qcow2", &v, E), -EFBIG, "too large for a qcow2");
	view_unref(v);
	disk_unref(d);
	free(b);
}

TEST(zero_2pib_disk_is_one_segment)
{
	struct disk *d;
	struct view *v;
	struct hdr h;
	uint64_t l2_first, last_l2, l1_clusters = 512, n_l2 = PIB2 / (CL * 8192);

	ASSERT_OK(disk_zero_new(PIB2, DISK_ZERO, "zero", &d, E));
	ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &v, E));
	h = read_hdr(v, PIB2);
	/* every L1 entry has an L2 table of zero flags, in order after the L1 table */
	l2_first = h.l1_off + l1_clusters * CL;
	ASSERT_U64_EQ(v->size, l2_first + n_l2 * CL);
	for (uint64_t i = 0; i < n_l2; i += n_l2 / 7 - 1) {
		uint64_t e = read_u64(v, h.l1_off + i * 8);

		ASSERT_U64_EQ(e, (l2_first + i * CL) | 1ull << 63);
	}
	last_l2 = read_u64(v, h.l1_off + (n_l2 - 1) * 8) & ~(1ull << 63);
	ASSERT_U64_EQ(read_u64(v, last_l2), 1);
	ASSERT_U64_EQ(read_u64(v, last_l2 + CL - 8), 1);
	ASSERT_U64_EQ(read_u64(v, last_l2 + 4096 + 8), 1);
	/* a read straddling two L2 tables and one that starts mid-entry */
	{
		unsigned char b[24];

		ASSERT(view_read(v, b, 16, last_l2 - 8) == 16);
		ASSERT_U64_EQ(be64(b), 1);
		ASSERT_U64_EQ(be64(b + 8), 1);
		ASSERT(view_read(v, b, 5, last_l2 + 3) == 5);
		ASSERT(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 1);
	}
	check_refcounts_cover(v, h);
	view_unref(v);
	disk_unref(d);
}

TEST(full_2pib_disk_maps_every_cluster)
{
	struct disk *d = rule_disk(RULE_DATA, PIB2 - 4096);
	struct view *v;
	struct hdr h;
	uint64_t clusters = PIB2 / CL, n_l2 = PIB2 / (CL * 8192), data_start;
	unsigned char *b = malloc(CL), *want = malloc(CL);

	ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &v, E));
	h = read_hdr(v, PIB2 - 4096);
	data_start = h.l1_off + (512 + n_l2) * CL;
	ASSERT_U64_EQ(v->size, data_start + clusters * CL);
	/* guest cluster g is the g-th data cluster; the last one ends in 4 KiB of zeros */
	for (uint64_t g = 0; g < clusters; g += clusters / 13 - 3) {
		uint64_t l2 = read_u64(v, h.l1_off + g / 8192 * 8) & ~(1ull << 63);
		uint64_t e = read_u64(v, l2 + g % 8192 * 8);

		ASSERT_U64_EQ(e, (data_start + g * CL) | 1ull << 63);
		ASSERT(view_read(v, b, CL, data_start + g * CL) == (ssize_t)CL);
		rule_read(d, want, CL, g * CL);
		ASSERT(memcmp(b, want, CL) == 0);
	}
	ASSERT(view_read(v, b, CL, v->size - CL) == (ssize_t)CL);
	rule_read(d, want, CL - 4096, PIB2 - CL);
	ASSERT(memcmp(b, want, CL - 4096) == 0);
	ASSERT(b[CL - 4096] == 0 && b[CL - 1] == 0);
	view_unref(v);
	disk_unref(d);
	free(b);
	free(want);
}

TEST(fragmented_map_is_refused_not_grown)
{
	/* 64 KiB of data in every 512 MiB: each L2 table is mixed and needs its bitmap */
	struct disk *d = rule_disk(RULE_COMB, PIB2);
	struct view *v = NULL;

	ASSERT_ERR(view_qcow2_new(d, "disk.qcow2", &v, E), -EFBIG, "too fragmented");
	ASSERT(strstr(harness_err.msg, "rule.vmdk"));
	ASSERT(!v);
	disk_unref(d);
	/* the same comb over 1 TiB is fine: 2048 mixed tables */
	d = rule_disk(RULE_COMB, 1ull << 40);
	ASSERT_OK(view_qcow2_new(d, "disk.qcow2", &v, E));
	ASSERT_U64_EQ(v->size % CL, 0);
	view_unref(v);
	disk_unref(d);
}

HARNESS_MAIN
