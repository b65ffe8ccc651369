/* SPDX-License-Identifier: MIT */
/*
 * A window [off, off + len) of another source, e.g. one member of an .ova read in place
 * at its data offset.  The range is checked against the base once, at creation.
 */
#include "source.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/bounds.h"

struct slice_source {
	struct source s;
	struct source *base;
	uint64_t off;
};

static int slice_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct slice_source *sl = (struct slice_source *)s;

	return source_pread(sl->base, buf, len, sl->off + off);
}

static int slice_locate(struct source *s, uint64_t off, size_t len, int *ret_fd,
			uint64_t *ret_fd_off)
{
	struct slice_source *sl = (struct slice_source *)s;

	return source_locate(sl->base, sl->off + off, len, ret_fd, ret_fd_off);
}

static int slice_seek(struct source *s, uint64_t off, int whence, uint64_t *ret)
{
	struct slice_source *sl = (struct slice_source *)s;
	uint64_t r;
	int e = source_seek(sl->base, sl->off + off, whence, &r);

	if (e == -ENXIO && whence == SEEK_HOLE) {
		*ret = s->size;
		return 0;
	}
	if (e < 0)
		return e;
	if (r >= sl->off + s->size) {
		if (whence != SEEK_HOLE)
			return -ENXIO;
		r = sl->off + s->size;
	}
	*ret = r - sl->off;
	return 0;
}

static void slice_free(struct source *s)
{
	struct slice_source *sl = (struct slice_source *)s;

	source_unref(sl->base);
	free(sl);
}

static const struct source_ops slice_ops = {
	.kind = "slice",
	.pread = slice_pread,
	.locate = slice_locate,
	.seek = slice_seek,
	.free = slice_free,
};

int source_slice_new(struct source *base, uint64_t off, uint64_t len, const char *name,
		     struct source **ret, struct err *err)
{
	struct slice_source *sl;

	if (!range_ok(off, len, base->size))
		return err_set(err, EINVAL,
			       "%s: range 0x%llx+0x%llx lies past the end of %s (0x%llx bytes)",
			       name, (unsigned long long)off, (unsigned long long)len, base->name,
			       (unsigned long long)base->size);
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	sl->base = source_ref(base);
	sl->off = off;
	if (source_init(&sl->s, &slice_ops, name, len) < 0) {
		slice_free(&sl->s);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &sl->s;
	return 0;
}
