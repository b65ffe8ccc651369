/* SPDX-License-Identifier: MIT */
/*
 * A plain file as a byte source.  Opened O_RDONLY: the source is never written.  Reads
 * use pread, so threads share the fd without a shared offset.  The size is taken once
 * at open; a file that shrinks later makes reads past its new end fail with EIO.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

struct file_source {
	struct source s;
	int fd;
};

static int file_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct file_source *f = (struct file_source *)s;
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(f->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int file_locate(struct source *s, uint64_t off, size_t len, int *ret_fd,
		       uint64_t *ret_fd_off)
{
	struct file_source *f = (struct file_source *)s;

	(void)len;
	*ret_fd = f->fd;
	*ret_fd_off = off;
	return 0;
}

static int file_seek(struct source *s, uint64_t off, int whence, uint64_t *ret)
{
	struct file_source *f = (struct file_source *)s;
	off_t r = lseek(f->fd, (off_t)off, whence);

	if (r < 0) {
		if (errno == ENXIO)
			return -ENXIO;
		return -ENOTSUP;
	}
	*ret = (uint64_t)r > s->size ? s->size : (uint64_t)r;
	return 0;
}

static void file_free(struct source *s)
{
	struct file_source *f = (struct file_source *)s;

	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

static const struct source_ops file_ops = {
	.kind = "file",
	.pread = file_pread,
	.locate = file_locate,
	.seek = file_seek,
	.free = file_free,
};

int source_file_openat(int dirfd, const char *path, const char *name, struct source **ret,
		       struct err *err)
{
	struct file_source *f;
	struct stat st;
	uint64_t size;
	int fd, r;

	if (!name)
		name = path;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(err, errno, "%s: cannot open: %s", name, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = err_set(err, errno, "%s: cannot stat: %s", name, strerror(errno));
		close(fd);
		return r;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			r = err_set(err, errno, "%s: cannot get device size: %s", name,
				    strerror(errno));
			close(fd);
			return r;
		}
	} else {
		close(fd);
		return err_set(err, EINVAL, "%s: not a regular file or block device", name);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	f->fd = fd;
	if (source_init(&f->s, &file_ops, name, size) < 0) {
		file_free(&f->s);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &f->s;
	return 0;
}

int source_file_open(const char *path, const char *name, struct source **ret, struct err *err)
{
	return source_file_openat(AT_FDCWD, path, name, ret, err);
}
