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
 */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"

#include "cache-internal.h"

/* Enough that a few dozen FUSE workers rarely share a lock; a power of two. */
#define CACHE_SHARD_BITS 6
#define CACHE_SHARDS (1u << CACHE_SHARD_BITS)
/* Starting size of a shard's bucket array; it doubles when the load passes one. */
#define CACHE_MIN_BUCKETS 16
/* Keep shards on separate cache lines so that their locks do not ping-pong. */
#define CACHE_LINE 64

enum entry_state { ENTRY_PENDING, ENTRY_READY, ENTRY_FAILED };

struct entry {
	struct entry *hnext;	   /* hash chain */
	struct entry *prev, *next; /* CLOCK ring of the shard; READY entries only */
	uint64_t hash, id, index;
	atomic_uint refs;	/* the hash's while linked, plus one per reader */
	enum entry_state state; /* the fields from here on are under the shard lock */
	int error;		/* FAILED: what the decode returned */
	bool referenced;	/* CLOCK's second chance */
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
	uint64_t hits, misses, waits, evictions;
};

struct cache {
	atomic_uint refs;
	uint64_t max_bytes;
	atomic_uint_fast64_t bytes; /* reserved by PENDING and held by READY entries */
	atomic_size_t nready;	    /* READY entries over all shards */
	atomic_uint hand;	    /* the shard eviction visits next */
	struct shard *shards;
	unsigned nshards_init; /* shards whose lock and condvar exist, for a half-built cache */
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

static void entry_put(struct entry *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1) {
		free(e->data);
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
			entry_put(e);
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
	entry_put(e);
	cache_trim(c);
}

/* Decode a PENDING entry that this thread inserted. No lock held. */
static int entry_decode(struct cache *c, struct disk *inner, struct entry *e, uint64_t off)
{
	unsigned char *data;
	int r;

	cache_reserve(c, e->len);
	data = malloc(e->len);
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
	free(data);
out_unreserve:
	atomic_fetch_sub(&c->bytes, e->len);
	return r;
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
		memcpy(buf, e->data + at, len);
		cache_release(c, e);
		return 0;
	}

	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	e->hash = hash;
	e->id = id;
	e->index = index;
	e->len = block_len;
	e->state = ENTRY_PENDING;
	atomic_init(&e->refs, 2); /* the hash's and ours */
	shard_link(s, e);
	s->misses++;
	pthread_mutex_unlock(&s->lock);

	r = entry_decode(c, inner, e, block_off);

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

	if (r < 0) {
		entry_put(e); /* the hash's */
		entry_put(e);
		return r;
	}
	memcpy(buf, e->data + at, len);
	cache_release(c, e);
	return 0;
}

/*
 * Drop every block of disk id: called when a cached disk is freed, so the memory comes
 * back at once. No read of that disk can be running, hence no PENDING entry of it.
 */
void cache_forget_disk(struct cache *c, uint64_t id)
{
	struct entry *dead = NULL;

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
		entry_put(e);
	}
}

static void cache_free(struct cache *c)
{
	if (c->shards) {
		for (unsigned i = 0; i < c->nshards_init; i++) {
			struct shard *s = &c->shards[i];

			for (size_t b = 0; b < s->nbuckets; b++) {
				struct entry *e, *next;

				for (e = s->buckets[b]; e; e = next) {
					next = e->hnext;
					free(e->data);
					free(e);
				}
			}
			free(s->buckets);
			pthread_cond_destroy(&s->published);
			pthread_mutex_destroy(&s->lock);
		}
		free(c->shards);
	}
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

int cache_new(uint64_t max_bytes, struct cache **ret, struct err *err)
{
	struct cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return err_set(err, ENOMEM, "block cache: out of memory");
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
		pthread_mutex_unlock(&s->lock);
	}
	ret->bytes = atomic_load(&c->bytes);
	ret->max_bytes = c->max_bytes;
}
