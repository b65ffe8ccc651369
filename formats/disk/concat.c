/* SPDX-License-Identifier: MIT */
/*
 * Several disks end to end as one: the extents of a VMDK descriptor.  A binary search
 * over the parts' start offsets finds the part for an offset; reads and status runs
 * that cross a boundary are split there.
 */
#include "disk.h"

#include <errno.h>
#include <stdlib.h>

#include "../common/bounds.h"

struct concat_disk {
	struct disk d;
	size_t n;
	struct disk **parts;
	uint64_t *start; /* start[i] = offset of parts[i]; start[n] = size */
};

/* Index of the part holding off (< size). */
static size_t concat_find(const struct concat_disk *c, uint64_t off)
{
	size_t lo = 0, hi = c->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int concat_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct concat_disk *c = (struct concat_disk *)d;
	char *p = buf;
	size_t i = concat_find(c, off);

	while (len > 0) {
		uint64_t in = off - c->start[i];
		size_t n = (size_t)MIN((uint64_t)len, c->parts[i]->size - in);
		int r = c->parts[i]->ops->read(c->parts[i], p, n, in);

		if (r < 0)
			return r;
		p += n;
		off += n;
		len -= n;
		i++;
	}
	return 0;
}

static int concat_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct concat_disk *c = (struct concat_disk *)d;
	size_t i = concat_find(c, off);
	uint64_t in = off - c->start[i];
	int r;

	r = c->parts[i]->ops->status(c->parts[i], in, MIN(len, c->parts[i]->size - in), ret);
	if (r < 0)
		return r;
	if (ret->len == 0 || ret->len > c->parts[i]->size - in)
		return -EIO;
	/* Merge with following parts in the same non-data state, so holes come back whole. */
	if (ret->state != DISK_DATA) {
		for (size_t j = i + 1; j < c->n && ret->len < len; j++) {
			struct disk_run next;

			if (off + ret->len != c->start[j])
				break;
			r = c->parts[j]->ops->status(c->parts[j], 0, c->parts[j]->size, &next);
			if (r < 0 || next.state != ret->state || next.len > c->parts[j]->size)
				break;
			ret->len += next.len;
			if (next.len < c->parts[j]->size)
				break;
		}
	}
	return 0;
}

static void concat_free(struct disk *d)
{
	struct concat_disk *c = (struct concat_disk *)d;

	for (size_t i = 0; c->parts && i < c->n; i++)
		disk_unref(c->parts[i]);
	free(c->parts);
	free(c->start);
	free(c);
}

static const struct disk_ops concat_ops = {
	.kind = "concat",
	.read = concat_read,
	.status = concat_status,
	.free = concat_free,
};

int disk_concat_new(struct disk **parts, size_t n, const char *name, struct disk **ret,
		    struct err *err)
{
	struct concat_disk *c;
	uint64_t size = 0;
	uint32_t grain = 512;
	bool costly = false;
	size_t kept = 0;

	if (n == 0)
		return err_set(err, EINVAL, "%s: no extents", name);
	if (n == 1) {
		*ret = disk_ref(parts[0]);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	c->parts = calloc(n, sizeof(*c->parts));
	c->start = calloc(n + 1, sizeof(*c->start));
	if (!c->parts || !c->start) {
		concat_free(&c->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	for (size_t i = 0; i < n; i++) {
		if (parts[i]->size == 0)
			continue; /* an empty extent would break the search */
		if (CHECKED_ADD(size, parts[i]->size, &c->start[kept + 1])) {
			concat_free(&c->d);
			return err_set(err, EFBIG, "%s: extents add up to more than 2^64 bytes",
				       name);
		}
		c->start[kept] = size;
		size = c->start[kept + 1];
		c->parts[kept++] = disk_ref(parts[i]);
		grain = MAX(grain, parts[i]->grain);
		costly |= parts[i]->costly;
	}
	c->n = kept;
	if (kept == 0) {
		concat_free(&c->d);
		return err_set(err, EINVAL, "%s: all extents are empty", name);
	}
	if (disk_init(&c->d, &concat_ops, name, size, grain, costly) < 0) {
		concat_free(&c->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &c->d;
	return 0;
}
