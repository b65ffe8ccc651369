/* SPDX-License-Identifier: MIT */
/*
 * The block cache and the cached disk, in front of a fake costly disk whose bytes are a
 * deterministic function of the offset.  The fake counts its decodes (per block, and
 * reads that were not exactly one whole block), can sleep in each decode, can fail at a
 * given block, and can hold a block's decode at a gate until the test opens it, which
 * lets the single-flight tests wait until every reader is really waiting.  Every block
 * is DATA that must be decoded unless a test gives it another state (fake_set_state):
 * ZERO or UNALLOCATED (its bytes become zeros), or RAW, DATA whose bytes sit in a source.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../formats/cache/cache.h"
#include "../../formats/common/bounds.h"
#include "../lib/harness.h"

HARNESS_MAIN

#define KiB 1024u
#define MiB (1024u * 1024u)
#define NTHREADS 8

enum { FAKE_RAW = 0x10 }; /* beside DISK_DATA, DISK_ZERO, DISK_UNALLOC */

struct fake {
	struct disk d;
	unsigned char *image; /* what every read must return */
	unsigned char *state; /* per block: DISK_DATA (decoded), DISK_ZERO, DISK_UNALLOC, FAKE_RAW */
	struct source *raw;   /* the image, for FAKE_RAW blocks */
	uint64_t nblocks;
	atomic_uint *block_reads;
	atomic_uint reads, bad_reads, status_calls;
	unsigned sleep_ms;
	atomic_llong fail_block; /* -1: never */
	int fail_code;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long long gate_block; /* -1: no gate */
	bool gate_open;
};

static atomic_uint fakes_freed;

static uint8_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = (off >> 3) ^ (seed * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (uint8_t)(x >> ((off & 7) * 8));
}

static int fake_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct fake *f = (struct fake *)d;
	uint64_t first = off / d->grain, last = (off + len - 1) / d->grain;
	long long fail = atomic_load(&f->fail_block);

	atomic_fetch_add(&f->reads, 1);
	if (off % d->grain || len != MIN((uint64_t)d->grain, d->size - off))
		atomic_fetch_add(&f->bad_reads, 1);
	for (uint64_t b = first; b <= last && b < f->nblocks; b++)
		atomic_fetch_add(&f->block_reads[b], 1);
	if (f->sleep_ms) {
		struct timespec ts = { 0, (long)f->sleep_ms * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (f->gate_block >= 0 && (uint64_t)f->gate_block >= first &&
	    (uint64_t)f->gate_block <= last) {
		pthread_mutex_lock(&f->lock);
		while (!f->gate_open)
			pthread_cond_wait(&f->cond, &f->lock);
		pthread_mutex_unlock(&f->lock);
	}
	if (fail >= 0 && (uint64_t)fail >= first && (uint64_t)fail <= last)
		return f->fail_code;
	memcpy(buf, f->image + off, len);
	return 0;
}

/* A run of blocks in the state the test gave them; DATA blocks to decode run on to the
 * hint's end like a compressed VMDK's, the others are one block (or the tail) each. */
static int fake_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct fake *f = (struct fake *)d;
	uint64_t end = (off / d->grain + 1) * d->grain;
	unsigned state = f->state[off / d->grain];

	atomic_fetch_add(&f->status_calls, 1);
	while (state == DISK_DATA && end < off + len && end < d->size &&
	       f->state[end / d->grain] == DISK_DATA)
		end += d->grain;
	ret->len = MIN(end, d->size) - off;
	ret->state = state == FAKE_RAW ? DISK_DATA : state;
	ret->src = state == FAKE_RAW ? f->raw : NULL;
	ret->src_off = state == FAKE_RAW ? off : off ^ 0x5a5a;
	return 0;
}

static void fake_free(struct disk *d)
{
	struct fake *f = (struct fake *)d;

	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	source_unref(f->raw);
	free(f->block_reads);
	free(f->state);
	free(f->image);
	free(f);
	atomic_fetch_add(&fakes_freed, 1);
}

static const struct disk_ops fake_ops = {
	.kind = "fake",
	.read = fake_read,
	.status = fake_status,
	.free = fake_free,
};

static struct fake *fake_new(uint64_t size, uint32_t grain, uint64_t seed, bool costly)
{
	struct fake *f = calloc(1, sizeof(*f));

	ASSERT(f);
	ASSERT_OK(disk_init(&f->d, &fake_ops, "guest.ova:fake.vmdk", size, grain, costly));
	f->image = malloc(size ? size : 1);
	ASSERT(f->image);
	for (uint64_t i = 0; i < size; i++)
		f->image[i] = pattern(seed, i);
	f->nblocks = grain ? DIV_ROUND_UP(size, grain) : 0;
	f->block_reads = calloc(f->nblocks + 1, sizeof(*f->block_reads));
	ASSERT(f->block_reads);
	f->state = malloc(f->nblocks + 1);
	ASSERT(f->state);
	memset(f->state, DISK_DATA, f->nblocks + 1);
	atomic_init(&f->fail_block, -1);
	f->fail_code = -EIO;
	f->gate_block = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	return f;
}

/* Give block b a state; a block that is not DATA reads as zeros, as a disk's must. The
 * raw source is a copy of the image as it stands after the change. */
static void fake_set_state(struct fake *f, uint64_t b, unsigned state)
{
	uint64_t off = b * f->d.grain;

	ASSERT(b < f->nblocks);
	f->state[b] = (unsigned char)state;
	if (state == DISK_ZERO || state == DISK_UNALLOC)
		memset(f->image + off, 0, (size_t)MIN((uint64_t)f->d.grain, f->d.size - off));
	source_unref(f->raw);
	ASSERT_OK(source_mem_new(f->image, (size_t)f->d.size, "fake-raw", &f->raw, E));
}

static void fake_open_gate(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->gate_open = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* A cache of max bytes without readahead, so that the tests of the cache proper can count
 * every decode; the readahead tests turn it on. */
static struct cache *new_cache(uint64_t max)
{
	struct cache *c;

	ASSERT_OK(cache_new(max, &c, E));
	ASSERT_OK(cache_set_readahead(c, 0, 0, 0));
	return c;
}

/* A cache of max bytes and f wrapped in it; the caller's references are dropped, so the
 * cached disk alone keeps both alive. */
static struct disk *wrap(struct fake *f, uint64_t max, struct cache **ret_cache)
{
	struct cache *c = new_cache(max);
	struct disk *d;

	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	ASSERT(d != &f->d);
	*ret_cache = c;
	return d;
}

static void check_read(struct disk *d, struct fake *f, uint64_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);

	ASSERT(buf);
	memset(buf, 0xee, len);
	ASSERT_OK(disk_read(d, buf, len, off));
	if (memcmp(buf, f->image + off, len) != 0) {
		free(buf);
		HARNESS_FAIL("bytes differ in [0x%" PRIx64 ", +0x%zx)", off, len);
	}
	free(buf);
}

static struct cache_stats stats(struct cache *c)
{
	struct cache_stats st;

	cache_get_stats(c, &st);
	return st;
}

static void put(struct disk *d, struct cache *c)
{
	unsigned freed = atomic_load(&fakes_freed);

	cache_unref(c);
	disk_unref(d);
	/* the cached disk held the last references to the fake */
	ASSERT_EQ(atomic_load(&fakes_freed), freed + 1);
}

TEST(not_costly_comes_back_as_itself)
{
	struct fake *f = fake_new(8192, 512, 1, false);
	struct cache *c;
	struct disk *d;

	c = new_cache(MiB);
	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	ASSERT(d == &f->d);
	ASSERT_EQ(atomic_load(&f->d.refs), 2);
	disk_unref(d);
	disk_unref(&f->d);
	cache_unref(c);
}

TEST(wrapped_disk_fields)
{
	struct fake *f = fake_new(3 * 4096 + 7, 4096, 2, true);
	struct cache *c;
	struct disk *d;

	c = new_cache(MiB);
	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	ASSERT_STREQ(d->ops->kind, "cached");
	ASSERT_STREQ(d->name, "guest.ova:fake.vmdk");
	ASSERT_U64_EQ(d->size, 3 * 4096 + 7);
	ASSERT_EQ(d->grain, 4096);
	ASSERT(!d->costly);
	/* the wrapper holds its own references to both */
	ASSERT_EQ(atomic_load(&f->d.refs), 2);
	disk_unref(&f->d);
	check_read(d, f, 0, (size_t)d->size);
	put(d, c);
}

TEST(grain_not_power_of_two_is_refused)
{
	struct fake *f = fake_new(9000, 3000, 3, true);
	struct cache *c;
	struct disk *d = NULL;

	c = new_cache(MiB);
	ASSERT_ERR(cache_wrap(c, &f->d, &d, E), -EINVAL, "guest.ova:fake.vmdk: grain of 3000");
	ASSERT(d == NULL);
	disk_unref(&f->d);
	cache_unref(c);
}

TEST(unaligned_reads_across_blocks)
{
	static const uint32_t grains[] = { 512, 4096, 64 * KiB, 16 * MiB };

	for (size_t g = 0; g < sizeof(grains) / sizeof(grains[0]); g++) {
		uint32_t grain = grains[g];
		uint64_t size = 2 * (uint64_t)grain + grain / 3 + 1;
		struct fake *f = fake_new(size, grain, 10 + g, true);
		struct cache *c;
		struct disk *d = wrap(f, 64 * MiB, &c);
		struct cache_stats st;
		unsigned reads;

		disk_unref(&f->d);
		check_read(d, f, 1, grain - 2);
		check_read(d, f, grain - 1, 2);
		check_read(d, f, grain / 2, grain + 17);
		check_read(d, f, 3, (size_t)size - 5);
		check_read(d, f, size - 1, 1);
		check_read(d, f, 0, (size_t)size);
		for (uint64_t off = 0; off < size; off += grain / 3 + 13)
			check_read(d, f, off, (size_t)MIN(size - off, (uint64_t)grain / 2 + 99));
		/* three blocks in all, each decoded once, always whole */
		reads = atomic_load(&f->reads);
		ASSERT_EQ(reads, 3);
		ASSERT_EQ(atomic_load(&f->bad_reads), 0);
		st = stats(c);
		ASSERT_U64_EQ(st.misses, 3);
		ASSERT(st.hits > 0);
		ASSERT_U64_EQ(st.waits, 0);
		ASSERT_U64_EQ(st.evictions, 0);
		ASSERT_U64_EQ(st.bytes, size);
		ASSERT_U64_EQ(st.max_bytes, 64 * MiB);
		ASSERT_EQ(disk_read(d, NULL, 1, size), -EINVAL);
		put(d, c);
	}
}

TEST(last_short_block)
{
	uint64_t size = 5 * 4096 + 100;
	struct fake *f = fake_new(size, 4096, 4, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);

	disk_unref(&f->d);
	check_read(d, f, size - 150, 150);
	ASSERT_EQ(atomic_load(&f->block_reads[4]), 1);
	ASSERT_EQ(atomic_load(&f->block_reads[5]), 1);
	ASSERT_U64_EQ(stats(c).bytes, 4096 + 100);
	check_read(d, f, size - 100, 100);
	check_read(d, f, size - 1, 1);
	check_read(d, f, 0, (size_t)size);
	ASSERT_EQ(atomic_load(&f->block_reads[5]), 1);
	ASSERT_EQ(atomic_load(&f->reads), 6);
	ASSERT_EQ(atomic_load(&f->bad_reads), 0);
	put(d, c);
}

TEST(byte_bound_is_honoured)
{
	uint32_t grain = 64 * KiB;
	uint64_t size = 8 * MiB, max = MiB;
	struct fake *f = fake_new(size, grain, 5, true);
	struct cache *c;
	struct disk *d = wrap(f, max, &c);
	struct cache_stats st;

	disk_unref(&f->d);
	for (int round = 0; round < 3; round++) {
		for (uint64_t off = 1000; off < size; off += grain) {
			check_read(d, f, off, 3000);
			ASSERT(stats(c).bytes <= max);
		}
	}
	st = stats(c);
	/* 16 blocks fill it exactly; every miss after those evicted one */
	ASSERT_U64_EQ(st.bytes, max);
	ASSERT_U64_EQ(st.hits + st.misses, 3 * 128);
	ASSERT(st.misses > 2 * 128);
	ASSERT_U64_EQ(st.evictions, st.misses - 16);
	ASSERT_EQ(atomic_load(&f->reads), st.misses);
	put(d, c);
}

TEST(clock_keeps_a_hot_block)
{
	uint32_t grain = 64 * KiB;
	uint64_t size = 8 * MiB;
	struct fake *f = fake_new(size, grain, 6, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);

	disk_unref(&f->d);
	/* One pass: the other blocks are read once, so none of them has a second chance
	 * and the first sweep of any eviction finds a victim among them. */
	for (uint64_t b = 1; b < 128; b++) {
		check_read(d, f, 17, 100);
		check_read(d, f, b * grain, 100);
	}
	/* read again before every eviction, block 0 always had its second chance */
	ASSERT_EQ(atomic_load(&f->block_reads[0]), 1);
	ASSERT(stats(c).evictions > 0);
	put(d, c);
}

TEST(cache_smaller_than_one_block_keeps_one)
{
	struct fake *f = fake_new(4 * 4096, 4096, 7, true);
	struct cache *c;
	struct disk *d = wrap(f, 1000, &c);
	struct cache_stats st;

	disk_unref(&f->d);
	check_read(d, f, 10, 100);
	check_read(d, f, 200, 100);
	ASSERT_EQ(atomic_load(&f->reads), 1);
	check_read(d, f, 4096 + 10, 100);
	check_read(d, f, 4096 + 20, 100);
	ASSERT_EQ(atomic_load(&f->reads), 2);
	st = stats(c);
	ASSERT_U64_EQ(st.bytes, 4096);
	ASSERT_U64_EQ(st.hits, 2);
	ASSERT_U64_EQ(st.evictions, 1);
	put(d, c);
}

TEST(blocks_of_a_freed_disk_are_not_seen_by_the_next)
{
	struct cache *c;
	struct disk *d;

	c = new_cache(MiB);
	for (uint64_t seed = 20; seed < 30; seed++) {
		struct fake *f = fake_new(4 * 4096, 4096, seed, true);

		/* the allocator may hand out the same addresses every time round */
		ASSERT_OK(cache_wrap(c, &f->d, &d, E));
		disk_unref(&f->d);
		check_read(d, f, 100, 5000);
		ASSERT_EQ(atomic_load(&f->reads), 2);
		ASSERT_U64_EQ(stats(c).bytes, 2 * 4096);
		disk_unref(d);
		ASSERT_U64_EQ(stats(c).bytes, 0);
	}
	cache_unref(c);
}

TEST(two_disks_share_a_cache)
{
	struct fake *a = fake_new(4 * 4096, 4096, 40, true);
	struct fake *b = fake_new(4 * 4096, 4096, 41, true);
	struct cache *c;
	struct disk *da, *db;

	c = new_cache(MiB);
	ASSERT_OK(cache_wrap(c, &a->d, &da, E));
	ASSERT_OK(cache_wrap(c, &b->d, &db, E));
	disk_unref(&a->d);
	disk_unref(&b->d);
	for (int i = 0; i < 3; i++) {
		check_read(da, a, 0, 4 * 4096);
		check_read(db, b, 0, 4 * 4096);
	}
	ASSERT_EQ(atomic_load(&a->reads), 4);
	ASSERT_EQ(atomic_load(&b->reads), 4);
	disk_unref(da);
	ASSERT_U64_EQ(stats(c).bytes, 4 * 4096);
	check_read(db, b, 0, 4 * 4096);
	ASSERT_EQ(atomic_load(&b->reads), 4);
	disk_unref(db);
	cache_unref(c);
}

TEST(status_passes_through)
{
	uint64_t size = 5 * 4096 + 100;
	struct fake *f = fake_new(size, 4096, 8, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);
	static const uint64_t offs[] = { 0, 1, 4095, 4096, 3 * 4096 + 5, 5 * 4096, 5 * 4096 + 99 };

	fake_set_state(f, 1, DISK_ZERO);
	fake_set_state(f, 2, FAKE_RAW);
	fake_set_state(f, 3, DISK_UNALLOC);

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct disk_run got, want;

		ASSERT_OK(disk_status(d, offs[i], 100000, &got));
		ASSERT_OK(disk_status(&f->d, offs[i], 100000, &want));
		ASSERT_EQ(got.state, want.state);
		ASSERT_U64_EQ(got.len, want.len);
		ASSERT(got.src == want.src);
		ASSERT_U64_EQ(got.src_off, want.src_off);
	}
	ASSERT_EQ(atomic_load(&f->status_calls), 2 * 7);
	ASSERT_EQ(atomic_load(&f->reads), 0);
	ASSERT_EQ(disk_status(d, size, 1, &(struct disk_run){ 0 }), -ENXIO);
	disk_unref(&f->d);
	put(d, c);
}

TEST(only_decoded_data_takes_cache_space)
{
	uint64_t size = 8 * 4096 + 100;
	struct fake *f = fake_new(size, 4096, 9, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);
	struct cache_stats st;

	disk_unref(&f->d);
	/* blocks: DATA ZERO UNALLOC RAW DATA ZERO RAW UNALLOC DATA(tail) */
	fake_set_state(f, 1, DISK_ZERO);
	fake_set_state(f, 2, DISK_UNALLOC);
	fake_set_state(f, 3, FAKE_RAW);
	fake_set_state(f, 5, DISK_ZERO);
	fake_set_state(f, 6, FAKE_RAW);
	fake_set_state(f, 7, DISK_UNALLOC);
	for (int round = 0; round < 2; round++) {
		check_read(d, f, 0, (size_t)size);
		check_read(d, f, 4096 - 10, 3 * 4096 + 20);
		check_read(d, f, 2 * 4096 + 7, 4096);
		check_read(d, f, size - 200, 200);
	}
	/* zeros are filled in and raw bytes read as they are: only blocks 0, 4, 8 decode */
	for (uint64_t b = 0; b < f->nblocks; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), b % 4 == 0 ? 1 : 0);
	ASSERT_EQ(atomic_load(&f->bad_reads), 0);
	st = stats(c);
	ASSERT_U64_EQ(st.misses, 3);
	ASSERT_U64_EQ(st.bytes, 2 * 4096 + 100);
	put(d, c);
}

struct reader {
	pthread_t tid;
	struct disk *d;
	struct fake *f;
	pthread_barrier_t *start;
	uint64_t off;
	size_t len;
	int r;
	bool same;
	atomic_bool done;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	unsigned char *buf = malloc(rd->len);

	if (rd->start)
		pthread_barrier_wait(rd->start);
	if (!buf) {
		rd->r = -ENOMEM;
	} else {
		rd->r = disk_read(rd->d, buf, rd->len, rd->off);
		rd->same = rd->r == 0 && memcmp(buf, rd->f->image + rd->off, rd->len) == 0;
	}
	free(buf);
	atomic_store(&rd->done, true);
	return NULL;
}

/* Start n readers of [off + i * 100, +len) each, all released at once. */
static void readers_start(struct reader *rds, unsigned n, struct disk *d, struct fake *f,
			  uint64_t off, size_t len, pthread_barrier_t *start)
{
	pthread_barrier_init(start, NULL, n);
	for (unsigned i = 0; i < n; i++) {
		rds[i] = (struct reader){ .d = d, .f = f, .start = start, .off = off + i * 100,
					  .len = len };
		ASSERT_EQ(pthread_create(&rds[i].tid, NULL, reader_main, &rds[i]), 0);
	}
}

static void readers_join(struct reader *rds, unsigned n, pthread_barrier_t *start)
{
	for (unsigned i = 0; i < n; i++)
		pthread_join(rds[i].tid, NULL);
	pthread_barrier_destroy(start);
}

/* Wait (up to 30 s) until want readers sleep on a decode. */
static bool wait_for_waiters(struct cache *c, uint64_t want)
{
	for (int i = 0; i < 30000; i++) {
		if (stats(c).waits >= want)
			return true;
		usleep(1000);
	}
	return false;
}

TEST(single_flight_with_a_gate)
{
	struct fake *f = fake_new(16 * 64 * KiB, 64 * KiB, 9, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);
	struct reader rds[NTHREADS];
	pthread_barrier_t start;
	struct cache_stats st;
	bool all_waited;

	alarm(120);
	disk_unref(&f->d);
	f->gate_block = 5;
	readers_start(rds, NTHREADS, d, f, 5 * 64 * KiB + 10, 1000, &start);
	all_waited = wait_for_waiters(c, NTHREADS - 1);
	fake_open_gate(f);
	readers_join(rds, NTHREADS, &start);
	ASSERT(all_waited);
	for (unsigned i = 0; i < NTHREADS; i++) {
		ASSERT_OK(rds[i].r);
		ASSERT(rds[i].same);
	}
	ASSERT_EQ(atomic_load(&f->reads), 1);
	st = stats(c);
	ASSERT_U64_EQ(st.misses, 1);
	ASSERT_U64_EQ(st.waits, NTHREADS - 1);
	ASSERT_U64_EQ(st.hits, 0);
	put(d, c);
	alarm(0);
}

TEST(single_flight_with_a_slow_decode)
{
	struct fake *f = fake_new(16 * 64 * KiB, 64 * KiB, 10, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);
	struct reader rds[NTHREADS];
	pthread_barrier_t start;
	struct cache_stats st;

	alarm(120);
	disk_unref(&f->d);
	f->sleep_ms = 20;
	readers_start(rds, NTHREADS, d, f, 3 * 64 * KiB + 7, 4000, &start);
	readers_join(rds, NTHREADS, &start);
	for (unsigned i = 0; i < NTHREADS; i++) {
		ASSERT_OK(rds[i].r);
		ASSERT(rds[i].same);
	}
	ASSERT_EQ(atomic_load(&f->reads), 1);
	st = stats(c);
	ASSERT_U64_EQ(st.misses, 1);
	/* a reader that came late finds the block published: a hit, not a wait */
	ASSERT_U64_EQ(st.hits + st.waits, NTHREADS - 1);
	if (st.waits == 0)
		fprintf(stderr, "  note: no reader overlapped the 20 ms decode\n");
	put(d, c);
	alarm(0);
}

TEST(decode_error_reaches_every_waiter_then_retries)
{
	uint32_t grain = 64 * KiB;
	struct fake *f = fake_new(16 * (uint64_t)grain, grain, 11, true);
	struct cache *c;
	struct disk *d = wrap(f, MiB, &c);
	struct reader rds[NTHREADS];
	pthread_barrier_t start;
	struct cache_stats st;
	bool all_waited;
	unsigned char buf[2 * 64 * KiB];

	alarm(120);
	disk_unref(&f->d);
	f->gate_block = 3;
	f->fail_code = -EBADMSG;
	atomic_store(&f->fail_block, 3);
	readers_start(rds, NTHREADS, d, f, 3 * (uint64_t)grain + 1, 1000, &start);
	all_waited = wait_for_waiters(c, NTHREADS - 1);
	fake_open_gate(f);
	readers_join(rds, NTHREADS, &start);
	ASSERT(all_waited);
	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_EQ(rds[i].r, -EBADMSG);
	ASSERT_EQ(atomic_load(&f->reads), 1);
	st = stats(c);
	ASSERT_U64_EQ(st.misses, 1);
	ASSERT_U64_EQ(st.waits, NTHREADS - 1);
	/* nothing of the failed block is held or reserved */
	ASSERT_U64_EQ(st.bytes, 0);

	/* still failing: decoded again, not served from a remembered error */
	ASSERT_EQ(disk_read(d, buf, 100, 3 * (uint64_t)grain), -EBADMSG);
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 2);
	/* a read that spans a good block and the bad one fails, keeping the good block */
	ASSERT_EQ(disk_read(d, buf, sizeof(buf), 2 * (uint64_t)grain), -EBADMSG);
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 3);
	ASSERT_U64_EQ(stats(c).bytes, grain);

	atomic_store(&f->fail_block, -1);
	check_read(d, f, 3 * (uint64_t)grain + 5, 100);
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 4);
	check_read(d, f, 2 * (uint64_t)grain, sizeof(buf));
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 4);
	ASSERT_EQ(atomic_load(&f->block_reads[2]), 1);
	put(d, c);
	alarm(0);
}

TEST(no_lock_is_held_while_decoding)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 1001;
	struct fake *f = fake_new(nblocks * grain, grain, 12, true);
	struct cache *c;
	struct disk *d = wrap(f, 8 * MiB, &c);
	struct reader rd = { .d = d, .f = f, .off = 10, .len = 100 };
	bool blocked = true;

	alarm(120);
	disk_unref(&f->d);
	f->gate_block = 0;
	ASSERT_EQ(pthread_create(&rd.tid, NULL, reader_main, &rd), 0);
	while (atomic_load(&f->reads) == 0)
		usleep(1000);
	/* 1000 blocks over the shards: many share the gated block's shard. A lock held
	 * across the decode would hang here (and the alarm would end the test). */
	for (int round = 0; round < 2; round++)
		for (uint64_t b = 1; b < nblocks; b++) {
			unsigned char buf[16];

			if (disk_read(d, buf, sizeof(buf), b * grain + 3) != 0 ||
			    memcmp(buf, f->image + b * grain + 3, sizeof(buf)) != 0)
				blocked = false;
		}
	blocked = blocked && !atomic_load(&rd.done);
	fake_open_gate(f);
	pthread_join(rd.tid, NULL);
	ASSERT(blocked);
	ASSERT_OK(rd.r);
	ASSERT(rd.same);
	ASSERT_EQ(atomic_load(&f->reads), nblocks);
	put(d, c);
	alarm(0);
}

struct random_reader {
	pthread_t tid;
	struct disk *d;
	struct fake *f;
	unsigned seed;
	unsigned ops;
	unsigned errors, mismatches;
	uint64_t lookups; /* block pieces read: each is a hit, a miss or a wait */
};

static void *random_main(void *arg)
{
	struct random_reader *rr = arg;
	uint64_t size = rr->d->size, grain = rr->d->grain;
	unsigned char *buf = malloc(3 * grain + 1);

	if (!buf) {
		rr->errors++;
		return NULL;
	}
	for (unsigned i = 0; i < rr->ops; i++) {
		uint64_t off = ((uint64_t)rand_r(&rr->seed) << 16 ^ rand_r(&rr->seed)) % size;
		/* mostly small reads, a quarter spanning up to four blocks */
		uint64_t max = rand_r(&rr->seed) % 4 == 0 ? 3 * grain : 4096;
		size_t len = 1 + (uint64_t)rand_r(&rr->seed) % max;

		len = MIN(len, size - off);
		if (disk_read(rr->d, buf, len, off) != 0)
			rr->errors++;
		else if (memcmp(buf, rr->f->image + off, len) != 0)
			rr->mismatches++;
		rr->lookups += (off + len - 1) / grain - off / grain + 1;
	}
	free(buf);
	return NULL;
}

TEST(eight_threads_random_reads_small_cache)
{
	uint32_t grain = 64 * KiB;
	uint64_t size = 16 * MiB + 12345, max = MiB, lookups = 0;
	struct fake *f = fake_new(size, grain, 13, true);
	struct cache *c;
	struct disk *d = wrap(f, max, &c);
	struct random_reader rrs[NTHREADS];
	struct cache_stats st;

	alarm(300);
	disk_unref(&f->d);
	for (unsigned i = 0; i < NTHREADS; i++) {
		rrs[i] = (struct random_reader){ .d = d, .f = f, .seed = 1234 + i, .ops = 2000 };
		ASSERT_EQ(pthread_create(&rrs[i].tid, NULL, random_main, &rrs[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(rrs[i].tid, NULL);
	for (unsigned i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(rrs[i].errors, 0);
		ASSERT_EQ(rrs[i].mismatches, 0);
		lookups += rrs[i].lookups;
	}
	st = stats(c);
	ASSERT_U64_EQ(st.hits + st.misses + st.waits, lookups);
	ASSERT_EQ(atomic_load(&f->reads), st.misses);
	ASSERT_EQ(atomic_load(&f->bad_reads), 0);
	ASSERT(st.evictions > 0);
	ASSERT(st.bytes <= max);
	put(d, c);
	alarm(0);
}

TEST(overrun_while_decoding_is_trimmed_afterwards)
{
	uint32_t grain = 64 * KiB;
	struct fake *f = fake_new(8 * (uint64_t)grain, grain, 14, true);
	struct cache *c;
	struct disk *d = wrap(f, grain, &c);
	struct reader rd = { .d = d, .f = f, .off = (uint64_t)grain + 5, .len = 100 };
	struct cache_stats st;

	alarm(120);
	disk_unref(&f->d);
	f->gate_block = 1;
	ASSERT_EQ(pthread_create(&rd.tid, NULL, reader_main, &rd), 0);
	while (atomic_load(&f->reads) == 0)
		usleep(1000);
	/* block 1's decode holds the whole budget and cannot be evicted: block 2 overruns it
	 * rather than fail or wait */
	check_read(d, f, 2 * (uint64_t)grain + 9, 100);
	st = stats(c);
	fake_open_gate(f);
	pthread_join(rd.tid, NULL);
	ASSERT_U64_EQ(st.bytes, 2 * (uint64_t)grain);
	ASSERT_OK(rd.r);
	ASSERT(rd.same);
	/* once both are idle the excess is given back */
	st = stats(c);
	ASSERT_U64_EQ(st.bytes, grain);
	ASSERT_U64_EQ(st.evictions, 1);
	put(d, c);
	alarm(0);
}

struct hammer {
	pthread_t tid;
	struct disk *d;
	struct fake *f;
	unsigned seed;
	bool hot; /* read block 0 whole, over and over; else random other blocks */
	unsigned bad;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint64_t grain = h->d->grain, nblocks = h->d->size / grain;
	unsigned char *buf = malloc(grain);

	if (!buf) {
		h->bad++;
		return NULL;
	}
	for (unsigned i = 0; i < 3000; i++) {
		uint64_t cold = 1 + (uint64_t)rand_r(&h->seed) % (nblocks - 1);
		uint64_t off = h->hot ? 0 : cold * grain;

		if (disk_read(h->d, buf, grain, off) != 0 ||
		    memcmp(buf, h->f->image + off, grain) != 0)
			h->bad++;
	}
	free(buf);
	return NULL;
}

TEST(eviction_spares_blocks_being_copied)
{
	uint32_t grain = 64 * KiB;
	struct fake *f = fake_new(64 * (uint64_t)grain, grain, 15, true);
	struct cache *c;
	struct disk *d = wrap(f, grain, &c);
	struct hammer hs[NTHREADS];

	alarm(300);
	disk_unref(&f->d);
	/* a one-block cache: every miss of the cold threads tries to evict the block the hot
	 * threads are copying out of; freeing it under them shows as wrong bytes (or ASan) */
	for (unsigned i = 0; i < NTHREADS; i++) {
		hs[i] = (struct hammer){ .d = d, .f = f, .seed = 77 + i, .hot = i % 2 == 0 };
		ASSERT_EQ(pthread_create(&hs[i].tid, NULL, hammer_main, &hs[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(hs[i].tid, NULL);
	for (unsigned i = 0; i < NTHREADS; i++)
		ASSERT_EQ(hs[i].bad, 0);
	ASSERT(stats(c).bytes <= grain);
	put(d, c);
	alarm(0);
}

/* ---- readahead ---- */

/* f wrapped in a cache of max bytes whose readahead runs threads workers, window bytes
 * ahead, and drops blocks two windows behind. */
static struct disk *wrap_ra(struct fake *f, uint64_t max, unsigned threads, uint64_t window,
			    struct cache **ret_cache)
{
	struct cache *c;
	struct disk *d;

	ASSERT_OK(cache_new(max, &c, E));
	ASSERT_OK(cache_set_readahead(c, threads, window, 2 * window));
	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	disk_unref(&f->d);
	*ret_cache = c;
	return d;
}

/* Wait (up to 30 s) until the workers decoded want blocks. */
static bool wait_for_readaheads(struct cache *c, uint64_t want)
{
	for (int i = 0; i < 30000; i++) {
		if (stats(c).readaheads >= want)
			return true;
		usleep(1000);
	}
	return false;
}

TEST(readahead_decodes_the_window_ahead_once)
{
	uint32_t grain = 64 * KiB;
	uint64_t nblocks = 64;
	struct fake *f = fake_new(nblocks * grain, grain, 30, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 64 * MiB, 2, 16 * (uint64_t)grain, &c);
	struct cache_stats st;

	alarm(120);
	check_read(d, f, 0, 4096);
	/* the read's own block, then the 16 blocks of the window behind it */
	ASSERT(wait_for_readaheads(c, 16));
	usleep(20000);
	ASSERT_EQ(atomic_load(&f->block_reads[0]), 1);
	for (uint64_t b = 1; b < nblocks; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), b <= 16 ? 1 : 0);
	/* a reader following along finds its blocks decoded (or being decoded: it waits),
	 * and the window moves with it; nothing is ever decoded twice */
	for (uint64_t off = 4096; off < d->size; off += 128 * KiB)
		check_read(d, f, off, (size_t)MIN(128 * KiB, d->size - off));
	for (uint64_t b = 0; b < nblocks; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), 1);
	ASSERT_EQ(atomic_load(&f->bad_reads), 0);
	/* a worker counts its block just after publishing it, which a waiting reader may
	 * see first */
	for (int i = 0; i < 1000 && stats(c).readaheads + stats(c).misses < nblocks; i++)
		usleep(1000);
	st = stats(c);
	ASSERT_U64_EQ(st.readaheads + st.misses, nblocks);
	ASSERT(st.readaheads >= 16);
	/* what is two windows behind the reader went at once */
	ASSERT(st.drops >= nblocks - 3 * 16 - 2);
	ASSERT_U64_EQ(st.bytes + st.drops * grain, nblocks * grain);
	put(d, c);
	alarm(0);
}

TEST(readahead_only_decodes_what_must_be)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 40;
	struct fake *f = fake_new(nblocks * grain, grain, 31, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 8 * MiB, 2, 32 * (uint64_t)grain, &c);

	alarm(120);
	for (uint64_t b = 1; b < nblocks; b++)
		if (b % 4)
			fake_set_state(f, b, b % 4 == 1 ? DISK_ZERO : b % 4 == 2 ? DISK_UNALLOC
									  : FAKE_RAW);
	check_read(d, f, 0, 100);
	/* blocks 4, 8, ..., 32 are DATA in the window: 8 of them */
	ASSERT(wait_for_readaheads(c, 8));
	usleep(20000);
	for (uint64_t b = 1; b < nblocks; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), b % 4 == 0 && b <= 32 ? 1 : 0);
	ASSERT_U64_EQ(stats(c).bytes, 9 * (uint64_t)grain);
	check_read(d, f, 0, (size_t)d->size);
	put(d, c);
	alarm(0);
}

TEST(random_reads_do_not_read_ahead)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 4096;
	struct fake *f = fake_new(nblocks * grain, grain, 32, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 64 * MiB, 2, 8 * (uint64_t)grain, &c);
	unsigned seed = 5;
	uint64_t prev = 0;

	alarm(120);
	check_read(d, f, 0, 100); /* the first read looks sequential */
	ASSERT(wait_for_readaheads(c, 8));
	for (int i = 0; i < 200; i++) {
		uint64_t b = (uint64_t)rand_r(&seed) % nblocks;

		/* never within a window of the last read */
		if (b * grain + 16 * grain >= prev && b * grain <= prev + 16 * grain)
			continue;
		check_read(d, f, b * grain + 10, 100);
		prev = b * grain + 110;
	}
	usleep(20000);
	ASSERT_U64_EQ(stats(c).readaheads, 8);
	put(d, c);
	alarm(0);
}

TEST(readahead_stays_within_the_cache)
{
	uint32_t grain = 64 * KiB;
	uint64_t nblocks = 256, max = MiB;
	struct fake *f = fake_new(nblocks * grain, grain, 33, true);
	struct cache *c;
	/* the default window: a quarter of the cache */
	struct disk *d;
	uint64_t peak = 0;

	alarm(120);
	ASSERT_OK(cache_new(max, &c, E));
	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	disk_unref(&f->d);
	f->sleep_ms = 1;
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t off = 0; off < d->size; off += 32 * KiB) {
			check_read(d, f, off, 32 * KiB);
			peak = MAX(peak, stats(c).bytes);
		}
	/* decodes in flight may overrun the bound by a block each (readers and workers);
	 * never by the whole window, and never by the disk */
	ASSERT(peak <= max + 8 * (uint64_t)grain);
	ASSERT(stats(c).readaheads > 0);
	usleep(50000);
	ASSERT(stats(c).bytes <= max);
	put(d, c);
	alarm(0);
}

TEST(readahead_of_a_failing_block_leaves_the_error_to_the_reader)
{
	uint32_t grain = 4096;
	struct fake *f = fake_new(32 * (uint64_t)grain, grain, 34, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, MiB, 2, 8 * (uint64_t)grain, &c);
	unsigned char buf[100];

	alarm(120);
	atomic_store(&f->fail_block, 3);
	check_read(d, f, 0, 100);
	ASSERT(wait_for_readaheads(c, 7));
	usleep(20000);
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 1);
	ASSERT_EQ(disk_read(d, buf, sizeof(buf), 3 * (uint64_t)grain), -EIO);
	ASSERT_EQ(atomic_load(&f->block_reads[3]), 2);
	atomic_store(&f->fail_block, -1);
	check_read(d, f, 0, (size_t)d->size);
	put(d, c);
	alarm(0);
}

TEST(freeing_a_disk_waits_for_its_readahead)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 64;
	struct fake *f = fake_new(nblocks * grain, grain, 35, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 8 * MiB, 2, 32 * (uint64_t)grain, &c);

	alarm(120);
	f->sleep_ms = 5;
	check_read(d, f, 0, 100);
	ASSERT(wait_for_readaheads(c, 1));
	/* the workers are in the middle of the window: the disk goes now, and must wait for
	 * the decodes in flight (ASan would see a worker read a freed fake) while the rest
	 * of the queue is dropped */
	put(d, c);
	alarm(0);
}

struct stripe_reader {
	pthread_t tid;
	struct disk *d;
	struct fake *f;
	pthread_barrier_t *round; /* the readers take their chunks a round at a time */
	unsigned first, step;
	size_t chunk;
	int bad;
};

static void *stripe_main(void *arg)
{
	struct stripe_reader *sr = arg;
	unsigned char *buf = malloc(sr->chunk);

	uint64_t size = sr->d->size, step = (uint64_t)sr->step * sr->chunk;

	for (uint64_t off = (uint64_t)sr->first * sr->chunk;; off += step) {
		size_t n = off < size ? (size_t)MIN((uint64_t)sr->chunk, size - off) : 0;

		if (n && (!buf || disk_read(sr->d, buf, n, off) != 0 ||
			  memcmp(buf, sr->f->image + off, n) != 0))
			sr->bad++;
		pthread_barrier_wait(sr->round);
		if (off >= size)
			break;
	}
	free(buf);
	return NULL;
}

/* The kernel reads a file ahead in several requests at once, which FUSE workers serve
 * in any order, never further apart than its readahead window: four threads each
 * reading every fourth chunk (not grain aligned), a round at a time, look like that. The
 * cache holds a few windows around them, however long the disk, and dropping blocks
 * behind them never makes a block decode twice. */
TEST(sequential_readers_keep_a_few_windows)
{
	uint32_t grain = 64 * KiB;
	uint64_t nblocks = 1024, window = 16 * (uint64_t)grain, peak = 0;
	struct fake *f = fake_new(nblocks * grain, grain, 36, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 256 * MiB, 2, window, &c);
	struct stripe_reader rs[4];
	pthread_barrier_t round;
	struct cache_stats st;

	alarm(120);
	pthread_barrier_init(&round, NULL, 4);
	for (unsigned i = 0; i < 4; i++) {
		rs[i] = (struct stripe_reader){ .d = d, .f = f, .round = &round, .first = i,
						.step = 4, .chunk = 100 * KiB };
		ASSERT_EQ(pthread_create(&rs[i].tid, NULL, stripe_main, &rs[i]), 0);
	}
	for (unsigned i = 0; i < 4;) {
		peak = MAX(peak, stats(c).bytes);
		if (pthread_tryjoin_np(rs[i].tid, NULL) == 0)
			i++;
		else
			usleep(100);
	}
	pthread_barrier_destroy(&round);
	for (unsigned i = 0; i < 4; i++)
		ASSERT_EQ(rs[i].bad, 0);
	for (uint64_t b = 0; b < nblocks; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), 1);
	st = stats(c);
	ASSERT(st.drops >= nblocks - 4 * window / grain);
	/* ahead: a window; behind: two, and a round of reads */
	ASSERT(peak <= 4 * window);
	put(d, c);
	alarm(0);
}

/* One request of many blocks, far from any other read: the workers decode blocks of it
 * while the reader decodes the first, and still no block is decoded twice. */
TEST(one_large_read_is_decoded_on_every_core)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 64;
	struct fake *f = fake_new(nblocks * grain, grain, 37, true);
	struct cache *c;
	struct disk *d = wrap_ra(f, 8 * MiB, 2, 4 * (uint64_t)grain, &c);

	alarm(120);
	f->sleep_ms = 5;
	check_read(d, f, 40 * (uint64_t)grain + 100, 16 * grain);
	/* a worker counts its block just after publishing it */
	ASSERT(wait_for_readaheads(c, 1));
	for (uint64_t b = 0; b < nblocks; b++)
		ASSERT(atomic_load(&f->block_reads[b]) <= 1);
	for (uint64_t b = 40; b <= 56; b++)
		ASSERT_EQ(atomic_load(&f->block_reads[b]), 1);
	put(d, c);
	alarm(0);
}

/* The kernel's page cache keeps what was read: blocks read whole leave the cache after
 * the next 256 such blocks, whatever the order; blocks read in part stay. */
TEST(blocks_read_whole_make_room)
{
	uint32_t grain = 4096;
	uint64_t nblocks = 1024;
	struct fake *f = fake_new(nblocks * grain, grain, 38, true);
	struct cache *c;
	struct disk *d;
	unsigned reads;

	ASSERT_OK(cache_new(64 * MiB, &c, E));
	/* no readahead, so no readahead workers and no sequential reader: only this */
	ASSERT_OK(cache_set_readahead(c, 0, 0, MiB));
	ASSERT_OK(cache_wrap(c, &f->d, &d, E));
	disk_unref(&f->d);
	for (uint64_t i = 0; i < 600; i++) {
		uint64_t b = i * 389 % nblocks; /* all different, scattered */

		/* the first 100 in two halves */
		if (i < 100) {
			check_read(d, f, b * grain, grain / 2);
			check_read(d, f, b * grain + grain / 2, grain / 2);
		} else {
			check_read(d, f, b * grain, grain);
		}
	}
	ASSERT_U64_EQ(stats(c).bytes, 256 * (uint64_t)grain);
	ASSERT_U64_EQ(stats(c).drops, 600 - 256);
	/* read in part: kept */
	reads = atomic_load(&f->block_reads[1000]);
	check_read(d, f, 1000 * (uint64_t)grain + 1, 100);
	check_read(d, f, 1000 * (uint64_t)grain + 1, 100);
	ASSERT_EQ(atomic_load(&f->block_reads[1000]), reads + 1);
	put(d, c);
}
