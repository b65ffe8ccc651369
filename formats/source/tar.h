/* SPDX-License-Identifier: MIT */
/*
 * The members of a tar archive (an .ova), located once at open so that each member can
 * be read in place as a slice of the archive: never extracted, never copied.  Only
 * regular, non-sparse files are members; directories are skipped; anything else
 * (links, devices, sparse files, unsafe or duplicate names) refuses the whole archive.
 * The index is immutable once open: every function below is thread-safe.
 */
#ifndef VMFS_SOURCE_TAR_H
#define VMFS_SOURCE_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* Most members (directories included) an archive may hold: an OVA holds a handful of
 * files, and the walk is bounded before it can grow a table the size of the archive. */
#define TAR_MAX_MEMBERS 65536

/* Longest member name accepted, in bytes: a path the FUSE tree could hold. */
#define TAR_NAME_MAX 4096

struct tar_member {
	const char *name;  /* relative, no leading "./", no empty, "." or ".." component */
	uint64_t size;	   /* bytes of data */
	uint64_t data_off; /* where the data starts in the archive */
	int64_t mtime;	   /* seconds since the epoch, as recorded */
};

struct tar_index;

/* Walk the headers of the tar archive ova (libarchive, headers only) and index its
 * regular files; takes its own reference on ova. 0 or -errno with err set. */
int tar_index_open(struct source *ova, struct tar_index **ret, struct err *err);

/* Free the index (NULL is a no-op) and drop its reference on the archive. */
void tar_index_free(struct tar_index *idx);

/* Number of members (regular files), in archive order. */
size_t tar_count(const struct tar_index *idx);

/* Member i (i < tar_count), borrowed from the index. */
const struct tar_member *tar_member(const struct tar_index *idx, size_t i);

/* Index of the member called name (compared byte for byte after stripping a leading
 * "./"), or -ENOENT. */
int tar_find(const struct tar_index *idx, const char *name);

/* Member i as a slice source named "<archive>:<member>"; one reference to the caller.
 * 0 or -errno with err set. */
int tar_member_source(const struct tar_index *idx, size_t i, struct source **ret, struct err *err);

#endif
