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
 * The map is two bitmaps (data, zero) with one bit per guest cluster, plus a rank array
 * (data clusters before each 64-cluster word).  The host offset of guest cluster g is
 * data_start + rank(g) * 64 KiB: O(1).  The reverse, for reads in the data area, is a
 * binary search over the rank array.  Metadata clusters are generated from this when
 * read, never stored: an L2 table costs 8192 rank lookups, a refcount block a memset.
 * Memory is about 3 bits per guest cluster: 12 MiB for a 2 TiB disk.
 */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/endian.h"
#include "../common/log.h"

#define QCOW2_CLUSTER_BITS 16
#define QCOW2_CLUSTER ((uint64_t)1 << QCOW2_CLUSTER_BITS)
#define QCOW2_L2_ENTRIES (QCOW2_CLUSTER / 8)	 /* 8192: one L2 covers 512 MiB */
#define QCOW2_RB_ENTRIES (QCOW2_CLUSTER / 2)	 /* 32768 16-bit refcounts per block */
#define QCOW2_COPIED ((uint64_t)1 << 63)
#define QCOW2_ZERO_FLAG ((uint64_t)1)
#define QCOW2_HEADER_LEN 104
/* qemu refuses images whose L1 table exceeds 32 MiB (4M entries = 2 PiB of guest). */
#define QCOW2_MAX_L1_ENTRIES (32u << 20) / 8

struct qcow2_view {
	struct view v;
	struct disk *d;
	uint64_t clusters;	/* guest clusters */
	uint64_t n_words;	/* 64-bit words in each bitmap */
	uint64_t *data_bits;	/* bit g: guest cluster g holds data */
	uint64_t *zero_bits;	/* bit g: guest cluster g reads as zeros, no data */
	uint64_t *rank;		/* rank[w]: data clusters in words before w; rank[n_words] = total */
	uint64_t l1_entries;
	int64_t *l2_index;	/* per L1 entry: index of its L2 table, or -1 */
	uint64_t *l2_l1;	/* per L2 table: its L1 entry */
	uint64_t n_l2, n_data;
	uint64_t rt_start, rt_clusters, rb_start, rb_clusters, l1_start, l1_clusters, l2_start,
		data_start, host_clusters;
};

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

/* Data clusters before guest cluster g. */
static uint64_t rank_of(const struct qcow2_view *q, uint64_t g)
{
	uint64_t w = g / 64, b = g % 64;
	uint64_t below = b ? q->data_bits[w] & ((1ull << b) - 1) : 0;

	return q->rank[w] + (uint64_t)__builtin_popcountll(below);
}

/* The guest cluster that is the k-th (from 0) data cluster; k < n_data. */
static uint64_t select_data(const struct qcow2_view *q, uint64_t k)
{
	uint64_t lo = 0, hi = q->n_words, word;
	unsigned need;

	while (hi - lo > 1) { /* largest w with rank[w] <= k */
		uint64_t mid = lo + (hi - lo) / 2;

		if (q->rank[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	word = q->data_bits[lo];
	need = (unsigned)(k - q->rank[lo]);
	for (unsigned i = 0; i < need; i++)
		word &= word - 1; /* drop the lowest set bit */
	return lo * 64 + (uint64_t)__builtin_ctzll(word);
}

static void put_header(const struct qcow2_view *q, uint8_t *c)
{
	memset(c, 0, QCOW2_CLUSTER);
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
}

/* Fill c with host cluster hc (a metadata cluster, hc < data_start). */
static void put_metadata(const struct qcow2_view *q, uint64_t hc, uint8_t *c)
{
	if (hc == 0) {
		put_header(q, c);
		return;
	}
	memset(c, 0, QCOW2_CLUSTER);
	if (hc < q->rb_start) {
		/* refcount table: entries (hc - rt_start) * 8192 ... */
		uint64_t first = (hc - q->rt_start) * QCOW2_L2_ENTRIES;

		for (uint64_t i = 0; i < QCOW2_L2_ENTRIES && first + i < q->rb_clusters; i++)
			put_be64(c + i * 8, (q->rb_start + first + i) * QCOW2_CLUSTER);
	} else if (hc < q->l1_start) {
		/* refcount block: every cluster below host_clusters has refcount 1 */
		uint64_t first = (hc - q->rb_start) * QCOW2_RB_ENTRIES;

		for (uint64_t i = 0; i < QCOW2_RB_ENTRIES && first + i < q->host_clusters; i++)
			put_be16(c + i * 2, 1);
	} else if (hc < q->l2_start) {
		uint64_t first = (hc - q->l1_start) * QCOW2_L2_ENTRIES;

		for (uint64_t i = 0; i < QCOW2_L2_ENTRIES && first + i < q->l1_entries; i++) {
			int64_t l2 = q->l2_index[first + i];

			if (l2 >= 0)
				put_be64(c + i * 8, ((q->l2_start + (uint64_t)l2) * QCOW2_CLUSTER) |
							    QCOW2_COPIED);
		}
	} else {
		uint64_t first = q->l2_l1[hc - q->l2_start] * QCOW2_L2_ENTRIES;

		for (uint64_t i = 0; i < QCOW2_L2_ENTRIES && first + i < q->clusters; i++) {
			uint64_t g = first + i;

			if (bit_get(q->data_bits, g))
				put_be64(c + i * 8,
					 (q->data_start + rank_of(q, g)) * QCOW2_CLUSTER |
						 QCOW2_COPIED);
			else if (bit_get(q->zero_bits, g))
				put_be64(c + i * 8, QCOW2_ZERO_FLAG);
		}
	}
}

static ssize_t qcow2_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	struct qcow2_view *q = (struct qcow2_view *)v;
	uint8_t *p = buf;
	size_t done = 0;
	uint8_t *meta = NULL;

	while (done < len) {
		uint64_t pos = off + done, hc = pos / QCOW2_CLUSTER, in = pos % QCOW2_CLUSTER;
		size_t n = (size_t)MIN((uint64_t)(len - done), QCOW2_CLUSTER - in);

		if (hc < q->data_start) {
			if (!meta) {
				meta = malloc(QCOW2_CLUSTER);
				if (!meta)
					return -ENOMEM;
			}
			put_metadata(q, hc, meta);
			memcpy(p + done, meta + in, n);
		} else {
			uint64_t g = select_data(q, hc - q->data_start);
			uint64_t goff = g * QCOW2_CLUSTER + in;
			size_t in_disk = goff >= q->d->size ? 0
					 : (size_t)MIN((uint64_t)n, q->d->size - goff);
			int r = in_disk ? disk_read(q->d, p + done, in_disk, goff) : 0;

			if (r < 0) {
				free(meta);
				return r;
			}
			memset(p + done + in_disk, 0, n - in_disk);
		}
		done += n;
	}
	free(meta);
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
	else if (run.src && source_locate(run.src, run.src_off, ret->len, &ret->fd,
					  &ret->fd_off) == 0)
		ret->kind = VIEW_PIECE_FD;
	return 0;
}

static void qcow2_free(struct view *v)
{
	struct qcow2_view *q = (struct qcow2_view *)v;

	disk_unref(q->d);
	free(q->data_bits);
	free(q->zero_bits);
	free(q->rank);
	free(q->l2_index);
	free(q->l2_l1);
	free(q);
}

static const struct view_ops qcow2_ops = {
	.kind = "qcow2",
	.read = qcow2_read,
	.piece = qcow2_piece,
	.free = qcow2_free,
};

/* Walk the disk's status runs once and fill the bitmaps. */
static int qcow2_build_map(struct qcow2_view *q, struct err *err)
{
	uint64_t off = 0;

	while (off < q->d->size) {
		struct disk_run run;
		uint64_t first, last;
		int r = disk_status(q->d, off, q->d->size - off, &run);

		if (r < 0)
			return err_set(err, -r, "%s: block status at 0x%llx failed: %s", q->d->name,
				       (unsigned long long)off, strerror(-r));
		first = off / QCOW2_CLUSTER;
		last = DIV_ROUND_UP(off + run.len, QCOW2_CLUSTER);
		if (run.state == DISK_DATA)
			bits_set(q->data_bits, first, last);
		else if (run.state == DISK_ZERO)
			bits_set(q->zero_bits, first, last);
		off += run.len;
	}
	return 0;
}

/* Compute the layout: counts first, then the refcount area, which depends on itself. */
static int qcow2_layout(struct qcow2_view *q, struct err *err)
{
	uint64_t fixed, rb = 0, rt = 0;

	q->n_l2 = 0;
	for (uint64_t i = 0; i < q->l1_entries; i++) {
		uint64_t w0 = i * (QCOW2_L2_ENTRIES / 64);
		uint64_t w1 = MIN(q->n_words, w0 + QCOW2_L2_ENTRIES / 64);
		bool used = false;

		for (uint64_t w = w0; w < w1 && !used; w++)
			used = q->data_bits[w] || q->zero_bits[w];
		q->l2_index[i] = -1;
		if (used) {
			q->l2_l1[q->n_l2] = i;
			q->l2_index[i] = (int64_t)q->n_l2++;
		}
	}
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
		return err_set(err, EFBIG, "%s: qcow2 refcount table would be too large", q->v.name);
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
	q->n_words = DIV_ROUND_UP(q->clusters, 64);
	q->l1_entries = DIV_ROUND_UP(q->clusters, QCOW2_L2_ENTRIES);
	if (q->l1_entries > QCOW2_MAX_L1_ENTRIES) {
		qcow2_free(&q->v);
		return err_set(err, EFBIG, "%s: %llu bytes is too large for a qcow2 image", d->name,
			       (unsigned long long)d->size);
	}
	q->data_bits = calloc(q->n_words, 8);
	q->zero_bits = calloc(q->n_words, 8);
	q->rank = calloc(q->n_words + 1, 8);
	q->l2_index = calloc(q->l1_entries, sizeof(*q->l2_index));
	q->l2_l1 = calloc(q->l1_entries, sizeof(*q->l2_l1));
	if (!q->data_bits || !q->zero_bits || !q->rank || !q->l2_index || !q->l2_l1 ||
	    view_init(&q->v, &qcow2_ops, name, 0) < 0) {
		free(q->v.name);
		qcow2_free(&q->v);
		return err_set(err, ENOMEM, "%s: out of memory for the qcow2 map", name);
	}
	r = qcow2_build_map(q, err);
	if (r < 0)
		goto fail;
	for (uint64_t w = 0; w < q->n_words; w++) {
		q->zero_bits[w] &= ~q->data_bits[w]; /* data wins over zero in a cluster */
		q->rank[w + 1] = q->rank[w] + (uint64_t)__builtin_popcountll(q->data_bits[w]);
	}
	q->n_data = q->rank[q->n_words];
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
