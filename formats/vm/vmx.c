/* SPDX-License-Identifier: MIT */
/*
 * The .vmx parser: configuration text in, struct vm out (see vmx.h).
 *
 * Notes on the format (VMware never published one; this is what Workstation, Fusion, GSX
 * and ESX 3.5 to 8.0 write, and what libvirt's src/vmx/vmx.c reads, taken as the second
 * reading):
 *
 * - One setting per line: `key = "value"`.  Keys are ASCII, case-insensitive
 *   ("memSize" is "memsize"), dotted and coloned ("scsi0:1.fileName").  Every value is in
 *   double quotes; inside it `|XX` is a byte in hex (VMware writes `|22` for '"', `|7C`
 *   for '|', `|0A` for a newline), and there is no other escape.  '#' starts a comment
 *   line (ESX 3.5 files begin "#!/usr/bin/vmware"); blank lines and CRLF endings occur.
 * - A key set twice keeps its last value.
 * - `.encoding` names the character set of every value.  UTF-8 is the norm (and what we
 *   assume when it is missing); older Windows hosts wrote windows-1252 or ISO-8859-1,
 *   which we convert to UTF-8 ourselves, after undoing the escapes, since an escape stands
 *   for a byte of the file's encoding.  Anything else (GBK, Shift_JIS...) is refused
 *   rather than guessed at.
 * - `X.present = "FALSE"` switches device X off together with everything under it
 *   ("X.*" and "X:*"): keys of an absent device may sit before and after its present
 *   line, and an absent controller takes its disks with it.  Such keys are dropped
 *   entirely (vmx_value() does not see them); the present line itself is kept.
 * - Devices: a device exists only when its `present` is TRUE (libvirt's rule), and a
 *   disk only when its controller exists too.  SCSI, SATA and NVMe controllers need
 *   their own `present`; IDE is part of the chipset and exists unless switched off.
 *   Controllers: scsi0-3, sata0-3, ide0-1, nvme0-3.  Units: SCSI 0-63 (PVSCSI on
 *   hardware version 14 and later has 64 targets; real files use scsi0:16, and unit 7,
 *   the controller's own ID on LSI Logic, is kept as written), SATA 0-29, IDE 0-1, NVMe
 *   0-14.  A present device outside those ranges is refused: it would be silently lost.
 * - A unit's deviceType says what it is: scsi-hardDisk, ata-hardDisk or disk for a disk;
 *   cdrom-image (fileName an ISO, "" or "emptyBackingString" when empty), cdrom-raw and
 *   atapi-cdrom (a host drive) for a CD-ROM; scsi-passthru of a /vmfs/devices/cdrom/
 *   path is a host CD-ROM too.  Without deviceType, a fileName ending in .vmdk is a disk
 *   and one ending in .iso a CD-ROM image.  A device with clientDevice = TRUE is backed
 *   by the vSphere client's machine and is dropped, as libvirt does.
 * - ethernet0-9: virtualDev (e1000, e1000e, vmxnet, vmxnet3, vlance... absent means the
 *   guest OS's default, which we leave unsaid), vmxnet with features = "15" is vmxnet2;
 *   addressType "generated" (default) or "vpx" takes generatedAddress, "static" takes
 *   address; networkName.  An all-zero MAC (NSX opaque networks) is no address at all.
 * - memsize is in MiB and defaults to 32 (libvirt's default), numvcpus defaults to 1,
 *   firmware is "bios" (the default) or "efi", uuid.bios is 16 hex bytes written
 *   "56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6".  The SVGA adapter is there unless
 *   svga.present is FALSE (old files never mention it).
 * - An encrypted VM (encryption.keySafe, encryption.data) hides its devices in a sealed
 *   blob: refused with ENOTSUP.
 *
 * Deliberately unlike libvirt: memsize need not be a multiple of 4 and numvcpus need not
 * be even; config.version and virtualHW.version are not checked; an unknown virtualDev or
 * guestOS is kept as written; a passed-through host CD-ROM is an empty CD-ROM drive, not
 * a SCSI LUN; an all-zero MAC is none; windows-1252 and ISO-8859-1 are converted by hand
 * (libvirt hands any .encoding to iconv); and a value that is not valid UTF-8 (when the
 * file claims or defaults to UTF-8) is an error, since it would end up in XML.
 *
 * Hostile input: the text is capped at VMX_MAX_BYTES, VMX_MAX_LINES lines and
 * VMX_MAX_LINE bytes a line, NUL bytes are refused, every number is range-checked,
 * every device index is bounded, and strings quoted in error messages are cut short and
 * made printable.  The "present = FALSE" pass marks a key at most once per separator in
 * it and finds each subtree by bisection, so it stays linear in the file's size.
 */
#include "vmx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"

/*
 * VMX_MAX_BYTES: real .vmx files are 1 to 10 KB (the biggest in the corpus, 9 KB, is
 * mostly one guestinfo value).  4 MiB is hundreds of times that and bounds every table.
 * VMX_MAX_LINES: a few hundred lines in practice; 100000 keeps sort and look-ups cheap.
 * VMX_MAX_LINE: the longest real line is a 9 KB guestinfo blob.
 * VMX_MAX_VCPUS: ESXi 8 allows 768 vCPUs.
 * MAX_MEMSIZE_MIB: ESXi 8 allows 24 TiB; 64 TiB leaves room and cannot overflow.
 */
#define MAX_MEMSIZE_MIB (64ull << 20)
#define MAX_VRAM_BYTES (1ull << 40)
#define MAX_HW_VERSION 999u
#define N_ETHERNET 10u
#define N_FLOPPY 2u
#define N_SERIAL 32u

/* How much of a string from the file an error message quotes. */
#define QUOTE_MAX 48

struct ent {
	char *key;	/* as written */
	char *lkey;	/* lower case, for look-ups */
	char *val;	/* escapes undone; UTF-8 once convert_values() ran */
	unsigned line;
	bool dead;	/* overridden by a later line with the same key */
	bool removed;	/* under an "X.present = FALSE" */
};

struct vmx {
	const char *name;
	struct err *err;
	struct ent *e;	       /* file order */
	size_t n, cap;
	struct ent **sorted;   /* live entries by lkey */
	size_t n_sorted;
	struct vm *vm;
};

/* ------------------------------------------------------------------------------------ */
/* Small helpers */

/* s cut to QUOTE_MAX bytes with anything unprintable as '?', into buf. */
static const char *quote(const char *s, char buf[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < QUOTE_MAX; i++)
		buf[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Key characters: printable ASCII but the syntax's own '=', '"', '#' and '|'.  Real keys
 * use letters, digits, ".:_-" and "*" (pciPassthru*.present). */
static bool is_key_char(char c)
{
	return c > 0x20 && c < 0x7f && c != '=' && c != '"' && c != '#' && c != '|';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Lines */

static int add_entry(struct vmx *x, const char *key, size_t klen, char *val, unsigned line)
{
	struct ent *e;
	size_t i;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct ent *ne = realloc(x->e, cap * sizeof(*ne));

		if (!ne)
			goto nomem;
		x->e = ne;
		x->cap = cap;
	}
	e = &x->e[x->n];
	*e = (struct ent){ .val = val, .line = line };
	e->key = strndup(key, klen);
	e->lkey = strndup(key, klen);
	if (!e->key || !e->lkey) {
		free(e->key);
		free(e->lkey);
		goto nomem;
	}
	for (i = 0; i < klen; i++)
		e->lkey[i] = lower(e->lkey[i]);
	x->n++;
	return 0;
nomem:
	free(val);
	return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
}

static int expected(struct vmx *x, unsigned line)
{
	return err_set(x->err, EINVAL, "%s: line %u: expected key = \"value\"", x->name, line);
}

/* One line, without its '\n'. */
static int parse_line(struct vmx *x, const char *p, size_t n, unsigned line)
{
	char qb[QUOTE_MAX + 4];
	size_t i = 0, k0, klen, o = 0;
	char *val;

	if (memchr(p, '\0', n))
		return err_set(x->err, EINVAL, "%s: line %u: NUL byte", x->name, line);
	while (n && is_blank(p[n - 1]))
		n--;
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return 0;
	k0 = i;
	while (i < n && is_key_char(p[i]))
		i++;
	klen = i - k0;
	if (!klen)
		return expected(x, line);
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] != '=')
		return expected(x, line);
	i++;
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n || p[i] != '"')
		return expected(x, line);
	i++;

	/* Escapes only shrink the value, so the rest of the line bounds it. */
	val = malloc(n - i + 1);
	if (!val)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	for (;;) {
		int hi, lo;

		if (i == n) {
			free(val);
			return err_set(x->err, EINVAL, "%s: line %u: unterminated quote", x->name,
				       line);
		}
		if (p[i] == '"')
			break;
		if (p[i] != '|') {
			val[o++] = p[i++];
			continue;
		}
		hi = i + 1 < n ? hex_digit(p[i + 1]) : -1;
		lo = i + 2 < n ? hex_digit(p[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			size_t m = MIN(n - i, 3);
			char esc[4];

			memcpy(esc, p + i, m);
			esc[m] = '\0';
			free(val);
			return err_set(x->err, EINVAL,
				       "%s: line %u: bad escape \"%s\" (expected |XX, "
				       "two hex digits)",
				       x->name, line, quote(esc, qb));
		}
		if (hi == 0 && lo == 0) {
			free(val);
			return err_set(x->err, EINVAL,
				       "%s: line %u: escape |00 (a NUL byte) in a value",
				       x->name, line);
		}
		val[o++] = (char)(hi << 4 | lo);
		i += 3;
	}
	val[o] = '\0';
	i++;
	while (i < n && is_blank(p[i]))
		i++;
	if (i < n && p[i] != '#') {
		free(val);
		return expected(x, line);
	}
	return add_entry(x, p + k0, klen, val, line);
}

static int parse_lines(struct vmx *x, const char *text, size_t len)
{
	size_t pos = 0;
	unsigned line = 0;
	int r;

	if (len > VMX_MAX_BYTES)
		return err_set(x->err, EFBIG, "%s: %zu bytes, more than the %u a .vmx may have",
			       x->name, len, VMX_MAX_BYTES);
	/* Not something VMware writes, but editors do. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		if (++line > VMX_MAX_LINES)
			return err_set(x->err, EFBIG, "%s: more than %u lines", x->name,
				       VMX_MAX_LINES);
		if (end - pos > VMX_MAX_LINE)
			return err_set(x->err, EFBIG, "%s: line %u: longer than %u bytes", x->name,
				       line, VMX_MAX_LINE);
		r = parse_line(x, text + pos, end - pos, line);
		if (r < 0)
			return r;
		pos = end + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The key table */

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *ea = *(const struct ent *const *)a, *eb = *(const struct ent *const *)b;
	int c = strcmp(ea->lkey, eb->lkey);

	if (c)
		return c;
	return ea < eb ? -1 : ea > eb;
}

/* Sort, let the last of equal keys win, and keep the winners for look-ups. */
static int build_index(struct vmx *x)
{
	size_t i, j;

	if (!x->n)
		return 0;
	x->sorted = malloc(x->n * sizeof(*x->sorted));
	if (!x->sorted)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	for (i = 0; i < x->n; i++)
		x->sorted[i] = &x->e[i];
	qsort(x->sorted, x->n, sizeof(*x->sorted), cmp_ent);
	for (i = 0, j = 0; i < x->n; i++) {
		if (i + 1 < x->n && strcmp(x->sorted[i]->lkey, x->sorted[i + 1]->lkey) == 0) {
			x->sorted[i]->dead = true;
			continue;
		}
		x->sorted[j++] = x->sorted[i];
	}
	x->n_sorted = j;
	return 0;
}

/* The live entry for lkey (lower case), removed or not. */
static struct ent *find(const struct vmx *x, const char *lkey)
{
	size_t lo = 0, hi = x->n_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->sorted[mid]->lkey, lkey);

		if (c == 0)
			return x->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The entry for lkey unless a "present = FALSE" removed it. */
static struct ent *get(const struct vmx *x, const char *lkey)
{
	struct ent *e = find(x, lkey);

	return e && !e->removed ? e : NULL;
}

/* Compare key's first plen bytes and the byte after them with p then sep. */
static int cmp_prefix(const char *key, const char *p, size_t plen, char sep)
{
	int c = strncmp(key, p, plen);

	if (c)
		return c;
	return (unsigned char)key[plen] - (unsigned char)sep;
}

/* The first sorted index whose key's prefix compares above (upper) or at least (!upper)
 * p followed by sep. */
static size_t bound(const struct vmx *x, const char *p, size_t plen, char sep, bool upper)
{
	size_t lo = 0, hi = x->n_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_prefix(x->sorted[mid]->lkey, p, plen, sep);

		if (c < 0 || (upper && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Mark every live key under p followed by sep as removed, except keep.  Both ends are
 * found by bisection, so marking costs nothing per key but the mark: comparing each key
 * against a long prefix would make deeply nested keys quadratic. */
static void remove_range(struct vmx *x, const char *p, size_t plen, char sep,
			 const struct ent *keep)
{
	size_t i = bound(x, p, plen, sep, false), end = bound(x, p, plen, sep, true);

	for (; i < end; i++)
		if (x->sorted[i] != keep)
			x->sorted[i]->removed = true;
}

/* "X.present = FALSE" takes X.* and X:* away.  A key is marked once for every prefix of
 * it that is switched off, at most once per '.' or ':' it holds. */
static void remove_absent(struct vmx *x)
{
	static const char suffix[] = ".present";
	const size_t slen = sizeof(suffix) - 1;
	size_t i;

	for (i = 0; i < x->n_sorted; i++) {
		struct ent *e = x->sorted[i];
		size_t n = strlen(e->lkey);

		if (n <= slen || strcmp(e->lkey + n - slen, suffix) != 0 ||
		    strcasecmp(e->val, "false") != 0)
			continue;
		remove_range(x, e->lkey, n - slen, '.', e);
		remove_range(x, e->lkey, n - slen, ':', e);
	}
}

/* ------------------------------------------------------------------------------------ */
/* Character sets */

/* windows-1252 0x80-0x9f; the five holes map to the C1 controls, as the WHATWG does. */
static const uint16_t cp1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

enum charset { CS_UTF8, CS_CP1252, CS_LATIN1 };

/* s (8-bit) as UTF-8 in a new string; NULL when out of memory. */
static char *to_utf8(const char *s, enum charset cs)
{
	size_t n = strlen(s), o = 0;
	unsigned char c;
	char *d = malloc(n * 3 + 1); /* at most 3 bytes per character (U+20AC) */

	if (!d)
		return NULL;
	for (; (c = (unsigned char)*s); s++) {
		unsigned u = c;

		if (c >= 0x80 && c < 0xa0 && cs == CS_CP1252)
			u = cp1252_c1[c - 0x80];
		if (u < 0x80) {
			d[o++] = (char)u;
		} else if (u < 0x800) {
			d[o++] = (char)(0xc0 | u >> 6);
			d[o++] = (char)(0x80 | (u & 0x3f));
		} else {
			d[o++] = (char)(0xe0 | u >> 12);
			d[o++] = (char)(0x80 | (u >> 6 & 0x3f));
			d[o++] = (char)(0x80 | (u & 0x3f));
		}
	}
	d[o] = '\0';
	return d;
}

/* True when s is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
static bool utf8_ok(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, need, min, u, i;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, min = 0x80, u = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, min = 0x800, u = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, min = 0x10000, u = c & 0x07;
		} else {
			return false;
		}
		for (i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			u = u << 6 | (s[i] & 0x3f);
		}
		if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff))
			return false;
		s += need + 1;
	}
	return true;
}

static int convert_values(struct vmx *x)
{
	char qb[QUOTE_MAX + 4];
	struct ent *enc = find(x, ".encoding");
	enum charset cs = CS_UTF8;
	size_t i;

	if (enc) {
		const char *v = enc->val;

		if (!strcasecmp(v, "UTF-8") || !strcasecmp(v, "UTF8"))
			cs = CS_UTF8;
		else if (!strcasecmp(v, "windows-1252") || !strcasecmp(v, "cp1252"))
			cs = CS_CP1252;
		else if (!strcasecmp(v, "ISO-8859-1") || !strcasecmp(v, "ISO8859-1") ||
			 !strcasecmp(v, "latin1"))
			cs = CS_LATIN1;
		else
			return err_set(x->err, ENOTSUP,
				       "%s: line %u: .encoding \"%s\" is not supported (UTF-8, "
				       "windows-1252 and ISO-8859-1 are)",
				       x->name, enc->line, quote(v, qb));
	}
	for (i = 0; i < x->n_sorted; i++) {
		struct ent *e = x->sorted[i];
		char *u;

		if (cs == CS_UTF8) {
			if (!utf8_ok((const unsigned char *)e->val))
				return err_set(x->err, EINVAL,
					       "%s: line %u: the value of %s is not valid UTF-8 "
					       "(%s)",
					       x->name, e->line, quote(e->key, qb),
					       enc ? "the file says .encoding = \"UTF-8\""
						   : "the file has no .encoding");
			continue;
		}
		u = to_utf8(e->val, cs);
		if (!u)
			return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
		free(e->val);
		e->val = u;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Typed values */

/* *ret = the value of lkey as a boolean, or def when it is not set. */
static int get_bool(struct vmx *x, const char *lkey, bool def, bool *ret)
{
	char qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	struct ent *e = get(x, lkey);

	if (!e) {
		*ret = def;
		return 0;
	}
	if (!strcasecmp(e->val, "true")) {
		*ret = true;
		return 0;
	}
	if (!strcasecmp(e->val, "false")) {
		*ret = false;
		return 0;
	}
	return err_set(x->err, EINVAL, "%s: line %u: %s = \"%s\": expected TRUE or FALSE", x->name,
		       e->line, quote(e->key, qk), quote(e->val, qv));
}

/* *ret = the value of lkey as a whole number in [min, max], or def when it is not set. */
static int get_u64(struct vmx *x, const char *lkey, uint64_t min, uint64_t max, uint64_t def,
		   uint64_t *ret)
{
	char qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	struct ent *e = get(x, lkey);
	const char *s;
	uint64_t v = 0;

	if (!e) {
		*ret = def;
		return 0;
	}
	s = e->val;
	if (!*s)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || CHECKED_MUL(v, 10, &v) || CHECKED_ADD(v, *s - '0', &v))
			goto bad;
	}
	if (v < min || v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	return err_set(x->err, EINVAL,
		       "%s: line %u: %s = \"%s\": expected a whole number "
		       "from %" PRIu64 " to %" PRIu64,
		       x->name, e->line, quote(e->key, qk), quote(e->val, qv), min, max);
}

/* *ret = a copy of the value of lkey, or NULL when it is not set (or empty, if
 * empty_is_null). */
static int get_str(struct vmx *x, const char *lkey, bool empty_is_null, char **ret)
{
	struct ent *e = get(x, lkey);

	*ret = NULL;
	if (!e || (empty_is_null && !e->val[0]))
		return 0;
	*ret = strdup(e->val);
	if (!*ret)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	return 0;
}

/* uuid.bios "56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6": 32 hex digits, spaces and
 * dashes anywhere between them.  Canonical 8-4-4-4-12 lower case into vm->uuid. */
static int get_uuid(struct vmx *x, const char *lkey)
{
	char qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	struct ent *e = get(x, lkey);
	char hex[33], *out;
	const char *s;
	size_t n = 0;

	if (!e)
		return 0;
	for (s = e->val; *s; s++) {
		if (*s == ' ' || *s == '-')
			continue;
		if (hex_digit(*s) < 0 || n == 32)
			goto bad;
		hex[n++] = lower(*s);
	}
	if (n != 32)
		goto bad;
	out = malloc(37);
	if (!out)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	x->vm->uuid = out;
	return 0;
bad:
	return err_set(x->err, EINVAL, "%s: line %u: %s = \"%s\": expected 16 bytes in hex",
		       x->name, e->line, quote(e->key, qk), quote(e->val, qv));
}

/* ------------------------------------------------------------------------------------ */
/* Devices */

struct bus_kind {
	const char *prefix;
	enum vm_bus bus;
	unsigned n_ctl, n_unit;
	bool implicit;		/* exists unless switched off (IDE is in the chipset) */
};

static const struct bus_kind bus_kinds[] = {
	{ "scsi", VM_BUS_SCSI, 4, 64, false },
	{ "sata", VM_BUS_SATA, 4, 30, false },
	{ "ide", VM_BUS_IDE, 2, 2, true },
	{ "nvme", VM_BUS_NVME, 4, 15, false },
};

/* The digits at *s as a number (no sign, no leading zero, at most 9 digits); advances *s.
 * -1 when there are none or they are not canonical. */
static long scan_index(const char **s)
{
	const char *p = *s;
	long v = 0;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (p - *s >= 9)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*s = p;
	return v;
}

/* A present device whose number is out of range would silently vanish: refuse it.
 * Looks at every live "<bus>N.present", "<bus>N:M.present", "ethernetN.present" and
 * "floppyN.present" that is TRUE. */
static int check_ranges(struct vmx *x)
{
	char qk[QUOTE_MAX + 4];
	size_t i, k;

	for (i = 0; i < x->n_sorted; i++) {
		struct ent *e = x->sorted[i];
		const char *s = e->lkey, *what = NULL;
		unsigned n_ctl = 0, n_unit = 0;
		long ctl, unit = -1;

		if (e->removed || strcasecmp(e->val, "true") != 0)
			continue;
		for (k = 0; k < sizeof(bus_kinds) / sizeof(bus_kinds[0]); k++) {
			size_t pl = strlen(bus_kinds[k].prefix);

			if (!strncmp(s, bus_kinds[k].prefix, pl)) {
				s += pl;
				n_ctl = bus_kinds[k].n_ctl;
				n_unit = bus_kinds[k].n_unit;
				what = bus_kinds[k].prefix;
				break;
			}
		}
		if (!what) {
			if (!strncmp(s, "ethernet", 8))
				s += 8, n_ctl = N_ETHERNET, what = "ethernet";
			else if (!strncmp(s, "floppy", 6))
				s += 6, n_ctl = N_FLOPPY, what = "floppy";
			else
				continue;
		}
		ctl = scan_index(&s);
		if (ctl < 0)
			continue;
		if (*s == ':' && n_unit) {
			s++;
			unit = scan_index(&s);
			if (unit < 0)
				continue;
		}
		if (strcmp(s, ".present") != 0)
			continue;
		if ((unsigned long)ctl >= n_ctl)
			return err_set(x->err, EINVAL,
				       "%s: line %u: %s: VMware has %s0 to %s%u only",
				       x->name, e->line, quote(e->key, qk), what, what, n_ctl - 1);
		if (unit >= 0 && (unsigned long)unit >= n_unit)
			return err_set(x->err, EINVAL,
				       "%s: line %u: %s: unit %ld is out of range (0 to %u on %s)",
				       x->name, e->line, quote(e->key, qk), unit, n_unit - 1, what);
	}
	return 0;
}

/* Append to an array of structs, growing it by doubling; the new element is zeroed. */
static void *grow(struct vmx *x, void **arr, size_t *n, size_t size)
{
	void *na;

	/* Every count here is bounded by the device ranges, far below any overflow. */
	if ((*n & (*n - 1)) == 0) {
		na = realloc(*arr, (*n ? *n * 2 : 1) * size);
		if (!na) {
			err_set(x->err, ENOMEM, "%s: out of memory", x->name);
			return NULL;
		}
		*arr = na;
	}
	memset((char *)*arr + *n * size, 0, size);
	return (char *)*arr + (*n)++ * size;
}

static int add_controller(struct vmx *x, const struct bus_kind *k, unsigned ctl, int *ret)
{
	struct vm *vm = x->vm;
	struct vm_controller *c;
	char key[32];

	c = grow(x, (void **)&vm->controllers, &vm->n_controllers, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->bus = k->bus;
	c->index = ctl;
	*ret = (int)(vm->n_controllers - 1);
	snprintf(key, sizeof(key), "%s%u.virtualdev", k->prefix, ctl);
	return get_str(x, key, true, &c->model);
}

enum dev_kind { DEV_NONE, DEV_DISK, DEV_CDROM };

/* What unit prefix (e.g. "scsi0:1") holds; *file gets a copy of the file name to keep (a
 * disk's, a CD-ROM image's), else NULL. */
static int classify(struct vmx *x, const char *prefix, const struct ent *present,
		    enum dev_kind *ret, char **file)
{
	char key[64], qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	const struct ent *dt, *fn;
	const char *type, *fname;
	bool client;
	int r;

	*ret = DEV_NONE;
	*file = NULL;
	snprintf(key, sizeof(key), "%s.clientdevice", prefix);
	r = get_bool(x, key, false, &client);
	if (r < 0)
		return r;
	/* Backed by the vSphere client's machine: nothing we could ever attach. */
	if (client)
		return 0;
	snprintf(key, sizeof(key), "%s.devicetype", prefix);
	dt = get(x, key);
	snprintf(key, sizeof(key), "%s.filename", prefix);
	fn = get(x, key);
	type = dt ? dt->val : NULL;
	fname = fn ? fn->val : NULL;

	if (!type) {
		if (fname && has_suffix_ci(fname, ".vmdk"))
			type = "disk";
		else if (fname && has_suffix_ci(fname, ".iso"))
			type = "cdrom-image";
		else
			return 0; /* nothing says what it is: leave it to vmx_value() users */
	}
	if (!strcasecmp(type, "scsi-hardDisk") || !strcasecmp(type, "ata-hardDisk") ||
	    !strcasecmp(type, "disk")) {
		if (!fname || !fname[0])
			return err_set(x->err, EINVAL,
				       "%s: line %u: %s is a hard disk without a fileName",
				       x->name, present->line, prefix);
		*ret = DEV_DISK;
		goto keep_file;
	} else if (!strcasecmp(type, "cdrom-image")) {
		*ret = DEV_CDROM;
		if (fname && fname[0] && strcmp(fname, "emptyBackingString") != 0)
			goto keep_file;
		return 0;
	} else if (!strcasecmp(type, "cdrom-raw") || !strcasecmp(type, "atapi-cdrom")) {
		*ret = DEV_CDROM; /* a host drive: an empty drive for us */
		return 0;
	} else if (!strcasecmp(type, "scsi-passthru")) {
		/* A host CD-ROM passed through is an empty drive for us; tapes and other
		 * pass-through devices have no meaning off their host. */
		if (fname && !strncmp(fname, "/vmfs/devices/cdrom/", 20))
			*ret = DEV_CDROM;
		return 0;
	} else if (fname && has_suffix_ci(fname, ".vmdk")) {
		return err_set(x->err, ENOTSUP,
			       "%s: line %u: %s = \"%s\" is not a device type we know",
			       x->name, dt->line, quote(dt->key, qk), quote(type, qv));
	} else {
		return 0;
	}
keep_file:
	*file = strdup(fname);
	if (!*file)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	return 0;
}

/* Unit prefix (e.g. "scsi0:1") of controller ctl: add its disk or CD-ROM, if it is one.
 * *ci is the controller's index in vm->controllers, -1 until it is listed. */
static int parse_unit(struct vmx *x, const struct bus_kind *bk, unsigned ctl, unsigned unit,
		      int *ci)
{
	struct vm *vm = x->vm;
	char prefix[32], key[64];
	enum dev_kind kind;
	char *file;
	bool present;
	int r;

	snprintf(prefix, sizeof(prefix), "%s%u:%u", bk->prefix, ctl, unit);
	snprintf(key, sizeof(key), "%s.present", prefix);
	r = get_bool(x, key, false, &present);
	if (r < 0 || !present)
		return r;
	r = classify(x, prefix, get(x, key), &kind, &file);
	if (r < 0 || kind == DEV_NONE)
		return r;
	if (*ci < 0)
		r = add_controller(x, bk, ctl, ci);
	if (r >= 0 && kind == DEV_DISK) {
		struct vm_disk *d = grow(x, (void **)&vm->disks, &vm->n_disks, sizeof(*d));

		if (d) {
			d->controller = *ci;
			d->unit = (int)unit;
			d->file = TAKE_PTR(file);
		}
		r = d ? 0 : -ENOMEM;
	} else if (r >= 0) {
		struct vm_cdrom *c = grow(x, (void **)&vm->cdroms, &vm->n_cdroms, sizeof(*c));

		if (c) {
			c->controller = *ci;
			c->unit = (int)unit;
			c->file = TAKE_PTR(file);
		}
		r = c ? 0 : -ENOMEM;
	}
	free(file);
	return r;
}

static int parse_storage(struct vmx *x)
{
	size_t k;
	int r;

	for (k = 0; k < sizeof(bus_kinds) / sizeof(bus_kinds[0]); k++) {
		const struct bus_kind *bk = &bus_kinds[k];
		unsigned ctl, unit;

		for (ctl = 0; ctl < bk->n_ctl; ctl++) {
			char key[64];
			bool present;
			int ci = -1;

			snprintf(key, sizeof(key), "%s%u.present", bk->prefix, ctl);
			r = get_bool(x, key, bk->implicit, &present);
			if (r < 0)
				return r;
			if (!present)
				continue;
			/* An implicit controller is listed only when said or used. */
			if (get(x, key) || !bk->implicit) {
				r = add_controller(x, bk, ctl, &ci);
				if (r < 0)
					return r;
			}
			for (unit = 0; unit < bk->n_unit; unit++) {
				r = parse_unit(x, bk, ctl, unit, &ci);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

static int parse_floppies(struct vmx *x)
{
	struct vm *vm = x->vm;
	unsigned i;
	int r;

	for (i = 0; i < N_FLOPPY; i++) {
		char key[64];
		bool present, client;
		struct vm_cdrom *c;
		const struct ent *ft;

		snprintf(key, sizeof(key), "floppy%u.present", i);
		r = get_bool(x, key, false, &present);
		if (r < 0)
			return r;
		if (!present)
			continue;
		snprintf(key, sizeof(key), "floppy%u.clientdevice", i);
		r = get_bool(x, key, false, &client);
		if (r < 0)
			return r;
		if (client)
			continue;
		c = grow(x, (void **)&vm->cdroms, &vm->n_cdroms, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->floppy = true;
		c->controller = -1;
		c->unit = (int)i;
		/* fileType "device" is a host drive: an empty drive for us. */
		snprintf(key, sizeof(key), "floppy%u.filetype", i);
		ft = get(x, key);
		if (ft && !strcasecmp(ft->val, "file")) {
			snprintf(key, sizeof(key), "floppy%u.filename", i);
			r = get_str(x, key, true, &c->file);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* "00:50:56:9f:08:51" in any case, lower-cased into *ret; an all-zero address is none. */
static int parse_mac(struct vmx *x, const struct ent *e, char **ret)
{
	char qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	const char *s = e->val;
	char mac[18];
	bool zero = true;
	size_t i;

	*ret = NULL;
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				goto bad;
		} else if (hex_digit(s[i]) < 0) {
			goto bad;
		} else if (s[i] != '0') {
			zero = false;
		}
		mac[i] = lower(s[i]);
	}
	mac[17] = '\0';
	if (zero)
		return 0;
	*ret = strdup(mac);
	if (!*ret)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	return 0;
bad:
	return err_set(x->err, EINVAL,
		       "%s: line %u: %s = \"%s\": expected a MAC address like 00:50:56:01:02:03",
		       x->name, e->line, quote(e->key, qk), quote(e->val, qv));
}

static int parse_nics(struct vmx *x)
{
	char qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	struct vm *vm = x->vm;
	unsigned i;
	int r;

	for (i = 0; i < N_ETHERNET; i++) {
		const struct ent *at, *mac, *feat;
		char key[64];
		bool present;
		struct vm_nic *nic;

		snprintf(key, sizeof(key), "ethernet%u.present", i);
		r = get_bool(x, key, false, &present);
		if (r < 0)
			return r;
		if (!present)
			continue;
		nic = grow(x, (void **)&vm->nics, &vm->n_nics, sizeof(*nic));
		if (!nic)
			return -ENOMEM;
		nic->index = i;
		snprintf(key, sizeof(key), "ethernet%u.virtualdev", i);
		r = get_str(x, key, true, &nic->model);
		if (r < 0)
			return r;
		/* VMware's "enhanced vmxnet" is vmxnet with feature bits 15. */
		snprintf(key, sizeof(key), "ethernet%u.features", i);
		feat = get(x, key);
		if (nic->model && !strcasecmp(nic->model, "vmxnet") && feat &&
		    !strcmp(feat->val, "15")) {
			free(nic->model);
			nic->model = strdup("vmxnet2");
			if (!nic->model)
				return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
		}
		snprintf(key, sizeof(key), "ethernet%u.networkname", i);
		r = get_str(x, key, true, &nic->network);
		if (r < 0)
			return r;

		snprintf(key, sizeof(key), "ethernet%u.addresstype", i);
		at = get(x, key);
		if (!at || !strcasecmp(at->val, "generated") || !strcasecmp(at->val, "vpx"))
			snprintf(key, sizeof(key), "ethernet%u.generatedaddress", i);
		else if (!strcasecmp(at->val, "static"))
			snprintf(key, sizeof(key), "ethernet%u.address", i);
		else
			return err_set(x->err, EINVAL,
				       "%s: line %u: %s = \"%s\": "
				       "expected generated, vpx or static",
				       x->name, at->line, quote(at->key, qk), quote(at->val, qv));
		mac = get(x, key);
		if (mac) {
			r = parse_mac(x, mac, &nic->mac);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The VM */

/* An encrypted VM (Workstation, Fusion) keeps its devices in encryption.data, sealed with
 * a password: without them the VM would look empty, so say so instead. */
static int check_encrypted(struct vmx *x)
{
	const struct ent *e = get(x, "encryption.data");

	if (e)
		return err_set(x->err, ENOTSUP,
			       "%s: line %u: the VM is encrypted (encryption.data): "
			       "decrypt it in VMware first",
			       x->name, e->line);
	return 0;
}

/* The name to show when displayName is missing: the file name without ".vmx". */
static char *fallback_name(const char *name)
{
	const char *base = strrchr(name, '/');
	size_t n;

	base = base ? base + 1 : name;
	n = strlen(base);
	if (has_suffix_ci(base, ".vmx"))
		n -= 4;
	return n ? strndup(base, n) : strdup("vm");
}

static int parse_machine(struct vmx *x)
{
	struct vm *vm = x->vm;
	const struct ent *fw;
	uint64_t v;
	bool b;
	int r;

	vm->id = strdup(x->name);
	if (!vm->id)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	r = get_str(x, "displayname", true, &vm->name);
	if (r < 0)
		return r;
	if (!vm->name && !(vm->name = fallback_name(x->name)))
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	r = get_uuid(x, "uuid.bios");
	if (r < 0)
		return r;

	r = get_u64(x, "memsize", 1, MAX_MEMSIZE_MIB, 32, &v);
	if (r < 0)
		return r;
	vm->memory = v << 20;
	r = get_u64(x, "numvcpus", 1, VMX_MAX_VCPUS, 1, &v);
	if (r < 0)
		return r;
	vm->vcpus = (unsigned)v;
	r = get_u64(x, "cpuid.corespersocket", 1, VMX_MAX_VCPUS, 0, &v);
	if (r < 0)
		return r;
	vm->cores_per_socket = (unsigned)v;

	vm->firmware = VM_FW_BIOS;
	fw = get(x, "firmware");
	if (fw && !strcasecmp(fw->val, "efi"))
		vm->firmware = VM_FW_EFI;
	else if (fw && strcasecmp(fw->val, "bios") != 0)
		vm->firmware = VM_FW_UNKNOWN; /* kept in extra for whoever knows better */
	r = get_bool(x, "uefi.secureboot.enabled", false, &b);
	if (r < 0)
		return r;
	vm->secure_boot = b;

	r = get_str(x, "guestos", true, &vm->os_type);
	if (r < 0)
		return r;
	r = get_u64(x, "virtualhw.version", 1, MAX_HW_VERSION, 0, &v);
	if (r < 0)
		return r;
	if (v) {
		if (asprintf(&vm->hw_version, "vmx-%02u", (unsigned)v) < 0) {
			vm->hw_version = NULL;
			return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
		}
	}

	r = get_bool(x, "svga.present", true, &b);
	if (r < 0)
		return r;
	vm->has_video = b;
	if (b) {
		r = get_u64(x, "svga.vramsize", 0, MAX_VRAM_BYTES, 0, &v);
		if (r < 0)
			return r;
		vm->video_ram = v;
	}
	r = get_bool(x, "sound.present", false, &b);
	if (r < 0)
		return r;
	vm->has_sound = b;
	for (unsigned i = 0; i < N_SERIAL; i++) {
		char key[32];

		snprintf(key, sizeof(key), "serial%u.present", i);
		r = get_bool(x, key, false, &b);
		if (r < 0)
			return r;
		vm->n_serial += b;
	}
	return 0;
}

/* Every surviving key, in the order of the line that set it, moved into vm->extra. */
static int move_extra(struct vmx *x)
{
	struct vm *vm = x->vm;
	size_t i, n = 0;

	for (i = 0; i < x->n; i++)
		n += !x->e[i].dead && !x->e[i].removed;
	if (!n)
		return 0;
	vm->extra = calloc(n, sizeof(*vm->extra));
	if (!vm->extra)
		return err_set(x->err, ENOMEM, "%s: out of memory", x->name);
	for (i = 0; i < x->n; i++) {
		struct ent *e = &x->e[i];

		if (e->dead || e->removed)
			continue;
		vm->extra[vm->n_extra].key = TAKE_PTR(e->key);
		vm->extra[vm->n_extra].value = TAKE_PTR(e->val);
		vm->n_extra++;
	}
	return 0;
}

static void vmx_clear(struct vmx *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->e[i].key);
		free(x->e[i].lkey);
		free(x->e[i].val);
	}
	free(x->e);
	free(x->sorted);
}

int vmx_parse(const char *text, size_t len, const char *name, struct vm **ret, struct err *err)
{
	struct vmx x = { .name = name, .err = err };
	int r;

	x.vm = calloc(1, sizeof(*x.vm));
	if (!x.vm)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	r = parse_lines(&x, text, len);
	if (r >= 0)
		r = build_index(&x);
	if (r >= 0)
		r = convert_values(&x);
	if (r >= 0) {
		remove_absent(&x);
		r = check_ranges(&x);
	}
	if (r >= 0)
		r = check_encrypted(&x);
	if (r >= 0)
		r = parse_machine(&x);
	if (r >= 0)
		r = parse_storage(&x);
	if (r >= 0)
		r = parse_floppies(&x);
	if (r >= 0)
		r = parse_nics(&x);
	if (r >= 0)
		r = move_extra(&x);

	vmx_clear(&x);
	if (r < 0) {
		vm_free(x.vm);
		return r;
	}
	*ret = x.vm;
	return 0;
}

const char *vmx_value(const struct vm *vm, const char *key)
{
	size_t i;

	if (!vm || !key)
		return NULL;
	for (i = 0; i < vm->n_extra; i++)
		if (!strcasecmp(vm->extra[i].key, key))
			return vm->extra[i].value;
	return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* The same syntax without the device model (.vmsd) */

struct vmx_kv {
	struct vmx x;
	char *name;
};

int vmx_kv_parse(const char *text, size_t len, const char *name, struct vmx_kv **ret,
		 struct err *err)
{
	struct vmx_kv *kv = calloc(1, sizeof(*kv));
	int r;

	if (!kv || !(kv->name = strdup(name))) {
		free(kv);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	kv->x.name = kv->name;
	kv->x.err = err;
	r = parse_lines(&kv->x, text, len);
	if (r >= 0)
		r = build_index(&kv->x);
	if (r >= 0)
		r = convert_values(&kv->x);
	kv->x.err = NULL;
	if (r < 0) {
		vmx_kv_free(kv);
		return r;
	}
	*ret = kv;
	return 0;
}

const char *vmx_kv_get(const struct vmx_kv *kv, const char *key, unsigned *ret_line)
{
	char lkey[256];
	const struct ent *e;
	size_t i;

	for (i = 0; key[i] && i + 1 < sizeof(lkey); i++)
		lkey[i] = lower(key[i]);
	if (key[i])
		return NULL; /* longer than any key we ask for */
	lkey[i] = '\0';
	e = find(&kv->x, lkey);
	if (!e)
		return NULL;
	if (ret_line)
		*ret_line = e->line;
	return e->val;
}

void vmx_kv_free(struct vmx_kv *kv)
{
	if (!kv)
		return;
	vmx_clear(&kv->x);
	free(kv->name);
	free(kv);
}

bool vmx_parse_node(const char *node, enum vm_bus *ret_bus, unsigned *ret_ctl,
		    unsigned *ret_unit)
{
	for (size_t k = 0; k < sizeof(bus_kinds) / sizeof(bus_kinds[0]); k++) {
		const struct bus_kind *bk = &bus_kinds[k];
		size_t pl = strlen(bk->prefix);
		const char *s = node;
		long ctl, unit;

		if (strncasecmp(s, bk->prefix, pl) != 0)
			continue;
		s += pl;
		ctl = scan_index(&s);
		if (ctl < 0 || *s != ':')
			return false;
		s++;
		unit = scan_index(&s);
		if (unit < 0 || *s || (unsigned long)ctl >= bk->n_ctl ||
		    (unsigned long)unit >= bk->n_unit)
			return false;
		*ret_bus = bk->bus;
		*ret_ctl = (unsigned)ctl;
		*ret_unit = (unsigned)unit;
		return true;
	}
	return false;
}
