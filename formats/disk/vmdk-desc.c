/* SPDX-License-Identifier: MIT */
/* STUB: being written. */
#include "vmdk.h"
#include <errno.h>
int vmdk_desc_parse(const char *text, size_t len, const char *name, struct vmdk_desc **ret,
		    struct err *err) { (void)text; (void)len; (void)ret; return err_set(err, ENOTSUP, "%s: stub", name); }
void vmdk_desc_free(struct vmdk_desc *d) { (void)d; }
const char *vmdk_desc_get(const struct vmdk_desc *d, const char *key) { (void)d; (void)key; return NULL; }
const char *vmdk_extent_type_name(enum vmdk_extent_type t) { (void)t; return "?"; }
