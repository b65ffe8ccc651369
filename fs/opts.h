/* SPDX-License-Identifier: MIT */
/*
 * Command-line options: vmfs-mount's own (-o cache_size=, --help, --version) are taken
 * out of the argument list; the rest (-f, -d, -o allow_other, ...) go to libfuse.
 */
#ifndef VMFS_OPTS_H
#define VMFS_OPTS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

/* Enough 1 MiB requests in flight to keep every core of a small machine inflating. */
#define OPTS_DEFAULT_READAHEAD_KB 4096

struct vmfs_opts {
	char *source;	      /* first non-option argument */
	char *mountpoint;     /* second, as given (libfuse gets it too) */
	char *cache_size_str; /* -o cache_size= as given */
	uint64_t cache_size;
	int ignore_cid;
	int verify; /* --verify / -o verify: check the manifest before serving */
	char *network; /* -o network=NAME for domain.xml */
	char *bridge;  /* -o bridge=BR for domain.xml */
	int virtio;    /* -o virtio */
	int show_help;
	int show_version;
	int readahead_kb; /* -o readahead_kb= : kernel readahead window for the mount, 0 = the
			   * kernel's own; the caller sets the default */
};

/* Parse argv into o, leaving libfuse's own arguments in args. 0, or -1 after printing one
 * line saying what was wrong. */
int opts_parse(struct fuse_args *args, struct vmfs_opts *o);

/* Parse a size with an optional K/M/G/T suffix (powers of 1024). 0 or -EINVAL. */
int opts_parse_size(const char *s, uint64_t *ret);

/* Print usage to stdout. */
void opts_usage(const char *prog);

#endif
