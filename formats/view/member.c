/* SPDX-License-Identifier: MIT */
/*
 * A source's bytes as a file, unchanged: the members of an export under source/.  The
 * bytes sit in a file, so reads can be spliced (piece) when the source allows it.
 */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct member_view {
	struct view v;
	struct source *s;
};

static ssize_t member_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	int r = source_pread(((struct member_view *)v)->s, buf, len, off);

	return r < 0 ? r : (ssize_t)len;
}

static int member_seek(struct view *v, uint64_t off, int whence, uint64_t *ret)
{
	int r = source_seek(((struct member_view *)v)->s, off, whence, ret);

	if (r == -ENOTSUP) {
		*ret = whence == SEEK_DATA ? off : v->size;
		return 0;
	}
	return r;
}

static int member_piece(struct view *v, uint64_t off, size_t len, struct view_piece *ret)
{
	ret->len = len;
	ret->kind = source_locate(((struct member_view *)v)->s, off, len, &ret->fd,
				  &ret->fd_off) == 0 ? VIEW_PIECE_FD : VIEW_PIECE_READ;
	return 0;
}

static void member_free(struct view *v)
{
	source_unref(((struct member_view *)v)->s);
	free(v);
}

static const struct view_ops member_ops = {
	.kind = "member",
	.read = member_read,
	.seek = member_seek,
	.piece = member_piece,
	.free = member_free,
};

int view_member_new(struct source *s, const char *name, struct view **ret, struct err *err)
{
	struct member_view *m = calloc(1, sizeof(*m));

	if (!m)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	m->s = source_ref(s);
	if (view_init(&m->v, &member_ops, name, s->size) < 0) {
		member_free(&m->v);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &m->v;
	return 0;
}
