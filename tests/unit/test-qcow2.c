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

HARNESS_MAIN
