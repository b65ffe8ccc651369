/* SPDX-License-Identifier: MIT */
/*
 * VMDK disks from descriptors: extents end to end through a resolver, the default
 * resolver's confinement to the descriptor's directory, and the refusals a user meets
 * (snapshot deltas, raw device maps, a sparse header that disagrees with its extent
 * line).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../formats/disk/vmdk.h"
#include "../lib/harness.h"

HARNESS_MAIN

/* A resolver over named in-memory files. */
struct memfs {
	const char *names[4];
	struct source *srcs[4];
	unsigned opened;
};

static int memfs_open(void *opaque, const char *file, struct source **ret, struct err *err)
{
	struct memfs *m = opaque;

	for (int i = 0; i < 4 && m->names[i]; i++)
		if (strcmp(m->names[i], file) == 0) {
			m->opened++;
			*ret = source_ref(m->srcs[i]);
			return 0;
		}
	return err_set(err, ENOENT, "%s: no such file", file);
}

static struct source *pattern(size_t len, unsigned seed, const char *name)
{
	unsigned char *p = malloc(len);
	struct source *s;

	ASSERT(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 13 + (i >> 9));
	ASSERT_OK(source_mem_new(p, len, name, &s, E));
	free(p);
	return s;
}

static struct source *text(const char *t, const char *name)
{
	struct source *s;

	ASSERT_OK(source_mem_new(t, strlen(t), name, &s, E));
	return s;
}

TEST(probe)
{
	ASSERT(vmdk_probe("KDMV\1\0\0\0", 8));
	ASSERT(vmdk_probe("COWD", 4));
	ASSERT(vmdk_probe("# Disk DescriptorFile\nversion=1\n", 32));
	ASSERT(!vmdk_probe("<?xml version=\"1.0\"?><Envelope/>", 32));
	ASSERT(!vmdk_probe("\0\0\0\0\0\0\0\0", 8));
	/* qemu's descriptor files are NUL-padded to a sector. */
	ASSERT(vmdk_probe("# Disk DescriptorFile\ncreateType=\"vmfs\"\n\0\0\0\0", 45));
	/* A tar (an .ova) holding a VMDK whose descriptor text shows in the first block. */
	ASSERT(!vmdk_probe("guest.ovf\0\0\0ustar\0KDMV\0createType=\"streamOptimized\"", 50));
}

TEST(flat_zero_flat_end_to_end)
{
	struct source *a = pattern(8192, 1, "a b.raw"), *b = pattern(4096, 2, "b.raw");
	struct memfs m = { { "a b.raw", "b.raw" }, { a, b }, 0 };
	struct vmdk_opts o = { .open_file = memfs_open, .opaque = &m };
	struct source *d = text("# Disk DescriptorFile\nversion=1\nCID=12345678\n"
				"parentCID=ffffffff\ncreateType=\"custom\"\n"
				"RW 4 FLAT \"a b.raw\" 2\nRW 8 ZERO\nRDONLY 8 FLAT \"b.raw\"\n"
				"ddb.adapterType = \"lsilogic\"\n",
				"d.vmdk");
	unsigned char want[10240], got[10240], ab[8192], bb[4096];
	struct disk *disk;
	struct disk_run run;

	ASSERT_OK(source_pread(a, ab, sizeof(ab), 0));
	ASSERT_OK(source_pread(b, bb, sizeof(bb), 0));
	memcpy(want, ab + 1024, 2048);
	memset(want + 2048, 0, 4096);
	memcpy(want + 6144, bb, 4096);
	ASSERT_OK(vmdk_open(d, &o, &disk, E));
	ASSERT_EQ(m.opened, 2u);
	ASSERT_U64_EQ(disk->size, 10240);
	ASSERT_OK(disk_read(disk, got, sizeof(got), 0));
	ASSERT(memcmp(want, got, sizeof(got)) == 0);
	ASSERT_OK(disk_read(disk, got, 3000, 1500));
	ASSERT(memcmp(want + 1500, got, 3000) == 0);
	ASSERT_OK(disk_status(disk, 2048, 10240 - 2048, &run));
	ASSERT_EQ(run.state, DISK_ZERO);
	ASSERT_U64_EQ(run.len, 4096);
	ASSERT_OK(disk_status(disk, 6144 + 100, 10, &run));
	ASSERT_EQ(run.state, DISK_DATA);
	ASSERT(run.src == b);
	ASSERT_U64_EQ(run.src_off, 100);
	ASSERT_STREQ(vmdk_desc_get(vmdk_get_desc(disk), "ddb.adapterType"), "lsilogic");
	disk_unref(disk);
	source_unref(a);
	source_unref(b);
	source_unref(d);
}

TEST(refusals_name_the_structure)
{
	struct source *a = pattern(4096, 1, "f.raw");
	struct memfs m = { { "f.raw" }, { a }, 0 };
	struct vmdk_opts o = { .open_file = memfs_open, .opaque = &m };
	static const struct {
		const char *desc, *want;
		int code;
	} cases[] = {
		{ "createType=\"vmfsSparse\"\nRW 8 VMFSSPARSE \"f.raw\"\n", "f.raw: not a COWD",
		  EINVAL },
		{ "createType=\"monolithicFlat\"\nparentCID=abcdef01\nRW 8 FLAT \"f.raw\"\n",
		  "no parentFileNameHint", EINVAL },
		{ "createType=\"vmfsRawDeviceMap\"\nRW 8 VMFSRDM \"f.raw\"\n", "RDM", ENOTSUP },
		{ "createType=\"fancy\"\nRW 8 FLAT \"f.raw\"\n", "fancy", ENOTSUP },
		{ "createType=\"monolithicFlat\"\nRW 9 FLAT \"f.raw\"\n", "f.raw", EINVAL },
		{ "createType=\"monolithicFlat\"\nRW 8 FLAT \"f.raw\" 1\n", "f.raw", EINVAL },
		{ "createType=\"monolithicFlat\"\nRW 8 FLAT \"missing.raw\"\n", "missing.raw",
		  ENOENT },
		{ "createType=\"monolithicSparse\"\nRW 8 SPARSE \"f.raw\"\n", "f.raw", EINVAL },
		{ "createType=\"monolithicFlat\"\nNOACCESS 8 FLAT \"f.raw\"\n", "NOACCESS", ENOTSUP },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct source *d = text(cases[i].desc, "x.vmdk");
		struct disk *disk = NULL;
		int r;

		err_clear(E);
		r = vmdk_open(d, &o, &disk, E);
		if (r != -cases[i].code || !strstr(E->msg, cases[i].want))
			HARNESS_FAIL("case %zu: r=%d msg \"%s\", want -%d and \"%s\"", i, r, E->msg,
				     cases[i].code, cases[i].want);
		source_unref(d);
	}
	source_unref(a);
}

TEST(not_a_vmdk)
{
	struct source *s = text("hello, world\n", "hello.vmdk");
	struct disk *d;

	ASSERT_ERR(vmdk_open(s, NULL, &d, E), -EINVAL, "hello.vmdk: not a VMDK");
	source_unref(s);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT(fd >= 0);
	ASSERT((size_t)write(fd, data, len) == len);
	close(fd);
}

static void write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

TEST(default_resolver_stays_in_the_directory)
{
	char dir[] = "/tmp/test-vmdk-XXXXXX", p[256], q[256];
	static char zeros[4096];
	struct disk *d;

	ASSERT(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/sub", dir);
	ASSERT(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/outside.raw", dir);
	write_file(p, zeros, sizeof(zeros));
	snprintf(p, sizeof(p), "%s/sub/in.raw", dir);
	write_file(p, zeros, sizeof(zeros));

	snprintf(q, sizeof(q), "%s/sub/ok.vmdk", dir);
	write_str(q, "createType=\"monolithicFlat\"\nRW 8 FLAT \"in.raw\"\n");
	ASSERT_OK(vmdk_open_path(q, NULL, &d, E));
	ASSERT_U64_EQ(d->size, 4096);
	disk_unref(d);

	snprintf(q, sizeof(q), "%s/sub/up.vmdk", dir);
	write_str(q, "createType=\"monolithicFlat\"\nRW 8 FLAT \"../outside.raw\"\n");
	ASSERT_ERR(vmdk_open_path(q, NULL, &d, E), -EPERM, "leaves the descriptor's directory");
	err_clear(E);
	snprintf(q, sizeof(q), "%s/sub/abs.vmdk", dir);
	write_str(q, "createType=\"monolithicFlat\"\nRW 8 FLAT \"/etc/passwd\"\n");
	ASSERT_ERR(vmdk_open_path(q, NULL, &d, E), -EPERM, "/etc/passwd");

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	ASSERT(system(p) == 0);
}
