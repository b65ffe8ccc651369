/* SPDX-License-Identifier: MIT */
/*
 * The block cache: decoded blocks of costly disks, keyed by (disk id, block index),
 * bounded in bytes, shared by every cached disk of an export.  cached-disk.c turns disk
 * reads into block reads; this file keeps the blocks.
 *
 * Notes on the design
 * -------------------
 * The hash is split into CACHE_SHARDS shards, each with its own mutex, so that FUSE
 * workers reading different blocks rarely meet on a lock.  The shard of a block comes from
 * the top bits of its key hash, the bucket from the bottom bits, so consecutive blocks of
 * a disk spread over all shards.
 *
 * An entry is PENDING while one thread decodes it, then READY, or FAILED when the decode
 * returned an error.  A miss inserts a PENDING entry and drops the shard lock before
 * calling the inner disk's read; a second reader of the same block finds the PENDING
 * entry and sleeps on the shard's condition variable until the decoder publishes
 * (single-flight).  A FAILED entry leaves the hash at once, so the waiters that were
 * already sleeping on it see the decoder's error and the next read tries again.
 *
 * Entries are reference counted: the hash holds one reference while the entry is linked,
 * and every reader holds one while it waits or copies out, so eviction can never free
 * data under a reader.  Readers take their reference under the shard lock and drop it
 * without the lock; an entry whose only reference is the hash's is therefore idle and
 * stays idle while the evictor holds the lock.
 *
 * The byte budget is global (an atomic counter), because a per-shard budget of
 * max / CACHE_SHARDS would leave a small cache (1 MiB of 64 KiB blocks: 16 blocks in 64
 * shards) with shards that can hold nothing and others that are full.  Bytes are reserved
 * before the decode buffer is allocated, so in-flight decodes count against the budget.
 * Eviction is CLOCK (second chance): each shard keeps its READY entries in a ring with a
 * hand; a global hand visits the shards in turn, and in each visited shard the local hand
 * clears referenced bits until it finds an idle entry without one.  That approximates one
 * global CLOCK without ever holding two shard locks.  When everything is pending or in
 * use the budget is overrun rather than a reader failed; the excess is trimmed when the
 * readers let go.  One block is always kept even when it alone is larger than the budget.
 *
 * Readahead: cached-disk.c notices a sequential reader and queues the blocks ahead of it
 * (cache_readahead); a pool of worker threads, one per core, decodes them as a miss
 * would, so that every core inflates while the reader copies.  A worker that finds the
 * block cached or pending does nothing, and a reader that reaches a block a worker is
 * decoding waits for it like any second reader: single-flight means nothing is decoded
 * twice.  Blocks read ahead are not marked referenced, so the CLOCK takes them first if
 * the reader never comes.  The queue is bounded (a full queue drops requests: readahead
 * is a hint) and the workers start with the first request, not with the cache, so a
 * process that forks after creating the cache (fuse_daemonize) still has them.  Before a
 * cached disk is freed, cache_forget_disk drops its queued requests and waits for the
 * ones being decoded, so no worker reads a disk that is gone.
 *
 * Dropping: the kernel keeps what FUSE replied in its page cache (the files never
 * change), so a block whose every byte has been copied out will not be asked for again
 * until the kernel evicts those pages: it is dropped (cache_drop) after the next
 * CACHE_DONE_KEEP such blocks, not left for the CLOCK to find once the budget is full.  The cache so holds what the kernel does not (blocks decoded ahead,
 * blocks read in part), and a copy of a whole disk, or of its scattered data, does not
 * fill the budget with blocks nobody reads, each of them fresh memory the kernel must
 * fault in and zero, where dropped ones are recycled.  For the same reason blocks a
 * sequential reader has gone well past (CACHE_RA_BEHIND) are dropped even if read only
 * in part.  Both go with readahead's settings (behind = 0 turns them off).
 */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/bounds.h"

#include "cache-internal.h"

/* Enough that a few dozen FUSE workers rarely share a lock; a power of two. */
#define CACHE_SHARD_BITS 6
#define CACHE_SHARDS (1u << CACHE_SHARD_BITS)
/* Starting size of a shard's bucket array; it doubles when the load passes one. */
#define CACHE_MIN_BUCKETS 16
/* Keep shards on separate cache lines so that their locks do not ping-pong. */
#define CACHE_LINE 64
/* Blocks read whole kept before they are dropped: a readahead request still queued for
 * one (the queue holds as many) finds it instead of decoding it again. */
#define CACHE_DONE_KEEP CACHE_RA_QUEUE

/* Block buffers come from slabs of this size: a huge page where the kernel has them. */
#define CACHE_SLAB (2u << 20)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, len) ASAN_POISON_MEMORY_REGION(p, len)
#define UNPOISON(p, len) ASAN_UNPOISON_MEMORY_REGION(p, len)
#else
#define POISON(p, len) ((void)(p), (void)(len))
#define UNPOISON(p, len) ((void)(p), (void)(len))
#endif
/* Readahead requests waiting for a worker: 16 MiB of 64 KiB grains. */
#define CACHE_RA_QUEUE 256
/* Workers beyond the cores would only take turns; a few dozen is plenty anywhere. */
#define CACHE_RA_MAX_THREADS 32
/* How far ahead of a sequential reader: enough 64 KiB grains to keep a few cores busy
 * for the time a reader takes to copy out a 1 MiB request, and never more than a quarter
 * of the cache, so that blocks read ahead are still there when the reader comes. */
#define CACHE_RA_WINDOW (8u << 20)
/* How far behind a sequential reader blocks are dropped: past the reads still in flight,
 * which the kernel's readahead window bounds (4 MiB by default, -o readahead_kb), with
 * room to spare, and within half the cache. */
#define CACHE_RA_BEHIND (32u << 20)

enum entry_state { ENTRY_PENDING, ENTRY_READY, ENTRY_FAILED };

struct entry {
	struct entry *hnext;	   /* hash chain */
	struct entry *prev, *next; /* CLOCK ring of the shard; READY entries only */
	uint64_t hash, id, index;
	atomic_uint refs;	/* the hash's while linked, plus one per reader */
	enum entry_state state; /* the fields from here on are under the shard lock */
	int error;		/* FAILED: what the decode returned */
	bool referenced;	/* CLOCK's second chance */
	atomic_size_t delivered; /* bytes copied out so far */
	size_t len;
	unsigned char *data; /* READY: len bytes, immutable from then on */
};

struct shard {
	alignas(CACHE_LINE) pthread_mutex_t lock;
	pthread_cond_t published; /* some PENDING entry of this shard changed state */
	struct entry **buckets;
	size_t nbuckets, count; /* count: entries linked in the hash */
	struct entry *hand;	/* next READY entry the CLOCK looks at */
	size_t nready;		/* entries in the ring */
	uint64_t hits, misses, waits, evictions, drops;
};

struct slab {
	struct slab *next;
	unsigned char *mem; /* CACHE_SLAB bytes */
};

struct ra_req {
	struct disk *inner; /* borrowed: its cached disk waits for us before freeing it */
	const atomic_uint_fast64_t *floor; /* likewise; blocks below it are stale */
	uint64_t id, index, block_off;
	size_t block_len;
};

struct cache {
	atomic_uint refs;
	uint64_t max_bytes;
	atomic_uint_fast64_t bytes; /* reserved by PENDING and held by READY entries */
	atomic_size_t nready;	    /* READY entries over all shards */
	atomic_uint hand;	    /* the shard eviction visits next */
	struct shard *shards;
	unsigned nshards_init; /* shards whose lock and condvar exist, for a half-built cache */

	/* Blocks read whole, oldest first, under done_lock; dropped when more come. */
	pthread_mutex_t done_lock;
	struct done {
		uint64_t id, index; /* id 0: none */
	} done[CACHE_DONE_KEEP];
	size_t done_head, done_count;

	/* Block buffers, under free_lock. */
	pthread_mutex_t free_lock;
	size_t slab_len;	 /* the size slabs are carved into; 0 until the first buffer */
	struct slab *slabs;	 /* every slab, to free them */
	unsigned char *free_stack; /* free slab buffers, each holding the next's address */

	/* Readahead, all under ra_lock. */
	pthread_mutex_t ra_lock;
	pthread_cond_t ra_work; /* a request was queued, or stop */
	pthread_cond_t ra_idle; /* a worker finished a request */
	bool ra_lock_init;
	struct ra_req ra_queue[CACHE_RA_QUEUE]; /* a ring */
	size_t ra_head, ra_count;
	unsigned ra_threads; /* workers wanted; 0 = readahead off */
	uint64_t ra_window, ra_behind;
	pthread_t *ra_tids;
	uint64_t *ra_busy; /* per worker: id of the disk it is decoding, 0 when idle */
	unsigned ra_started;
	unsigned ra_slots; /* workers that took a ra_busy slot */
	atomic_bool drop_delivered; /* drop blocks once read whole: behind > 0 */
	bool ra_stop;
	uint64_t ra_decoded, ra_dropped;
};

static uint64_t key_hash(uint64_t id, uint64_t index)
{
	/* splitmix64's finaliser: sequential indexes must land in unrelated shards. */
	uint64_t h = id * 0x9e3779b97f4a7c15ull ^ index;

	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static struct shard *shard_of(struct cache *c, uint64_t hash)
{
	return &c->shards[hash >> (64 - CACHE_SHARD_BITS)];
}

/*
 * Block buffers.  Fresh memory costs a page fault per 4 KiB page on first touch, about as
 * much as inflating into it, and every mount fills its cache from nothing.  So buffers of
 * the common block size (the first one asked for; grains are all one size) are carved
 * out of 2 MiB slabs the kernel may back with huge pages, and an evicted block's buffer
 * goes back on a free stack for the next decode.  Slabs are only given back when the
 * cache goes: their memory is the most the cache ever held at once, which the byte budget
 * bounds.  Other sizes (a short last block, a second disk with another grain) use malloc.
 * Under AddressSanitizer a buffer on the free stack is poisoned, so a block used after
 * its eviction is still caught.
 */
static bool slab_len_ok(size_t len)
{
	return len >= sizeof(void *) && len <= CACHE_SLAB / 8 && len % alignof(max_align_t) == 0;
}

static unsigned char *buf_get(struct cache *c, size_t len)
{
	unsigned char *p = NULL;

	pthread_mutex_lock(&c->free_lock);
	if (!c->slab_len && slab_len_ok(len))
		c->slab_len = len;
	if (len != c->slab_len) {
		pthread_mutex_unlock(&c->free_lock);
		return malloc(len);
	}
	if (!c->free_stack) {
		struct slab *sl = malloc(sizeof(*sl));
		unsigned char *mem = sl ? aligned_alloc(CACHE_SLAB, CACHE_SLAB) : NULL;

		if (!mem) {
			free(sl);
			pthread_mutex_unlock(&c->free_lock);
			return NULL;
		}
		(void)madvise(mem, CACHE_SLAB, MADV_HUGEPAGE); /* a hint: small pages work too */
		sl->mem = mem;
		sl->next = c->slabs;
		c->slabs = sl;
		for (size_t off = 0; off + len <= CACHE_SLAB; off += len) {
			memcpy(mem + off, &c->free_stack, sizeof(c->free_stack));
			c->free_stack = mem + off;
			POISON(mem + off, len);
		}
	}
	p = c->free_stack;
	UNPOISON(p, len);
	memcpy(&c->free_stack, p, sizeof(c->free_stack));
	pthread_mutex_unlock(&c->free_lock);
	return p;
}

static void buf_put(struct cache *c, unsigned char *p, size_t len)
{
	if (!p)
		return;
	pthread_mutex_lock(&c->free_lock);
	if (len == c->slab_len) {
		memcpy(p, &c->free_stack, sizeof(c->free_stack));
		c->free_stack = p;
		POISON(p, len);
		p = NULL;
	}
	pthread_mutex_unlock(&c->free_lock);
	free(p);
}

static void entry_put(struct cache *c, struct entry *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1) {
		buf_put(c, e->data, e->len);
		free(e);
	}
}

static struct entry *shard_lookup(struct shard *s, uint64_t hash, uint64_t id, uint64_t index)
{
	struct entry *e;

	for (e = s->buckets[hash & (s->nbuckets - 1)]; e; e = e->hnext)
		if (e->id == id && e->index == index)
			return e;
	return NULL;
}

/* Double the bucket array. On allocation failure the chains just get longer. */
static void shard_grow(struct shard *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry *e, *next;

		for (e = s->buckets[i]; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

static void shard_link(struct shard *s, struct entry *e)
{
	struct entry **head;

	if (s->count >= s->nbuckets && s->nbuckets <= SIZE_MAX / 2 / sizeof(*head))
		shard_grow(s);
	head = &s->buckets[e->hash & (s->nbuckets - 1)];
	e->hnext = *head;
	*head = e;
	s->count++;
}

static void shard_unlink(struct shard *s, struct entry *e)
{
	struct entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
	s->count--;
}

/* Behind the hand: a new block is the last one the CLOCK looks at. */
static void ring_add(struct cache *c, struct shard *s, struct entry *e)
{
	if (!s->hand) {
		e->prev = e->next = e;
		s->hand = e;
	} else {
		e->next = s->hand;
		e->prev = s->hand->prev;
		e->prev->next = e;
		s->hand->prev = e;
	}
	s->nready++;
	atomic_fetch_add(&c->nready, 1);
}

/* Take a READY entry (already out of the hash) out of the ring and the budget. */
static void ring_del(struct cache *c, struct shard *s, struct entry *e)
{
	if (e->next == e) {
		s->hand = NULL;
	} else {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		if (s->hand == e)
			s->hand = e->next;
	}
	e->prev = e->next = NULL;
	s->nready--;
	atomic_fetch_sub(&c->nready, 1);
	atomic_fetch_sub(&c->bytes, e->len);
}

/*
 * One sweep of the shard's ring: clear referenced bits until an idle entry without one
 * turns up, and unlink it. The caller drops the hash's reference after unlocking.
 */
static struct entry *shard_evict(struct cache *c, struct shard *s)
{
	for (size_t i = s->nready; i > 0; i--) {
		struct entry *e = s->hand;

		s->hand = e->next;
		if (atomic_load(&e->refs) > 1)
			continue;
		if (e->referenced) {
			e->referenced = false;
			continue;
		}
		shard_unlink(s, e);
		ring_del(c, s, e);
		s->evictions++;
		return e;
	}
	return NULL;
}

/*
 * Evict one block from some shard. Two rounds, because the first may only clear bits.
 * False when every block is pending or being copied out. Call with no lock held.
 */
static bool cache_evict_one(struct cache *c)
{
	unsigned start = atomic_fetch_add_explicit(&c->hand, 1, memory_order_relaxed);

	for (unsigned i = 0; i < 2 * CACHE_SHARDS; i++) {
		struct shard *s = &c->shards[(start + i) % CACHE_SHARDS];
		struct entry *e;

		pthread_mutex_lock(&s->lock);
		e = shard_evict(c, s);
		pthread_mutex_unlock(&s->lock);
		if (e) {
			entry_put(c, e);
			return true;
		}
	}
	return false;
}

static bool over_budget(const struct cache *c, uint64_t bytes, uint64_t more)
{
	return more > c->max_bytes || bytes > c->max_bytes - more;
}

/* Make room for len more bytes and count them. Call with no lock held. */
static void cache_reserve(struct cache *c, size_t len)
{
	uint_fast64_t cur = atomic_load(&c->bytes);
	bool can_evict = true;

	for (;;) {
		/* cur == 0: the one block that always fits, however large. */
		if (can_evict && cur > 0 && over_budget(c, cur, len)) {
			can_evict = cache_evict_one(c);
			cur = atomic_load(&c->bytes);
			continue;
		}
		if (atomic_compare_exchange_weak(&c->bytes, &cur, cur + len))
			return;
	}
}

/* Give back what a reservation overran once its blockers are idle; keep the last block. */
static void cache_trim(struct cache *c)
{
	while (over_budget(c, atomic_load(&c->bytes), 0) && atomic_load(&c->nready) > 1)
		if (!cache_evict_one(c))
			break;
}

static void cache_release(struct cache *c, struct entry *e)
{
	entry_put(c, e);
	cache_trim(c);
}

/* Decode a PENDING entry that this thread inserted. No lock held. */
static int entry_decode(struct cache *c, struct disk *inner, struct entry *e, uint64_t off)
{
	unsigned char *data;
	int r;

	cache_reserve(c, e->len);
	data = buf_get(c, e->len);
	if (!data) {
		r = -ENOMEM;
		goto out_unreserve;
	}
	r = disk_read(inner, data, e->len, off);
	if (r < 0)
		goto out_free;
	e->data = data; /* published to readers by the shard lock */
	return 0;

out_free:
	buf_put(c, data, e->len);
out_unreserve:
	atomic_fetch_sub(&c->bytes, e->len);
	return r;
}

/* A PENDING entry for block index of disk id, linked into s (locked by the caller) with
 * a reference for the caller besides the hash's; NULL when out of memory. */
static struct entry *entry_insert(struct shard *s, uint64_t hash, uint64_t id, uint64_t index,
				  size_t block_len)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->hash = hash;
	e->id = id;
	e->index = index;
	e->len = block_len;
	e->state = ENTRY_PENDING;
	atomic_init(&e->refs, 2); /* the hash's and ours */
	shard_link(s, e);
	return e;
}

/* Decode e (PENDING, inserted by this thread) and publish it READY, or FAILED and out of
 * the hash (whose reference is dropped then). No lock held. 0 or the decode's -errno. */
static int entry_fill(struct cache *c, struct shard *s, struct disk *inner, struct entry *e,
		      uint64_t off)
{
	int r = entry_decode(c, inner, e, off);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		shard_unlink(s, e);
		e->state = ENTRY_FAILED;
		e->error = r;
	} else {
		e->state = ENTRY_READY;
		ring_add(c, s, e);
	}
	pthread_cond_broadcast(&s->published);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		entry_put(c, e);
	return r;
}

/* Block index of disk id was read whole: it goes after CACHE_DONE_KEEP more have. */
static void done_push(struct cache *c, uint64_t id, uint64_t index)
{
	struct done old = { 0, 0 };

	pthread_mutex_lock(&c->done_lock);
	if (c->done_count == CACHE_DONE_KEEP) {
		old = c->done[c->done_head];
		c->done_head = (c->done_head + 1) % CACHE_DONE_KEEP;
		c->done_count--;
	}
	c->done[(c->done_head + c->done_count++) % CACHE_DONE_KEEP] = (struct done){ id, index };
	pthread_mutex_unlock(&c->done_lock);
	if (old.id)
		cache_drop(c, old.id, old.index);
}

/* Copy [at, at + len) of READY entry e to buf and let go of it; once all its bytes went
 * out, it is on its way out (see "Dropping"). */
static void copy_out(struct cache *c, struct entry *e, void *buf, size_t at, size_t len)
{
	uint64_t id = e->id, index = e->index;
	bool done;

	memcpy(buf, e->data + at, len);
	done = atomic_load(&c->drop_delivered) &&
	       atomic_fetch_add(&e->delivered, len) + len >= e->len;
	cache_release(c, e);
	if (done)
		done_push(c, id, index);
}

/*
 * Copy [at, at + len) of block index of disk id (block_len bytes at block_off of inner)
 * into buf, decoding the block on a miss. Used by cached-disk.c. 0 or -errno.
 */
int cache_read_block(struct cache *c, struct disk *inner, uint64_t id, uint64_t index,
		     uint64_t block_off, size_t block_len, void *buf, size_t len, size_t at)
{
	uint64_t hash = key_hash(id, index);
	struct shard *s = shard_of(c, hash);
	struct entry *e;
	int r;

	pthread_mutex_lock(&s->lock);
	e = shard_lookup(s, hash, id, index);
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		if (e->state == ENTRY_PENDING) {
			s->waits++;
			do
				pthread_cond_wait(&s->published, &s->lock);
			while (e->state == ENTRY_PENDING);
		} else {
			s->hits++;
		}
		if (e->state == ENTRY_FAILED) {
			r = e->error;
			pthread_mutex_unlock(&s->lock);
			cache_release(c, e);
			return r;
		}
		e->referenced = true;
		pthread_mutex_unlock(&s->lock);
		copy_out(c, e, buf, at, len);
		return 0;
	}
	e = entry_insert(s, hash, id, index, block_len);
	if (e)
		s->misses++;
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return -ENOMEM;

	r = entry_fill(c, s, inner, e, block_off);
	if (r < 0) {
		entry_put(c, e);
		return r;
	}
	copy_out(c, e, buf, at, len);
	return 0;
}

void cache_drop(struct cache *c, uint64_t id, uint64_t index)
{
	uint64_t hash = key_hash(id, index);
	struct shard *s = shard_of(c, hash);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = shard_lookup(s, hash, id, index);
	/* Idle and READY only: a block being decoded or copied out is somebody's. */
	if (e && e->state == ENTRY_READY && atomic_load(&e->refs) == 1) {
		shard_unlink(s, e);
		ring_del(c, s, e);
		s->drops++;
	} else {
		e = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (e)
		entry_put(c, e);
}

/* A readahead worker's job: decode the block unless it is cached or being decoded.
 * True when this call decoded it. */
static bool cache_prefetch(struct cache *c, const struct ra_req *q)
{
	uint64_t hash = key_hash(q->id, q->index);
	struct shard *s = shard_of(c, hash);
	struct entry *e = NULL;

	pthread_mutex_lock(&s->lock);
	/* Below the floor, the reader went past it while it waited in the queue and dropped
	 * it behind. The reader raises the floor before it drops, and drops under this lock:
	 * a block gone from the hash is seen below the floor here. */
	if (!shard_lookup(s, hash, q->id, q->index) && q->index >= atomic_load(q->floor))
		e = entry_insert(s, hash, q->id, q->index, q->block_len);
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return false;
	/* A failed decode is not ours to report: the reader will meet it itself. */
	if (entry_fill(c, s, q->inner, e, q->block_off) < 0) {
		entry_put(c, e);
		return false;
	}
	cache_release(c, e);
	return true;
}

static void *ra_main(void *arg)
{
	struct cache *c = arg;
	unsigned me;

	pthread_mutex_lock(&c->ra_lock);
	me = c->ra_slots++;
	for (;;) {
		struct ra_req q;
		bool decoded;

		while (!c->ra_stop && c->ra_count == 0)
			pthread_cond_wait(&c->ra_work, &c->ra_lock);
		if (c->ra_stop)
			break;
		q = c->ra_queue[c->ra_head];
		c->ra_head = (c->ra_head + 1) % CACHE_RA_QUEUE;
		c->ra_count--;
		c->ra_busy[me] = q.id;
		pthread_mutex_unlock(&c->ra_lock);

		decoded = cache_prefetch(c, &q);

		pthread_mutex_lock(&c->ra_lock);
		c->ra_busy[me] = 0;
		if (decoded)
			c->ra_decoded++;
		pthread_cond_broadcast(&c->ra_idle);
	}
	pthread_mutex_unlock(&c->ra_lock);
	return NULL;
}

/* Start the workers that are missing. Call with ra_lock held. */
static void ra_start(struct cache *c)
{
	sigset_t all, old;

	/* Signals (SIGINT, SIGTERM unmount) are for the FUSE threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (c->ra_started < c->ra_threads &&
	       pthread_create(&c->ra_tids[c->ra_started], NULL, ra_main, c) == 0)
		c->ra_started++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* True when block index of disk id is cached or being decoded. */
static bool cache_has(struct cache *c, uint64_t id, uint64_t index)
{
	uint64_t hash = key_hash(id, index);
	struct shard *s = shard_of(c, hash);
	bool has;

	pthread_mutex_lock(&s->lock);
	has = shard_lookup(s, hash, id, index) != NULL;
	pthread_mutex_unlock(&s->lock);
	return has;
}

size_t cache_readahead(struct cache *c, struct disk *inner, const atomic_uint_fast64_t *floor,
		       uint64_t id, const struct cache_block *blocks, size_t n)
{
	size_t taken = 0, queued = 0;

	pthread_mutex_lock(&c->ra_lock);
	if (c->ra_threads && !c->ra_stop)
		ra_start(c);
	if (c->ra_started == 0 || c->ra_stop) {
		pthread_mutex_unlock(&c->ra_lock);
		return 0;
	}
	pthread_mutex_unlock(&c->ra_lock);
	/* Waking a worker for a block that needs nothing costs more than looking. */
	for (; taken < n; taken++) {
		const struct cache_block *b = &blocks[taken];

		if (cache_has(c, id, b->index))
			continue;
		pthread_mutex_lock(&c->ra_lock);
		if (c->ra_count == CACHE_RA_QUEUE) {
			c->ra_dropped++;
			pthread_mutex_unlock(&c->ra_lock);
			break;
		}
		c->ra_queue[(c->ra_head + c->ra_count) % CACHE_RA_QUEUE] =
			(struct ra_req){ inner, floor, id, b->index, b->off, b->len };
		c->ra_count++;
		pthread_mutex_unlock(&c->ra_lock);
		queued++;
	}
	/* One wake-up for the batch: a worker that finds more queued takes them too. */
	if (queued) {
		pthread_mutex_lock(&c->ra_lock);
		if (queued > 1)
			pthread_cond_broadcast(&c->ra_work);
		else
			pthread_cond_signal(&c->ra_work);
		pthread_mutex_unlock(&c->ra_lock);
	}
	return taken;
}

void cache_readahead_params(struct cache *c, uint64_t *ret_window, uint64_t *ret_behind)
{
	pthread_mutex_lock(&c->ra_lock);
	*ret_window = c->ra_threads ? c->ra_window : 0;
	*ret_behind = c->ra_threads ? c->ra_behind : 0;
	pthread_mutex_unlock(&c->ra_lock);
}

int cache_set_readahead(struct cache *c, unsigned threads, uint64_t window, uint64_t behind)
{
	int r = 0;

	pthread_mutex_lock(&c->ra_lock);
	if (c->ra_started) {
		r = -EBUSY;
	} else {
		c->ra_threads = MIN(threads, CACHE_RA_MAX_THREADS);
		c->ra_window = window;
		c->ra_behind = behind;
		atomic_store(&c->drop_delivered, behind > 0);
	}
	pthread_mutex_unlock(&c->ra_lock);
	return r;
}

/* Forget disk id's queued readahead and wait for the blocks of it being decoded. */
static void ra_forget_disk(struct cache *c, uint64_t id)
{
	size_t kept = 0;
	bool busy;

	pthread_mutex_lock(&c->ra_lock);
	for (size_t i = 0; i < c->ra_count; i++) {
		struct ra_req *q = &c->ra_queue[(c->ra_head + i) % CACHE_RA_QUEUE];

		if (q->id != id)
			c->ra_queue[(c->ra_head + kept++) % CACHE_RA_QUEUE] = *q;
	}
	c->ra_count = kept;
	do {
		busy = false;
		for (unsigned i = 0; i < c->ra_slots; i++)
			busy |= c->ra_busy[i] == id;
		if (busy)
			pthread_cond_wait(&c->ra_idle, &c->ra_lock);
	} while (busy);
	pthread_mutex_unlock(&c->ra_lock);
}

/*
 * Drop every block of disk id: called when a cached disk is freed, so the memory comes
 * back at once. No read of that disk can be running, and once its readahead is
 * forgotten no worker decodes for it, hence no PENDING entry of it.
 */
void cache_forget_disk(struct cache *c, uint64_t id)
{
	struct entry *dead = NULL;

	ra_forget_disk(c, id);
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		for (size_t b = 0; b < s->nbuckets; b++) {
			struct entry **pp = &s->buckets[b];

			while (*pp) {
				struct entry *e = *pp;

				if (e->id != id || e->state != ENTRY_READY) {
					pp = &e->hnext;
					continue;
				}
				*pp = e->hnext;
				s->count--;
				ring_del(c, s, e);
				e->hnext = dead;
				dead = e;
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	while (dead) {
		struct entry *e = dead;

		dead = e->hnext;
		entry_put(c, e);
	}
}

static void cache_free(struct cache *c)
{
	if (c->ra_lock_init) {
		pthread_mutex_lock(&c->ra_lock);
		c->ra_stop = true;
		pthread_cond_broadcast(&c->ra_work);
		pthread_mutex_unlock(&c->ra_lock);
		for (unsigned i = 0; i < c->ra_started; i++)
			pthread_join(c->ra_tids[i], NULL);
		pthread_cond_destroy(&c->ra_idle);
		pthread_cond_destroy(&c->ra_work);
		pthread_mutex_destroy(&c->ra_lock);
	}
	if (c->shards) {
		for (unsigned i = 0; i < c->nshards_init; i++) {
			struct shard *s = &c->shards[i];

			for (size_t b = 0; b < s->nbuckets; b++) {
				struct entry *e, *next;

				for (e = s->buckets[b]; e; e = next) {
					next = e->hnext;
					buf_put(c, e->data, e->len); /* slabs go below */
					free(e);
				}
			}
			free(s->buckets);
			pthread_cond_destroy(&s->published);
			pthread_mutex_destroy(&s->lock);
		}
		free(c->shards);
	}
	while (c->slabs) {
		struct slab *sl = c->slabs;

		c->slabs = sl->next;
		UNPOISON(sl->mem, CACHE_SLAB);
		free(sl->mem);
		free(sl);
	}
	pthread_mutex_destroy(&c->free_lock);
	pthread_mutex_destroy(&c->done_lock);
	free(c->ra_tids);
	free(c->ra_busy);
	free(c);
}

static int shard_init(struct shard *s)
{
	int r;

	s->buckets = calloc(CACHE_MIN_BUCKETS, sizeof(*s->buckets));
	if (!s->buckets)
		return -ENOMEM;
	s->nbuckets = CACHE_MIN_BUCKETS;
	r = pthread_mutex_init(&s->lock, NULL);
	if (r) {
		free(s->buckets);
		return -r;
	}
	r = pthread_cond_init(&s->published, NULL);
	if (r) {
		pthread_mutex_destroy(&s->lock);
		free(s->buckets);
		return -r;
	}
	return 0;
}

static int ra_init(struct cache *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	c->ra_tids = calloc(CACHE_RA_MAX_THREADS, sizeof(*c->ra_tids));
	c->ra_busy = calloc(CACHE_RA_MAX_THREADS, sizeof(*c->ra_busy));
	if (!c->ra_tids || !c->ra_busy)
		return -ENOMEM;
	r = pthread_mutex_init(&c->ra_lock, NULL);
	if (r)
		return -r;
	r = pthread_cond_init(&c->ra_work, NULL);
	if (r) {
		pthread_mutex_destroy(&c->ra_lock);
		return -r;
	}
	r = pthread_cond_init(&c->ra_idle, NULL);
	if (r) {
		pthread_cond_destroy(&c->ra_work);
		pthread_mutex_destroy(&c->ra_lock);
		return -r;
	}
	c->ra_lock_init = true;
	c->ra_threads = cpus < 1 ? 1 : (unsigned)MIN(cpus, (long)CACHE_RA_MAX_THREADS);
	c->ra_window = MIN((uint64_t)CACHE_RA_WINDOW, c->max_bytes / 4);
	c->ra_behind = MIN((uint64_t)CACHE_RA_BEHIND, c->max_bytes / 2);
	atomic_init(&c->drop_delivered, c->ra_behind > 0);
	return 0;
}

int cache_new(uint64_t max_bytes, struct cache **ret, struct err *err)
{
	struct cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return err_set(err, ENOMEM, "block cache: out of memory");
	/* First, so that cache_free can always destroy them. */
	r = pthread_mutex_init(&c->free_lock, NULL);
	if (r) {
		free(c);
		return err_set(err, r, "block cache: cannot set up a lock");
	}
	r = pthread_mutex_init(&c->done_lock, NULL);
	if (r) {
		pthread_mutex_destroy(&c->free_lock);
	pthread_mutex_destroy(&c->done_lock);
		free(c);
		return err_set(err, r, "block cache: cannot set up a lock");
	}
	atomic_init(&c->refs, 1);
	atomic_init(&c->bytes, 0);
	atomic_init(&c->nready, 0);
	atomic_init(&c->hand, 0);
	c->max_bytes = max_bytes;
	/* sizeof(struct shard) is a multiple of CACHE_LINE, as aligned_alloc wants. */
	c->shards = aligned_alloc(CACHE_LINE, CACHE_SHARDS * sizeof(*c->shards));
	if (!c->shards) {
		cache_free(c);
		return err_set(err, ENOMEM, "block cache: out of memory");
	}
	memset(c->shards, 0, CACHE_SHARDS * sizeof(*c->shards));
	for (; c->nshards_init < CACHE_SHARDS; c->nshards_init++) {
		r = shard_init(&c->shards[c->nshards_init]);
		if (r < 0) {
			cache_free(c);
			return err_set(err, -r, "block cache: cannot set up a shard");
		}
	}
	r = ra_init(c);
	if (r < 0) {
		cache_free(c);
		return err_set(err, -r, "block cache: cannot set up readahead");
	}
	*ret = c;
	return 0;
}

struct cache *cache_ref(struct cache *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

struct cache *cache_unref(struct cache *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		cache_free(c);
	return NULL;
}

void cache_get_stats(struct cache *c, struct cache_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		ret->hits += s->hits;
		ret->misses += s->misses;
		ret->waits += s->waits;
		ret->evictions += s->evictions;
		ret->drops += s->drops;
		pthread_mutex_unlock(&s->lock);
	}
	ret->bytes = atomic_load(&c->bytes);
	ret->max_bytes = c->max_bytes;
	pthread_mutex_lock(&c->ra_lock);
	ret->readaheads = c->ra_decoded;
	ret->readaheads_dropped = c->ra_dropped;
	pthread_mutex_unlock(&c->ra_lock);
}
