/* SPDX-License-Identifier: MIT */
/*
 * Reading test data, shared by the unit tests that check parsers against real files
 * (test-ovf, test-vmx, test-manifest, test-domain), which each used to carry a copy:
 * reading a whole file, naming a file of tests/data/<subdir> (or of the directory an
 * environment variable names), finding the shared corpus beside the repository, and
 * walking a tree for files of one extension.
 *
 * Default paths are made from the __FILE__ of the test that calls these (the macros below
 * pass it), i.e. tests/unit as the compiler named it: relative to the build directory
 * under meson, where the tests also run.  So the paths the tests print are as before.
 */
#ifndef VMFS_TESTDATA_H
#define VMFS_TESTDATA_H

#include <dirent.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "harness.h"

#define TESTDATA_UNUSED __attribute__((unused))

/* Read all of path into *ret (malloc'd, NUL-terminated) and its length into *len. */
TESTDATA_UNUSED static bool testdata_read(const char *path, char **ret, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return false;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return false;
	}
	buf = malloc(n + 1);
	if (!buf || fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return false;
	}
	buf[n] = '\0';
	fclose(f);
	*ret = buf;
	*len = n;
	return true;
}

/* The directory of file, the calling test's __FILE__ (one per test program). */
TESTDATA_UNUSED static const char *testdata_here_(const char *file)
{
	static char dir[1024];

	if (!dir[0]) {
		char tmp[1024];

		snprintf(tmp, sizeof(tmp), "%s", file);
		snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	}
	return dir;
}

/* $env_var/<rel> when env_var is set, else tests/data/<subdir>/<rel>. */
#define testdata_path(buf, size, env_var, subdir, rel)                                             \
	testdata_path_(__FILE__, buf, size, env_var, subdir, rel)

TESTDATA_UNUSED static void testdata_path_(const char *file, char *buf, size_t size,
					   const char *env_var, const char *subdir, const char *rel)
{
	const char *env = getenv(env_var);

	if (env && *env)
		snprintf(buf, size, "%s/%s", env, rel);
	else
		snprintf(buf, size, "%s/../data/%s/%s", testdata_here_(file), subdir, rel);
}

/* Where the shared corpus should be, into buf: $VMFS_CORPUS when set, else ../shared/corpus
 * beside the repository.  Returns whether VMFS_CORPUS is set. */
#define testdata_corpus_dir(buf, size) testdata_corpus_dir_(__FILE__, buf, size)

TESTDATA_UNUSED static bool testdata_corpus_dir_(const char *file, char *buf, size_t size)
{
	const char *env = getenv("VMFS_CORPUS");

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return true;
	}
	snprintf(buf, size, "%s/../../../shared/corpus", testdata_here_(file));
	return false;
}

/* The shared corpus directory, or NULL (after saying the test is skipped) when it is not
 * there; a test failure when VMFS_CORPUS names no directory. */
#define testdata_corpus() testdata_corpus_(__FILE__)

TESTDATA_UNUSED static const char *testdata_corpus_(const char *file)
{
	static char dir[4096];
	bool env = testdata_corpus_dir_(file, dir, sizeof(dir));
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (env)
			HARNESS_FAIL("VMFS_CORPUS=%s is not a directory", dir);
		printf("  shared corpus not found at %s: skipped (set VMFS_CORPUS)\n", dir);
		return NULL;
	}
	return dir;
}

/* Call fn(path, name, ctx) for every regular file under dir whose name ends in suffix
 * (any case), recursing at most max_depth levels; dot files and links are passed over. */
TESTDATA_UNUSED static void testdata_walk(const char *dir, const char *suffix, int max_depth,
					  void (*fn)(const char *path, const char *name, void *ctx),
					  void *ctx)
{
	size_t sl = strlen(suffix);
	struct dirent *de;
	DIR *d;

	if (max_depth < 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			testdata_walk(path, suffix, max_depth - 1, fn, ctx);
		else if (S_ISREG(st.st_mode) && n > sl && strcasecmp(de->d_name + n - sl, suffix) == 0)
			fn(path, de->d_name, ctx);
	}
	closedir(d);
}

#endif
