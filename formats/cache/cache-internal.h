/* SPDX-License-Identifier: MIT */
/*
 * Between the cache proper (cache.c) and the disk that reads through it (cached-disk.c);
 * nothing outside formats/cache/ uses these.
 */
#ifndef VMFS_CACHE_INTERNAL_H
#define VMFS_CACHE_INTERNAL_H

#include "cache.h"

/* Copy len bytes at offset at of block index of the wrapped disk id (its bytes are
 * inner's [block_off, block_off + block_len)) into buf, decoding the block on a miss;
 * concurrent misses on one block decode it once. 0 or the decode's -errno. */
int cache_read_block(struct cache *c, struct disk *inner, uint64_t id, uint64_t index,
		     uint64_t block_off, size_t block_len, void *buf, size_t len, size_t at);

/* Drop every block of wrapped disk id (it is being freed). */
void cache_forget_disk(struct cache *c, uint64_t id);

#endif
