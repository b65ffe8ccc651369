/* SPDX-License-Identifier: MIT */
/*
 * The .vmsd parser: a Workstation-style file with a tree of snapshots and two disks, an
 * empty one, directory names made from display names (unsafe characters, non-ASCII
 * kept, cut at a character boundary, duplicates), windows-1252 text, and the refusals of
 * a hostile file (counts over the caps, missing and repeated keys, bad nodes, "..").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/vm/vmsd.h"
#include "../../formats/vm/vmx.h"
#include "../lib/harness.h"

HARNESS_MAIN

static struct vmsd *parse(const char *text)
{
	struct vmsd *v = NULL;

	err_clear(E);
	ASSERT_OK(vmsd_parse(text, strlen(text), "vm.vmsd", &v, E));
	return v;
}

TEST(a_tree_of_snapshots)
{
	static const char text[] =
		".encoding = \"UTF-8\"\n"
		"snapshot.lastUID = \"3\"\n"
		"snapshot.current = \"3\"\n"
		"snapshot0.uid = \"1\"\n"
		"snapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
		"snapshot0.displayName = \"fresh install\"\n"
		"snapshot0.description = \"before |22updates|22\"\n"
		"snapshot0.createTimeHigh = \"391234\"\n"
		"snapshot0.createTimeLow = \"-1234567\"\n"
		"snapshot0.numDisks = \"1\"\n"
		"snapshot0.disk0.fileName = \"vm.vmdk\"\n"
		"snapshot0.disk0.node = \"scsi0:0\"\n"
		"snapshot.numSnapshots = \"3\"\n"
		"snapshot1.uid = \"2\"\n"
		"snapshot1.filename = \"vm-Snapshot2.vmsn\"\n"
		"snapshot1.parent = \"1\"\n"
		"snapshot1.displayName = \"with data disk\"\n"
		"snapshot1.type = \"1\"\n"
		"snapshot1.numDisks = \"2\"\n"
		"snapshot1.disk0.fileName = \"vm-000001.vmdk\"\n"
		"snapshot1.disk0.node = \"scsi0:0\"\n"
		"snapshot1.disk1.fileName = \"/vmfs/volumes/5f1e0a2b-aa/vm/data.vmdk\"\n"
		"snapshot1.disk1.node = \"SATA0:1\"\n"
		"snapshot2.uid = \"3\"\n"
		"snapshot2.parent = \"1\"\n"
		"snapshot2.numDisks = \"0\"\n";
	struct vmsd *v = parse(text);

	ASSERT_EQ(v->n, 3);
	ASSERT_STREQ(v->snaps[0].uid, "1");
	ASSERT_STREQ(v->snaps[0].name, "fresh install");
	ASSERT_STREQ(v->snaps[0].dir, "fresh_install");
	ASSERT_EQ(v->snaps[0].n_disks, 1);
	ASSERT_STREQ(v->snaps[0].disks[0].file, "vm.vmdk");
	ASSERT_EQ(v->snaps[0].disks[0].bus, VM_BUS_SCSI);
	ASSERT_EQ(v->snaps[0].disks[0].ctl, 0);
	ASSERT_EQ(v->snaps[0].disks[0].unit, 0);
	ASSERT_STREQ(v->snaps[1].dir, "with_data_disk");
	ASSERT_EQ(v->snaps[1].n_disks, 2);
	ASSERT_STREQ(v->snaps[1].disks[1].file, "/vmfs/volumes/5f1e0a2b-aa/vm/data.vmdk");
	ASSERT_EQ(v->snaps[1].disks[1].bus, VM_BUS_SATA);
	ASSERT_EQ(v->snaps[1].disks[1].unit, 1);
	/* No displayName: named after its uid. */
	ASSERT(v->snaps[2].name == NULL);
	ASSERT_STREQ(v->snaps[2].dir, "snapshot-3");
	ASSERT_EQ(v->snaps[2].n_disks, 0);
	vmsd_free(v);
}

TEST(no_snapshots)
{
	struct vmsd *v = parse("");

	ASSERT_EQ(v->n, 0);
	vmsd_free(v);
	v = parse(".encoding = \"UTF-8\"\r\n");
	ASSERT_EQ(v->n, 0);
	vmsd_free(v);
	/* Keys past numSnapshots are not snapshots (VMware renumbers when deleting). */
	v = parse("snapshot.numSnapshots = \"0\"\nsnapshot0.uid = \"1\"\n");
	ASSERT_EQ(v->n, 0);
	vmsd_free(v);
}

static void add(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

TEST(directory_names)
{
	static const char *const names[] = {
		"Before update: v1/v2", "Before update? v1/v2", "Before update: v1/v2",
		".hidden", "..", "", "nach dem Update – grün 🙂",
		"a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-ends-here",
		"xéééééééééééééééééééééééééééééééé", /* 2-byte characters across the cut */
		"tab\there|7Cpipe",
	};
	static const char *const want[] = {
		"Before_update__v1_v2", "Before_update__v1_v2-2", "Before_update__v1_v2-3",
		"_.hidden", "_..", "snapshot-6", "nach_dem_Update_–_grün_🙂",
		"a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-an",
		"xééééééééééééééééééééééééééééé",
		"tab_here_pipe",
	};
	size_t n = sizeof(names) / sizeof(names[0]);
	static char text[8192];
	struct vmsd *v;

	text[0] = '\0';
	add(text, sizeof(text), "snapshot.numSnapshots = \"%zu\"\n", n);
	for (size_t i = 0; i < n; i++) {
		add(text, sizeof(text), "snapshot%zu.uid = \"%zu\"\n", i, i + 1);
		add(text, sizeof(text), "snapshot%zu.displayName = \"%s\"\n", i, names[i]);
	}
	v = parse(text);
	ASSERT_EQ(v->n, n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v->snaps[i].dir, want[i]) != 0)
			HARNESS_FAIL("\"%s\" -> \"%s\", want \"%s\"", names[i], v->snaps[i].dir,
				     want[i]);
		ASSERT(strlen(v->snaps[i].dir) <= VMSD_MAX_DIR_NAME);
		ASSERT(!strchr(v->snaps[i].dir, '/'));
	}
	vmsd_free(v);
}

TEST(every_name_is_unique_even_when_all_collide)
{
	static char text[65536];
	struct vmsd *v;

	text[0] = '\0';
	add(text, sizeof(text), "snapshot.numSnapshots = \"%u\"\n", VMSD_MAX_SNAPSHOTS);
	for (unsigned i = 0; i < VMSD_MAX_SNAPSHOTS; i++) {
		add(text, sizeof(text), "snapshot%u.uid = \"%u\"\n", i, i);
		/* "x", "x-2", ... are all display names too. */
		if (i % 2)
			add(text, sizeof(text), "snapshot%u.displayName = \"x-%u\"\n", i, i / 2 + 1);
		else
			add(text, sizeof(text), "snapshot%u.displayName = \"x\"\n", i);
	}
	v = parse(text);
	for (unsigned i = 0; i < VMSD_MAX_SNAPSHOTS; i++)
		for (unsigned j = 0; j < i; j++)
			ASSERT(strcmp(v->snaps[i].dir, v->snaps[j].dir) != 0);
	vmsd_free(v);
}

TEST(windows_1252)
{
	struct vmsd *v = parse(".encoding = \"windows-1252\"\nsnapshot.numSnapshots = \"1\"\n"
			       "snapshot0.uid = \"1\"\nsnapshot0.displayName = \"Caf\xe9 \x80\"\n");

	ASSERT_STREQ(v->snaps[0].name, "Caf\xc3\xa9 \xe2\x82\xac");
	ASSERT_STREQ(v->snaps[0].dir, "Caf\xc3\xa9_\xe2\x82\xac");
	vmsd_free(v);
}

TEST(hostile_files_are_refused)
{
	static const struct {
		const char *text, *want;
		int code;
	} bad[] = {
		{ "snapshot.numSnapshots = \"257\"\n", "line 1: snapshot.numSnapshots = \"257\": "
						       "more than the 256 allowed", EFBIG },
		{ "snapshot.numSnapshots = \"99999999999999999999999\"\n", "expected a whole number",
		  EINVAL },
		{ "snapshot.numSnapshots = \"-1\"\n", "expected a whole number", EINVAL },
		{ "snapshot.numSnapshots = \"2\"\nsnapshot0.uid = \"1\"\n",
		  "vm.vmsd: snapshot1.uid is missing", EINVAL },
		{ "snapshot.numSnapshots = \"2\"\nsnapshot0.uid = \"7\"\nsnapshot1.uid = \"7\"\n",
		  "line 3: snapshot1.uid = \"7\" is snapshot0's uid too", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"65\"\n", "snapshot0.numDisks = \"65\": more than the 64",
		  EFBIG },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.node = \"scsi0:0\"\n",
		  "snapshot0.disk0.fileName is missing", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"a.vmdk\"\n",
		  "snapshot0.disk0.node is missing", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"a.vmdk\"\n"
		  "snapshot0.disk0.node = \"scsi4:0\"\n",
		  "line 5: snapshot0.disk0.node = \"scsi4:0\": expected a disk node", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"a.vmdk\"\n"
		  "snapshot0.disk0.node = \"scsi0:01\"\n", "expected a disk node", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"a.vmdk\"\n"
		  "snapshot0.disk0.node = \"floppy0\"\n", "expected a disk node", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"2\"\nsnapshot0.disk0.fileName = \"a.vmdk\"\n"
		  "snapshot0.disk0.node = \"scsi0:0\"\nsnapshot0.disk1.fileName = \"b.vmdk\"\n"
		  "snapshot0.disk1.node = \"scsi0:0\"\n",
		  "snapshot0.disk1.node is disk0's node too", EINVAL },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\"\n"
		  "snapshot0.numDisks = \"1\"\nsnapshot0.disk0.fileName = \"../other/a.vmdk\"\n"
		  "snapshot0.disk0.node = \"scsi0:0\"\n",
		  "line 4: snapshot0.disk0.fileName = \"../other/a.vmdk\" leaves the VM's "
		  "directory; refused", EPERM },
		{ "snapshot.numSnapshots = \"1\"\nsnapshot0.uid = \"1\n", "unterminated quote",
		  EINVAL },
		{ ".encoding = \"Shift_JIS\"\n", "Shift_JIS", ENOTSUP },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmsd *v = NULL;
		int r;

		err_clear(E);
		r = vmsd_parse(bad[i].text, strlen(bad[i].text), "vm.vmsd", &v, E);
		if (r != -bad[i].code || !strstr(E->msg, bad[i].want) ||
		    strncmp(E->msg, "vm.vmsd: ", 9) != 0)
			HARNESS_FAIL("case %zu: %d \"%s\", want %d and \"%s\"", i, r, E->msg,
				     -bad[i].code, bad[i].want);
		ASSERT(v == NULL);
	}
}

TEST(nodes)
{
	enum vm_bus bus;
	unsigned ctl, unit;

	ASSERT(vmx_parse_node("scsi3:63", &bus, &ctl, &unit));
	ASSERT(bus == VM_BUS_SCSI && ctl == 3 && unit == 63);
	ASSERT(vmx_parse_node("nvme0:14", &bus, &ctl, &unit) && bus == VM_BUS_NVME);
	ASSERT(vmx_parse_node("ide1:1", &bus, &ctl, &unit) && bus == VM_BUS_IDE && ctl == 1);
	ASSERT(!vmx_parse_node("ide2:0", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("sata0:30", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("scsi0:64", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("scsi0", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("scsi0:1 ", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("scsi:1", &bus, &ctl, &unit));
	ASSERT(!vmx_parse_node("", &bus, &ctl, &unit));
}
