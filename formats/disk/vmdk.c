/* SPDX-License-Identifier: MIT */
/*
 * A VMDK disk from its descriptor: one disk per extent line, end to end.
 *
 * The file a user names is one of three things: a text descriptor that names its
 * extent files (monolithicFlat, twoGbMaxExtent*, ESXi "vmfs" and the snapshot deltas
 * "vmfsSparse" and "seSparse"), a hosted sparse file with the descriptor embedded
 * (monolithicSparse, streamOptimized), or a bare sparse extent with no descriptor at all
 * (one part of a twoGbMaxExtentSparse disk).
 *
 * An embedded descriptor names its own file as the extent.  People rename .vmdk files
 * and the name inside does not follow, so when a sparse file's descriptor has a single
 * SPARSE extent we read that extent from the file itself, as VMware and qemu do.
 *
 * Extent files are opened through the caller's resolver so the same code serves a
 * directory and an archive; the default resolver opens them beside the descriptor and
 * refuses names that would leave its directory, since a descriptor is untrusted input
 * and must not make us read /etc/shadow through the mount.
 *
 * A descriptor whose parentCID is not ffffffff is a snapshot delta: what it leaves
 * unallocated is its parent's, the file its parentFileNameHint names.  The hint goes
 * through the same resolver, taken in the child's directory; an absolute hint (ESXi's
 * /vmfs/volumes/... or a Windows path, from the host that made the chain) falls back to
 * its last component beside the child, and a relative one with ".." is refused.  The
 * parent's CID must equal the child's parentCID: VMware changes a disk's CID when it is
 * written, so a mismatch means the parent changed under the snapshot and the chain would
 * read as a disk that never existed (-o ignore_cid accepts it anyway).  The walk stops
 * at a parent opened before (the same file by device and inode, or the same tar member,
 * whatever name led there) and at DISK_CHAIN_MAX_DEPTH files; the levels become one
 * chain disk (chain.c).
 */
#include "vmdk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"
#include "../common/endian.h"

#define SECTOR 512u
#define KDMV_MAGIC 0x564d444bu /* "KDMV" */
#define COWD_MAGIC 0x44574f43u /* "COWD" */
#define SESPARSE_MAGIC UINT64_C(0xcafebabe)

/* The disk handed out: the extents' concatenation plus the descriptor it came from, kept
 * for the layers above (adapter type, geometry, uuid), or a chain of such disks and its
 * leaf, which has the descriptor. Reads go straight to inner. */
struct vmdk_disk {
	struct disk d;
	struct disk *inner;
	struct vmdk_desc *desc; /* NULL for a chain */
	struct disk *leaf;	/* a chain's leaf, else NULL */
};

static int vmdk_read(struct disk *d, void *buf, size_t len, uint64_t off)
{
	struct vmdk_disk *v = (struct vmdk_disk *)d;

	return v->inner->ops->read(v->inner, buf, len, off);
}

static int vmdk_status(struct disk *d, uint64_t off, uint64_t len, struct disk_run *ret)
{
	struct vmdk_disk *v = (struct vmdk_disk *)d;

	return v->inner->ops->status(v->inner, off, len, ret);
}

static void vmdk_free(struct disk *d)
{
	struct vmdk_disk *v = (struct vmdk_disk *)d;

	disk_unref(v->inner);
	vmdk_desc_free(v->desc);
	disk_unref(v->leaf);
	free(v);
}

static const struct disk_ops vmdk_ops = {
	.kind = "vmdk",
	.read = vmdk_read,
	.status = vmdk_status,
	.free = vmdk_free,
};

const struct vmdk_desc *vmdk_get_desc(struct disk *d)
{
	struct vmdk_disk *v = (struct vmdk_disk *)d;

	if (!d || d->ops != &vmdk_ops)
		return NULL;
	return v->desc ? v->desc : vmdk_get_desc(v->leaf);
}

/* inner, with desc (taken, may be NULL) or the chain's leaf (referenced, may be NULL),
 * as the disk handed out. */
static int vmdk_wrap(struct disk *inner, struct vmdk_desc *desc, struct disk *leaf,
		     const char *name, struct disk **ret, struct err *err)
{
	struct vmdk_disk *v = calloc(1, sizeof(*v));

	if (!v || disk_init(&v->d, &vmdk_ops, name, inner->size, inner->grain, inner->costly) < 0) {
		if (v)
			free(v->d.name);
		free(v);
		vmdk_desc_free(desc);
		return err_set(err, ENOMEM, "%s: out of memory", name);
	}
	v->inner = disk_ref(inner);
	v->desc = desc;
	v->leaf = leaf ? disk_ref(leaf) : NULL;
	*ret = &v->d;
	return 0;
}

static bool has_text(const char *head, size_t len, const char *needle)
{
	return memmem(head, len, needle, strlen(needle)) != NULL;
}

bool vmdk_probe(const void *head, size_t len)
{
	const char *nul;

	if (len >= 4 && (le32(head) == KDMV_MAGIC || le32(head) == COWD_MAGIC))
		return true;
	if (len >= 8 && le64(head) == SESPARSE_MAGIC)
		return true;
	/* A descriptor is short text (an embedded one is found through KDMV); these two
	 * strings are in every one we have seen.  Binary files that merely contain one,
	 * such as an .ova holding a VMDK, are not descriptors; but qemu pads descriptor
	 * files with NULs, so NULs may follow the text. */
	nul = memchr(head, '\0', len);
	if (nul) {
		for (const char *p = nul; p < (const char *)head + len; p++)
			if (*p)
				return false;
		len = (size_t)(nul - (const char *)head);
	}
	return has_text(head, len, "# Disk DescriptorFile") || has_text(head, len, "createType");
}

/* A raw device mapping's data is on a LUN (or a host's disk), not in any file we have. */
static int rdm_refusal(const char *name, const char *what, struct err *err)
{
	return err_set(err, ENOTSUP,
		       "%s: %s is a raw device mapping (RDM): the disk's data is on the mapped "
		       "LUN, not in the VM's files; copy the LUN to an image first "
		       "(vmkfstools -i, or dd of the device) and mount that", name, what);
}

/* createTypes whose extents we read. */
static int check_create_type(const struct vmdk_desc *desc, const char *name, struct err *err)
{
	static const char *const supported[] = {
		"monolithicSparse", "twoGbMaxExtentSparse", "streamOptimized",
		"monolithicFlat", "twoGbMaxExtentFlat", "vmfs", "vmfsThin",
		"vmfsPreallocated", "vmfsEagerZeroedThick", "vmfsThick", "custom",
		"vmfsSparse", "seSparse",
	};
	const char *t = desc->create_type;

	for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
		if (strcasecmp(t, supported[i]) == 0)
			return 0;
	if (strcasecmp(t, "vmfsRDM") == 0 || strcasecmp(t, "vmfsRDMP") == 0 ||
	    strcasecmp(t, "vmfsRaw") == 0 || strcasecmp(t, "vmfsRawDeviceMap") == 0 ||
	    strcasecmp(t, "vmfsPassthroughRawDeviceMap") == 0 ||
	    strcasecmp(t, "fullDevice") == 0 || strcasecmp(t, "partitionedDevice") == 0) {
		char what[128];

		snprintf(what, sizeof(what), "createType \"%s\"", text_show(t).s);
		return rdm_refusal(name, what, err);
	}
	return err_set(err, ENOTSUP, "%s: descriptor createType \"%s\" is not a VMDK type we know",
		       name, text_show(t).s);
}

/* An extent with a header of its own (SPARSE, VMFSSPARSE, SESPARSE), opened by open. */
static int open_sparse_extent(int (*open)(struct source *, const char *, struct disk **,
					 struct err *),
			      struct source *src, const struct vmdk_extent *x, size_t i,
			      const char *name, struct disk **ret, struct err *err)
{
	struct disk *d;
	int r;

	r = open(src, src->name, &d, err);
	if (r < 0)
		return r;
	/* The extent line is what places the extent in the disk; a header that disagrees
	 * means the files were mixed up, and guessing which one is right would hand the
	 * guest a different disk. */
	if (d->size / SECTOR != x->sectors) {
		r = err_set(err, EINVAL,
			    "%s: extent %zu (\"%s\") declares %" PRIu64
			    " sectors but its sparse header has a capacity of %" PRIu64,
			    name, i + 1, text_show(x->file).s, x->sectors, d->size / SECTOR);
		disk_unref(d);
		return r;
	}
	*ret = d;
	return 0;
}

static int open_extent(struct source *self, const struct vmdk_desc *desc, size_t i,
		       const struct vmdk_opts *o, const char *name, struct disk **ret,
		       struct err *err)
{
	const struct vmdk_extent *x = &desc->extents[i];
	struct source *src = NULL;
	uint64_t bytes, off;
	int r;

	if (CHECKED_MUL(x->sectors, SECTOR, &bytes))
		return err_set(err, EINVAL, "%s: extent %zu is too large", name, i + 1);
	if (x->access == VMDK_ACCESS_NOACCESS)
		return err_set(err, ENOTSUP, "%s: extent %zu (\"%s\") is NOACCESS", name, i + 1,
			       x->file ? text_show(x->file).s : "");
	switch (x->type) {
	case VMDK_EXTENT_ZERO:
		return disk_zero_new(bytes, DISK_ZERO, name, ret, err);
	case VMDK_EXTENT_FLAT:
	case VMDK_EXTENT_VMFS:
	case VMDK_EXTENT_SPARSE:
	case VMDK_EXTENT_VMFSSPARSE:
	case VMDK_EXTENT_SESPARSE:
		break;
	case VMDK_EXTENT_VMFSRDM:
	case VMDK_EXTENT_VMFSRAW: {
		char what[64];

		snprintf(what, sizeof(what), "extent %zu (type %s)", i + 1,
			 vmdk_extent_type_name(x->type));
		return rdm_refusal(name, what, err);
	}
	default:
		return err_set(err, ENOTSUP,
			       "%s: extent %zu (\"%s\") has type %s, not supported yet", name,
			       i + 1, x->file ? text_show(x->file).s : "",
			       vmdk_extent_type_name(x->type));
	}
	if (!x->file || !x->file[0])
		return err_set(err, EINVAL, "%s: extent %zu has no file name", name, i + 1);

	if (self) {
		src = source_ref(self);
	} else {
		if (!o || !o->open_file)
			return err_set(err, EINVAL, "%s: extent %zu (\"%s\"): no way to open files",
				       name, i + 1, text_show(x->file).s);
		r = o->open_file(o->opaque, x->file, &src, err);
		if (r < 0)
			return r;
	}
	if (x->type == VMDK_EXTENT_SPARSE) {
		r = open_sparse_extent(vmdk_sparse_open, src, x, i, name, ret, err);
	} else if (x->type == VMDK_EXTENT_VMFSSPARSE) {
		r = open_sparse_extent(cowd_open, src, x, i, name, ret, err);
	} else if (x->type == VMDK_EXTENT_SESPARSE) {
		r = open_sparse_extent(sesparse_open, src, x, i, name, ret, err);
	} else if (CHECKED_MUL(x->offset, SECTOR, &off)) {
		r = err_set(err, EINVAL, "%s: extent %zu offset overflows", name, i + 1);
	} else {
		r = disk_flat_new(src, off, bytes, src->name, ret, err);
	}
	source_unref(src);
	return r;
}

/* Build the extents of a parsed descriptor into one disk. self is the sparse file that
 * embeds it, or NULL. */
static int open_desc(struct source *self, const struct vmdk_desc *desc, const struct vmdk_opts *o,
		     const char *name, struct disk **ret, struct err *err)
{
	struct disk **parts = NULL;
	size_t n = 0;
	bool embedded_single;
	int r;

	r = check_create_type(desc, name, err);
	if (r < 0)
		goto out;
	embedded_single = self && desc->n_extents == 1 &&
			  desc->extents[0].type == VMDK_EXTENT_SPARSE;
	if (self && !embedded_single) {
		r = err_set(err, EINVAL,
			    "%s: embedded descriptor must describe one SPARSE extent (the file "
			    "itself), it has %zu extents", name, desc->n_extents);
		goto out;
	}
	parts = calloc(desc->n_extents, sizeof(*parts));
	if (!parts) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	for (n = 0; n < desc->n_extents; n++) {
		r = open_extent(embedded_single ? self : NULL, desc, n, o, name, &parts[n], err);
		if (r < 0)
			goto out;
	}
	r = disk_concat_new(parts, n, name, ret, err);
out:
	while (n > 0)
		disk_unref(parts[--n]);
	free(parts);
	return r;
}

/* One file of a chain, its parent not followed: the disk its extents make, with its
 * descriptor (vmdk_get_desc), or a bare sparse extent, which has none. */
static int open_level(struct source *src, const struct vmdk_opts *o, struct disk **ret,
		      struct err *err)
{
	struct vmdk_desc *desc = NULL;
	struct disk *cat = NULL;
	uint8_t magic[8] = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r;

	if (src->size >= 4) {
		r = source_pread(src, magic, MIN(src->size, sizeof(magic)), 0);
		if (r < 0)
			return err_set(err, -r, "%s: cannot read: %s", src->name, strerror(-r));
	}
	/* ESXi deltas have no descriptor inside: their descriptor is a separate file
	 * (NAME.vmdk beside NAME-delta.vmdk or NAME-sesparse.vmdk) naming the parent. */
	if (le32(magic) == COWD_MAGIC || le64(magic) == SESPARSE_MAGIC)
		return err_set(err, EINVAL,
			       "%s: this is the data file of an ESXi snapshot delta (%s); mount "
			       "the descriptor .vmdk that names it instead", src->name,
			       le32(magic) == COWD_MAGIC ? "vmfsSparse, \"COWD\"" : "seSparse");
	if (le32(magic) == KDMV_MAGIC) {
		r = vmdk_sparse_read_descriptor(src, &text, &len, err);
		if (r == -ENOENT)
			return vmdk_sparse_open(src, src->name, ret, err);
		if (r < 0)
			return r;
		r = vmdk_desc_parse(text, len, src->name, &desc, err);
		free(text);
		if (r < 0)
			return r;
		r = open_desc(src, desc, o, src->name, &cat, err);
		goto out;
	}
	if (src->size > VMDK_DESC_MAX_BYTES)
		return err_set(err, EINVAL,
			       "%s: not a VMDK: no sparse header magic, and too large (%" PRIu64
			       " bytes) for a text descriptor", src->name, src->size);
	r = source_read_all(src, VMDK_DESC_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return r;
	if (!vmdk_probe(text, len)) {
		free(text);
		return err_set(err, EINVAL,
			       "%s: not a VMDK: no sparse header magic and no descriptor text",
			       src->name);
	}
	r = vmdk_desc_parse(text, len, src->name, &desc, err);
	free(text);
	if (r < 0)
		return r;
	r = open_desc(NULL, desc, o, src->name, &cat, err);
out:
	if (r == 0)
		r = vmdk_wrap(cat, TAKE_PTR(desc), NULL, src->name, ret, err);
	vmdk_desc_free(desc);
	disk_unref(cat);
	return r;
}

/* ---- snapshot chains ---- */

/* What makes two opened files the same file, whatever names led to them: the device,
 * inode and offset of their bytes (a tar member is an offset in the .ova), or for a
 * source with no file under it (in memory) the source object itself. */
struct level_id {
	const struct source *src;
	bool has_file;
	dev_t dev;
	ino_t ino;
	uint64_t off;
};

static void level_id_of(struct source *src, struct level_id *id)
{
	struct stat st;
	int fd;

	*id = (struct level_id){ .src = src };
	if (src->size && source_locate(src, 0, 1, &fd, &id->off) == 0 && fstat(fd, &st) == 0) {
		id->has_file = true;
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
}

static bool level_id_eq(const struct level_id *a, const struct level_id *b)
{
	if (a->has_file || b->has_file)
		return a->has_file && b->has_file && a->dev == b->dev && a->ino == b->ino &&
		       a->off == b->off;
	return a->src == b->src;
}

/* Levels opened before, by identity and the directory their names resolve in.  Each
 * entry holds its source so that an identity is never compared with a freed object. */
struct vmdk_levels {
	struct level_entry {
		struct level_id id;
		struct source *src;
		char *dir;
		struct disk *disk;
	} *e;
	size_t n;
};

int vmdk_levels_new(struct vmdk_levels **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void vmdk_levels_free(struct vmdk_levels *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		source_unref(l->e[i].src);
		free(l->e[i].dir);
		disk_unref(l->e[i].disk);
	}
	free(l->e);
	free(l);
}

static struct disk *levels_find(const struct vmdk_levels *l, const struct level_id *id,
				const char *dir)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (level_id_eq(&l->e[i].id, id) && strcmp(l->e[i].dir, dir) == 0)
			return l->e[i].disk;
	return NULL;
}

static int levels_add(struct vmdk_levels *l, const struct level_id *id, struct source *src,
		      const char *dir, struct disk *d)
{
	struct level_entry *e;

	if (!l)
		return 0;
	e = realloc(l->e, (l->n + 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	l->e = e;
	e = &l->e[l->n];
	e->dir = strdup(dir);
	if (!e->dir)
		return -ENOMEM;
	e->id = *id;
	e->src = source_ref(src);
	e->disk = disk_ref(d);
	l->n++;
	return 0;
}

/* Files a level's descriptor names are resolved in that level's directory: the caller's
 * resolver, with the directory (relative to the leaf's, "" or "sub/") put in front. */
struct level_dir {
	const struct vmdk_opts *o;
	const char *dir;
};

static int level_open_file(void *opaque, const char *file, struct source **ret, struct err *err)
{
	const struct level_dir *ld = opaque;
	CLEANUP_FREE char *name = NULL;

	if (asprintf(&name, "%s%s", ld->dir, file) < 0)
		return err_set(err, ENOMEM, "out of memory");
	return ld->o->open_file(ld->o->opaque, name, ret, err);
}

/* The levels of a chain being opened, leaf first; srcs[i] is the file disks[i] was
 * opened from, held until the walk ends for the same reason as in vmdk_levels. */
struct chain_walk {
	struct disk *disks[DISK_CHAIN_MAX_DEPTH];
	struct source *srcs[DISK_CHAIN_MAX_DEPTH];
	struct level_id ids[DISK_CHAIN_MAX_DEPTH];
	char *dirs[DISK_CHAIN_MAX_DEPTH]; /* relative to the leaf's: "" or "sub/" */
	size_t n;
};

static void chain_walk_free(struct chain_walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		disk_unref(w->disks[i]);
		source_unref(w->srcs[i]);
		free(w->dirs[i]);
	}
	free(w);
}

/* Make src, found in directory dir, the next level of the walk: the one opened before
 * if the set has it, else opened here. */
static int push_level(struct chain_walk *w, struct source *src, const char *dir,
		      const struct vmdk_opts *o, struct err *err)
{
	struct level_dir ld = { .o = o, .dir = dir };
	struct vmdk_opts lo = { 0 };
	size_t i = w->n;
	struct disk *d;
	int r;

	w->srcs[i] = source_ref(src);
	w->dirs[i] = strdup(dir);
	level_id_of(src, &w->ids[i]);
	w->n++;
	if (!w->dirs[i])
		return err_set(err, ENOMEM, "%s: out of memory", src->name);
	for (size_t k = 0; k < i; k++)
		if (level_id_eq(&w->ids[k], &w->ids[i]))
			return err_set(err, ELOOP,
				       "%s: snapshot chain loops: %s names %s as its parent, which "
				       "is already in the chain",
				       w->srcs[0]->name, w->srcs[i - 1]->name, src->name);
	d = levels_find(o ? o->levels : NULL, &w->ids[i], dir);
	if (d) {
		w->disks[i] = disk_ref(d);
		return 0;
	}
	if (o) {
		lo = *o;
		if (dir[0] && o->open_file) {
			lo.open_file = level_open_file;
			lo.opaque = &ld;
		}
	}
	r = open_level(src, o ? &lo : NULL, &w->disks[i], err);
	if (r < 0)
		return r;
	if (levels_add(o ? o->levels : NULL, &w->ids[i], src, dir, w->disks[i]) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", src->name);
	return 0;
}

/* Where the parentFileNameHint of the descriptor named child (in directory dir) points,
 * as a name for the resolver.  A relative hint is taken in the child's directory.  An
 * absolute one (ESXi's "/vmfs/volumes/ds/vm/base.vmdk", a Windows "C:\VMs\base.vmdk")
 * names a path on the host that made the chain: only its last component means anything
 * here, and a copied VM keeps its parent beside the child. */
static int parent_name(const char *child, const char *dir, const char *hint, char **ret,
		       struct err *err)
{
	CLEANUP_FREE char *rel = NULL;
	const char *base = hint;

	if (hint[0] == '/' || hint[0] == '\\' ||
	    (((hint[0] | 0x20) >= 'a' && (hint[0] | 0x20) <= 'z') && hint[1] == ':')) {
		for (const char *p = hint; *p; p++)
			if (*p == '/' || *p == '\\' || (p == hint + 1 && *p == ':'))
				base = p + 1;
		if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
			return err_set(err, EINVAL, "%s: parentFileNameHint \"%s\" names no file",
				       child, text_show(hint).s);
		if (asprintf(ret, "%s%s", dir, base) < 0)
			return err_set(err, ENOMEM, "%s: out of memory", child);
		return 0;
	}
	rel = strdup(hint);
	if (!rel)
		return err_set(err, ENOMEM, "%s: out of memory", child);
	/* VMware on Windows writes relative hints with backslashes. */
	for (char *p = rel; *p; p++)
		if (*p == '\\')
			*p = '/';
	if (path_escapes(rel))
		return err_set(err, EPERM,
			       "%s: parentFileNameHint \"%s\" leaves the child's directory (a \"..\" "
			       "component); refused: a descriptor may name files beside it or "
			       "below it only", child, text_show(hint).s);
	if (asprintf(ret, "%s%s", dir, rel) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", child);
	return 0;
}

/* The parentCID of level i against the CID of level i + 1, its parent. */
static int check_cid(const struct chain_walk *w, size_t i, const struct vmdk_opts *o,
		     struct err *err)
{
	const struct vmdk_desc *c = vmdk_get_desc(w->disks[i]);
	const struct vmdk_desc *p = vmdk_get_desc(w->disks[i + 1]);
	const char *cn = w->srcs[i]->name, *pn = w->srcs[i + 1]->name;

	if (o && o->ignore_cid)
		return 0;
	if (!p)
		return err_set(err, EINVAL,
			       "%s: its parent %s is a bare sparse extent without a descriptor, so "
			       "it has no CID to match parentCID=%08" PRIx32 " (-o ignore_cid "
			       "accepts it)", cn, pn, c->parent_cid);
	if (p->cid != c->parent_cid)
		return err_set(err, EINVAL,
			       "%s: parentCID=%08" PRIx32 " does not match the CID=%08" PRIx32
			       " of its parent %s: the parent was written after this snapshot was "
			       "taken (-o ignore_cid reads the chain anyway)",
			       cn, c->parent_cid, p->cid, pn);
	return 0;
}

/* Open the parent of the last level of the walk, whose descriptor has a parentCID. */
static int open_parent(struct chain_walk *w, const struct vmdk_opts *o, struct err *err)
{
	size_t i = w->n - 1;
	const struct vmdk_desc *c = vmdk_get_desc(w->disks[i]);
	const char *cn = w->srcs[i]->name;
	CLEANUP_FREE char *name = NULL, *dir = NULL;
	struct err why = { 0 };
	struct source *src = NULL;
	const char *slash;
	int r;

	if (!c->parent_hint || !c->parent_hint[0])
		return err_set(err, EINVAL,
			       "%s: parentCID=%08" PRIx32 " makes it a snapshot delta, but no "
			       "parentFileNameHint names its parent", cn, c->parent_cid);
	if (w->n == DISK_CHAIN_MAX_DEPTH)
		return err_set(err, EFBIG,
			       "%s: snapshot chain deeper than %u files (its parent \"%s\" would "
			       "be one more); refused", w->srcs[0]->name, DISK_CHAIN_MAX_DEPTH,
			       text_show(c->parent_hint).s);
	if (!o || !o->open_file)
		return err_set(err, EINVAL, "%s: parent \"%s\": no way to open files", cn,
			       text_show(c->parent_hint).s);
	r = parent_name(cn, w->dirs[i], c->parent_hint, &name, err);
	if (r < 0)
		return r;
	slash = strrchr(name, '/');
	dir = slash ? strndup(name, (size_t)(slash - name) + 1) : strdup("");
	if (!dir)
		return err_set(err, ENOMEM, "%s: out of memory", cn);
	r = o->open_file(o->opaque, name, &src, &why);
	if (r < 0)
		return err_set(err, -r, "%s: cannot open its parent (parentFileNameHint \"%s\"): %s",
			       cn, text_show(c->parent_hint).s, why.msg);
	r = push_level(w, src, dir, o, err);
	source_unref(src);
	if (r < 0)
		return r;
	return check_cid(w, i, o, err);
}

int vmdk_open(struct source *src, const struct vmdk_opts *o, struct disk **ret,
	      struct err *err)
{
	struct chain_walk *w = calloc(1, sizeof(*w));
	const struct vmdk_desc *desc;
	struct disk *chain = NULL;
	int r;

	if (!w)
		return err_set(err, ENOMEM, "%s: out of memory", src->name);
	r = push_level(w, src, "", o, err);
	while (r == 0 && (desc = vmdk_get_desc(w->disks[w->n - 1])) &&
	       desc->parent_cid != VMDK_CID_NONE)
		r = open_parent(w, o, err);
	if (r == 0 && w->n == 1) {
		*ret = disk_ref(w->disks[0]);
	} else if (r == 0) {
		r = disk_chain_new(w->disks, w->n, src->name, &chain, err);
		if (r == 0)
			r = vmdk_wrap(chain, NULL, w->disks[0], src->name, ret, err);
	}
	disk_unref(chain);
	chain_walk_free(w);
	return r;
}

/* The default resolver: extent files beside the descriptor. */
struct dir_resolver {
	int dirfd;
	char *dir; /* for names in messages: "" or "path/to/" */
	const char *desc; /* the descriptor's path, for messages */
};

static int dir_open_file(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct dir_resolver *dr = opaque;
	CLEANUP_FREE char *name = NULL;

	if (asprintf(&name, "%s%s", dr->dir, file) < 0)
		return err_set(err, ENOMEM, "out of memory");
	/* Subdirectories are fine, leaving the descriptor's directory is not; symlinks
	 * the user placed are the user's business. */
	if (path_escapes(file))
		return err_set(err, EPERM,
			       "%s: extent file \"%s\" leaves the descriptor's directory; refused",
			       dr->desc, text_show(file).s);
	return source_file_openat(dr->dirfd, file, name, ret, err);
}

int vmdk_open_path(const char *path, const struct vmdk_opts *o, struct disk **ret,
		   struct err *err)
{
	struct dir_resolver dr = { .dirfd = -1, .desc = path };
	struct vmdk_opts opts = { 0 };
	struct source *src = NULL;
	const char *slash = strrchr(path, '/');
	int r;

	if (o)
		opts = *o;
	if (slash)
		dr.dir = strndup(path, (size_t)(slash - path) + 1);
	else
		dr.dir = strdup("");
	if (!dr.dir)
		return err_set(err, ENOMEM, "out of memory");
	dr.dirfd = open(dr.dir[0] ? dr.dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dr.dirfd < 0) {
		r = err_set(err, errno, "%s: cannot open its directory: %s", path,
			    strerror(errno));
		goto out;
	}
	if (!opts.open_file) {
		opts.open_file = dir_open_file;
		opts.opaque = &dr;
	}
	r = source_file_open(path, NULL, &src, err);
	if (r < 0)
		goto out;
	r = vmdk_open(src, &opts, ret, err);
out:
	source_unref(src);
	if (dr.dirfd >= 0)
		close(dr.dirfd);
	free(dr.dir);
	return r;
}
