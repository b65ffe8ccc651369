/* SPDX-License-Identifier: MIT */
/* Byte sources: the generic part (reference counting, bounds-checked reads). */
#include "source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"

int source_init(struct source *s, const struct source_ops *ops, const char *name, uint64_t size)
{
	s->ops = ops;
	s->size = size;
	atomic_init(&s->refs, 1);
	s->name = strdup(name ? name : "?");
	if (!s->name)
		return -ENOMEM;
	/* Names come from files (extent names, tar members) and go into messages. */
	for (char *p = s->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return 0;
}

struct source *source_ref(struct source *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

struct source *source_unref(struct source *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
		char *name = s->name;

		s->ops->free(s);
		free(name);
	}
	return NULL;
}

int source_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	if (!range_ok(off, len, s->size))
		return -EIO;
	if (len == 0)
		return 0;
	return s->ops->pread(s, buf, len, off);
}

int source_locate(struct source *s, uint64_t off, size_t len, int *ret_fd, uint64_t *ret_fd_off)
{
	if (!s->ops->locate || !range_ok(off, len, s->size))
		return -ENOTSUP;
	return s->ops->locate(s, off, len, ret_fd, ret_fd_off);
}

int source_seek(struct source *s, uint64_t off, int whence, uint64_t *ret)
{
	if (off >= s->size)
		return -ENXIO;
	if (!s->ops->seek)
		return -ENOTSUP;
	return s->ops->seek(s, off, whence, ret);
}

int source_read_all(struct source *s, size_t cap, char **ret, size_t *ret_len, struct err *err)
{
	char *buf;
	int r;

	if (s->size > cap)
		return err_set(err, EFBIG, "%s: %llu bytes is larger than the %zu bytes allowed",
			       s->name, (unsigned long long)s->size, cap);
	buf = malloc((size_t)s->size + 1);
	if (!buf)
		return err_set(err, ENOMEM, "%s: out of memory", s->name);
	r = source_pread(s, buf, (size_t)s->size, 0);
	if (r < 0) {
		free(buf);
		return err_set(err, -r, "%s: read failed: %s", s->name, strerror(-r));
	}
	buf[s->size] = '\0';
	*ret = buf;
	*ret_len = (size_t)s->size;
	return 0;
}
