/* SPDX-License-Identifier: MIT */
/*
 * OVF packages: an .ova (a tar, read in place) or a directory holding an .ovf and its
 * files.  Opening one parses the envelope, checks the References against what is there,
 * optionally verifies the manifest, and adds to the export one disk.raw/disk.qcow2 pair
 * per disk (a directory per VM when there are several) plus source/ with every member.
 * A VMware VM directory (a .vmx and its VMDKs) is opened here too: the same views and
 * domain.xml, from the .vmx, and for each snapshot its .vmsd lists, snapshots/NAME/ with
 * the snapshot's disks and a domain.xml of its own.
 */
#ifndef VMFS_PACKAGE_H
#define VMFS_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"

/* Scores for export probing: path is an .ova / an .ovf / a directory holding an .ovf. */
int package_probe_ova(const void *head, size_t len, const char *path, bool is_dir);
int package_probe_ovf(const void *head, size_t len, const char *path, bool is_dir);
int package_probe_dir(const void *head, size_t len, const char *path, bool is_dir);
int package_probe_vmx(const void *head, size_t len, const char *path, bool is_dir);

/* Open path (as probed) into e. 0 or -errno with err naming the file and structure. */
int package_open_ova(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err);
int package_open_ovf(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err);
int package_open_dir(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err);
/* A VMware VM: the .vmx at path, its disks opened beside it (snapshot chains followed),
 * domain.xml, and snapshots/NAME/ for each snapshot in the .vmsd beside it. */
int package_open_vmx(struct export *e, const char *path, const struct export_opts *o,
		     struct err *err);

#endif
