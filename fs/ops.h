/* SPDX-License-Identifier: MIT */
/*
 * The FUSE low-level operations: lookup, getattr, readdir, open, read, lseek.  They map
 * inodes to tree nodes and nodes to views; nothing here knows a file format.
 */
#ifndef VMFS_OPS_H
#define VMFS_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "tree.h"

struct fs_state {
	struct tree tree;
	uid_t uid;
	gid_t gid;
	struct timespec mtime; /* the source's, shown on every node */
	unsigned max_readahead; /* bytes, 0 = kernel default */
	unsigned readahead_kb;	/* the mount's readahead window, set on the first open */
	const char *mountpoint; /* absolute, to find the mount's bdi */
	atomic_bool readahead_set;
	bool splice;	 /* the kernel takes spliced replies */
	size_t pipe_max; /* how far libfuse's pipe can grow */
	int zero_fd;	 /* a file of zeros to splice holes from, or -1 */
};

/* The operations table; the session's userdata must be a struct fs_state *. */
extern const struct fuse_lowlevel_ops vmfs_ops;

#endif
