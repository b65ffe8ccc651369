/* SPDX-License-Identifier: MIT */
/*
 * OVF manifests (.mf, DMTF DSP0243 §5.1): one "ALGO(file)= hexdigest" line per file of
 * the package.  Parsing is pure (no I/O): the caller reads the manifest, caps it and hands
 * over its text.  Verifying hashes a whole source (GNU Nettle) and compares; that can take
 * minutes on a big disk, so it only runs when the user asks (--verify).  A parsed manifest
 * is immutable: reading it and verifying against it are thread-safe.
 */
#ifndef VMFS_MANIFEST_H
#define VMFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../source/source.h"

/* Caps: real manifests are a few lines (one per package file); see manifest.c. */
#define MANIFEST_MAX_BYTES (1u << 20)
#define MANIFEST_MAX_LINES 4096u
#define MANIFEST_DIGEST_MAX 64 /* SHA512 */

enum manifest_algo {
	MANIFEST_SHA1,
	MANIFEST_SHA256,
	MANIFEST_SHA512,
};

struct manifest_entry {
	char *name;		/* the file, exactly as written between the parentheses */
	enum manifest_algo algo;
	uint8_t digest[MANIFEST_DIGEST_MAX];
	size_t digest_len;	/* 20, 32 or 64: what algo produces */
	unsigned line;		/* where it was in the manifest, for messages */
};

struct manifest;

/* Parse the manifest text[0..len) named name (for messages). 0 or -errno with err naming
 * the manifest and line: -EINVAL malformed or duplicate, -ENOTSUP an algorithm other than
 * SHA1/SHA256/SHA512, -EFBIG over the caps, -ENOMEM. On success *ret is a manifest the
 * caller frees with manifest_free(). */
int manifest_parse(const char *text, size_t len, const char *name, struct manifest **ret,
		   struct err *err);

/* Free m and its entries (NULL is a no-op). */
void manifest_free(struct manifest *m);

/* How many entries m has, in file order. */
size_t manifest_count(const struct manifest *m);

/* Entry i (< manifest_count(m)), borrowed from m. */
const struct manifest_entry *manifest_entry(const struct manifest *m, size_t i);

/* The entry for file (an exact, case-sensitive name), borrowed from m; NULL if none. */
const struct manifest_entry *manifest_find(const struct manifest *m, const char *file);

/* "SHA1", "SHA256" or "SHA512". */
const char *manifest_algo_name(enum manifest_algo algo);

/* Hash all of src with e->algo and compare with e->digest. 0 when equal; -EBADMSG with err
 * naming src on a mismatch; another -errno with err set when src cannot be read. When
 * progress is non-NULL it is called with the bytes hashed so far every few MiB, and once
 * more with src->size when all of it was read. Thread-safe. */
int manifest_verify(const struct manifest_entry *e, struct source *src,
		    void (*progress)(void *opaque, uint64_t done), void *opaque, struct err *err);

/* State of a stderr progress bar for manifest_verify(); zero-initialise, then set the
 * public fields. */
struct manifest_progress {
	const char *label;	/* the file being verified */
	uint64_t total;		/* its size in bytes */
	int fd;			/* where to draw (2); nothing is drawn unless it is a tty */
	unsigned drawn;		/* private: 1 + the last percentage drawn, 0 for none */
};

/* A manifest_verify() progress callback; opaque is a struct manifest_progress. Draws
 * "\rverifying NAME  42% (420 MiB of 1000 MiB)" when the percentage changes, and ends the
 * line when done reaches total. Not thread-safe for one struct. */
void manifest_progress_bar(void *opaque, uint64_t done);

#endif
