/* SPDX-License-Identifier: MIT */
/*
 * The .vmsd parser: snapshot list text in, struct vmsd out (see vmsd.h).
 *
 * Notes on the format (VMware publishes no specification; this is what Workstation,
 * Fusion and ESXi write, as VMware's knowledge base articles on snapshot files describe
 * it and as files in the wild show):
 *
 * - The syntax is the .vmx's (`key = "value"`, |XX escapes, .encoding), so vmx.c reads
 *   it.  A VM without snapshots has an empty .vmsd, or one with only ".encoding".
 * - snapshot.numSnapshots says how many there are; they are snapshot0 ... snapshotN-1,
 *   renumbered by VMware when one is deleted.  snapshot.lastUID, snapshot.current (the
 *   snapshot the running state grew from) and snapshot.needConsolidate describe the
 *   tree and are not needed to show each snapshot.
 * - snapshotN.uid is the snapshot's number, snapshotN.parent its parent's uid (absent for
 *   the first), snapshotN.displayName and .description what the user typed,
 *   snapshotN.filename the .vmsn (the configuration and memory at that time),
 *   snapshotN.createTimeHigh/Low the time, snapshotN.type 1 for a quiesced one.
 * - snapshotN.numDisks disks follow as snapshotN.diskM.fileName, the file holding the
 *   disk's state at the snapshot (the parent the next delta was made over), and
 *   snapshotN.diskM.node, the unit it sits on ("scsi0:0").  Independent disks are not
 *   snapshotted and are not listed.
 *
 * Hostile input: the text goes through vmx.c's caps; the counts are capped below; a
 * missing uid, fileName or node, a node outside VMware's ranges, a repeated uid or node,
 * and a relative fileName with a ".." component are refused with the key and line named.
 * Absolute datastore paths are kept: the caller looks them up by their last component
 * beside the .vmx, as for the .vmx's own disks.
 *
 * VMSD_MAX_SNAPSHOTS: ESXi keeps at most 32 snapshots in a chain and Workstation's
 * snapshot manager shows a few dozen; 256 leaves room for branching trees while bounding
 * what every snapshot costs at mount (its disks' chains, a domain.xml).
 * VMSD_MAX_DISKS: a VM with 60 disks is already rare; 64 bounds the table.
 */
#include "vmsd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"
#include "vmx.h"

#define QUOTE_MAX 48

struct vmsd_parse {
	const char *name;
	const struct vmx_kv *kv;
	struct err *err;
	struct vmsd *v;
};

/* s cut to QUOTE_MAX bytes with anything unprintable as '?', into buf. */
static const char *quote(const char *s, char buf[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < QUOTE_MAX; i++)
		buf[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* *ret = the value of key as a whole number up to max, or def when it is not set. */
static int get_count(struct vmsd_parse *p, const char *key, unsigned max, unsigned *ret)
{
	char qb[QUOTE_MAX + 4];
	unsigned line = 0;
	const char *s = vmx_kv_get(p->kv, key, &line);
	uint64_t v = 0;

	*ret = 0;
	if (!s)
		return 0;
	if (!*s)
		goto bad;
	for (const char *c = s; *c; c++)
		if (*c < '0' || *c > '9' || CHECKED_MUL(v, 10, &v) || CHECKED_ADD(v, *c - '0', &v))
			goto bad;
	if (v > max)
		return err_set(p->err, EFBIG, "%s: line %u: %s = \"%s\": more than the %u allowed",
			       p->name, line, key, quote(s, qb), max);
	*ret = (unsigned)v;
	return 0;
bad:
	return err_set(p->err, EINVAL, "%s: line %u: %s = \"%s\": expected a whole number",
		       p->name, line, key, quote(s, qb));
}

/* *ret = a copy of the value of key; a missing or empty one is an error when required,
 * else NULL. */
static int get_str(struct vmsd_parse *p, const char *key, bool required, char **ret)
{
	const char *s = vmx_kv_get(p->kv, key, NULL);

	*ret = NULL;
	if (!s || !*s) {
		if (required)
			return err_set(p->err, EINVAL, "%s: %s is missing%s", p->name, key,
				       s ? " (empty)" : "");
		return 0;
	}
	*ret = strdup(s);
	if (!*ret)
		return err_set(p->err, ENOMEM, "%s: out of memory", p->name);
	return 0;
}

/* Bytes of the UTF-8 character at s (the parser validated the text), at least 1. */
static size_t char_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

	for (size_t i = 1; i < n; i++)
		if (!s[i])
			return i;
	return n;
}

/* A directory name for snapshot i: its display name (or "snapshot-UID") with everything
 * but letters, digits, "-", "_", "." and non-ASCII characters turned into '_' so that it
 * is one path component and easy to type, cut at a character boundary, no leading '.',
 * and made unique among the names before it with "-2", "-3"... */
static int make_dir_name(struct vmsd_parse *p, size_t i)
{
	struct vmsd_snapshot *s = &p->v->snaps[i];
	char base[VMSD_MAX_DIR_NAME + 1], *src = NULL, *out = NULL;
	size_t n = 0;

	if (s->name && asprintf(&src, "%s", s->name) < 0)
		src = NULL;
	else if (!s->name && asprintf(&src, "snapshot-%s", s->uid) < 0)
		src = NULL;
	if (!src)
		return err_set(p->err, ENOMEM, "%s: out of memory", p->name);
	for (const char *c = src; *c;) {
		size_t k = char_len(c);

		if (n + k > VMSD_MAX_DIR_NAME - 4) /* room for a "-NNN" suffix */
			break;
		if (k > 1) {
			memcpy(base + n, c, k);
		} else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			   (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.') {
			base[n] = *c;
		} else {
			base[n] = '_';
		}
		n += k;
		c += k;
	}
	base[n] = '\0';
	free(src);
	if (base[0] == '.' || base[0] == '\0') {
		memmove(base + 1, base, n + 1);
		base[0] = '_';
	}
	for (unsigned k = 1; k <= VMSD_MAX_SNAPSHOTS + 1; k++) {
		bool taken = false;

		if ((k == 1 ? asprintf(&out, "%s", base) : asprintf(&out, "%s-%u", base, k)) < 0)
			return err_set(p->err, ENOMEM, "%s: out of memory", p->name);
		for (size_t j = 0; j < i && !taken; j++)
			taken = strcmp(p->v->snaps[j].dir, out) == 0;
		if (!taken) {
			s->dir = out;
			return 0;
		}
		free(out);
	}
	/* Each earlier name takes at most one suffix, so one of i + 1 is free. */
	return err_set(p->err, EINVAL, "%s: no free name for snapshot %zu", p->name, i);
}

static int parse_disk(struct vmsd_parse *p, unsigned n, unsigned m, struct vmsd_disk *d)
{
	char key[64], qb[QUOTE_MAX + 4];
	const char *node;
	unsigned line = 0;
	int r;

	snprintf(key, sizeof(key), "snapshot%u.disk%u.fileName", n, m);
	r = get_str(p, key, true, &d->file);
	if (r < 0)
		return r;
	vmx_kv_get(p->kv, key, &line);
	if (d->file[0] != '/' && path_escapes(d->file))
		return err_set(p->err, EPERM,
			       "%s: line %u: %s = \"%s\" leaves the VM's directory; refused",
			       p->name, line, key, quote(d->file, qb));
	snprintf(key, sizeof(key), "snapshot%u.disk%u.node", n, m);
	node = vmx_kv_get(p->kv, key, &line);
	if (!node)
		return err_set(p->err, EINVAL, "%s: %s is missing", p->name, key);
	if (!vmx_parse_node(node, &d->bus, &d->ctl, &d->unit))
		return err_set(p->err, EINVAL,
			       "%s: line %u: %s = \"%s\": expected a disk node such as scsi0:0, "
			       "sata0:1, ide0:0 or nvme0:0",
			       p->name, line, key, quote(node, qb));
	return 0;
}

static int parse_snapshot(struct vmsd_parse *p, unsigned n)
{
	struct vmsd_snapshot *s = &p->v->snaps[n];
	char key[64], qb[QUOTE_MAX + 4];
	unsigned n_disks, line = 0;
	int r;

	snprintf(key, sizeof(key), "snapshot%u.uid", n);
	r = get_str(p, key, true, &s->uid);
	if (r < 0)
		return r;
	vmx_kv_get(p->kv, key, &line);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(p->v->snaps[i].uid, s->uid) == 0)
			return err_set(p->err, EINVAL,
				       "%s: line %u: %s = \"%s\" is snapshot%u's uid too", p->name,
				       line, key, quote(s->uid, qb), i);
	snprintf(key, sizeof(key), "snapshot%u.displayName", n);
	r = get_str(p, key, false, &s->name);
	if (r < 0)
		return r;
	snprintf(key, sizeof(key), "snapshot%u.numDisks", n);
	r = get_count(p, key, VMSD_MAX_DISKS, &n_disks);
	if (r < 0)
		return r;
	s->disks = calloc(n_disks ? n_disks : 1, sizeof(*s->disks));
	if (!s->disks)
		return err_set(p->err, ENOMEM, "%s: out of memory", p->name);
	for (unsigned m = 0; m < n_disks; m++) {
		r = parse_disk(p, n, m, &s->disks[m]);
		s->n_disks++;
		if (r < 0)
			return r;
		for (unsigned k = 0; k < m; k++) {
			const struct vmsd_disk *a = &s->disks[k], *b = &s->disks[m];

			if (a->bus == b->bus && a->ctl == b->ctl && a->unit == b->unit)
				return err_set(p->err, EINVAL,
					       "%s: snapshot%u.disk%u.node is disk%u's node too",
					       p->name, n, m, k);
		}
	}
	return make_dir_name(p, n);
}

int vmsd_parse(const char *text, size_t len, const char *name, struct vmsd **ret,
	       struct err *err)
{
	struct vmsd_parse p = { .name = name, .err = err };
	struct vmx_kv *kv = NULL;
	unsigned n;
	int r;

	r = vmx_kv_parse(text, len, name, &kv, err);
	if (r < 0)
		return r;
	p.kv = kv;
	p.v = calloc(1, sizeof(*p.v));
	if (!p.v) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	r = get_count(&p, "snapshot.numSnapshots", VMSD_MAX_SNAPSHOTS, &n);
	if (r < 0)
		goto out;
	p.v->snaps = calloc(n ? n : 1, sizeof(*p.v->snaps));
	if (!p.v->snaps) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		p.v->n++;
		r = parse_snapshot(&p, i);
		if (r < 0)
			goto out;
	}
	*ret = TAKE_PTR(p.v);
out:
	vmsd_free(p.v);
	vmx_kv_free(kv);
	return r;
}

void vmsd_free(struct vmsd *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		struct vmsd_snapshot *s = &v->snaps[i];

		for (size_t m = 0; m < s->n_disks; m++)
			free(s->disks[m].file);
		free(s->disks);
		free(s->uid);
		free(s->name);
		free(s->dir);
	}
	free(v->snaps);
	free(v);
}
