/* SPDX-License-Identifier: MIT */
/* Generic disks: flat, zero, concat; and the raw view's SEEK_DATA/SEEK_HOLE over them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/disk/disk.h"
#include "../../formats/view/view.h"
#include "../lib/harness.h"

static struct source *mem(size_t len, unsigned char seed)
{
	unsigned char *p = malloc(len);
	struct source *s;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7);
	ASSERT_OK(source_mem_new(p, len, "mem", &s, E));
	free(p);
	return s;
}

TEST(flat_reads_range_and_rejects_short_file)
{
	struct source *s = mem(4096, 1);
	struct disk *d;
	struct disk_run run;
	unsigned char buf[100];

	ASSERT_OK(disk_flat_new(s, 512, 2048, "x-flat.vmdk", &d, E));
	ASSERT_OK(disk_read(d, buf, 100, 10));
	ASSERT_EQ(buf[0], (unsigned char)(1 + 522 * 7));
	ASSERT_EQ(disk_read(d, buf, 100, 2000), -EINVAL);
	ASSERT_OK(disk_status(d, 100, 10, &run));
	ASSERT_EQ(run.state, DISK_DATA);
	ASSERT_U64_EQ(run.len, 2048 - 100);
	ASSERT(run.src == s);
	ASSERT_U64_EQ(run.src_off, 612);
	ASSERT_EQ(disk_status(d, 2048, 1, &run), -ENXIO);
	disk_unref(d);
	ASSERT_ERR(disk_flat_new(s, 4096 - 511, 512, "x-flat.vmdk", &d, E), -EINVAL,
		   "x-flat.vmdk: flat extent");
	source_unref(s);
}

TEST(concat_crosses_boundaries)
{
	struct source *a = mem(1000, 3), *b = mem(3000, 9);
	struct disk *parts[4], *c;
	struct disk_run run;
	unsigned char buf[6000], want[6000];

	ASSERT_OK(disk_flat_new(a, 0, 1000, "a", &parts[0], E));
	ASSERT_OK(disk_zero_new(500, DISK_ZERO, "z", &parts[1], E));
	ASSERT_OK(disk_zero_new(700, DISK_ZERO, "z2", &parts[2], E));
	ASSERT_OK(disk_flat_new(b, 0, 3000, "b", &parts[3], E));
	ASSERT_OK(disk_concat_new(parts, 4, "c.vmdk", &c, E));
	for (int i = 0; i < 4; i++)
		disk_unref(parts[i]);
	ASSERT_U64_EQ(c->size, 5200);
	ASSERT_OK(source_pread(a, want, 1000, 0));
	memset(want + 1000, 0, 1200);
	ASSERT_OK(source_pread(b, want + 2200, 3000, 0));
	ASSERT_OK(disk_read(c, buf, 5200, 0));
	ASSERT(memcmp(buf, want, 5200) == 0);
	for (uint64_t off = 0; off < 5200; off += 97) {
		size_t len = (size_t)(5200 - off < 333 ? 5200 - off : 333);

		ASSERT_OK(disk_read(c, buf, len, off));
		ASSERT(memcmp(buf, want + off, len) == 0);
	}
	/* the two zero extents come back as one run */
	ASSERT_OK(disk_status(c, 1000, 5200, &run));
	ASSERT_EQ(run.state, DISK_ZERO);
	ASSERT_U64_EQ(run.len, 1200);
	ASSERT_OK(disk_status(c, 999, 5200, &run));
	ASSERT_EQ(run.state, DISK_DATA);
	ASSERT_U64_EQ(run.len, 1);
	ASSERT_OK(disk_status(c, 2200, 1, &run));
	ASSERT_EQ(run.state, DISK_DATA);
	ASSERT(run.src == b);
	disk_unref(c);
	source_unref(a);
	source_unref(b);
}

TEST(raw_view_seek_data_and_hole)
{
	struct source *a = mem(1000, 3);
	struct disk *parts[3], *c;
	struct view *v;
	uint64_t pos;
	unsigned char buf[64];

	ASSERT_OK(disk_zero_new(4096, DISK_UNALLOC, "u", &parts[0], E));
	ASSERT_OK(disk_flat_new(a, 0, 1000, "a", &parts[1], E));
	ASSERT_OK(disk_zero_new(8192, DISK_ZERO, "z", &parts[2], E));
	ASSERT_OK(disk_concat_new(parts, 3, "c", &c, E));
	ASSERT_OK(view_raw_new(c, "disk.raw", &v, E));
	for (int i = 0; i < 3; i++)
		disk_unref(parts[i]);
	disk_unref(c);
	ASSERT_U64_EQ(v->size, 4096 + 1000 + 8192);
	ASSERT_OK(view_seek(v, 0, SEEK_DATA, &pos));
	ASSERT_U64_EQ(pos, 4096);
	ASSERT_OK(view_seek(v, 4100, SEEK_HOLE, &pos));
	ASSERT_U64_EQ(pos, 5096);
	ASSERT_EQ(view_seek(v, 5096, SEEK_DATA, &pos), -ENXIO);
	ASSERT_OK(view_seek(v, 6000, SEEK_HOLE, &pos));
	ASSERT_U64_EQ(pos, 6000);
	ASSERT_EQ(view_seek(v, v->size, SEEK_HOLE, &pos), -ENXIO);
	/* reads clip at the end */
	ASSERT_EQ(view_read(v, buf, 64, v->size - 10), 10);
	ASSERT_EQ(view_read(v, buf, 64, v->size), 0);
	view_unref(v);
	source_unref(a);
}

/* The raw view says which pieces sit raw in a file (flat data in a real file), which are
 * zeros, and which must be read, so FUSE can splice the first two and read the others. */
TEST(raw_view_pieces_and_data_bytes)
{
	char path[] = "/tmp/vmfs-test-disk-XXXXXX";
	unsigned char data[3000];
	struct source *f, *m = mem(500, 5);
	struct disk *parts[4], *c;
	struct view *v;
	struct view_piece p;
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 13 + 1);
	ASSERT(pwrite(fd, data, sizeof(data), 0) == (ssize_t)sizeof(data));
	close(fd);
	ASSERT_OK(source_file_open(path, "d-flat.vmdk", &f, E));
	unlink(path);
	/* 4096 unallocated, 2000 raw at 1000 of the file, 8192 zero, 500 data in memory */
	ASSERT_OK(disk_zero_new(4096, DISK_UNALLOC, "u", &parts[0], E));
	ASSERT_OK(disk_flat_new(f, 1000, 2000, "a", &parts[1], E));
	ASSERT_OK(disk_zero_new(8192, DISK_ZERO, "z", &parts[2], E));
	ASSERT_OK(disk_flat_new(m, 0, 500, "m", &parts[3], E));
	ASSERT_OK(disk_concat_new(parts, 4, "c", &c, E));
	ASSERT_OK(view_raw_new(c, "disk.raw", &v, E));
	for (int i = 0; i < 4; i++)
		disk_unref(parts[i]);
	disk_unref(c);

	ASSERT_OK(view_piece(v, 0, 100000, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_ZERO);
	ASSERT_EQ(p.len, 4096);
	ASSERT_OK(view_piece(v, 10, 50, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_ZERO);
	ASSERT_EQ(p.len, 50);
	ASSERT_OK(view_piece(v, 4096 + 10, 100000, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_FD);
	ASSERT_EQ(p.len, 1990);
	ASSERT_U64_EQ(p.fd_off, 1010);
	ASSERT(pread(p.fd, data, 4, (off_t)p.fd_off) == 4);
	ASSERT_EQ(data[0], (unsigned char)(1010 * 13 + 1));
	ASSERT_OK(view_piece(v, 4096, 7, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_FD);
	ASSERT_EQ(p.len, 7);
	ASSERT_OK(view_piece(v, 6096, 100000, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_ZERO);
	ASSERT_EQ(p.len, 8192);
	/* data, but only in memory: to be read */
	ASSERT_OK(view_piece(v, 6096 + 8192 + 1, 100000, &p));
	ASSERT_EQ(p.kind, VIEW_PIECE_READ);
	ASSERT_EQ(p.len, 499);
	ASSERT_EQ(view_piece(v, v->size, 1, &p), -ENXIO);
	ASSERT_EQ(view_piece(v, 0, 0, &p), -ENXIO);
	ASSERT_U64_EQ(view_data_bytes(v), 2000 + 500);
	ASSERT_U64_EQ(view_data_bytes(v), 2000 + 500);
	view_unref(v);
	source_unref(f);
	source_unref(m);
}

TEST(concat_rejects_overflow)
{
	struct disk *parts[2], *c;

	ASSERT_OK(disk_zero_new(UINT64_MAX - 10, DISK_ZERO, "z", &parts[0], E));
	ASSERT_OK(disk_zero_new(100, DISK_ZERO, "z", &parts[1], E));
	ASSERT_ERR(disk_concat_new(parts, 2, "big.vmdk", &c, E), -EFBIG, "big.vmdk");
	disk_unref(parts[0]);
	disk_unref(parts[1]);
}

HARNESS_MAIN
