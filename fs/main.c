/* SPDX-License-Identifier: MIT */
/*
 * vmfs-mount: open the export, build the tree, mount, run the multi-threaded FUSE loop,
 * unmount.  Everything that can fail because of the input fails here, before the mount
 * exists: the user sees one line and exit status 1, and nothing is left mounted.  This
 * file is the only place that prints a mount-time error.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "../formats/common/inflate.h"
#include "../formats/common/log.h"
#include "../formats/vm/export.h"
#include "ops.h"
#include "opts.h"

/* Refuse a mount point that is not an empty directory or is already mounted on: mounting
 * over it would hide its files, and stacking mounts is almost always a mistake. */
static int check_mountpoint(const char *mnt)
{
	struct stat st, pst;
	char *parent;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (stat(mnt, &st) < 0) {
		fprintf(stderr, "vmfs-mount: mount point %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vmfs-mount: mount point %s: not a directory\n", mnt);
		return -1;
	}
	if (asprintf(&parent, "%s/..", mnt) < 0)
		return -1;
	if (stat(parent, &pst) == 0 && (pst.st_dev != st.st_dev || pst.st_ino == st.st_ino) &&
	    strcmp(mnt, "/") != 0) {
		fprintf(stderr, "vmfs-mount: mount point %s: already a mount point\n", mnt);
		r = -1;
	}
	free(parent);
	if (r < 0)
		return r;
	d = opendir(mnt);
	if (!d) {
		fprintf(stderr, "vmfs-mount: mount point %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			fprintf(stderr, "vmfs-mount: mount point %s: not empty\n", mnt);
			r = -1;
			break;
		}
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct vmfs_opts o = { .readahead_kb = OPTS_DEFAULT_READAHEAD_KB };
	struct fuse_cmdline_opts cl = { 0 };
	struct export_opts eo = { 0 };
	struct export *exp = NULL;
	struct fs_state fs = { 0 };
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	struct err err = { 0 };
	struct stat st;
	char *fsname = NULL, *mnt_abs = NULL;
	int ret = 1;

	if (opts_parse(&args, &o) < 0)
		goto out_args;
	if (o.show_version) {
		printf("vmfs-mount %s (libfuse %s, inflate: %s)\n", VMFS_VERSION,
		       fuse_pkgversion(), inflate_impl());
		ret = 0;
		goto out_args;
	}
	if (o.show_help) {
		opts_usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (!o.source || !o.mountpoint) {
		fprintf(stderr, "vmfs-mount: need SOURCE and MOUNTPOINT (see --help)\n");
		goto out_args;
	}
	if (check_mountpoint(o.mountpoint) < 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &cl) != 0)
		goto out_args;
	log_set_debug(cl.debug);

	eo.cache_size = o.cache_size;
	eo.ignore_cid = o.ignore_cid;
	eo.verify = o.verify;
	eo.network = o.network;
	eo.bridge = o.bridge;
	eo.virtio = o.virtio;
	/* domain.xml names the disks by absolute path under the mount point. */
	mnt_abs = realpath(o.mountpoint, NULL);
	if (!mnt_abs) {
		fprintf(stderr, "vmfs-mount: mount point %s: %s\n", o.mountpoint, strerror(errno));
		goto out_cl;
	}
	eo.mountpoint = mnt_abs;
	if (export_open(o.source, &eo, &exp, &err) < 0) {
		fprintf(stderr, "vmfs-mount: %s\n", err.msg);
		goto out_cl;
	}
	if (tree_init(&fs.tree) < 0)
		goto out_oom;
	for (size_t i = 0; i < exp->n_files; i++) {
		int r = tree_add_file(&fs.tree, exp->files[i].path, exp->files[i].view);

		if (r < 0) {
			fprintf(stderr, "vmfs-mount: %s: cannot place %s in the tree: %s\n",
				o.source, exp->files[i].path, strerror(-r));
			goto out_tree;
		}
	}
	/* The tree holds its own references; the export's go now, so unmount frees all. */
	export_free(exp);
	exp = NULL;
	fs.uid = getuid();
	fs.gid = getgid();
	if (stat(o.source, &st) == 0)
		fs.mtime = st.st_mtim;
	fs.max_readahead = (unsigned)o.readahead_kb * 1024u;
	fs.readahead_kb = (unsigned)o.readahead_kb;
	fs.mountpoint = mnt_abs;
	fs.zero_fd = -1;

	/* Always read-only, whatever the user passed. */
	if (asprintf(&fsname, "-ofsname=vmfs-mount:%s,subtype=vmfs-mount,ro,default_permissions",
		     o.source) < 0 ||
	    fuse_opt_add_arg(&args, fsname) < 0)
		goto out_oom;
	se = fuse_session_new(&args, &vmfs_ops, sizeof(vmfs_ops), &fs);
	if (!se)
		goto out_tree;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cl.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cl.foreground) != 0)
		goto out_unmount;
	if (cl.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(lc, cl.clone_fd);
		fuse_loop_cfg_set_max_threads(lc, cl.max_threads);
		/* libfuse leaves UINT_MAX for "not given" and complains if handed it back. */
		if (cl.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, cl.max_idle_threads);
		ret = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* A signal ends the loop with its number; that is a clean unmount, not an error. */
	ret = ret < 0 ? 1 : 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_tree:
	tree_free(&fs.tree);
	export_free(exp);
out_cl:
	free(cl.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	free(o.source);
	free(o.mountpoint);
	free(o.network);
	free(o.bridge);
	free(mnt_abs);
	free(o.cache_size_str);
	free(fsname);
	return ret;
out_oom:
	fprintf(stderr, "vmfs-mount: out of memory\n");
	goto out_tree;
}
