/* SPDX-License-Identifier: MIT */
/*
 * ESXi vmfsSparse extents: the "-delta.vmdk" files of snapshots taken before ESXi 6.5
 * (and of VMFS5 disks after it), which start with "COWD".  One extent becomes one disk;
 * grains never written in the delta are UNALLOCATED, for the chain to read from the
 * parent.  The grain tables stay in the file (table-disk.c).
 *
 * Notes on the format
 * -------------------
 * Sources: VMware's "Virtual Disk Format 1.1", section "ESX Server Sparse Extents" (the
 * format has not changed since), qemu's block/vmdk.c (vmdk_open_vmfs_sparse) and the
 * layout documented by libvmdk.  All integers are little-endian u32; offsets and sizes
 * count 512-byte sectors.  The header is the first 2048 bytes (4 sectors):
 *
 *      0  magic "COWD"                 28  freeSector: the next sector to allocate
 *      4  version (1)                  32  a root disk: cylinders, heads, sectors;
 *      8  flags (3 in every file)          a child: parentFileName[1024] and
 *     12  numSectors: the capacity             parentGeneration at 1056
 *     16  grainSize in sectors (1)   1060  generation, name[60], description[512],
 *     20  gdOffset: the grain             savedGeneration, 8 reserved bytes,
 *         directory's sector (4)     1648  uncleanShutdown, then padding to 2048
 *     24  numGDEntries
 *
 * The grain directory (GD) is numGDEntries u32, each the sector of a grain table (GT) or
 * 0 when the table does not exist.  A GT is always 4096 u32 entries (16 KiB), whatever
 * the grain size; grain g is entry g % 4096 of GT g / 4096.  An entry is 0 for a grain
 * never written here, else the sector where the grain starts.  There is no "zeroed
 * grain" entry: zeros the guest wrote are stored as data.  ESXi writes the GD right after
 * the header and then allocates tables and grains as the guest writes, from freeSector
 * on, so tables and grains interleave.  The grain size is one sector: a guest write never
 * needs a copy from the parent first, at the price of a table entry per sector.
 *
 * What we check: the version (1; the Workstation 3 "COWD" files that qemu calls VMDK3
 * have version 3 and other table sizes, and are refused), the grain size (a power of two
 * up to 16 MiB), that the GD covers the capacity and lies in the file, that every GT lies
 * in the file after the header and no two overlap, and that every grain lies after the
 * header and inside the file.  The flags, the name and description, the parent's name
 * and generation, and freeSector only describe, and uncleanShutdown means only that
 * ESXi must check the file before writing to it: we only read, as qemu does.  A bare
 * COWD file is not a disk on its own (it has no descriptor and is always a delta):
 * vmdk.c opens it through the descriptor that names it.
 */
#include "vmdk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/endian.h"
#include "table-disk.h"

#define SECTOR 512u
#define COWD_MAGIC 0x44574f43u /* "COWD" */
#define COWD_HEADER_BYTES 2048u
#define COWD_VERSION 1u
#define COWD_GT_ENTRIES 4096u

static const char *cowd_decode(const struct table_disk *t, uint64_t e, unsigned *ret_state,
			       uint64_t *ret_off)
{
	(void)t;
	*ret_state = e ? DISK_DATA : DISK_UNALLOC;
	*ret_off = e * SECTOR;
	return NULL;
}

static const struct disk_ops cowd_ops = {
	.kind = "cowd",
	.read = disk_read_by_status,
	.status = table_disk_status,
	.free = table_disk_free,
};

static const struct table_disk_fmt cowd_fmt = {
	.ops = &cowd_ops,
	.entry_bytes = 4,
	.decode = cowd_decode,
};

int cowd_open(struct source *src, const char *name, struct disk **ret, struct err *err)
{
	uint8_t h[COWD_HEADER_BYTES] = { 0 };
	uint32_t version, capacity, grain, gd_sector, gd_entries;
	uint64_t n_grains, need, gd_off, gd_bytes;
	struct table_disk *t = NULL;
	uint8_t *gd = NULL;
	size_t n;
	int r;

	n = src->size < sizeof(h) ? (size_t)src->size : sizeof(h);
	r = source_pread(src, h, n, 0);
	if (r < 0)
		return err_set(err, -r, "%s: reading the COWD header: %s", name, strerror(-r));
	if (n < 4 || le32(h) != COWD_MAGIC)
		return err_set(err, EINVAL,
			       "%s: not a COWD (vmfsSparse) extent: magic is not \"COWD\"", name);
	if (n < COWD_HEADER_BYTES)
		return err_set(err, EINVAL,
			       "%s: COWD header truncated (file is 0x%zx bytes, the header 0x%x)",
			       name, n, COWD_HEADER_BYTES);
	version = le32(h + 4);
	capacity = le32(h + 12);
	grain = le32(h + 16);
	gd_sector = le32(h + 20);
	gd_entries = le32(h + 24);
	if (version != COWD_VERSION)
		return err_set(err, ENOTSUP,
			       "%s: COWD header: unsupported version %" PRIu32
			       " (version 1, ESXi vmfsSparse, is read)",
			       name, version);
	if (!is_pow2(grain) || grain > VMDK_MAX_GRAIN_BYTES / SECTOR)
		return err_set(err, grain > VMDK_MAX_GRAIN_BYTES / SECTOR ? EFBIG : EINVAL,
			       "%s: COWD header: grain size %" PRIu32
			       " sectors is not a power of two from 1 to %u",
			       name, grain, VMDK_MAX_GRAIN_BYTES / SECTOR);
	if (capacity == 0)
		return err_set(err, EINVAL, "%s: COWD header: capacity is 0 sectors", name);
	n_grains = DIV_ROUND_UP((uint64_t)capacity, grain);
	need = DIV_ROUND_UP(n_grains, COWD_GT_ENTRIES);
	if (gd_entries < need)
		return err_set(err, EINVAL,
			       "%s: COWD grain directory of %" PRIu32 " entries does not cover the "
			       "capacity of 0x%" PRIx32 " sectors (%" PRIu64 " entries needed)",
			       name, gd_entries, capacity, need);
	/* Only the entries covering the capacity are read, but the directory the header
	 * declares must be in the file: a header that says otherwise is damaged. */
	gd_off = (uint64_t)gd_sector * SECTOR;
	gd_bytes = (uint64_t)gd_entries * 4;
	if (gd_sector < COWD_HEADER_BYTES / SECTOR || !range_ok(gd_off, gd_bytes, src->size))
		return err_set(err, EINVAL,
			       "%s: COWD grain directory at sector 0x%" PRIx32 " (%" PRIu32
			       " entries) %s (file 0x%" PRIx64 " bytes)",
			       name, gd_sector, gd_entries,
			       gd_sector < COWD_HEADER_BYTES / SECTOR ? "overlaps the header"
								      : "lies past end of file",
			       src->size);

	r = table_disk_new(&cowd_fmt, src, name, (uint64_t)capacity * SECTOR,
			   (uint64_t)grain * SECTOR, COWD_GT_ENTRIES, &t, err);
	if (r < 0)
		return r;
	t->data_lo = COWD_HEADER_BYTES;
	gd_bytes = need * 4;
	gd = malloc(gd_bytes);
	if (!gd) {
		r = err_set(err, ENOMEM, "%s: out of memory for the grain directory", name);
		goto out_free;
	}
	r = source_pread(src, gd, gd_bytes, gd_off);
	if (r < 0) {
		r = err_set(err, -r, "%s: reading the grain directory: %s", name, strerror(-r));
		goto out_free;
	}
	for (uint64_t i = 0; i < need; i++) {
		uint64_t s = le32(gd + 4 * i), off = s * SECTOR;

		if (!s)
			continue;
		if (s < COWD_HEADER_BYTES / SECTOR ||
		    !range_ok(off, COWD_GT_ENTRIES * 4, src->size)) {
			r = err_set(err, EINVAL,
				    "%s: grain table %" PRIu64 " at sector 0x%" PRIx64
				    " %s (file 0x%" PRIx64 " bytes)",
				    name, i, s,
				    s < COWD_HEADER_BYTES / SECTOR ? "overlaps the header"
								   : "lies past end of file",
				    src->size);
			goto out_free;
		}
		t->tbl_off[i] = off;
	}
	r = table_disk_check(t, err);
	if (r < 0)
		goto out_free;
	free(gd);
	*ret = &t->d;
	return 0;

out_free:
	free(gd);
	disk_unref(&t->d);
	return r;
}
