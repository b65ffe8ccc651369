/* SPDX-License-Identifier: MIT */
/*
 * Disks whose grains are found through a grain directory and grain tables that stay in
 * the file: the ESXi delta formats (cowd.c, sesparse.c).  Their tables cost 1/128
 * (COWD, 512-byte grains) and 1/512 (seSparse) of the data they map, too much to keep in
 * memory for a delta of a few hundred GiB, so only the directory is kept and a table is
 * read again when a status needs it, through a small per-thread cache.  Every table and
 * every entry is checked once at open; the read path checks each entry it uses again
 * (cheap), since the file it reads them from is not ours.
 *
 * A format fills in a struct table_disk (table_disk_new, then tbl_off from its grain
 * directory, each table checked to lie in the file) and calls table_disk_check; the disk
 * then answers status and read without any lock.  DATA runs carry the source and offset
 * of their bytes, so reads are plain preads (or splices) of the extent file.
 */
#ifndef VMFS_TABLE_DISK_H
#define VMFS_TABLE_DISK_H

#include "disk.h"

struct table_disk;

struct table_disk_fmt {
	const struct disk_ops *ops; /* the format's ops: its kind and the functions below */
	unsigned entry_bytes;	    /* grain table entries: 4 or 8 bytes, little-endian */
	/* Decode grain table entry e into *ret_state (DISK_UNALLOC, DISK_ZERO, DISK_DATA)
	 * and, for DATA, *ret_off, the byte offset of the grain in the file (not yet
	 * range-checked). NULL, or a short reason the entry is invalid ("has unknown state"). */
	const char *(*decode)(const struct table_disk *t, uint64_t e, unsigned *ret_state,
			      uint64_t *ret_off);
};

struct table_disk {
	struct disk d;
	const struct table_disk_fmt *fmt;
	struct source *src;
	uint64_t grain_bytes;
	unsigned grain_shift;
	uint32_t tbl_entries; /* entries per grain table */
	uint64_t n_grains;
	uint64_t n_tbls;   /* tables covering the capacity */
	uint64_t *tbl_off; /* per table: its byte offset in src, 0 when it maps nothing */
	uint64_t data_lo;  /* DATA grains must lie in [data_lo, data_hi) of src... */
	uint64_t data_hi;  /* ...and inside src */
	uint64_t base;	   /* for the format's decode (seSparse: the grains area) */
	uint64_t owner;	   /* this disk's key in the per-thread table cache */
};

/* Allocate a table disk of size bytes with grains of grain_bytes (a power of two) and
 * tables of tbl_entries entries; tbl_off is all zeros (no table) and data_hi is
 * UINT64_MAX. Takes its own reference on src. The caller checked the grain, and that a
 * grain directory covering size fits in src: n_tbls * 8 bytes are allocated here. 0 or
 * -ENOMEM with err. */
int table_disk_new(const struct table_disk_fmt *fmt, struct source *src, const char *name,
		   uint64_t size, uint64_t grain_bytes, uint32_t tbl_entries,
		   struct table_disk **ret, struct err *err);

/* Check the tables the format put in tbl_off (each inside src): no two overlap, and
 * every entry for a grain inside the capacity decodes and, for DATA, lies inside
 * [data_lo, data_hi) and the file. Tables that map nothing are dropped from tbl_off.
 * 0, or -errno with err naming the table and entry. */
int table_disk_check(struct table_disk *t, struct err *err);

/* A grain table in a file: its number and its byte offset. */
struct tbl_ref {
	uint64_t index, off;
};

/*
 * Read the n tables refs name, each tb bytes long and inside src, with a few big reads:
 * refs are sorted by offset, overlapping tables are refused (no writer shares a table
 * between two parts of a disk, and it keeps a copy of the tables smaller than the file),
 * neighbours within 64 KiB of each other are read together, and each(ctx, ref, bytes)
 * is called per table in file order.  A negative return from each stops the walk and is
 * returned.  name is the file's, for messages.  0 or -errno with err.
 */
int tbl_refs_read(struct source *src, const char *name, struct tbl_ref *refs, size_t n, uint64_t tb,
		  int (*each)(void *ctx, const struct tbl_ref *ref, const uint8_t *bytes,
			      struct err *err),
		  void *ctx, struct err *err);

/* The status and free of every table disk (their read is disk_read_by_status); see
 * disk.h. Thread-safe, no lock. */
int table_disk_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret);
void table_disk_free(struct disk *d);

#endif
