/* SPDX-License-Identifier: MIT */
/*
 * Exercising a disk that a decoder opened from fuzzed bytes: the harnesses of the VMDK
 * family walk its block status, ask status again at offsets inside the runs they saw,
 * and read a few ranges, checking what struct disk_ops promises (runs inside the disk,
 * the same state at every offset of a run, DATA runs with a src reading as those source
 * bytes, ZERO and UNALLOCATED reading as zeros in a leaf decoder) without trusting any
 * answer to be small.  Reads may fail (-EIO for a corrupt grain); they must not crash.
 */
#ifndef VMFS_FUZZ_DISK_CHECK_H
#define VMFS_FUZZ_DISK_CHECK_H

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/common/bounds.h"
#include "../../formats/common/err.h"
#include "../../formats/disk/disk.h"
#include "fuzz.h"

/* Enough runs and reads to reach every table of a fuzzed image, few enough to stay fast
 * on a huge sparse capacity. */
#define FUZZ_DISK_MAX_RUNS 4096
#define FUZZ_DISK_PICKS 8
#define FUZZ_DISK_MAX_READ (16 * 1024)

struct fuzz_run {
	uint64_t off, len;
	unsigned state;
	struct source *src;
	uint64_t src_off;
};

/* A message for a failed open: set, the code returned, one line of printable text. */
__attribute__((unused)) static void fuzz_check_err(int r, const struct err *err)
{
	FUZZ_CHECK(r < 0, "returned %d", r);
	FUZZ_CHECK(err->code == -r, "returned %d but err.code is %d (\"%s\")", r, err->code,
		   err->msg);
	FUZZ_CHECK(err->msg[0] != '\0', "failed with %d and no message", r);
	/* The line is printed to a terminal: a file's bytes must not break it or steer it
	 * (a tab does neither; manifests allow it in names). */
	for (const char *p = err->msg; *p; p++)
		FUZZ_CHECK(((unsigned char)*p >= 0x20 || *p == '\t') && *p != 0x7f,
			   "message holds control byte 0x%02x: \"%s\"", (unsigned char)*p,
			   err->msg);
}

/* Read [off, off + len) and compare with what the run that holds it promises. */
__attribute__((unused)) static void fuzz_disk_read_run(struct disk *d, const struct fuzz_run *run,
						       uint64_t off, size_t len)
{
	uint8_t *buf, *want = NULL;
	int r;

	if (len == 0)
		return;
	buf = malloc(len);
	FUZZ_CHECK(buf, "out of memory");
	r = disk_read(d, buf, len, off);
	FUZZ_CHECK(r <= 0, "disk_read returned %d", r);
	if (r == 0 && run && off >= run->off && len <= run->off + run->len - off) {
		if (run->state != DISK_DATA) {
			for (size_t i = 0; i < len; i++)
				FUZZ_CHECK(buf[i] == 0,
					   "byte 0x%" PRIx64 " of a %s run reads 0x%02x, not 0",
					   off + i, run->state == DISK_ZERO ? "ZERO" : "UNALLOC",
					   buf[i]);
		} else if (run->src) {
			want = malloc(len);
			FUZZ_CHECK(want, "out of memory");
			FUZZ_CHECK(source_pread(run->src, want, len,
						run->src_off + (off - run->off)) == 0,
				   "a DATA run's source cannot be read where status put it");
			FUZZ_CHECK(memcmp(buf, want, len) == 0,
				   "DATA at 0x%" PRIx64
				   " reads other bytes than its src at 0x%" PRIx64,
				   off, run->src_off + (off - run->off));
		}
	}
	free(want);
	free(buf);
}

/* Walk, probe and read d; seed picks the random probes. */
__attribute__((unused)) static void fuzz_check_disk(struct disk *d, uint64_t seed)
{
	struct fuzz_run picks[FUZZ_DISK_PICKS];
	unsigned n_picks = 0, n_runs = 0;
	uint64_t off = 0;

	while (off < d->size && n_runs < FUZZ_DISK_MAX_RUNS) {
		struct disk_run run;
		int r = disk_status(d, off, d->size - off, &run);

		FUZZ_CHECK(r <= 0, "disk_status returned %d", r);
		if (r < 0)
			break;
		FUZZ_CHECK(run.len > 0 && run.len <= d->size - off,
			   "run at 0x%" PRIx64 " of length 0x%" PRIx64 " on a disk of 0x%" PRIx64,
			   off, run.len, d->size);
		FUZZ_CHECK(run.state == DISK_UNALLOC || run.state == DISK_DATA ||
				   run.state == DISK_ZERO,
			   "state %u", run.state);
		if (run.src) {
			FUZZ_CHECK(run.state == DISK_DATA, "a src on a run that is not DATA");
			FUZZ_CHECK(range_ok(run.src_off, run.len, run.src->size),
				   "DATA run at 0x%" PRIx64 " (0x%" PRIx64
				   " bytes) sits at 0x%" PRIx64 " of a source of 0x%" PRIx64
				   " bytes",
				   off, run.len, run.src_off, run.src->size);
		}
		/* The first runs, then every so often one. */
		if (n_picks < FUZZ_DISK_PICKS / 2 ||
		    (n_picks < FUZZ_DISK_PICKS && fuzz_rand(&seed) % 8 == 0))
			picks[n_picks++] =
				(struct fuzz_run){ off, run.len, run.state, run.src, run.src_off };
		off += run.len;
		n_runs++;
	}

	for (unsigned i = 0; i < n_picks; i++) {
		const struct fuzz_run *p = &picks[i];
		uint64_t at = p->off + fuzz_rand(&seed) % p->len;
		struct disk_run again;

		/* A run's state holds at every offset in it, whatever the hint. */
		FUZZ_CHECK(disk_status(d, at, 1 + fuzz_rand(&seed) % (2 * p->len), &again) == 0,
			   "status at 0x%" PRIx64 " failed after a walk passed it", at);
		FUZZ_CHECK(again.state == p->state,
			   "state at 0x%" PRIx64 " is %u, the run from 0x%" PRIx64 " said %u", at,
			   again.state, p->off, p->state);
		FUZZ_CHECK(again.len > 0 && again.len <= d->size - at, "run length 0x%" PRIx64,
			   again.len);
		fuzz_disk_read_run(d, p, p->off, (size_t)MIN(p->len, (uint64_t)FUZZ_DISK_MAX_READ));
		fuzz_disk_read_run(d, p, at, (size_t)MIN(p->off + p->len - at, (uint64_t)512));
	}

	/* The end of the disk, and a few ranges anywhere. */
	if (d->size) {
		uint64_t n = MIN(d->size, (uint64_t)4096);

		fuzz_disk_read_run(d, NULL, d->size - n, (size_t)n);
	}
	for (int i = 0; i < 4 && d->size; i++) {
		uint64_t at = fuzz_rand(&seed) % d->size;
		uint64_t n = 1 + fuzz_rand(&seed) % MIN(d->size - at, (uint64_t)FUZZ_DISK_MAX_READ);

		fuzz_disk_read_run(d, NULL, at, (size_t)n);
	}
}

/* Open src as one extent with open_fn (vmdk_sparse_open, cowd_open...), then check the
 * disk it gives, or the error. */
__attribute__((unused)) static void fuzz_check_extent(struct source *src, const char *name,
						      int (*open_fn)(struct source *, const char *,
								     struct disk **, struct err *),
						      uint64_t seed)
{
	struct err err = { 0 };
	struct disk *d;
	int r = open_fn(src, name, &d, &err);

	if (r < 0) {
		fuzz_check_err(r, &err);
		return;
	}
	FUZZ_CHECK(d->size % 512 == 0, "capacity 0x%" PRIx64 " is not whole sectors", d->size);
	fuzz_check_disk(d, seed);
	disk_unref(d);
}

#endif
