/* SPDX-License-Identifier: MIT */
/*
 * A VMDK disk from its descriptor: one disk per extent line, end to end.
 *
 * The file a user names is one of three things: a text descriptor that names its
 * extent files (monolithicFlat, twoGbMaxExtent*, ESXi "vmfs"), a hosted sparse file
 * with the descriptor embedded (monolithicSparse, streamOptimized), or a bare sparse
 * extent with no descriptor at all (one part of a twoGbMaxExtentSparse disk).
 *
 * An embedded descriptor names its own file as the extent.  People rename .vmdk files
 * and the name inside does not follow, so when a sparse file's descriptor has a single
 * SPARSE extent we read that extent from the file itself, as VMware and qemu do.
 *
 * Extent files are opened through the caller's resolver so the same code serves a
 * directory and an archive; the default resolver opens them beside the descriptor and
 * refuses names that would leave its directory, since a descriptor is untrusted input
 * and must not make us read /etc/shadow through the mount.
 */
#include "vmdk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"
#include "../common/text.h"
#include "../common/endian.h"

#define SECTOR 512u
#define KDMV_MAGIC 0x564d444bu /* "KDMV" */
#define COWD_MAGIC 0x44574f43u /* "COWD" */

/* The disk handed out: the extents' concatenation plus the descriptor it came from, kept
 * for the layers above (adapter type, geometry, uuid). Reads go straight to inner. */
struct vmdk_disk {
	struct disk d;
	struct disk *inner;
	struct vmdk_desc *desc;
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
	if (!d || d->ops != &vmdk_ops)
		return NULL;
	return ((struct vmdk_disk *)d)->desc;
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

/* createTypes whose extents we read, and the extent types each may hold. */
static int check_create_type(const struct vmdk_desc *desc, const char *name, struct err *err)
{
	static const char *const supported[] = {
		"monolithicSparse", "twoGbMaxExtentSparse", "streamOptimized",
		"monolithicFlat", "twoGbMaxExtentFlat", "vmfs", "vmfsThin",
		"vmfsPreallocated", "vmfsEagerZeroedThick", "vmfsThick", "custom",
	};
	const char *t = desc->create_type;

	for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
		if (strcasecmp(t, supported[i]) == 0)
			return 0;
	if (strcasecmp(t, "vmfsSparse") == 0 || strcasecmp(t, "seSparse") == 0)
		return err_set(err, ENOTSUP,
			       "%s: descriptor createType \"%s\" (an ESXi snapshot delta) is not "
			       "supported yet",
			       name, text_show(t).s);
	if (strcasecmp(t, "vmfsRDM") == 0 || strcasecmp(t, "vmfsRaw") == 0 ||
	    strcasecmp(t, "vmfsRawDeviceMap") == 0 || strcasecmp(t, "vmfsPassthroughRawDeviceMap") == 0 ||
	    strcasecmp(t, "fullDevice") == 0 || strcasecmp(t, "partitionedDevice") == 0)
		return err_set(err, ENOTSUP,
			       "%s: descriptor createType \"%s\" is a raw device mapping (RDM) of "
			       "a physical disk, which an export does not contain",
			       name, text_show(t).s);
	return err_set(err, ENOTSUP, "%s: descriptor createType \"%s\" is not a VMDK type we know",
		       name, text_show(t).s);
}

static int open_sparse_extent(struct source *src, const struct vmdk_extent *x, size_t i,
			      const char *name, struct disk **ret, struct err *err)
{
	struct disk *d;
	int r;

	r = vmdk_sparse_open(src, src->name, &d, err);
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
		break;
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
		r = open_sparse_extent(src, x, i, name, ret, err);
	} else if (CHECKED_MUL(x->offset, SECTOR, &off)) {
		r = err_set(err, EINVAL, "%s: extent %zu offset overflows", name, i + 1);
	} else {
		r = disk_flat_new(src, off, bytes, src->name, ret, err);
	}
	source_unref(src);
	return r;
}

/* Build the disk from a parsed descriptor. self is the sparse file that embeds it, or
 * NULL. Takes ownership of desc. */
static int open_desc(struct source *self, struct vmdk_desc *desc, const struct vmdk_opts *o,
		     const char *name, struct disk **ret, struct err *err)
{
	struct disk **parts = NULL;
	struct disk *cat = NULL;
	struct vmdk_disk *v = NULL;
	size_t n = 0;
	bool embedded_single;
	int r;

	r = check_create_type(desc, name, err);
	if (r < 0)
		goto out;
	if (desc->parent_cid != VMDK_CID_NONE) {
		r = err_set(err, ENOTSUP,
			    "%s: descriptor parentCID=%08" PRIx32 " makes this a snapshot delta "
			    "(parent \"%s\"); snapshot chains are not supported yet",
			    name, desc->parent_cid,
			    desc->parent_hint ? text_show(desc->parent_hint).s : "?");
		goto out;
	}
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
	r = disk_concat_new(parts, n, name, &cat, err);
	if (r < 0)
		goto out;
	v = calloc(1, sizeof(*v));
	if (!v) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if (disk_init(&v->d, &vmdk_ops, name, cat->size, cat->grain, cat->costly) < 0) {
		free(v);
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out;
	}
	v->inner = TAKE_PTR(cat);
	v->desc = TAKE_PTR(desc);
	*ret = &v->d;
	r = 0;
out:
	while (n > 0)
		disk_unref(parts[--n]);
	free(parts);
	disk_unref(cat);
	vmdk_desc_free(desc);
	return r;
}

int vmdk_open(struct source *src, const struct vmdk_opts *o, struct disk **ret,
	      struct err *err)
{
	struct vmdk_desc *desc = NULL;
	uint8_t magic[4] = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r;

	if (src->size >= sizeof(magic)) {
		r = source_pread(src, magic, sizeof(magic), 0);
		if (r < 0)
			return err_set(err, -r, "%s: cannot read: %s", src->name, strerror(-r));
	}
	if (le32(magic) == COWD_MAGIC)
		return err_set(err, ENOTSUP,
			       "%s: a COWD (ESXi vmfsSparse) extent cannot be opened alone; "
			       "snapshot deltas are not supported yet", src->name);
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
		return open_desc(src, desc, o, src->name, ret, err);
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
	return open_desc(NULL, desc, o, src->name, ret, err);
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
