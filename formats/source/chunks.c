/* SPDX-License-Identifier: MIT */
/*
 * Sources end to end: see chunks.h.  The start offset of every part is computed once
 * (overflow-checked); a read finds its first part by binary search over the part ends
 * and walks forward, so empty parts cost nothing.  locate passes through when the range
 * lies in one part, so chunks stored as plain files still splice without a copy; seek
 * asks each part in turn and treats a part that cannot tell as all data.
 */
#include "chunks.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/bounds.h"

struct concat_source {
	struct source s;
	size_t n;
	struct source **parts;
	uint64_t *start; /* n + 1 entries: start[i] is where part i begins, start[n] the size */
};

/* The part holding byte off (off < size): the first whose end lies beyond off. */
static size_t concat_part(const struct concat_source *cs, uint64_t off)
{
	size_t lo = 0, hi = cs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cs->start[mid + 1] > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int concat_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct concat_source *cs = (struct concat_source *)s;
	size_t i = concat_part(cs, off);
	char *p = buf;

	while (len > 0) {
		uint64_t in_part = off - cs->start[i];
		size_t n = (size_t)MIN((uint64_t)len, cs->parts[i]->size - in_part);
		int r;

		if (n > 0) {
			r = source_pread(cs->parts[i], p, n, in_part);
			if (r < 0)
				return r;
		}
		p += n;
		len -= n;
		off += n;
		i++;
	}
	return 0;
}

static int concat_locate(struct source *s, uint64_t off, size_t len, int *ret_fd,
			 uint64_t *ret_fd_off)
{
	struct concat_source *cs = (struct concat_source *)s;
	size_t i = concat_part(cs, off);

	if (len > cs->start[i + 1] - off)
		return -ENOTSUP;
	return source_locate(cs->parts[i], off - cs->start[i], len, ret_fd, ret_fd_off);
}

/* SEEK_DATA: the first data at or after off. SEEK_HOLE: the first hole at or after off;
 * a part's end is not a hole (the next part may start with data), only the end of the
 * whole is. A part that cannot tell is all data: wrongly calling a hole data is safe. */
static int concat_seek(struct source *s, uint64_t off, int whence, uint64_t *ret)
{
	struct concat_source *cs = (struct concat_source *)s;
	size_t i;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	for (i = concat_part(cs, off); i < cs->n; i++) {
		uint64_t local = off > cs->start[i] ? off - cs->start[i] : 0, r;
		int e;

		if (local >= cs->parts[i]->size)
			continue;
		e = source_seek(cs->parts[i], local, whence, &r);
		if (e == -ENOTSUP && whence == SEEK_DATA) {
			*ret = cs->start[i] + local;
			return 0;
		}
		if (e == -ENOTSUP || e == -ENXIO)
			continue; /* all data (HOLE), or no data to the part's end (DATA) */
		if (e < 0)
			return e;
		if (r < cs->parts[i]->size) {
			*ret = cs->start[i] + r;
			return 0;
		}
	}
	if (whence == SEEK_DATA)
		return -ENXIO;
	*ret = s->size;
	return 0;
}

static void concat_free(struct source *s)
{
	struct concat_source *cs = (struct concat_source *)s;
	size_t i;

	for (i = 0; cs->parts && i < cs->n; i++)
		source_unref(cs->parts[i]);
	free(cs->parts);
	free(cs->start);
	free(cs);
}

static const struct source_ops concat_ops = {
	.kind = "concat",
	.pread = concat_pread,
	.locate = concat_locate,
	.seek = concat_seek,
	.free = concat_free,
};

int source_concat_new(struct source **parts, size_t n, const char *name, struct source **ret,
		      struct err *err)
{
	struct concat_source *cs;
	uint64_t *start;
	size_t i;

	if (n == 0)
		return err_set(err, EINVAL, "%s: no parts to concatenate", name);
	if (n > CHUNKS_MAX_PARTS)
		return err_set(err, EFBIG, "%s: %zu parts, more than the %d allowed", name, n,
			       CHUNKS_MAX_PARTS);
	start = malloc((n + 1) * sizeof(*start));
	if (!start)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	start[0] = 0;
	for (i = 0; i < n; i++) {
		if (CHECKED_ADD(start[i], parts[i]->size, &start[i + 1])) {
			free(start);
			return err_set(err, EFBIG, "%s: the parts' total size overflows at %s",
				       name, parts[i]->name);
		}
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs) {
		free(start);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	cs->start = start;
	cs->parts = calloc(n, sizeof(*cs->parts));
	if (!cs->parts || source_init(&cs->s, &concat_ops, name, start[n]) < 0) {
		concat_free(&cs->s); /* n is still 0: no part references to drop */
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	cs->n = n;
	for (i = 0; i < n; i++)
		cs->parts[i] = source_ref(parts[i]);
	*ret = &cs->s;
	return 0;
}
