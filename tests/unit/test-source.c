/* SPDX-License-Identifier: MIT */
/* Byte sources: files, slices, memory; bounds, holes, references. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../formats/source/source.h"
#include "../lib/harness.h"

static char *make_file(const void *data, size_t len, uint64_t hole_before)
{
	char *path = strdup("/tmp/vmfs-test-source-XXXXXX");
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	ASSERT(pwrite(fd, data, len, (off_t)hole_before) == (ssize_t)len);
	close(fd);
	return path;
}

TEST(mem_reads_and_bounds)
{
	struct source *s;
	char buf[8];

	ASSERT_OK(source_mem_new("abcdefgh", 8, "m", &s, E));
	ASSERT_EQ(s->size, 8);
	ASSERT_OK(source_pread(s, buf, 3, 5));
	ASSERT(memcmp(buf, "fgh", 3) == 0);
	ASSERT_EQ(source_pread(s, buf, 4, 5), -EIO);
	ASSERT_EQ(source_pread(s, buf, 1, UINT64_MAX), -EIO);
	ASSERT_OK(source_pread(s, buf, 0, 8));
	ASSERT_EQ(source_locate(s, 0, 1, &(int){ 0 }, &(uint64_t){ 0 }), -ENOTSUP);
	source_unref(s);
}

TEST(file_read_locate_and_holes)
{
	char data[4096];
	struct source *s;
	uint64_t pos, fdoff;
	int fd;
	char *path;

	memset(data, 0x5a, sizeof(data));
	path = make_file(data, sizeof(data), 1 << 20);
	ASSERT_OK(source_file_open(path, "f.vmdk", &s, E));
	ASSERT_U64_EQ(s->size, (1 << 20) + 4096);
	ASSERT_OK(source_pread(s, data, 16, 1 << 20));
	ASSERT_EQ(data[15], 0x5a);
	ASSERT_OK(source_locate(s, 100, 10, &fd, &fdoff));
	ASSERT_U64_EQ(fdoff, 100);
	/* tmpfs and ext4 both report the leading megabyte as a hole */
	ASSERT_OK(source_seek(s, 0, SEEK_DATA, &pos));
	ASSERT_U64_EQ(pos, 1 << 20);
	ASSERT_OK(source_seek(s, 0, SEEK_HOLE, &pos));
	ASSERT_U64_EQ(pos, 0);
	ASSERT_EQ(source_seek(s, s->size, SEEK_DATA, &pos), -ENXIO);
	source_unref(s);
	unlink(path);
	free(path);
}

TEST(file_errors_name_the_file)
{
	struct source *s;

	ASSERT_ERR(source_file_open("/nonexistent/x.vmdk", "x.vmdk", &s, E), -ENOENT, "x.vmdk");
	ASSERT_ERR(source_file_open("/tmp", "tmpdir", &s, E), -EINVAL, "tmpdir: not a regular");
}

TEST(file_shrunk_under_us_is_eio)
{
	char data[8192] = { 1 };
	struct source *s;
	char *path = make_file(data, sizeof(data), 0);

	ASSERT_OK(source_file_open(path, "f", &s, E));
	ASSERT_EQ(truncate(path, 100), 0);
	ASSERT_EQ(source_pread(s, data, 4096, 4096), -EIO);
	source_unref(s);
	unlink(path);
	free(path);
}

/* A source changed under us goes stale within the check interval (a second): truncated
 * (even where the bytes are still there), modified in place, replaced by a rename, or
 * removed.  An untouched one keeps reading, and a stale one stays stale. */
TEST(file_changed_under_us_goes_stale)
{
	char data[8192], buf[16];
	const char *what[] = { "truncated", "modified", "replaced", "removed", "untouched" };
	struct source *s[5];
	char *path[5], *other;
	struct timespec old[2] = { { 1000000, 0 }, { 1000000, 0 } };
	size_t i;

	memset(data, 7, sizeof(data));
	for (i = 0; i < 5; i++) {
		path[i] = make_file(data, sizeof(data), 0);
		ASSERT_OK(source_file_open(path[i], what[i], &s[i], E));
		ASSERT_OK(source_pread(s[i], buf, sizeof(buf), 0));
	}
	ASSERT_EQ(truncate(path[0], 4096), 0);
	ASSERT_EQ(utimensat(AT_FDCWD, path[1], old, 0), 0);
	other = make_file(data, sizeof(data), 0);
	ASSERT_EQ(rename(other, path[2]), 0);
	ASSERT_EQ(unlink(path[3]), 0);
	usleep(1100 * 1000);
	for (i = 0; i < 4; i++) {
		printf("  %s: ", what[i]);
		ASSERT_EQ(source_pread(s[i], buf, sizeof(buf), 0), -EIO);
		ASSERT_EQ(source_pread(s[i], buf, sizeof(buf), 0), -EIO);
		printf("EIO\n");
	}
	ASSERT_OK(source_pread(s[4], buf, sizeof(buf), 4096));
	ASSERT_EQ(buf[0], 7);
	for (i = 0; i < 5; i++) {
		source_unref(s[i]);
		unlink(path[i]);
		free(path[i]);
	}
	free(other);
}

TEST(slice_window)
{
	struct source *m, *sl, *sl2;
	char buf[4];

	ASSERT_OK(source_mem_new("0123456789", 10, "m", &m, E));
	ASSERT_OK(source_slice_new(m, 2, 5, "m:s", &sl, E));
	source_unref(m); /* the slice keeps its own reference */
	ASSERT_OK(source_pread(sl, buf, 4, 1));
	ASSERT(memcmp(buf, "3456", 4) == 0);
	ASSERT_EQ(source_pread(sl, buf, 2, 4), -EIO);
	ASSERT_ERR(source_slice_new(sl, 3, 3, "m:s:t", &sl2, E), -EINVAL, "past the end");
	ASSERT_ERR(source_slice_new(sl, UINT64_MAX, 2, "m:s:t", &sl2, E), -EINVAL, "m:s:t");
	source_unref(sl);
}

TEST(read_all_caps)
{
	struct source *m;
	char *text;
	size_t len;

	ASSERT_OK(source_mem_new("hello", 5, "d.vmdk", &m, E));
	ASSERT_OK(source_read_all(m, 5, &text, &len, E));
	ASSERT_STREQ(text, "hello");
	free(text);
	ASSERT_ERR(source_read_all(m, 4, &text, &len, E), -EFBIG, "d.vmdk");
	source_unref(m);
}

HARNESS_MAIN
