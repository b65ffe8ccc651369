/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level operations over the static tree.  The tree never changes after mount,
 * so no operation takes a lock; views are thread-safe.  The files are immutable, so
 * entries and attributes get long timeouts and open keeps the kernel page cache.
 *
 * Reads: when the view says the whole range sits raw in a file (flat extents, source/
 * members), the reply is an fd-backed buffer the kernel can splice; otherwise the view
 * fills a per-thread buffer that lives as long as the worker thread.
 */
#include "ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATTR_TIMEOUT 86400.0

static struct fs_state *state(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_stat(const struct fs_state *fs, uint64_t ino, const struct tree_node *n,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mtime;
	st->st_blksize = 65536;
	if (n->is_dir) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		for (uint64_t c = n->first_child; c; c = fs->tree.nodes[c - 1].next_sibling)
			if (fs->tree.nodes[c - 1].is_dir)
				st->st_nlink++;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->view->size;
		st->st_blocks = (blkcnt_t)((n->view->size + 511) / 512);
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_state *fs = userdata;

	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* The files never change: let the kernel keep their pages across opens. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (fs->max_readahead)
		conn->max_readahead = fs->max_readahead;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_state *fs = state(req);
	uint64_t ino = tree_lookup(&fs->tree, parent, name);
	struct fuse_entry_param e;

	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ATTR_TIMEOUT;
	fill_stat(fs, ino, tree_get(&fs->tree, ino), &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_state *fs = state(req);
	struct tree_node *n = tree_get(&fs->tree, ino);
	struct stat st;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(fs, ino, n, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs_state *fs = state(req);
	struct tree_node *n = tree_get(&fs->tree, ino);
	char *buf, *p;
	size_t left = size;
	uint64_t c;
	off_t i = 0;

	(void)fi;
	if (!n || !n->is_dir) {
		fuse_reply_err(req, n ? ENOTDIR : ENOENT);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	c = n->first_child;
	for (;; i++) {
		const char *name;
		struct stat st = { 0 };
		uint64_t e_ino;
		size_t need;

		if (i == 0) {
			name = ".";
			e_ino = ino;
		} else if (i == 1) {
			name = "..";
			e_ino = n->parent;
		} else {
			if (!c)
				break;
			name = fs->tree.nodes[c - 1].name;
			e_ino = c;
			c = fs->tree.nodes[c - 1].next_sibling;
		}
		if (i < off)
			continue;
		st.st_ino = e_ino;
		st.st_mode = tree_get(&fs->tree, e_ino)->is_dir ? S_IFDIR : S_IFREG;
		need = fuse_add_direntry(req, p, left, name, &st, i + 1);
		if (need > left)
			break;
		p += need;
		left -= need;
	}
	fuse_reply_buf(req, buf, size - left);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree_node *n = tree_get(&state(req)->tree, ino);

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->is_dir) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

struct thread_buf {
	size_t cap;
	char data[];
};

static void buf_key_init(void)
{
	(void)pthread_key_create(&buf_key, free);
}

/* A buffer of at least len bytes owned by the calling worker thread. */
static char *thread_buf(size_t len)
{
	struct thread_buf *b;

	pthread_once(&buf_once, buf_key_init);
	b = pthread_getspecific(buf_key);
	if (!b || b->cap < len) {
		struct thread_buf *nb = malloc(sizeof(*nb) + len);

		if (!nb)
			return NULL;
		nb->cap = len;
		if (pthread_setspecific(buf_key, nb) != 0) {
			free(nb);
			return NULL;
		}
		free(b);
		b = nb;
	}
	return b->data;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct tree_node *n = tree_get(&state(req)->tree, ino);
	struct view *v;
	uint64_t fd_off;
	size_t n_raw;
	ssize_t r;
	char *buf;
	int fd;

	(void)fi;
	if (!n || n->is_dir) {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	v = n->view;
	if (off < 0 || (uint64_t)off >= v->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > v->size - (uint64_t)off)
		size = (size_t)(v->size - (uint64_t)off);
	if (view_locate(v, (uint64_t)off, size, &fd, &fd_off, &n_raw) == 0 && n_raw == size) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = (off_t)fd_off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = thread_buf(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = view_read(v, buf, size, (uint64_t)off);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct tree_node *n = tree_get(&state(req)->tree, ino);
	uint64_t pos;
	int r;

	(void)fi;
	if (!n || n->is_dir) {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	r = view_seek(n->view, (uint64_t)off, whence, &pos);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_lseek(req, (off_t)pos);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_state *fs = state(req);
	struct statvfs sv;
	uint64_t blocks = 0;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	for (size_t i = 0; i < fs->tree.n_nodes; i++)
		if (fs->tree.nodes[i].view)
			blocks += (fs->tree.nodes[i].view->size + 4095) / 4096;
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = blocks;
	sv.f_files = fs->tree.n_nodes;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops vmfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.lseek = op_lseek,
	.statfs = op_statfs,
};
