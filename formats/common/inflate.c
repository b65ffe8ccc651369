/* SPDX-License-Identifier: MIT */
/* One-shot inflate: see inflate.h. */
#include "inflate.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>

#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#include <pthread.h>

static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void dec_free(void *p)
{
	libdeflate_free_decompressor(p);
}

static void dec_key_init(void)
{
	(void)pthread_key_create(&dec_key, dec_free);
}

/* A thread-specific key (not thread_local) so each worker's decompressor is freed when the
 * thread ends and leak checkers stay quiet. */
static struct libdeflate_decompressor *thread_decompressor(void)
{
	struct libdeflate_decompressor *d;

	pthread_once(&dec_once, dec_key_init);
	d = pthread_getspecific(dec_key);
	if (!d) {
		d = libdeflate_alloc_decompressor();
		if (d && pthread_setspecific(dec_key, d) != 0) {
			libdeflate_free_decompressor(d);
			d = NULL;
		}
	}
	return d;
}

static int inflate_any(int zlib, const void *in, size_t in_len, void *out, size_t out_cap,
		       size_t *out_len)
{
	struct libdeflate_decompressor *d = thread_decompressor();
	enum libdeflate_result r;
	size_t in_used;

	if (!d)
		return -ENOMEM;
	if (zlib)
		r = libdeflate_zlib_decompress_ex(d, in, in_len, out, out_cap, &in_used, out_len);
	else
		r = libdeflate_deflate_decompress_ex(d, in, in_len, out, out_cap, &in_used,
						     out_len);
	return r == LIBDEFLATE_SUCCESS ? 0 : -EIO;
}

const char *inflate_impl(void)
{
	return "libdeflate";
}
#else
#include <zlib.h>

static int inflate_any(int zlib, const void *in, size_t in_len, void *out, size_t out_cap,
		       size_t *out_len)
{
	z_stream s = { 0 };
	int r;

	if (in_len > UINT_MAX || out_cap > UINT_MAX)
		return -EIO;
	if (inflateInit2(&s, zlib ? 15 : -15) != Z_OK)
		return -ENOMEM;
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)in_len;
	s.next_out = out;
	s.avail_out = (uInt)out_cap;
	r = inflate(&s, Z_FINISH);
	*out_len = out_cap - s.avail_out;
	inflateEnd(&s);
	return r == Z_STREAM_END ? 0 : -EIO;
}

const char *inflate_impl(void)
{
	return "zlib";
}
#endif

int inflate_zlib(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return inflate_any(1, in, in_len, out, out_cap, out_len);
}

int inflate_raw(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len)
{
	return inflate_any(0, in, in_len, out, out_cap, out_len);
}
