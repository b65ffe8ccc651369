/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 view: a qcow2 version 3 image of a disk, synthesised on read.
 *
 * Notes on the format (qemu's docs/interop/qcow2.txt is the reference):
 *
 * The image is laid out deterministically from the disk's allocation map, so its size
 * and every offset are known at mount from counts alone:
 *
 *     cluster 0              header (104 bytes), then the end-of-extensions marker
 *     rt_start ..            refcount table: one 8-byte entry per refcount block
 *     rb_start ..            refcount blocks: one 16-bit refcount per host cluster
 *     l1_start ..            L1 table: one 8-byte entry per 512 MiB of guest space
 *     l2_start ..            the L2 tables that have any entry, in guest order
 *     data_start ..          the data clusters, in guest order
 *
 * Clusters are 64 KiB; refcounts are 16-bit (refcount_order 4) and every cluster of the
 * image has refcount 1, so the COPIED flag (bit 63) is set on every L1 and L2 entry that
 * points somewhere.  A guest cluster is a data cluster when any byte of it is DATA; its
 * other bytes read as whatever the disk reads there (zeros in a leaf).  A cluster with no
 * data but some ZERO bytes gets an L2 entry with the zero flag (bit 0) and no host
 * cluster; an all-UNALLOCATED cluster has entry 0.  There is no backing file, so both
 * read as zeros, and qemu-img compare sees the same content as the disk.
 *
 * The map is a sorted array of segments, each a run of L1 entries (512 MiB of guest
 * each) that have an L2 table: either a run of entries whose every cluster is data (or
 * every one zero), held as a count, or one mixed entry with a bitmap of its 8192 clusters
 * (data, zero: 2 KiB).  Each segment knows the L2 tables and data clusters before it, so
 * the host offset of a guest cluster, and the guest cluster of a host one, are a binary
 * search over segments and at most a 128-word scan.  Memory follows how fragmented the
 * allocation is, not the capacity a header claims: an empty 2 PiB disk costs nothing, a
 * full one one segment; it is capped at QCOW2_MAP_MAX.  Metadata clusters are generated
 * from the map when read, never stored, straight into the reply.
 */
#include "view.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/endian.h"
#include "../common/log.h"

#define QCOW2_CLUSTER_BITS 16
#define QCOW2_CLUSTER ((uint64_t)1 << QCOW2_CLUSTER_BITS)
#define QCOW2_L2_ENTRIES (QCOW2_CLUSTER / 8) /* 8192: one L2 covers 512 MiB */
#define QCOW2_RB_ENTRIES (QCOW2_CLUSTER / 2) /* 32768 16-bit refcounts per block */
#define QCOW2_COPIED ((uint64_t)1 << 63)
#define QCOW2_ZERO_FLAG ((uint64_t)1)
#define QCOW2_HEADER_LEN 104
/* qemu refuses images whose L1 table exceeds 32 MiB (4M entries = 2 PiB of guest). */
#define QCOW2_MAX_L1_ENTRIES (32u << 20) / 8
/* 64-bit words in one L2 table's bitmap of clusters */
#define QCOW2_WORDS (QCOW2_L2_ENTRIES / 64)
/* The map's memory cap: 256 MiB is about 100,000 mixed L2 tables, a 50 TiB disk whose
 * allocation changes inside every 512 MiB; no real disk comes near. */
#define QCOW2_MAP_MAX ((uint64_t)256 << 20)

struct qcow2_seg {
	uint64_t l1;	      /* first L1 entry */
	uint64_t n;	      /* L1 entries (1 when mixed) */
	uint64_t l2_before;   /* L2 tables in earlier segments */
	uint64_t data_before; /* data clusters in earlier segments */
	uint64_t n_data;      /* data clusters in this one */
	uint64_t *bits;	      /* mixed: data bits, then zero bits, QCOW2_WORDS each */
	bool data;	      /* not mixed: every cluster is data (else every one zero) */
};

struct qcow2_view {
	struct view v;
	struct disk *d;
	uint64_t clusters; /* guest clusters */
	uint64_t l1_entries;
	struct qcow2_seg *segs;
	size_t n_segs, cap_segs;
	uint64_t map_bytes; /* against QCOW2_MAP_MAX */
	uint64_t n_l2, n_data;
	uint64_t rt_start, rt_clusters, rb_start, rb_clusters, l1_start, l1_clusters, l2_start,
		data_start, host_clusters;
};

/* Guest clusters under L1 entry l1 (all 8192 but in the last one). */
static uint64_t l1_clusters_of(const struct qcow2_view *q, uint64_t l1)
{
	return MIN(QCOW2_L2_ENTRIES, q->clusters - l1 * QCOW2_L2_ENTRIES);
}

static bool bit_get(const uint64_t *bits, uint64_t i)
{
	return bits[i / 64] >> (i % 64) & 1;
}

/* Set bits [from, to). */
static void bits_set(uint64_t *bits, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t w = from / 64, b = from % 64, n = MIN(64 - b, to - from);
		uint64_t mask = n == 64 ? ~0ull : ((1ull << n) - 1) << b;

		bits[w] |= mask;
		from += n;
	}
}

/* Set bits below i in a mixed segment's data bitmap. */
static uint64_t bits_rank(const uint64_t *bits, uint64_t i)
{
	uint64_t r = 0;

	for (uint64_t w = 0; w < i / 64; w++)
		r += (uint64_t)__builtin_popcountll(bits[w]);
	if (i % 64)
		r += (uint64_t)__builtin_popcountll(bits[i / 64] & ((1ull << (i % 64)) - 1));
	return r;
}

/* The last segment whose key (the uint64_t at offset key in it) is <= k, or the first one;
 * segments are sorted by every key. */
static size_t seg_search(const struct qcow2_view *q, size_t key, uint64_t k)
{
	size_t lo = 0, hi = q->n_segs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v;

		memcpy(&v, (const char *)&q->segs[mid] + key, sizeof(v));
		if (v <= k)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The segment holding the k-th (from 0) data cluster; k < n_data.  Of segments with one
 * data_before, only the last can hold data, and that is the one the search finds. */
static uint64_t select_data(const struct qcow2_view *q, uint64_t k)
{
	const struct qcow2_seg *s =
		&q->segs[seg_search(q, offsetof(struct qcow2_seg, data_before), k)];
	uint64_t need = k - s->data_before, w, word;

	if (!s->bits)
		return s->l1 * QCOW2_L2_ENTRIES + need;
	for (w = 0; w < QCOW2_WORDS; w++) {
		uint64_t c = (uint64_t)__builtin_popcountll(s->bits[w]);

		if (need < c)
			break;
		need -= c;
	}
	word = s->bits[w];
	for (uint64_t i = 0; i < need; i++)
		word &= word - 1; /* drop the lowest set bit */
	return s->l1 * QCOW2_L2_ENTRIES + w * 64 + (uint64_t)__builtin_ctzll(word);
}

/* Write the big-endian value v, es bytes wide, of table entry e into the part
 * [in, in + n) of a cluster that out holds. */
static void put_entry(uint8_t *out, uint64_t in, size_t n, uint64_t e, unsigned es, uint64_t v)
{
	uint8_t b[8];
	uint64_t at = e * es;

	if (es == 8)
		put_be64(b, v);
	else
		put_be16(b, (uint16_t)v);
	for (unsigned i = 0; i < es; i++)
		if (at + i >= in && at + i < in + n)
			out[at + i - in] = b[i];
}

static void put_header(const struct qcow2_view *q, uint64_t in, size_t n, uint8_t *out)
{
	uint8_t c[QCOW2_HEADER_LEN + 8] = { 0 };

	put_be32(c + 0, 0x514649fb); /* "QFI\xfb" */
	put_be32(c + 4, 3);
	put_be32(c + 20, QCOW2_CLUSTER_BITS);
	put_be64(c + 24, q->d->size);
	put_be32(c + 36, (uint32_t)q->l1_entries);
	put_be64(c + 40, q->l1_start * QCOW2_CLUSTER);
	put_be64(c + 48, q->rt_start * QCOW2_CLUSTER);
	put_be32(c + 56, (uint32_t)q->rt_clusters);
	put_be32(c + 96, 4); /* refcount_order: 16-bit refcounts */
	put_be32(c + 100, QCOW2_HEADER_LEN);
	/* The header extension area starts at 104 with the end marker: 8 zero bytes. */
	if (in < sizeof(c))
		memcpy(out, c + in, MIN((uint64_t)n, sizeof(c) - in));
}

/* Entries [e0, e1) of L1 cluster (first entry first): the L2 tables, in guest order. */
static void put_l1(const struct qcow2_view *q, uint64_t first, uint64_t e0, uint64_t e1,
		   uint64_t in, size_t n, uint8_t *out)
{
	size_t i;

	if (!q->n_segs)
		return;
	i = seg_search(q, offsetof(struct qcow2_seg, l1), first + e0);
	for (; i < q->n_segs; i++) {
		const struct qcow2_seg *s = &q->segs[i];

		for (uint64_t l1 = MAX(s->l1, first + e0); l1 < s->l1 + s->n; l1++) {
			uint64_t l2 = q->l2_start + s->l2_before + (l1 - s->l1);

			if (l1 >= first + e1)
				return;
			put_entry(out, in, n, l1 - first, 8, l2 * QCOW2_CLUSTER | QCOW2_COPIED);
		}
	}
}

/* Entries [e0, e1) of L2 table t. */
static void put_l2(const struct qcow2_view *q, uint64_t t, uint64_t e0, uint64_t e1, uint64_t in,
		   size_t n, uint8_t *out)
{
	const struct qcow2_seg *s =
		&q->segs[seg_search(q, offsetof(struct qcow2_seg, l2_before), t)];
	uint64_t l1 = s->l1 + (t - s->l2_before), rank;

	e1 = MIN(e1, l1_clusters_of(q, l1));
	if (!s->bits) {
		uint64_t host = q->data_start + s->data_before + (l1 - s->l1) * QCOW2_L2_ENTRIES;

		for (uint64_t e = e0; e < e1; e++)
			put_entry(out, in, n, e, 8,
				  s->data ? (host + e) * QCOW2_CLUSTER | QCOW2_COPIED
					  : QCOW2_ZERO_FLAG);
		return;
	}
	rank = q->data_start + s->data_before + bits_rank(s->bits, e0);
	for (uint64_t e = e0; e < e1; e++) {
		if (bit_get(s->bits, e))
			put_entry(out, in, n, e, 8, rank++ * QCOW2_CLUSTER | QCOW2_COPIED);
		else if (bit_get(s->bits + QCOW2_WORDS, e))
			put_entry(out, in, n, e, 8, QCOW2_ZERO_FLAG);
	}
}

/* Bytes [in, in + n) of host cluster hc (a metadata cluster, hc < data_start). */
static void put_metadata(const struct qcow2_view *q, uint64_t hc, uint64_t in, size_t n,
			 uint8_t *out)
{
	uint64_t e0 = in / 8, e1 = DIV_ROUND_UP(in + n, 8);

	memset(out, 0, n);
	if (hc == 0) {
		put_header(q, in, n, out);
	} else if (hc < q->rb_start) {
		/* refcount table: entries (hc - rt_start) * 8192 ... */
		uint64_t first = (hc - q->rt_start) * QCOW2_L2_ENTRIES;

		for (uint64_t e = e0; e < e1 && first + e < q->rb_clusters; e++)
			put_entry(out, in, n, e, 8, (q->rb_start + first + e) * QCOW2_CLUSTER);
	} else if (hc < q->l1_start) {
		/* refcount block: every cluster below host_clusters has refcount 1 */
		uint64_t first = (hc - q->rb_start) * QCOW2_RB_ENTRIES;

		for (uint64_t e = in / 2;
		     e < DIV_ROUND_UP(in + n, 2) && first + e < q->host_clusters; e++)
			put_entry(out, in, n, e, 2, 1);
	} else if (hc < q->l2_start) {
		uint64_t first = (hc - q->l1_start) * QCOW2_L2_ENTRIES;

		put_l1(q, first, e0, MIN(e1, q->l1_entries - first), in, n, out);
	} else {
		put_l2(q, hc - q->l2_start, e0, e1, in, n, out);
	}
}

static ssize_t qcow2_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	struct qcow2_view *q = (struct qcow2_view *)v;
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done, hc = pos / QCOW2_CLUSTER, in = pos % QCOW2_CLUSTER;
		size_t n = (size_t)MIN((uint64_t)(len - done), QCOW2_CLUSTER - in);

		if (hc < q->data_start) {
			put_metadata(q, hc, in, n, p + done);
		} else {
			uint64_t g = select_data(q, hc - q->data_start);
			uint64_t goff = g * QCOW2_CLUSTER + in;
			size_t in_disk = goff >= q->d->size
						 ? 0
						 : (size_t)MIN((uint64_t)n, q->d->size - goff);
			int r = in_disk ? disk_read(q->d, p + done, in_disk, goff) : 0;

			if (r < 0)
				return r;
			memset(p + done + in_disk, 0, n - in_disk);
		}
		done += n;
	}
	return (ssize_t)len;
}

static int qcow2_piece(struct view *v, uint64_t off, size_t len, struct view_piece *ret)
{
	struct qcow2_view *q = (struct qcow2_view *)v;
	uint64_t hc = off / QCOW2_CLUSTER, in = off % QCOW2_CLUSTER, g, goff;
	struct disk_run run;
	int r;

	ret->kind = VIEW_PIECE_READ;
	if (hc < q->data_start) {
		ret->len = (size_t)MIN((uint64_t)len, q->data_start * QCOW2_CLUSTER - off);
		return 0;
	}
	/* A data cluster: its bytes are the guest cluster's, which may sit raw in a file
	 * or be zeros in part (only the part inside the disk counts). */
	g = select_data(q, hc - q->data_start);
	goff = g * QCOW2_CLUSTER + in;
	ret->len = (size_t)MIN((uint64_t)len, QCOW2_CLUSTER - in);
	if (goff >= q->d->size) {
		ret->kind = VIEW_PIECE_ZERO;
		return 0;
	}
	ret->len = (size_t)MIN((uint64_t)ret->len, q->d->size - goff);
	r = disk_status(q->d, goff, ret->len, &run);
	if (r < 0)
		return r;
	ret->len = (size_t)MIN((uint64_t)ret->len, run.len);
	if (run.state != DISK_DATA)
		ret->kind = VIEW_PIECE_ZERO;
	else if (run.src &&
		 source_locate(run.src, run.src_off, ret->len, &ret->fd, &ret->fd_off) == 0)
		ret->kind = VIEW_PIECE_FD;
	return 0;
}

static void qcow2_free(struct view *v)
{
	struct qcow2_view *q = (struct qcow2_view *)v;

	disk_unref(q->d);
	for (size_t i = 0; i < q->n_segs; i++)
		free(q->segs[i].bits);
	free(q->segs);
	free(q);
}

static const struct view_ops qcow2_ops = {
	.kind = "qcow2",
	.read = qcow2_read,
	.piece = qcow2_piece,
	.free = qcow2_free,
};

/* The map is built from the disk's status runs in guest order: the L1 entry being
 * filled is held in a scratch bitmap and becomes a segment once the runs move past it;
 * runs that cover whole entries are added as counts without touching a bitmap. */
struct map_builder {
	uint64_t cur; /* the L1 entry in scratch */
	bool dirty;
	uint64_t scratch[2 * QCOW2_WORDS];
};

static int map_fail(struct qcow2_view *q, struct err *err)
{
	return err_set(err, EFBIG,
		       "%s: the allocation map is too fragmented for a qcow2 image (over %llu MiB)",
		       q->d->name, (unsigned long long)(QCOW2_MAP_MAX >> 20));
}

/* Append n L1 entries: mixed (bits, taken over) or all data / all zero.  Merges with the
 * segment before when that is the same kind and adjacent. */
static int seg_push(struct qcow2_view *q, uint64_t l1, uint64_t n, bool data, uint64_t *bits,
		    struct err *err)
{
	struct qcow2_seg *s;

	if (!bits && q->n_segs) {
		s = &q->segs[q->n_segs - 1];
		if (!s->bits && s->data == data && s->l1 + s->n == l1) {
			s->n += n;
			return 0;
		}
	}
	if (q->n_segs == q->cap_segs) {
		size_t cap = q->cap_segs ? q->cap_segs * 2 : 64;
		uint64_t grow = (uint64_t)(cap - q->cap_segs) * sizeof(*s);

		if (q->map_bytes + grow > QCOW2_MAP_MAX ||
		    !(s = realloc(q->segs, cap * sizeof(*s)))) {
			free(bits);
			return q->map_bytes + grow > QCOW2_MAP_MAX
				       ? map_fail(q, err)
				       : err_set(err, ENOMEM, "%s: out of memory for the qcow2 map",
						 q->v.name);
		}
		q->segs = s;
		q->cap_segs = cap;
		q->map_bytes += grow;
	}
	q->segs[q->n_segs++] = (struct qcow2_seg){ .l1 = l1, .n = n, .data = data, .bits = bits };
	return 0;
}

/* Turn the scratch entry into a segment, or nothing if it has no data and no zeros. */
static int map_flush(struct qcow2_view *q, struct map_builder *b, struct err *err)
{
	uint64_t *data = b->scratch, *zero = b->scratch + QCOW2_WORDS, *bits;
	uint64_t n = l1_clusters_of(q, b->cur), nd = 0, nz = 0;

	if (!b->dirty)
		return 0;
	b->dirty = false;
	for (unsigned w = 0; w < QCOW2_WORDS; w++) {
		zero[w] &= ~data[w]; /* data wins over zero in a cluster */
		nd += (uint64_t)__builtin_popcountll(data[w]);
		nz += (uint64_t)__builtin_popcountll(zero[w]);
	}
	if (nd == n || (nz == n && !nd) || (!nd && !nz)) {
		memset(b->scratch, 0, sizeof(b->scratch));
		return nd || nz ? seg_push(q, b->cur, 1, nd == n, NULL, err) : 0;
	}
	if (q->map_bytes + sizeof(b->scratch) > QCOW2_MAP_MAX)
		return map_fail(q, err);
	bits = malloc(sizeof(b->scratch));
	if (!bits)
		return err_set(err, ENOMEM, "%s: out of memory for the qcow2 map", q->v.name);
	memcpy(bits, b->scratch, sizeof(b->scratch));
	memset(b->scratch, 0, sizeof(b->scratch));
	q->map_bytes += sizeof(b->scratch);
	return seg_push(q, b->cur, 1, false, bits, err);
}

/* Guest clusters [first, last) are data (or zero, when !data). */
static int map_add(struct qcow2_view *q, struct map_builder *b, uint64_t first, uint64_t last,
		   bool data, struct err *err)
{
	while (first < last) {
		uint64_t l1 = first / QCOW2_L2_ENTRIES, start = l1 * QCOW2_L2_ENTRIES;
		uint64_t end = MIN(last, start + QCOW2_L2_ENTRIES);
		int r;

		if (l1 != b->cur) {
			r = map_flush(q, b, err);
			if (r < 0)
				return r;
			b->cur = l1;
		}
		/* Whole entries up to the one holding the run's last cluster, which the next run
		 * may share, go in as a count. */
		if (first == start && !b->dirty && (last - 1) / QCOW2_L2_ENTRIES > l1) {
			uint64_t upto = (last - 1) / QCOW2_L2_ENTRIES;

			r = seg_push(q, l1, upto - l1, data, NULL, err);
			if (r < 0)
				return r;
			first = upto * QCOW2_L2_ENTRIES;
			continue;
		}
		bits_set(b->scratch + (data ? 0 : QCOW2_WORDS), first - start, end - start);
		b->dirty = true;
		first = end;
	}
	return 0;
}

/* Walk the disk's status runs once and build the segments. */
static int qcow2_build_map(struct qcow2_view *q, struct err *err)
{
	struct map_builder *b = calloc(1, sizeof(*b));
	uint64_t off = 0;
	int r = 0;

	if (!b)
		return err_set(err, ENOMEM, "%s: out of memory for the qcow2 map", q->v.name);
	while (off < q->d->size && r == 0) {
		struct disk_run run;

		r = disk_status(q->d, off, q->d->size - off, &run);
		if (r < 0) {
			r = err_set(err, -r, "%s: block status at 0x%llx failed: %s", q->d->name,
				    (unsigned long long)off, strerror(-r));
			break;
		}
		if (run.state == DISK_DATA || run.state == DISK_ZERO)
			r = map_add(q, b, off / QCOW2_CLUSTER,
				    DIV_ROUND_UP(off + run.len, QCOW2_CLUSTER),
				    run.state == DISK_DATA, err);
		off += run.len;
	}
	if (r == 0)
		r = map_flush(q, b, err);
	free(b);
	if (r < 0)
		return r;
	for (size_t i = 0; i < q->n_segs; i++) {
		struct qcow2_seg *s = &q->segs[i];

		s->l2_before = q->n_l2;
		s->data_before = q->n_data;
		if (s->bits)
			s->n_data = bits_rank(s->bits, QCOW2_L2_ENTRIES);
		else if (s->data)
			s->n_data = MIN(q->clusters, (s->l1 + s->n) * QCOW2_L2_ENTRIES) -
				    s->l1 * QCOW2_L2_ENTRIES;
		q->n_l2 += s->n;
		q->n_data += s->n_data;
	}
	return 0;
}

/* Compute the layout: counts first, then the refcount area, which depends on itself. */
static int qcow2_layout(struct qcow2_view *q, struct err *err)
{
	uint64_t fixed, rb = 0, rt = 0;

	q->l1_clusters = DIV_ROUND_UP(q->l1_entries * 8, QCOW2_CLUSTER);
	fixed = 1 + q->l1_clusters + q->n_l2 + q->n_data;
	/* Refcount blocks must cover themselves and the table: iterate to the fixed point. */
	for (int i = 0; i < 16; i++) {
		uint64_t total = fixed + rb + rt;
		uint64_t nrb = DIV_ROUND_UP(total, QCOW2_RB_ENTRIES);
		uint64_t nrt = DIV_ROUND_UP(nrb * 8, QCOW2_CLUSTER);

		if (nrb == rb && nrt == rt)
			break;
		rb = nrb;
		rt = nrt;
	}
	if (rt > UINT32_MAX)
		return err_set(err, EFBIG, "%s: qcow2 refcount table would be too large",
			       q->v.name);
	q->rt_start = 1;
	q->rt_clusters = rt;
	q->rb_start = q->rt_start + rt;
	q->rb_clusters = rb;
	q->l1_start = q->rb_start + rb;
	q->l2_start = q->l1_start + q->l1_clusters;
	q->data_start = q->l2_start + q->n_l2;
	q->host_clusters = q->data_start + q->n_data;
	if (q->host_clusters > q->rb_clusters * QCOW2_RB_ENTRIES)
		return err_set(err, EIO, "%s: qcow2 refcount layout did not converge", q->v.name);
	return 0;
}

int view_qcow2_new(struct disk *d, const char *name, struct view **ret, struct err *err)
{
	struct qcow2_view *q;
	uint64_t size;
	int r;

	if (d->size == 0)
		return err_set(err, EINVAL, "%s: the disk is empty", d->name);
	q = calloc(1, sizeof(*q));
	if (!q)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	q->d = disk_ref(d);
	q->clusters = DIV_ROUND_UP(d->size, QCOW2_CLUSTER);
	q->l1_entries = DIV_ROUND_UP(q->clusters, QCOW2_L2_ENTRIES);
	if (q->l1_entries > QCOW2_MAX_L1_ENTRIES) {
		qcow2_free(&q->v);
		return err_set(err, EFBIG, "%s: %llu bytes is too large for a qcow2 image", d->name,
			       (unsigned long long)d->size);
	}
	if (view_init(&q->v, &qcow2_ops, name, 0) < 0) {
		qcow2_free(&q->v);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	r = qcow2_build_map(q, err);
	if (r < 0)
		goto fail;
	r = qcow2_layout(q, err);
	if (r < 0)
		goto fail;
	if (CHECKED_MUL(q->host_clusters, QCOW2_CLUSTER, &size)) {
		r = err_set(err, EFBIG, "%s: qcow2 image would exceed 2^64 bytes", name);
		goto fail;
	}
	q->v.size = size;
	*ret = &q->v;
	return 0;
fail:
	free(q->v.name);
	qcow2_free(&q->v);
	return r;
}
