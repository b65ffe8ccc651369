/* SPDX-License-Identifier: MIT */
/*
 * Byte sources: random-access, read-only bytes of a known size, the bottom of the
 * stack.  A plain file, a slice of another source (a tar member inside an .ova), an
 * in-memory buffer (unit tests, fuzzers).  Every operation is thread-safe: there is no
 * shared file offset, and a source never changes after it is opened.
 */
#ifndef VMFS_SOURCE_H
#define VMFS_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

struct source;

struct source_ops {
	const char *kind; /* "file" "slice" "mem" ... */
	/* Read exactly len bytes at off (the caller checked the range). 0 or -errno. */
	int (*pread)(struct source *s, void *buf, size_t len, uint64_t off);
	/* Optional: the bytes [off, off+len) sit unchanged at *ret_fd_off in file *ret_fd,
	 * so they can be spliced without a copy. 0, or -ENOTSUP. */
	int (*locate)(struct source *s, uint64_t off, size_t len, int *ret_fd,
		      uint64_t *ret_fd_off);
	/* Optional: like lseek SEEK_DATA/SEEK_HOLE on the bytes. 0, -ENXIO past the last data,
	 * -ENOTSUP when the source cannot tell (then all of it is data). */
	int (*seek)(struct source *s, uint64_t off, int whence, uint64_t *ret);
	/* Release what the source holds, including a half-built one. */
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	char *name; /* for messages: "guest.ova:disk1.vmdk" */
	uint64_t size;
	atomic_uint refs;
};

/* Initialise the common fields; takes a copy of name, control bytes replaced by '?'.
 * 0 or -ENOMEM. */
int source_init(struct source *s, const struct source_ops *ops, const char *name, uint64_t size);

/* Take a reference. Returns s. */
struct source *source_ref(struct source *s);

/* Drop a reference (NULL is a no-op); frees on the last one. Returns NULL. */
struct source *source_unref(struct source *s);

/* Read exactly len bytes at off. A range past the end is -EIO, not a short read.
 * 0 or -errno. Thread-safe. */
int source_pread(struct source *s, void *buf, size_t len, uint64_t off);

/* See source_ops.locate; -ENOTSUP when the source has no fd. Thread-safe. */
int source_locate(struct source *s, uint64_t off, size_t len, int *ret_fd, uint64_t *ret_fd_off);

/* See source_ops.seek; -ENOTSUP when the source cannot tell. Thread-safe. */
int source_seek(struct source *s, uint64_t off, int whence, uint64_t *ret);

/* Open path read-only (O_RDONLY|O_CLOEXEC, a regular file or block device) as a source
 * named name (path when NULL). One reference to the caller. 0 or -errno with err set. */
int source_file_open(const char *path, const char *name, struct source **ret, struct err *err);

/* Open path relative to directory fd dirfd, as source_file_open. */
int source_file_openat(int dirfd, const char *path, const char *name, struct source **ret,
		       struct err *err);

/* The bytes [off, off + len) of base as a source of its own; takes its own reference
 * on base. 0 or -errno (range outside base: -EINVAL with err set). */
int source_slice_new(struct source *base, uint64_t off, uint64_t len, const char *name,
		     struct source **ret, struct err *err);

/* A source over a private copy of data[0..len). 0 or -ENOMEM. */
int source_mem_new(const void *data, size_t len, const char *name, struct source **ret,
		   struct err *err);

/* Read the whole of a small source (at most cap bytes, else -EFBIG with err set) into a
 * NUL-terminated malloc'd buffer; *ret_len gets its length. The caller frees it. */
int source_read_all(struct source *s, size_t cap, char **ret, size_t *ret_len, struct err *err);

#endif
