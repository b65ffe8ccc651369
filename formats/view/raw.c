/* SPDX-License-Identifier: MIT */
/*
 * The raw view: the disk itself as a file.  Reads go straight to the disk (through the
 * cache when the disk is a cached one).  SEEK_DATA/SEEK_HOLE follow block status: DATA
 * is data; ZERO and UNALLOCATED both read as zeros and are reported as holes, so
 * `cp --sparse=always` and `qemu-img map` skip them without reading them.  st_blocks
 * counts the DATA bytes, so that a plain `cp` sees a sparse file and looks for holes too.
 */
#include "view.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/bounds.h"

/* data_bytes before the first walk; a real count is at most the size, never this. */
#define RAW_DATA_UNKNOWN UINT64_MAX

struct raw_view {
	struct view v;
	struct disk *d;
	atomic_uint_fast64_t data_bytes;
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

static int raw_piece(struct view *v, uint64_t off, size_t len, struct view_piece *ret)
{
	struct raw_view *rv = (struct raw_view *)v;
	struct disk_run run;
	int r = disk_status(rv->d, off, len, &run);

	if (r < 0)
		return r;
	ret->len = (size_t)MIN((uint64_t)len, run.len);
	ret->kind = VIEW_PIECE_READ;
	if (run.state != DISK_DATA)
		ret->kind = VIEW_PIECE_ZERO;
	else if (run.src && source_locate(run.src, run.src_off, ret->len, &ret->fd,
					  &ret->fd_off) == 0)
		ret->kind = VIEW_PIECE_FD;
	return 0;
}

/* One walk of the block status, remembered: st_blocks must be below the size for cp to
 * look for holes with SEEK_DATA at all, and should say what a copy will take. */
static uint64_t raw_data_bytes(struct view *v)
{
	struct raw_view *rv = (struct raw_view *)v;
	uint64_t n = atomic_load(&rv->data_bytes), off = 0;

	if (n != RAW_DATA_UNKNOWN)
		return n;
	n = 0;
	while (off < v->size) {
		struct disk_run run;

		if (disk_status(rv->d, off, v->size - off, &run) < 0)
			return v->size; /* a read will report the damage; keep st_blocks safe */
		if (run.state == DISK_DATA)
			n += run.len;
		off += run.len;
	}
	/* Racing threads compute the same number. */
	atomic_store(&rv->data_bytes, n);
	return n;
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
	.piece = raw_piece,
	.data_bytes = raw_data_bytes,
	.free = raw_free,
};

int view_raw_new(struct disk *d, const char *name, struct view **ret, struct err *err)
{
	struct raw_view *rv = calloc(1, sizeof(*rv));

	if (!rv)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	rv->d = disk_ref(d);
	atomic_init(&rv->data_bytes, RAW_DATA_UNKNOWN);
	if (view_init(&rv->v, &raw_ops, name, d->size) < 0) {
		raw_free(&rv->v);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &rv->v;
	return 0;
}
