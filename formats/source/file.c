/* SPDX-License-Identifier: MIT */
/*
 * A plain file as a byte source.  Opened O_RDONLY: the source is never written.  Reads
 * use pread, so threads share the fd without a shared offset.
 *
 * The decoders above trust what they read at open (headers, tables, indexes), so a file
 * changed under a live mount would be read as garbage that looks valid.  Every read
 * therefore checks, at most once a second, that the file is still the one opened: same
 * size and modification time through the fd (truncated or rewritten in place) and, for
 * a file opened by name, the same inode under that name (replaced by a rename).  Once
 * it is not, the source is stale for good: every read fails with EIO, and one line says
 * why.  Within the second, a read may still see a change; the check bounds the damage,
 * it cannot make a moving file consistent.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "../common/log.h"

#define CHECK_INTERVAL_NS 1000000000ll

struct file_source {
	struct source s;
	int fd;
	int dirfd;  /* where path is looked up again (a dup), or -1: not checked by name */
	char *path; /* as opened, relative to dirfd */
	bool regular;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	atomic_llong next_check; /* CLOCK_MONOTONIC ns before which no check is due */
	atomic_bool stale;
};

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* Whether the file changed since open (see the top of this file); logs once. */
static bool file_stale(struct file_source *f)
{
	long long now, due;
	const char *why = NULL;
	struct stat st;

	if (atomic_load_explicit(&f->stale, memory_order_relaxed))
		return true;
	if (!f->regular)
		return false;
	now = now_ns();
	due = atomic_load_explicit(&f->next_check, memory_order_relaxed);
	/* One thread checks per interval; the others go on without waiting. */
	if (now < due ||
	    !atomic_compare_exchange_strong(&f->next_check, &due, now + CHECK_INTERVAL_NS))
		return false;
	if (fstat(f->fd, &st) < 0)
		why = "cannot stat it any more";
	else if ((uint64_t)st.st_size != f->s.size)
		why = st.st_size < (off_t)f->s.size ? "it was truncated" : "its size changed";
	else if (st.st_mtim.tv_sec != f->mtime.tv_sec || st.st_mtim.tv_nsec != f->mtime.tv_nsec)
		why = "it was modified";
	else if (f->dirfd >= 0 && (fstatat(f->dirfd, f->path, &st, 0) < 0 || st.st_dev != f->dev ||
				   st.st_ino != f->ino))
		why = "it was replaced or removed";
	if (!why)
		return false;
	atomic_store(&f->stale, true);
	log_corrupt_once(f->s.name, "stale",
			 "the source file changed under the mount (%s): every read from it now "
			 "fails with EIO; unmount and mount again",
			 why);
	return true;
}

static int file_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct file_source *f = (struct file_source *)s;
	char *p = buf;

	if (file_stale(f))
		return -EIO;
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
	if (file_stale(f))
		return -EIO;
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
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->path);
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
	f->dirfd = -1;
	f->regular = S_ISREG(st.st_mode);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->mtime = st.st_mtim;
	atomic_init(&f->next_check, now_ns() + CHECK_INTERVAL_NS);
	atomic_init(&f->stale, false);
	if (f->regular) {
		f->dirfd = dirfd == AT_FDCWD ? open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)
					     : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		f->path = strdup(path);
		if (f->dirfd < 0 || !f->path) {
			file_free(&f->s);
			return err_set(err, ENOMEM, "%s: cannot keep its name for checks: %s", name,
				       strerror(errno));
		}
	}
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
