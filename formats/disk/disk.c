/* SPDX-License-Identifier: MIT */
/* Disks: the generic part (reference counting, bounds, read-by-status). */
#include "disk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"

int disk_init(struct disk *d, const struct disk_ops *ops, const char *name, uint64_t size,
	      uint32_t grain, bool costly)
{
	d->ops = ops;
	d->size = size;
	d->grain = grain;
	d->costly = costly;
	atomic_init(&d->refs, 1);
	d->name = strdup(name ? name : "?");
	if (!d->name)
		return -ENOMEM;
	/* Names come from files (extent names, tar members) and go into messages. */
	for (char *p = d->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return 0;
}

struct disk *disk_ref(struct disk *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

struct disk *disk_unref(struct disk *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		char *name = d->name;

		d->ops->free(d);
		free(name);
	}
	return NULL;
}

int disk_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	if (!range_ok(off, len, d->size))
		return -EINVAL;
	if (len == 0)
		return 0;
	return d->ops->read(d, buf, len, off);
}

int disk_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	int r;

	if (off >= d->size)
		return -ENXIO;
	if (len == 0 || len > d->size - off)
		len = d->size - off;
	r = d->ops->status(d, off, len, ret);
	if (r < 0)
		return r;
	/* A decoder bug here would make callers loop forever or read past the end. */
	if (ret->len == 0 || ret->len > d->size - off)
		return -EIO;
	return 0;
}

int disk_read_by_status(struct disk *d, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len > 0) {
		struct disk_run run;
		size_t n;
		int r = d->ops->status(d, off, len, &run);

		if (r < 0)
			return r;
		if (run.len == 0)
			return -EIO;
		n = run.len < len ? (size_t)run.len : len;
		if (run.state == DISK_DATA) {
			if (!run.src)
				return -EIO;
			r = source_pread(run.src, p, n, run.src_off);
			if (r < 0)
				return r;
		} else {
			memset(p, 0, n);
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
