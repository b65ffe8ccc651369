/* SPDX-License-Identifier: MIT */
/* STUB: being written. */
#include "vmdk.h"
#include <errno.h>
int vmdk_sparse_open(struct source *src, const char *name, struct disk **ret, struct err *err)
{ return disk_flat_new(src, 0, src->size, name, ret, err); }
int vmdk_sparse_read_descriptor(struct source *src, char **ret, size_t *ret_len, struct err *err)
{ (void)src; (void)ret; (void)ret_len; (void)err; return -ENOENT; }
