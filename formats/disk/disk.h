/* SPDX-License-Identifier: MIT */
/*
 * Disks: the guest-visible block device, decoded from one or more byte sources.  A disk
 * has a size, reads bytes, and answers block status (DATA, ZERO or UNALLOCATED for a
 * run of bytes) from metadata alone, never by decompressing data.  Every operation is
 * thread-safe and may be called concurrently from FUSE worker threads; decoders never
 * take a per-disk lock around a read.
 *
 * Decoders here: flat (a range of a source), zero, concat (extents end to end), chain
 * (snapshot deltas over their parents), and in their own files the VMDK sparse family.
 * A delta disk's UNALLOCATED ranges are read from its parent by a chain disk; a decoder
 * on its own reads them as zeros.
 */
#ifndef VMFS_DISK_H
#define VMFS_DISK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../source/source.h"

/* Allocation state of a run of bytes. */
enum {
	DISK_UNALLOC = 0,   /* never written here: zeros, or the parent's bytes in a chain */
	DISK_DATA = 1 << 0, /* stored data (which may still happen to be zeros) */
	DISK_ZERO = 1 << 1, /* known to read as zeros (zeroed grain, ZERO extent, file hole) */
};

/* A run of bytes with one state, as answered by status. */
struct disk_run {
	uint64_t len;	    /* > 0 and <= size - off */
	unsigned state;	    /* DISK_UNALLOC, DISK_DATA or DISK_ZERO */
	struct source *src; /* DATA only, may be NULL: the run's bytes sit raw in src... */
	uint64_t src_off;   /* ...at this offset (borrowed; valid while the disk lives) */
};

struct disk;

struct disk_ops {
	const char *kind; /* "flat" "zero" "concat" "vmdk-sparse" "vmdk-stream" "cached" ... */
	/* Read [off, off+len), inside the disk (the caller checked). 0 or -errno. */
	int (*read)(struct disk *d, void *buf, size_t len, uint64_t off);
	/* Fill *ret with the run starting at off (< size). len is a hint: the run may be
	 * shorter or longer, but never past the end of the disk. Metadata only. 0 or -errno. */
	int (*status)(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret);
	/* Release the decoder's state, including a half-built one. */
	void (*free)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	char *name; /* for messages: "guest.ova:disk1.vmdk" */
	uint64_t size;
	atomic_uint refs;
	uint32_t grain; /* natural decode unit in bytes, a power of two (512 for flat) */
	bool costly;	/* reading decodes (inflate): worth caching */
};

/* Initialise the common fields; takes a copy of name, control bytes replaced by '?'.
 * 0 or -ENOMEM. */
int disk_init(struct disk *d, const struct disk_ops *ops, const char *name, uint64_t size,
	      uint32_t grain, bool costly);

/* Take a reference. Returns d. */
struct disk *disk_ref(struct disk *d);

/* Drop a reference (NULL is a no-op); frees on the last one. Returns NULL. */
struct disk *disk_unref(struct disk *d);

/* Read [off, off+len); a range past the end is -EINVAL. 0 or -errno. Thread-safe. */
int disk_read(struct disk *d, void *buf, size_t len, uint64_t off);

/* Block status at off (< size, else -ENXIO); see disk_ops.status. Thread-safe. */
int disk_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret);

/* Generic read for decoders whose DATA runs all carry a src: DATA copies from the src,
 * ZERO and UNALLOCATED read as zeros. 0 or -errno. Thread-safe. */
int disk_read_by_status(struct disk *d, void *buf, size_t len, uint64_t off);

/* len bytes at off of src as a disk (a flat extent). Holes in the source file report
 * ZERO. Takes its own reference on src. The range must lie inside src (else -EINVAL
 * naming the extent). 0 or -errno. */
int disk_flat_new(struct source *src, uint64_t off, uint64_t len, const char *name,
		  struct disk **ret, struct err *err);

/* A disk of size bytes that reads as zeros and reports state (DISK_ZERO or DISK_UNALLOC). */
int disk_zero_new(uint64_t size, unsigned state, const char *name, struct disk **ret,
		  struct err *err);

/* The parts end to end, as one disk. Takes its own reference on each part. With n == 1
 * returns a new reference to parts[0]. 0 or -errno. */
int disk_concat_new(struct disk **parts, size_t n, const char *name, struct disk **ret,
		    struct err *err);

/*
 * DISK_CHAIN_MAX_DEPTH: levels in a snapshot chain, the leaf and the base included.  ESXi
 * allows 32 snapshots of a disk (33 files) and recommends far fewer; 64 leaves room,
 * and bounds the files a hostile descriptor can make us open and the work of one status
 * call.
 */
#define DISK_CHAIN_MAX_DEPTH 64u

/* levels[0] (the leaf) over levels[1] (its parent) ... over levels[n - 1] (the base), as
 * one disk of the leaf's size: each byte from the first level that did not leave it
 * UNALLOCATED (see chain.c).  Takes its own reference on each level; with n == 1 returns
 * a new reference to levels[0].  n over DISK_CHAIN_MAX_DEPTH is -EFBIG. 0 or -errno. */
int disk_chain_new(struct disk **levels, size_t n, const char *name, struct disk **ret,
		   struct err *err);

#endif
