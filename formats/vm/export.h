/* SPDX-License-Identifier: MIT */
/*
 * An export: whatever the user pointed vmfs-mount at (a .vmdk, an .ova, an .ovf or a
 * directory holding one; .vmx and VM directories in a later layer), opened, probed and turned into a flat list of
 * virtual files ("disk.raw", "source/vm.ovf", "vm2/disk.raw") each backed by a view.
 * The FUSE front end builds its tree from that list and needs no format knowledge.
 * Opening runs single-threaded, before the FUSE loop; the views it returns are then
 * thread-safe.
 */
#ifndef VMFS_EXPORT_H
#define VMFS_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cache/cache.h"
#include "../common/err.h"
#include "../view/view.h"

#define EXPORT_DEFAULT_CACHE_SIZE (256ull << 20)

struct export_opts {
	uint64_t cache_size; /* bytes of decoded blocks kept; 0 = default */
	bool ignore_cid;     /* accept a parent whose CID does not match */
	bool verify;	     /* check files against the manifest before serving */
	const char *mountpoint; /* absolute; domain.xml names disks under it */
	const char *network; /* libvirt network for NICs, NULL: "default" */
	const char *bridge;  /* a host bridge for NICs instead of a network */
	bool virtio;	     /* virtio disks and NICs in domain.xml */
};

struct export_file {
	char *path; /* relative, '/'-separated, no empty or dot components */
	struct view *view;
};

struct vm_package;

struct export {
	char *name; /* the source as the user named it */
	const char *format; /* "vmdk" ... */
	struct export_file *files;
	size_t n_files;
	struct cache *cache;
	struct vm_package *package; /* the VMs an OVF describes, or NULL */
};

/* Probe path and open it with the best-matching format. One export to the caller
 * (export_free). 0 or -errno with err set to one line naming the file and structure. */
int export_open(const char *path, const struct export_opts *o, struct export **ret,
		struct err *err);

/* Free an export and drop its views (NULL is a no-op). */
void export_free(struct export *e);

/* Append a file at path backed by view (takes its own reference). 0 or -errno. */
int export_add_file(struct export *e, const char *path, struct view *view, struct err *err);

#endif
