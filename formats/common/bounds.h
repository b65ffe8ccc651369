/* SPDX-License-Identifier: MIT */
/*
 * Overflow-checked arithmetic and range checks for numbers that come from files.
 * Every offset, length and count read from an input goes through one of these before
 * it is used to index, allocate or seek.
 */
#ifndef VMFS_BOUNDS_H
#define VMFS_BOUNDS_H

#include <stdbool.h>
#include <stdint.h>

/* *r = a + b; true when that overflowed the type of *r. */
#define CHECKED_ADD(a, b, r) __builtin_add_overflow((a), (b), (r))
/* *r = a * b; true when that overflowed the type of *r. */
#define CHECKED_MUL(a, b, r) __builtin_mul_overflow((a), (b), (r))

/* True when [off, off + len) lies inside [0, size), without overflow. */
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Round up to a multiple of align (a power of two); the caller checked it fits. */
static inline uint64_t round_up_pow2(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static inline bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

#define DIV_ROUND_UP(a, b) (((a) + (b) - 1) / (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
