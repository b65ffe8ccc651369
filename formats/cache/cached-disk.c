/* SPDX-License-Identifier: MIT */
/*
 * The "cached" disk: a filter in front of a costly disk (one whose reads inflate) that
 * reads it through the block cache.  Only what costs goes through the cache: a request
 * is first cut into the inner disk's status runs.  A run that is not DATA reads as zeros
 * (the disk contract: a disk that reports UNALLOCATED or ZERO reads zeros there; a chain
 * reports its parent's state itself), so it is zero-filled here and never takes cache
 * space; a DATA run whose bytes sit raw in a source is read from it directly.  The rest
 * is cut at the inner disk's grain boundaries; each piece is copied out of one cached
 * block, and a block that is not cached is decoded whole (the last block of a disk whose
 * size is not a multiple of the grain is short).  Block status is metadata, so it goes
 * straight to the inner disk.
 *
 * Blocks are keyed by a 64-bit id drawn once per cached disk, not by its address: a disk
 * freed and another allocated at the same address must never see each other's blocks,
 * even if the first one's blocks were still in the cache.
 *
 * Readahead: a read that starts within one window of where the previous one ended is
 * sequential (the kernel's own readahead sends several requests at once, which the FUSE
 * workers serve out of order, so "exactly where the last one ended" would miss most of
 * them).  It queues the blocks that must be decoded (DATA without raw bytes) between the
 * end of the read and one window past it, skipping what earlier reads already queued:
 * ra_until remembers how far that went, unless the reader has moved away from it (a
 * second pass from the start), when it starts again from the reader.  Random reads
 * queue nothing.  Behind the reader, blocks further back than the reads in flight can be
 * are dropped (cache_drop): the kernel's page cache has their bytes, and the cache's
 * memory is better spent ahead of the reader.  drop_until remembers how far that went,
 * and starts again behind a reader that went back; a readahead request that a worker
 * only reaches once its block is below drop_until is stale and skipped.
 */
#include "cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"

#include "cache-internal.h"

struct cached_disk {
	struct disk d;
	struct cache *cache;
	struct disk *inner;
	uint64_t id;
	unsigned shift; /* log2 of the grain */
	atomic_uint_fast64_t ra_next;  /* where the last read ended */
	atomic_uint_fast64_t ra_until; /* blocks below this are queued for readahead */
	atomic_uint_fast64_t drop_until; /* blocks below this were dropped behind the reader */
};

/* Starts at 1 so that 0 can mean "never registered" in a half-built disk. */
static atomic_uint_fast64_t cached_next_id = 1;

/* Blocks queued for readahead at a time: one lock and one wake-up per batch. */
#define RA_BATCH 32

static struct cache_block block_of(const struct cached_disk *cd, uint64_t b)
{
	uint64_t start = b << cd->shift;

	return (struct cache_block){ b, start, (size_t)MIN((uint64_t)cd->d.grain,
							   cd->d.size - start) };
}

/* Copy [off, off + len) of a DATA run that has no raw bytes (it inflates) out of the
 * cache, block by block. */
static int cached_read_blocks(struct cached_disk *cd, unsigned char *p, size_t len, uint64_t off)
{
	struct disk *d = &cd->d;
	uint64_t first = off >> cd->shift, last = (off + len - 1) >> cd->shift;
	struct cache_block more[RA_BATCH];
	size_t n_more = 0;

	/* A request of several blocks is decoded on every core: the workers take the blocks
	 * after the first while this thread decodes the first, then it meets them. */
	for (uint64_t b = first + 1; b <= last && n_more < RA_BATCH; b++)
		more[n_more++] = block_of(cd, b);
	if (n_more)
		cache_readahead(cd->cache, cd->inner, &cd->drop_until, cd->id, more, n_more);
	while (len > 0) {
		uint64_t index = off >> cd->shift;
		uint64_t start = index << cd->shift;
		size_t block_len = (size_t)MIN((uint64_t)d->grain, d->size - start);
		size_t at = (size_t)(off - start);
		size_t n = MIN(len, block_len - at);
		int r = cache_read_block(cd->cache, cd->inner, cd->id, index, start, block_len, p,
					 n, at);

		if (r < 0)
			return r;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Queue the decodable blocks of [from, to) (block indexes) for the readahead workers;
 * returns the first block not taken, to when all were. */
static uint64_t readahead_queue(struct cached_disk *cd, uint64_t from, uint64_t to)
{
	struct disk *d = &cd->d;
	uint64_t off = from << cd->shift, end = MIN(to << cd->shift, d->size);
	struct cache_block batch[RA_BATCH];
	size_t n = 0;

	while (off < end) {
		struct disk_run run;
		uint64_t run_end;

		if (disk_status(cd->inner, off, end - off, &run) < 0)
			break;
		run_end = MIN(off + run.len, end);
		for (uint64_t b = off >> cd->shift;
		     run.state == DISK_DATA && !run.src && b << cd->shift < run_end; b++) {
			/* A block that ends a run and starts the next is queued once. */
			if (n > 0 && batch[n - 1].index == b)
				continue;
			if (n == RA_BATCH) {
				size_t taken = cache_readahead(cd->cache, cd->inner,
							       &cd->drop_until, cd->id, batch, n);

				if (taken < n)
					return batch[taken].index;
				n = 0;
			}
			batch[n++] = block_of(cd, b);
		}
		off = run_end;
	}
	if (n > 0) {
		size_t taken = cache_readahead(cd->cache, cd->inner, &cd->drop_until, cd->id,
					       batch, n);

		if (taken < n)
			return batch[taken].index;
	}
	return to;
}

/* Drop the blocks a sequential reader now at end is more than behind bytes past. */
static void drop_behind(struct cached_disk *cd, uint64_t end, uint64_t window, uint64_t behind)
{
	uint64_t target = end > behind ? (end - behind) >> cd->shift : 0;
	uint64_t until = atomic_load(&cd->drop_until), from;

	if (until > target) {
		/* A read served out of order is a little behind; a reader more than a window
		 * behind went back (a second pass): start again from there. */
		if (until - target > (window >> cd->shift))
			atomic_compare_exchange_strong(&cd->drop_until, &until, target);
		return;
	}
	/* At most one window's blocks per read: a reader that jumped far ahead leaves
	 * the ones further back to the CLOCK. */
	from = MAX(until, target > (window >> cd->shift) ? target - (window >> cd->shift) : 0);
	if (from >= target || !atomic_compare_exchange_strong(&cd->drop_until, &until, target))
		return;
	for (uint64_t b = from; b < target; b++)
		cache_drop(cd->cache, cd->id, b);
}

/* A sequential reader just read [off, off + len): keep the window ahead of it queued, and
 * drop what is far behind it. */
static void readahead(struct cached_disk *cd, uint64_t off, size_t len)
{
	uint64_t window, behind, end = off + len;
	uint64_t prev = atomic_exchange(&cd->ra_next, end), first, last, until, from, done;

	cache_readahead_params(cd->cache, &window, &behind);
	if (window == 0 || off + window < prev || off > prev + window)
		return;
	if (behind)
		drop_behind(cd, end, window, behind);
	first = (end + cd->d.grain - 1) >> cd->shift;
	last = (MIN(end + window, cd->d.size) + cd->d.grain - 1) >> cd->shift;
	until = atomic_load(&cd->ra_until);
	from = until < first || until > last ? first : until;
	if (from >= last || !atomic_compare_exchange_strong(&cd->ra_until, &until, last))
		return; /* nothing new, or another reader is queueing it */
	done = readahead_queue(cd, from, last);
	if (done < last) /* the queue was full: let the next read try again */
		atomic_compare_exchange_strong(&cd->ra_until, &last, done);
}

static int cached_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct cached_disk *cd = (struct cached_disk *)d;
	unsigned char *p = buf;

	readahead(cd, off, len);
	/* disk_read checked the range, so every piece lies inside a block of the disk. */
	while (len > 0) {
		struct disk_run run;
		size_t n;
		int r = disk_status(cd->inner, off, len, &run);

		if (r < 0)
			return r;
		n = (size_t)MIN((uint64_t)len, run.len);
		if (run.state != DISK_DATA)
			memset(p, 0, n);
		else if (run.src)
			r = source_pread(run.src, p, n, run.src_off);
		else
			r = cached_read_blocks(cd, p, n, off);
		if (r < 0)
			return r;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int cached_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	return disk_status(((struct cached_disk *)d)->inner, off, len, ret);
}

static void cached_free(struct disk *d)
{
	struct cached_disk *cd = (struct cached_disk *)d;

	if (cd->cache && cd->id)
		cache_forget_disk(cd->cache, cd->id);
	cache_unref(cd->cache);
	disk_unref(cd->inner);
	free(cd);
}

static const struct disk_ops cached_ops = {
	.kind = "cached",
	.read = cached_read,
	.status = cached_status,
	.free = cached_free,
};

int cache_wrap(struct cache *c, struct disk *inner, struct disk **ret, struct err *err)
{
	struct cached_disk *cd;

	if (!inner->costly) {
		*ret = disk_ref(inner);
		return 0;
	}
	/* Blocks are found by shifting, and a zero grain would loop forever. */
	if (!is_pow2(inner->grain))
		return err_set(err, EINVAL, "%s: grain of %" PRIu32 " bytes is not a power of two",
			       inner->name, inner->grain);
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return err_set(err, ENOMEM, "%s: out of memory", inner->name);
	if (disk_init(&cd->d, &cached_ops, inner->name, inner->size, inner->grain, false) < 0) {
		cached_free(&cd->d);
		return err_set(err, ENOMEM, "%s: out of memory", inner->name);
	}
	cd->cache = cache_ref(c);
	cd->inner = disk_ref(inner);
	cd->id = atomic_fetch_add(&cached_next_id, 1);
	cd->shift = (unsigned)__builtin_ctz(inner->grain);
	atomic_init(&cd->ra_next, 0);
	atomic_init(&cd->ra_until, 0);
	atomic_init(&cd->drop_until, 0);
	*ret = &cd->d;
	return 0;
}
