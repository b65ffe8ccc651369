/* SPDX-License-Identifier: MIT */
/*
 * Mount-time error reporting.  A fallible function that runs while the export is
 * opened takes a struct err * as its last parameter and, on failure, fills it with
 * one user-facing line that starts with the object's name and names the structure
 * that was wrong ("guest.ova:disk1.vmdk: grain table 7 points past end of file ...").
 * The errno-style code travels separately, as the function's return value.
 */
#ifndef VMFS_ERR_H
#define VMFS_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

struct err {
	int code;		/* positive errno, 0 when nothing was set */
	char msg[ERR_MSG_MAX];
};

/* Record code and a printf-style message in err (may be NULL); return -code. The first
 * message wins: a later err_set on an already-set err is ignored. */
int err_set(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Forget any recorded error. */
void err_clear(struct err *err);

#endif
