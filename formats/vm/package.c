/* SPDX-License-Identifier: MIT */
/*
 * OVF packages, read in place.
 *
 * An .ova is indexed once (tar headers only) and every file of the package becomes a
 * slice of the .ova; a directory's files are opened beside the .ovf.  From there both
 * look the same: a list of member names and a way to open one as a source.
 *
 * References are untrusted: an href is a bare member name.  Hrefs with '/', "..", or
 * an absolute path are refused rather than resolved, so a package can never make us
 * read outside itself; a File the envelope names but the package lacks is an error
 * even when no disk uses it, because it means the package is incomplete.
 */
#include "package.h"

#include <dirent.h>
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
#include "../common/log.h"
#include "../common/text.h"
#include "../disk/vmdk.h"
#include "../source/chunks.h"
#include "../source/gzip.h"
#include "../source/tar.h"
#include "../view/domain.h"
#include "manifest.h"
#include "ovf.h"
#include "vm.h"
#include "vmsd.h"
#include "vmx.h"

#define MAX_DIR_MEMBERS 65536u
#define MAX_CHUNKS 100000u

struct pkg {
	const char *name;	/* the path the user gave */
	struct source *ova;	/* an .ova, or NULL for a directory */
	struct tar_index *tar;
	int dirfd;		/* a directory, or -1 */
	char *dir;		/* "path/to/" for member names in messages */
	char **members;		/* directory members; the tar keeps its own */
	size_t n_members;
};

static void pkg_close(struct pkg *p)
{
	for (size_t i = 0; i < p->n_members; i++)
		free(p->members[i]);
	free(p->members);
	if (p->tar)
		tar_index_free(p->tar);
	source_unref(p->ova);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->dir);
}

static size_t pkg_count(const struct pkg *p)
{
	return p->tar ? tar_count(p->tar) : p->n_members;
}

static const char *pkg_member_name(const struct pkg *p, size_t i)
{
	return p->tar ? tar_member(p->tar, i)->name : p->members[i];
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of member name, or -1: a lookup in the tar's sorted index or the directory's
 * sorted listing, since a chunked file asks once per chunk. */
static ssize_t pkg_find(const struct pkg *p, const char *name)
{
	char *const *hit;

	if (p->tar) {
		int i = tar_find(p->tar, name);

		return i < 0 ? -1 : i;
	}
	if (!p->n_members)
		return -1;
	hit = bsearch(&name, p->members, p->n_members, sizeof(*p->members), name_cmp);
	return hit ? hit - p->members : -1;
}

static bool pkg_has(const struct pkg *p, const char *name)
{
	return pkg_find(p, name) >= 0;
}

/* Open member i as a source. */
static int pkg_open_index(struct pkg *p, size_t i, struct source **ret, struct err *err)
{
	CLEANUP_FREE char *name = NULL;

	if (p->tar)
		return tar_member_source(p->tar, i, ret, err);
	if (asprintf(&name, "%s%s", p->dir, p->members[i]) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", p->name);
	return source_file_openat(p->dirfd, p->members[i], name, ret, err);
}

static int pkg_open_member(struct pkg *p, const char *member, struct source **ret,
			   struct err *err)
{
	ssize_t i = pkg_find(p, member);

	if (i < 0)
		return err_set(err, ENOENT, "%s: %s is not in the package", p->name, member);
	return pkg_open_index(p, (size_t)i, ret, err);
}

static bool href_ok(const char *href)
{
	return href[0] && !strchr(href, '/') && !strchr(href, '\\') && strcmp(href, ".") != 0 &&
	       strcmp(href, "..") != 0;
}

/* The resolver handed to the VMDK layer, for extents and snapshot parents: a descriptor
 * inside a package may only name other members of it.  A parent's absolute ESXi path
 * arrives here as its last component, the member beside the child. */
static int pkg_open_extent(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct pkg *p = opaque;

	if (!href_ok(file))
		return err_set(err, EPERM,
			       "%s: file \"%s\" named by a descriptor is not a plain member name; "
			       "refused", p->name, text_show(file).s);
	return pkg_open_member(p, file, ret, err);
}

static int open_chunks(struct pkg *p, const struct vm_file *f, struct source **ret,
		       struct err *err)
{
	struct source **parts = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (;;) {
		CLEANUP_FREE char *member = NULL;
		struct source **np;

		if (asprintf(&member, "%s.%09zu", f->href, n) < 0) {
			r = err_set(err, ENOMEM, "%s: out of memory", p->name);
			goto out;
		}
		if (!pkg_has(p, member))
			break;
		if (n == MAX_CHUNKS) {
			r = err_set(err, EFBIG, "%s: File %s has more than %u chunks", p->name,
				    f->href, MAX_CHUNKS);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			np = realloc(parts, cap * sizeof(*parts));
			if (!np) {
				r = err_set(err, ENOMEM, "%s: out of memory", p->name);
				goto out;
			}
			parts = np;
		}
		r = pkg_open_member(p, member, &parts[n], err);
		if (r < 0)
			goto out;
		n++;
	}
	if (n == 0) {
		r = err_set(err, ENOENT,
			    "%s: References File %s (chunked: %s.000000000, ...) has no chunks in "
			    "the package", p->name, f->id, f->href);
		goto out;
	}
	/* A gap ends the walk above, and what follows it would be left out unseen. */
	{
		CLEANUP_FREE char *next = NULL;

		if (asprintf(&next, "%s.%09zu", f->href, n + 1) < 0) {
			r = err_set(err, ENOMEM, "%s: out of memory", p->name);
			goto out;
		}
		if (pkg_has(p, next)) {
			r = err_set(err, ENOENT, "%s: chunk %s.%09zu is missing, but %s is there",
				    p->name, f->href, n, next);
			goto out;
		}
	}
	/* Every chunk but the last is exactly chunkSize: anything else means a chunk is
	 * missing or truncated, and the disk would silently shift. */
	for (size_t i = 0; i < n; i++) {
		uint64_t sz = parts[i]->size;

		if ((i + 1 < n && sz != f->chunk_size) || (i + 1 == n && sz > f->chunk_size)) {
			r = err_set(err, EINVAL,
				    "%s: chunk %s.%09zu is %" PRIu64 " bytes, but the File's "
				    "chunkSize is %" PRIu64, p->name, f->href, i, sz, f->chunk_size);
			goto out;
		}
	}
	r = source_concat_new(parts, n, f->href, ret, err);
	if (r == 0 && f->has_size && (*ret)->size < f->size) {
		r = err_set(err, EINVAL,
			    "%s: the %zu chunks of %s hold %" PRIu64 " bytes, less than the %" PRIu64
			    " its References File %s declares (a chunk missing?)",
			    p->name, n, f->href, (*ret)->size, f->size, f->id);
		*ret = source_unref(*ret);
	}
out:
	while (n > 0)
		source_unref(parts[--n]);
	free(parts);
	return r;
}

/* The bytes of a References File: a member, its chunks joined, or its gzip inflated. */
static int open_file_ref(struct pkg *p, const struct vm_file *f, struct source **ret,
			 struct err *err)
{
	struct source *raw = NULL;
	int r;

	if (!href_ok(f->href))
		return err_set(err, EPERM,
			       "%s: References File %s: href \"%s\" is not a plain member name; "
			       "refused", p->name, f->id, f->href);
	if (f->chunk_size) {
		if (f->gzip)
			return err_set(err, ENOTSUP,
				       "%s: References File %s is both chunked and gzip-compressed, "
				       "which is not supported", p->name, f->id);
		return open_chunks(p, f, ret, err);
	}
	if (!pkg_has(p, f->href))
		return err_set(err, ENOENT,
			       "%s: References File %s (%s) is not in the package", p->name, f->id,
			       f->href);
	r = pkg_open_member(p, f->href, &raw, err);
	if (r < 0)
		return r;
	if (f->has_size && raw->size < f->size) {
		r = err_set(err, EINVAL,
			    "%s: %s is %" PRIu64 " bytes, less than the %" PRIu64
			    " its References File %s declares (truncated?)",
			    p->name, f->href, raw->size, f->size, f->id);
		source_unref(raw);
		return r;
	}
	if (!f->gzip) {
		*ret = raw;
		return 0;
	}
	r = source_gzip_new(raw, raw->name, ret, err);
	source_unref(raw);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* The one member whose name ends with suffix; -ENOENT when none, -EINVAL when several. */
static int find_one(const struct pkg *p, const char *suffix, size_t *ret, struct err *err)
{
	size_t found = SIZE_MAX;

	for (size_t i = 0; i < pkg_count(p); i++) {
		if (!ends_with(pkg_member_name(p, i), suffix))
			continue;
		if (found != SIZE_MAX)
			return err_set(err, EINVAL, "%s: holds more than one %s file (%s and %s)",
				       p->name, suffix, text_show(pkg_member_name(p, found)).s,
				       text_show(pkg_member_name(p, i)).s);
		found = i;
	}
	if (found == SIZE_MAX)
		return -ENOENT;
	*ret = found;
	return 0;
}

static int read_member(struct pkg *p, size_t i, size_t cap, char **ret, size_t *ret_len,
		       struct err *err)
{
	struct source *s;
	int r;

	r = pkg_open_index(p, i, &s, err);
	if (r < 0)
		return r;
	if (s->size > cap)
		r = err_set(err, EFBIG, "%s: %s is %" PRIu64 " bytes, over the cap of %zu", p->name,
			    text_show(pkg_member_name(p, i)).s, s->size, cap);
	else
		r = source_read_all(s, cap, ret, ret_len, err);
	source_unref(s);
	return r;
}

/* Manifest: parsed when present; with --verify every entry is hashed before serving. */
static int check_manifest(struct pkg *p, const struct vm_package *pk, const struct export_opts *o,
			  struct err *err)
{
	CLEANUP_FREE char *text = NULL;
	struct manifest *m = NULL;
	size_t i, len;
	int r;

	r = find_one(p, ".cert", &i, err);
	if (r == 0)
		fprintf(stderr, "vmfs-mount: %s: signed (%s); the signature is not checked\n",
			p->name, text_show(pkg_member_name(p, i)).s);
	else if (r != -ENOENT)
		return r;
	r = find_one(p, ".mf", &i, err);
	if (r == -ENOENT) {
		if (o->verify)
			return err_set(err, ENOENT,
				       "%s: --verify: the package has no manifest (.mf) to check "
				       "against", p->name);
		return 0;
	}
	if (r < 0)
		return r;
	r = read_member(p, i, MANIFEST_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return r;
	r = manifest_parse(text, len, text_show(pkg_member_name(p, i)).s, &m, err);
	if (r < 0 || !o->verify)
		goto out;
	/* A manifest that leaves out a file the envelope uses vouches for nothing about it:
	 * with --verify that is a refusal, not a silent pass. */
	for (size_t k = 0; k < pk->n_files; k++) {
		const struct vm_file *f = &pk->files[k];

		if (f->chunk_size) {
			for (size_t c = 0;; c++) {
				CLEANUP_FREE char *chunk = NULL;

				if (asprintf(&chunk, "%s.%09zu", f->href, c) < 0) {
					r = err_set(err, ENOMEM, "%s: out of memory", p->name);
					goto out;
				}
				if (!pkg_has(p, chunk))
					break;
				if (!manifest_find(m, chunk)) {
					r = err_set(err, EBADMSG, "%s: --verify: the manifest does not "
						    "list %s", p->name, chunk);
					goto out;
				}
			}
		} else if (!manifest_find(m, f->href)) {
			r = err_set(err, EBADMSG, "%s: --verify: the manifest does not list %s",
				    p->name, f->href);
			goto out;
		}
	}
	for (size_t k = 0; k < manifest_count(m); k++) {
		const struct manifest_entry *me = manifest_entry(m, k);
		struct manifest_progress bar = { .label = me->name, .fd = 2 };
		struct source *s;

		if (!href_ok(me->name) || !pkg_has(p, me->name)) {
			r = err_set(err, ENOENT, "%s: the manifest names %s, which is not in the "
				    "package", p->name, me->name);
			goto out;
		}
		r = pkg_open_member(p, me->name, &s, err);
		if (r < 0)
			goto out;
		bar.total = s->size;
		r = manifest_verify(me, s, manifest_progress_bar, &bar, err);
		source_unref(s);
		if (r < 0)
			goto out;
	}
out:
	manifest_free(m);
	return r;
}

/* A VM's directory name: its id made safe for a path component, unique in the tree. */
static char *vm_dir_name(const struct vm *vm, size_t idx, char **used, size_t n_used)
{
	const char *src = vm->id && vm->id[0] ? vm->id : vm->name;
	char *s, *out = NULL;
	size_t n;

	if (!src || !src[0])
		src = "vm";
	s = strndup(src, 64);
	if (!s)
		return NULL;
	for (char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			*c = '_';
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strcmp(s, "source") == 0)
		s[0] = '_';
	n = 1;
	for (;;) {
		bool clash = false;

		free(out);
		if (n == 1 ? asprintf(&out, "%s", s) < 0 : asprintf(&out, "%s-%zu", s, n) < 0) {
			out = NULL;
			break;
		}
		for (size_t i = 0; i < n_used && !clash; i++)
			clash = strcmp(used[i], out) == 0;
		if (!clash)
			break;
		n++;
	}
	(void)idx;
	free(s);
	return out;
}

/* Add prefix/disk{,K}.raw and .qcow2; *ret_qcow2 gets the qcow2 path (malloc'd). */
static int add_disk_views(struct export *e, const char *prefix, unsigned k, struct disk *d,
			  char **ret_qcow2, struct err *err)
{
	CLEANUP_FREE char *raw = NULL, *qcow = NULL;
	struct disk *cd = NULL;
	struct view *v = NULL;
	int r;

	if ((k == 1 ? asprintf(&raw, "%sdisk.raw", prefix) : asprintf(&raw, "%sdisk%u.raw", prefix, k)) < 0 ||
	    (k == 1 ? asprintf(&qcow, "%sdisk.qcow2", prefix) :
		      asprintf(&qcow, "%sdisk%u.qcow2", prefix, k)) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", e->name);
	r = cache_wrap(e->cache, d, &cd, err);
	if (r < 0)
		return r;
	r = view_raw_new(cd, raw, &v, err);
	if (r == 0)
		r = export_add_file(e, raw, v, err);
	v = view_unref(v);
	if (r == 0)
		r = view_qcow2_new(cd, qcow, &v, err);
	if (r == 0)
		r = export_add_file(e, qcow, v, err);
	view_unref(v);
	disk_unref(cd);
	if (r == 0)
		*ret_qcow2 = TAKE_PTR(qcow);
	return r;
}

/* prefix/domain.xml for vm, its disks at qcow2[i] (relative to the mount; NULL when
 * vm->disks[i] has no view); snapshot is the display name when vm is a snapshot's. */
static int add_domain(struct export *e, const struct vm *vm, const char *prefix,
		      char **qcow2, const char *snapshot, const struct export_opts *o,
		      struct err *err)
{
	CLEANUP_FREE char *path = NULL, *xml = NULL;
	char **abs = NULL;
	struct domain_opts dopts = { .network = o->network, .bridge = o->bridge,
				     .virtio = o->virtio, .snapshot = snapshot };
	struct view *v = NULL;
	size_t len = 0;
	int r = 0;

	if (!o->mountpoint)
		return 0; /* opened without a mount (tests of the formats alone) */
	abs = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*abs));
	if (!abs)
		return err_set(err, ENOMEM, "%s: out of memory", e->name);
	for (size_t i = 0; i < vm->n_disks && r == 0; i++)
		if (qcow2[i] && asprintf(&abs[i], "%s/%s", o->mountpoint, qcow2[i]) < 0) {
			abs[i] = NULL;
			r = err_set(err, ENOMEM, "%s: out of memory", e->name);
		}
	if (r == 0 && asprintf(&path, "%sdomain.xml", prefix) < 0)
		r = err_set(err, ENOMEM, "%s: out of memory", e->name);
	dopts.disk_paths = (const char *const *)abs;
	dopts.n_disk_paths = vm->n_disks;
	if (r == 0)
		r = domain_render(vm, &dopts, &xml, &len, err);
	if (r == 0)
		r = view_mem_new(xml, len, path, &v, err);
	if (r == 0)
		r = export_add_file(e, path, v, err);
	view_unref(v);
	for (size_t i = 0; i < vm->n_disks; i++)
		free(abs[i]);
	free(abs);
	return r;
}

static int open_vm_disk(struct export *e, struct pkg *p, const struct vm_package *pk,
			const struct vm_disk *vd, const struct export_opts *o, struct disk **ret,
			struct err *err)
{
	struct vmdk_opts vo = { .open_file = pkg_open_extent, .opaque = p,
				.ignore_cid = o->ignore_cid };
	const struct vm_file *f;
	struct source *s = NULL;
	uint8_t head[512];
	size_t n;
	int r;

	if (!vd->file)
		/* A blank disk: the package asks the importer to create it empty. */
		return disk_zero_new(vd->capacity, DISK_UNALLOC, vd->disk_id ? vd->disk_id : "disk",
				     ret, err);
	f = vd->file_ref ? vm_package_file(pk, vd->file_ref) : NULL;
	if (!f)
		return err_set(err, EINVAL, "%s: Disk %s refers to File %s, which References "
			       "does not list", e->name, vd->disk_id ? vd->disk_id : "?",
			       vd->file_ref ? vd->file_ref : vd->file);
	r = open_file_ref(p, f, &s, err);
	if (r < 0)
		return r;
	n = (size_t)MIN((uint64_t)sizeof(head), s->size);
	r = source_pread(s, head, n, 0);
	if (r < 0) {
		r = err_set(err, -r, "%s: reading %s: %s", e->name, f->href, strerror(-r));
		goto out;
	}
	if (!vmdk_probe(head, n)) {
		r = err_set(err, ENOTSUP, "%s: Disk %s (%s, format %s) is not a VMDK; only VMDK "
			    "disks are read", e->name, vd->disk_id ? vd->disk_id : "?", f->href,
			    vd->format ? vd->format : "not given");
		goto out;
	}
	r = vmdk_open(s, &vo, ret, err);
out:
	source_unref(s);
	return r;
}

static int open_package(struct export *e, struct pkg *p, size_t ovf_idx,
			const struct export_opts *o, struct err *err)
{
	CLEANUP_FREE char *text = NULL;
	struct vm_package *pk = NULL;
	char **used = NULL;
	size_t len, n_used = 0;
	int r;

	r = read_member(p, ovf_idx, OVF_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return r;
	r = ovf_parse(text, len, text_show(pkg_member_name(p, ovf_idx)).s, &pk, err);
	if (r < 0)
		return r;
	/* Every File must be there (or, chunked, its first chunk), used or not. */
	for (size_t i = 0; i < pk->n_files; i++) {
		const struct vm_file *f = &pk->files[i];
		CLEANUP_FREE char *first = NULL;

		if (!href_ok(f->href)) {
			r = err_set(err, EPERM, "%s: References File %s: href \"%s\" is not a plain "
				    "member name; refused", e->name, f->id, f->href);
			goto out;
		}
		if (f->chunk_size && asprintf(&first, "%s.000000000", f->href) < 0) {
			r = err_set(err, ENOMEM, "%s: out of memory", e->name);
			goto out;
		}
		if (!pkg_has(p, first ? first : f->href)) {
			r = err_set(err, ENOENT, "%s: References File %s (%s) is not in the package",
				    e->name, f->id, first ? first : f->href);
			goto out;
		}
	}
	r = check_manifest(p, pk, o, err);
	if (r < 0)
		goto out;
	if (pk->n_vms == 0) {
		r = err_set(err, EINVAL, "%s: the OVF describes no VirtualSystem", e->name);
		goto out;
	}
	used = calloc(pk->n_vms, sizeof(*used));
	if (!used) {
		r = err_set(err, ENOMEM, "%s: out of memory", e->name);
		goto out;
	}
	for (size_t v = 0; v < pk->n_vms; v++) {
		const struct vm *vm = pk->vms[v];
		CLEANUP_FREE char *prefix = NULL;
		unsigned k = 0;

		if (pk->n_vms > 1) {
			used[n_used] = vm_dir_name(vm, v, used, n_used);
			if (!used[n_used] || asprintf(&prefix, "%s/", used[n_used]) < 0) {
				r = err_set(err, ENOMEM, "%s: out of memory", e->name);
				goto out;
			}
			n_used++;
		}
		char **qcow2 = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*qcow2));

		if (!qcow2) {
			r = err_set(err, ENOMEM, "%s: out of memory", e->name);
			goto out;
		}
		for (size_t i = 0; i < vm->n_disks; i++) {
			struct disk *d = NULL;

			if (!vm->disks[i].file && vm->disks[i].capacity == 0)
				continue;
			r = open_vm_disk(e, p, pk, &vm->disks[i], o, &d, err);
			if (r < 0)
				break;
			r = add_disk_views(e, prefix ? prefix : "", ++k, d, &qcow2[i], err);
			disk_unref(d);
			if (r < 0)
				break;
		}
		if (r == 0)
			r = add_domain(e, vm, prefix ? prefix : "", qcow2, NULL, o, err);
		for (size_t i = 0; i < vm->n_disks; i++)
			free(qcow2[i]);
		free(qcow2);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < pkg_count(p); i++) {
		CLEANUP_FREE char *path = NULL;
		struct source *s = NULL;
		struct view *v = NULL;

		if (asprintf(&path, "source/%s", pkg_member_name(p, i)) < 0) {
			r = err_set(err, ENOMEM, "%s: out of memory", e->name);
			goto out;
		}
		r = pkg_open_index(p, i, &s, err);
		if (r == 0)
			r = view_member_new(s, path, &v, err);
		if (r == 0)
			r = export_add_file(e, path, v, err);
		view_unref(v);
		source_unref(s);
		if (r < 0)
			goto out;
	}
	e->package = pk;
	pk = NULL;
out:
	for (size_t i = 0; i < n_used; i++)
		free(used[i]);
	free(used);
	vm_package_free(pk);
	return r;
}

/* ---- a VMware VM: a .vmx and the disks it names ---- */

/* The file a .vmx fileName names, opened beside the .vmx.  Datastore paths
 * ("/vmfs/volumes/ds/vm/x.vmdk") are looked up by their last component in the VM's
 * directory, where a copied VM keeps them; ".." is refused as for extents. */
static int vmx_disk_path(const char *dir, const char *file, const char *vmx, char **ret,
			 struct err *err)
{
	const char *name = file;

	if (file[0] == '/')
		name = strrchr(file, '/') + 1;
	else if (path_escapes(file))
		return err_set(err, EPERM,
			       "%s: disk file \"%s\" leaves the VM's directory; "
			       "refused",
			       vmx, text_show(file).s);
	if (!name[0])
		return err_set(err, EINVAL, "%s: disk file \"%s\" names no file", vmx,
			       text_show(file).s);
	if (asprintf(ret, "%s%s", dir, name) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", vmx);
	return 0;
}

/* Read the small text file path (a .vmx or .vmsd) whole. */
static int read_text(const char *path, char **ret, size_t *ret_len, struct err *err)
{
	struct source *src = NULL;
	int r;

	r = source_file_open(path, NULL, &src, err);
	if (r < 0)
		return r;
	if (src->size > VMX_MAX_BYTES)
		r = err_set(err, EFBIG, "%s: %" PRIu64 " bytes, over the cap of %u for this file",
			    path, src->size, VMX_MAX_BYTES);
	else
		r = source_read_all(src, VMX_MAX_BYTES, ret, ret_len, err);
	source_unref(src);
	return r;
}

/* One state of a VM (the current one, or a snapshot's when snapshot is its display
 * name): its disks, opened beside the .vmx, as views under prefix, and prefix/domain.xml. */
static int add_vm_state(struct export *e, const struct vm *vm, const char *vmx, const char *dir,
			const char *prefix, const char *snapshot, const struct vmdk_opts *vo,
			const struct export_opts *o, struct err *err)
{
	char **qcow2 = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*qcow2));
	unsigned k = 0;
	int r = 0;

	if (!qcow2)
		return err_set(err, ENOMEM, "%s: out of memory", vmx);
	for (size_t i = 0; i < vm->n_disks && r == 0; i++) {
		CLEANUP_FREE char *disk_path = NULL;
		struct err why = { 0 };
		struct disk *d = NULL;

		r = vmx_disk_path(dir, vm->disks[i].file, vmx, &disk_path, &why);
		if (r == 0)
			r = vmdk_open_path(disk_path, vo, &d, &why);
		/* Say which snapshot a broken disk belongs to: its chain is not the VM's. */
		if (r < 0 && snapshot)
			err_set(err, -r, "%s: snapshot \"%s\": %s", vmx, snapshot, why.msg);
		else if (r < 0)
			err_set(err, -r, "%s", why.msg);
		if (r == 0)
			r = add_disk_views(e, prefix, ++k, d, &qcow2[i], err);
		disk_unref(d);
	}
	if (r == 0)
		r = add_domain(e, vm, prefix, qcow2, snapshot, o, err);
	for (size_t i = 0; i < vm->n_disks; i++)
		free(qcow2[i]);
	free(qcow2);
	return r;
}

static const char *bus_prefix(enum vm_bus b)
{
	switch (b) {
	case VM_BUS_SCSI: return "scsi";
	case VM_BUS_SATA: return "sata";
	case VM_BUS_IDE: return "ide";
	case VM_BUS_NVME: return "nvme";
	default: return NULL;
	}
}

/* Whether the .vmx says disk i is independent: a snapshot does not capture it, and going
 * back to the snapshot keeps what it holds now. */
static bool disk_independent(const struct vm *vm, size_t i)
{
	const struct vm_disk *vd = &vm->disks[i];
	const struct vm_controller *c;
	const char *mode, *bus;
	char key[64];

	if (vd->controller < 0 || (size_t)vd->controller >= vm->n_controllers)
		return false;
	c = &vm->controllers[vd->controller];
	bus = bus_prefix(c->bus);
	if (!bus)
		return false;
	snprintf(key, sizeof(key), "%s%u:%d.mode", bus, c->index, vd->unit);
	mode = vmx_value(vm, key);
	return mode && strncasecmp(mode, "independent", 11) == 0;
}

/* The VM as it was at snapshot s: the .vmx's model, its disks replaced node by node by
 * the snapshot's.  A disk of the .vmx the snapshot does not list was added after it (or
 * is independent, and kept); a disk only the snapshot lists was removed since, and comes
 * back on its controller (added, of unknown model, when that is gone too).  *ret shares
 * every string with vm and s: free it with snapshot_vm_free. */
static int snapshot_vm(const struct vm *vm, const struct vmsd_snapshot *s, struct vm *ret)
{
	bool *used = calloc(s->n_disks ? s->n_disks : 1, sizeof(*used));
	size_t max_disks = vm->n_disks + s->n_disks;

	*ret = *vm;
	ret->disks = calloc(max_disks ? max_disks : 1, sizeof(*ret->disks));
	ret->controllers = calloc(vm->n_controllers + s->n_disks + 1, sizeof(*ret->controllers));
	ret->n_disks = 0;
	if (!used || !ret->disks || !ret->controllers) {
		free(used);
		return -ENOMEM;
	}
	memcpy(ret->controllers, vm->controllers, vm->n_controllers * sizeof(*vm->controllers));
	for (size_t i = 0; i < vm->n_disks; i++) {
		const struct vm_disk *vd = &vm->disks[i];
		const struct vm_controller *c =
			vd->controller >= 0 ? &vm->controllers[vd->controller] : NULL;
		size_t m;

		for (m = 0; c && m < s->n_disks; m++)
			if (!used[m] && s->disks[m].bus == c->bus && s->disks[m].ctl == c->index &&
			    (int)s->disks[m].unit == vd->unit)
				break;
		if (c && m < s->n_disks) {
			used[m] = true;
			ret->disks[ret->n_disks] = *vd;
			ret->disks[ret->n_disks++].file = s->disks[m].file;
		} else if (disk_independent(vm, i)) {
			ret->disks[ret->n_disks++] = *vd;
		}
	}
	for (size_t m = 0; m < s->n_disks; m++) {
		struct vm_disk *vd;
		size_t c;

		if (used[m])
			continue;
		for (c = 0; c < ret->n_controllers; c++)
			if (ret->controllers[c].bus == s->disks[m].bus &&
			    ret->controllers[c].index == s->disks[m].ctl)
				break;
		if (c == ret->n_controllers) {
			ret->controllers[c] = (struct vm_controller){ .bus = s->disks[m].bus,
								      .index = s->disks[m].ctl };
			ret->n_controllers++;
		}
		vd = &ret->disks[ret->n_disks++];
		*vd = (struct vm_disk){ .file = s->disks[m].file, .controller = (int)c,
					.unit = (int)s->disks[m].unit };
	}
	free(used);
	return 0;
}

static void snapshot_vm_free(struct vm *v)
{
	free(v->disks);
	free(v->controllers);
}

/* The .vmsd beside the .vmx (same name, .vmsd): each snapshot it lists as
 * snapshots/NAME/ with its disks and domain.xml.  No .vmsd, no snapshots. */
static int add_snapshots(struct export *e, const char *vmx, const char *dir, const struct vm *vm,
			 const struct vmdk_opts *vo, const struct export_opts *o, struct err *err)
{
	CLEANUP_FREE char *path = NULL, *text = NULL;
	size_t n = strlen(vmx), len;
	struct vmsd *v = NULL;
	struct err why = { 0 };
	int r;

	if (ends_with(vmx, ".vmx"))
		n -= 4;
	if (asprintf(&path, "%.*s.vmsd", (int)n, vmx) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", vmx);
	r = read_text(path, &text, &len, &why);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return err_set(err, -r, "%s", why.msg);
	r = vmsd_parse(text, len, path, &v, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < v->n && r == 0; i++) {
		const struct vmsd_snapshot *s = &v->snaps[i];
		CLEANUP_FREE char *prefix = NULL;
		struct vm snap;

		if (asprintf(&prefix, "snapshots/%s/", s->dir) < 0) {
			r = err_set(err, ENOMEM, "%s: out of memory", vmx);
			break;
		}
		r = snapshot_vm(vm, s, &snap);
		if (r == 0)
			r = add_vm_state(e, &snap, vmx, dir, prefix, s->name ? s->name : s->dir, vo,
					 o, err);
		else
			r = err_set(err, ENOMEM, "%s: out of memory", vmx);
		snapshot_vm_free(&snap);
	}
	vmsd_free(v);
	return r;
}

int package_open_vmx(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err)
{
	struct vmdk_opts vo = { .ignore_cid = o->ignore_cid };
	CLEANUP_FREE char *text = NULL, *dir = NULL;
	const char *slash = strrchr(path, '/');
	struct vm *vm = NULL;
	size_t len;
	int r;

	dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup("");
	if (!dir)
		return err_set(err, ENOMEM, "%s: out of memory", path);
	r = read_text(path, &text, &len, err);
	if (r < 0)
		return r;
	r = vmx_parse(text, len, path, &vm, err);
	if (r < 0)
		return r;
	/* The current state and the snapshots are chains over mostly the same files. */
	r = vmdk_levels_new(&vo.levels);
	if (r < 0)
		r = err_set(err, ENOMEM, "%s: out of memory", path);
	if (r == 0)
		r = add_vm_state(e, vm, path, dir, "", NULL, &vo, o, err);
	if (r == 0)
		r = add_snapshots(e, path, dir, vm, &vo, o, err);
	vmdk_levels_free(vo.levels);
	vm_free(vm);
	return r;
}

static bool looks_like_vmx(const void *head, size_t len)
{
	return !memchr(head, '\0', len) &&
	       (memmem(head, len, "config.version", 14) || memmem(head, len, "virtualHW.version", 17));
}

int package_probe_vmx(const void *head, size_t len, const char *path, bool is_dir)
{
	if (is_dir)
		return 0;
	if (ends_with(path, ".vmx"))
		return looks_like_vmx(head, len) ? 90 : 60;
	return looks_like_vmx(head, len) ? 40 : 0;
}

/* ---- .ova ---- */

int package_probe_ova(const void *head, size_t len, const char *path, bool is_dir)
{
	if (is_dir)
		return 0;
	/* POSIX tar: "ustar" at 257 (GNU writes "ustar  ", POSIX "ustar\0"). */
	if (len >= 262 && memcmp((const char *)head + 257, "ustar", 5) == 0)
		return 95;
	return ends_with(path, ".ova") ? 20 : 0;
}

int package_open_ova(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err)
{
	struct pkg p = { .name = e->name, .dirfd = -1 };
	size_t ovf;
	int r;

	r = source_file_open(path, NULL, &p.ova, err);
	if (r < 0)
		return r;
	r = tar_index_open(p.ova, &p.tar, err);
	if (r < 0)
		goto out;
	r = find_one(&p, ".ovf", &ovf, err);
	if (r == -ENOENT)
		r = err_set(err, EINVAL, "%s: the archive holds no .ovf descriptor", path);
	if (r < 0)
		goto out;
	r = open_package(e, &p, ovf, o, err);
out:
	pkg_close(&p);
	return r;
}

/* ---- a directory, or an .ovf in one ---- */

static int list_dir(struct pkg *p, struct err *err)
{
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	fd = dup(p->dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_set(err, errno, "%s: cannot list: %s", p->name, strerror(errno));
	}
	while ((de = readdir(d))) {
		struct stat st;
		char **nm;

		if (de->d_name[0] == '.' ||
		    fstatat(p->dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (p->n_members == MAX_DIR_MEMBERS) {
			r = err_set(err, EFBIG, "%s: more than %u files", p->name, MAX_DIR_MEMBERS);
			break;
		}
		nm = realloc(p->members, (p->n_members + 1) * sizeof(*nm));
		if (!nm || !(nm[p->n_members] = strdup(de->d_name))) {
			if (nm)
				p->members = nm;
			r = err_set(err, ENOMEM, "%s: out of memory", p->name);
			break;
		}
		p->members = nm;
		p->n_members++;
	}
	closedir(d);
	if (r == 0 && p->n_members)
		qsort(p->members, p->n_members, sizeof(*p->members), name_cmp);
	return r;
}

static int open_dir_package(struct export *e, const char *dir, const char *ovf_name,
			    const struct export_opts *o, struct err *err)
{
	struct pkg p = { .name = e->name, .dirfd = -1 };
	size_t ovf = 0;
	int r;

	if (asprintf(&p.dir, "%s/", dir) < 0)
		return err_set(err, ENOMEM, "%s: out of memory", e->name);
	p.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p.dirfd < 0) {
		r = err_set(err, errno, "%s: cannot open: %s", dir, strerror(errno));
		goto out;
	}
	r = list_dir(&p, err);
	if (r < 0)
		goto out;
	if (ovf_name) {
		for (ovf = 0; ovf < p.n_members; ovf++)
			if (strcmp(p.members[ovf], ovf_name) == 0)
				break;
		if (ovf == p.n_members) {
			r = err_set(err, ENOENT, "%s: not a regular file", e->name);
			goto out;
		}
	} else {
		r = find_one(&p, ".ovf", &ovf, err);
		if (r == -ENOENT) {
			/* No envelope: a VMware VM directory, if it holds one .vmx. */
			CLEANUP_FREE char *vmx = NULL;
			size_t i;

			r = find_one(&p, ".vmx", &i, err);
			if (r == -ENOENT)
				r = err_set(err, EINVAL, "%s: a directory with no .ovf and no .vmx "
					    "in it", e->name);
			if (r < 0)
				goto out;
			if (asprintf(&vmx, "%s%s", p.dir, p.members[i]) < 0) {
				r = err_set(err, ENOMEM, "%s: out of memory", e->name);
				goto out;
			}
			r = package_open_vmx(e, vmx, o, err);
			goto out;
		}
		if (r < 0)
			goto out;
	}
	r = open_package(e, &p, ovf, o, err);
out:
	pkg_close(&p);
	return r;
}

static bool looks_like_ovf(const void *head, size_t len)
{
	return memmem(head, len, "<Envelope", 9) || memmem(head, len, ":Envelope", 9);
}

int package_probe_ovf(const void *head, size_t len, const char *path, bool is_dir)
{
	if (is_dir)
		return 0;
	if (ends_with(path, ".ovf"))
		return looks_like_ovf(head, len) ? 90 : 60;
	return looks_like_ovf(head, len) ? 50 : 0;
}

int package_open_ovf(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err)
{
	const char *slash = strrchr(path, '/');
	CLEANUP_FREE char *dir = NULL;
	int r;

	if (!slash)
		return open_dir_package(e, ".", path, o, err);
	dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return err_set(err, ENOMEM, "%s: out of memory", path);
	r = open_dir_package(e, dir, slash + 1, o, err);
	return r;
}

int package_probe_dir(const void *head, size_t len, const char *path, bool is_dir)
{
	(void)head;
	(void)len;
	(void)path;
	return is_dir ? 50 : 0;
}

int package_open_dir(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err)
{
	return open_dir_package(e, path, NULL, o, err);
}
