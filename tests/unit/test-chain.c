/* SPDX-License-Identifier: MIT */
/*
 * Snapshot chains.  The chain disk over in-memory levels made of data, zero and
 * unallocated runs, checked against a byte-by-byte model of what a chain means (the first
 * level that allocated a byte owns it): block status (states, merged holes, DATA sources)
 * and reads of every range on a grid that crosses runs of different levels; the depth cap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/disk/disk.h"
#include "../lib/harness.h"

HARNESS_MAIN

#define KIB 1024u
#define S 512u

static uint8_t pattern_byte(unsigned seed, uint64_t off)
{
	return (uint8_t)((off * 2654435761u + seed * 40503u) >> 11);
}

static struct source *pattern_src(size_t len, unsigned seed, const char *name)
{
	uint8_t *p = malloc(len ? len : 1);
	struct source *s;

	ASSERT(p);
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(seed, i);
	ASSERT_OK(source_mem_new(p, len, name, &s, E));
	free(p);
	return s;
}

/* ------------------------------------------------------------------------------------ */
/* The chain disk over synthetic levels */

/* A level described one KiB a character: 'D' data (pattern seed at the disk offset), 'Z'
 * zero, '.' unallocated. */
struct level {
	const char *spec;
	unsigned seed;
};

static struct disk *make_level(const struct level *l)
{
	size_t n = strlen(l->spec), n_parts = 0;
	struct source *src = pattern_src(n * KIB, l->seed, "level");
	struct disk *parts[64], *d;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && l->spec[j] == l->spec[i])
			j++;
		ASSERT(n_parts < 64);
		if (l->spec[i] == 'D')
			ASSERT_OK(disk_flat_new(src, i * KIB, (j - i) * KIB, "data", &parts[n_parts],
						E));
		else
			ASSERT_OK(disk_zero_new((j - i) * KIB,
						l->spec[i] == 'Z' ? DISK_ZERO : DISK_UNALLOC, "hole",
						&parts[n_parts], E));
		n_parts++;
		i = j;
	}
	ASSERT_OK(disk_concat_new(parts, n_parts, "level", &d, E));
	for (size_t i = 0; i < n_parts; i++)
		disk_unref(parts[i]);
	source_unref(src);
	return d;
}

/* The model: the state of the KiB at k, and the level that owns it (n: none). */
static char model_state(const struct level *lv, size_t n, size_t k, size_t *ret_level)
{
	for (size_t i = 0; i < n; i++) {
		if (k >= strlen(lv[i].spec))
			break;
		if (lv[i].spec[k] != '.') {
			*ret_level = i;
			return lv[i].spec[k];
		}
	}
	*ret_level = n;
	return '.';
}

static uint8_t model_byte(const struct level *lv, size_t n, uint64_t off)
{
	size_t level;

	if (model_state(lv, n, off / KIB, &level) != 'D')
		return 0;
	return pattern_byte(lv[level].seed, off);
}

static unsigned state_of(char c)
{
	return c == 'D' ? DISK_DATA : c == 'Z' ? DISK_ZERO : DISK_UNALLOC;
}

/* Every status run and every read of the chain over lv[0..n) agrees with the model. */
static void check_chain(const struct level *lv, size_t n)
{
	struct disk *levels[8], *c;
	size_t size = strlen(lv[0].spec) * KIB, k;
	uint8_t *got = malloc(size), *want = malloc(size);

	ASSERT(n <= 8 && got && want);
	for (size_t i = 0; i < n; i++)
		levels[i] = make_level(&lv[i]);
	ASSERT_OK(disk_chain_new(levels, n, "chain", &c, E));
	for (size_t i = 0; i < n; i++)
		disk_unref(levels[i]);
	ASSERT_U64_EQ(c->size, size);
	for (size_t o = 0; o < size; o++)
		want[o] = model_byte(lv, n, o);

	/* Status from every KiB, with a short and a whole-disk hint. */
	for (k = 0; k < size / KIB; k++) {
		for (int hint = 0; hint < 2; hint++) {
			uint64_t off = k * KIB, len = hint ? size - off : KIB;
			struct disk_run run;
			size_t level;
			char st = model_state(lv, n, k, &level);

			ASSERT_OK(disk_status(c, off, len, &run));
			if (run.state != state_of(st) || run.len == 0 || run.len % KIB)
				HARNESS_FAIL("KiB %zu: state %u len %llu, model '%c'", k, run.state,
					     (unsigned long long)run.len, st);
			for (size_t j = k; j < k + run.len / KIB; j++)
				if (state_of(model_state(lv, n, j, &level)) != run.state)
					HARNESS_FAIL("KiB %zu: run from %zu is %u, model says '%c'", j,
						     k, run.state, model_state(lv, n, j, &level));
			if (run.state == DISK_DATA) {
				uint8_t b[KIB];

				/* The source must hold the run's bytes. */
				ASSERT(run.src);
				ASSERT_OK(source_pread(run.src, b, KIB, run.src_off));
				ASSERT(memcmp(b, want + off, KIB) == 0);
			} else if (off + run.len < off + len) {
				/* Holes and zeros come back whole, across levels. */
				char next = model_state(lv, n, k + run.len / KIB, &level);

				if (state_of(next) == run.state)
					HARNESS_FAIL("KiB %zu: run of %llu bytes stops short of more "
						     "'%c'", k, (unsigned long long)run.len, next);
			}
		}
	}
	/* Reads of every start and length on a grid that is not KiB-aligned. */
	ASSERT_OK(disk_read(c, got, size, 0));
	ASSERT(memcmp(got, want, size) == 0);
	for (uint64_t off = 0; off < size; off += 700)
		for (uint64_t len = 1; off + len <= size; len += 1500) {
			memset(got, 0xee, len);
			ASSERT_OK(disk_read(c, got, len, off));
			if (memcmp(got, want + off, len) != 0)
				HARNESS_FAIL("read [%llu, +%llu) differs", (unsigned long long)off,
					     (unsigned long long)len);
		}
	disk_unref(c);
	free(got);
	free(want);
}

TEST(status_and_reads_follow_the_first_allocating_level)
{
	const struct level lv[] = {
		{ "..DD..ZZ....D....Z..", 1 },
		{ "Z...DDD..ZZ...DD..Z.", 2 },
		{ "DDDDDDDD.....DDD..Z.", 3 },
	};

	check_chain(lv, 3);
	check_chain(lv, 2);
	check_chain(lv + 1, 2);
}

TEST(short_and_long_parents)
{
	/* A parent shorter than its child hides itself and what is below it past its end;
	 * a longer one is cut at the child's size. */
	const struct level shorter[] = {
		{ "D.......Z..", 4 },
		{ "..DD.", 5 },
		{ "DDDDDDDDDDDDDDDD", 6 },
	};
	const struct level longer[] = {
		{ "...D..", 7 },
		{ "Z.DD..ZZDDDD", 8 },
	};

	check_chain(shorter, 3);
	check_chain(longer, 2);
}

TEST(holes_merge_across_levels)
{
	const struct level lv[] = {
		{ "ZZ....ZZ....", 1 },
		{ "..ZZ......ZZ", 2 },
		{ "....ZZ......", 3 },
	};
	struct disk *levels[3], *c;
	struct disk_run run;

	for (int i = 0; i < 3; i++)
		levels[i] = make_level(&lv[i]);
	ASSERT_OK(disk_chain_new(levels, 3, "chain", &c, E));
	for (int i = 0; i < 3; i++)
		disk_unref(levels[i]);
	/* Zeros from three levels are one run, then the hole no level filled. */
	ASSERT_OK(disk_status(c, 0, c->size, &run));
	ASSERT_EQ(run.state, DISK_ZERO);
	ASSERT_U64_EQ(run.len, 8 * KIB);
	ASSERT_OK(disk_status(c, 8 * KIB, 1, &run));
	ASSERT_EQ(run.state, DISK_UNALLOC);
	ASSERT_U64_EQ(run.len, 1); /* the hint bounds the walk */
	ASSERT_OK(disk_status(c, 8 * KIB, c->size, &run));
	ASSERT_U64_EQ(run.len, 2 * KIB);
	disk_unref(c);
	check_chain(lv, 3);
}

TEST(depth_cap_of_the_chain_disk)
{
	struct disk *levels[DISK_CHAIN_MAX_DEPTH + 1], *c;
	struct disk_run run;
	uint8_t b[4];

	for (unsigned i = 0; i <= DISK_CHAIN_MAX_DEPTH; i++)
		ASSERT_OK(disk_zero_new(4096, DISK_UNALLOC, "u", &levels[i], E));
	ASSERT_ERR(disk_chain_new(levels, DISK_CHAIN_MAX_DEPTH + 1, "deep", &c, E), -EFBIG,
		   "deep: a chain of 65 disks");
	ASSERT_OK(disk_chain_new(levels, DISK_CHAIN_MAX_DEPTH, "deep", &c, E));
	ASSERT_OK(disk_status(c, 0, 4096, &run));
	ASSERT_EQ(run.state, DISK_UNALLOC);
	ASSERT_U64_EQ(run.len, 4096);
	ASSERT_OK(disk_read(c, b, sizeof(b), 100));
	ASSERT(b[0] == 0 && b[3] == 0);
	disk_unref(c);
	for (unsigned i = 0; i <= DISK_CHAIN_MAX_DEPTH; i++)
		disk_unref(levels[i]);
}
