/* SPDX-License-Identifier: MIT */
/*
 * The VMDK text descriptor parser.  It turns the descriptor's text into a struct
 * vmdk_desc and judges only the text: whether the named files exist, stay inside the
 * export or hold what their type says is for vmdk.c and the resolver to decide.
 *
 * Notes on the format (VMware "Virtual Disk Format 1.1", section "The Descriptor File";
 * qemu block/vmdk.c as the second reading):
 *
 * - The text is ASCII/UTF-8 lines.  A descriptor embedded in a hosted sparse extent fills
 *   its sectors and is padded with NULs, so the text ends at the first NUL.  VMware writes
 *   LF, files edited on Windows have CRLF, and govmomi leaves a space before the LF:
 *   trailing white space is not part of a line.
 * - '#' starts a comment line ("# Disk DescriptorFile", "# Extent description", "#DDB").
 * - "key = value" lines, spaces around '=' optional, the value optionally in double
 *   quotes (no escapes exist; a file name cannot hold a '"').  The header keys are
 *   version (1; 2 and 3 appear with change tracking and newer hardware), CID and
 *   parentCID (32-bit hex; parentCID ffffffff means no parent), createType and
 *   parentFileNameHint.  The disk database keys (ddb.adapterType, ddb.geometry.*,
 *   ddb.uuid, ddb.longContentID, ...) and the rest (encoding, isNativeSnapshot,
 *   changeTrackPath) only describe, so they are kept, in order, for whoever asks.
 * - Extent lines: ACCESS SECTORS TYPE ["FILE" [OFFSET]], ACCESS one of RW, RDONLY,
 *   NOACCESS; SECTORS and OFFSET decimal counts of 512-byte sectors.  ZERO has no file;
 *   FLAT and VMFS may give the offset of the data in their file (default 0); the other
 *   types (SPARSE, VMFSSPARSE, SESPARSE, VMFSRDM, VMFSRAW) take no offset.  qemu wants
 *   quoted names; a bare name without spaces is accepted too, since nothing else could be
 *   meant.  The guest disk is the extents one after another.
 *
 * Differences from qemu, on purpose: qemu skips lines it does not understand (and even
 * extents that are not RW); here a line that is neither a comment, a key = value nor an
 * extent is an error naming its line, so a damaged descriptor is not mistaken for a
 * smaller disk.  Access words and types are matched without regard to case, as keys are.
 * Every key = value line goes into kv[], header keys included, so vmdk_desc_get() answers
 * for all of them; the header fields are filled from the last occurrence, like the getter.
 */
#include "vmdk-desc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"

/*
 * VMDK_DESC_MAX_BYTES: VMware's embedded descriptors are 20 sectors and separate ones a
 * few KiB; 1 MiB is room for thousands of extent lines and bounds the parse.
 * VMDK_DESC_MAX_EXTENTS: a 62 TiB twoGbMaxExtent disk has 31744 extents in theory, but no
 * tool writes such a thing and each extent costs an open file; 4096 is 8 TiB of 2 GiB parts.
 * DESC_MAX_SECTORS: 2^63 bytes, so byte offsets computed from the sum fit an int64_t.
 */
#define DESC_MAX_SECTORS (UINT64_C(1) << 54)

/* How much of a bad token an error message quotes. */
#define SHOW_MAX 40

struct parser {
	const char *name;
	unsigned line;
	struct vmdk_desc *d;
	size_t cap_extents;
	size_t cap_kv;
	uint64_t total; /* sectors so far */
	struct err *err;
};

static const char *const type_names[] = {
	[VMDK_EXTENT_FLAT] = "FLAT",
	[VMDK_EXTENT_SPARSE] = "SPARSE",
	[VMDK_EXTENT_ZERO] = "ZERO",
	[VMDK_EXTENT_VMFS] = "VMFS",
	[VMDK_EXTENT_VMFSSPARSE] = "VMFSSPARSE",
	[VMDK_EXTENT_SESPARSE] = "SESPARSE",
	[VMDK_EXTENT_VMFSRDM] = "VMFSRDM",
	[VMDK_EXTENT_VMFSRAW] = "VMFSRAW",
};

static const char *const access_names[] = {
	[VMDK_ACCESS_RW] = "RW",
	[VMDK_ACCESS_RDONLY] = "RDONLY",
	[VMDK_ACCESS_NOACCESS] = "NOACCESS",
};

const char *vmdk_extent_type_name(enum vmdk_extent_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "?";
}

/* A bad token, cut short and with control bytes replaced, so that a hostile file cannot
 * write escape sequences to the user's terminal through an error message. */
struct shown {
	char s[SHOW_MAX + 4];
};

static struct shown show(const char *p, const char *e)
{
	struct shown r;
	size_t n = 0;

	for (; p < e && n < SHOW_MAX; p++) {
		unsigned char c = (unsigned char)*p;

		r.s[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (p < e) {
		memcpy(r.s + n, "...", 3);
		n += 3;
	}
	r.s[n] = '\0';
	return r;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_blank(const char *p, const char *e)
{
	while (p < e && is_blank(*p))
		p++;
	return p;
}

/* End of the token at p: the next blank, or e. */
static const char *token_end(const char *p, const char *e)
{
	while (p < e && !is_blank(*p))
		p++;
	return p;
}

static bool token_is(const char *p, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - p) == n && strncasecmp(p, word, n) == 0;
}

/* Decimal [p, e) into *ret: 0, -EINVAL when not a number, -ERANGE when over 64 bits. */
static int parse_u64(const char *p, const char *e, uint64_t *ret)
{
	uint64_t v = 0;

	if (p == e)
		return -EINVAL;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (CHECKED_MUL(v, 10, &v) || CHECKED_ADD(v, (uint64_t)(*p - '0'), &v)) {
			/* Keep looking: "123x" is better reported as not a number. */
			for (; p < e; p++)
				if (*p < '0' || *p > '9')
					return -EINVAL;
			return -ERANGE;
		}
	}
	*ret = v;
	return 0;
}

/* VMware writes CIDs as %08x; fewer digits are read as qemu's %x would. */
static bool parse_cid(const char *p, const char *e, uint32_t *ret)
{
	uint32_t v = 0;

	if (p == e || e - p > 8)
		return false;
	for (; p < e; p++) {
		int digit = hex_digit(*p);

		if (digit < 0)
			return false;
		v = v << 4 | (uint32_t)digit;
	}
	*ret = v;
	return true;
}

static bool is_key_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':';
}

/* err_set with "name: descriptor line N: " in front. */
static int line_error(struct parser *ps, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int line_error(struct parser *ps, int code, const char *fmt, ...)
{
	char what[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(ps->err, code, "%s: descriptor line %u: %s", ps->name, ps->line, what);
}

static int oom(struct parser *ps)
{
	return line_error(ps, ENOMEM, "out of memory");
}

/* Grow *arr (of *cap elements of size) to hold at least n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t new_cap, bytes;
	void *p;

	if (n < *cap)
		return 0;
	new_cap = *cap ? *cap : 8;
	while (new_cap <= n)
		if (CHECKED_MUL(new_cap, 2, &new_cap))
			return -ENOMEM;
	if (CHECKED_MUL(new_cap, size, &bytes))
		return -ENOMEM;
	p = realloc(*arr, bytes);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = new_cap;
	return 0;
}

/* Replace *field with a copy of [p, e). */
static int set_string(struct parser *ps, char **field, const char *p, const char *e)
{
	char *s = strndup(p, (size_t)(e - p));

	if (!s)
		return oom(ps);
	free(*field);
	*field = s;
	return 0;
}

/* Fill the header field key names, if it names one, from the value [v, ve). */
static int set_header_field(struct parser *ps, const char *key, const char *v, const char *ve)
{
	struct vmdk_desc *d = ps->d;
	uint64_t n;

	if (strcasecmp(key, "version") == 0) {
		if (parse_u64(v, ve, &n) < 0 || n < 1 || n > 3)
			return line_error(ps, EINVAL, "version \"%s\" is not supported (1, 2 or 3)",
					  show(v, ve).s);
		d->version = (unsigned)n;
	} else if (strcasecmp(key, "CID") == 0 || strcasecmp(key, "parentCID") == 0) {
		uint32_t *field = strcasecmp(key, "CID") == 0 ? &d->cid : &d->parent_cid;

		if (!parse_cid(v, ve, field))
			return line_error(ps, EINVAL, "%s \"%s\" is not a 32-bit hex number", key,
					  show(v, ve).s);
	} else if (strcasecmp(key, "createType") == 0) {
		if (v == ve)
			return line_error(ps, EINVAL, "createType is empty");
		return set_string(ps, &d->create_type, v, ve);
	} else if (strcasecmp(key, "parentFileNameHint") == 0) {
		/* An empty hint is kept: the resolver can say what is wrong with it. */
		return set_string(ps, &d->parent_hint, v, ve);
	}
	return 0;
}

/* key is [p, ke); q is just past the '='. */
static int parse_kv(struct parser *ps, const char *p, const char *ke, const char *q, const char *e)
{
	struct vmdk_desc *d = ps->d;
	const char *v, *ve;
	CLEANUP_FREE char *key = NULL;
	CLEANUP_FREE char *value = NULL;

	if (!is_key_start(*p))
		return line_error(ps, EINVAL, "key \"%s\" does not start with a letter",
				  show(p, ke).s);
	for (const char *k = p + 1; k < ke; k++)
		if (!is_key_char(*k))
			return line_error(ps, EINVAL, "key \"%s\" has a stray character",
					  show(p, ke).s);

	v = skip_blank(q, e);
	ve = e;
	if (v < e && *v == '"') {
		const char *close = memchr(v + 1, '"', (size_t)(e - v - 1));

		if (!close)
			return line_error(ps, EINVAL, "unterminated quote in the value of %s",
					  show(p, ke).s);
		if (skip_blank(close + 1, e) != e)
			return line_error(ps, EINVAL, "text after the quoted value of %s",
					  show(p, ke).s);
		v++;
		ve = close;
	}

	key = strndup(p, (size_t)(ke - p));
	value = strndup(v, (size_t)(ve - v));
	if (!key || !value || grow((void **)&d->kv, &ps->cap_kv, d->n_kv, sizeof(*d->kv)) < 0)
		return oom(ps);
	d->kv[d->n_kv].key = TAKE_PTR(key);
	d->kv[d->n_kv].value = TAKE_PTR(value);
	d->n_kv++;
	return set_header_field(ps, d->kv[d->n_kv - 1].key, v, ve);
}

static int parse_type(const char *p, const char *e, enum vmdk_extent_type *ret)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (token_is(p, e, type_names[i])) {
			*ret = (enum vmdk_extent_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool parse_access(const char *p, const char *e, enum vmdk_access *ret)
{
	for (unsigned i = 0; i < sizeof(access_names) / sizeof(access_names[0]); i++) {
		if (token_is(p, e, access_names[i])) {
			*ret = (enum vmdk_access)i;
			return true;
		}
	}
	return false;
}

/* The extent line [p, e), whose first token ends at te. */
static int parse_extent(struct parser *ps, const char *p, const char *te, const char *e)
{
	struct vmdk_desc *d = ps->d;
	struct vmdk_extent x = { 0 };
	const char *t, *f = NULL, *fe = NULL;
	int r;

	if (!parse_access(p, te, &x.access))
		return line_error(ps, EINVAL, "extent access \"%s\" is not RW, RDONLY or NOACCESS",
				  show(p, te).s);

	p = skip_blank(te, e);
	te = token_end(p, e);
	r = parse_u64(p, te, &x.sectors);
	if (r == -ERANGE || (r == 0 && x.sectors > DESC_MAX_SECTORS))
		return line_error(ps, EFBIG, "extent size \"%s\" is too large", show(p, te).s);
	if (r < 0)
		return line_error(ps, EINVAL, "extent size \"%s\" is not a number", show(p, te).s);
	/* An empty extent adds nothing and would give the concatenation a part that no
	 * offset maps to; no tool writes one. */
	if (x.sectors == 0)
		return line_error(ps, EINVAL, "extent size is 0");

	p = skip_blank(te, e);
	te = token_end(p, e);
	if (p == te)
		return line_error(ps, EINVAL, "extent has no type");
	/* "SPARSE"x.vmdk"" has no blank before the name; the type ends at the quote. */
	t = memchr(p, '"', (size_t)(te - p));
	if (t)
		te = t;
	if (parse_type(p, te, &x.type) < 0)
		return line_error(ps, EINVAL, "unknown extent type \"%s\"", show(p, te).s);

	p = skip_blank(te, e);
	if (p < e && *p == '"') {
		const char *close = memchr(p + 1, '"', (size_t)(e - p - 1));

		if (!close)
			return line_error(ps, EINVAL, "unterminated quote in the extent file name");
		f = p + 1;
		fe = close;
		te = close + 1;
		if (te < e && !is_blank(*te))
			return line_error(ps, EINVAL,
					  "text \"%s\" right after the extent file name",
					  show(te, token_end(te, e)).s);
	} else if (p < e) {
		te = token_end(p, e);
		if (memchr(p, '"', (size_t)(te - p)))
			return line_error(ps, EINVAL, "stray quote in extent file name \"%s\"",
					  show(p, te).s);
		f = p;
		fe = te;
	}

	if (x.type == VMDK_EXTENT_ZERO) {
		if (f)
			return line_error(ps, EINVAL, "ZERO extent takes no file name");
	} else {
		if (!f)
			return line_error(ps, EINVAL, "%s extent has no file name",
					  type_names[x.type]);
		if (f == fe)
			return line_error(ps, EINVAL, "extent file name is empty");
		p = skip_blank(te, e);
		if (p < e) {
			te = token_end(p, e);
			if (x.type != VMDK_EXTENT_FLAT && x.type != VMDK_EXTENT_VMFS)
				return line_error(ps, EINVAL, "%s extent takes no offset (\"%s\")",
						  type_names[x.type], show(p, te).s);
			r = parse_u64(p, te, &x.offset);
			if (r == -ERANGE || (r == 0 && x.offset > DESC_MAX_SECTORS))
				return line_error(ps, EFBIG, "extent offset \"%s\" is too large",
						  show(p, te).s);
			if (r < 0)
				return line_error(ps, EINVAL,
						  "extent offset \"%s\" is not a number",
						  show(p, te).s);
		}
	}
	p = skip_blank(te, e);
	if (p < e)
		return line_error(ps, EINVAL, "unexpected \"%s\" after the extent", show(p, e).s);

	if (d->n_extents >= VMDK_DESC_MAX_EXTENTS)
		return line_error(ps, EFBIG, "too many extents (more than %u)",
				  VMDK_DESC_MAX_EXTENTS);
	if (CHECKED_ADD(ps->total, x.sectors, &ps->total) || ps->total > DESC_MAX_SECTORS)
		return line_error(ps, EFBIG, "extents add up to more than 2^63 bytes");

	if (f) {
		x.file = strndup(f, (size_t)(fe - f));
		if (!x.file)
			return oom(ps);
	}
	if (grow((void **)&d->extents, &ps->cap_extents, d->n_extents, sizeof(*d->extents)) < 0) {
		free(x.file);
		return oom(ps);
	}
	d->extents[d->n_extents++] = x;
	return 0;
}

/* One line [p, e), trailing blanks already cut. */
static int parse_line(struct parser *ps, const char *p, const char *e)
{
	enum vmdk_access access;
	const char *te, *q;

	p = skip_blank(p, e);
	if (p == e || *p == '#')
		return 0;

	/* The first word decides: a key if '=' follows it, else an access word. */
	te = p;
	while (te < e && !is_blank(*te) && *te != '=' && *te != '"')
		te++;
	q = skip_blank(te, e);
	if (te > p && q < e && *q == '=')
		return parse_kv(ps, p, te, q + 1, e);

	te = token_end(p, e);
	q = skip_blank(te, e);
	/* "RX 2048 FLAT ..." is an extent line with a bad access word, not garbage. */
	if ((q < e && *q >= '0' && *q <= '9') || parse_access(p, te, &access))
		return parse_extent(ps, p, te, e);
	return line_error(ps, EINVAL, "\"%s\" is neither a key = value nor an extent line",
			  show(p, e).s);
}

void vmdk_desc_free(struct vmdk_desc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_extents; i++)
		free(d->extents[i].file);
	free(d->extents);
	for (size_t i = 0; i < d->n_kv; i++) {
		free(d->kv[i].key);
		free(d->kv[i].value);
	}
	free(d->kv);
	free(d->create_type);
	free(d->parent_hint);
	free(d);
}

int vmdk_desc_parse(const char *text, size_t len, const char *name, struct vmdk_desc **ret,
		    struct err *err)
{
	struct parser ps = { .name = name, .err = err };
	const char *p = text, *end, *nul;
	int r;

	if (len == 0)
		end = text;
	else if ((nul = memchr(text, '\0', len)))
		end = nul;
	else
		end = text + len;
	/* The cap applies to the text, not to the NUL padding of an embedded descriptor. */
	if ((size_t)(end - text) > VMDK_DESC_MAX_BYTES)
		return err_set(err, EFBIG, "%s: descriptor is larger than %u bytes", name,
			       VMDK_DESC_MAX_BYTES);
	/* Editors on Windows may put a UTF-8 byte order mark in front. */
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;

	ps.d = calloc(1, sizeof(*ps.d));
	if (!ps.d)
		return err_set(err, ENOMEM, "%s: descriptor: out of memory", name);
	ps.d->version = 1;
	ps.d->parent_cid = VMDK_CID_NONE;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		ps.line++;
		while (le > p && is_blank(le[-1]))
			le--;
		r = parse_line(&ps, p, le);
		if (r < 0)
			goto out_free;
		p = nl ? nl + 1 : end;
	}

	if (!ps.d->create_type && ps.d->n_kv == 0 && ps.d->n_extents == 0) {
		r = err_set(err, EINVAL, "%s: descriptor is empty", name);
		goto out_free;
	}
	if (!ps.d->create_type) {
		r = err_set(err, EINVAL, "%s: descriptor has no createType", name);
		goto out_free;
	}
	if (ps.d->n_extents == 0) {
		r = err_set(err, EINVAL, "%s: descriptor has no extents", name);
		goto out_free;
	}
	*ret = ps.d;
	return 0;

out_free:
	vmdk_desc_free(ps.d);
	return r;
}

const char *vmdk_desc_get(const struct vmdk_desc *d, const char *key)
{
	for (size_t i = d->n_kv; i-- > 0;)
		if (strcasecmp(d->kv[i].key, key) == 0)
			return d->kv[i].value;
	return NULL;
}
