/* SPDX-License-Identifier: MIT */
/*
 * A snapshot chain as one disk: a leaf (the newest delta) over its parent, over its
 * parent, down to a base.  A byte belongs to the first level, counted from the leaf,
 * that allocated it; a level that left it UNALLOCATED passes it down.  DATA and ZERO
 * both stop the walk: a zeroed grain in a delta hides what its parent held, as in
 * VMware and qemu.  What no level allocated stays UNALLOCATED and reads as zeros.
 *
 * A parent shorter than its child hides itself and everything below it past its end,
 * the way qemu reads a short backing file: those bytes are zeros.  A longer parent is
 * simply cut at the child's size.
 *
 * Status is metadata only, like every level's: for a run that the leaf left
 * unallocated we ask the parent about the same range (cut to the leaf's run), and so on
 * down.  Runs that are not DATA are merged across levels while the state stays the same,
 * so a hole spread over several levels comes back whole.  There is no per-chain state
 * and no lock: the walk keeps everything on the stack.
 */
#include "disk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"

struct chain_disk {
	struct disk d;
	size_t n;
	struct disk **levels; /* levels[0] is the leaf, levels[n - 1] the base */
};

/* The run at off (< size), at most len bytes, from the first level that allocated it;
 * *ret_level gets that level, or n when none did. */
static int chain_run(const struct chain_disk *c, uint64_t off, uint64_t len, struct disk_run *ret,
		     size_t *ret_level)
{
	for (size_t i = 0; i < c->n; i++) {
		struct disk *l = c->levels[i];
		int r;

		if (off >= l->size)
			break; /* past a short parent: nothing below shows */
		r = l->ops->status(l, off, MIN(len, l->size - off), ret);
		if (r < 0)
			return r;
		/* A level's bug must not make us loop or read past its end. */
		if (ret->len == 0 || ret->len > l->size - off)
			return -EIO;
		if (ret->state != DISK_UNALLOC) {
			ret->len = MIN(ret->len, len);
			*ret_level = i;
			return 0;
		}
		len = MIN(ret->len, len);
	}
	ret->len = len;
	ret->state = DISK_UNALLOC;
	ret->src = NULL;
	ret->src_off = 0;
	*ret_level = c->n;
	return 0;
}

static int chain_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct chain_disk *c = (struct chain_disk *)d;
	size_t level;
	int r;

	r = chain_run(c, off, len, ret, &level);
	if (r < 0 || ret->state == DISK_DATA)
		return r;
	/* Holes and zeros continue across levels; DATA runs keep their own source. */
	while (ret->len < len) {
		struct disk_run next;

		r = chain_run(c, off + ret->len, len - ret->len, &next, &level);
		if (r < 0 || next.state != ret->state)
			break;
		ret->len += next.len;
	}
	return 0;
}

static int chain_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct chain_disk *c = (struct chain_disk *)d;
	char *p = buf;

	while (len > 0) {
		struct disk_run run;
		size_t level, n;
		int r = chain_run(c, off, len, &run, &level);

		if (r < 0)
			return r;
		n = (size_t)MIN(run.len, (uint64_t)len);
		if (run.state == DISK_DATA) {
			struct disk *l = c->levels[level];

			r = l->ops->read(l, p, n, off);
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

static void chain_free(struct disk *d)
{
	struct chain_disk *c = (struct chain_disk *)d;

	for (size_t i = 0; c->levels && i < c->n; i++)
		disk_unref(c->levels[i]);
	free(c->levels);
	free(c);
}

static const struct disk_ops chain_ops = {
	.kind = "chain",
	.read = chain_read,
	.status = chain_status,
	.free = chain_free,
};

int disk_chain_new(struct disk **levels, size_t n, const char *name, struct disk **ret,
		   struct err *err)
{
	struct chain_disk *c;
	uint32_t grain = 512;
	bool costly = false;

	if (n == 0)
		return err_set(err, EINVAL, "%s: a chain of no disks", name);
	if (n > DISK_CHAIN_MAX_DEPTH)
		return err_set(err, EFBIG, "%s: a chain of %zu disks, more than the %u allowed",
			       name, n, DISK_CHAIN_MAX_DEPTH);
	if (n == 1) {
		*ret = disk_ref(levels[0]);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(err, ENOMEM, "%s: out of memory", name);
	c->levels = calloc(n, sizeof(*c->levels));
	if (!c->levels) {
		chain_free(&c->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	for (size_t i = 0; i < n; i++) {
		c->levels[i] = disk_ref(levels[i]);
		c->n++;
		grain = MAX(grain, levels[i]->grain);
		costly |= levels[i]->costly;
	}
	if (disk_init(&c->d, &chain_ops, name, levels[0]->size, grain, costly) < 0) {
		chain_free(&c->d);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	*ret = &c->d;
	return 0;
}
