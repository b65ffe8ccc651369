/* SPDX-License-Identifier: MIT */
/*
 * The qcow2 view (formats/view/qcow2.c) against a slow reference.  The input is an
 * allocation map: 3-byte records, each one run of the disk,
 *
 *      byte 0  bits 0-1  state: 0 UNALLOCATED, 1 DATA, 2 ZERO, 3 UNALLOCATED
 *              bits 2-3  unit: 1 byte, 512 bytes, 64 KiB, 512 MiB
 *              bits 4-5  how status answers inside the run: all of it at once, up to the
 *                        next cluster boundary, a pseudo-random part, up to the next
 *                        sector (pieces at least 1/64th of the run)
 *      byte 1-2  length - 1 in units, little-endian
 *
 * capped at MAP_MAX_SIZE bytes of disk and MAP_MAX_MAPPED bytes of DATA and ZERO runs.
 * A disk built from the map answers status from it and reads a pattern where it is DATA,
 * zeros elsewhere.  The view's image is then read back the simple way, as qemu's
 * docs/interop/qcow2.txt describes it, without looking at qcow2.c: header fields, the
 * refcount table and blocks, L1 and L2 entries.  Every guest cluster must be mapped as
 * the map says (DATA: a host cluster, the k-th data cluster at the k-th cluster of the
 * data area that ends the image; ZERO: the zero flag; otherwise nothing), every host
 * cluster referenced exactly once with refcount 1, nothing else counted, and sampled data
 * clusters must hold the disk's bytes.
 */
#include <errno.h>
#include <string.h>

#include "../../formats/common/endian.h"
#include "../../formats/view/view.h"
#include "disk-check.h"
#include "fuzz.h"

#define CL UINT64_C(65536)
#define L2_ENTRIES UINT64_C(8192)
#define RB_ENTRIES UINT64_C(32768)
#define MAP_MAX_SIZE (UINT64_C(1) << 38)
#define MAP_MAX_MAPPED (UINT64_C(1) << 32)
#define SAMPLES 16
#define COPIED (UINT64_C(1) << 63)
#define COMPRESSED (UINT64_C(1) << 62)
#define OFFSET_MASK UINT64_C(0x00fffffffffffe00)

enum { SPLIT_NONE, SPLIT_CLUSTER, SPLIT_RANDOM, SPLIT_SECTOR };

struct map_run {
	uint64_t off, len;
	unsigned state, split;
};

struct map_disk {
	struct disk d;
	struct map_run *runs;
	size_t n;
};

static uint8_t pattern(uint64_t o)
{
	return (uint8_t)((o * 0x9e3779b97f4a7c15ull) >> 56) | 1;
}

/* The run holding off (< size). */
static size_t run_at(const struct map_disk *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->runs[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int map_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct map_disk *m = (struct map_disk *)d;
	const struct map_run *r = &m->runs[run_at(m, off)];
	uint64_t n = r->off + r->len - off;

	(void)len;
	/* Pieces of at least 1/64th of the run keep the walk of a huge run short. */
	switch (r->split) {
	case SPLIT_CLUSTER:
		n = MIN(n, MAX(CL - off % CL, r->len / 64));
		break;
	case SPLIT_RANDOM: {
		uint64_t s = off;

		n = MIN(n, MAX(1 + fuzz_rand(&s) % n, r->len / 64));
		break;
	}
	case SPLIT_SECTOR:
		n = MIN(n, MAX(512 - off % 512, r->len / 64));
		break;
	}
	*ret = (struct disk_run){ .len = n, .state = r->state };
	return 0;
}

static int map_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct map_disk *m = (struct map_disk *)d;
	uint8_t *p = buf;

	for (size_t i = run_at(m, off); len; i++) {
		const struct map_run *r = &m->runs[i];
		size_t n = (size_t)MIN((uint64_t)len, r->off + r->len - off);

		if (r->state == DISK_DATA)
			for (size_t k = 0; k < n; k++)
				p[k] = pattern(off + k);
		else
			memset(p, 0, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void map_free(struct disk *d)
{
	struct map_disk *m = (struct map_disk *)d;

	free(m->runs);
	free(m);
}

static const struct disk_ops map_ops = {
	.kind = "fuzz-map",
	.read = map_read,
	.status = map_status,
	.free = map_free,
};

static struct map_disk *map_new(const uint8_t *data, size_t size)
{
	static const uint64_t units[] = { 1, 512, CL, CL * L2_ENTRIES };
	static const unsigned states[] = { DISK_UNALLOC, DISK_DATA, DISK_ZERO, DISK_UNALLOC };
	struct map_disk *m = calloc(1, sizeof(*m));
	uint64_t total = 0, mapped = 0;

	FUZZ_CHECK(m && (m->runs = calloc(size / 3 + 1, sizeof(*m->runs))), "out of memory");
	for (size_t i = 0; i + 3 <= size && total < MAP_MAX_SIZE; i += 3) {
		struct map_run *r = &m->runs[m->n];
		uint64_t len =
			(1 + (uint64_t)(data[i + 1] | data[i + 2] << 8)) * units[data[i] >> 2 & 3];

		r->state = states[data[i] & 3];
		r->split = data[i] >> 4 & 3;
		r->off = total;
		r->len = MIN(len, MAP_MAX_SIZE - total);
		if (r->state != DISK_UNALLOC) {
			if (mapped + r->len > MAP_MAX_MAPPED)
				r->state = DISK_UNALLOC;
			else
				mapped += r->len;
		}
		total += r->len;
		m->n++;
	}
	FUZZ_CHECK(disk_init(&m->d, &map_ops, "fuzz-map", total, 512, false) == 0, "out of memory");
	return m;
}

/* What the map says of guest cluster g: DATA if any byte is, else ZERO if any byte is. */
static unsigned cluster_state(const struct map_disk *m, uint64_t g)
{
	uint64_t start = g * CL, end = MIN(start + CL, m->d.size);
	unsigned st = DISK_UNALLOC;

	for (size_t i = run_at(m, start); i < m->n && m->runs[i].off < end; i++) {
		if (m->runs[i].state == DISK_DATA)
			return DISK_DATA;
		if (m->runs[i].state == DISK_ZERO)
			st = DISK_ZERO;
	}
	return st;
}

/* Guest clusters the map gives data, counted over DATA runs only. */
static uint64_t data_clusters(const struct map_disk *m)
{
	uint64_t n = 0, next = 0; /* first cluster not counted yet */

	for (size_t i = 0; i < m->n; i++) {
		const struct map_run *r = &m->runs[i];
		uint64_t first = r->off / CL, last = (r->off + r->len - 1) / CL;

		if (r->state != DISK_DATA || last < next)
			continue;
		first = MAX(first, next);
		n += last - first + 1;
		next = last + 1;
	}
	return n;
}

struct image {
	struct view *v;
	uint64_t clusters; /* host clusters */
	uint8_t *counts;   /* references to each host cluster, as the reference finds them */
	uint8_t *buf;	   /* one cluster */
};

static void read_cluster(struct image *im, uint64_t hc, uint8_t *buf)
{
	ssize_t n = view_read(im->v, buf, CL, hc * CL);

	FUZZ_CHECK(n == (ssize_t)CL, "reading host cluster 0x%" PRIx64 " gave %zd", hc, n);
}

/* Count a reference to the cluster at byte offset off (a table's or data). */
static void ref_cluster(struct image *im, uint64_t off, const char *what)
{
	FUZZ_CHECK(off % CL == 0, "%s at 0x%" PRIx64 " is not cluster-aligned", what, off);
	FUZZ_CHECK(off / CL < im->clusters, "%s at 0x%" PRIx64 " is past the end (0x%" PRIx64 ")",
		   what, off, im->clusters * CL);
	if (im->counts[off / CL] < 255)
		im->counts[off / CL]++;
}

static void check_data_cluster(struct image *im, const struct map_disk *m, uint64_t g, uint64_t hc)
{
	uint64_t start = g * CL;

	read_cluster(im, hc, im->buf);
	for (uint64_t k = 0; k < CL; k++) {
		uint64_t o = start + k;
		uint8_t want = 0;

		if (o < m->d.size && m->runs[run_at(m, o)].state == DISK_DATA)
			want = pattern(o);
		FUZZ_CHECK(im->buf[k] == want,
			   "guest byte 0x%" PRIx64 " (host cluster 0x%" PRIx64 ") is 0x%02x, not "
			   "0x%02x",
			   o, hc, im->buf[k], want);
	}
}

static void check_image(struct view *v, const struct map_disk *m, uint64_t seed)
{
	struct image im = { .v = v };
	uint64_t size = m->d.size, guest_clusters = DIV_ROUND_UP(size, CL);
	uint64_t l1_entries = DIV_ROUND_UP(guest_clusters, L2_ENTRIES), l1_off, rt_off, rt_cl;
	uint64_t n_data = data_clusters(m), data_start, k = 0, samples = 0;
	uint8_t *hdr, *rt, *l1, *l2;
	uint8_t one;

	FUZZ_CHECK(v->size % CL == 0 && v->size, "image of 0x%" PRIx64 " bytes", v->size);
	FUZZ_CHECK(view_read(v, &one, 1, v->size) == 0, "a read at the end returns data");
	im.clusters = v->size / CL;
	im.counts = calloc(im.clusters, 1);
	im.buf = malloc(CL);
	hdr = malloc(CL);
	FUZZ_CHECK(im.counts && im.buf && hdr, "out of memory");
	FUZZ_CHECK(n_data < im.clusters, "0x%" PRIx64 " data clusters in 0x%" PRIx64, n_data,
		   im.clusters);
	data_start = im.clusters - n_data;

	/* The header (qcow2.txt "Header"), version 3 with nothing optional. */
	read_cluster(&im, 0, hdr);
	ref_cluster(&im, 0, "header");
	FUZZ_CHECK(be32(hdr) == 0x514649fb && be32(hdr + 4) == 3, "magic or version");
	FUZZ_CHECK(be64(hdr + 8) == 0 && be32(hdr + 16) == 0, "a backing file");
	FUZZ_CHECK(be32(hdr + 20) == 16, "cluster_bits %u", be32(hdr + 20));
	FUZZ_CHECK(be64(hdr + 24) == size, "size 0x%" PRIx64 ", disk 0x%" PRIx64, be64(hdr + 24),
		   size);
	FUZZ_CHECK(be32(hdr + 32) == 0, "crypt_method");
	FUZZ_CHECK(be32(hdr + 36) == l1_entries, "l1_size %u for 0x%" PRIx64 " clusters",
		   be32(hdr + 36), guest_clusters);
	FUZZ_CHECK(be32(hdr + 60) == 0 && be64(hdr + 64) == 0, "snapshots");
	FUZZ_CHECK(be64(hdr + 72) == 0 && be64(hdr + 80) == 0 && be64(hdr + 88) == 0,
		   "feature bits");
	FUZZ_CHECK(be32(hdr + 96) == 4 && be32(hdr + 100) == 104, "refcount_order %u, length %u",
		   be32(hdr + 96), be32(hdr + 100));
	FUZZ_CHECK(be64(hdr + 104) == 0, "header extensions are not ended");
	l1_off = be64(hdr + 40);
	rt_off = be64(hdr + 48);
	rt_cl = be32(hdr + 56);

	/* The refcount table, and the blocks it points at. */
	FUZZ_CHECK(rt_cl && range_ok(rt_off, rt_cl * CL, v->size), "refcount table");
	rt = malloc(rt_cl * CL);
	FUZZ_CHECK(rt, "out of memory");
	for (uint64_t i = 0; i < rt_cl; i++) {
		read_cluster(&im, rt_off / CL + i, rt + i * CL);
		ref_cluster(&im, rt_off + i * CL, "refcount table");
	}
	for (uint64_t i = 0; i < rt_cl * CL / 8; i++) {
		uint64_t e = be64(rt + 8 * i);

		if (e) {
			FUZZ_CHECK(!(e & 511), "refcount table entry %" PRIu64 ": 0x%" PRIx64, i,
				   e);
			ref_cluster(&im, e, "refcount block");
		}
	}

	/* L1, its L2 tables, their data clusters; the map decides each entry. */
	FUZZ_CHECK(range_ok(l1_off, l1_entries * 8, v->size), "L1 table at 0x%" PRIx64, l1_off);
	l1 = malloc(DIV_ROUND_UP(l1_entries * 8, CL) * CL);
	l2 = malloc(CL);
	FUZZ_CHECK(l1 && l2, "out of memory");
	for (uint64_t i = 0; i < DIV_ROUND_UP(l1_entries * 8, CL); i++) {
		read_cluster(&im, l1_off / CL + i, l1 + i * CL);
		ref_cluster(&im, l1_off + i * CL, "L1 table");
	}
	for (uint64_t i = 0; i < l1_entries; i++) {
		uint64_t e = be64(l1 + 8 * i), g0 = i * L2_ENTRIES;

		FUZZ_CHECK(!(e & ~(COPIED | OFFSET_MASK)) && !(e & 0x1ff),
			   "L1 entry %" PRIu64 " has reserved bits: 0x%" PRIx64, i, e);
		if (!(e & OFFSET_MASK)) {
			for (size_t r = run_at(m, g0 * CL);
			     r < m->n && m->runs[r].off < (g0 + L2_ENTRIES) * CL; r++)
				FUZZ_CHECK(m->runs[r].state == DISK_UNALLOC,
					   "L1 entry %" PRIu64
					   " is empty, but the disk has %s at 0x%" PRIx64,
					   i, m->runs[r].state == DISK_DATA ? "data" : "zeros",
					   MAX(m->runs[r].off, g0 * CL));
			continue;
		}
		FUZZ_CHECK(e & COPIED, "L1 entry %" PRIu64 " without COPIED (refcount 1)", i);
		ref_cluster(&im, e & OFFSET_MASK, "L2 table");
		read_cluster(&im, (e & OFFSET_MASK) / CL, l2);
		for (uint64_t j = 0; j < L2_ENTRIES; j++) {
			uint64_t g = g0 + j, l2e = be64(l2 + 8 * j);
			unsigned st = g < guest_clusters ? cluster_state(m, g) : DISK_UNALLOC;

			FUZZ_CHECK(!(l2e & COMPRESSED) && !(l2e & 0x1fe) && !(l2e >> 56 & 0x3f),
				   "L2 entry for cluster 0x%" PRIx64 ": 0x%" PRIx64, g, l2e);
			if (st == DISK_DATA) {
				FUZZ_CHECK((l2e & OFFSET_MASK) == (data_start + k) * CL &&
						   (l2e & COPIED) && !(l2e & 1),
					   "data cluster 0x%" PRIx64 " (the %" PRIu64
					   "th) maps to 0x%" PRIx64
					   ", not to host cluster 0x%" PRIx64,
					   g, k, l2e, data_start + k);
				ref_cluster(&im, l2e & OFFSET_MASK, "data cluster");
				if (samples < SAMPLES &&
				    (k == 0 || k == n_data - 1 || fuzz_rand(&seed) % 64 == 0)) {
					check_data_cluster(&im, m, g, data_start + k);
					samples++;
				}
				k++;
			} else {
				FUZZ_CHECK(l2e == (st == DISK_ZERO ? 1u : 0u),
					   "cluster 0x%" PRIx64 " (%s) has L2 entry 0x%" PRIx64, g,
					   st == DISK_ZERO ? "zero" : "unallocated", l2e);
			}
		}
	}
	FUZZ_CHECK(k == n_data, "%" PRIu64 " data clusters mapped, the map has %" PRIu64, k,
		   n_data);

	/* Every host cluster is used once and has refcount 1; nothing past the end does. */
	for (uint64_t b = 0; b < DIV_ROUND_UP(im.clusters, RB_ENTRIES); b++) {
		uint64_t e = b < rt_cl * CL / 8 ? be64(rt + 8 * b) : 0;

		FUZZ_CHECK(e, "no refcount block for host clusters from 0x%" PRIx64,
			   b * RB_ENTRIES);
		read_cluster(&im, e / CL, im.buf);
		for (uint64_t j = 0; j < RB_ENTRIES; j++) {
			uint64_t hc = b * RB_ENTRIES + j;
			unsigned want = hc < im.clusters ? 1 : 0;

			FUZZ_CHECK(hc >= im.clusters || im.counts[hc] == 1,
				   "host cluster 0x%" PRIx64 " is referenced %u times", hc,
				   im.counts[hc]);
			FUZZ_CHECK(be16(im.buf + 2 * j) == want,
				   "host cluster 0x%" PRIx64 " has refcount %u, want %u", hc,
				   be16(im.buf + 2 * j), want);
		}
	}
	free(l1);
	free(l2);
	free(rt);
	free(hdr);
	free(im.buf);
	free(im.counts);
}

/* Reads of any length at any offset are the cluster reads put together. */
static void check_odd_reads(struct view *v, uint64_t seed)
{
	uint64_t span = MIN(v->size, 8 * CL);
	uint8_t *whole = malloc(span), *part = malloc(span);

	FUZZ_CHECK(whole && part, "out of memory");
	for (uint64_t off = 0; off < span; off += CL)
		FUZZ_CHECK(view_read(v, whole + off, CL, off) == (ssize_t)CL, "cluster read");
	for (int i = 0; i < 4; i++) {
		uint64_t off = fuzz_rand(&seed) % span;
		size_t n = (size_t)(1 + fuzz_rand(&seed) % (span - off));

		FUZZ_CHECK(view_read(v, part, n, off) == (ssize_t)n, "read of %zu at 0x%" PRIx64, n,
			   off);
		FUZZ_CHECK(memcmp(part, whole + off, n) == 0,
			   "%zu bytes at 0x%" PRIx64 " differ from the same bytes read by cluster",
			   n, off);
	}
	free(whole);
	free(part);
}

FUZZ_TARGET(qcow2, "qcow2")
{
	struct map_disk *m = map_new(data, size);
	struct err err = { 0 };
	uint64_t seed = fuzz_hash(data, size);
	struct view *v;
	int r;

	r = view_qcow2_new(&m->d, "disk.qcow2", &v, &err);
	if (m->d.size == 0) {
		FUZZ_CHECK(r < 0, "an image of an empty disk");
		fuzz_check_err(r, &err);
	} else {
		FUZZ_CHECK(r == 0, "a disk of 0x%" PRIx64 " bytes is refused: %s", m->d.size,
			   err.msg);
		check_image(v, m, seed);
		check_odd_reads(v, seed);
		view_unref(v);
	}
	disk_unref(&m->d);
	return 0;
}
