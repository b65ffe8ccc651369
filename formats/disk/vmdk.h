/* SPDX-License-Identifier: MIT */
/*
 * VMDK disks: the descriptor, its extents, and the hosted sparse family.
 *
 * vmdk_open() takes the file a user named (a descriptor, or a sparse file with its
 * descriptor embedded, or a bare sparse extent) and builds the disk: one disk per
 * extent (flat, zero, sparse, stream, ESXi COWD and seSparse deltas), concatenated, over
 * its parents when it is a snapshot delta.  Files the descriptors name (extents,
 * parents) are opened through the caller's resolver, so the same code serves a directory
 * and an .ova.
 */
#ifndef VMFS_VMDK_H
#define VMFS_VMDK_H

#include <stdbool.h>

#include "disk.h"
#include "vmdk-desc.h"

/* Caps; see vmdk-sparse.c for the reasons. */
#define VMDK_MAX_GRAIN_BYTES (16u << 20)

struct vmdk_levels;

struct vmdk_opts {
	/* Open a file named by a descriptor (an extent, a parent), relative to the location
	 * of the file vmdk_open was given ("base.vmdk", or "sub/base.vmdk" for a parent
	 * in a subdirectory). Must refuse names that escape it. 0 or -errno with err. */
	int (*open_file)(void *opaque, const char *file, struct source **ret, struct err *err);
	void *opaque;
	bool ignore_cid; /* accept a parent whose CID differs from the child's parentCID */
	struct vmdk_levels *levels; /* files opened once for several vmdk_open calls, or NULL */
};

/* A set of opened chain levels that vmdk_open calls share (through vmdk_opts.levels): a
 * VM's snapshots are chains over mostly the same files, which are then opened, and their
 * grain tables held, once.  Mount-time only, not thread-safe. 0 or -ENOMEM. */
int vmdk_levels_new(struct vmdk_levels **ret);

/* Drop the set's references (NULL is a no-op); disks opened with it keep their own. */
void vmdk_levels_free(struct vmdk_levels *l);

/* True when the first bytes of a file (head[0..len)) look like a VMDK: a sparse header
 * magic ("KDMV", "COWD") or a text descriptor. */
bool vmdk_probe(const void *head, size_t len);

/* Open the VMDK whose descriptor or sparse header is in src, and its parents when it is
 * a snapshot delta (-ELOOP for a chain that loops, -EFBIG past DISK_CHAIN_MAX_DEPTH
 * files, -EINVAL for a CID mismatch, -EPERM for a hint that leaves the directory). One
 * disk reference to the caller; the disk keeps what it needs of src. 0 or -errno with
 * err set. */
int vmdk_open(struct source *src, const struct vmdk_opts *o, struct disk **ret,
	      struct err *err);

/* Open the VMDK at path, resolving extent files beside it. As vmdk_open. */
int vmdk_open_path(const char *path, const struct vmdk_opts *o, struct disk **ret,
		   struct err *err);

/* The descriptor a disk returned by vmdk_open was built from (a chain's leaf's), or
 * NULL for other disks. Borrowed, valid while the disk lives. */
const struct vmdk_desc *vmdk_get_desc(struct disk *d);

/* Open one hosted sparse extent ("KDMV": monolithicSparse, twoGbMaxExtentSparse parts,
 * streamOptimized in qemu's and VMware's layouts). Takes its own reference on src. The
 * disk size is the header's capacity. 0 or -errno with err naming the structure. */
int vmdk_sparse_open(struct source *src, const char *name, struct disk **ret, struct err *err);

/* If src starts with a KDMV header that embeds a descriptor, return it as a malloc'd
 * NUL-terminated string (*ret_len its length): 0. -ENOENT when there is none (including a
 * non-KDMV file), other -errno with err set for a damaged header. */
int vmdk_sparse_read_descriptor(struct source *src, char **ret, size_t *ret_len,
				struct err *err);

/* Open one ESXi vmfsSparse extent ("COWD", a -delta.vmdk). Takes its own reference on
 * src. The disk size is the header's capacity; never-written grains are UNALLOCATED. 0 or
 * -errno with err naming the structure. Thread-safe disk, no lock. */
int cowd_open(struct source *src, const char *name, struct disk **ret, struct err *err);

/* Open one ESXi seSparse extent (a -sesparse.vmdk). As cowd_open; unmapped and zeroed
 * grains are ZERO. */
int sesparse_open(struct source *src, const char *name, struct disk **ret, struct err *err);

#endif
