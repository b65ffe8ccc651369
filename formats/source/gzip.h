/* SPDX-License-Identifier: MIT */
/*
 * The uncompressed bytes of gzip data (one member or several concatenated) as a
 * random-access source, without unpacking it anywhere: an index of inflate checkpoints
 * built in one pass at open lets a read start near its offset.  Thread-safe.
 */
#ifndef VMFS_SOURCE_GZIP_H
#define VMFS_SOURCE_GZIP_H

#include "source.h"

/* Uncompressed output between two checkpoints, at first; doubled whenever the index
 * would outgrow its caps below, so the index of any stream stays bounded.  (Overridable
 * at build time so that tests can make the caps bite on small streams.) */
#ifndef GZIP_SPAN
#define GZIP_SPAN (1024 * 1024)
#endif

/* At most this many checkpoints... */
#ifndef GZIP_MAX_POINTS
#define GZIP_MAX_POINTS 65536
#endif

/* ...holding at most this many bytes of saved (compressed) 32 KiB windows. */
#ifndef GZIP_MAX_WINDOW_BYTES
#define GZIP_MAX_WINDOW_BYTES (64 * 1024 * 1024)
#endif

/* Inflate all of compressed once (checking every CRC and length) to learn its size and
 * index it; the source takes its own reference on compressed and is named name. One
 * reference to the caller. 0 or -errno with err set (naming the offset of bad data). */
int source_gzip_new(struct source *compressed, const char *name, struct source **ret,
		    struct err *err);

#endif
