/* SPDX-License-Identifier: MIT */
/* An in-memory byte source: unit tests and fuzzers feed decoders through it. */
#include "source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mem_source {
	struct source s;
	unsigned char *data;
};

static int mem_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct mem_source *m = (struct mem_source *)s;

	memcpy(buf, m->data + off, len);
	return 0;
}

static void mem_free(struct source *s)
{
	struct mem_source *m = (struct mem_source *)s;

	free(m->data);
	free(m);
}

static const struct source_ops mem_ops = {
	.kind = "mem",
	.pread = mem_pread,
	.free = mem_free,
};

int source_mem_new(const void *data, size_t len, const char *name, struct source **ret,
		   struct err *err)
{
	struct mem_source *m = calloc(1, sizeof(*m));

	if (!m)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	m->data = malloc(len ? len : 1);
	if (!m->data || source_init(&m->s, &mem_ops, name, len) < 0) {
		mem_free(&m->s);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	if (len)
		memcpy(m->data, data, len);
	*ret = &m->s;
	return 0;
}
