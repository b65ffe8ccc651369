/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz harness shares.  A harness is one body, FUZZ_TARGET(ident, "name"),
 * built two ways: under libFuzzer (-Dfuzzing=true, build-fuzz/) the body is
 * LLVMFuzzerTestOneInput; in the ordinary builds it is a static function registered with
 * the replay driver (replay.c), so that one program, tests/test-fuzz-replay, runs every
 * harness over its regression files and seed corpus in tools/test, plain and sanitized.
 *
 * A harness returns 0 and must not leak, whatever the input.  FUZZ_CHECK states what the
 * code under test promises (a checked property, not a parser's verdict on the input); a
 * broken promise prints the reason and aborts, which libFuzzer records as a crash.
 */
#ifndef VMFS_FUZZ_H
#define VMFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

#ifdef FUZZ_REPLAY
/* Register a harness body with the replay driver under name (a tests/fuzz/regressions/
 * subdirectory and a seed corpus name). */
void fuzz_register(const char *name, fuzz_fn fn);

#define FUZZ_TARGET(ident, name)                                                                   \
	static int fuzz_one_##ident(const uint8_t *data, size_t size);                             \
	__attribute__((constructor)) static void fuzz_register_##ident(void)                       \
	{                                                                                          \
		fuzz_register(name, fuzz_one_##ident);                                             \
	}                                                                                          \
	static int fuzz_one_##ident(const uint8_t *data, size_t size)
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET(ident, name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__,      \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A small deterministic generator: harnesses draw read offsets and lengths from it, seeded
 * by the input, so that a crash replays exactly. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	return h;
}

static inline uint64_t fuzz_rand(uint64_t *state)
{
	uint64_t x = *state += 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
