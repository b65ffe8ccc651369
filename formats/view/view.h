/* SPDX-License-Identifier: MIT */
/*
 * Views: the virtual files a mount shows.  A view has a size fixed at mount, reads,
 * answers SEEK_DATA/SEEK_HOLE, and may say where a range sits raw in a file so FUSE can
 * splice it.  Thread-safe; the FUSE layer calls views from many worker threads.
 */
#ifndef VMFS_VIEW_H
#define VMFS_VIEW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"
#include "../disk/disk.h"

struct view;

struct view_ops {
	const char *kind; /* "raw" "qcow2" "domain-xml" "member" */
	/* Read up to len bytes at off (< size); short only at the end. Count or -errno. */
	ssize_t (*read)(struct view *v, void *buf, size_t len, uint64_t off);
	/* SEEK_DATA / SEEK_HOLE from off (< size) into *ret. 0, -ENXIO, or -errno. Optional:
	 * without it the whole file is data. */
	int (*seek)(struct view *v, uint64_t off, int whence, uint64_t *ret);
	/* Optional: the first *ret_len (> 0, <= len) bytes at off sit raw at *ret_fd_off of
	 * *ret_fd. 0 or -ENOTSUP. */
	int (*locate)(struct view *v, uint64_t off, size_t len, int *ret_fd, uint64_t *ret_fd_off,
		      size_t *ret_len);
	void (*free)(struct view *v);
};

struct view {
	const struct view_ops *ops;
	char *name;
	uint64_t size;
	atomic_uint refs;
};

/* Initialise the common fields; takes a copy of name. 0 or -ENOMEM. */
int view_init(struct view *v, const struct view_ops *ops, const char *name, uint64_t size);

/* Take a reference. Returns v. */
struct view *view_ref(struct view *v);

/* Drop a reference (NULL is a no-op). Returns NULL. */
struct view *view_unref(struct view *v);

/* Read up to len bytes at off: 0 at or past the end, short only at the end. Count or
 * -errno. Thread-safe. */
ssize_t view_read(struct view *v, void *buf, size_t len, uint64_t off);

/* lseek(SEEK_DATA/SEEK_HOLE) semantics: -ENXIO at or past the end, or for SEEK_DATA
 * with no data after off. Thread-safe. */
int view_seek(struct view *v, uint64_t off, int whence, uint64_t *ret);

/* See view_ops.locate; -ENOTSUP when the bytes are not raw in a file. Thread-safe. */
int view_locate(struct view *v, uint64_t off, size_t len, int *ret_fd, uint64_t *ret_fd_off,
		size_t *ret_len);

/* The disk as a raw image: DATA is data, ZERO and UNALLOCATED are holes. Takes its own
 * reference on d. 0 or -errno. */
int view_raw_new(struct disk *d, const char *name, struct view **ret, struct err *err);

/* The disk as a qcow2 v3 image synthesised from its allocation map (64 KiB clusters, no
 * backing file); walks the disk's block status once, here. Takes its own reference on d.
 * 0 or -errno. */
int view_qcow2_new(struct disk *d, const char *name, struct view **ret, struct err *err);

/* A source's bytes as they are (source/ members). Takes its own reference. 0 or -errno. */
int view_member_new(struct source *s, const char *name, struct view **ret, struct err *err);

/* A view over a private copy of data[0..len) (domain.xml and other small texts). */
int view_mem_new(const void *data, size_t len, const char *name, struct view **ret,
		 struct err *err);

#endif
