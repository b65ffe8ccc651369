/* SPDX-License-Identifier: MIT */
/*
 * domain.xml: the VM model rendered as a libvirt domain for KVM (libvirt 9.0, as in
 * Debian 12), its disks pointing at the mount's qcow2 views.  Whatever cannot be carried
 * over as the source says (a controller qemu lacks, a NIC model, a name libvirt refuses)
 * is replaced by the nearest working choice and an XML comment next to it says what and
 * why.  Mount-time only; not thread-safe (libxml2's writer).
 */
#ifndef VMFS_DOMAIN_H
#define VMFS_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "../vm/vm.h"

struct domain_opts {
	/* Absolute path of the mounted qcow2 view of vm->disks[i]; a NULL entry (or i past
	 * the end) leaves that disk out, with a comment. */
	const char *const *disk_paths;
	size_t n_disk_paths;
	/* Absolute path of the medium for vm->cdroms[i]; NULL: an empty drive. */
	const char *const *cdrom_paths;
	size_t n_cdrom_paths;
	const char *network; /* -o network=NAME; NULL: "default" */
	const char *bridge;  /* -o bridge=BR: a bridge interface instead of a network */
	bool virtio;	     /* -o virtio: virtio disks and NICs */
	bool transient;	     /* <transient/> on every disk */
	/* The display name of a snapshot of vm when vm holds its disks, else NULL: the
	 * domain is named "VM (snapshot NAME)", has no uuid (the VM's own domain has it) and
	 * says that its hardware is the VM's as it is now. */
	const char *snapshot;
};

/* Render vm as a libvirt domain XML document: *ret is malloc'd and NUL-terminated,
 * *ret_len its length without the NUL. 0 or -errno (-EINVAL for an unusable path in o,
 * -ENOMEM) with err set. */
int domain_render(const struct vm *vm, const struct domain_opts *o, char **ret, size_t *ret_len,
		  struct err *err);

#endif
