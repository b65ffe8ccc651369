/* SPDX-License-Identifier: MIT */
/*
 * The engine behind the ESXi delta formats: a grain directory kept in memory, grain
 * tables read from the file when a status needs them (see table-disk.h for why).
 *
 * At open the format fills tbl_off from its directory, and table_disk_check reads every
 * table once, in a few large reads: tables may not overlap (so the scan reads at most the
 * file once, and a hostile directory cannot make it read one table a million times),
 * and every entry of the capacity must decode and, for a grain with data, lie in the
 * format's grains area and in the file.  A table that maps nothing is dropped then, so
 * later walks skip it without reading it.
 *
 * At read time each thread keeps the last few tables it read, keyed by (disk, table
 * number), in buffers of its own: no lock, no allocation per request.  Disks are told
 * apart by an id from a counter rather than by address, so a disk freed and another one
 * allocated at the same place cannot be served the first one's tables.  A sequential
 * reader, or the qcow2 view walking the whole disk at mount, reads each table once; a
 * snapshot chain asks the child and then the parent, hence more than one slot.  An entry
 * read again is checked again, and one that no longer passes (the file changed under the
 * mount) fails the read with EIO and one log line.
 */
#include "table-disk.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/endian.h"
#include "../common/log.h"

/* Tables are read at open in batches of at most this many bytes (or one table, if
 * larger), reading through gaps of up to TBL_BATCH_GAP between neighbours: a few big
 * reads instead of one per table.  A bigger buffer only costs page faults on its first
 * touch (8 MiB made a 64 GiB sparse VMDK's mount 69 ms instead of 42). */
#define TBL_BATCH_BYTES (512u << 10)
#define TBL_BATCH_GAP (64u << 10)
/* Per-thread cache: a seSparse table is 32 KiB, a COWD table 16 KiB. */
#define TC_SLOTS 4u
#define TC_MAX_BYTES (32u << 10)

/* ---- the per-thread table cache ---- */

struct tc_slot {
	uint64_t owner, key; /* owner 0: empty */
	uint8_t *buf;	     /* TC_MAX_BYTES, allocated on first use */
};

struct tc {
	struct tc_slot slot[TC_SLOTS];
	unsigned next;
};

static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static bool tc_key_ok;
static atomic_uint_fast64_t tc_next_owner = 1;

static void tc_free(void *p)
{
	struct tc *c = p;

	for (unsigned i = 0; i < TC_SLOTS; i++)
		free(c->slot[i].buf);
	free(c);
}

static void tc_key_init(void)
{
	tc_key_ok = pthread_key_create(&tc_key, tc_free) == 0;
}

/* Point *ret at the len bytes at off of src that are table key of owner, from this
 * thread's cache or read now; valid until this thread's next tc_get. 0 or -errno. */
static int tc_get(uint64_t owner, uint64_t key, struct source *src, uint64_t off, size_t len,
		  const uint8_t **ret)
{
	struct tc *c;
	struct tc_slot *s;
	int r;

	assert(len <= TC_MAX_BYTES);
	pthread_once(&tc_once, tc_key_init);
	if (!tc_key_ok)
		return -ENOMEM;
	c = pthread_getspecific(tc_key);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		if (pthread_setspecific(tc_key, c) != 0) {
			free(c);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < TC_SLOTS; i++) {
		s = &c->slot[i];
		if (s->owner == owner && s->key == key) {
			*ret = s->buf;
			return 0;
		}
	}
	s = &c->slot[c->next];
	c->next = (c->next + 1) % TC_SLOTS;
	if (!s->buf) {
		s->buf = malloc(TC_MAX_BYTES);
		if (!s->buf)
			return -ENOMEM;
	}
	s->owner = 0; /* empty until the read succeeds */
	r = source_pread(src, s->buf, len, off);
	if (r < 0)
		return r;
	s->owner = owner;
	s->key = key;
	*ret = s->buf;
	return 0;
}

/* ---- entries ---- */

static uint64_t tbl_bytes(const struct table_disk *t)
{
	return (uint64_t)t->tbl_entries * t->fmt->entry_bytes;
}

static uint64_t entry_at(const struct table_disk *t, const uint8_t *tbl, uint32_t i)
{
	if (t->fmt->entry_bytes == 8)
		return le64(tbl + 8 * (size_t)i);
	return le32(tbl + 4 * (size_t)i);
}

/* The bytes of grain g that lie inside the disk. */
static uint64_t grain_valid_bytes(const struct table_disk *t, uint64_t g)
{
	return MIN(t->grain_bytes, t->d.size - (g << t->grain_shift));
}

/* Decode entry e of grain g and check where a DATA grain lies. NULL, or why it is bad;
 * *ret_end is then the end of the grain's bytes when the range was the problem, else 0. */
static const char *entry_check(const struct table_disk *t, uint64_t g, uint64_t e,
			       unsigned *ret_state, uint64_t *ret_off, uint64_t *ret_end)
{
	uint64_t end;
	const char *why;

	*ret_state = DISK_UNALLOC;
	*ret_off = 0;
	*ret_end = 0;
	why = t->fmt->decode(t, e, ret_state, ret_off);
	if (why || *ret_state != DISK_DATA)
		return why;
	if (CHECKED_ADD(*ret_off, grain_valid_bytes(t, g), &end))
		end = UINT64_MAX;
	*ret_end = end;
	if (*ret_off < t->data_lo)
		return "points into the metadata before the grains";
	if (end > t->data_hi)
		return "lies past the end of the grains area";
	if (end > t->src->size)
		return "lies past end of file";
	*ret_end = 0;
	return NULL;
}

/* ---- open ---- */

int table_disk_new(const struct table_disk_fmt *fmt, struct source *src, const char *name,
		   uint64_t size, uint64_t grain_bytes, uint32_t tbl_entries,
		   struct table_disk **ret, struct err *err)
{
	struct table_disk *t = calloc(1, sizeof(*t));

	if (!t)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	t->fmt = fmt;
	t->src = source_ref(src);
	t->grain_bytes = grain_bytes;
	t->grain_shift = (unsigned)__builtin_ctzll(grain_bytes);
	t->tbl_entries = tbl_entries;
	t->n_grains = DIV_ROUND_UP(size, grain_bytes);
	t->n_tbls = DIV_ROUND_UP(t->n_grains, tbl_entries);
	t->data_hi = UINT64_MAX;
	t->owner = atomic_fetch_add(&tc_next_owner, 1);
	t->tbl_off = calloc(t->n_tbls ? t->n_tbls : 1, sizeof(*t->tbl_off));
	if (!t->tbl_off ||
	    disk_init(&t->d, fmt->ops, name, size, (uint32_t)grain_bytes, false) < 0) {
		table_disk_free(&t->d); /* name is NULL if disk_init failed */
		return err_set(err, ENOMEM, "%s: out of memory for the grain directory", name);
	}
	*ret = t;
	return 0;
}

static int tbl_ref_cmp(const void *a, const void *b)
{
	const struct tbl_ref *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Check every entry of table ti (its bytes at p) inside the capacity: 1 when it maps
 * something, 0 when all of it is unallocated, -errno with err. */
static int check_table(const struct table_disk *t, uint64_t ti, const uint8_t *p, struct err *err)
{
	uint64_t g0 = ti * t->tbl_entries;
	uint32_t n = (uint32_t)MIN((uint64_t)t->tbl_entries, t->n_grains - g0);
	bool any = false;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = entry_at(t, p, i), off, end;
		unsigned state;
		const char *why = entry_check(t, g0 + i, e, &state, &off, &end);

		if (why && end)
			return err_set(err, EINVAL,
				       "%s: grain %" PRIu64 " (grain table %" PRIu64
				       " entry %" PRIu32 ") %s (bytes 0x%" PRIx64 "..0x%" PRIx64
				       ", file 0x%" PRIx64 " bytes)",
				       t->d.name, g0 + i, ti, i, why, off, end, t->src->size);
		if (why)
			return err_set(err, EINVAL,
				       "%s: grain %" PRIu64 " (grain table %" PRIu64
				       " entry %" PRIu32 ", 0x%0*" PRIx64 ") %s",
				       t->d.name, g0 + i, ti, i, (int)t->fmt->entry_bytes * 2, e,
				       why);
		any |= state != DISK_UNALLOC;
	}
	return any;
}

int tbl_refs_read(struct source *src, const char *name, struct tbl_ref *refs, size_t n, uint64_t tb,
		  int (*each)(void *ctx, const struct tbl_ref *ref, const uint8_t *bytes,
			      struct err *err),
		  void *ctx, struct err *err)
{
	CLEANUP_FREE uint8_t *batch = NULL;
	size_t batch_cap;
	int r;

	qsort(refs, n, sizeof(*refs), tbl_ref_cmp);
	for (size_t k = 1; k < n; k++)
		if (refs[k].off < refs[k - 1].off + tb)
			return err_set(err, EINVAL,
				       "%s: grain tables %" PRIu64 " and %" PRIu64
				       " overlap (at bytes 0x%" PRIx64 " and 0x%" PRIx64 ")",
				       name, refs[k - 1].index, refs[k].index, refs[k - 1].off,
				       refs[k].off);
	if (!n)
		return 0;
	/* src->size >= tb, since a table lies in it (the caller checked). */
	batch_cap = (size_t)MIN(MAX((uint64_t)TBL_BATCH_BYTES, tb), src->size);
	batch = malloc(batch_cap);
	if (!batch)
		return err_set(err, ENOMEM, "%s: out of memory for the grain tables", name);
	for (size_t k = 0, j; k < n; k = j) {
		uint64_t start = refs[k].off, end = start + tb;

		for (j = k + 1; j < n; j++) {
			uint64_t e = refs[j].off + tb;

			if (refs[j].off - end > TBL_BATCH_GAP || e - start > batch_cap)
				break;
			end = e;
		}
		r = source_pread(src, batch, end - start, start);
		if (r < 0)
			return err_set(err, -r, "%s: reading grain tables: %s", name, strerror(-r));
		for (size_t m = k; m < j; m++) {
			r = each(ctx, &refs[m], batch + (refs[m].off - start), err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* tbl_refs_read's callback for table_disk_check: a table that maps nothing is forgotten. */
static int check_one(void *ctx, const struct tbl_ref *ref, const uint8_t *bytes, struct err *err)
{
	struct table_disk *t = ctx;
	int r = check_table(t, ref->index, bytes, err);

	if (r == 0)
		t->tbl_off[ref->index] = 0;
	return r < 0 ? r : 0;
}

int table_disk_check(struct table_disk *t, struct err *err)
{
	const char *name = t->d.name;
	struct source *src = t->src;
	uint64_t tb = tbl_bytes(t);
	CLEANUP_FREE struct tbl_ref *refs = NULL;
	size_t n = 0;

	for (uint64_t i = 0; i < t->n_tbls; i++)
		n += t->tbl_off[i] != 0;
	refs = malloc((n ? n : 1) * sizeof(*refs));
	if (!refs)
		return err_set(err, ENOMEM, "%s: out of memory for the grain tables", name);
	n = 0;
	for (uint64_t i = 0; i < t->n_tbls; i++) {
		if (!t->tbl_off[i])
			continue;
		/* The format checked this; the scan below relies on it. */
		if (!range_ok(t->tbl_off[i], tb, src->size))
			return err_set(err, EINVAL,
				       "%s: grain table %" PRIu64 " at 0x%" PRIx64
				       " lies past end of file (0x%" PRIx64 " bytes)",
				       name, i, t->tbl_off[i], src->size);
		refs[n++] = (struct tbl_ref){ i, t->tbl_off[i] };
	}
	return tbl_refs_read(src, name, refs, n, tb, check_one, t, err);
}

/* ---- reading ---- */

int table_disk_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct table_disk *t = (struct table_disk *)d;
	uint64_t g = off >> t->grain_shift, pos = g << t->grain_shift, next_src = 0;
	uint64_t hint_end = len > d->size - off ? d->size : off + len;
	uint64_t cur_t = UINT64_MAX;
	const uint8_t *tbl = NULL;
	unsigned state = DISK_UNALLOC;
	bool first = true;
	int r;

	ret->src = NULL;
	ret->src_off = 0;
	while (pos < d->size) {
		uint64_t ti = g / t->tbl_entries, e, goff, end;
		unsigned s;
		const char *why;

		/* DATA stops at the hint: callers read what we return. A run of nothing
		 * may go on to the end of the table at hand, and across tables that map
		 * nothing, but reading another table for it would be wasted on a reader. */
		if (!first && pos >= hint_end &&
		    (state == DISK_DATA || (ti != cur_t && t->tbl_off[ti])))
			break;
		if (ti != cur_t) {
			cur_t = ti;
			tbl = NULL;
			if (t->tbl_off[ti]) {
				r = tc_get(t->owner, ti, t->src, t->tbl_off[ti], tbl_bytes(t),
					   &tbl);
				if (r < 0)
					return r;
			}
		}
		if (!tbl) {
			if (!first && state != DISK_UNALLOC)
				break;
			first = false;
			g = (ti + 1) * t->tbl_entries;
			pos = g << t->grain_shift;
			continue;
		}
		e = entry_at(t, tbl, (uint32_t)(g % t->tbl_entries));
		why = entry_check(t, g, e, &s, &goff, &end);
		if (why) {
			char key[48];

			snprintf(key, sizeof(key), "grain table %" PRIu64, ti);
			log_corrupt_once(d->name, key,
					 "grain %" PRIu64 " (grain table %" PRIu64 " entry %" PRIu64
					 ", 0x%" PRIx64
					 ") %s; it passed the checks at mount, so the "
					 "file changed under the mount",
					 g, ti, g % t->tbl_entries, e, why);
			return -EIO;
		}
		if (first) {
			first = false;
			state = s;
			if (s == DISK_DATA) {
				ret->src = t->src;
				ret->src_off = goff + (off - pos);
				next_src = goff + t->grain_bytes;
			}
		} else if (s != state) {
			break;
		} else if (s == DISK_DATA) {
			/* A run must stay contiguous in the file for src_off to hold. */
			if (goff != next_src)
				break;
			next_src += t->grain_bytes;
		}
		g++;
		pos += t->grain_bytes;
	}
	ret->state = state;
	ret->len = MIN(pos, d->size) - off;
	return 0;
}

void table_disk_free(struct disk *d)
{
	struct table_disk *t = (struct table_disk *)d;

	free(t->tbl_off);
	source_unref(t->src);
	free(t);
}
