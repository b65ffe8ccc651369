/* SPDX-License-Identifier: MIT */
/*
 * The .vmsd file beside a .vmx: VMware's list of the VM's snapshots, each with the disk
 * files that hold its state (the parents of today's deltas) and the node each disk sits
 * on.  Parsing is pure (no I/O): the caller reads the file and hands over its text.
 * Mount-time only; separate calls may run in parallel.
 */
#ifndef VMFS_VMSD_H
#define VMFS_VMSD_H

#include <stddef.h>

#include "../common/err.h"
#include "vm.h"

/* Caps; see vmsd.c for the reasons. */
#define VMSD_MAX_SNAPSHOTS 256u
#define VMSD_MAX_DISKS 64u
#define VMSD_MAX_DIR_NAME 64u

/* One disk of a snapshot. */
struct vmsd_disk {
	char *file;	/* snapshotN.diskM.fileName as written: relative, or an absolute
			   datastore path; never with a ".." component */
	enum vm_bus bus; /* from snapshotN.diskM.node ("scsi0:1") */
	unsigned ctl, unit;
};

/* One snapshot, in file order. */
struct vmsd_snapshot {
	char *uid;	   /* snapshotN.uid, unique in the file */
	char *name;	   /* snapshotN.displayName, or NULL */
	char *dir;	   /* a directory name made from it: no '/', no leading '.', at most
			      VMSD_MAX_DIR_NAME bytes, unique among the snapshots */
	struct vmsd_disk *disks;
	size_t n_disks;
};

struct vmsd {
	struct vmsd_snapshot *snaps;
	size_t n;
};

/* Parse the .vmsd text[0..len) named name. One new struct to the caller (vmsd_free); an
 * empty file (VMware writes one for every VM) has no snapshots. 0 or -errno with err
 * naming the file, line and key: -EINVAL malformed, -EFBIG over a cap, -EPERM a file
 * name leaving the VM's directory, -ENOMEM. */
int vmsd_parse(const char *text, size_t len, const char *name, struct vmsd **ret,
	       struct err *err);

/* Free a parsed .vmsd (NULL is a no-op). */
void vmsd_free(struct vmsd *v);

#endif
