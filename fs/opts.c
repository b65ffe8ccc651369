/* SPDX-License-Identifier: MIT */
/* Command-line options: see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTS_STR_(x) #x
#define OPTS_STR(x) OPTS_STR_(x)

enum { KEY_HELP, KEY_VERSION };

static const struct fuse_opt vmfs_opt_spec[] = {
	{ "cache_size=%s", offsetof(struct vmfs_opts, cache_size_str), 0 },
	{ "ignore_cid", offsetof(struct vmfs_opts, ignore_cid), 1 },
	{ "readahead_kb=%d", offsetof(struct vmfs_opts, readahead_kb), 0 },
	{ "verify", offsetof(struct vmfs_opts, verify), 1 },
	{ "network=%s", offsetof(struct vmfs_opts, network), 0 },
	{ "bridge=%s", offsetof(struct vmfs_opts, bridge), 0 },
	{ "virtio", offsetof(struct vmfs_opts, virtio), 1 },
	{ "--verify", offsetof(struct vmfs_opts, verify), 1 },
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct vmfs_opts *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (!o->source) {
			o->source = strdup(arg);
			return 0;
		}
		/* The mount point stays for libfuse, but we check it first so a bad one
		 * gets our one-line message rather than libfuse's. */
		if (!o->mountpoint)
			o->mountpoint = strdup(arg);
		return 1;
	default:
		return 1;
	}
}

int opts_parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

int opts_parse(struct fuse_args *args, struct vmfs_opts *o)
{
	if (fuse_opt_parse(args, o, vmfs_opt_spec, opt_proc) < 0)
		return -1;
	if (o->cache_size_str && opts_parse_size(o->cache_size_str, &o->cache_size) < 0) {
		fprintf(stderr, "vmfs-mount: -o cache_size=%s: not a size (e.g. 256M, 1G)\n",
			o->cache_size_str);
		return -1;
	}
	if (o->readahead_kb < 0 || o->readahead_kb > 65536) {
		fprintf(stderr, "vmfs-mount: -o readahead_kb=%d: must be 0 to 65536\n",
			o->readahead_kb);
		return -1;
	}
	return 0;
}

void opts_usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "\n"
	       "Mount a VMware disk or export read-only, converted on the fly:\n"
	       "  MOUNTPOINT/disk.raw    the guest disk as a raw image (holes where unallocated)\n"
	       "  MOUNTPOINT/disk.qcow2  the same disk as a qcow2 v3 image\n"
	       "  MOUNTPOINT/domain.xml  a libvirt domain for the VM (OVA/OVF, .vmx)\n"
	       "  MOUNTPOINT/source/     every file of an OVA/OVF export, read in place\n"
	       "  MOUNTPOINT/snapshots/NAME/  the same for each snapshot of a VM (.vmsd)\n"
	       "  (disk2.raw, ... for more disks; a directory per VM for several VMs)\n"
	       "\n"
	       "SOURCE: an .ova, an .ovf (or a directory holding one), a .vmx (or its VM\n"
	       "        directory), or a .vmdk (monolithicSparse, monolithicFlat,\n"
	       "        twoGbMaxExtent*, streamOptimized, ESXi vmfs descriptor with its\n"
	       "        -flat.vmdk, a descriptor of mixed extents; snapshot deltas over their\n"
	       "        parents)\n"
	       "\n"
	       "options:\n"
	       "  -h, --help             print this help and exit\n"
	       "  -V, --version          print the version and exit\n"
	       "  -f                     stay in the foreground\n"
	       "  -d                     debug output (implies -f)\n"
	       "  -s                     single-threaded\n"
	       "  -o cache_size=SIZE     decoded-block cache size (default 256M; K, M, G suffixes)\n"
	       "  -o readahead_kb=N      kernel readahead for the mount in KiB (default "
	       OPTS_STR(OPTS_DEFAULT_READAHEAD_KB) ";\n"
	       "                         0: the kernel's own; raising it needs root)\n"
	       "  --verify, -o verify    check every file against the export's manifest (.mf)\n"
	       "                         before mounting; refuse to mount on a mismatch\n"
	       "  -o ignore_cid          accept a parent disk whose CID does not match\n"
	       "  -o network=NAME        domain.xml: NICs on libvirt network NAME (default: default)\n"
	       "  -o bridge=BR           domain.xml: NICs on host bridge BR instead\n"
	       "  -o virtio              domain.xml: virtio disks and NICs (the guest needs drivers)\n"
	       "  -o allow_other         let other users read the mount\n"
	       "  -o max_threads=N       FUSE worker threads (default 10)\n"
	       "\n"
	       "Unmount with: fusermount3 -u MOUNTPOINT\n",
	       prog);
}
