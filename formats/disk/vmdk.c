/* SPDX-License-Identifier: MIT */
/* STUB: being written. */
#include "vmdk.h"
#include <errno.h>
bool vmdk_probe(const void *head, size_t len) { (void)head; (void)len; return true; }
int vmdk_open(struct source *src, const struct vmdk_opts *o, struct disk **ret, struct err *err)
{ (void)o; return vmdk_sparse_open(src, src->name, ret, err); }
int vmdk_open_path(const char *path, const struct vmdk_opts *o, struct disk **ret, struct err *err)
{ struct source *s; int r = source_file_open(path, NULL, &s, err); if (r < 0) return r; r = vmdk_open(s, o, ret, err); source_unref(s); return r; }
const struct vmdk_desc *vmdk_get_desc(struct disk *d) { (void)d; return NULL; }
