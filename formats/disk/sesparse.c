/* SPDX-License-Identifier: MIT */
/*
 * ESXi seSparse extents ("space efficient sparse"): the "-sesparse.vmdk" files of
 * snapshots on VMFS6 (ESXi 6.5 and later, the default for every disk since 6.7).  One
 * extent becomes one disk; grains never written in the delta are UNALLOCATED, for the
 * chain to read from the parent.  The grain tables stay in the file (table-disk.c).
 *
 * Notes on the format
 * -------------------
 * VMware never published it.  Sources: qemu's block/vmdk.c (vmdk_open_se_sparse and the
 * seSparse branch of get_cluster_offset, from the commit that added read support, whose
 * message describes the design) and the header dump ESXi's hostd writes to its log when
 * it creates a snapshot.  All integers are little-endian u64; offsets and sizes count
 * 512-byte sectors.  The constant header is sector 0:
 *
 *      0  magic 0xcafebabe                      96  journal header offset, size
 *      8  version 0x0000000200000001 ("2.1")  112  journal offset, size
 *     16  capacity                             128  grain directory offset, size
 *     24  grain size (8: 4 KiB grains)         144  grain tables offset, size
 *     32  grain table size (64: 4096 entries)  160  free bitmap offset, size
 *     40  flags (0)                            176  backmap offset, size
 *     48  four reserved u64 (0)                192  grains offset, size
 *     80  volatile header offset, size         208  zero padding to 512
 *
 * ESXi lays the areas out in that order, each rounded up to 1 MiB, and preallocates the
 * grain directory and every grain table a disk of that capacity can need; the grains area
 * is as large as the capacity and the file grows into it.  The volatile header (one
 * sector) holds magic 0xcafecafe, the number of grain tables in use, the next journal
 * transaction and replayJournal: non-zero when the file was not closed cleanly and the
 * journal holds metadata changes not yet applied.
 *
 * A grain directory entry is 0 (no table: none of its 16 MiB was written), or has
 * 0x10000000 in its top 32 bits and in its bottom 32 bits n, the index of a table in the
 * grain tables area (table n at sector gtOffset + 64 n).  A grain table entry's top
 * nibble is its state:
 *     0  never written here (UNALLOCATED; the rest of the entry must be 0)
 *     1  unmapped by the guest (SCSI UNMAP): reads as zeros, the parent is not consulted
 *     2  written as zeros (ZERO)
 *     3  allocated: bits 48..59 are the low 12 bits and bits 0..47 the high bits of the
 *        grain's index in the grains area; the grain is at sector grainsOffset + 8 index
 * and 4..15 are not used.  qemu reads unmapped grains as zeros, and so do we: a chain must
 * not show the parent's old data where the guest discarded it.
 *
 * What we check: magic, version, grain size 8 and table size 64 (the only ones ESXi
 * writes; others are refused with ENOTSUP, like flags or reserved fields that are not 0),
 * a capacity we can present; the volatile header's magic, and replayJournal (ENOTSUP: we
 * do not replay the journal, and without it the tables may be stale); that the grain
 * directory covers the capacity and lies in the file; that the directory, the tables area
 * and the grains area do not overlap each other or the header; every directory entry
 * (form, table index inside the tables area, table inside the file, no table used twice);
 * every table entry (state, and an allocated grain inside the grains area and the file).
 * The journal, free bitmap and backmap are only needed to write or reclaim space, and
 * are not read.  The header's padding is not checked.
 */
#include "vmdk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/endian.h"
#include "table-disk.h"

#define SECTOR 512u
#define SES_MAGIC UINT64_C(0xcafebabe)
#define SES_VOLATILE_MAGIC UINT64_C(0xcafecafe)
#define SES_VERSION UINT64_C(0x0000000200000001)
#define SES_GRAIN_SECTORS 8u
#define SES_GT_SECTORS 64u
#define SES_GT_ENTRIES (SES_GT_SECTORS * SECTOR / 8)
#define SES_GDE_TABLE UINT64_C(0x1000000000000000)
#define SES_GDE_TYPE_MASK UINT64_C(0xffffffff00000000)
/* The disk must be addressable as a file (off_t) by the layers above. */
#define SES_MAX_CAPACITY ((uint64_t)INT64_MAX / SECTOR)

enum {
	GTE_UNALLOCATED = 0,
	GTE_UNMAPPED = 1,
	GTE_ZERO = 2,
	GTE_ALLOCATED = 3,
};

struct ses_header {
	uint64_t magic, version, capacity, grain, gt_size, flags, reserved[4];
	uint64_t vol_off, vol_size, jhdr_off, jhdr_size, journal_off, journal_size;
	uint64_t gd_off, gd_size, gts_off, gts_size, bitmap_off, bitmap_size;
	uint64_t backmap_off, backmap_size, grains_off, grains_size;
};

static void ses_decode_header(const uint8_t *b, struct ses_header *h)
{
	uint64_t *f[] = { &h->magic,	   &h->version,	    &h->capacity,    &h->grain,
			  &h->gt_size,	   &h->flags,	    &h->reserved[0], &h->reserved[1],
			  &h->reserved[2], &h->reserved[3], &h->vol_off,     &h->vol_size,
			  &h->jhdr_off,	   &h->jhdr_size,   &h->journal_off, &h->journal_size,
			  &h->gd_off,	   &h->gd_size,	    &h->gts_off,     &h->gts_size,
			  &h->bitmap_off,  &h->bitmap_size, &h->backmap_off, &h->backmap_size,
			  &h->grains_off,  &h->grains_size };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = le64(b + 8 * i);
}

/* Byte range of an area given in sectors, saturated at UINT64_MAX. */
static void area_bytes(uint64_t sector, uint64_t sectors, uint64_t *ret_off, uint64_t *ret_end)
{
	uint64_t off, len, end;

	if (CHECKED_MUL(sector, SECTOR, &off))
		off = UINT64_MAX;
	if (CHECKED_MUL(sectors, SECTOR, &len) || CHECKED_ADD(off, len, &end))
		end = UINT64_MAX;
	*ret_off = off;
	*ret_end = end;
}

static const char *ses_decode(const struct table_disk *t, uint64_t e, unsigned *ret_state,
			      uint64_t *ret_off)
{
	uint64_t index, off;

	switch (e >> 60) {
	case GTE_UNALLOCATED:
		if (e)
			return "is unallocated but has other bits set";
		*ret_state = DISK_UNALLOC;
		return NULL;
	case GTE_UNMAPPED:
	case GTE_ZERO:
		*ret_state = DISK_ZERO;
		return NULL;
	case GTE_ALLOCATED:
		index = (e >> 48 & 0xfff) | (e & UINT64_C(0x0000ffffffffffff)) << 12;
		if (CHECKED_MUL(index, t->grain_bytes, &off) || CHECKED_ADD(off, t->base, &off))
			off = UINT64_MAX; /* fails the grains area check */
		*ret_state = DISK_DATA;
		*ret_off = off;
		return NULL;
	default:
		return "has an unknown state (top nibble not 0 to 3)";
	}
}

static const struct disk_ops sesparse_ops = {
	.kind = "sesparse",
	.read = disk_read_by_status,
	.status = table_disk_status,
	.free = table_disk_free,
};

static const struct table_disk_fmt sesparse_fmt = {
	.ops = &sesparse_ops,
	.entry_bytes = 8,
	.decode = ses_decode,
};

static int ses_check_header(const struct ses_header *h, const char *name, struct err *err)
{
	if (h->magic != SES_MAGIC)
		return err_set(err, EINVAL,
			       "%s: not a seSparse extent: header magic 0x%016" PRIx64
			       ", want 0x%016" PRIx64,
			       name, h->magic, SES_MAGIC);
	if (h->version != SES_VERSION)
		return err_set(err, ENOTSUP,
			       "%s: seSparse header: unsupported version 0x%016" PRIx64
			       " (0x%016" PRIx64 " is read)",
			       name, h->version, SES_VERSION);
	if (h->grain != SES_GRAIN_SECTORS)
		return err_set(err, ENOTSUP,
			       "%s: seSparse header: grain size %" PRIu64 " sectors is not "
			       "supported (ESXi writes %u)",
			       name, h->grain, SES_GRAIN_SECTORS);
	if (h->gt_size != SES_GT_SECTORS)
		return err_set(err, ENOTSUP,
			       "%s: seSparse header: grain table size %" PRIu64 " sectors is not "
			       "supported (ESXi writes %u)",
			       name, h->gt_size, SES_GT_SECTORS);
	if (h->flags)
		return err_set(err, ENOTSUP, "%s: seSparse header: unknown flags 0x%016" PRIx64,
			       name, h->flags);
	for (int i = 0; i < 4; i++)
		if (h->reserved[i])
			return err_set(err, ENOTSUP,
				       "%s: seSparse header: reserved field %d is 0x%016" PRIx64
				       ", not 0",
				       name, i + 1, h->reserved[i]);
	if (h->capacity == 0 || h->capacity > SES_MAX_CAPACITY)
		return err_set(err, h->capacity ? EFBIG : EINVAL,
			       "%s: seSparse header: capacity 0x%" PRIx64 " sectors is %s", name,
			       h->capacity,
			       h->capacity ? "over the largest disk we can present" : "zero");
	return 0;
}

static int ses_check_volatile(struct source *src, const struct ses_header *h, const char *name,
			      struct err *err)
{
	uint8_t b[32];
	uint64_t off, end;
	int r;

	area_bytes(h->vol_off, 1, &off, &end);
	if (h->vol_off == 0 || end > src->size)
		return err_set(err, EINVAL,
			       "%s: seSparse volatile header at sector 0x%" PRIx64
			       " %s (file 0x%" PRIx64 " bytes)",
			       name, h->vol_off,
			       h->vol_off ? "lies past end of file" : "overlaps the header",
			       src->size);
	r = source_pread(src, b, sizeof(b), off);
	if (r < 0)
		return err_set(err, -r, "%s: reading the seSparse volatile header: %s", name,
			       strerror(-r));
	if (le64(b) != SES_VOLATILE_MAGIC)
		return err_set(err, EINVAL,
			       "%s: seSparse volatile header: magic 0x%016" PRIx64
			       ", want 0x%016" PRIx64,
			       name, le64(b), SES_VOLATILE_MAGIC);
	if (le64(b + 24))
		return err_set(err, ENOTSUP,
			       "%s: seSparse volatile header: replayJournal is set (the file was "
			       "not closed cleanly and its journal, which we do not replay, holds "
			       "changes); let ESXi open the disk once, or consolidate the snapshot",
			       name);
	return 0;
}

struct area {
	const char *what;
	uint64_t off, end;
};

/* The header, grain directory, grain tables and grains areas may not overlap. */
static int ses_check_areas(const struct ses_header *h, const char *name, struct err *err)
{
	struct area a[4] = { { "header", 0, SECTOR } };

	a[1].what = "grain directory";
	area_bytes(h->gd_off, h->gd_size, &a[1].off, &a[1].end);
	a[2].what = "grain tables";
	area_bytes(h->gts_off, h->gts_size, &a[2].off, &a[2].end);
	a[3].what = "grains";
	area_bytes(h->grains_off, h->grains_size, &a[3].off, &a[3].end);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (a[i].off < a[j].end && a[j].off < a[i].end)
				return err_set(err, EINVAL,
					       "%s: seSparse header: the %s area (bytes 0x%" PRIx64
					       "..0x%" PRIx64 ") overlaps the %s area (0x%" PRIx64
					       "..0x%" PRIx64 ")",
					       name, a[i].what, a[i].off, a[i].end, a[j].what,
					       a[j].off, a[j].end);
	return 0;
}

int sesparse_open(struct source *src, const char *name, struct disk **ret, struct err *err)
{
	uint8_t b[SECTOR] = { 0 };
	struct ses_header h;
	uint64_t n_grains, need, gd_entries, gd_off, gd_end, gts_off, gts_end, n_gts;
	uint64_t grains_off, grains_end;
	struct table_disk *t = NULL;
	CLEANUP_FREE uint8_t *gd = NULL;
	size_t n = src->size < sizeof(b) ? (size_t)src->size : sizeof(b);
	int r;

	r = source_pread(src, b, n, 0);
	if (r < 0)
		return err_set(err, -r, "%s: reading the seSparse header: %s", name, strerror(-r));
	if (n < 8 || le64(b) != SES_MAGIC)
		return err_set(err, EINVAL,
			       "%s: not a seSparse extent: header magic 0x%016" PRIx64
			       ", want 0x%016" PRIx64,
			       name, n < 8 ? 0 : le64(b), SES_MAGIC);
	if (n < SECTOR)
		return err_set(
			err, EINVAL,
			"%s: seSparse header truncated (file is 0x%zx bytes, the header 0x%x)",
			name, n, SECTOR);
	ses_decode_header(b, &h);
	r = ses_check_header(&h, name, err);
	if (r < 0)
		return r;
	r = ses_check_volatile(src, &h, name, err);
	if (r < 0)
		return r;
	r = ses_check_areas(&h, name, err);
	if (r < 0)
		return r;

	n_grains = DIV_ROUND_UP(h.capacity, SES_GRAIN_SECTORS);
	need = DIV_ROUND_UP(n_grains, SES_GT_ENTRIES);
	if (CHECKED_MUL(h.gd_size, SECTOR / 8, &gd_entries))
		gd_entries = UINT64_MAX;
	if (gd_entries < need)
		return err_set(
			err, EINVAL,
			"%s: seSparse grain directory of 0x%" PRIx64 " entries does not cover "
			"the capacity of 0x%" PRIx64 " sectors (0x%" PRIx64 " entries needed)",
			name, gd_entries, h.capacity, need);
	/* Only the entries covering the capacity are read, but ESXi preallocates the
	 * whole directory: one that does not fit in the file is a damaged header. */
	area_bytes(h.gd_off, h.gd_size, &gd_off, &gd_end);
	if (gd_end > src->size)
		return err_set(err, EINVAL,
			       "%s: seSparse grain directory at sector 0x%" PRIx64 " (0x%" PRIx64
			       " sectors) lies past end of file (0x%" PRIx64 " bytes)",
			       name, h.gd_off, h.gd_size, src->size);
	area_bytes(h.gts_off, h.gts_size, &gts_off, &gts_end);
	n_gts = (gts_end - gts_off) / (SES_GT_SECTORS * SECTOR);
	area_bytes(h.grains_off, h.grains_size, &grains_off, &grains_end);

	r = table_disk_new(&sesparse_fmt, src, name, h.capacity * SECTOR,
			   SES_GRAIN_SECTORS * SECTOR, SES_GT_ENTRIES, &t, err);
	if (r < 0)
		return r;
	t->base = grains_off;
	t->data_lo = grains_off;
	t->data_hi = grains_end;
	gd = malloc(need * 8);
	if (!gd) {
		r = err_set(err, ENOMEM, "%s: out of memory for the grain directory", name);
		goto out_free;
	}
	r = source_pread(src, gd, need * 8, gd_off);
	if (r < 0) {
		r = err_set(err, -r, "%s: reading the grain directory: %s", name, strerror(-r));
		goto out_free;
	}
	for (uint64_t i = 0; i < need; i++) {
		uint64_t e = le64(gd + 8 * i), index = e & 0xffffffffu, off;

		if (!e)
			continue;
		if ((e & SES_GDE_TYPE_MASK) != SES_GDE_TABLE) {
			r = err_set(err, EINVAL,
				    "%s: grain directory entry %" PRIu64 " (0x%016" PRIx64
				    ") is not a grain table reference",
				    name, i, e);
			goto out_free;
		}
		if (index >= n_gts) {
			r = err_set(err, EINVAL,
				    "%s: grain directory entry %" PRIu64
				    " names grain table %" PRIu64 ", past the %" PRIu64
				    " tables of the grain tables area",
				    name, i, index, n_gts);
			goto out_free;
		}
		/* gts_off + index * 32 KiB < gts_end: no overflow.  Two entries naming one
		 * table make table_disk_check find an overlap. */
		off = gts_off + index * (SES_GT_SECTORS * SECTOR);
		if (!range_ok(off, SES_GT_SECTORS * SECTOR, src->size)) {
			r = err_set(err, EINVAL,
				    "%s: grain table %" PRIu64 " (grain directory entry %" PRIu64
				    ") at byte 0x%" PRIx64 " lies past end of file (0x%" PRIx64
				    " bytes)",
				    name, index, i, off, src->size);
			goto out_free;
		}
		t->tbl_off[i] = off;
	}
	r = table_disk_check(t, err);
	if (r < 0)
		goto out_free;
	*ret = &t->d;
	return 0;

out_free:
	disk_unref(&t->d);
	return r;
}
