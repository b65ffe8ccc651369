/* SPDX-License-Identifier: MIT */
/* Views: the generic part (reference counting, clipping at EOF) and in-memory views. */
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/bounds.h"

int view_init(struct view *v, const struct view_ops *ops, const char *name, uint64_t size)
{
	v->ops = ops;
	v->size = size;
	atomic_init(&v->refs, 1);
	v->name = strdup(name ? name : "?");
	return v->name ? 0 : -ENOMEM;
}

struct view *view_ref(struct view *v)
{
	atomic_fetch_add(&v->refs, 1);
	return v;
}

struct view *view_unref(struct view *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1) {
		char *name = v->name;

		v->ops->free(v);
		free(name);
	}
	return NULL;
}

ssize_t view_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	if (off >= v->size || len == 0)
		return 0;
	if (len > v->size - off)
		len = (size_t)(v->size - off);
	return v->ops->read(v, buf, len, off);
}

int view_seek(struct view *v, uint64_t off, int whence, uint64_t *ret)
{
	if (off >= v->size)
		return -ENXIO;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (!v->ops->seek) {
		*ret = whence == SEEK_DATA ? off : v->size;
		return 0;
	}
	return v->ops->seek(v, off, whence, ret);
}

int view_piece(struct view *v, uint64_t off, size_t len, struct view_piece *ret)
{
	if (off >= v->size || len == 0)
		return -ENXIO;
	if (len > v->size - off)
		len = (size_t)(v->size - off);
	/* A view that cannot tell, or a bug that claims nothing or too much: read it all. */
	if (!v->ops->piece || v->ops->piece(v, off, len, ret) < 0 || ret->len == 0 ||
	    ret->len > len)
		*ret = (struct view_piece){ .len = len, .kind = VIEW_PIECE_READ };
	return 0;
}

uint64_t view_data_bytes(struct view *v)
{
	uint64_t n = v->ops->data_bytes ? v->ops->data_bytes(v) : v->size;

	return MIN(n, v->size);
}

struct mem_view {
	struct view v;
	char *data;
};

static ssize_t mem_read(struct view *v, void *buf, size_t len, uint64_t off)
{
	memcpy(buf, ((struct mem_view *)v)->data + off, len);
	return (ssize_t)len;
}

static void mem_free(struct view *v)
{
	free(((struct mem_view *)v)->data);
	free(v);
}

static const struct view_ops mem_ops = {
	.kind = "mem",
	.read = mem_read,
	.free = mem_free,
};

int view_mem_new(const void *data, size_t len, const char *name, struct view **ret,
		 struct err *err)
{
	struct mem_view *m = calloc(1, sizeof(*m));

	if (!m)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	m->data = malloc(len ? len : 1);
	if (!m->data || view_init(&m->v, &mem_ops, name, len) < 0) {
		mem_free(&m->v);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	memcpy(m->data, data, len);
	*ret = &m->v;
	return 0;
}
