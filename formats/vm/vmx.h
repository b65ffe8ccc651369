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

#include <stdbool.h>
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

/* A file in the .vmx syntax read as plain settings, without the device model: a .vmsd.
 * Escapes undone, values in UTF-8 (.encoding), the last of equal keys winning, under the
 * same caps as vmx_parse. */
struct vmx_kv;

/* Parse text[0..len) named name. One new object to the caller (vmx_kv_free). 0 or -errno
 * with err naming the file and line (-EINVAL, -EFBIG, -ENOTSUP, -ENOMEM). */
int vmx_kv_parse(const char *text, size_t len, const char *name, struct vmx_kv **ret,
		 struct err *err);

/* The value of key (case-insensitive), or NULL; *ret_line (may be NULL) gets the line
 * that set it. Borrowed from kv. */
const char *vmx_kv_get(const struct vmx_kv *kv, const char *key, unsigned *ret_line);

/* Free what vmx_kv_parse returned (NULL is a no-op). */
void vmx_kv_free(struct vmx_kv *kv);

/* A device node as VMware writes it ("scsi0:1", "sata0:2", "ide1:0", "nvme0:3"), in the
 * ranges vmx_parse accepts: true with its bus, controller and unit, else false. */
bool vmx_parse_node(const char *node, enum vm_bus *ret_bus, unsigned *ret_ctl,
		    unsigned *ret_unit);

#endif
