/* SPDX-License-Identifier: MIT */
/*
 * The block cache: decoded blocks (usually one grain) of costly disks, shared by every
 * view, bounded in bytes.  Thread-safe: a sharded hash with a CLOCK sweep per shard.  A
 * miss inserts a pending entry, drops the lock, decodes and publishes; other readers of
 * the same block wait for it (single-flight), so a block is never decoded twice at once.
 * No lock is held while decoding or doing I/O.
 */
#ifndef VMFS_CACHE_H
#define VMFS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/err.h"
#include "../disk/disk.h"

struct cache;

struct cache_stats {
	uint64_t hits, misses, waits, evictions;
	uint64_t drops; /* blocks dropped behind a sequential reader */
	uint64_t bytes, max_bytes;
	uint64_t readaheads;	     /* blocks the readahead workers decoded */
	uint64_t readaheads_dropped; /* requests dropped because the queue was full */
};

/* A cache of at most max_bytes of block data (at least one block always fits, and blocks
 * being decoded or copied out may briefly exceed the bound; it is trimmed after). One
 * reference to the caller. 0 or -errno. */
int cache_new(uint64_t max_bytes, struct cache **ret, struct err *err);

/* Readahead for sequential readers of the cached disks: threads worker threads (0: off)
 * decode up to window bytes ahead of a reader, and blocks more than behind bytes behind
 * it are dropped, as are blocks read whole (behind 0: no dropping; the kernel's page
 * cache has what was read). The default is one worker per online CPU, a window of
 * min(8 MiB, max_bytes / 4) and min(32 MiB, max_bytes / 2) behind. Before the first
 * read only: -EBUSY once the workers run. 0 or -EBUSY. */
int cache_set_readahead(struct cache *c, unsigned threads, uint64_t window, uint64_t behind);

/* Take a reference. Returns c. */
struct cache *cache_ref(struct cache *c);

/* Drop a reference (NULL is a no-op). Returns NULL. */
struct cache *cache_unref(struct cache *c);

/* A disk that reads inner through the cache in blocks of inner->grain bytes (kind
 * "cached"); status passes through. A disk that is not costly comes back as a new
 * reference to itself. Takes its own references on c and inner. -EINVAL when inner's
 * grain is not a power of two. 0 or -errno. */
int cache_wrap(struct cache *c, struct disk *inner, struct disk **ret, struct err *err);

/* Counters since creation. Thread-safe. */
void cache_get_stats(struct cache *c, struct cache_stats *ret);

#endif
