/* SPDX-License-Identifier: MIT */
/*
 * OVF manifests: parse the .mf text, and hash a package file to compare with it.
 *
 * Notes on the format
 *
 * DSP0243 §5.1 gives one line per file: the digest algorithm, the file name in
 * parentheses, '=', a space, the digest in hex ("SHA256(disk1.vmdk)= 4a21...").  The
 * writers do not agree on the details, so we accept what they actually produce:
 *   - ovftool and VirtualBox write "SHA1(name)= hex"; govc and older VMware tools write
 *     "SHA1 (name) = hex": blanks are allowed around '(' and '=';
 *   - Windows tools end lines with CRLF and some start the file with a UTF-8 BOM;
 *   - hex digits come in either case;
 *   - a name may itself contain spaces, parentheses and even '=': a digest never
 *     contains '=' or ')', so the name runs up to the last ')' before the last '='.
 * Empty lines are skipped; anything else that is not such a line is an error, since a
 * manifest we half understand cannot vouch for anything.  We know SHA1 (OVF 1.x),
 * SHA256 (OVF 2.x, ovftool --shaAlgorithm) and SHA512; another algorithm is -ENOTSUP,
 * named, rather than silently unchecked.  A file listed twice is an error: which of the
 * two digests would we believe?
 *
 * What a name means (a bare member of the package, no '/' or "..") is the package
 * code's business; here a name is only text without control characters.
 */
#include "manifest.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/version.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"

/* Hash in 1 MiB reads: large enough that per-read overhead vanishes next to SHA, small
 * enough to allocate per verification. */
#define VERIFY_CHUNK (1u << 20)
/* Report progress every 4 MiB: a few hundred calls per GiB, cheap for a tty. */
#define VERIFY_REPORT_EVERY (4u << 20)
/* An algorithm name longer than this is not one we could know; keeps messages short. */
#define ALGO_NAME_MAX 16

struct manifest {
	struct manifest_entry *entries;
	size_t n;
};

static const struct {
	const char *name;
	const struct nettle_hash *hash;
} algos[] = {
	[MANIFEST_SHA1] = { "SHA1", &nettle_sha1 },
	[MANIFEST_SHA256] = { "SHA256", &nettle_sha256 },
	[MANIFEST_SHA512] = { "SHA512", &nettle_sha512 },
};

const char *manifest_algo_name(enum manifest_algo algo)
{
	assert((size_t)algo < sizeof(algos) / sizeof(algos[0]));
	return algos[algo].name;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_algo_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Parse one line s[0..n) (no '\n') into *e, or leave e->name NULL for an empty line. */
static int parse_line(const char *s, size_t n, const char *mf, unsigned lineno,
		      struct manifest_entry *e, struct err *err)
{
	size_t algo_len, open, close, eq, i, name_len, hex_len;
	const char *name, *hex;
	int algo = -1;

	/* CR of a CRLF, trailing and leading blanks */
	while (n && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
		n--;
	while (n && is_blank(*s)) {
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* names reach messages and the terminal: no line breaks, no escape sequences */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return err_set(err, EINVAL, "%s: line %u: control character 0x%02x", mf,
				       lineno, c);
	}

	for (algo_len = 0; algo_len < n && is_algo_char(s[algo_len]); algo_len++)
		;
	for (open = algo_len; open < n && is_blank(s[open]); open++)
		;
	/* the digest has neither '=' nor ')', so the last '=' ends the name */
	for (eq = n; eq > 0 && s[eq - 1] != '='; eq--)
		;
	if (algo_len == 0 || open >= n || s[open] != '(' || eq == 0)
		goto bad_line;
	eq--;
	for (close = eq; close > open && is_blank(s[close - 1]); close--)
		;
	if (close <= open + 1 || s[close - 1] != ')')
		goto bad_line;
	close--;
	name = s + open + 1;
	name_len = close - open - 1;
	if (name_len == 0)
		return err_set(err, EINVAL, "%s: line %u: empty file name", mf, lineno);

	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strlen(algos[i].name) == algo_len &&
		    strncasecmp(s, algos[i].name, algo_len) == 0)
			algo = (int)i;
	if (algo < 0)
		return err_set(err, ENOTSUP,
			       "%s: line %u: digest algorithm %.*s%s is not supported (SHA1, "
			       "SHA256 and SHA512 are)", mf, lineno,
			       (int)MIN(algo_len, (size_t)ALGO_NAME_MAX), s,
			       algo_len > ALGO_NAME_MAX ? "..." : "");

	hex = s + eq + 1;
	hex_len = n - eq - 1;
	while (hex_len && is_blank(*hex)) {
		hex++;
		hex_len--;
	}
	e->algo = (enum manifest_algo)algo;
	e->digest_len = algos[algo].hash->digest_size;
	assert(e->digest_len <= MANIFEST_DIGEST_MAX);
	for (i = 0; i < hex_len; i++)
		if (hex_digit(hex[i]) < 0)
			return err_set(err, EINVAL,
				       "%s: line %u: digest of \"%.*s\" is not hexadecimal", mf,
				       lineno, (int)name_len, name);
	if (hex_len != 2 * e->digest_len)
		return err_set(err, EINVAL,
			       "%s: line %u: %s digest of \"%.*s\" has %zu hex digits, "
			       "expected %zu", mf, lineno, algos[algo].name, (int)name_len, name,
			       hex_len, 2 * e->digest_len);
	for (i = 0; i < e->digest_len; i++)
		e->digest[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));

	e->name = strndup(name, name_len);
	if (!e->name)
		return err_set(err, ENOMEM, "%s: out of memory", mf);
	e->line = lineno;
	return 0;

bad_line:
	return err_set(err, EINVAL,
		       "%s: line %u: not a digest line (expected \"SHA256(file)= hex\")", mf,
		       lineno);
}

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct manifest_entry *x = *(const struct manifest_entry *const *)a;
	const struct manifest_entry *y = *(const struct manifest_entry *const *)b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* A name listed twice is an error; report the earliest second listing, so the message does
 * not depend on the sort. */
static int check_duplicates(const struct manifest *m, const char *mf, struct err *err)
{
	const struct manifest_entry *first = NULL, *second = NULL;
	CLEANUP_FREE const struct manifest_entry **sorted = NULL;

	if (m->n < 2)
		return 0;
	sorted = malloc(m->n * sizeof(*sorted));
	if (!sorted)
		return err_set(err, ENOMEM, "%s: out of memory", mf);
	for (size_t i = 0; i < m->n; i++)
		sorted[i] = &m->entries[i];
	qsort(sorted, m->n, sizeof(*sorted), cmp_entry_ptr);
	for (size_t i = 1; i < m->n; i++)
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0 &&
		    (!second || sorted[i]->line < second->line)) {
			first = sorted[i - 1];
			second = sorted[i];
		}
	if (second)
		return err_set(err, EINVAL,
			       "%s: line %u: \"%s\" is listed twice (first on line %u)", mf,
			       second->line, second->name, first->line);
	return 0;
}

int manifest_parse(const char *text, size_t len, const char *name, struct manifest **ret,
		   struct err *err)
{
	const char *p = text, *end = text + len;
	struct manifest *m;
	size_t lines = 0;
	unsigned lineno = 0;
	int r;

	if (len > MANIFEST_MAX_BYTES)
		return err_set(err, EFBIG, "%s: manifest is %zu bytes, over the cap of %u", name,
			       len, MANIFEST_MAX_BYTES);
	for (const char *q = text; q < end; lines++) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));

		q = nl ? nl + 1 : end;
	}
	if (lines > MANIFEST_MAX_LINES)
		return err_set(err, EFBIG, "%s: manifest has %zu lines, over the cap of %u", name,
			       lines, MANIFEST_MAX_LINES);

	m = calloc(1, sizeof(*m));
	if (!m || !(m->entries = calloc(lines ? lines : 1, sizeof(*m->entries)))) {
		free(m);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct manifest_entry *e = &m->entries[m->n];

		r = parse_line(p, (size_t)(eol - p), name, ++lineno, e, err);
		if (r < 0)
			goto out_free;
		if (e->name)
			m->n++;
		p = nl ? nl + 1 : end;
	}
	r = check_duplicates(m, name, err);
	if (r < 0)
		goto out_free;
	*ret = m;
	return 0;

out_free:
	manifest_free(m);
	return r;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].name);
	free(m->entries);
	free(m);
}

size_t manifest_count(const struct manifest *m)
{
	return m->n;
}

const struct manifest_entry *manifest_entry(const struct manifest *m, size_t i)
{
	assert(i < m->n);
	return &m->entries[i];
}

const struct manifest_entry *manifest_find(const struct manifest *m, const char *file)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].name, file) == 0)
			return &m->entries[i];
	return NULL;
}

/* Nettle 4 dropped the length argument of the digest functions (no more truncation). */
static void hash_digest(const struct nettle_hash *h, void *ctx, uint8_t *out)
{
#if NETTLE_VERSION_MAJOR >= 4
	h->digest(ctx, out);
#else
	h->digest(ctx, h->digest_size, out);
#endif
}

/* A digest in lower-case hex, as sha256sum prints it. Whole, not abbreviated: a digest
 * edited by hand may differ only in its last digits, and the user will want to compare
 * with their own tool's output. out holds 2 * len + 1. */
static void hex_string(const uint8_t *d, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * len] = '\0';
}

int manifest_verify(const struct manifest_entry *e, struct source *src,
		    void (*progress)(void *opaque, uint64_t done), void *opaque, struct err *err)
{
	const struct nettle_hash *h;
	union {
		struct sha1_ctx sha1;
		struct sha256_ctx sha256;
		struct sha512_ctx sha512;
	} ctx;
	uint8_t got[MANIFEST_DIGEST_MAX];
	CLEANUP_FREE uint8_t *buf = NULL;
	uint64_t off = 0, next_report = VERIFY_REPORT_EVERY;
	char want_hex[2 * MANIFEST_DIGEST_MAX + 1], got_hex[2 * MANIFEST_DIGEST_MAX + 1];

	assert((size_t)e->algo < sizeof(algos) / sizeof(algos[0]));
	h = algos[e->algo].hash;
	assert(h->context_size <= sizeof(ctx) && h->digest_size == e->digest_len);

	buf = malloc(VERIFY_CHUNK);
	if (!buf)
		return err_set(err, ENOMEM, "%s: out of memory", src->name);
	h->init(&ctx);
	while (off < src->size) {
		size_t n = (size_t)MIN((uint64_t)VERIFY_CHUNK, src->size - off);
		int r = source_pread(src, buf, n, off);

		if (r < 0)
			return err_set(err, r, "%s: cannot read at offset %" PRIu64
				       " to verify its %s digest: %s", src->name, off,
				       algos[e->algo].name, strerror(-r));
		h->update(&ctx, n, buf);
		off += n;
		if (progress && off >= next_report && off < src->size) {
			progress(opaque, off);
			next_report = off + VERIFY_REPORT_EVERY;
		}
	}
	if (progress)
		progress(opaque, src->size);
	hash_digest(h, &ctx, got);
	if (memcmp(got, e->digest, e->digest_len) == 0)
		return 0;

	hex_string(e->digest, e->digest_len, want_hex);
	hex_string(got, e->digest_len, got_hex);
	return err_set(err, EBADMSG, "%s: %s digest mismatch (manifest says %s, file has %s)",
		       src->name, algos[e->algo].name, want_hex, got_hex);
}

void manifest_progress_bar(void *opaque, uint64_t done)
{
	struct manifest_progress *p = opaque;
	bool final = done >= p->total;
	unsigned pct;

	if (final)
		pct = 100;
	else /* the double may round up to 100 just short of the end */
		pct = MIN((unsigned)((double)done * 100 / (double)p->total), 99u);
	/* redraw only on a new percentage: a 1 TB disk must not mean 250000 writes */
	if (p->drawn == 102 || (!final && p->drawn == pct + 1))
		return;
	p->drawn = final ? 102 : pct + 1;
	if (!isatty(p->fd))
		return;
	dprintf(p->fd, "\rverifying %s %3u%% (%" PRIu64 " MiB of %" PRIu64 " MiB)%s",
		p->label ? p->label : "", pct, MIN(done, p->total) >> 20, p->total >> 20,
		final ? "\n" : "");
}
