/* SPDX-License-Identifier: MIT */
/* STUB: being written. */
extern int vmfs_stub_unused;
