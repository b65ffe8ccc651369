/* SPDX-License-Identifier: MIT */
/*
 * gzip data as a random-access source of its uncompressed bytes: see gzip.h.
 *
 * Notes on the method (the one of zlib's examples/zran.c).  DEFLATE cannot be entered
 * at an arbitrary byte, but it can be resumed at a block boundary by whoever holds the
 * state there: the bit position inside the current input byte and the last 32 KiB of
 * output (the window that back-references reach into).  So at open one full inflate
 * pass runs with Z_BLOCK, which returns at every block boundary; every GZIP_SPAN bytes
 * of output a checkpoint saves {output offset, input offset, bit offset, window}.  A
 * read starts from the last checkpoint at or before its offset: raw inflate, primed
 * with the leftover bits (inflatePrime) and the window (inflateSetDictionary), output
 * discarded up to the offset.  The start of each gzip member is a checkpoint too, and
 * a cheap one: an empty window, resumed by inflating from its gzip header.
 *
 * Block boundaries can be far apart: zlib puts ~16 Ki symbols in a block, and a run of
 * zeros is 258 bytes a symbol, so one block of a zero-filled disk is ~4 MiB of output.
 * When no boundary comes within twice the span, the checkpoint is the whole inflate
 * state instead (inflateCopy: ~7 KiB of state and the 32 KiB window), which resumes
 * anywhere, mid-block and mid-match included.  It costs more memory and a copy per
 * resume, so it is only the fallback.
 *
 * The pass also checks every member's CRC-32 and length and learns the size, which the
 * trailer cannot give (ISIZE is the size mod 2^32, and there may be several members).
 * Concatenated members are followed to the end; anything after the last member that is
 * not another member is an error, as is a stream that stops early.
 *
 * Bounds.  Windows are stored deflated (disk data, zeros above all, shrinks a lot); a
 * saved inflate state counts as GZ_STATE_COST bytes.  When the index reaches
 * GZIP_MAX_POINTS checkpoints or GZIP_MAX_WINDOW_BYTES of windows, every other
 * checkpoint is dropped and the span doubles, so memory stays bounded whatever the
 * stream's size, at the price of longer reads.  The open pass takes time in proportion
 * to the uncompressed size, which a hostile stream can make ~1000 times the compressed
 * one.
 *
 * Reads.  The index is immutable after open.  A read needs a z_stream with its input
 * buffer: a "cursor".  A few idle cursors are parked in the source, each left where its
 * last read ended, so a sequential reader (on any thread) continues from where the
 * previous read stopped instead of re-inflating from a checkpoint.  The lock only
 * guards taking and parking cursors; no lock is held while inflating.
 */
#include "gzip.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../common/bounds.h"
#include "../common/inflate.h"
#include "../common/log.h"

#define GZ_WINDOW  32768 /* DEFLATE's largest back-reference distance */
#define GZ_IN_BUF  (64 * 1024)
#define GZ_SCRATCH (64 * 1024) /* discarded output; >= GZ_WINDOW, it also holds windows */
#define GZ_PARKED  4	       /* idle cursors kept per source: a few sequential readers */
#define GZ_TRAILER 8	       /* CRC-32 and ISIZE after each member's deflate data */
/* What a saved inflate state holds: zlib's struct inflate_state (~7 KiB, private) and
 * its window, for the memory cap. */
#define GZ_STATE_COST (8 * 1024 + GZ_WINDOW)

enum gz_point_kind {
	GZ_POINT_MEMBER, /* a gzip member starts at in: inflate from its header */
	GZ_POINT_BLOCK,	 /* a deflate block starts: raw inflate, primed with bits and win */
	GZ_POINT_STATE,	 /* anywhere: a copy of the whole inflate state, input at in */
};

struct gz_point {
	uint64_t out;	     /* uncompressed offset */
	uint64_t in;	     /* compressed offset of the next whole byte to feed */
	unsigned char *win;  /* block: the window, deflated when win_stored < win_len */
	uint32_t win_len;    /* window bytes (fewer than 32 KiB early in a member) */
	uint32_t win_stored; /* bytes at win */
	uint64_t cost;	     /* bytes it holds, against GZIP_MAX_WINDOW_BYTES */
	z_stream *state;     /* state: the saved stream (its own heap copy) */
	uint8_t bits;	     /* block: unread bits of the byte at in - 1 */
	enum gz_point_kind kind;
};

struct gz_cursor {
	z_stream strm;
	bool ready;	 /* strm initialised */
	bool valid;	 /* positioned: out and the stream agree */
	bool raw;	 /* resumed mid-member: skip the trailer by hand at its end */
	uint64_t out;	 /* uncompressed offset of the next byte out */
	uint64_t in_end; /* compressed offset just past the bytes in in[] */
	uint64_t used;	 /* when it was parked, for LRU */
	unsigned char in[GZ_IN_BUF];
	unsigned char scratch[GZ_SCRATCH];
};

struct gzip_source {
	struct source s;
	struct source *z; /* the compressed bytes */
	struct gz_point *points;
	size_t n_points, cap_points;
	uint64_t win_bytes;   /* sum of the points' cost, against GZIP_MAX_WINDOW_BYTES */
	pthread_mutex_t lock; /* parked[] and tick only */
	bool lock_ready;
	struct gz_cursor *parked[GZ_PARKED];
	uint64_t tick;
};

static void cursor_free(struct gz_cursor *c)
{
	if (!c)
		return;
	if (c->ready)
		inflateEnd(&c->strm);
	free(c);
}

static struct gz_cursor *cursor_new(void)
{
	struct gz_cursor *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	memset(&c->strm, 0, sizeof(c->strm));
	c->valid = false;
	c->ready = inflateInit2(&c->strm, -15) == Z_OK;
	if (!c->ready) {
		free(c);
		return NULL;
	}
	return c;
}

/* Compressed offset of the next byte inflate will take. */
static uint64_t cursor_in_pos(const struct gz_cursor *c)
{
	return c->in_end - c->strm.avail_in;
}

/* Refill the (empty) input buffer. 0, -ENODATA at the end of the compressed bytes, or
 * the read's -errno. */
static int cursor_refill(struct gzip_source *gz, struct gz_cursor *c)
{
	size_t n = (size_t)MIN((uint64_t)GZ_IN_BUF, gz->z->size - c->in_end);
	int r;

	if (n == 0)
		return -ENODATA;
	r = source_pread(gz->z, c->in, n, c->in_end);
	if (r < 0)
		return r;
	c->strm.next_in = c->in;
	c->strm.avail_in = (uInt)n;
	c->in_end += n;
	return 0;
}

/* Drop buffered input and continue reading compressed bytes at in. */
static void cursor_jump(struct gz_cursor *c, uint64_t in)
{
	c->strm.next_in = c->in;
	c->strm.avail_in = 0;
	c->in_end = in;
}

/* Position c at checkpoint p. 0 or -errno. */
static int cursor_goto(struct gzip_source *gz, struct gz_cursor *c, const struct gz_point *p)
{
	const unsigned char *win = p->win;
	size_t got;
	int r;

	c->valid = false;
	if (p->kind == GZ_POINT_MEMBER) {
		if (inflateReset2(&c->strm, 31) != Z_OK)
			return -EIO;
		c->raw = false;
		cursor_jump(c, p->in);
	} else if (p->kind == GZ_POINT_STATE) {
		/* the copy carries the member's running CRC and length: no raw mode */
		inflateEnd(&c->strm);
		c->ready = inflateCopy(&c->strm, p->state) == Z_OK;
		if (!c->ready)
			return -ENOMEM;
		c->raw = false;
		cursor_jump(c, p->in);
	} else {
		if (inflateReset2(&c->strm, -15) != Z_OK)
			return -EIO;
		c->raw = true;
		cursor_jump(c, p->in - (p->bits ? 1 : 0));
		if (p->bits) {
			r = cursor_refill(gz, c);
			if (r < 0)
				return r == -ENODATA ? -EIO : r;
			if (inflatePrime(&c->strm, p->bits, c->strm.next_in[0] >> (8 - p->bits)) !=
			    Z_OK)
				return -EIO;
			c->strm.next_in++;
			c->strm.avail_in--;
		}
		if (p->win_stored < p->win_len) {
			r = inflate_raw(p->win, p->win_stored, c->scratch, p->win_len, &got);
			if (r < 0 || got != p->win_len)
				return r < 0 ? r : -EIO;
			win = c->scratch;
		}
		if (p->win_len && inflateSetDictionary(&c->strm, win, p->win_len) != Z_OK)
			return -EIO;
	}
	c->out = p->out;
	c->valid = true;
	return 0;
}

/* Inflate exactly len bytes into buf, across member boundaries. 0 or -errno (-EIO when
 * the data no longer inflates as it did at open). */
static int cursor_inflate(struct gzip_source *gz, struct gz_cursor *c, unsigned char *buf,
			  size_t len)
{
	int r, zr;

	while (len > 0) {
		uInt chunk = (uInt)MIN(len, (size_t)1 << 30);

		c->strm.next_out = buf;
		c->strm.avail_out = chunk;
		while (c->strm.avail_out > 0) {
			if (c->strm.avail_in == 0) {
				r = cursor_refill(gz, c);
				if (r < 0)
					goto out_fail;
			}
			zr = inflate(&c->strm, Z_NO_FLUSH);
			if (zr == Z_STREAM_END) {
				if (c->raw) {
					uint64_t next = cursor_in_pos(c) + GZ_TRAILER;

					if (next > gz->z->size ||
					    inflateReset2(&c->strm, 31) != Z_OK) {
						r = -EIO;
						goto out_fail;
					}
					c->raw = false;
					cursor_jump(c, next);
				} else if (inflateReset(&c->strm) != Z_OK) {
					r = -EIO;
					goto out_fail;
				}
				continue;
			}
			if (zr != Z_OK && !(zr == Z_BUF_ERROR && c->strm.avail_in == 0)) {
				r = -EIO;
				goto out_fail;
			}
		}
		buf += chunk;
		len -= chunk;
		c->out += chunk;
	}
	return 0;

out_fail:
	c->valid = false;
	if (r == -EIO || r == -ENODATA) {
		log_corrupt_once(gz->s.name, "inflate",
				 "gzip data no longer inflates near compressed offset %llu "
				 "(changed since it was opened?)",
				 (unsigned long long)cursor_in_pos(c));
		r = -EIO;
	}
	return r;
}

/* Inflate and throw away n bytes. */
static int cursor_skip(struct gzip_source *gz, struct gz_cursor *c, uint64_t n)
{
	while (n > 0) {
		size_t k = (size_t)MIN(n, (uint64_t)sizeof(c->scratch));
		int r = cursor_inflate(gz, c, c->scratch, k);

		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

/* The last checkpoint at or before off (there is always one at 0). */
static const struct gz_point *gz_find_point(const struct gzip_source *gz, uint64_t off)
{
	size_t lo = 0, hi = gz->n_points;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (gz->points[mid].out <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &gz->points[lo];
}

/* A cursor for a read at off whose checkpoint is at lo: preferably a parked one already
 * in [lo, off], else the least recently used parked one if all slots are full (its
 * memory is reused), else a new one. NULL when out of memory. */
static struct gz_cursor *gz_take_cursor(struct gzip_source *gz, uint64_t lo, uint64_t off)
{
	struct gz_cursor *c = NULL;
	int best = -1, lru = -1, i, n = 0;

	pthread_mutex_lock(&gz->lock);
	for (i = 0; i < GZ_PARKED; i++) {
		struct gz_cursor *p = gz->parked[i];

		if (!p)
			continue;
		n++;
		if (p->valid && p->out >= lo && p->out <= off &&
		    (best < 0 || p->out > gz->parked[best]->out))
			best = i;
		if (lru < 0 || p->used < gz->parked[lru]->used)
			lru = i;
	}
	if (best < 0 && n == GZ_PARKED)
		best = lru;
	if (best >= 0) {
		c = gz->parked[best];
		gz->parked[best] = NULL;
	}
	pthread_mutex_unlock(&gz->lock);
	return c ? c : cursor_new();
}

/* Park c for the next read, evicting the least recently used cursor if all slots are
 * taken. A cursor that failed is freed instead. */
static void gz_park_cursor(struct gzip_source *gz, struct gz_cursor *c)
{
	struct gz_cursor *victim = NULL;
	int i, slot = -1;

	if (!c->valid) {
		cursor_free(c);
		return;
	}
	pthread_mutex_lock(&gz->lock);
	c->used = ++gz->tick;
	for (i = 0; i < GZ_PARKED; i++) {
		if (!gz->parked[i]) {
			slot = i;
			break;
		}
		if (slot < 0 || gz->parked[i]->used < gz->parked[slot]->used)
			slot = i;
	}
	victim = gz->parked[slot];
	gz->parked[slot] = c;
	pthread_mutex_unlock(&gz->lock);
	cursor_free(victim);
}

static int gzip_pread(struct source *s, void *buf, size_t len, uint64_t off)
{
	struct gzip_source *gz = (struct gzip_source *)s;
	const struct gz_point *p = gz_find_point(gz, off);
	struct gz_cursor *c = gz_take_cursor(gz, p->out, off);
	int r = 0;

	if (!c)
		return -ENOMEM;
	if (!c->valid || c->out < p->out || c->out > off)
		r = cursor_goto(gz, c, p);
	if (r == 0)
		r = cursor_skip(gz, c, off - c->out);
	if (r == 0)
		r = cursor_inflate(gz, c, buf, len);
	if (r < 0)
		c->valid = false;
	gz_park_cursor(gz, c);
	return r;
}

static void gz_point_free(struct gz_point *p)
{
	free(p->win);
	if (p->state) {
		inflateEnd(p->state);
		free(p->state);
	}
}

static void gzip_free(struct source *s)
{
	struct gzip_source *gz = (struct gzip_source *)s;
	size_t i;

	for (i = 0; i < GZ_PARKED; i++)
		cursor_free(gz->parked[i]);
	for (i = 0; i < gz->n_points; i++)
		gz_point_free(&gz->points[i]);
	free(gz->points);
	if (gz->lock_ready)
		pthread_mutex_destroy(&gz->lock);
	source_unref(gz->z);
	free(gz);
}

static const struct source_ops gzip_ops = {
	.kind = "gzip",
	.pread = gzip_pread,
	.free = gzip_free,
};

/* State of the open pass beyond the cursor: the window compressor and the span. */
struct gz_builder {
	z_stream dz; /* raw deflate, level 1: windows are saved compressed */
	bool dz_ready;
	unsigned char win[GZ_WINDOW];
	unsigned char *zbuf; /* zbuf_len = deflateBound(GZ_WINDOW) bytes */
	size_t zbuf_len;
	uint64_t span; /* output between checkpoints, doubled when the index is full */
};

/* Drop every other checkpoint (keeping the first) and double the span. */
static void gz_thin(struct gzip_source *gz, struct gz_builder *b)
{
	size_t i, n = 0;

	for (i = 0; i < gz->n_points; i++) {
		if (i % 2 == 0) {
			gz->points[n++] = gz->points[i];
		} else {
			gz->win_bytes -= gz->points[i].cost;
			gz_point_free(&gz->points[i]);
		}
	}
	gz->n_points = n;
	b->span *= 2;
}

/* Add a checkpoint of the given kind at output offset out, unless thinning the index for
 * room leaves it closer than the (doubled) span to the previous one. A block checkpoint
 * takes its window from strm, a state checkpoint a copy of strm. 0 or -errno. */
static int gz_add_point(struct gzip_source *gz, struct gz_builder *b, z_stream *strm,
			enum gz_point_kind kind, uint64_t in, unsigned bits, uint64_t out)
{
	struct gz_point p = { .out = out, .in = in, .bits = (uint8_t)bits, .kind = kind };
	uInt wlen = 0;

	if (kind == GZ_POINT_BLOCK) {
		if (inflateGetDictionary(strm, b->win, &wlen) != Z_OK)
			return -EIO;
		p.win_len = wlen;
		p.win_stored = wlen;
		if (wlen > 0) {
			if (deflateReset(&b->dz) != Z_OK)
				return -ENOMEM;
			b->dz.next_in = b->win;
			b->dz.avail_in = wlen;
			b->dz.next_out = b->zbuf;
			b->dz.avail_out = (uInt)b->zbuf_len;
			if (deflate(&b->dz, Z_FINISH) == Z_STREAM_END && b->dz.total_out < wlen)
				p.win_stored = (uint32_t)b->dz.total_out;
			p.win = malloc(p.win_stored);
			if (!p.win)
				return -ENOMEM;
			memcpy(p.win, p.win_stored < wlen ? b->zbuf : b->win, p.win_stored);
		}
		p.cost = p.win_stored;
	} else if (kind == GZ_POINT_STATE) {
		p.state = malloc(sizeof(*p.state));
		if (!p.state)
			return -ENOMEM;
		if (inflateCopy(p.state, strm) != Z_OK) {
			free(p.state);
			return -ENOMEM;
		}
		p.cost = GZ_STATE_COST;
	}
	while (gz->n_points >= GZIP_MAX_POINTS || gz->win_bytes + p.cost > GZIP_MAX_WINDOW_BYTES) {
		gz_thin(gz, b);
		if (out - gz->points[gz->n_points - 1].out < b->span) {
			gz_point_free(&p);
			return 0;
		}
	}
	if (gz->n_points == gz->cap_points) {
		size_t cap = gz->cap_points ? gz->cap_points * 2 : 64;
		struct gz_point *np = realloc(gz->points, cap * sizeof(*np));

		if (!np) {
			gz_point_free(&p);
			return -ENOMEM;
		}
		gz->points = np;
		gz->cap_points = cap;
	}
	gz->points[gz->n_points++] = p;
	gz->win_bytes += p.cost;
	return 0;
}

/* Two bytes of gzip magic at off? */
static bool gz_magic_at(struct source *z, uint64_t off)
{
	unsigned char m[2];

	return range_ok(off, 2, z->size) && source_pread(z, m, 2, off) == 0 && m[0] == 0x1f &&
	       m[1] == 0x8b;
}

/* The open pass: inflate everything once, checkpointing as it goes. */
static int gz_build(struct gzip_source *gz, struct gz_cursor *c, struct gz_builder *b,
		    struct err *err)
{
	const char *zname = gz->z->name;
	uint64_t total = 0, last = 0;
	unsigned members = 1;
	int r, zr;

	if (!gz_magic_at(gz->z, 0))
		return err_set(err, EINVAL, "%s: not gzip data (no gzip magic at offset 0)", zname);
	if (inflateReset2(&c->strm, 31) != Z_OK)
		return err_set(err, ENOMEM, "%s: out of memory", zname);
	cursor_jump(c, 0);
	r = gz_add_point(gz, b, &c->strm, GZ_POINT_MEMBER, 0, 0, 0);
	if (r < 0)
		return err_set(err, -r, "%s: out of memory", zname);
	for (;;) {
		size_t got;

		if (c->strm.avail_in == 0) {
			r = cursor_refill(gz, c);
			if (r == -ENODATA)
				return err_set(err, EINVAL,
					       "%s: gzip data truncated at offset %llu (member %u "
					       "unfinished)",
					       zname, (unsigned long long)gz->z->size, members);
			if (r < 0)
				return err_set(err, -r, "%s: read failed at offset %llu: %s", zname,
					       (unsigned long long)c->in_end, strerror(-r));
		}
		c->strm.next_out = c->scratch;
		c->strm.avail_out = sizeof(c->scratch);
		zr = inflate(&c->strm, Z_BLOCK);
		got = sizeof(c->scratch) - c->strm.avail_out;
		if (CHECKED_ADD(total, (uint64_t)got, &total))
			return err_set(err, EFBIG, "%s: uncompressed size overflows", zname);
		if (zr == Z_STREAM_END) {
			uint64_t pos = cursor_in_pos(c);

			if (pos == gz->z->size)
				break;
			if (!gz_magic_at(gz->z, pos))
				return err_set(
					err, EINVAL,
					"%s: data after gzip member %u at offset %llu is not "
					"another gzip member",
					zname, members, (unsigned long long)pos);
			if (inflateReset(&c->strm) != Z_OK)
				return err_set(err, ENOMEM, "%s: out of memory", zname);
			members++;
			if (total - last >= b->span) {
				r = gz_add_point(gz, b, &c->strm, GZ_POINT_MEMBER, pos, 0, total);
				if (r < 0)
					return err_set(err, -r, "%s: out of memory", zname);
				last = gz->points[gz->n_points - 1].out;
			}
			continue;
		}
		if (zr == Z_BUF_ERROR && c->strm.avail_in == 0)
			continue;
		if (zr != Z_OK)
			return err_set(
				err, EINVAL,
				"%s: corrupt gzip data, found at offset %llu (member %u): %s",
				zname, (unsigned long long)cursor_in_pos(c), members,
				c->strm.msg ? c->strm.msg : zError(zr));
		if (total - last < b->span)
			continue;
		if ((c->strm.data_type & 128) && !(c->strm.data_type & 64))
			r = gz_add_point(gz, b, &c->strm, GZ_POINT_BLOCK, cursor_in_pos(c),
					 (unsigned)c->strm.data_type & 7, total);
		else if (total - last >= 2 * b->span)
			r = gz_add_point(gz, b, &c->strm, GZ_POINT_STATE, cursor_in_pos(c), 0,
					 total);
		else
			continue;
		if (r < 0)
			return err_set(err, -r, "%s: cannot save an inflate checkpoint: %s", zname,
				       strerror(-r));
		last = gz->points[gz->n_points - 1].out;
	}
	gz->s.size = total;
	return 0;
}

int source_gzip_new(struct source *compressed, const char *name, struct source **ret,
		    struct err *err)
{
	struct gzip_source *gz = calloc(1, sizeof(*gz));
	struct gz_builder *b = calloc(1, sizeof(*b));
	struct gz_cursor *c = cursor_new();
	int r;

	if (!gz || !b || !c) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out_free;
	}
	gz->z = source_ref(compressed);
	if (source_init(&gz->s, &gzip_ops, name, 0) < 0 ||
	    pthread_mutex_init(&gz->lock, NULL) != 0) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out_free;
	}
	gz->lock_ready = true;
	b->span = GZIP_SPAN;
	b->dz_ready = deflateInit2(&b->dz, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
	b->zbuf_len = b->dz_ready ? deflateBound(&b->dz, GZ_WINDOW) : 0;
	b->zbuf = b->dz_ready ? malloc(b->zbuf_len) : NULL;
	if (!b->zbuf) {
		r = err_set(err, ENOMEM, "%s: out of memory", name);
		goto out_free;
	}
	r = gz_build(gz, c, b, err);
	if (r < 0)
		goto out_free;
	/* The pass leaves c at the end of the stream: of no use to a reader. */
	c->valid = false;
	cursor_free(c);
	if (b->dz_ready)
		deflateEnd(&b->dz);
	free(b->zbuf);
	free(b);
	*ret = &gz->s;
	return 0;

out_free:
	cursor_free(c);
	if (b && b->dz_ready)
		deflateEnd(&b->dz);
	if (b)
		free(b->zbuf);
	free(b);
	if (gz) {
		if (gz->s.ops) {
			source_unref(&gz->s);
		} else {
			source_unref(gz->z);
			free(gz);
		}
	}
	return r;
}
