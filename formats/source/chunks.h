/* SPDX-License-Identifier: MIT */
/*
 * Several sources end to end as one: the chunks of an OVF file split with
 * ovf:chunkSize (name.000000000, name.000000001, ...).  Thread-safe.
 */
#ifndef VMFS_SOURCE_CHUNKS_H
#define VMFS_SOURCE_CHUNKS_H

#include <stddef.h>

#include "source.h"

/* Most parts a concatenation may have: an OVF chunk is rarely under 1 GiB, so this is
 * far beyond any real file, yet keeps a hostile descriptor from making a huge table. */
#define CHUNKS_MAX_PARTS 100000

/* parts[0..n) (n >= 1) end to end as one source named name; takes its own reference on
 * each part (the caller keeps its own). One reference to the caller. 0 or -errno with
 * err set (-EFBIG when the total size overflows). */
int source_concat_new(struct source **parts, size_t n, const char *name, struct source **ret,
		      struct err *err);

#endif
