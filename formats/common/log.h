/* SPDX-License-Identifier: MIT */
/*
 * Logging from the read path.  FUSE worker threads have no struct err to fill: they
 * return -EIO and call log_corrupt_once(), which prints one line per (object, key) pair
 * so a damaged grain read a thousand times is reported once, not a thousand times.
 */
#ifndef VMFS_LOG_H
#define VMFS_LOG_H

#include <stdbool.h>

/* Print "vmfs-mount: <name>: <message>" to stderr unless this (name, key) pair was already
 * reported. Thread-safe. */
void log_corrupt_once(const char *name, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print a debug line to stderr when debugging was enabled with log_set_debug(). */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Enable or disable log_debug() output. */
void log_set_debug(bool on);

#endif
