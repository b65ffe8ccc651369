/* SPDX-License-Identifier: MIT */
/*
 * Export detection and opening.  Like libarchive's bidders and qemu's bdrv_probe, each
 * format gets the first bytes of the input and the path and returns a score from 0 to
 * 100; the highest score opens it.  A format's open fills the export's file list.
 */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../disk/vmdk.h"
#include "package.h"
#include "vm.h"

#define PROBE_BYTES 4096

struct export_format {
	const char *name;
	int (*probe)(const void *head, size_t len, const char *path, bool is_dir);
	int (*open)(struct export *e, const char *path, const struct export_opts *o,
		    struct err *err);
};

int export_add_file(struct export *e, const char *path, struct view *view, struct err *err)
{
	struct export_file *files;
	char *p;

	files = realloc(e->files, (e->n_files + 1) * sizeof(*files));
	if (!files)
		return err_set(err, ENOMEM, "%s: out of memory", e->name);
	e->files = files;
	p = strdup(path);
	if (!p)
		return err_set(err, ENOMEM, "%s: out of memory", e->name);
	files[e->n_files].path = p;
	files[e->n_files].view = view_ref(view);
	e->n_files++;
	return 0;
}

static int vmdk_export_probe(const void *head, size_t len, const char *path, bool is_dir)
{
	size_t n = strlen(path);

	if (is_dir)
		return 0;
	if (vmdk_probe(head, len))
		return 90;
	return n > 5 && strcasecmp(path + n - 5, ".vmdk") == 0 ? 10 : 0;
}

static int vmdk_export_open(struct export *e, const char *path, const struct export_opts *o,
			    struct err *err)
{
	struct vmdk_opts vo = { .ignore_cid = o->ignore_cid };
	struct disk *d = NULL, *cd = NULL;
	struct view *v = NULL;
	int r;

	r = vmdk_open_path(path, &vo, &d, err);
	if (r < 0)
		return r;
	r = cache_wrap(e->cache, d, &cd, err);
	if (r < 0)
		goto out;
	r = view_raw_new(cd, "disk.raw", &v, err);
	if (r < 0)
		goto out;
	r = export_add_file(e, "disk.raw", v, err);
	if (r < 0)
		goto out;
	v = view_unref(v);
	r = view_qcow2_new(cd, "disk.qcow2", &v, err);
	if (r < 0)
		goto out;
	r = export_add_file(e, "disk.qcow2", v, err);
out:
	view_unref(v);
	disk_unref(cd);
	disk_unref(d);
	return r;
}

static const struct export_format formats[] = {
	{ "vmdk", vmdk_export_probe, vmdk_export_open },
	{ "ova", package_probe_ova, package_open_ova },
	{ "ovf", package_probe_ovf, package_open_ovf },
	{ "ovf-dir", package_probe_dir, package_open_dir },
	{ "vmx", package_probe_vmx, package_open_vmx },
};

int export_open(const char *path, const struct export_opts *o, struct export **ret,
		struct err *err)
{
	const struct export_format *best = NULL;
	unsigned char head[PROBE_BYTES];
	struct export *e;
	struct stat st;
	size_t len = 0;
	int best_score = 0, r;

	if (stat(path, &st) < 0)
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		ssize_t n;

		if (fd < 0)
			return err_set(err, errno, "%s: cannot open: %s", path, strerror(errno));
		n = pread(fd, head, sizeof(head), 0);
		close(fd);
		if (n < 0)
			return err_set(err, errno, "%s: cannot read: %s", path, strerror(errno));
		len = (size_t)n;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		int score = formats[i].probe(head, len, path, S_ISDIR(st.st_mode));

		if (score > best_score) {
			best_score = score;
			best = &formats[i];
		}
	}
	if (!best)
		return err_set(err, EINVAL,
			       "%s: not a VMware export this version reads (expected an .ova, an .ovf, "
			       "a .vmx, a directory holding one, or a .vmdk)",
			       path);
	e = calloc(1, sizeof(*e));
	if (!e)
		return err_set(err, ENOMEM, "%s: out of memory", path);
	e->name = strdup(path);
	e->format = best->name;
	if (!e->name) {
		export_free(e);
		return err_set(err, ENOMEM, "%s: out of memory", path);
	}
	r = cache_new(o->cache_size ? o->cache_size : EXPORT_DEFAULT_CACHE_SIZE, &e->cache, err);
	if (r == 0)
		r = best->open(e, path, o, err);
	if (r < 0) {
		export_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void export_free(struct export *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_files; i++) {
		free(e->files[i].path);
		view_unref(e->files[i].view);
	}
	free(e->files);
	cache_unref(e->cache);
	vm_package_free(e->package);
	free(e->name);
	free(e);
}
