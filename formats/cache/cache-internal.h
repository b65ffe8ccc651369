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

/* One block of a wrapped disk, for cache_readahead. */
struct cache_block {
	uint64_t index; /* block number */
	uint64_t off;	/* its offset in the inner disk */
	size_t len;	/* its length */
};

/* Queue blocks[0..n) of wrapped disk id for the readahead workers, which decode each
 * unless it is cached or pending by then, or its index has fallen below *floor (the
 * reader went past it); blocks already cached or pending are skipped here. inner and
 * floor must stay valid until cache_forget_disk(id). Returns how many blocks were taken
 * (queued or skipped): fewer than n when readahead is off or the queue is full. */
size_t cache_readahead(struct cache *c, struct disk *inner, const atomic_uint_fast64_t *floor,
		       uint64_t id, const struct cache_block *blocks, size_t n);

/* Drop block index of disk id now if it is cached and idle (a sequential reader went
 * past it). */
void cache_drop(struct cache *c, uint64_t id, uint64_t index);

/* The readahead window and the drop-behind distance in bytes; 0 when readahead is off. */
void cache_readahead_params(struct cache *c, uint64_t *ret_window, uint64_t *ret_behind);

/* Drop every block of wrapped disk id (it is being freed), after its queued readahead. */
void cache_forget_disk(struct cache *c, uint64_t id);

#endif
