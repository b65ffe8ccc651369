/* SPDX-License-Identifier: MIT */
/* A disk that reads as zeros: VMDK ZERO extents, and unallocated space in tests. */
#include "disk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct zero_disk {
	struct disk d;
	unsigned state;
};

static int zero_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	(void)d;
	(void)off;
	memset(buf, 0, len);
	return 0;
}

static int zero_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	(void)len;
	ret->state = ((struct zero_disk *)d)->state;
	ret->len = d->size - off;
	ret->src = NULL;
	ret->src_off = 0;
	return 0;
}

static void zero_free(struct disk *d)
{
	free(d);
}

static const struct disk_ops zero_ops = {
	.kind = "zero",
	.read = zero_read,
	.status = zero_status,
	.free = zero_free,
};

int disk_zero_new(uint64_t size, unsigned state, const char *name, struct disk **ret,
		  struct err *err)
{
	struct zero_disk *z = calloc(1, sizeof(*z));

	if (!z)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	z->state = state;
	if (disk_init(&z->d, &zero_ops, name, size, 512, false) < 0) {
		zero_free(&z->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &z->d;
	return 0;
}
