/* SPDX-License-Identifier: MIT */
/*
 * The VMDK text descriptor: "# Disk DescriptorFile", key = value lines (version, CID,
 * parentCID, createType, parentFileNameHint), extent lines ("RW 2048 SPARSE "a b.vmdk""),
 * and the disk database (ddb.adapterType, ddb.geometry.*, ddb.uuid, ...).  It stands on
 * its own in a small file or is embedded in a hosted sparse extent.  Parsing is pure
 * (no I/O) so the descriptor can be unit-tested and fuzzed alone.
 */
#ifndef VMFS_VMDK_DESC_H
#define VMFS_VMDK_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* Caps on what a descriptor may declare; see vmdk-desc.c for the reasons. */
#define VMDK_DESC_MAX_BYTES (1u << 20)
#define VMDK_DESC_MAX_EXTENTS 4096u

#define VMDK_CID_NONE 0xffffffffu /* parentCID of a disk without parent */

enum vmdk_access { VMDK_ACCESS_RW, VMDK_ACCESS_RDONLY, VMDK_ACCESS_NOACCESS };

enum vmdk_extent_type {
	VMDK_EXTENT_FLAT,
	VMDK_EXTENT_SPARSE,
	VMDK_EXTENT_ZERO,
	VMDK_EXTENT_VMFS,
	VMDK_EXTENT_VMFSSPARSE,
	VMDK_EXTENT_SESPARSE,
	VMDK_EXTENT_VMFSRDM,
	VMDK_EXTENT_VMFSRAW,
};

struct vmdk_extent {
	enum vmdk_access access;
	uint64_t sectors; /* size in 512-byte sectors */
	enum vmdk_extent_type type;
	char *file;	  /* NULL for ZERO */
	uint64_t offset;  /* in sectors, FLAT/VMFS only */
};

struct vmdk_kv {
	char *key; /* as written, e.g. "ddb.adapterType" */
	char *value; /* unquoted */
};

struct vmdk_desc {
	unsigned version;
	uint32_t cid;
	uint32_t parent_cid; /* VMDK_CID_NONE without parent */
	char *create_type;   /* e.g. "monolithicSparse"; never NULL after a parse */
	char *parent_hint;   /* parentFileNameHint or NULL */
	struct vmdk_extent *extents;
	size_t n_extents;
	struct vmdk_kv *kv; /* every key = value line, ddb.* included, in order */
	size_t n_kv;
};

/* Parse text[0..len) (need not be NUL-terminated; stops at the first NUL) as a descriptor
 * named name. One new struct to the caller (vmdk_desc_free). 0, or -EINVAL/-EFBIG/-ENOMEM
 * with err naming the line. */
int vmdk_desc_parse(const char *text, size_t len, const char *name, struct vmdk_desc **ret,
		    struct err *err);

/* Free a descriptor (NULL is a no-op). */
void vmdk_desc_free(struct vmdk_desc *d);

/* The value of key (case-insensitive; the last one wins), or NULL. Borrowed. */
const char *vmdk_desc_get(const struct vmdk_desc *d, const char *key);

/* The name of an extent type as written in descriptors ("SPARSE"). */
const char *vmdk_extent_type_name(enum vmdk_extent_type t);

#endif
