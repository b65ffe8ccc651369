/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup for locals (__attribute__((cleanup))), so early returns on bad
 * input cannot leak.  TAKE_PTR hands ownership out of such a local.
 */
#ifndef VMFS_CLEANUP_H
#define VMFS_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_unlockp(pthread_mutex_t **m)
{
	if (*m)
		pthread_mutex_unlock(*m);
}

#define CLEANUP_FREE __attribute__((cleanup(cleanup_freep)))

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) take_ptr_tmp_ = (p);                                                 \
		(p) = NULL;                                                                        \
		take_ptr_tmp_;                                                                     \
	})

#define LOCK_CONCAT2_(a, b) a##b
#define LOCK_CONCAT_(a, b) LOCK_CONCAT2_(a, b)
/* Lock m until the end of the enclosing scope. */
#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(m)                                                          \
	__attribute__((cleanup(cleanup_unlockp))) pthread_mutex_t *LOCK_CONCAT_(lock_, __LINE__) = \
		(pthread_mutex_lock(m), (m))

#endif
