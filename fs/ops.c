/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level operations over the static tree.  The tree never changes after mount,
 * so no operation takes a lock; views are thread-safe.  The files are immutable, so
 * entries and attributes get long timeouts and open keeps the kernel page cache.
 *
 * Reads: a request (up to 1 MiB: libfuse asks for 256-page requests) is cut into the
 * view's pieces: bytes that sit unchanged in a file (flat extents, raw grains, source/
 * members), zeros (holes), and bytes to compute (inflated grains, qcow2 metadata).  The
 * computed ones are read into a per-thread buffer that lives as long as the worker
 * thread; the others go out as fd-backed buffers the kernel splices from the file's page
 * cache, or, for zeros, from a memfd that is all hole, so neither is copied in user space.
 * One reply carries all.  libfuse copies the whole reply into a fresh buffer when its
 * pipe cannot hold it, and a pipe over /proc/sys/fs/pipe-max-size (1 MiB) needs
 * CAP_SYS_RESOURCE: without it requests are kept a few pages under 1 MiB, and a reply
 * that still would not fit is filled in memory instead.
 *
 * st_blocks counts the data bytes (holes excluded): cp only looks for holes with
 * SEEK_DATA when a file has fewer blocks than its size needs.  The kernel's readahead
 * window for the mount is 128 KiB whatever FUSE_INIT says (it can only lower it), so the
 * first open raises it through the mount's bdi in sysfs (-o readahead_kb): sequential
 * readers then keep several 1 MiB requests in flight, and the worker threads inflate
 * them on every core.
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/common/log.h"

#define ATTR_TIMEOUT 86400.0
/* Pieces of one read reply: a 1 MiB request over raw grains that are not contiguous in
 * the file, or over qcow2 clusters, has at most 16 of 64 KiB; past this the rest is
 * copied. */
#define READ_SEGS 32
/* The largest request the kernel sends (FUSE_MAX_PAGES, 256 pages). */
#define READ_MAX (1u << 20)
/* Pieces a request of the largest size may have and still be spliced through a pipe of
 * 1 MiB: most have one or two (data, then a hole). */
#define READ_SPLICE_PIECES 4
/* sizeof(struct fuse_out_header), which libfuse does not export. */
#define FUSE_OUT_HEADER 16
/* Preferred I/O size: cat and cp read in st_blksize chunks. */
#define BLKSIZE (1u << 20)

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
	st->st_blksize = BLKSIZE;
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
		st->st_blocks = (blkcnt_t)((view_data_bytes(n->view) + 511) / 512);
	}
}

/* Bytes libfuse wants in its pipe to splice a reply of size bytes in n pieces: a page
 * for the header, a page per piece and one more, and the data. */
static size_t splice_need(size_t size, unsigned n)
{
	return (size_t)sysconf(_SC_PAGESIZE) * (n + 2) + FUSE_OUT_HEADER + size;
}

static bool splice_fits(const struct fs_state *fs, size_t size, unsigned n)
{
	return splice_need(size, n) <= fs->pipe_max;
}

/*
 * How large libfuse's pipe can grow: a pipe over /proc/sys/fs/pipe-max-size (1 MiB)
 * needs CAP_SYS_RESOURCE, and when libfuse cannot grow its pipe for a reply it copies
 * the whole reply into a fresh buffer instead, which is worse than not splicing.
 */
static size_t probe_pipe_max(void)
{
	int p[2], max = 0;
	FILE *f;
	bool big;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	big = fcntl(p[0], F_SETPIPE_SZ, (int)splice_need(READ_MAX, READ_SEGS)) >= 0;
	close(p[0]);
	close(p[1]);
	if (big)
		return SIZE_MAX;
	f = fopen("/proc/sys/fs/pipe-max-size", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &max) != 1)
		max = 0;
	fclose(f);
	return max > 0 ? (size_t)max : 0;
}

/*
 * A file of READ_MAX zeros that holes are spliced from: a memfd that is all hole, whose
 * pages are the kernel's zero page. Sealed, and kept open read-only, so that the daemon
 * holds nothing writable but /dev/fuse. -1 when the kernel has no memfd.
 */
static int zeros_open(void)
{
	int fd = memfd_create("vmfs-mount-zeros", MFD_CLOEXEC | MFD_ALLOW_SEALING), ro = -1;
	char path[64];

	if (fd < 0)
		return -1;
	if (ftruncate(fd, READ_MAX) == 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(fd);
	return ro;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_state *fs = userdata;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (conn->capable & FUSE_CAP_SPLICE_WRITE) {
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
		fs->splice = true;
		fs->pipe_max = probe_pipe_max();
		/* Requests a little under 1 MiB, so that a full one of a few pieces still
		 * fits the pipe: max_write sets the kernel's max_pages. */
		if (fs->pipe_max < splice_need(READ_MAX, READ_SPLICE_PIECES) &&
		    fs->pipe_max > splice_need(0, READ_SPLICE_PIECES) + page)
			conn->max_write = (unsigned)((fs->pipe_max -
						      splice_need(0, READ_SPLICE_PIECES)) /
						     page * page);
	}
	/* The files never change: let the kernel keep their pages across opens. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (fs->max_readahead)
		conn->max_readahead = fs->max_readahead;
	fs->zero_fd = zeros_open();
	log_debug("splice: %s, pipe up to %zu bytes, requests up to %u bytes",
		  fs->splice ? "yes" : "no", fs->pipe_max, conn->max_write);
}

static void op_destroy(void *userdata)
{
	struct fs_state *fs = userdata;

	if (fs->zero_fd >= 0)
		close(fs->zero_fd);
	fs->zero_fd = -1;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape_mountinfo(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Set the mount's readahead window: find its device in /proc/self/mountinfo (asking the
 * mount itself would send a request to this very daemon) and write the bdi's
 * read_ahead_kb.  Needs root; without it the kernel's 128 KiB stays, which only costs
 * speed.  The last matching line is ours: a mount point that was already mounted on is
 * refused before mounting.
 */
static void set_readahead(const struct fs_state *fs)
{
	char line[4096], dev[32] = "", path[96];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mdev[32], mnt[2048], *dash = strstr(line, " - ");
		char fstype[64];

		if (!dash || sscanf(line, "%*s %*s %31s %*s %2047s", mdev, mnt) != 2 ||
		    sscanf(dash, " - %63s", fstype) != 1)
			continue;
		unescape_mountinfo(mnt);
		if (strcmp(mnt, fs->mountpoint) == 0 && strncmp(fstype, "fuse", 4) == 0)
			memcpy(dev, mdev, sizeof(dev));
	}
	fclose(f);
	if (!dev[0]) {
		log_debug("readahead: %s not found in /proc/self/mountinfo", fs->mountpoint);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%u\n", fs->readahead_kb) < 0)
		log_debug("readahead: %s: %s", path, strerror(errno));
	else
		log_debug("readahead: %s = %u", path, fs->readahead_kb);
	if (fd >= 0)
		close(fd);
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
	struct fs_state *fs = state(req);
	struct tree_node *n = tree_get(&fs->tree, ino);

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
	/* The kernel copies the bdi's window into the file when open returns: set it on the
	 * first open, so even that file reads ahead that far. */
	if (fs->mountpoint && fs->readahead_kb && !atomic_exchange(&fs->readahead_set, true))
		set_readahead(fs);
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

/*
 * A read reply is cut into pieces (view_piece); a piece of computed bytes is read into
 * the thread's buffer at its place at once, the others are kept as where to find them,
 * to be spliced if the whole reply can be, or filled into the buffer after all.
 */
struct read_piece {
	size_t pos, len; /* in the reply */
	enum view_piece_kind kind;
	int fd;
	uint64_t fd_off;
};

/* What a worker thread keeps between reads: the reply's pieces and a data buffer. */
struct thread_buf {
	struct read_piece *pieces; /* READ_SEGS */
	struct fuse_bufvec *bv;	   /* READ_SEGS buffers */
	size_t cap;
	char data[];
};

static void thread_buf_free(void *p)
{
	struct thread_buf *b = p;

	if (b) {
		free(b->pieces);
		free(b->bv);
	}
	free(b);
}

static void buf_key_init(void)
{
	(void)pthread_key_create(&buf_key, thread_buf_free);
}

/* The calling worker thread's buffers, with room for len bytes of data. */
static struct thread_buf *thread_buf(size_t len)
{
	struct thread_buf *b;

	pthread_once(&buf_once, buf_key_init);
	b = pthread_getspecific(buf_key);
	if (!b || b->cap < len) {
		struct thread_buf *nb = malloc(sizeof(*nb) + len);

		if (!nb)
			return NULL;
		nb->cap = len;
		nb->pieces = malloc(READ_SEGS * sizeof(*nb->pieces));
		nb->bv = malloc(sizeof(*nb->bv) + (READ_SEGS - 1) * sizeof(nb->bv->buf[0]));
		if (!nb->pieces || !nb->bv || pthread_setspecific(buf_key, nb) != 0) {
			thread_buf_free(nb);
			return NULL;
		}
		thread_buf_free(b);
		b = nb;
	}
	return b;
}

/* Read len bytes at off of fd (a file under a view) into buf. 0 or -errno. */
static int pread_full(int fd, char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Cut [off, off + size) of v into pieces, reading the computed ones into t->data.
 * Returns the number of pieces, or -errno. */
static int read_pieces(struct view *v, struct thread_buf *t, size_t size, uint64_t off)
{
	struct read_piece *p = t->pieces;
	size_t pos = 0;
	int n = 0;

	while (pos < size) {
		struct view_piece vp = { .fd = -1 };
		ssize_t r;

		/* The last piece takes whatever is left, read. */
		if (n == READ_SEGS - 1 || view_piece(v, off + pos, size - pos, &vp) < 0)
			vp = (struct view_piece){ .len = size - pos, .kind = VIEW_PIECE_READ };
		if (vp.kind == VIEW_PIECE_READ) {
			r = view_read(v, t->data + pos, vp.len, off + pos);
			if (r < 0)
				return (int)r;
			if ((size_t)r != vp.len)
				return -EIO; /* short inside the view: a bug, not the end */
		}
		/* Neighbours of one kind that continue each other become one piece. */
		if (n > 0 && p[n - 1].kind == vp.kind &&
		    (vp.kind != VIEW_PIECE_FD ||
		     (p[n - 1].fd == vp.fd && p[n - 1].fd_off + p[n - 1].len == vp.fd_off))) {
			p[n - 1].len += vp.len;
		} else {
			p[n++] = (struct read_piece){ pos, vp.len, vp.kind, vp.fd, vp.fd_off };
		}
		pos += vp.len;
	}
	return n;
}

/*
 * Whether splicing the reply costs less than copying it.  Spliced, file bytes and zeros
 * are copied once (pipe to request), computed bytes twice (written into the pipe's fresh
 * pages, then to the request); copied, computed bytes once, file bytes twice (pread,
 * writev) and zeros once and a memset.  In units of half a copy: 2 file + 1 zero saved
 * against 2 computed lost.
 */
static bool splice_pays(const struct read_piece *p, int np)
{
	uint64_t saved = 0, lost = 0;

	for (int i = 0; i < np; i++) {
		if (p[i].kind == VIEW_PIECE_FD)
			saved += 2 * (uint64_t)p[i].len;
		else if (p[i].kind == VIEW_PIECE_ZERO)
			saved += p[i].len;
		else
			lost += 2 * (uint64_t)p[i].len;
	}
	return saved > lost;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_state *fs = state(req);
	struct tree_node *n = tree_get(&fs->tree, ino);
	struct thread_buf *t;
	struct read_piece *p;
	bool spliced = false;
	int np, r;

	(void)fi;
	if (!n || n->is_dir) {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	if (off < 0 || (uint64_t)off >= n->view->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > n->view->size - (uint64_t)off)
		size = (size_t)(n->view->size - (uint64_t)off);
	t = thread_buf(size);
	if (!t) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	np = read_pieces(n->view, t, size, (uint64_t)off);
	if (np < 0) {
		fuse_reply_err(req, -np);
		return;
	}
	p = t->pieces;
	if (fs->splice && splice_fits(fs, size, (unsigned)np) && splice_pays(p, np)) {
		struct fuse_bufvec *bv = t->bv;

		*bv = (struct fuse_bufvec){ .count = (size_t)np };
		for (int i = 0; i < np; i++) {
			struct fuse_buf *b = &bv->buf[i];

			*b = (struct fuse_buf){ .size = p[i].len };
			if (p[i].kind == VIEW_PIECE_READ) {
				b->mem = t->data + p[i].pos;
				continue;
			}
			if (p[i].kind == VIEW_PIECE_ZERO &&
			    (fs->zero_fd < 0 || p[i].len > READ_MAX)) {
				b->mem = t->data + p[i].pos;
				memset(b->mem, 0, p[i].len);
				continue;
			}
			b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			b->fd = p[i].kind == VIEW_PIECE_FD ? p[i].fd : fs->zero_fd;
			b->pos = p[i].kind == VIEW_PIECE_FD ? (off_t)p[i].fd_off : 0;
			spliced = true;
		}
		if (spliced) {
			fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
			return;
		}
	}
	for (int i = 0; i < np; i++) {
		if (p[i].kind == VIEW_PIECE_ZERO) {
			memset(t->data + p[i].pos, 0, p[i].len);
		} else if (p[i].kind == VIEW_PIECE_FD) {
			r = pread_full(p[i].fd, t->data + p[i].pos, p[i].len, p[i].fd_off);
			if (r < 0) {
				fuse_reply_err(req, -r);
				return;
			}
		}
	}
	fuse_reply_buf(req, t->data, size);
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
	.destroy = op_destroy,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.lseek = op_lseek,
	.statfs = op_statfs,
};
