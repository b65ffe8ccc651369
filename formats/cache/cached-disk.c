/* SPDX-License-Identifier: MIT */
/* STUB: being written. */
#include "cache.h"
int cache_wrap(struct cache *c, struct disk *inner, struct disk **ret, struct err *err) { (void)c; (void)err; *ret = disk_ref(inner); return 0; }
