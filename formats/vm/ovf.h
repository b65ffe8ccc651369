/* SPDX-License-Identifier: MIT */
/*
 * The OVF envelope (DMTF DSP0243 0.9, 1.x and 2.x, as VMware, VirtualBox, vCloud and others
 * write it) turned into the VM model: the package's files (References), its disks
 * (DiskSection) and one struct vm per VirtualSystem, collections flattened.  Parsing is
 * pure (no I/O): the caller reads the descriptor, caps it and hands over its text.
 * libxml2 runs with network access, DTD loading and entity substitution off; a document
 * that declares entities is refused.  Mount-time only, not thread-safe (libxml2 error
 * handlers are per thread and are swapped during the parse).
 */
#ifndef VMFS_OVF_H
#define VMFS_OVF_H

#include <stddef.h>

#include "../common/err.h"
#include "vm.h"

/* Caps on what a descriptor may declare; see ovf.c for the reasons. */
#define OVF_MAX_BYTES (16u << 20)
#define OVF_MAX_MARKUP 262144u
#define OVF_MAX_FILES 4096u
#define OVF_MAX_DISKS 4096u
#define OVF_MAX_VMS 256u
#define OVF_MAX_ITEMS 1024u
#define OVF_MAX_EXTRA 4096u
#define OVF_MAX_VCPUS 4096u

/* Parse the OVF envelope text[0..len) named name. 0 or -errno with err naming the file and
 * element. On success *ret is a package the caller frees with vm_package_free(). */
int ovf_parse(const char *text, size_t len, const char *name, struct vm_package **ret,
	      struct err *err);

#endif
