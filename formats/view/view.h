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

/* Where a stretch of a view's bytes comes from, so FUSE can reply without copying them. */
enum view_piece_kind {
	VIEW_PIECE_READ, /* computed: view_read them */
	VIEW_PIECE_FD,	 /* sitting unchanged in file fd at fd_off: splice them */
	VIEW_PIECE_ZERO, /* zeros */
};

struct view_piece {
	size_t len; /* > 0 */
	enum view_piece_kind kind;
	int fd;		 /* VIEW_PIECE_FD: borrowed, valid while the view lives */
	uint64_t fd_off; /* VIEW_PIECE_FD */
};

struct view_ops {
	const char *kind; /* "raw" "qcow2" "domain-xml" "member" */
	/* Read up to len bytes at off (< size); short only at the end. Count or -errno. */
	ssize_t (*read)(struct view *v, void *buf, size_t len, uint64_t off);
	/* SEEK_DATA / SEEK_HOLE from off (< size) into *ret. 0, -ENXIO, or -errno. Optional:
	 * without it the whole file is data. */
	int (*seek)(struct view *v, uint64_t off, int whence, uint64_t *ret);
	/* Optional: the first piece of [off, off + len) (inside the view, len > 0); ret->len
	 * may be anything from 1 to len. Metadata only. 0 or -errno. Without it, or on an
	 * error, everything is VIEW_PIECE_READ. */
	int (*piece)(struct view *v, uint64_t off, size_t len, struct view_piece *ret);
	/* Optional: how many bytes are data (what SEEK_DATA finds), for st_blocks. May walk
	 * the metadata on the first call. Without it, or on error, the whole size. */
	uint64_t (*data_bytes)(struct view *v);
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

/* The first piece of [off, off + len), clipped to the view (see view_ops.piece): always
 * 0 with 0 < ret->len <= len, or -ENXIO at or past the end. Thread-safe. */
int view_piece(struct view *v, uint64_t off, size_t len, struct view_piece *ret);

/* Bytes of data in the view (see view_ops.data_bytes), at most its size. Thread-safe. */
uint64_t view_data_bytes(struct view *v);

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
