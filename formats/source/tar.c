/* SPDX-License-Identifier: MIT */
/*
 * The member index of a tar archive (an .ova): see tar.h.
 *
 * libarchive walks the headers, so every header dialect it knows works here: ustar,
 * pax extended headers ('x', 'g': long names, big sizes, mtime, uid...), GNU long
 * names and long link names ('L', 'K'), base-256 numbers.  It reads the archive through
 * our callbacks over the source; the skip callback moves the position without reading,
 * so a member's data is never read during the walk (only the few KiB of read-ahead that
 * follow a header).  Only the tar format is enabled and no filters: a compressed .ova
 * cannot be read in place, so it is refused rather than decompressed.
 *
 * Where a member's data starts.  archive_read_header_position() is the offset of the
 * first header of the entry, which precedes any pax or GNU extension headers, so it is
 * not the data offset.  Instead, when archive_read_next_header() returns, the tar reader
 * has consumed every header block of the entry and nothing of its data, so the bytes
 * consumed so far, archive_filter_bytes(a, 0), is the data offset.  That is a property
 * of libarchive's implementation, not of its documented API, so it is cross-checked for
 * every member: the 512-byte block just before the data must be the member's own ustar
 * header (valid checksum, a regular-file type flag, and its size field equal to the
 * entry's size unless a pax header could have overridden it).  The check costs one
 * 512-byte pread per member; a disagreement refuses the archive instead of serving the
 * wrong bytes.  (Verified against GNU tar 1.34 in gnu/pax/ustar formats and Python
 * tarfile in pax/gnu formats, long names included, with libarchive 3.6.2.)
 *
 * Refused, with the archive and member named: links, devices, fifos, sparse members
 * (their data is not contiguous), type letters libarchive reads as regular files but
 * whose data is not a whole file ('M' multi-volume continuations, 'N', vendor letters),
 * names that are absolute or have empty, "." or ".." components, duplicate names, data
 * past the end of the archive, more than TAR_MAX_MEMBERS entries.  Warnings from
 * libarchive are errors, except that a pax name which is not valid in the current
 * locale is kept as its raw UTF-8 bytes.  As with GNU tar without -i, anything after
 * the end-of-archive blocks (a second archive appended with cat) is ignored.
 */
#include "tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/text.h"

#define TAR_BLOCK 512

/* What one read callback returns: a few header blocks and a little read-ahead, small
 * so that the walk reads hardly any member data. */
#define TAR_READ_CHUNK (16 * 1024)

struct tar_index {
	struct source *ova;
	struct tar_member *members; /* archive order */
	size_t n, cap;
	size_t *by_name; /* indexes into members, sorted by name */
};

/* The state libarchive's callbacks work on: a cursor over the source. */
struct tar_reader {
	struct source *ova;
	uint64_t pos; /* next byte the read callback returns */
	int io_err;   /* first source_pread failure, as -errno */
	unsigned char buf[TAR_READ_CHUNK];
};

static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **ret_buf)
{
	struct tar_reader *rd = data;
	size_t n = (size_t)MIN((uint64_t)sizeof(rd->buf), rd->ova->size - rd->pos);
	int r;

	*ret_buf = rd->buf;
	if (n == 0)
		return 0;
	r = source_pread(rd->ova, rd->buf, n, rd->pos);
	if (r < 0) {
		rd->io_err = r;
		archive_set_error(a, -r, "read failed: %s", strerror(-r));
		return ARCHIVE_FATAL;
	}
	rd->pos += n;
	return (la_ssize_t)n;
}

/* Skip by moving the cursor: this is what keeps member data unread. Never past the end,
 * so libarchive sees a truncated archive as one. */
static la_int64_t tar_skip_cb(struct archive *a, void *data, la_int64_t request)
{
	struct tar_reader *rd = data;
	uint64_t n;

	(void)a;
	if (request <= 0)
		return 0;
	n = MIN((uint64_t)request, rd->ova->size - rd->pos);
	rd->pos += n;
	return (la_int64_t)n;
}

static la_int64_t tar_seek_cb(struct archive *a, void *data, la_int64_t off, int whence)
{
	struct tar_reader *rd = data;
	int64_t base;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)rd->pos;
		break;
	case SEEK_END:
		base = (int64_t)rd->ova->size;
		break;
	default:
		archive_set_error(a, EINVAL, "bad seek");
		return ARCHIVE_FATAL;
	}
	if (__builtin_add_overflow(base, off, &base) || base < 0 ||
	    (uint64_t)base > rd->ova->size) {
		archive_set_error(a, EINVAL, "seek outside the archive");
		return ARCHIVE_FATAL;
	}
	rd->pos = (uint64_t)base;
	return base;
}

/* Parse a tar numeric field: octal (space or NUL terminated, leading spaces allowed) or
 * GNU base-256 (high bit of the first byte set). False when it is malformed, negative or
 * does not fit. */
static bool tar_number(const unsigned char *f, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		/* base-256, big-endian, two's complement: 0xff first means negative */
		if (f[0] == 0xff)
			return false;
		v = f[0] & 0x7f;
		for (i = 1; i < len; i++) {
			if (v > (UINT64_MAX >> 8))
				return false;
			v = (v << 8) | f[i];
		}
		*ret = v;
		return true;
	}
	while (i < len && f[i] == ' ')
		i++;
	if (i == len || f[i] < '0' || f[i] > '7')
		return false;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return false;
	*ret = v;
	return true;
}

/* A ustar/GNU/v7 header block has a valid checksum: the sum of its bytes with the
 * checksum field counted as spaces, either unsigned (POSIX) or signed (old writers). */
static bool tar_header_valid(const unsigned char *h)
{
	uint64_t want;
	unsigned long usum = 0;
	long ssum = 0;
	size_t i;

	if (!tar_number(h + 148, 8, &want))
		return false;
	for (i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];

		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (ssum >= 0 && want == (uint64_t)ssum);
}

/* The cross-check described at the top: the block before data_off is this member's own
 * regular-file header. */
static int tar_check_data_off(struct tar_index *idx, const char *name, uint64_t hdr_pos,
			      uint64_t data_off, uint64_t size, struct err *err)
{
	const char *ova = idx->ova->name;
	unsigned char h[TAR_BLOCK];
	uint64_t hsize;
	int r;

	if (data_off % TAR_BLOCK || data_off < hdr_pos + TAR_BLOCK)
		return err_set(err, EINVAL,
			       "%s: member %s: cannot locate its data (header at 0x%llx, data at "
			       "0x%llx)",
			       ova, text_show(name).s, (unsigned long long)hdr_pos,
			       (unsigned long long)data_off);
	r = source_pread(idx->ova, h, sizeof(h), data_off - TAR_BLOCK);
	if (r < 0)
		return err_set(err, -r, "%s: read failed at 0x%llx: %s", ova,
			       (unsigned long long)(data_off - TAR_BLOCK), strerror(-r));
	if (!tar_header_valid(h))
		return err_set(err, EINVAL,
			       "%s: member %s: the block before its data (at 0x%llx) is not its "
			       "header, so its data cannot be located",
			       ova, text_show(name).s, (unsigned long long)(data_off - TAR_BLOCK));
	switch (h[156]) {
	case '0':
	case '\0':
	case '7': /* contiguous: a regular file for every reader */
		break;
	case 'S':
		return err_set(err, ENOTSUP,
			       "%s: member %s is a GNU sparse file, which cannot be read in place",
			       ova, text_show(name).s);
	default:
		/* libarchive reads unknown types ('M' multi-volume continuation, 'N', vendor
		 * letters) as regular files; their data is not the whole file */
		return err_set(err, ENOTSUP, "%s: member %s has tar type '%c', not a regular file",
			       ova, text_show(name).s,
			       h[156] >= 0x20 && h[156] < 0x7f ? h[156] : '?');
	}
	if (tar_number(h + 124, 12, &hsize) && hsize == size)
		return 0;
	/* Only a pax header may say a size other than the ustar field's. */
	if (data_off - TAR_BLOCK > hdr_pos) {
		r = source_pread(idx->ova, h, sizeof(h), hdr_pos);
		if (r < 0)
			return err_set(err, -r, "%s: read failed at 0x%llx: %s", ova,
				       (unsigned long long)hdr_pos, strerror(-r));
		if (tar_header_valid(h) && (h[156] == 'x' || h[156] == 'X'))
			return 0;
	}
	return err_set(err, EINVAL,
		       "%s: member %s: its header at 0x%llx disagrees about its size (%llu bytes)",
		       ova, text_show(name).s, (unsigned long long)(data_off - TAR_BLOCK),
		       (unsigned long long)size);
}

/* Strip leading "./" from *name (moving the pointer) and refuse names that could escape,
 * alias another or be empty. 0 or -EINVAL with err set. */
static int tar_clean_name(const char *ova, const char **ret_name, struct err *err)
{
	const char *name = *ret_name, *p, *c;
	size_t len;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	len = strlen(name);
	if (len > TAR_NAME_MAX)
		return err_set(err, EINVAL, "%s: member name of %zu bytes is longer than %d", ova,
			       len, TAR_NAME_MAX);
	if (name[0] == '/')
		return err_set(err, EINVAL, "%s: member %s has an absolute name", ova,
			       text_show(name).s);
	for (p = name;; p = c + 1) {
		c = strchr(p, '/');
		len = c ? (size_t)(c - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.'))
			return err_set(err, EINVAL,
				       "%s: member %s has an empty or \".\" path component", ova,
				       name[0] ? text_show(name).s : "\"\"");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return err_set(err, EINVAL, "%s: member %s has a \"..\" path component",
				       ova, text_show(name).s);
		if (!c)
			break;
	}
	*ret_name = name;
	return 0;
}

/* libarchive's warnings mean a damaged or misread header, except this one: a pax name
 * (UTF-8) that the current locale cannot represent, which is kept as raw bytes. */
static bool tar_warning_harmless(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s && strstr(s, " can't be converted from UTF-8 to current locale");
}

static int tar_add(struct tar_index *idx, const char *name, uint64_t size, uint64_t data_off,
		   int64_t mtime, struct err *err)
{
	struct tar_member *m;

	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 16;

		m = realloc(idx->members, cap * sizeof(*m));
		if (!m)
			return err_set(err, ENOMEM, "%s: out of memory", idx->ova->name);
		idx->members = m;
		idx->cap = cap;
	}
	m = &idx->members[idx->n];
	m->name = strdup(name);
	if (!m->name)
		return err_set(err, ENOMEM, "%s: out of memory", idx->ova->name);
	m->size = size;
	m->data_off = data_off;
	m->mtime = mtime;
	idx->n++;
	return 0;
}

static const char *tar_type_name(mode_t type)
{
	switch (type) {
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a fifo";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

/* One entry just returned by archive_read_next_header(). */
static int tar_entry(struct tar_index *idx, struct archive *a, struct archive_entry *e,
		     struct err *err)
{
	const char *ova = idx->ova->name;
	const char *raw = archive_entry_pathname(e), *name;
	uint64_t hdr_pos = (uint64_t)archive_read_header_position(a);
	la_int64_t data_off = archive_filter_bytes(a, 0);
	la_int64_t size = archive_entry_size(e);
	mode_t type = archive_entry_filetype(e);
	int r;

	if (!raw)
		return err_set(err, EINVAL, "%s: the entry at 0x%llx has no name", ova,
			       (unsigned long long)hdr_pos);
	if (type == AE_IFDIR)
		return 0;
	if (archive_entry_hardlink(e))
		return err_set(err, ENOTSUP, "%s: member %s is a hard link to %s", ova,
			       text_show(raw).s, text_show(archive_entry_hardlink(e)).s);
	if (type == AE_IFLNK)
		return err_set(err, ENOTSUP, "%s: member %s is a symbolic link", ova,
			       text_show(raw).s);
	if (type != AE_IFREG)
		return err_set(err, ENOTSUP, "%s: member %s is not a regular file but %s", ova,
			       text_show(raw).s, tar_type_name(type));
	if (archive_entry_sparse_count(e) > 0)
		return err_set(err, ENOTSUP,
			       "%s: member %s is a sparse file, which cannot be read in place", ova,
			       text_show(raw).s);
	name = raw;
	r = tar_clean_name(ova, &name, err);
	if (r < 0)
		return r;
	if (!archive_entry_size_is_set(e) || size < 0 || data_off < 0)
		return err_set(err, EINVAL, "%s: member %s: header at 0x%llx has no valid size",
			       ova, text_show(name).s, (unsigned long long)hdr_pos);
	if (!range_ok((uint64_t)data_off, (uint64_t)size, idx->ova->size))
		return err_set(err, EINVAL,
			       "%s: member %s: data 0x%llx+0x%llx lies past the end of the archive "
			       "(0x%llx bytes; truncated?)",
			       ova, text_show(name).s, (unsigned long long)data_off,
			       (unsigned long long)size, (unsigned long long)idx->ova->size);
	r = tar_check_data_off(idx, name, hdr_pos, (uint64_t)data_off, (uint64_t)size, err);
	if (r < 0)
		return r;
	return tar_add(idx, name, (uint64_t)size, (uint64_t)data_off, archive_entry_mtime(e), err);
}

/* Name the compression when a "not a tar" archive is a compressed one. */
static const char *tar_compression(struct source *ova)
{
	unsigned char m[6];

	if (source_pread(ova, m, sizeof(m), 0) < 0)
		return NULL;
	if (m[0] == 0x1f && m[1] == 0x8b)
		return "gzip";
	if (m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')
		return "bzip2";
	if (!memcmp(m, "\xfd\x37zXZ\0", 6))
		return "xz";
	if (!memcmp(m, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	return NULL;
}

static int tar_cmp_name(const void *a, const void *b, void *data)
{
	const struct tar_index *idx = data;

	return strcmp(idx->members[*(const size_t *)a].name, idx->members[*(const size_t *)b].name);
}

static int tar_sort(struct tar_index *idx, struct err *err)
{
	size_t i;

	idx->by_name = malloc((idx->n ? idx->n : 1) * sizeof(*idx->by_name));
	if (!idx->by_name)
		return err_set(err, ENOMEM, "%s: out of memory", idx->ova->name);
	for (i = 0; i < idx->n; i++)
		idx->by_name[i] = i;
	qsort_r(idx->by_name, idx->n, sizeof(*idx->by_name), tar_cmp_name, idx);
	for (i = 1; i < idx->n; i++) {
		const char *name = idx->members[idx->by_name[i]].name;

		if (!strcmp(name, idx->members[idx->by_name[i - 1]].name))
			return err_set(err, EINVAL, "%s: member %s appears twice", idx->ova->name,
				       text_show(name).s);
	}
	return 0;
}

static int tar_walk(struct tar_index *idx, struct archive *a, struct tar_reader *rd,
		    struct err *err)
{
	const char *ova = idx->ova->name;
	struct archive_entry *e;
	size_t walked = 0;
	int r;

	archive_read_support_format_tar(a);
	archive_read_set_callback_data(a, rd);
	archive_read_set_read_callback(a, tar_read_cb);
	archive_read_set_skip_callback(a, tar_skip_cb);
	archive_read_set_seek_callback(a, tar_seek_cb);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		const char *z = rd->io_err ? NULL : tar_compression(idx->ova);

		if (rd->io_err)
			return err_set(err, -rd->io_err, "%s: read failed: %s", ova,
				       strerror(-rd->io_err));
		if (z)
			return err_set(err, EINVAL,
				       "%s: not a tar archive (an OVA is an uncompressed tar; this "
				       "one is %s-compressed)",
				       ova, z);
		return err_set(err, EINVAL, "%s: not a tar archive (an OVA is an uncompressed tar)",
			       ova);
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (rd->io_err)
			return err_set(err, -rd->io_err, "%s: read failed: %s", ova,
				       strerror(-rd->io_err));
		if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && tar_warning_harmless(a)))
			return err_set(
				err, EINVAL, "%s: damaged tar archive near offset 0x%llx: %s", ova,
				(unsigned long long)archive_filter_bytes(a, 0),
				archive_error_string(a) ? text_show(archive_error_string(a)).s
							: "unreadable header");
		if (++walked > TAR_MAX_MEMBERS)
			return err_set(err, EFBIG, "%s: more than %d entries", ova,
				       TAR_MAX_MEMBERS);
		r = tar_entry(idx, a, e, err);
		if (r < 0)
			return r;
	}
	if (archive_filter_count(a) != 1 || archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE)
		return err_set(err, EINVAL, "%s: not an uncompressed tar archive", ova);
	return 0;
}

int tar_index_open(struct source *ova, struct tar_index **ret, struct err *err)
{
	struct tar_index *idx;
	struct tar_reader *rd;
	struct archive *a;
	int r;

	idx = calloc(1, sizeof(*idx));
	rd = calloc(1, sizeof(*rd));
	a = archive_read_new();
	if (!idx || !rd || !a) {
		free(idx);
		free(rd);
		if (a)
			archive_read_free(a);
		return err_set(err, ENOMEM, "%s: out of memory", ova->name);
	}
	idx->ova = source_ref(ova);
	rd->ova = ova;
	r = tar_walk(idx, a, rd, err);
	archive_read_free(a);
	free(rd);
	if (r == 0)
		r = tar_sort(idx, err);
	if (r < 0) {
		tar_index_free(idx);
		return r;
	}
	*ret = idx;
	return 0;
}

void tar_index_free(struct tar_index *idx)
{
	size_t i;

	if (!idx)
		return;
	for (i = 0; i < idx->n; i++)
		free((char *)idx->members[i].name);
	free(idx->members);
	free(idx->by_name);
	source_unref(idx->ova);
	free(idx);
}

size_t tar_count(const struct tar_index *idx)
{
	return idx->n;
}

const struct tar_member *tar_member(const struct tar_index *idx, size_t i)
{
	return i < idx->n ? &idx->members[i] : NULL;
}

int tar_find(const struct tar_index *idx, const char *name)
{
	size_t lo = 0, hi = idx->n;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(idx->members[idx->by_name[mid]].name, name);

		if (c == 0)
			return (int)idx->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int tar_member_source(const struct tar_index *idx, size_t i, struct source **ret, struct err *err)
{
	const struct tar_member *m = tar_member(idx, i);
	char *name;
	int r;

	if (!m)
		return err_set(err, EINVAL, "%s: no member %zu", idx->ova->name, i);
	if (asprintf(&name, "%s:%s", idx->ova->name, m->name) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", idx->ova->name);
	r = source_slice_new(idx->ova, m->data_off, m->size, name, ret, err);
	free(name);
	return r;
}
