/* SPDX-License-Identifier: MIT */
/*
 * One-shot inflate of a whole compressed grain.  A grain is small and its inflated size
 * is known, so a one-shot decoder (libdeflate, when built with it) beats streaming zlib
 * by about 2.5x; zlib is the fallback.  Decompressor state is per thread: no allocation
 * per call once a thread has inflated its first grain.
 */
#ifndef VMFS_INFLATE_H
#define VMFS_INFLATE_H

#include <stddef.h>

/* Inflate a zlib (RFC 1950) stream in[0..in_len) into out[0..out_cap). *out_len gets
 * the inflated size, which may be less than out_cap (a short last grain). Trailing
 * bytes after the stream are ignored (grains are padded to sectors). 0, -EIO for a
 * corrupt or oversized stream, -ENOMEM. Thread-safe. */
int inflate_zlib(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

/* Inflate a raw DEFLATE (RFC 1951) stream, as above. */
int inflate_raw(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

/* Name of the inflate implementation compiled in ("libdeflate" or "zlib"). */
const char *inflate_impl(void);

#endif
