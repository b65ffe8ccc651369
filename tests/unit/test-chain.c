/* SPDX-License-Identifier: MIT */
/*
 * Snapshot chains.  The chain disk over in-memory levels made of data, zero and
 * unallocated runs, checked against a byte-by-byte model of what a chain means (the first
 * level that allocated a byte owns it): block status (states, merged holes, DATA sources)
 * and reads of every range on a grid that crosses runs of different levels.  Then VMDK
 * chains opened by vmdk_open through an in-memory resolver: hosted sparse deltas written
 * here after VMware's spec over flat parents, parentFileNameHint resolution (relative,
 * ESXi and Windows absolute paths, subdirectories, ".." refused), the CID check and
 * -o ignore_cid, missing parents and hints, loops, and the depth cap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/common/endian.h"
#include "../../formats/disk/vmdk.h"
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

/* ------------------------------------------------------------------------------------ */
/* VMDK chains through a resolver */

#define MEMFS_MAX 80

struct memfs {
	char *names[MEMFS_MAX];
	struct source *srcs[MEMFS_MAX];
	size_t n;
	char asked[256]; /* the last name asked for */
};

static void memfs_add(struct memfs *m, const char *name, struct source *s)
{
	ASSERT(m->n < MEMFS_MAX);
	m->names[m->n] = strdup(name);
	m->srcs[m->n++] = s;
}

static void memfs_free(struct memfs *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->names[i]);
		source_unref(m->srcs[i]);
	}
}

static struct source *memfs_get(struct memfs *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return m->srcs[i];
	HARNESS_FAIL("no %s in the memfs", name);
}

static int memfs_open(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct memfs *m = opaque;

	snprintf(m->asked, sizeof(m->asked), "%s", file);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->names[i], file) == 0) {
			*ret = source_ref(m->srcs[i]);
			return 0;
		}
	return err_set(err, ENOENT, "%s: no such file", file);
}

static struct source *text_src(const char *t, const char *name)
{
	struct source *s;

	ASSERT_OK(source_mem_new(t, strlen(t), name, &s, E));
	return s;
}

/* A flat disk: descriptor name with CID cid (and a parent when hint is not NULL) over
 * extent file flat of len bytes (added when seed is not 0).  Both files are in
 * directory dir ("" or "sub/"), in which the descriptor names its extent. */
static void add_flat(struct memfs *m, const char *dir, const char *name, uint32_t cid,
		     uint32_t parent_cid, const char *hint, const char *flat, size_t len,
		     unsigned seed)
{
	char d[512], path[256];

	snprintf(d, sizeof(d),
		 "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=%08x\n"
		 "createType=\"monolithicFlat\"\n%s%s%s"
		 "RW %zu FLAT \"%s\" 0\n",
		 cid, parent_cid, hint ? "parentFileNameHint=\"" : "", hint ? hint : "",
		 hint ? "\"\n" : "", len / S, flat);
	snprintf(path, sizeof(path), "%s%s", dir, name);
	memfs_add(m, path, text_src(d, path));
	snprintf(path, sizeof(path), "%s%s", dir, flat);
	if (seed)
		memfs_add(m, path, pattern_src(len, seed, path));
}

/*
 * A hosted sparse extent written after VMware's "Virtual Disk Format 5.0", section 2:
 * header in sector 0, the embedded descriptor (when desc is not NULL) in sectors 1-2,
 * the grain directory in sector 3 (one table), the grain table in sectors 4-7 (512
 * entries), grains of 8 sectors from sector 8 on.  kinds[g] says what grain g is: 'D'
 * data (pattern seed at its disk offset), 'Z' a zeroed-grain entry, '.' unallocated.
 */
static struct source *sparse_src(const char *name, const char *kinds, unsigned seed,
				 const char *desc)
{
	size_t ng = strlen(kinds), nd = 0, len;
	uint8_t *b;
	struct source *s;

	for (size_t g = 0; g < ng; g++)
		nd += kinds[g] == 'D';
	len = (8 + 8 * nd) * S;
	b = calloc(1, len);
	ASSERT(b && ng <= 512);
	memcpy(b, "KDMV", 4);
	put_le32(b + 4, 2);
	put_le32(b + 8, 1 | 4); /* newline test, zeroed-grain entries */
	put_le64(b + 12, ng * 8);
	put_le64(b + 20, 8);
	put_le64(b + 28, desc ? 1 : 0);
	put_le64(b + 36, desc ? 2 : 0);
	put_le32(b + 44, 512);
	put_le64(b + 48, 0);
	put_le64(b + 56, 3);
	put_le64(b + 64, 8);
	memcpy(b + 73, "\n \r\n", 4);
	if (desc) {
		ASSERT(strlen(desc) < 2 * S);
		memcpy(b + S, desc, strlen(desc));
	}
	put_le32(b + 3 * S, 4);
	for (size_t g = 0, k = 0; g < ng; g++) {
		if (kinds[g] == 'Z') {
			put_le32(b + 4 * S + 4 * g, 1);
		} else if (kinds[g] == 'D') {
			uint64_t at = (8 + 8 * k++) * S;

			put_le32(b + 4 * S + 4 * g, (uint32_t)(at / S));
			for (size_t i = 0; i < 8 * S; i++)
				b[at + i] = pattern_byte(seed, g * 8 * S + i);
		}
	}
	ASSERT_OK(source_mem_new(b, len, name, &s, E));
	free(b);
	return s;
}

/* A monolithicSparse delta named name over the parent its hint names. */
static void add_delta(struct memfs *m, const char *name, const char *kinds, unsigned seed,
		      uint32_t cid, uint32_t parent_cid, const char *hint)
{
	char d[2 * S];

	snprintf(d, sizeof(d),
		 "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=%08x\n"
		 "createType=\"monolithicSparse\"\nparentFileNameHint=\"%s\"\n"
		 "RW %zu SPARSE \"%s\"\n",
		 cid, parent_cid, hint, strlen(kinds) * 8, name);
	memfs_add(m, name, sparse_src(name, kinds, seed, d));
}

static int open_chain(struct memfs *m, const char *leaf, bool ignore_cid, struct disk **ret)
{
	struct vmdk_opts o = { .open_file = memfs_open, .opaque = m, .ignore_cid = ignore_cid };

	err_clear(E);
	return vmdk_open(memfs_get(m, leaf), &o, ret, E);
}

TEST(a_delta_reads_what_it_left_unallocated_from_its_parents)
{
	/* leaf over mid over base, 4 KiB grains; the base is flat. */
	const char *leaf = "..D.Z..D", *mid = ".DD..Z..";
	struct memfs m = { 0 };
	struct disk *d;
	struct disk_run run;
	uint8_t got[8 * 4096], want[8 * 4096];

	add_flat(&m, "", "base.vmdk", 0xb0, VMDK_CID_NONE, NULL, "base-flat.vmdk", sizeof(got), 3);
	add_delta(&m, "mid.vmdk", mid, 2, 0x20, 0xb0, "base.vmdk");
	add_delta(&m, "leaf.vmdk", leaf, 1, 0x10, 0x20, "mid.vmdk");
	for (size_t o = 0; o < sizeof(want); o++) {
		size_t g = o / 4096;
		char l = leaf[g], mm = mid[g];

		want[o] = l == 'D'   ? pattern_byte(1, o)
			  : l == 'Z' ? 0
			  : mm == 'D' ? pattern_byte(2, o)
			  : mm == 'Z' ? 0
				      : pattern_byte(3, o);
	}
	ASSERT_OK(open_chain(&m, "leaf.vmdk", false, &d));
	ASSERT_U64_EQ(d->size, sizeof(got));
	ASSERT_OK(disk_read(d, got, sizeof(got), 0));
	ASSERT(memcmp(got, want, sizeof(got)) == 0);
	/* A read across grains of all three levels. */
	ASSERT_OK(disk_read(d, got, 3 * 4096 + 100, 4000));
	ASSERT(memcmp(got, want + 4000, 3 * 4096 + 100) == 0);
	/* The zeroed grain in the leaf hides the base's data; the one in mid too. */
	ASSERT_OK(disk_status(d, 4 * 4096, 4096, &run));
	ASSERT_EQ(run.state, DISK_ZERO);
	ASSERT_OK(disk_status(d, 5 * 4096, 4096, &run));
	ASSERT_EQ(run.state, DISK_ZERO);
	ASSERT_OK(disk_status(d, 4 * 4096, d->size, &run));
	ASSERT_U64_EQ(run.len, 2 * 4096);
	ASSERT_OK(disk_status(d, 0, 4096, &run));
	ASSERT_EQ(run.state, DISK_DATA);
	ASSERT(run.src == memfs_get(&m, "base-flat.vmdk"));
	/* The descriptor above the chain is the leaf's. */
	ASSERT_STREQ(vmdk_get_desc(d)->parent_hint, "mid.vmdk");
	disk_unref(d);
	memfs_free(&m);
}

TEST(parent_hints_resolve_beside_the_child)
{
	static const struct {
		const char *hint, *want;
	} ok[] = {
		{ "base.vmdk", "base.vmdk" },
		{ "/vmfs/volumes/5f1e-aa/vm/base.vmdk", "base.vmdk" },
		{ "C:\\Users\\me\\VMs\\vm\\base.vmdk", "base.vmdk" },
		{ "D:base.vmdk", "base.vmdk" },
		{ "\\\\server\\share\\vm\\base.vmdk", "base.vmdk" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct memfs m = { 0 };
		struct disk *d;

		add_flat(&m, "", "base.vmdk", 7, VMDK_CID_NONE, NULL, "base-flat.vmdk", 8192, 3);
		add_delta(&m, "leaf.vmdk", "..", 1, 8, 7, ok[i].hint);
		if (open_chain(&m, "leaf.vmdk", false, &d) < 0)
			HARNESS_FAIL("hint \"%s\": %s", ok[i].hint, E->msg);
		disk_unref(d);
		memfs_free(&m);
	}
}

TEST(a_parent_in_a_subdirectory_resolves_its_files_there)
{
	struct memfs m = { 0 };
	struct disk *d;
	uint8_t b[16];

	/* The leaf's hint names sub\mid.vmdk, mid's names base.vmdk: that is sub/base.vmdk,
	 * whose extent base-flat.vmdk is sub/base-flat.vmdk, as is mid's second extent. */
	add_flat(&m, "sub/", "base.vmdk", 7, VMDK_CID_NONE, NULL, "base-flat.vmdk", 8192, 3);
	memfs_add(&m, "sub/mid.vmdk",
		  text_src("CID=00000009\nparentCID=00000007\ncreateType=\"custom\"\n"
			   "parentFileNameHint=\"base.vmdk\"\n"
			   "RW 8 ZERO\nRW 8 FLAT \"base-flat.vmdk\" 0\n",
			   "sub/mid.vmdk"));
	add_delta(&m, "leaf.vmdk", "..", 1, 8, 9, "sub\\mid.vmdk");
	ASSERT_OK(open_chain(&m, "leaf.vmdk", false, &d));
	ASSERT_OK(disk_read(d, b, sizeof(b), 4096));
	ASSERT(b[0] == pattern_byte(3, 0) && b[15] == pattern_byte(3, 15));
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	ASSERT(b[0] == 0 && b[15] == 0);
	disk_unref(d);
	memfs_free(&m);
}

TEST(refusals_name_the_child_and_the_structure)
{
	static const struct {
		const char *hint;
		int code;
		const char *want;
	} bad[] = {
		{ "../base.vmdk", -EPERM, "parentFileNameHint \"../base.vmdk\" leaves the child's "
					  "directory" },
		{ "sub/../../base.vmdk", -EPERM, "\"..\"" },
		{ "..\\base.vmdk", -EPERM, "leaves the child's directory" },
		{ "/vmfs/volumes/ds/vm/", -EINVAL, "names no file" },
		{ "C:\\", -EINVAL, "names no file" },
		{ "nowhere.vmdk", -ENOENT, "leaf.vmdk: cannot open its parent (parentFileNameHint "
					   "\"nowhere.vmdk\"): nowhere.vmdk: no such file" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct memfs m = { 0 };
		struct disk *d = NULL;
		int r;

		add_flat(&m, "", "base.vmdk", 7, VMDK_CID_NONE, NULL, "base-flat.vmdk", 8192, 3);
		add_delta(&m, "leaf.vmdk", "..", 1, 8, 7, bad[i].hint);
		r = open_chain(&m, "leaf.vmdk", false, &d);
		if (r != bad[i].code || !strstr(E->msg, bad[i].want))
			HARNESS_FAIL("hint \"%s\": %d \"%s\", want %d and \"%s\"", bad[i].hint, r,
				     E->msg, bad[i].code, bad[i].want);
		ASSERT(!strchr(E->msg, '\n'));
		memfs_free(&m);
	}
}

TEST(a_parent_hint_is_needed)
{
	struct memfs m = { 0 };
	struct disk *d;

	memfs_add(&m, "f.raw", pattern_src(4096, 1, "f.raw"));
	memfs_add(&m, "x.vmdk", text_src("createType=\"monolithicFlat\"\nparentCID=abcdef01\n"
					 "RW 8 FLAT \"f.raw\"\n", "x.vmdk"));
	ASSERT_ERR(open_chain(&m, "x.vmdk", false, &d), -EINVAL,
		   "x.vmdk: parentCID=abcdef01 makes it a snapshot delta, but no "
		   "parentFileNameHint names its parent");
	memfs_free(&m);
}

TEST(cid_mismatch_is_refused_unless_ignore_cid)
{
	struct memfs m = { 0 };
	struct disk *d;
	uint8_t b[8];

	add_flat(&m, "", "base.vmdk", 0x1234abcd, VMDK_CID_NONE, NULL, "base-flat.vmdk", 8192, 3);
	add_delta(&m, "mid.vmdk", "..", 2, 0x20, 0x1234abcd, "base.vmdk");
	add_delta(&m, "leaf.vmdk", "D.", 1, 0x10, 0x21, "mid.vmdk");
	ASSERT_ERR(open_chain(&m, "leaf.vmdk", false, &d), -EINVAL,
		   "leaf.vmdk: parentCID=00000021 does not match the CID=00000020 of its "
		   "parent mid.vmdk");
	ASSERT(strstr(E->msg, "-o ignore_cid"));
	ASSERT_OK(open_chain(&m, "leaf.vmdk", true, &d));
	ASSERT_OK(disk_read(d, b, sizeof(b), 4096));
	ASSERT(b[0] == pattern_byte(3, 4096));
	disk_unref(d);
	memfs_free(&m);
}

TEST(a_bare_sparse_parent_has_no_cid)
{
	struct memfs m = { 0 };
	struct disk *d;
	uint8_t b[8];

	memfs_add(&m, "base.vmdk", sparse_src("base.vmdk", "DD", 4, NULL));
	add_delta(&m, "leaf.vmdk", ".D", 1, 0x10, 0x20, "base.vmdk");
	ASSERT_ERR(open_chain(&m, "leaf.vmdk", false, &d), -EINVAL, "has no CID");
	ASSERT_OK(open_chain(&m, "leaf.vmdk", true, &d));
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	ASSERT(b[0] == pattern_byte(4, 0));
	ASSERT_OK(disk_read(d, b, sizeof(b), 4096));
	ASSERT(b[0] == pattern_byte(1, 4096));
	disk_unref(d);
	memfs_free(&m);
}

TEST(loops_are_refused)
{
	struct memfs m = { 0 };
	struct disk *d;

	/* a -> b -> a, and a file that is its own parent; no CID could satisfy a loop, so
	 * ignore_cid must not get past it either. */
	add_delta(&m, "a.vmdk", "..", 1, 0xa, 0xb, "b.vmdk");
	add_delta(&m, "b.vmdk", "..", 2, 0xb, 0xa, "a.vmdk");
	add_delta(&m, "self.vmdk", "..", 3, 0xc, 0xc, "self.vmdk");
	ASSERT_ERR(open_chain(&m, "a.vmdk", true, &d), -ELOOP,
		   "a.vmdk: snapshot chain loops: b.vmdk names a.vmdk as its parent");
	ASSERT_ERR(open_chain(&m, "b.vmdk", false, &d), -ELOOP, "loops");
	ASSERT_ERR(open_chain(&m, "self.vmdk", false, &d), -ELOOP,
		   "self.vmdk names self.vmdk as its parent");
	memfs_free(&m);
}

TEST(chains_deeper_than_the_cap_are_refused)
{
	struct memfs m = { 0 };
	struct disk *d;
	char name[32], hint[32];
	uint8_t b[4];

	/* d0 over d1 ... over d64, each a flat disk over the same extent: 65 files. */
	memfs_add(&m, "flat.raw", pattern_src(4096, 5, "flat.raw"));
	for (unsigned i = 0; i <= DISK_CHAIN_MAX_DEPTH; i++) {
		snprintf(name, sizeof(name), "d%u.vmdk", i);
		snprintf(hint, sizeof(hint), "d%u.vmdk", i + 1);
		add_flat(&m, "", name, i, i == DISK_CHAIN_MAX_DEPTH ? VMDK_CID_NONE : i + 1,
			 i == DISK_CHAIN_MAX_DEPTH ? NULL : hint, "flat.raw", 4096, 0);
	}
	ASSERT_ERR(open_chain(&m, "d0.vmdk", false, &d), -EFBIG,
		   "d0.vmdk: snapshot chain deeper than 64 files");
	/* From d1 it is 64 files: the most we open. */
	ASSERT_OK(open_chain(&m, "d1.vmdk", false, &d));
	ASSERT_OK(disk_read(d, b, sizeof(b), 0));
	ASSERT(b[0] == pattern_byte(5, 0));
	disk_unref(d);
	memfs_free(&m);
}

TEST(levels_are_opened_once_for_several_chains)
{
	struct memfs m = { 0 };
	struct vmdk_levels *levels;
	struct vmdk_opts o = { .open_file = memfs_open, .opaque = &m };
	struct disk *a, *b, *c, *d;
	uint8_t x[8], y[8];

	add_flat(&m, "", "base.vmdk", 7, VMDK_CID_NONE, NULL, "base-flat.vmdk", 8192, 3);
	add_delta(&m, "s1.vmdk", "D.", 1, 8, 7, "base.vmdk");
	add_delta(&m, "s2.vmdk", ".D", 2, 9, 8, "s1.vmdk");
	/* Without a set every call opens its own levels. */
	ASSERT_OK(vmdk_open(memfs_get(&m, "base.vmdk"), &o, &a, E));
	ASSERT_OK(vmdk_open(memfs_get(&m, "base.vmdk"), &o, &b, E));
	ASSERT(a != b);
	disk_unref(a);
	disk_unref(b);
	/* With one, the current state's chain and a snapshot's share s1 and base. */
	ASSERT_OK(vmdk_levels_new(&levels));
	o.levels = levels;
	ASSERT_OK(vmdk_open(memfs_get(&m, "s2.vmdk"), &o, &a, E));
	ASSERT_OK(vmdk_open(memfs_get(&m, "s1.vmdk"), &o, &b, E));
	ASSERT_OK(vmdk_open(memfs_get(&m, "base.vmdk"), &o, &c, E));
	ASSERT_OK(vmdk_open(memfs_get(&m, "base.vmdk"), &o, &d, E));
	ASSERT(c == d);
	ASSERT(vmdk_get_desc(b) != vmdk_get_desc(a));
	disk_unref(d);
	ASSERT_OK(vmdk_open(memfs_get(&m, "s1.vmdk"), &o, &d, E));
	ASSERT(vmdk_get_desc(b) == vmdk_get_desc(d));
	vmdk_levels_free(levels);
	/* The disks keep their levels after the set is gone. */
	ASSERT_OK(disk_read(a, x, sizeof(x), 0));
	ASSERT_OK(disk_read(b, y, sizeof(y), 0));
	ASSERT(x[0] == pattern_byte(1, 0) && memcmp(x, y, sizeof(x)) == 0);
	ASSERT_OK(disk_read(a, x, sizeof(x), 4096));
	ASSERT(x[0] == pattern_byte(2, 4096));
	ASSERT_OK(disk_read(b, y, sizeof(y), 4096));
	ASSERT(y[0] == pattern_byte(3, 4096));
	disk_unref(a);
	disk_unref(b);
	disk_unref(c);
	disk_unref(d);
	memfs_free(&m);
}
