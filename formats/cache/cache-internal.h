/* SPDX-License-Identifier: MIT */
/*
 * Between the cache proper (cache.c) and the disk that reads through it (cached-disk.c);
 * nothing outside formats/cache/ uses these.
 */
#ifndef VMFS_CACHE_INTERNAL_H
#define VMFS_CACHE_INTERNAL_H

#include <stdatomic.h>

#include "cache.h"

/* Copy len bytes at offset at of block index of the wrapped disk id (its bytes are
 * inner's [block_off, block_off + block_len)) into buf, decoding the block on a miss;
 * concurrent misses on one block decode it once. 0 or the decode's -errno. */
int cache_read_block(struct cache *c, struct disk *inner, uint64_t id, uint64_t index,
		     uint64_t block_off, size_t block_len, void *buf, size_t len, size_t at);

/* Queue block index of wrapped disk id (as for cache_read_block) for a readahead worker,
 * which decodes it unless it is cached or pending by then, or index has fallen below
 * *floor (the reader went past it). inner and floor must stay valid until
 * cache_forget_disk(id). False when readahead is off or the queue is full. */
bool cache_readahead(struct cache *c, struct disk *inner, const atomic_uint_fast64_t *floor,
		     uint64_t id, uint64_t index, uint64_t block_off, size_t block_len);

/* Drop block index of disk id now if it is cached and idle (a sequential reader went
 * past it). */
void cache_drop(struct cache *c, uint64_t id, uint64_t index);

/* The readahead window and the drop-behind distance in bytes; 0 when readahead is off. */
void cache_readahead_params(struct cache *c, uint64_t *ret_window, uint64_t *ret_behind);

/* Drop every block of wrapped disk id (it is being freed), after its queued readahead. */
void cache_forget_disk(struct cache *c, uint64_t id);

#endif
