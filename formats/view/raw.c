/* SPDX-License-Identifier: MIT */
/*
 * The raw view: the disk itself as a file.  Reads go straight to the disk (through the
 * cache when the disk is a cached one).  SEEK_DATA/SEEK_HOLE follow block status: DATA
 * is data; ZERO and UNALLOCATED both read as zeros and are reported as holes, so
 * `cp --sparse=always` and `qemu-img map` skip them without reading them.
 */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/bounds.h"

struct raw_view {
	struct view v;
	struct disk *d;
};

static ssize_t raw_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	struct raw_view *rv = (struct raw_view *)v;
	int r = disk_read(rv->d, buf, len, off);

	return r < 0 ? r : (ssize_t)len;
}

static int raw_seek(struct view *v, uint64_t off, int whence, uint64_t *ret)
{
	struct raw_view *rv = (struct raw_view *)v;

	while (off < v->size) {
		struct disk_run run;
		bool data;
		int r = disk_status(rv->d, off, v->size - off, &run);

		if (r < 0)
			return r;
		data = run.state == DISK_DATA;
		if (data == (whence == SEEK_DATA)) {
			*ret = off;
			return 0;
		}
		off += run.len;
	}
	if (whence == SEEK_HOLE) {
		*ret = v->size;
		return 0;
	}
	return -ENXIO;
}

static int raw_locate(struct view *v, uint64_t off, size_t len, int *ret_fd,
		      uint64_t *ret_fd_off, size_t *ret_len)
{
	struct raw_view *rv = (struct raw_view *)v;
	struct disk_run run;
	int r = disk_status(rv->d, off, len, &run);

	if (r < 0 || run.state != DISK_DATA || !run.src)
		return -ENOTSUP;
	len = (size_t)MIN((uint64_t)len, run.len);
	r = source_locate(run.src, run.src_off, len, ret_fd, ret_fd_off);
	if (r < 0)
		return r;
	*ret_len = len;
	return 0;
}

static void raw_free(struct view *v)
{
	disk_unref(((struct raw_view *)v)->d);
	free(v);
}

static const struct view_ops raw_ops = {
	.kind = "raw",
	.read = raw_read,
	.seek = raw_seek,
	.locate = raw_locate,
	.free = raw_free,
};

int view_raw_new(struct disk *d, const char *name, struct view **ret, struct err *err)
{
	struct raw_view *rv = calloc(1, sizeof(*rv));

	if (!rv)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	rv->d = disk_ref(d);
	if (view_init(&rv->v, &raw_ops, name, d->size) < 0) {
		raw_free(&rv->v);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &rv->v;
	return 0;
}
