/* SPDX-License-Identifier: MIT */
/*
 * test-fuzz-replay: every fuzz harness body, without libFuzzer, run over the inputs that
 * matter between fuzzing sessions: the regression files of tests/fuzz/regressions/NAME/
 * (each a crash, hang or leak the fuzzer once found, now fixed) and the seed corpus
 * tools/fuzz starts from ($VMFS_FUZZ_SEEDS/NAME/, made by tests/fuzz/make-seeds).  In
 * the ASan+UBSan build this is where a regression would show; in the plain build the
 * harnesses' own checks still run.  A harness that breaks a promise aborts, after the
 * input's path is printed; otherwise one line per harness and "N passed, N failed" (a
 * harness is one case).
 *
 *   test-fuzz-replay [NAME] [FILE...]   only harness NAME; only the given files
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define MAX_HARNESSES 32
/* Bigger inputs are not fuzzer inputs (every -max_len in tools/fuzz is far below). */
#define REPLAY_MAX_INPUT (4u << 20)

struct harness {
	const char *name;
	fuzz_fn fn;
};

static struct harness harnesses[MAX_HARNESSES];
static size_t n_harnesses;

/* The input being replayed, for the report when a harness dies. */
static char current[4096];

void fuzz_register(const char *name, fuzz_fn fn)
{
	if (n_harnesses < MAX_HARNESSES)
		harnesses[n_harnesses++] = (struct harness){ name, fn };
}

static void say_current(void)
{
	static const char pre[] = "FAIL replaying ";
	static volatile sig_atomic_t said;
	size_t n = strnlen(current, sizeof(current));

	/* async-signal-safe: write(2) of what is already formatted; once, though a
	 * sanitizer's death callback may be followed by its abort() */
	if (said || !n)
		return;
	said = 1;
	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 ||
	    write(STDERR_FILENO, current, n) < 0 || write(STDERR_FILENO, "\n", 1) < 0)
		return;
}

static void on_fatal_signal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Sanitizers end the process their own way; ask them to say which input it was. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static int replay_file(const struct harness *h, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX_INPUT);
	if (!buf) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	snprintf(current, sizeof(current), "%s (harness %s)", path, h->name);
	/* An exact-size copy, so that ASan sees a read past the input. */
	{
		uint8_t *in = malloc(n ? n : 1);

		if (!in) {
			free(buf);
			return -1;
		}
		memcpy(in, buf, n);
		free(buf);
		h->fn(in, n);
		free(in);
	}
	current[0] = '\0';
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir (sorted, dot files skipped); the count, or -1. */
static int replay_dir(const struct harness *h, const char *dir)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int done = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				abort();
		}
		names[n] = strdup(de->d_name);
		if (!names[n++])
			abort();
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[8192];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && done >= 0)
			done = replay_file(h, path) < 0 ? -1 : done + 1;
		free(names[i]);
	}
	free(names);
	return done;
}

/* tests/fuzz/regressions, found from this file's name as the compiler gave it (relative
 * to the build directory under meson, where the tests run) unless the environment says. */
static void regressions_dir(char *buf, size_t size)
{
	const char *env = getenv("VMFS_FUZZ_REGRESSIONS");
	const char *slash = strrchr(__FILE__, '/');

	if (env && *env)
		snprintf(buf, size, "%s", env);
	else
		snprintf(buf, size, "%.*sregressions", slash ? (int)(slash - __FILE__ + 1) : 0,
			 __FILE__);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	const char *seeds = getenv("VMFS_FUZZ_SEEDS");
	unsigned passed = 0, failed = 0;
	char regs[4096];
	struct stat st;

	/* FUZZ_CHECK aborts; under a sanitizer its own fatal-signal handlers stay, and it
	 * calls back before it ends the process. */
	signal(SIGABRT, on_fatal_signal);
	if (__sanitizer_set_death_callback) {
		__sanitizer_set_death_callback(say_current);
	} else {
		signal(SIGSEGV, on_fatal_signal);
		signal(SIGBUS, on_fatal_signal);
		signal(SIGFPE, on_fatal_signal);
	}
	regressions_dir(regs, sizeof(regs));
	if (stat(regs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("FAIL no regression directory at %s (set VMFS_FUZZ_REGRESSIONS)\n", regs);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (!seeds || !*seeds)
		printf("  no seed corpus (set VMFS_FUZZ_SEEDS; tests/fuzz/make-seeds makes one): "
		       "regression files only\n");

	for (size_t i = 0; i < n_harnesses; i++) {
		const struct harness *h = &harnesses[i];
		char dir[sizeof(regs) + 64];
		int nr, ns = 0;

		if (only && strcmp(only, h->name) != 0)
			continue;
		if (argc > 2) {
			for (int a = 2; a < argc; a++)
				if (replay_file(h, argv[a]) < 0)
					failed++;
			passed++;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", regs, h->name);
		nr = replay_dir(h, dir);
		if (seeds && *seeds) {
			snprintf(dir, sizeof(dir), "%s/%s", seeds, h->name);
			ns = replay_dir(h, dir);
		}
		if (nr < 0 || ns < 0) {
			printf("FAIL %s: cannot read its inputs\n", h->name);
			failed++;
		} else {
			printf("ok   %s (%d regressions, %d seeds)\n", h->name, nr, ns);
			passed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed || passed == 0 ? 1 : 0;
}
