/* SPDX-License-Identifier: MIT */
/*
 * A flat extent: the disk's bytes stored as they are in a range of a file (VMDK FLAT
 * and VMFS extents, "-flat.vmdk" files).  Status asks the source for holes (SEEK_DATA /
 * SEEK_HOLE on the file), so a sparse -flat.vmdk keeps its holes in every view.
 */
#include "disk.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/bounds.h"

struct flat_disk {
	struct disk d;
	struct source *src;
	uint64_t off;
};

static int flat_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct flat_disk *f = (struct flat_disk *)d;

	return source_pread(f->src, buf, len, f->off + off);
}

static int flat_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct flat_disk *f = (struct flat_disk *)d;
	uint64_t pos = f->off + off, end = f->off + d->size, next;
	int r;

	(void)len;
	r = source_seek(f->src, pos, SEEK_DATA, &next);
	if (r == -ENXIO)
		next = end; /* no data from here on in the file */
	else if (r < 0)
		next = pos; /* cannot tell: all data */
	if (next > pos) {
		ret->state = DISK_ZERO;
		ret->len = MIN(next, end) - pos;
		ret->src = NULL;
		ret->src_off = 0;
		return 0;
	}
	r = source_seek(f->src, pos, SEEK_HOLE, &next);
	if (r < 0 || next <= pos)
		next = end;
	ret->state = DISK_DATA;
	ret->len = MIN(next, end) - pos;
	ret->src = f->src;
	ret->src_off = pos;
	return 0;
}

static void flat_free(struct disk *d)
{
	struct flat_disk *f = (struct flat_disk *)d;

	source_unref(f->src);
	free(f);
}

static const struct disk_ops flat_ops = {
	.kind = "flat",
	.read = flat_read,
	.status = flat_status,
	.free = flat_free,
};

int disk_flat_new(struct source *src, uint64_t off, uint64_t len, const char *name,
		  struct disk **ret, struct err *err)
{
	struct flat_disk *f;

	if (!range_ok(off, len, src->size))
		return err_set(err, EINVAL,
			       "%s: flat extent 0x%llx+0x%llx lies past the end of %s (0x%llx bytes)",
			       name, (unsigned long long)off, (unsigned long long)len, src->name,
			       (unsigned long long)src->size);
	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	f->src = source_ref(src);
	f->off = off;
	if (disk_init(&f->d, &flat_ops, name, len, 512, false) < 0) {
		flat_free(&f->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &f->d;
	return 0;
}
