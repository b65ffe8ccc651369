/* SPDX-License-Identifier: MIT */
/*
 * Hosted sparse VMDK extents, the files that start with "KDMV": monolithicSparse disks,
 * each part of a twoGbMaxExtentSparse disk, and streamOptimized disks (what an .ova
 * carries) in the layouts qemu-img and VMware write.  One extent becomes one disk whose
 * block status comes from the grain tables alone, whose raw grains can be spliced
 * straight from the file, and whose compressed grains are inflated on read.
 *
 * Everything the tables say is checked once, at open; after that the in-memory map is
 * immutable and the read path trusts it, so reads and status take no lock.  Compressed
 * grains are checked when they are read (their marker, size and zlib stream), because
 * looking at every grain at open would read the whole file.
 *
 * Notes on the format
 * -------------------
 * Sources: VMware's "Virtual Disk Format 5.0" (sections 2 "Hosted Sparse Extents" and
 * 3 "Stream-Optimized Compressed Sparse Extents"), checked against what qemu-img 7.2 writes
 * and what VMware-made .ova files contain.  All integers are little-endian; offsets and
 * sizes in the header and tables count 512-byte sectors.
 *
 * The header is the first sector:
 *
 *      0  magic "KDMV" (0x564d444b)      44  numGTEsPerGT u32 (512 in every file seen)
 *      4  version u32 (1, 2, 3)          48  rgdOffset u64: the redundant GD
 *      8  flags u32                      56  gdOffset u64: the GD (~0: "at the end")
 *     12  capacity u64                   64  overHead u64: sectors before the first grain
 *     20  grainSize u64                  72  uncleanShutdown u8
 *     28  descriptorOffset u64           73  "\n \r\n": the newline test bytes
 *     36  descriptorSize u64             77  compressAlgorithm u16 (1 = deflate)
 *
 * Flags: bit 0 says the newline test bytes are meaningful (a file copied in text mode
 * mangles them, and its grains with them: we refuse it), bit 1 the redundant GD is in
 * use, bit 2 a grain table entry of 1 means "zeroed grain", bit 16 grains are compressed,
 * bit 17 the file has markers.  Version 2 introduced zeroed grains, version 3 changed
 * block tracking, which a reader does not need; qemu writes 3 for streamOptimized.
 *
 * The grain directory (GD) is an array of u32, one per grain table (GT): the sector of
 * the GT, or 0 when it does not exist.  A GT is numGTEsPerGT u32 grain table entries
 * (GTE), one per grain; grain g is entry g % numGTEsPerGT of GT g / numGTEsPerGT.  A GTE
 * is 0 for an unallocated grain (zeros here, the parent's bytes in a chain), 1 for a
 * zeroed grain when flag bit 2 is set, and otherwise the sector where the grain starts.
 * A hosted sparse file keeps a second copy of the GD and all GTs (rgdOffset); both
 * VMware and qemu preallocate every GT, so a big, mostly empty disk has mostly all-zero
 * GTs.  We read the primary GD; when it or its tables are unusable and bit 1 is set we
 * read the redundant copy instead.  The capacity need not be a multiple of the grain: the
 * last grain is then short, and we only need its existing sectors to be in the file.
 *
 * A streamOptimized file (flags 16 and 17, compressAlgorithm 1) stores every grain as a
 * grain marker: u64 LBA (the grain's first disk sector), u32 size, then size bytes of a
 * zlib (RFC 1950) stream, padded to a sector.  The GTE points at the marker.  A short
 * last grain may be compressed short (qemu does) or whole.  Metadata markers take one
 * sector: u64 numSectors (of data that follows in the next sectors), u32 0 (what tells
 * them from a grain marker), u32 type: 0 end of stream (EOS), 1 GT, 2 GD, 3 footer.  We
 * meet three layouts:
 *   (a) qemu-img convert -O vmdk -o subformat=streamOptimized: the header holds the real
 *       gdOffset; redundant GD, GD and every GT sit between the descriptor and overHead,
 *       without markers, as in a monolithicSparse file; then the grains, then an EOS
 *       marker (and some zero sectors qemu leaves behind).
 *   (b) VMware: the header says gdOffset = GD_AT_END (~0).  After the grains come a GT
 *       marker and a GT for each non-empty table, a GD marker and the GD (GD entry 0 for
 *       an empty table), a footer marker, the footer at file size - 1024 (a copy of the
 *       header with the real gdOffset) and an EOS marker in the last sector.  We take
 *       the GD from the footer when the footer marker, magic, EOS and the geometry
 *       (capacity, grainSize, numGTEsPerGT) agree with the header.
 *   (c) No usable GD (GD_AT_END without a valid footer: a truncated download or a writer
 *       that skipped the tables; or a GD outside the file): the grains describe
 *       themselves, so we build the map by walking the markers from overHead, skipping
 *       metadata by its numSectors, to the EOS marker or the end of the file.  Every
 *       step moves forward by at least a sector, so the walk ends.  Reaching the end
 *       of the file without EOS is reported once; a grain cut by the end of the file,
 *       a grain LBA seen twice, off a grain boundary or past the capacity fails the open.
 * When a GD is there, its tables are believed: a GT or GTE pointing past the end of the
 * file fails the open, it does not fall back to the walk, because silently dropping
 * grains would hand the user a different disk.
 *
 * What we keep: only non-empty grain tables, as a sorted array of (table number, GTEs);
 * an all-zero GT costs nothing and nothing is ever allocated per grain of capacity, so a
 * 64 TiB disk with 1 GiB of data costs what its data's tables cost.  Every allocation is
 * bounded by the file: the GD must fit in it, GTs may not overlap (so their copies add
 * up to less than the file), and the walk keeps at most one 128-entry table per marker
 * sector.  Not supported, and refused with ENOTSUP: compressed grains without markers
 * (no writer makes them), markers without compression, algorithms other than deflate.
 * The newline test and uncleanShutdown are not repaired: we only read.
 */
#include "vmdk.h"
#include "table-disk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/endian.h"
#include "../common/inflate.h"
#include "../common/log.h"

#define SECTOR 512u
#define KDMV_MAGIC 0x564d444bu
#define KDMV_HEADER_BYTES 512u
#define KDMV_GD_AT_END UINT64_MAX
#define KDMV_DEFLATE 1u

enum {
	KDMV_FLAG_NL_TEST = 1u << 0,
	KDMV_FLAG_RGD = 1u << 1,
	KDMV_FLAG_ZERO_GRAIN = 1u << 2,
	KDMV_FLAG_COMPRESSED = 1u << 16,
	KDMV_FLAG_MARKERS = 1u << 17,
};

enum { MARKER_EOS = 0, MARKER_GT = 1, MARKER_GD = 2, MARKER_FOOTER = 3 };

#define GTE_ZEROED 1u
#define GRAIN_MARKER_BYTES 12u /* u64 LBA, u32 size; the zlib stream follows */

/* qemu refuses more than 512 entries per GT and nobody writes anything else; 64 Ki entries
 * (a 256 KiB table) leaves room for odd writers while keeping one table's copy small. */
#define KDMV_MAX_GTES 65536u
/* The disk must be addressable as a file (off_t) by the layers above. */
#define KDMV_MAX_CAPACITY ((uint64_t)INT64_MAX / SECTOR)
/* Deflate of incompressible data grows by 5 bytes per 64 KiB stored block plus 6 bytes of
 * zlib framing; grain/64 + 1 KiB is far above that for any grain size, and bounds what a
 * hostile size field can make us read. */
#define MAX_CSIZE(grain_bytes) ((grain_bytes) + (grain_bytes) / 64 + 1024)
/* The walk's own table size: at most one table per 512-byte marker, so at most about the
 * file's size in tables however the grains are scattered. */
#define WALK_TBL_ENTRIES 128u
#define WALK_WINDOW (64u << 10)
/* First read of a compressed grain: most grains compress below this, so one pread does. */
#define GRAIN_FIRST_READ (32u << 10)
/* How many grain table entries status looks at past the caller's hint to lengthen a
 * ZERO or UNALLOCATED run (whole missing tables are skipped without counting). */
#define STATUS_SCAN_PAST_HINT 65536u

struct kdmv_header {
	uint32_t magic, version, flags, ngte;
	uint64_t capacity, grain, desc_off, desc_size, rgd_off, gd_off, overhead;
	uint8_t nl[4];
	uint16_t compress;
};

/* One non-empty grain table: GTEs of grains [index * tbl_entries, + tbl_entries). */
struct sparse_tbl {
	uint64_t index;
	uint32_t *gte; /* tbl_entries entries, host order */
};

struct sparse_disk {
	struct disk d;
	struct source *src;
	uint64_t grain_bytes;
	uint64_t grain_sectors;
	unsigned grain_shift;
	uint64_t n_grains;
	uint32_t tbl_entries;
	bool compressed;
	bool zero_grains;
	uint32_t max_csize;
	uint64_t overhead; /* sectors of metadata before the first grain */
	struct sparse_tbl *tbls; /* sorted by index */
	size_t n_tbls;
};

/* ---- header ---- */

static void kdmv_decode(const uint8_t *b, struct kdmv_header *h)
{
	h->magic = le32(b);
	h->version = le32(b + 4);
	h->flags = le32(b + 8);
	h->capacity = le64(b + 12);
	h->grain = le64(b + 20);
	h->desc_off = le64(b + 28);
	h->desc_size = le64(b + 36);
	h->ngte = le32(b + 44);
	h->rgd_off = le64(b + 48);
	h->gd_off = le64(b + 56);
	h->overhead = le64(b + 64);
	memcpy(h->nl, b + 73, 4);
	h->compress = le16(b + 77);
}

static bool kdmv_compressed(const struct kdmv_header *h)
{
	/* qemu decides by the algorithm field alone; honour either. */
	return (h->flags & KDMV_FLAG_COMPRESSED) || h->compress != 0;
}

/* The end of a table at sector for len bytes, saturated: for messages and range checks. */
static uint64_t span_end(uint64_t sector, uint64_t len)
{
	uint64_t off, end;

	if (CHECKED_MUL(sector, SECTOR, &off) || CHECKED_ADD(off, len, &end))
		return UINT64_MAX;
	return end;
}

/* Read and decode the first sector of src. */
static int kdmv_read_header(struct source *src, const char *name, struct kdmv_header *h,
			    struct err *err)
{
	uint8_t b[KDMV_HEADER_BYTES] = { 0 };
	size_t n = src->size < sizeof(b) ? (size_t)src->size : sizeof(b);
	int r;

	r = source_pread(src, b, n, 0);
	if (r < 0)
		return err_set(err, -r, "%s: reading the sparse header: %s", name, strerror(-r));
	if (n < 4 || le32(b) != KDMV_MAGIC)
		return err_set(err, EINVAL,
			       "%s: not a hosted sparse extent (magic 0x%08" PRIx32
			       ", want 0x%08x \"KDMV\")",
			       name, le32(b), KDMV_MAGIC);
	if (n < KDMV_HEADER_BYTES)
		return err_set(err, EINVAL,
			       "%s: sparse header truncated (file is 0x%zx bytes, the header 0x%x)",
			       name, n, KDMV_HEADER_BYTES);
	kdmv_decode(b, h);
	return 0;
}

/* Validate every field a reader depends on; what is "header" or "footer". */
static int kdmv_check(const struct kdmv_header *h, const char *name, const char *what,
		      struct err *err)
{
	if (h->version < 1 || h->version > 3)
		return err_set(err, ENOTSUP, "%s: %s: unsupported version %" PRIu32
			       " (versions 1 to 3 are read)", name, what, h->version);
	if ((h->flags & KDMV_FLAG_NL_TEST) && memcmp(h->nl, "\n \r\n", 4) != 0)
		return err_set(err, EINVAL,
			       "%s: %s: newline test bytes are %02x %02x %02x %02x, want 0a 20 0d 0a "
			       "(was the file copied in text mode?)",
			       name, what, h->nl[0], h->nl[1], h->nl[2], h->nl[3]);
	if (!is_pow2(h->grain))
		return err_set(err, EINVAL, "%s: %s: grain size %" PRIu64
			       " sectors is not a power of two", name, what, h->grain);
	if (h->grain > VMDK_MAX_GRAIN_BYTES / SECTOR)
		return err_set(err, EFBIG, "%s: %s: grain size %" PRIu64
			       " sectors is over the cap of %u sectors (16 MiB)",
			       name, what, h->grain, VMDK_MAX_GRAIN_BYTES / SECTOR);
	if (h->ngte < 1 || h->ngte > KDMV_MAX_GTES)
		return err_set(err, EINVAL, "%s: %s: %" PRIu32
			       " entries per grain table (numGTEsPerGT) is outside 1..%u",
			       name, what, h->ngte, KDMV_MAX_GTES);
	if (h->capacity > KDMV_MAX_CAPACITY)
		return err_set(err, EFBIG, "%s: %s: capacity 0x%" PRIx64
			       " sectors is over the largest disk we can present (0x%" PRIx64
			       " sectors)", name, what, h->capacity, KDMV_MAX_CAPACITY);
	if (kdmv_compressed(h) && h->compress != KDMV_DEFLATE)
		return err_set(err, ENOTSUP, "%s: %s: compressAlgorithm %u is not supported"
			       " (1, deflate, is)", name, what, h->compress);
	if (kdmv_compressed(h) && !(h->flags & KDMV_FLAG_MARKERS))
		return err_set(err, ENOTSUP, "%s: %s: compressed grains without markers"
			       " (flags 0x%" PRIx32 ") are not supported", name, what, h->flags);
	if (!kdmv_compressed(h) && (h->flags & KDMV_FLAG_MARKERS))
		return err_set(err, ENOTSUP, "%s: %s: markers without compressed grains"
			       " (flags 0x%" PRIx32 ") are not supported", name, what, h->flags);
	return 0;
}

/* ---- the in-memory map ---- */

static void tbls_free(struct sparse_tbl *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++)
		free(t[i].gte);
	free(t);
}

static int tbl_cmp(const void *a, const void *b)
{
	const struct sparse_tbl *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* The table holding table number t, or NULL; *ret_pos gets the first table >= t. */
static const uint32_t *tbl_find(const struct sparse_disk *v, uint64_t t, size_t *ret_pos)
{
	size_t lo = 0, hi = v->n_tbls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->tbls[mid].index < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_pos = lo;
	return lo < v->n_tbls && v->tbls[lo].index == t ? v->tbls[lo].gte : NULL;
}

static uint32_t gte_of(const struct sparse_disk *v, uint64_t g)
{
	size_t pos;
	const uint32_t *t = tbl_find(v, g / v->tbl_entries, &pos);

	return t ? t[g % v->tbl_entries] : 0;
}

static unsigned gte_state(const struct sparse_disk *v, uint32_t e)
{
	if (e == 0)
		return DISK_UNALLOC;
	if (e == GTE_ZEROED && v->zero_grains)
		return DISK_ZERO;
	return DISK_DATA;
}

/* The bytes of grain g that lie inside the disk. */
static uint64_t grain_valid_bytes(const struct sparse_disk *v, uint64_t g)
{
	uint64_t start = g << v->grain_shift;

	return MIN(v->grain_bytes, v->d.size - start);
}

/* ---- loading GD and GTs ---- */

static uint64_t gd_entries(const struct sparse_disk *v)
{
	return DIV_ROUND_UP(v->n_grains, v->tbl_entries);
}

/* True when a GD at sector would lie inside the file. */
static bool gd_fits(const struct sparse_disk *v, uint64_t sector)
{
	uint64_t bytes;

	if (sector == 0 || CHECKED_MUL(gd_entries(v), 4, &bytes))
		return false;
	return span_end(sector, bytes) <= v->src->size;
}

/* Check the GTEs of one table (copied to host order in gte) and zero the entries past
 * the capacity. */
static int gt_check(struct sparse_disk *v, uint64_t index, uint32_t *gte, struct err *err)
{
	uint64_t size = v->src->size;

	for (uint32_t i = 0; i < v->tbl_entries; i++) {
		uint64_t g = index * v->tbl_entries + i, need, end;

		if (g >= v->n_grains) {
			gte[i] = 0;
			continue;
		}
		if (gte_state(v, gte[i]) != DISK_DATA)
			continue;
		/* Grains follow the metadata; an entry pointing into the header, descriptor
		 * or tables (such as a zeroed-grain 1 in a file whose flags do not allow
		 * it) would serve metadata as guest data. */
		if (gte[i] < v->overhead)
			return err_set(err, EINVAL,
				       "%s: grain %" PRIu64 " (grain table %" PRIu64 " entry %" PRIu32
				       ") at sector 0x%" PRIx32 " points into the metadata before "
				       "the first grain (overHead 0x%" PRIx64 ")",
				       v->d.name, g, index, i, gte[i], v->overhead);
		/* A raw grain needs its bytes inside the disk; a compressed one its marker
		 * (the size is checked when the grain is read). */
		need = v->compressed ? GRAIN_MARKER_BYTES : grain_valid_bytes(v, g);
		end = span_end(gte[i], need);
		if (end > size)
			return err_set(err, EINVAL,
				       "%s: grain %" PRIu64 " (grain table %" PRIu64 " entry %" PRIu32
				       ") at sector 0x%" PRIx32 " lies past end of file (0x%" PRIx64
				       " > 0x%" PRIx64 ")",
				       v->d.name, g, index, i, gte[i], end, size);
	}
	return 0;
}

/* What load_gd's tables are collected in, as tbl_refs_read hands them over. */
struct gd_load {
	struct sparse_disk *v;
	struct sparse_tbl *tbls;
	size_t n_tbls;
};

/* tbl_refs_read's callback: keep a copy of a table that maps anything, checked. */
static int load_one(void *ctx, const struct tbl_ref *ref, const uint8_t *p, struct err *err)
{
	struct gd_load *l = ctx;
	struct sparse_disk *v = l->v;
	uint32_t *gte;
	bool empty = true;

	for (uint32_t i = 0; i < v->tbl_entries && empty; i++)
		empty = le32(p + 4 * i) == 0;
	if (empty)
		return 0; /* an all-zero table costs nothing */
	gte = malloc((size_t)v->tbl_entries * 4);
	if (!gte)
		return err_set(err, ENOMEM, "%s: out of memory for the grain tables", v->d.name);
	for (uint32_t i = 0; i < v->tbl_entries; i++)
		gte[i] = le32(p + 4 * i);
	l->tbls[l->n_tbls++] = (struct sparse_tbl){ ref->index, gte };
	return gt_check(v, ref->index, gte, err);
}

/* Load the GD at gd_sector and every GT it names into v->tbls (all or nothing). what
 * names the GD in messages. */
static int load_gd(struct sparse_disk *v, uint64_t gd_sector, const char *what,
		   struct err *err)
{
	struct source *src = v->src;
	const char *name = v->d.name;
	uint64_t n_gts = gd_entries(v), gd_bytes, gt_bytes = (uint64_t)v->tbl_entries * 4;
	CLEANUP_FREE uint8_t *gd = NULL;
	CLEANUP_FREE struct tbl_ref *ents = NULL;
	struct gd_load l = { .v = v };
	size_t n_ents = 0;
	int r;

	if (CHECKED_MUL(n_gts, 4, &gd_bytes) || gd_bytes > src->size)
		return err_set(err, EFBIG,
			       "%s: %s of 0x%" PRIx64 " entries is larger than the file (0x%" PRIx64
			       " bytes)", name, what, n_gts, src->size);
	if (gd_sector == 0)
		return err_set(err, EINVAL, "%s: %s offset is 0", name, what);
	if (span_end(gd_sector, gd_bytes) > src->size)
		return err_set(err, EINVAL,
			       "%s: %s at sector 0x%" PRIx64 " lies past end of file (0x%" PRIx64
			       " > 0x%" PRIx64 ")",
			       name, what, gd_sector, span_end(gd_sector, gd_bytes), src->size);
	gd = malloc(gd_bytes ? gd_bytes : 1);
	if (!gd)
		return err_set(err, ENOMEM, "%s: out of memory for the %s", name, what);
	r = source_pread(src, gd, gd_bytes, gd_sector * SECTOR);
	if (r < 0)
		return err_set(err, -r, "%s: reading the %s: %s", name, what, strerror(-r));

	for (uint64_t i = 0; i < n_gts; i++)
		if (le32(gd + 4 * i))
			n_ents++;
	ents = malloc((n_ents ? n_ents : 1) * sizeof(*ents));
	l.tbls = calloc(n_ents ? n_ents : 1, sizeof(*l.tbls));
	if (!ents || !l.tbls) {
		free(l.tbls);
		return err_set(err, ENOMEM, "%s: out of memory for the %s", name, what);
	}
	n_ents = 0;
	for (uint64_t i = 0; i < n_gts; i++) {
		uint32_t s = le32(gd + 4 * i);

		if (!s)
			continue;
		if (span_end(s, gt_bytes) > src->size) {
			free(l.tbls);
			return err_set(err, EINVAL,
				       "%s: grain table %" PRIu64 " at sector 0x%" PRIx32
				       " lies past end of file (0x%" PRIx64 " > 0x%" PRIx64 ")",
				       name, i, s, span_end(s, gt_bytes), src->size);
		}
		ents[n_ents++] = (struct tbl_ref){ i, (uint64_t)s * SECTOR };
	}
	r = tbl_refs_read(src, name, ents, n_ents, gt_bytes, load_one, &l, err);
	if (r < 0) {
		tbls_free(l.tbls, l.n_tbls);
		return r;
	}
	qsort(l.tbls, l.n_tbls, sizeof(*l.tbls), tbl_cmp);
	tbls_free(v->tbls, v->n_tbls);
	v->tbls = l.tbls;
	v->n_tbls = l.n_tbls;
	return 0;
}

/* Load the tables from the GD at gd, or from the redundant GD when that one is unusable
 * and the header says the redundant GD is in use. */
static int open_tables(struct sparse_disk *v, const struct kdmv_header *h, uint64_t gd,
		       struct err *err)
{
	struct err primary = { 0 }, redundant = { 0 };
	int r = load_gd(v, gd, "grain directory", &primary);

	if (r == 0)
		return 0;
	if (r != -ENOMEM && (h->flags & KDMV_FLAG_RGD) && h->rgd_off != 0 && h->rgd_off != gd &&
	    load_gd(v, h->rgd_off, "redundant grain directory", &redundant) == 0) {
		log_debug("%s; reading the redundant grain directory instead", primary.msg);
		return 0;
	}
	return err_set(err, primary.code, "%s", primary.msg);
}

/* ---- streamOptimized: footer and marker walk ---- */

/* The footer of a VMware-layout stream: 0, filling *ret, or -1 when there is no usable
 * one (the reason goes to the debug log). */
static int read_footer(struct sparse_disk *v, const struct kdmv_header *h,
		       struct kdmv_header *ret)
{
	uint8_t b[3 * SECTOR];
	uint64_t size = v->src->size;
	struct err e = { 0 };
	const char *why = NULL;

	if (size < 4 * SECTOR)
		why = "file too small";
	else if (source_pread(v->src, b, sizeof(b), size - sizeof(b)) < 0)
		why = "read failed";
	else if (le32(b + 8) != 0 || le32(b + 12) != MARKER_FOOTER)
		why = "no footer marker at file size - 1536";
	else if (le32(b + 2 * SECTOR + 8) != 0 || le32(b + 2 * SECTOR + 12) != MARKER_EOS)
		why = "no end-of-stream marker in the last sector";
	else if (le32(b + SECTOR) != KDMV_MAGIC)
		why = "bad footer magic";
	if (!why) {
		kdmv_decode(b + SECTOR, ret);
		if (kdmv_check(ret, v->d.name, "footer", &e) < 0)
			why = e.msg;
		else if (ret->capacity != h->capacity || ret->grain != h->grain ||
			 ret->ngte != h->ngte)
			why = "footer geometry differs from the header";
		else if (ret->gd_off == KDMV_GD_AT_END || ret->gd_off == 0)
			why = "footer has no grain directory offset";
	}
	if (why) {
		log_debug("%s: no usable stream footer (%s)", v->d.name, why);
		return -1;
	}
	return 0;
}

struct walk_ent {
	uint64_t grain;
	uint32_t sector;
};

static int walk_ent_cmp(const void *a, const void *b)
{
	const struct walk_ent *x = a, *y = b;

	if (x->grain != y->grain)
		return x->grain < y->grain ? -1 : 1;
	return x->sector < y->sector ? -1 : x->sector > y->sector;
}

/* A read window over the file for the walk: markers are small and close together. */
struct window {
	struct source *src;
	uint8_t *buf;
	size_t cap, len;
	uint64_t off;
};

/* Point *ret at the n bytes at off (the caller checked they are in the file). */
static int window_get(struct window *w, uint64_t off, size_t n, const uint8_t **ret)
{
	int r;

	if (off < w->off || off + n > w->off + w->len) {
		w->len = (size_t)MIN((uint64_t)w->cap, w->src->size - off);
		w->off = off;
		r = source_pread(w->src, w->buf, w->len, off);
		if (r < 0) {
			w->len = 0;
			return r;
		}
	}
	*ret = w->buf + (off - w->off);
	return 0;
}

static const char *marker_name(uint32_t type)
{
	static const char *const names[] = { "end-of-stream", "grain table", "grain directory",
					     "footer" };

	return type < 4 ? names[type] : "unknown";
}

/* Build the map from the grain markers between overHead and the end of the stream. */
static int walk_markers(struct sparse_disk *v, const struct kdmv_header *h, struct err *err)
{
	const char *name = v->d.name;
	uint64_t size = v->src->size, pos, start = MAX(h->overhead, (uint64_t)1);
	struct window w = { .src = v->src };
	CLEANUP_FREE struct walk_ent *ents = NULL;
	struct sparse_tbl *tbls = NULL;
	size_t n_ents = 0, cap_ents = 0, n_tbls = 0;
	bool eos = false;
	int r;

	if (span_end(start, 0) > size)
		return err_set(err, EINVAL,
			       "%s: overHead 0x%" PRIx64 " sectors lies past end of file (0x%" PRIx64
			       " > 0x%" PRIx64 ")", name, start, span_end(start, 0), size);
	pos = start * SECTOR;
	w.cap = (size_t)MIN((uint64_t)WALK_WINDOW, size);
	w.buf = malloc(w.cap);
	if (!w.buf)
		return err_set(err, ENOMEM, "%s: out of memory", name);

	/* Each step moves pos forward by at least one sector: the loop ends. */
	while (size - pos >= SECTOR) {
		const uint8_t *m;
		uint64_t lba, sec = pos / SECTOR;
		uint32_t csize;

		r = window_get(&w, pos, 16, &m);
		if (r < 0) {
			r = err_set(err, -r, "%s: reading the marker at sector 0x%" PRIx64 ": %s",
				    name, sec, strerror(-r));
			goto out_free;
		}
		lba = le64(m);
		csize = le32(m + 8);
		if (csize == 0) {
			uint32_t type = le32(m + 12);

			if (type == MARKER_EOS) {
				eos = true;
				break;
			}
			if (type > MARKER_FOOTER) {
				r = err_set(err, EINVAL,
					    "%s: marker at sector 0x%" PRIx64 " has unknown type %"
					    PRIu32, name, sec, type);
				goto out_free;
			}
			if (lba > (size - pos) / SECTOR - 1) {
				r = err_set(err, EINVAL,
					    "%s: %s marker at sector 0x%" PRIx64 ": its 0x%" PRIx64
					    " sectors run past end of file (0x%" PRIx64 " sectors)",
					    name, marker_name(type), sec, lba, size / SECTOR);
				goto out_free;
			}
			pos += (1 + lba) * SECTOR;
			continue;
		}
		if (lba % v->grain_sectors || lba >= h->capacity) {
			r = err_set(err, EINVAL,
				    "%s: grain marker at sector 0x%" PRIx64 ": LBA 0x%" PRIx64
				    " is %s (grain 0x%" PRIx64 " sectors, capacity 0x%" PRIx64 ")",
				    name, sec, lba,
				    lba >= h->capacity ? "past the capacity" : "not on a grain boundary",
				    v->grain_sectors, h->capacity);
			goto out_free;
		}
		if (csize > v->max_csize) {
			r = err_set(err, EINVAL,
				    "%s: grain marker at sector 0x%" PRIx64 ": compressed size 0x%"
				    PRIx32 " is over the grain's cap (0x%" PRIx32 ")",
				    name, sec, csize, v->max_csize);
			goto out_free;
		}
		if (GRAIN_MARKER_BYTES + (uint64_t)csize > size - pos) {
			r = err_set(err, EINVAL,
				    "%s: grain marker at sector 0x%" PRIx64 ": compressed grain runs"
				    " past end of file (0x%" PRIx64 " > 0x%" PRIx64 ")",
				    name, sec, pos + GRAIN_MARKER_BYTES + csize, size);
			goto out_free;
		}
		if (sec > UINT32_MAX) {
			r = err_set(err, EFBIG,
				    "%s: grain marker at sector 0x%" PRIx64
				    " is beyond what a grain table entry can address", name, sec);
			goto out_free;
		}
		if (n_ents == cap_ents) {
			/* At most one entry per marker sector: bounded by the file. */
			size_t nc = cap_ents ? 2 * cap_ents : 256;
			struct walk_ent *ne = realloc(ents, nc * sizeof(*ents));

			if (!ne) {
				r = err_set(err, ENOMEM, "%s: out of memory walking markers", name);
				goto out_free;
			}
			ents = ne;
			cap_ents = nc;
		}
		ents[n_ents++] = (struct walk_ent){ lba / v->grain_sectors, (uint32_t)sec };
		pos += round_up_pow2(GRAIN_MARKER_BYTES + (uint64_t)csize, SECTOR);
	}
	if (!eos)
		log_corrupt_once(name, "stream-eos",
				 "no end-of-stream marker before the end of the file (sector 0x%"
				 PRIx64 "): the file may be truncated", pos / SECTOR);

	if (n_ents)
		qsort(ents, n_ents, sizeof(*ents), walk_ent_cmp);
	for (size_t k = 1; k < n_ents; k++)
		if (ents[k].grain == ents[k - 1].grain) {
			r = err_set(err, EINVAL,
				    "%s: grain markers at sectors 0x%" PRIx32 " and 0x%" PRIx32
				    " both hold LBA 0x%" PRIx64,
				    name, ents[k - 1].sector, ents[k].sector,
				    ents[k].grain * v->grain_sectors);
			goto out_free;
		}

	/* From here on the map uses our own table size; zeroed grains do not exist. */
	v->tbl_entries = WALK_TBL_ENTRIES;
	v->zero_grains = false;
	tbls = calloc(n_ents ? n_ents : 1, sizeof(*tbls));
	if (!tbls) {
		r = err_set(err, ENOMEM, "%s: out of memory for the grain map", name);
		goto out_free;
	}
	for (size_t k = 0; k < n_ents; k++) {
		uint64_t t = ents[k].grain / WALK_TBL_ENTRIES;

		if (!n_tbls || tbls[n_tbls - 1].index != t) {
			uint32_t *gte = calloc(WALK_TBL_ENTRIES, sizeof(*gte));

			if (!gte) {
				r = err_set(err, ENOMEM, "%s: out of memory for the grain map",
					    name);
				goto out_free;
			}
			tbls[n_tbls++] = (struct sparse_tbl){ t, gte };
		}
		tbls[n_tbls - 1].gte[ents[k].grain % WALK_TBL_ENTRIES] = ents[k].sector;
	}
	free(w.buf);
	tbls_free(v->tbls, v->n_tbls);
	v->tbls = tbls;
	v->n_tbls = n_tbls;
	return 0;

out_free:
	free(w.buf);
	tbls_free(tbls, n_tbls);
	return r;
}

static int open_stream(struct sparse_disk *v, const struct kdmv_header *h, struct err *err)
{
	struct kdmv_header foot;
	uint64_t gd = h->gd_off;

	if (gd == KDMV_GD_AT_END)
		gd = read_footer(v, h, &foot) == 0 ? foot.gd_off : 0;
	if (gd_fits(v, gd) || ((h->flags & KDMV_FLAG_RGD) && gd_fits(v, h->rgd_off)))
		return open_tables(v, h, gd, err);
	log_debug("%s: no usable grain directory (gdOffset 0x%" PRIx64
		  "); walking the grain markers", v->d.name, gd);
	return walk_markers(v, h, err);
}

/* ---- reading ---- */

/* Per-thread buffers for compressed grains, grown on demand, freed when the thread ends. */
struct scratch {
	uint8_t *in, *out;
	size_t in_cap, out_cap;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_free(void *p)
{
	struct scratch *s = p;

	free(s->in);
	free(s->out);
	free(s);
}

static void scratch_key_init(void)
{
	scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static bool scratch_grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *nb;

	if (*cap >= need)
		return true;
	nb = malloc(need); /* the old contents are not needed */
	if (!nb)
		return false;
	free(*buf);
	*buf = nb;
	*cap = need;
	return true;
}

static struct scratch *scratch_get(size_t in_need, size_t out_need)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_key_init);
	if (!scratch_key_ok)
		return NULL;
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		if (pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	if (!scratch_grow(&s->in, &s->in_cap, in_need) ||
	    !scratch_grow(&s->out, &s->out_cap, out_need))
		return NULL;
	return s;
}

/* Copy bytes [goff, goff + n) of compressed grain g (a DATA grain) to dst. */
static int read_grain(struct sparse_disk *v, uint64_t g, uint8_t *dst, size_t goff, size_t n)
{
	const char *name = v->d.name;
	uint64_t size = v->src->size, moff = (uint64_t)gte_of(v, g) * SECTOR, avail, lba;
	uint64_t valid = grain_valid_bytes(v, g);
	size_t first, out_len = 0;
	uint32_t csize;
	struct scratch *s;
	uint8_t *out;
	char key[48];
	int r;

	s = scratch_get(GRAIN_MARKER_BYTES + v->max_csize, v->grain_bytes);
	if (!s)
		return -ENOMEM;
	snprintf(key, sizeof(key), "grain %" PRIu64, g);
	/* Open checked that the marker lies inside the file. */
	avail = size - moff;
	first = (size_t)MIN(avail, (uint64_t)MIN(GRAIN_FIRST_READ,
						GRAIN_MARKER_BYTES + v->max_csize));
	r = source_pread(v->src, s->in, first, moff);
	if (r < 0)
		return r;
	lba = le64(s->in);
	csize = le32(s->in + 8);
	if (lba != g * v->grain_sectors) {
		log_corrupt_once(name, key,
				 "grain marker at sector 0x%" PRIx64 " holds LBA 0x%" PRIx64
				 ", but the grain table puts LBA 0x%" PRIx64 " there",
				 moff / SECTOR, lba, g * v->grain_sectors);
		return -EIO;
	}
	if (csize == 0 || csize > v->max_csize || GRAIN_MARKER_BYTES + (uint64_t)csize > avail) {
		log_corrupt_once(name, key,
				 "grain marker at sector 0x%" PRIx64 " (LBA 0x%" PRIx64
				 "): compressed size 0x%" PRIx32 " is 0, over the cap (0x%" PRIx32
				 ") or past end of file (0x%" PRIx64 " bytes)",
				 moff / SECTOR, lba, csize, v->max_csize, size);
		return -EIO;
	}
	if (GRAIN_MARKER_BYTES + csize > first) {
		r = source_pread(v->src, s->in + first, GRAIN_MARKER_BYTES + csize - first,
				 moff + first);
		if (r < 0)
			return r;
	}
	/* A whole grain inflates straight into the caller's buffer. */
	out = goff == 0 && n == v->grain_bytes ? dst : s->out;
	r = inflate_zlib(s->in + GRAIN_MARKER_BYTES, csize, out, v->grain_bytes, &out_len);
	if (r == -EIO || (r == 0 && out_len < valid)) {
		log_corrupt_once(name, key,
				 "grain at sector 0x%" PRIx64 " (LBA 0x%" PRIx64
				 "): compressed data is corrupt or short (inflated 0x%zx of 0x%"
				 PRIx64 " bytes)", moff / SECTOR, lba, r == 0 ? out_len : 0, valid);
		return -EIO;
	}
	if (r < 0)
		return r;
	if (out != dst)
		memcpy(dst, out + goff, n);
	return 0;
}

static int sparse_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct sparse_disk *v = (struct sparse_disk *)d;
	uint64_t g = off >> v->grain_shift, cur_t = g / v->tbl_entries, pos, next_src = 0;
	uint64_t hint_end = len > d->size - off ? d->size : off + len, scanned = 0;
	size_t ti;
	const uint32_t *tbl = tbl_find(v, cur_t, &ti);
	uint32_t e = tbl ? tbl[g % v->tbl_entries] : 0;
	unsigned state = gte_state(v, e);

	ret->state = state;
	ret->src = NULL;
	ret->src_off = 0;
	if (state == DISK_DATA && !v->compressed) {
		ret->src = v->src;
		ret->src_off = (uint64_t)e * SECTOR + (off & (v->grain_bytes - 1));
		next_src = (uint64_t)e * SECTOR + v->grain_bytes;
	}
	g++;
	pos = g << v->grain_shift;
	while (pos < d->size) {
		uint64_t t = g / v->tbl_entries;

		/* DATA stops at the hint: callers read what we return. A run of nothing
		 * may go on a little further, and across missing tables for free. */
		if (pos >= hint_end && (state == DISK_DATA || scanned >= STATUS_SCAN_PAST_HINT))
			break;
		if (t != cur_t) {
			cur_t = t;
			tbl = tbl_find(v, t, &ti);
		}
		if (!tbl) {
			if (state != DISK_UNALLOC)
				break;
			if (ti == v->n_tbls) {
				pos = d->size;
				break;
			}
			g = v->tbls[ti].index * v->tbl_entries;
			pos = g << v->grain_shift;
			continue;
		}
		e = tbl[g % v->tbl_entries];
		if (gte_state(v, e) != state)
			break;
		if (state == DISK_DATA && !v->compressed) {
			/* A raw run must stay contiguous in the file for src_off to hold. */
			if ((uint64_t)e * SECTOR != next_src)
				break;
			next_src += v->grain_bytes;
		}
		if (pos >= hint_end)
			scanned++;
		g++;
		pos += v->grain_bytes;
	}
	ret->len = MIN(pos, d->size) - off;
	return 0;
}

static int sparse_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct sparse_disk *v = (struct sparse_disk *)d;
	uint8_t *p = buf;
	int r;

	while (len > 0) {
		struct disk_run run;
		size_t n;

		r = sparse_status(d, off, len, &run);
		if (r < 0)
			return r;
		n = run.len < len ? (size_t)run.len : len;
		if (run.state != DISK_DATA) {
			memset(p, 0, n);
		} else if (run.src) {
			r = source_pread(run.src, p, n, run.src_off);
			if (r < 0)
				return r;
		} else {
			for (size_t done = 0; done < n;) {
				uint64_t o = off + done, goff = o & (v->grain_bytes - 1);
				size_t k = (size_t)MIN((uint64_t)(n - done), v->grain_bytes - goff);

				r = read_grain(v, o >> v->grain_shift, p + done, (size_t)goff, k);
				if (r < 0)
					return r;
				done += k;
			}
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void sparse_free(struct disk *d)
{
	struct sparse_disk *v = (struct sparse_disk *)d;

	tbls_free(v->tbls, v->n_tbls);
	source_unref(v->src);
	free(v);
}

static const struct disk_ops vmdk_sparse_ops = {
	.kind = "vmdk-sparse",
	.read = sparse_read,
	.status = sparse_status,
	.free = sparse_free,
};

static const struct disk_ops vmdk_stream_ops = {
	.kind = "vmdk-stream",
	.read = sparse_read,
	.status = sparse_status,
	.free = sparse_free,
};

int vmdk_sparse_open(struct source *src, const char *name, struct disk **ret, struct err *err)
{
	struct kdmv_header h;
	struct sparse_disk *v;
	bool compressed;
	int r;

	r = kdmv_read_header(src, name, &h, err);
	if (r < 0)
		return r;
	r = kdmv_check(&h, name, "header", err);
	if (r < 0)
		return r;
	compressed = kdmv_compressed(&h);

	v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	v->src = source_ref(src);
	v->grain_sectors = h.grain;
	v->grain_bytes = h.grain * SECTOR;
	v->grain_shift = (unsigned)__builtin_ctzll(v->grain_bytes);
	v->n_grains = DIV_ROUND_UP(h.capacity, h.grain);
	v->tbl_entries = h.ngte;
	v->compressed = compressed;
	v->zero_grains = h.flags & KDMV_FLAG_ZERO_GRAIN;
	v->max_csize = (uint32_t)MAX_CSIZE(v->grain_bytes);
	v->overhead = h.overhead;
	if (disk_init(&v->d, compressed ? &vmdk_stream_ops : &vmdk_sparse_ops, name,
		      h.capacity * SECTOR, (uint32_t)v->grain_bytes, compressed) < 0) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out_free;
	}
	r = compressed ? open_stream(v, &h, err) : open_tables(v, &h, h.gd_off, err);
	if (r < 0)
		goto out_free;
	*ret = &v->d;
	return 0;

out_free:
	disk_unref(&v->d); /* name is NULL if disk_init failed; unref copes */
	return r;
}

int vmdk_sparse_read_descriptor(struct source *src, char **ret, size_t *ret_len,
				struct err *err)
{
	uint8_t magic[4];
	struct kdmv_header h;
	uint64_t bytes, end;
	char *text;
	size_t len;
	int r;

	if (src->size < sizeof(magic))
		return -ENOENT;
	r = source_pread(src, magic, sizeof(magic), 0);
	if (r < 0)
		return err_set(err, -r, "%s: reading the sparse header: %s", src->name,
			       strerror(-r));
	if (le32(magic) != KDMV_MAGIC)
		return -ENOENT;
	r = kdmv_read_header(src, src->name, &h, err);
	if (r < 0)
		return r;
	if (h.desc_off == 0 || h.desc_size == 0)
		return -ENOENT;
	if (h.desc_size > VMDK_DESC_MAX_BYTES / SECTOR)
		return err_set(err, EFBIG,
			       "%s: embedded descriptor of 0x%" PRIx64
			       " sectors is over the cap of 1 MiB", src->name, h.desc_size);
	bytes = h.desc_size * SECTOR;
	end = span_end(h.desc_off, bytes);
	if (end > src->size)
		return err_set(err, EINVAL,
			       "%s: embedded descriptor at sector 0x%" PRIx64
			       " lies past end of file (0x%" PRIx64 " > 0x%" PRIx64 ")",
			       src->name, h.desc_off, end, src->size);
	text = malloc(bytes + 1);
	if (!text)
		return err_set(err, ENOMEM, "%s: out of memory", src->name);
	r = source_pread(src, text, bytes, h.desc_off * SECTOR);
	if (r < 0) {
		free(text);
		return err_set(err, -r, "%s: reading the embedded descriptor: %s", src->name,
			       strerror(-r));
	}
	/* The descriptor area is NUL-padded to its sectors. */
	len = strnlen(text, bytes);
	text[len] = '\0';
	*ret = text;
	*ret_len = len;
	return 0;
}
