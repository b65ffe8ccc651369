/* SPDX-License-Identifier: MIT */
/*
 * preader: a test helper that reads a file the way hostile, concurrent users do and checks
 * every byte against a reference file.  Three modes:
 *
 *   preader [-t THREADS] [-n OPS] [-s SEED] [--max-len BYTES] [--drop N] FILE REFERENCE
 *       THREADS threads (default 8) each do OPS (default 1000) preads of FILE at random
 *       offsets and lengths (1 .. max-len, default 256 KiB; a quarter of them straddle a
 *       64 KiB boundary, some run past the end of the file) and compare them with the
 *       same range of REFERENCE.  --drop N: every N operations a thread asks the kernel
 *       to drop FILE's page cache (posix_fadvise DONTNEED), so reads reach the daemon
 *       again instead of being served from pages an earlier read filled.  --seconds S:
 *       each thread stops after S seconds instead (or after OPS, if given too, whichever
 *       comes first); the summary gives the reads done.
 *
 *   preader --cmp [-t THREADS] [--chunk BYTES] FILE REFERENCE
 *       Compare two files of equal size completely, in chunks (default 1 MiB) read by
 *       THREADS threads (default 4).  REFERENCE's holes (SEEK_HOLE) are not read: FILE must
 *       be zero there.  Faster than cmp(1) on big sparse files behind FUSE.
 *
 *   preader --seek FILE
 *       Print FILE's data/hole map as found with SEEK_DATA/SEEK_HOLE, one extent a line:
 *       "OFFSET LENGTH data|hole", then "total data BYTES".
 *
 *   preader --rate SECONDS [-t THREADS] [-s SEED] FILE
 *       For SECONDS, THREADS threads (default 1) each read 4 KiB at random 4 KiB-aligned
 *       offsets of FILE, one at a time (what fio's randread with psync and iodepth 1
 *       does); print "READS reads/s".  tools/bench uses it; nothing is compared.
 *
 * Exit status: 0 all equal, 1 on the first mismatch or I/O error (with a message saying
 * where and what), 2 on a usage error.  Only pthreads and libc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GRAIN 65536u

static const char *file_path, *ref_path;
static int file_fd = -1, ref_fd = -1;
static uint64_t file_size;
static unsigned n_threads = 8;
static uint64_t n_ops = 1000;
static double seconds; /* > 0: run for this long */
static atomic_uint_least64_t ops_done;
static uint64_t seed = 1;
static uint64_t max_len = 256 * 1024;
static uint64_t drop_every;
static uint64_t chunk = 1 << 20;
static atomic_bool failed;
static atomic_uint_fast64_t next_chunk;
static double rate_seconds;
static atomic_uint_fast64_t rate_reads;
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(void)
{
	fprintf(stderr,
		"usage: preader [-t THREADS] [-n OPS] [--seconds S] [-s SEED] [--max-len BYTES] "
		"[--drop N] FILE REFERENCE\n"
		"       preader --cmp [-t THREADS] [--chunk BYTES] FILE REFERENCE\n"
		"       preader --seek FILE\n"
		"       preader --rate SECONDS [-t THREADS] [-s SEED] FILE\n");
	exit(2);
}

/* Report a failure once: the first thread to fail prints, the others stay quiet. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&msg_lock);
	if (!atomic_exchange(&failed, true)) {
		fputs("preader: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&msg_lock);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-') {
		fprintf(stderr, "preader: %s: not a number: %s\n", what, s);
		exit(2);
	}
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end) {
		fprintf(stderr, "preader: %s: not a number: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* xorshift64*: small, fast, and the same sequence everywhere for a seed. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Read up to len bytes at off, stopping early only at end of file. Bytes read, or -errno. */
static int64_t read_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

/* Compare got[0..len) with want[0..len) for the range at off; report the first difference. */
static bool same(const unsigned char *got, const unsigned char *want, uint64_t len, uint64_t off,
		 const char *what)
{
	uint64_t i;

	if (memcmp(got, want, len) == 0)
		return true;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	fail("%s: %s differs from %s at byte %" PRIu64 " (0x%" PRIx64 "): got 0x%02x, want 0x%02x"
	     " (read of %" PRIu64 " bytes at %" PRIu64 ")",
	     what, file_path, ref_path, off + i, off + i, got[i], want[i], len, off);
	return false;
}

static void *random_reader(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	uint64_t state = (seed + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)idx + 1) * 0xBF58476D1CE4E5B9ULL;
	unsigned char *a = malloc(max_len), *b = malloc(max_len);
	char what[64];

	if (!a || !b) {
		fail("out of memory");
		goto out;
	}
	if (!state)
		state = 1;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t op = 0; op < n_ops && !atomic_load(&failed); op++) {
		uint64_t r = rnd(&state), off, len;

		if (seconds > 0 && op % 16 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds)
				break;
		}
		atomic_fetch_add(&ops_done, 1);
		int64_t na, nb;

		len = 1 + rnd(&state) % max_len;
		switch (r % 8) {
		case 0:
		case 1: /* straddle a grain boundary */
			off = (rnd(&state) % (file_size / GRAIN + 1)) * GRAIN;
			off -= off >= len / 2 ? len / 2 : off;
			break;
		case 2: /* near or past the end */
			off = file_size - (file_size >= len ? rnd(&state) % len : 0);
			off = off > file_size ? file_size : off;
			break;
		case 3: /* sector aligned */
			off = (rnd(&state) % (file_size + 1)) & ~511ULL;
			break;
		default:
			off = rnd(&state) % (file_size + 1);
			break;
		}
		if (drop_every && op % drop_every == drop_every - 1)
			posix_fadvise(file_fd, 0, 0, POSIX_FADV_DONTNEED);
		snprintf(what, sizeof(what), "thread %u op %" PRIu64, idx, op);
		na = read_full(file_fd, a, len, off);
		if (na < 0) {
			fail("%s: %s: read of %" PRIu64 " bytes at %" PRIu64 ": %s", what, file_path,
			     len, off, strerror((int)-na));
			break;
		}
		nb = read_full(ref_fd, b, len, off);
		if (nb < 0) {
			fail("%s: %s: read at %" PRIu64 ": %s", what, ref_path, off,
			     strerror((int)-nb));
			break;
		}
		if (na != nb) {
			fail("%s: read of %" PRIu64 " bytes at %" PRIu64 " returned %" PRId64
			     " bytes from %s but %" PRId64 " from %s",
			     what, len, off, na, file_path, nb, ref_path);
			break;
		}
		if (!same(a, b, (uint64_t)na, off, what))
			break;
	}
out:
	free(a);
	free(b);
	return NULL;
}

/* Is [off, off+len) of fd entirely a hole?  Errors count as "no" (then we read it). */
static bool is_hole(int fd, uint64_t off, uint64_t len)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);

	if (d < 0)
		return errno == ENXIO;
	return (uint64_t)d >= off + len;
}

static void *chunk_comparer(void *arg)
{
	unsigned char *a = malloc(chunk), *b = malloc(chunk);
	char what[32];

	(void)arg;
	if (!a || !b) {
		fail("out of memory");
		goto out;
	}
	while (!atomic_load(&failed)) {
		uint64_t i = atomic_fetch_add(&next_chunk, 1), off = i * chunk, len;
		int64_t na, nb;

		if (off >= file_size)
			break;
		len = file_size - off < chunk ? file_size - off : chunk;
		snprintf(what, sizeof(what), "cmp");
		na = read_full(file_fd, a, len, off);
		if (na < 0) {
			fail("%s: read of %" PRIu64 " bytes at %" PRIu64 ": %s", file_path, len, off,
			     strerror((int)-na));
			break;
		}
		if ((uint64_t)na != len) {
			fail("%s: short read at %" PRIu64 ": %" PRId64 " of %" PRIu64 " bytes",
			     file_path, off, na, len);
			break;
		}
		if (is_hole(ref_fd, off, len)) {
			memset(b, 0, len);
		} else {
			nb = read_full(ref_fd, b, len, off);
			if (nb != (int64_t)len) {
				fail("%s: read at %" PRIu64 " failed or was short", ref_path, off);
				break;
			}
		}
		if (!same(a, b, len, off, what))
			break;
	}
out:
	free(a);
	free(b);
	return NULL;
}

static int run_threads(void *(*fn)(void *));

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *rate_reader(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	uint64_t state = (seed + 1) * 0x9E3779B97F4A7C15ULL ^
			 ((uint64_t)idx + 1) * 0xBF58476D1CE4E5B9ULL;
	uint64_t blocks = file_size / 4096, n = 0;
	double end = now() + rate_seconds;
	char buf[4096];

	if (!state)
		state = 1;
	while (!atomic_load(&failed)) {
		/* Check the clock every 64 reads: often enough, and off the hot path. */
		for (unsigned k = 0; k < 64; k++, n++) {
			uint64_t off = rnd(&state) % blocks * 4096;

			if (pread(file_fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf)) {
				fail("%s: read of 4096 bytes at %" PRIu64 " failed or was short",
				     file_path, off);
				return NULL;
			}
		}
		if (now() >= end)
			break;
	}
	atomic_fetch_add(&rate_reads, n);
	return NULL;
}

static int rate(const char *path)
{
	struct stat st;
	double t0;
	int r;

	file_path = path;
	file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0 || fstat(file_fd, &st) < 0) {
		fprintf(stderr, "preader: %s: %s\n", path, strerror(errno));
		return 1;
	}
	file_size = (uint64_t)st.st_size;
	if (file_size < 4096) {
		fprintf(stderr, "preader: %s: smaller than 4096 bytes\n", path);
		return 1;
	}
	t0 = now();
	r = run_threads(rate_reader);
	if (!r)
		printf("%.0f reads/s\n", (double)atomic_load(&rate_reads) / (now() - t0));
	return r;
}

static int run_threads(void *(*fn)(void *))
{
	pthread_t *t = calloc(n_threads, sizeof(*t));
	unsigned started = 0;

	if (!t) {
		fprintf(stderr, "preader: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < n_threads; i++) {
		int r = pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)i);

		if (r) {
			fail("pthread_create: %s", strerror(r));
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	return atomic_load(&failed) ? 1 : 0;
}

static int seek_map(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t pos = 0, size, total = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "preader: %s: %s\n", path, strerror(errno));
		return 1;
	}
	size = (uint64_t)st.st_size;
	while (pos < size) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA), h;

		if (d < 0 && errno != ENXIO) {
			fprintf(stderr, "preader: %s: SEEK_DATA at %" PRIu64 ": %s\n", path, pos,
				strerror(errno));
			close(fd);
			return 1;
		}
		if (d < 0 || (uint64_t)d >= size) {
			printf("%" PRIu64 " %" PRIu64 " hole\n", pos, size - pos);
			break;
		}
		if ((uint64_t)d < pos) {
			fprintf(stderr, "preader: %s: SEEK_DATA from %" PRIu64 " went back to %jd\n",
				path, pos, (intmax_t)d);
			close(fd);
			return 1;
		}
		if ((uint64_t)d > pos)
			printf("%" PRIu64 " %" PRIu64 " hole\n", pos, (uint64_t)d - pos);
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0 || h <= d || (uint64_t)h > size) {
			fprintf(stderr, "preader: %s: SEEK_HOLE from %jd gave %jd (%s)\n", path,
				(intmax_t)d, (intmax_t)h, h < 0 ? strerror(errno) : "out of range");
			close(fd);
			return 1;
		}
		printf("%jd %jd data\n", (intmax_t)d, (intmax_t)(h - d));
		total += (uint64_t)(h - d);
		pos = (uint64_t)h;
	}
	printf("total data %" PRIu64 "\n", total);
	close(fd);
	return 0;
}

static int open_pair(void)
{
	struct stat sa, sb;

	file_fd = open(file_path, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0 || fstat(file_fd, &sa) < 0) {
		fprintf(stderr, "preader: %s: %s\n", file_path, strerror(errno));
		return 1;
	}
	ref_fd = open(ref_path, O_RDONLY | O_CLOEXEC);
	if (ref_fd < 0 || fstat(ref_fd, &sb) < 0) {
		fprintf(stderr, "preader: %s: %s\n", ref_path, strerror(errno));
		return 1;
	}
	if (sa.st_size != sb.st_size) {
		fprintf(stderr, "preader: %s is %jd bytes, %s is %jd\n", file_path,
			(intmax_t)sa.st_size, ref_path, (intmax_t)sb.st_size);
		return 1;
	}
	file_size = (uint64_t)sa.st_size;
	return 0;
}

int main(int argc, char **argv)
{
	enum { RANDOM, CMP, SEEK, RATE } mode = RANDOM;
	bool threads_set = false, ops_set = false;
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--seek")) {
			mode = SEEK;
			continue;
		}
		if (!strcmp(o, "--cmp")) {
			mode = CMP;
			continue;
		}
		if (!strcmp(o, "-h") || !strcmp(o, "--help"))
			usage();
		if (!v)
			usage();
		if (!strcmp(o, "--rate")) {
			char *end;

			mode = RATE;
			rate_seconds = strtod(v, &end);
			if (*end || end == v)
				usage();
		} else if (!strcmp(o, "-t")) {
			n_threads = (unsigned)parse_u64(v, o);
			threads_set = true;
		} else if (!strcmp(o, "-n")) {
			n_ops = parse_u64(v, o);
			ops_set = true;
		} else if (!strcmp(o, "-s")) {
			seed = parse_u64(v, o);
		} else if (!strcmp(o, "--max-len")) {
			max_len = parse_u64(v, o);
		} else if (!strcmp(o, "--seconds")) {
			seconds = (double)parse_u64(v, o);
			if (!ops_set)
				n_ops = UINT64_MAX;
		} else if (!strcmp(o, "--drop")) {
			drop_every = parse_u64(v, o);
		} else if (!strcmp(o, "--chunk")) {
			chunk = parse_u64(v, o);
		} else {
			usage();
		}
		i++;
	}
	if (mode == SEEK) {
		if (argc - i != 1)
			usage();
		return seek_map(argv[i]);
	}
	if (mode == RATE) {
		if (argc - i != 1 || n_threads == 0 || n_threads > 1024 || rate_seconds <= 0)
			usage();
		if (!threads_set)
			n_threads = 1;
		return rate(argv[i]);
	}
	if (argc - i != 2 || n_threads == 0 || n_threads > 1024 || max_len == 0 ||
	    max_len > (1u << 30) || chunk == 0 || chunk > (1u << 30))
		usage();
	file_path = argv[i];
	ref_path = argv[i + 1];
	r = open_pair();
	if (r)
		return r;
	if (mode == CMP) {
		if (!threads_set)
			n_threads = 4;
		r = run_threads(chunk_comparer);
		if (!r)
			printf("preader: %s and %s are identical (%" PRIu64 " bytes)\n", file_path,
			       ref_path, file_size);
		return r;
	}
	r = run_threads(random_reader);
	if (!r)
		printf("preader: %u threads, %" PRIu64 " reads of up to %" PRIu64
		       " bytes: all equal\n",
		       n_threads, (uint64_t)atomic_load(&ops_done), max_len);
	return r;
}
