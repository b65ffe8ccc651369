/* SPDX-License-Identifier: MIT */
/*
 * VMDK disks: the descriptor, its extents, and the hosted sparse family.
 *
 * vmdk_open() takes the file a user named (a descriptor, or a sparse file with its
 * descriptor embedded, or a bare sparse extent) and builds the disk: one disk per
 * extent (flat, zero, sparse, stream, ESXi COWD and seSparse deltas), concatenated.
 * Files the descriptor names are opened through the caller's resolver, so the same code
 * serves a directory and an .ova.
 */
#ifndef VMFS_VMDK_H
#define VMFS_VMDK_H

#include <stdbool.h>

#include "disk.h"
#include "vmdk-desc.h"

/* Caps; see vmdk-sparse.c for the reasons. */
#define VMDK_MAX_GRAIN_BYTES (16u << 20)

struct vmdk_opts {
	/* Open a file named by the descriptor (an extent, later a parent), relative to the
	 * descriptor's location. Must refuse names that escape it. 0 or -errno with err. */
	int (*open_file)(void *opaque, const char *file, struct source **ret, struct err *err);
	void *opaque;
	bool ignore_cid;
};

/* True when the first bytes of a file (head[0..len)) look like a VMDK: a sparse header
 * magic ("KDMV", "COWD") or a text descriptor. */
bool vmdk_probe(const void *head, size_t len);

/* Open the VMDK whose descriptor or sparse header is in src. One disk reference to the
 * caller; the disk keeps what it needs of src. 0 or -errno with err set. */
int vmdk_open(struct source *src, const struct vmdk_opts *o, struct disk **ret,
	      struct err *err);

/* Open the VMDK at path, resolving extent files beside it. As vmdk_open. */
int vmdk_open_path(const char *path, const struct vmdk_opts *o, struct disk **ret,
		   struct err *err);

/* The descriptor a disk returned by vmdk_open was built from, or NULL for other disks.
 * Borrowed, valid while the disk lives. */
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
