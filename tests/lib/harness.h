/* SPDX-License-Identifier: MIT */
/*
 * A small unit-test harness.  TEST(name) { ... } registers a test; main() (from
 * HARNESS_MAIN) runs them all, prints one line per test and "N passed, N failed", and
 * exits non-zero if any failed.  ASSERT_* stop the current test on failure and print
 * the expression, the values and the last err message.
 */
#ifndef VMFS_HARNESS_H
#define VMFS_HARNESS_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/common/err.h"

struct harness_test {
	const char *name;
	void (*fn)(void);
};

#define HARNESS_MAX_TESTS 512
extern struct harness_test harness_tests[HARNESS_MAX_TESTS];
extern unsigned harness_n_tests;
extern jmp_buf harness_jmp;
extern struct err harness_err; /* tests pass &harness_err (or E) to code under test */

#define E (&harness_err)

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		if (harness_n_tests < HARNESS_MAX_TESTS)                                           \
			harness_tests[harness_n_tests++] =                                         \
				(struct harness_test){ #name, test_##name };                       \
	}                                                                                          \
	static void test_##name(void)

#define HARNESS_FAIL(...)                                                                          \
	do {                                                                                       \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                  \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		if (harness_err.code)                                                              \
			fprintf(stderr, "  err: %s\n", harness_err.msg);                           \
		longjmp(harness_jmp, 1);                                                           \
	} while (0)

#define ASSERT(expr)                                                                               \
	do {                                                                                       \
		if (!(expr))                                                                       \
			HARNESS_FAIL("ASSERT(%s) failed", #expr);                                  \
	} while (0)

/* expr must return >= 0. */
#define ASSERT_OK(expr)                                                                            \
	do {                                                                                       \
		long long r_ = (long long)(expr);                                                  \
		if (r_ < 0)                                                                        \
			HARNESS_FAIL("%s returned %lld (%s)", #expr, r_, strerror((int)-r_));      \
	} while (0)

#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			HARNESS_FAIL("%s == %s failed: %lld != %lld", #a, #b, a_, b_);             \
	} while (0)

#define ASSERT_U64_EQ(a, b)                                                                        \
	do {                                                                                       \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
		if (a_ != b_)                                                                      \
			HARNESS_FAIL("%s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, a_,   \
				     b_);                                                          \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
			HARNESS_FAIL("%s == %s failed: \"%s\" != \"%s\"", #a, #b,                  \
				     a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
	} while (0)

/* expr must fail with code (e.g. -EINVAL) and leave a message containing substr in E. */
#define ASSERT_ERR(expr, code, substr)                                                             \
	do {                                                                                       \
		err_clear(&harness_err);                                                           \
		long long r_ = (long long)(expr);                                                  \
		if (r_ != (long long)(code))                                                       \
			HARNESS_FAIL("%s returned %lld, expected %lld (%s)", #expr, r_,            \
				     (long long)(code), #code);                                    \
		if ((substr) && !strstr(harness_err.msg, (substr)))                                \
			HARNESS_FAIL("%s: message \"%s\" lacks \"%s\"", #expr, harness_err.msg,    \
				     (const char *)(substr));                                      \
	} while (0)

#define HARNESS_MAIN                                                                               \
	struct harness_test harness_tests[HARNESS_MAX_TESTS];                                      \
	unsigned harness_n_tests;                                                                  \
	jmp_buf harness_jmp;                                                                       \
	struct err harness_err;                                                                    \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static volatile unsigned passed, failed, i;                                        \
		for (i = 0; i < harness_n_tests; i++) {                                            \
			if (argc > 1 && strcmp(argv[1], harness_tests[i].name) != 0)              \
				continue;                                                          \
			err_clear(&harness_err);                                                   \
			if (setjmp(harness_jmp) == 0) {                                            \
				harness_tests[i].fn();                                             \
				printf("ok   %s\n", harness_tests[i].name);                        \
				passed++;                                                          \
			} else {                                                                   \
				printf("FAIL %s\n", harness_tests[i].name);                        \
				failed++;                                                          \
			}                                                                          \
		}                                                                                  \
		printf("%u passed, %u failed\n", passed, failed);                                  \
		return failed || passed == 0 ? 1 : 0;                                              \
	}

#endif
