/* SPDX-License-Identifier: MIT */
/*
 * The VMware .vmx configuration file (`key = "value"` lines) turned into the VM model:
 * name, uuid, memory, CPUs, firmware, storage controllers, disks, CD-ROMs and floppies,
 * NICs, video, sound and serial ports, plus every key that survived, verbatim, in
 * vm->extra.  Parsing is pure (no I/O): the caller reads the file and hands over its
 * text.  Mount-time only; no shared state, so separate calls may run in parallel.
 */
#ifndef VMFS_VMX_H
#define VMFS_VMX_H

#include <stddef.h>

#include "../common/err.h"
#include "vm.h"

/* Caps on what a .vmx may hold; see vmx.c for the reasons. */
#define VMX_MAX_BYTES (4u << 20)
#define VMX_MAX_LINES 100000u
#define VMX_MAX_LINE 65536u
#define VMX_MAX_VCPUS 4096u

/* Parse the .vmx text[0..len) named name into a new VM (free it with vm_free). 0 or
 * -errno with err naming the file and line: -EINVAL malformed, -EFBIG over a cap,
 * -ENOTSUP an .encoding we do not convert or a device we cannot describe, -ENOMEM. */
int vmx_parse(const char *text, size_t len, const char *name, struct vm **ret, struct err *err);

/* The value of key (case-insensitive) in a VM that vmx_parse() built, or NULL when the
 * file did not set it or a "X.present = FALSE" removed it.  Borrowed from vm->extra. */
const char *vmx_value(const struct vm *vm, const char *key);

#endif
