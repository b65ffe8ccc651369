/* SPDX-License-Identifier: MIT */
/*
 * The VMDK text descriptor parser: descriptors as qemu-img, VMware Workstation/ESXi and
 * other exporters write them, real ones from the shared corpus, every rejected shape with
 * its message, and a mutation loop that must neither crash nor leak (run it under ASan).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/disk/vmdk-desc.h"
#include "../lib/harness.h"

HARNESS_MAIN

static int parse(const char *text, struct vmdk_desc **d)
{
	return vmdk_desc_parse(text, strlen(text), "disk.vmdk", d, E);
}

/* Parse text, which must fail with code and a message containing substr. */
#define ASSERT_PARSE_ERR(text, code, substr)                                                       \
	do {                                                                                       \
		struct vmdk_desc *d_ = NULL;                                                       \
		ASSERT_ERR(parse(text, &d_), code, substr);                                        \
		ASSERT(d_ == NULL);                                                                \
		ASSERT(strncmp(harness_err.msg, "disk.vmdk: ", 11) == 0);                          \
	} while (0)

#define HEAD                                                                                       \
	"# Disk DescriptorFile\n"                                                                  \
	"version=1\n"                                                                              \
	"CID=12345678\n"                                                                           \
	"parentCID=ffffffff\n"                                                                     \
	"createType=\"monolithicFlat\"\n"                                                          \
	"\n"                                                                                       \
	"# Extent description\n"

/* As qemu-img create -f vmdk writes it (block/vmdk.c desc_template: CID with %x, so not
 * always 8 digits), embedded in sector 1 of a monolithicSparse file and NUL-padded. */
static const char qemu_sparse[] = "# Disk DescriptorFile\n"
				  "version=1\n"
				  "CID=5c1ab2\n"
				  "parentCID=ffffffff\n"
				  "createType=\"monolithicSparse\"\n"
				  "\n"
				  "# Extent description\n"
				  "RW 2097152 SPARSE \"test.vmdk\"\n"
				  "\n"
				  "# The Disk Data Base\n"
				  "#DDB\n"
				  "\n"
				  "ddb.virtualHWVersion = \"4\"\n"
				  "ddb.geometry.cylinders = \"2080\"\n"
				  "ddb.geometry.heads = \"16\"\n"
				  "ddb.geometry.sectors = \"63\"\n"
				  "ddb.adapterType = \"ide\"\n"
				  "ddb.toolsInstallType = \"4\"\n";

TEST(qemu_monolithic_sparse_embedded)
{
	/* 20 sectors, as qemu reserves; bytes after the first NUL must not be read as text. */
	char *buf = calloc(1, 20 * 512);
	struct vmdk_desc *d;

	memcpy(buf, qemu_sparse, strlen(qemu_sparse));
	memcpy(buf + 4096, "garbage that is not a descriptor\n", 33);
	ASSERT_OK(vmdk_desc_parse(buf, 20 * 512, "disk.vmdk", &d, E));
	free(buf);
	ASSERT_EQ(d->version, 1);
	ASSERT_U64_EQ(d->cid, 0x5c1ab2);
	ASSERT_U64_EQ(d->parent_cid, VMDK_CID_NONE);
	ASSERT_STREQ(d->create_type, "monolithicSparse");
	ASSERT(d->parent_hint == NULL);
	ASSERT_EQ(d->n_extents, 1);
	ASSERT_EQ(d->extents[0].access, VMDK_ACCESS_RW);
	ASSERT_U64_EQ(d->extents[0].sectors, 2097152);
	ASSERT_EQ(d->extents[0].type, VMDK_EXTENT_SPARSE);
	ASSERT_STREQ(d->extents[0].file, "test.vmdk");
	ASSERT_U64_EQ(d->extents[0].offset, 0);
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.adapterType"), "ide");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.geometry.cylinders"), "2080");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.toolsInstallType"), "4");
	ASSERT_STREQ(vmdk_desc_get(d, "createType"), "monolithicSparse");
	ASSERT(vmdk_desc_get(d, "ddb.uuid") == NULL);
	/* Every key = value line, in order. */
	ASSERT_EQ(d->n_kv, 10);
	ASSERT_STREQ(d->kv[0].key, "version");
	ASSERT_STREQ(d->kv[4].key, "ddb.virtualHWVersion");
	ASSERT_STREQ(d->kv[4].value, "4");
	ASSERT_STREQ(d->kv[9].key, "ddb.toolsInstallType");
	vmdk_desc_free(d);
}

TEST(two_gb_max_extent_sparse)
{
	struct vmdk_desc *d;
	uint64_t total = 0;

	ASSERT_OK(parse("# Disk DescriptorFile\n"
			"version=1\n"
			"CID=a1b2c3d4\n"
			"parentCID=ffffffff\n"
			"createType=\"twoGbMaxExtentSparse\"\n"
			"\n"
			"# Extent description\n"
			"RW 8323072 SPARSE \"win-s001.vmdk\"\n"
			"RW 8323072 SPARSE \"win-s002.vmdk\"\n"
			"RW 8323072 SPARSE \"win-s003.vmdk\"\n"
			"RW 20480 SPARSE \"win-s004.vmdk\"\n"
			"\n"
			"# The Disk Data Base \n"
			"#DDB\n"
			"\n"
			"ddb.adapterType = \"lsilogic\"\n"
			"ddb.geometry.cylinders = \"1556\"\n"
			"ddb.geometry.heads = \"255\"\n"
			"ddb.geometry.sectors = \"63\"\n"
			"ddb.longContentID = \"2f4c1a1e8b7d40a3e0c9b3a6a1b2c3d4\"\n"
			"ddb.uuid = \"60 00 C2 9a 4d 2b 5e 7f-8e 19 a3 c2 b4 d5 e6 f7\"\n"
			"ddb.virtualHWVersion = \"8\"\n",
			&d));
	ASSERT_STREQ(d->create_type, "twoGbMaxExtentSparse");
	ASSERT_U64_EQ(d->cid, 0xa1b2c3d4);
	ASSERT_EQ(d->n_extents, 4);
	for (size_t i = 0; i < d->n_extents; i++) {
		char want[32];

		snprintf(want, sizeof(want), "win-s%03zu.vmdk", i + 1);
		ASSERT_STREQ(d->extents[i].file, want);
		ASSERT_EQ(d->extents[i].type, VMDK_EXTENT_SPARSE);
		total += d->extents[i].sectors;
	}
	ASSERT_U64_EQ(total, 3 * 8323072ull + 20480);
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.uuid"),
		     "60 00 C2 9a 4d 2b 5e 7f-8e 19 a3 c2 b4 d5 e6 f7");
	vmdk_desc_free(d);
}

/* As ESXi writes the descriptor of a thin disk beside its -flat.vmdk. */
TEST(esxi_vmfs_with_flat_and_ddb)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse("# Disk DescriptorFile\n"
			"version=1\n"
			"encoding=\"UTF-8\"\n"
			"CID=fffffffe\n"
			"parentCID=ffffffff\n"
			"isNativeSnapshot=\"no\"\n"
			"createType=\"vmfs\"\n"
			"\n"
			"# Extent description\n"
			"RW 33554432 VMFS \"Web Server 01-flat.vmdk\"\n"
			"\n"
			"# The Disk Data Base\n"
			"#DDB\n"
			"\n"
			"ddb.adapterType = \"lsilogic\"\n"
			"ddb.deletable = \"true\"\n"
			"ddb.encoding = \"UTF-8\"\n"
			"ddb.geometry.cylinders = \"2088\"\n"
			"ddb.geometry.heads = \"255\"\n"
			"ddb.geometry.sectors = \"63\"\n"
			"ddb.longContentID = \"1d6e3b0f3c1b2a8fd1c4e5f6fffffffe\"\n"
			"ddb.thinProvisioned = \"1\"\n"
			"ddb.toolsInstallType = \"4\"\n"
			"ddb.toolsVersion = \"10346\"\n"
			"ddb.uuid = \"60 00 C2 9b 8a 1c 2d 3e-4f 50 61 72 83 94 a5 b6\"\n"
			"ddb.virtualHWVersion = \"13\"\n"
			"changeTrackPath=\"Web Server 01-ctk.vmdk\"\n",
			&d));
	ASSERT_STREQ(d->create_type, "vmfs");
	ASSERT_U64_EQ(d->cid, 0xfffffffe);
	ASSERT_EQ(d->n_extents, 1);
	ASSERT_EQ(d->extents[0].type, VMDK_EXTENT_VMFS);
	ASSERT_STREQ(d->extents[0].file, "Web Server 01-flat.vmdk");
	ASSERT_U64_EQ(d->extents[0].offset, 0);
	ASSERT_U64_EQ(d->extents[0].sectors, 33554432);
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.geometry.heads"), "255");
	ASSERT_STREQ(vmdk_desc_get(d, "DDB.GEOMETRY.SECTORS"), "63");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.thinProvisioned"), "1");
	ASSERT_STREQ(vmdk_desc_get(d, "isNativeSnapshot"), "no");
	ASSERT_STREQ(vmdk_desc_get(d, "encoding"), "UTF-8");
	ASSERT_STREQ(vmdk_desc_get(d, "changeTrackPath"), "Web Server 01-ctk.vmdk");
	vmdk_desc_free(d);
}

TEST(monolithic_flat_offsets)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse(HEAD "RW 1024 FLAT \"a.raw\" 0\n"
			     "RDONLY 2048 FLAT \"b.raw\" 100\n"
			     "NOACCESS 16 FLAT \"c.raw\"\n"
			     "RW 8 VMFS \"d.raw\" 18014398509481984\n",
			&d));
	ASSERT_EQ(d->n_extents, 4);
	ASSERT_EQ(d->extents[0].access, VMDK_ACCESS_RW);
	ASSERT_U64_EQ(d->extents[0].offset, 0);
	ASSERT_EQ(d->extents[1].access, VMDK_ACCESS_RDONLY);
	ASSERT_U64_EQ(d->extents[1].sectors, 2048);
	ASSERT_U64_EQ(d->extents[1].offset, 100);
	ASSERT_EQ(d->extents[2].access, VMDK_ACCESS_NOACCESS);
	ASSERT_U64_EQ(d->extents[2].offset, 0);
	ASSERT_EQ(d->extents[3].type, VMDK_EXTENT_VMFS);
	ASSERT_U64_EQ(d->extents[3].offset, 1ull << 54);
	vmdk_desc_free(d);
}

TEST(file_names_with_spaces_quotes_and_bare)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse(HEAD "RW 10 FLAT \"  two  spaces .raw\" 5\n"
			     "RW 10 FLAT bare-name.raw 6\n"
			     "RW 10 FLAT \"a=b #c.raw\"\n"
			     "RW 10 SPARSE\"tight.vmdk\"\n"
			     "  RW\t10\tFLAT\t\"tabs.raw\"\t7  \n"
			     "rw 10 flat \"lower.raw\"\n"
			     "RW 10 FLAT \"sub dir/ü.raw\"\n",
			&d));
	ASSERT_EQ(d->n_extents, 7);
	ASSERT_STREQ(d->extents[0].file, "  two  spaces .raw");
	ASSERT_U64_EQ(d->extents[0].offset, 5);
	ASSERT_STREQ(d->extents[1].file, "bare-name.raw");
	ASSERT_U64_EQ(d->extents[1].offset, 6);
	ASSERT_STREQ(d->extents[2].file, "a=b #c.raw");
	ASSERT_STREQ(d->extents[3].file, "tight.vmdk");
	ASSERT_EQ(d->extents[3].type, VMDK_EXTENT_SPARSE);
	ASSERT_STREQ(d->extents[4].file, "tabs.raw");
	ASSERT_U64_EQ(d->extents[4].offset, 7);
	ASSERT_EQ(d->extents[5].type, VMDK_EXTENT_FLAT);
	ASSERT_STREQ(d->extents[6].file, "sub dir/ü.raw");
	vmdk_desc_free(d);
}

TEST(zero_extents_and_every_type)
{
	struct vmdk_desc *d;
	static const enum vmdk_extent_type want[] = {
		VMDK_EXTENT_ZERO,	VMDK_EXTENT_FLAT,     VMDK_EXTENT_ZERO,
		VMDK_EXTENT_VMFSSPARSE, VMDK_EXTENT_SESPARSE, VMDK_EXTENT_VMFSRDM,
		VMDK_EXTENT_VMFSRAW,	VMDK_EXTENT_VMFS,     VMDK_EXTENT_SPARSE,
	};

	ASSERT_OK(parse(HEAD "RW 100 ZERO\n"
			     "RW 100 FLAT \"f.raw\" 3\n"
			     "RDONLY 9007199254740992 ZERO\n"
			     "RW 100 VMFSSPARSE \"x-delta.vmdk\"\n"
			     "RW 100 SESPARSE \"x-sesparse.vmdk\"\n"
			     "RW 100 VMFSRDM \"x-rdm.vmdk\"\n"
			     "RW 100 VMFSRAW \"/vmfs/devices/disks/naa.1\"\n"
			     "RW 100 VMFS \"x-flat.vmdk\"\n"
			     "RW 100 SPARSE \"x.vmdk\"\n",
			&d));
	ASSERT_EQ(d->n_extents, 9);
	for (size_t i = 0; i < 9; i++)
		ASSERT_EQ(d->extents[i].type, want[i]);
	ASSERT(d->extents[0].file == NULL);
	ASSERT(d->extents[2].file == NULL);
	ASSERT_U64_EQ(d->extents[2].sectors, 1ull << 53);
	ASSERT_STREQ(d->extents[6].file, "/vmfs/devices/disks/naa.1");
	vmdk_desc_free(d);
}

TEST(crlf_bom_and_blank_lines)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse("\xef\xbb\xbf# Disk DescriptorFile\r\n"
			"version=1\r\n"
			"CID=0000abcd\r\n"
			"parentCID=ffffffff\r\n"
			"createType=\"monolithicFlat\"\r\n"
			"\r\n"
			"   \t \r\n"
			"# Extent description\r\n"
			"RW 4096 FLAT \"disk-flat.vmdk\" 0\r\n"
			"\r\n"
			"ddb.adapterType = \"buslogic\"\r\n"
			"ddb.comment = two words \r\n"
			"ddb.empty=\r\n"
			"ddb.emptyquoted=\"\"",
			&d));
	ASSERT_U64_EQ(d->cid, 0xabcd);
	ASSERT_STREQ(d->create_type, "monolithicFlat");
	ASSERT_EQ(d->n_extents, 1);
	ASSERT_STREQ(d->extents[0].file, "disk-flat.vmdk");
	ASSERT_U64_EQ(d->extents[0].sectors, 4096);
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.adapterType"), "buslogic");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.comment"), "two words");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.empty"), "");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.emptyquoted"), "");
	vmdk_desc_free(d);
}

TEST(parent_cid_and_hint)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse("# Disk DescriptorFile\n"
			"version=1\n"
			"encoding=\"UTF-8\"\n"
			"CID=9f8e7d6c\n"
			"parentCID=1A2B3C4D\n"
			"isNativeSnapshot=\"no\"\n"
			"createType=\"monolithicSparse\"\n"
			"parentFileNameHint=\"Windows 10 x64.vmdk\"\n"
			"\n"
			"# Extent description\n"
			"RW 125829120 SPARSE \"Windows 10 x64-000001.vmdk\"\n"
			"\n"
			"# The Disk Data Base \n"
			"#DDB\n"
			"\n"
			"ddb.longContentID = \"0c3b1e5f7a9d2c4e6f8a0b1c9f8e7d6c\"\n",
			&d));
	ASSERT_U64_EQ(d->cid, 0x9f8e7d6c);
	ASSERT_U64_EQ(d->parent_cid, 0x1a2b3c4d);
	ASSERT_STREQ(d->parent_hint, "Windows 10 x64.vmdk");
	ASSERT_STREQ(vmdk_desc_get(d, "parentFileNameHint"), "Windows 10 x64.vmdk");
	ASSERT_STREQ(d->extents[0].file, "Windows 10 x64-000001.vmdk");
	vmdk_desc_free(d);

	/* A descriptor without CID lines reads as CID 0 and no parent. */
	ASSERT_OK(parse("createType=\"monolithicFlat\"\nRW 1 FLAT \"f\"\n", &d));
	ASSERT_U64_EQ(d->cid, 0);
	ASSERT_U64_EQ(d->parent_cid, VMDK_CID_NONE);
	ASSERT_EQ(d->version, 1);
	vmdk_desc_free(d);
}

TEST(versions_and_vmfs_sparse_snapshot)
{
	struct vmdk_desc *d;

	/* ESXi snapshot delta with change tracking: version 3, VMFSSPARSE. */
	ASSERT_OK(parse("# Disk DescriptorFile\n"
			"version=3\n"
			"encoding=\"UTF-8\"\n"
			"CID=3c5e7a90\n"
			"parentCID=fffffffe\n"
			"createType=\"vmfsSparse\"\n"
			"parentFileNameHint=\"vm.vmdk\"\n"
			"# Extent description\n"
			"RW 41943040 VMFSSPARSE \"vm-000001-delta.vmdk\"\n"
			"\n"
			"# The Disk Data Base \n"
			"#DDB\n"
			"\n"
			"ddb.grain = \"1\"\n"
			"changeTrackPath=\"vm-000001-ctk.vmdk\"\n",
			&d));
	ASSERT_EQ(d->version, 3);
	ASSERT_U64_EQ(d->parent_cid, 0xfffffffe);
	ASSERT_STREQ(d->create_type, "vmfsSparse");
	ASSERT_EQ(d->extents[0].type, VMDK_EXTENT_VMFSSPARSE);
	vmdk_desc_free(d);

	ASSERT_OK(parse("version = 2\ncreateType = monolithicFlat\nRW 1 FLAT f\n", &d));
	ASSERT_EQ(d->version, 2);
	ASSERT_STREQ(d->create_type, "monolithicFlat");
	vmdk_desc_free(d);
}

/* VMware's streamOptimized descriptor, RDONLY and with the name VMware gave it. */
TEST(stream_optimized)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse("# Disk DescriptorFile\n"
			"version=1\n"
			"encoding=\"windows-1252\"\n"
			"CID=6a9c4b5d\n"
			"parentCID=ffffffff\n"
			"createType=\"streamOptimized\"\n"
			"\n"
			"# Extent description\n"
			"RDONLY 83886080 SPARSE \"generated-stream.vmdk\"\n"
			"\n"
			"# The Disk Data Base \n"
			"#DDB\n"
			"\n"
			"ddb.adapterType = \"lsilogic\"\n"
			"ddb.geometry.cylinders = \"5221\"\n"
			"ddb.geometry.heads = \"255\"\n"
			"ddb.geometry.sectors = \"63\"\n"
			"ddb.longContentID = \"a5f6e8c1b2d3e4f5a6b7c8d96a9c4b5d\"\n"
			"ddb.toolsInstallType = \"1\"\n"
			"ddb.toolsVersion = \"12320\"\n"
			"ddb.virtualHWVersion = \"14\"\n",
			&d));
	ASSERT_STREQ(d->create_type, "streamOptimized");
	ASSERT_EQ(d->extents[0].access, VMDK_ACCESS_RDONLY);
	ASSERT_U64_EQ(d->extents[0].sectors, 83886080);
	ASSERT_STREQ(vmdk_desc_get(d, "encoding"), "windows-1252");
	vmdk_desc_free(d);
}

/* ../shared/corpus/ovf/cot/input.vmdk (glennmatthews/cot COT/tests/input.vmdk), the
 * descriptor in its sector 1, NUL padding cut. */
static const char cot_input[] = "# Disk DescriptorFile\n"
				"version=1\n"
				"CID=278f54ff\n"
				"parentCID=ffffffff\n"
				"createType=\"streamOptimized\"\n"
				"\n"
				"\n"
				"# Extent description\n"
				"RDONLY 2097152 SPARSE \"generated-stream.vmdk\"\n"
				"\n"
				"#DDB\n"
				"ddb.virtualHWVersion = \"4\"\n"
				"ddb.geometry.cylinders = \"66837\"\n"
				"ddb.geometry.heads = \"255\"\n"
				"ddb.geometry.sectors = \"63\"\n"
				"ddb.adapterType = \"lsilogic\"\n"
				"ddb.toolsVersion = \"6532\"\n";

/* ../shared/corpus/vmdk/govmomi/ttylinux-pc_i486-16.1-disk1.vmdk (vmware/govmomi
 * vapi/library/testdata): a space before the end of the header lines. */
static const char govmomi_ttylinux[] = "# Disk DescriptorFile\n"
				       "version=1 \n"
				       "CID=bb17cc39 \n"
				       "parentCID=ffffffff \n"
				       "createType=\"streamOptimized\" \n"
				       "\n"
				       "# Extent description\n"
				       "RDONLY 61440 SPARSE \"generated-stream.vmdk\"\n"
				       "\n"
				       "# The Disk Data Base \n"
				       "#DDB\n"
				       "\n"
				       "ddb.adapterType = \"lsilogic\"\n"
				       "ddb.geometry.cylinders = \"30\"\n"
				       "ddb.geometry.heads = \"64\"\n"
				       "ddb.geometry.sectors = \"32\"\n"
				       "ddb.longContentID = \"9a9f80c179b1ce5d304a2706b42bdebe\"\n"
				       "ddb.virtualHWVersion = \"10\"\n";

/* ../shared/corpus/ovf/pve-storage/disk1.vmdk (proxmox/pve-storage
 * src/test/ovf_manifests): a monolithicSparse of 4 sectors. */
static const char pve_disk1[] = "# Disk DescriptorFile\n"
				"version=1\n"
				"CID=bf515a25\n"
				"parentCID=ffffffff\n"
				"createType=\"monolithicSparse\"\n"
				"\n"
				"# Extent description\n"
				"RW 4 SPARSE \"disk1.vmdk\"\n"
				"\n"
				"# The Disk Data Base\n"
				"#DDB\n"
				"\n"
				"ddb.virtualHWVersion = \"4\"\n"
				"ddb.geometry.cylinders = \"0\"\n"
				"ddb.geometry.heads = \"16\"\n"
				"ddb.geometry.sectors = \"63\"\n"
				"ddb.adapterType = \"ide\"\n";

TEST(corpus_descriptors)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse(cot_input, &d));
	ASSERT_U64_EQ(d->cid, 0x278f54ff);
	ASSERT_STREQ(d->create_type, "streamOptimized");
	ASSERT_EQ(d->n_extents, 1);
	ASSERT_U64_EQ(d->extents[0].sectors, 2097152);
	ASSERT_STREQ(d->extents[0].file, "generated-stream.vmdk");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.toolsVersion"), "6532");
	vmdk_desc_free(d);

	ASSERT_OK(parse(govmomi_ttylinux, &d));
	ASSERT_EQ(d->version, 1);
	ASSERT_U64_EQ(d->cid, 0xbb17cc39);
	ASSERT_U64_EQ(d->parent_cid, VMDK_CID_NONE);
	ASSERT_STREQ(d->create_type, "streamOptimized");
	ASSERT_U64_EQ(d->extents[0].sectors, 61440);
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.longContentID"), "9a9f80c179b1ce5d304a2706b42bdebe");
	vmdk_desc_free(d);

	ASSERT_OK(parse(pve_disk1, &d));
	ASSERT_STREQ(d->create_type, "monolithicSparse");
	ASSERT_EQ(d->extents[0].access, VMDK_ACCESS_RW);
	ASSERT_U64_EQ(d->extents[0].sectors, 4);
	ASSERT_STREQ(d->extents[0].file, "disk1.vmdk");
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.geometry.cylinders"), "0");
	vmdk_desc_free(d);
}

TEST(get_is_case_insensitive_and_last_wins)
{
	struct vmdk_desc *d;

	ASSERT_OK(parse(HEAD "RW 1 ZERO\n"
			     "ddb.adapterType = \"ide\"\n"
			     "DDB.ADAPTERTYPE = \"lsilogic\"\n"
			     "createType = \"vmfs\"\n"
			     "CID=1\n",
			&d));
	ASSERT_STREQ(vmdk_desc_get(d, "ddb.adaptertype"), "lsilogic");
	ASSERT_STREQ(vmdk_desc_get(d, "CREATETYPE"), "vmfs");
	ASSERT_STREQ(d->create_type, "vmfs");
	ASSERT_U64_EQ(d->cid, 1);
	ASSERT(vmdk_desc_get(d, "ddb") == NULL);
	ASSERT(vmdk_desc_get(d, "") == NULL);
	vmdk_desc_free(d);
}

TEST(extent_type_names)
{
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_FLAT), "FLAT");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_SPARSE), "SPARSE");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_ZERO), "ZERO");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_VMFS), "VMFS");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_VMFSSPARSE), "VMFSSPARSE");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_SESPARSE), "SESPARSE");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_VMFSRDM), "VMFSRDM");
	ASSERT_STREQ(vmdk_extent_type_name(VMDK_EXTENT_VMFSRAW), "VMFSRAW");
	ASSERT_STREQ(vmdk_extent_type_name((enum vmdk_extent_type)99), "?");
	vmdk_desc_free(NULL);
}

TEST(bad_extent_lines)
{
	/* HEAD has 7 lines, so the extent is line 8. */
	ASSERT_PARSE_ERR(HEAD "RX 2048 FLAT \"f.raw\" 0\n", -EINVAL,
			 "disk.vmdk: descriptor line 8: extent access \"RX\" is not RW");
	ASSERT_PARSE_ERR(HEAD "RW abc FLAT \"f.raw\" 0\n", -EINVAL,
			 "disk.vmdk: descriptor line 8: extent size \"abc\" is not a number");
	ASSERT_PARSE_ERR(HEAD "RW -1 FLAT \"f.raw\" 0\n", -EINVAL,
			 "extent size \"-1\" is not a number");
	ASSERT_PARSE_ERR(HEAD "RW 12x FLAT \"f.raw\" 0\n", -EINVAL,
			 "extent size \"12x\" is not a number");
	ASSERT_PARSE_ERR(HEAD "RW 99999999999999999999999x FLAT \"f.raw\" 0\n", -EINVAL,
			 "is not a number");
	ASSERT_PARSE_ERR(HEAD "RW\n", -EINVAL, "line 8: extent size \"\" is not a number");
	ASSERT_PARSE_ERR(HEAD "RW 0 FLAT \"f.raw\"\n", -EINVAL, "line 8: extent size is 0");
	ASSERT_PARSE_ERR(HEAD "RW 99999999999999999999 FLAT \"f.raw\" 0\n", -EFBIG,
			 "line 8: extent size \"99999999999999999999\" is too large");
	ASSERT_PARSE_ERR(HEAD "RW 18014398509481985 ZERO\n", -EFBIG, "is too large");
	ASSERT_PARSE_ERR(HEAD "RW 2048\n", -EINVAL, "line 8: extent has no type");
	ASSERT_PARSE_ERR(HEAD "RW 2048 WEIRD \"f.raw\" 0\n", -EINVAL,
			 "line 8: unknown extent type \"WEIRD\"");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"f.raw 0\n", -EINVAL,
			 "line 8: unterminated quote in the extent file name");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"f.raw\"0\n", -EINVAL,
			 "text \"0\" right after the extent file name");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT f\"raw\n", -EINVAL, "stray quote");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"\" 0\n", -EINVAL, "extent file name is empty");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT\n", -EINVAL, "FLAT extent has no file name");
	ASSERT_PARSE_ERR(HEAD "RW 2048 ZERO \"z.raw\"\n", -EINVAL,
			 "ZERO extent takes no file name");
	ASSERT_PARSE_ERR(HEAD "RW 2048 SPARSE \"s.vmdk\" 0\n", -EINVAL,
			 "SPARSE extent takes no offset (\"0\")");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"f.raw\" 0x10\n", -EINVAL,
			 "extent offset \"0x10\" is not a number");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"f.raw\" 18446744073709551616\n", -EFBIG,
			 "extent offset \"18446744073709551616\" is too large");
	ASSERT_PARSE_ERR(HEAD "RW 2048 FLAT \"f.raw\" 0 extra\n", -EINVAL,
			 "line 8: unexpected \"extra\" after the extent");
}

TEST(extent_sum_overflow)
{
	/* Each fits (2^53 sectors), the three together pass 2^63 bytes. */
	ASSERT_PARSE_ERR(HEAD "RW 9007199254740992 ZERO\n"
			      "RW 9007199254740992 ZERO\n"
			      "RW 9007199254740992 ZERO\n",
			 -EFBIG, "line 10: extents add up to more than 2^63 bytes");
	/* The catalogue's shape: each alone is already too large. */
	ASSERT_PARSE_ERR(HEAD "RW 9223372036854775807 ZERO\n"
			      "RW 9223372036854775807 ZERO\n",
			 -EFBIG, "line 8: extent size \"9223372036854775807\" is too large");
	/* Exactly 2^63 bytes is the limit, not past it. */
	struct vmdk_desc *d;

	ASSERT_OK(parse(HEAD "RW 9007199254740992 ZERO\nRW 9007199254740992 ZERO\n", &d));
	vmdk_desc_free(d);
}

TEST(bad_key_value_lines)
{
	ASSERT_PARSE_ERR("version=1\ncreateType=\"monolithicFlat\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 2: unterminated quote in the value of createType");
	ASSERT_PARSE_ERR("createType=\"vmfs\" trailing\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 1: text after the quoted value of createType");
	ASSERT_PARSE_ERR("createType=\"\"\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 1: createType is empty");
	ASSERT_PARSE_ERR("version=4\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 1: version \"4\" is not supported");
	ASSERT_PARSE_ERR("version=0\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "version \"0\" is not supported");
	ASSERT_PARSE_ERR("version=one\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "version \"one\" is not supported");
	ASSERT_PARSE_ERR("version=\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "version \"\" is not supported");
	ASSERT_PARSE_ERR("CID=xyz\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 1: CID \"xyz\" is not a 32-bit hex number");
	ASSERT_PARSE_ERR("parentCID=123456789\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "parentCID \"123456789\" is not a 32-bit hex number");
	ASSERT_PARSE_ERR("CID=\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "CID \"\" is not a 32-bit hex number");
	ASSERT_PARSE_ERR("1key=2\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "line 1: key \"1key\" does not start with a letter");
	ASSERT_PARSE_ERR("ddb.a$b=2\ncreateType=vmfs\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "key \"ddb.a$b\" has a stray character");
}

TEST(whole_descriptor_errors)
{
	ASSERT_PARSE_ERR("# Disk DescriptorFile\nversion=1\nRW 1 FLAT \"f\"\n", -EINVAL,
			 "disk.vmdk: descriptor has no createType");
	ASSERT_PARSE_ERR(HEAD "\n# The Disk Data Base\n#DDB\nddb.adapterType = \"ide\"\n", -EINVAL,
			 "disk.vmdk: descriptor has no extents");
	ASSERT_PARSE_ERR("", -EINVAL, "disk.vmdk: descriptor is empty");
	ASSERT_PARSE_ERR("# Disk DescriptorFile\n\n  \n", -EINVAL, "descriptor is empty");

	struct vmdk_desc *d = NULL;

	ASSERT_ERR(vmdk_desc_parse("\0createType=vmfs\nRW 1 ZERO\n", 27, "disk.vmdk", &d, E),
		   -EINVAL, "descriptor is empty");
	ASSERT_ERR(vmdk_desc_parse(NULL, 0, "disk.vmdk", &d, E), -EINVAL, "descriptor is empty");
	ASSERT(d == NULL);
}

TEST(garbage_lines_are_named)
{
	ASSERT_PARSE_ERR(HEAD "RW 1 ZERO\nthis is not a descriptor line\n", -EINVAL,
			 "disk.vmdk: descriptor line 9: \"this is not a descriptor line\" is "
			 "neither a key = value nor an extent line");
	ASSERT_PARSE_ERR("createType=vmfs\r\nRW 1 ZERO\r\n\r\n= value\r\n", -EINVAL,
			 "descriptor line 4: \"= value\" is neither");
	ASSERT_PARSE_ERR("createType=vmfs\nRW 1 ZERO\n\"quoted\"=1\n", -EINVAL, "line 3:");
	/* A control byte in the text must not reach the user's terminal as is. */
	ASSERT_PARSE_ERR("createType=vmfs\nRW 1 ZERO\n\x1b[31mred\n", -EINVAL,
			 "line 3: \"?[31mred\" is neither");
	/* Long junk is cut short in the message. */
	ASSERT_PARSE_ERR("KDMV\x01\x02\x03 binary binary binary binary binary binary binary binary "
			 "binary binary binary binary\n",
			 -EINVAL, "line 1: \"KDMV??? binary binary binary binary bina...\" is");
	ASSERT(strlen(harness_err.msg) < 160);
}

static char *many_extents(unsigned n, size_t *len)
{
	static const char line[] = "RW 1 ZERO\n";
	size_t head = strlen(HEAD), l = strlen(line);
	char *t = malloc(head + n * l + 1);

	memcpy(t, HEAD, head);
	for (unsigned i = 0; i < n; i++)
		memcpy(t + head + i * l, line, l);
	*len = head + n * l;
	t[*len] = '\0';
	return t;
}

TEST(extent_count_cap)
{
	struct vmdk_desc *d;
	size_t len;
	char *t = many_extents(VMDK_DESC_MAX_EXTENTS, &len);

	ASSERT_OK(vmdk_desc_parse(t, len, "disk.vmdk", &d, E));
	ASSERT_EQ(d->n_extents, VMDK_DESC_MAX_EXTENTS);
	vmdk_desc_free(d);
	free(t);

	t = many_extents(VMDK_DESC_MAX_EXTENTS + 1, &len);
	err_clear(E);
	int r = vmdk_desc_parse(t, len, "disk.vmdk", &d, E);

	free(t);
	ASSERT_EQ(r, -EFBIG);
	ASSERT(strstr(harness_err.msg, "disk.vmdk: descriptor line 4104: too many extents"));
}

TEST(size_cap)
{
	size_t len = VMDK_DESC_MAX_BYTES + 1;
	char *t = malloc(len + 4096);
	struct vmdk_desc *d;
	int r;

	/* Valid text throughout, so only the size can be the complaint. */
	memset(t, '#', len);
	memcpy(t, HEAD "RW 1 ZERO\n", strlen(HEAD "RW 1 ZERO\n"));
	for (size_t i = 200; i < len; i += 80)
		t[i] = '\n';
	err_clear(E);
	r = vmdk_desc_parse(t, len, "disk.vmdk", &d, E);
	ASSERT_EQ(r, -EFBIG);
	ASSERT(strstr(harness_err.msg, "disk.vmdk: descriptor is larger than 1048576 bytes"));

	/* At the cap it parses; NUL padding past the cap does not count. */
	ASSERT_OK(vmdk_desc_parse(t, VMDK_DESC_MAX_BYTES, "disk.vmdk", &d, E));
	vmdk_desc_free(d);
	memset(t + VMDK_DESC_MAX_BYTES, 0, len + 4096 - VMDK_DESC_MAX_BYTES);
	ASSERT_OK(vmdk_desc_parse(t, len + 4096, "disk.vmdk", &d, E));
	vmdk_desc_free(d);
	free(t);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

TEST(mutations_do_not_crash)
{
	static const char seed[] = "# Disk DescriptorFile\r\n"
				   "version=1\n"
				   "CID=fffffffe\n"
				   "parentCID=1a2b3c4d\n"
				   "createType=\"twoGbMaxExtentFlat\"\n"
				   "parentFileNameHint=\"base disk.vmdk\"\n"
				   "# Extent description\n"
				   "RW 4192256 FLAT \"a b-f001.vmdk\" 0\n"
				   "RDONLY 4192256 VMFS \"a b-f002.vmdk\" 17\n"
				   "NOACCESS 100 ZERO\n"
				   "RW 100 SESPARSE bare.vmdk\n"
				   "#DDB\n"
				   "ddb.adapterType = \"lsilogic\"\n"
				   "ddb.geometry.cylinders=\"522\"\n"
				   "ddb.uuid = \"60 00 C2 9b\"\n";
	static const char interesting[] = "\"=\n\r\t #0123456789RWZEROFLATx\xff";
	size_t n = strlen(seed);
	char *buf = malloc(n + 64);
	unsigned ok = 0, failed = 0;

	for (unsigned iter = 0; iter < 20000; iter++) {
		struct vmdk_desc *d = NULL;
		size_t len = n;
		unsigned edits = 1 + rnd() % 4;
		int r;

		memcpy(buf, seed, n);
		for (unsigned k = 0; k < edits; k++) {
			size_t at = rnd() % len;

			switch (rnd() % 5) {
			case 0:
				buf[at] = (char)rnd();
				break;
			case 1:
			case 2:
				buf[at] = interesting[rnd() % (sizeof(interesting) - 1)];
				break;
			case 3:
				len = at + 1;
				break;
			default:
				/* Delete a run, joining lines or splitting tokens. */
				if (at + 8 < len) {
					size_t cut = 1 + rnd() % 8;

					memmove(buf + at, buf + at + cut, len - at - cut);
					len -= cut;
				}
				break;
			}
		}
		/* A heap copy of exactly len bytes, so ASan sees any read past the end. */
		char *t = malloc(len);

		memcpy(t, buf, len);
		err_clear(E);
		r = vmdk_desc_parse(t, len, "fuzz.vmdk", &d, E);
		free(t);
		if (r == 0) {
			ASSERT(d != NULL);
			ASSERT(d->create_type != NULL);
			ASSERT(d->n_extents >= 1 && d->n_extents <= VMDK_DESC_MAX_EXTENTS);
			for (size_t i = 0; i < d->n_extents; i++)
				ASSERT((d->extents[i].file == NULL) ==
				       (d->extents[i].type == VMDK_EXTENT_ZERO));
			(void)vmdk_desc_get(d, "ddb.adapterType");
			vmdk_desc_free(d);
			ok++;
		} else {
			ASSERT(r < 0);
			ASSERT(strncmp(harness_err.msg, "fuzz.vmdk: ", 11) == 0);
			ASSERT(strchr(harness_err.msg, '\n') == NULL);
			failed++;
		}
	}
	free(buf);
	/* The loop is only worth something if it reaches both outcomes. */
	ASSERT(ok > 100 && failed > 100);
}
