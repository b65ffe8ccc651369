/* SPDX-License-Identifier: MIT */
/*
 * The .vmx parser: small inline files for every rule (syntax, |XX escapes, .encoding,
 * "present = FALSE" subtrees, later-wins, case-insensitive keys, uuid forms, every
 * controller and device kind, MACs, bounds), every refusal with its one-line message,
 * hostile files (caps, NUL bytes, many devices, deep subtrees) against the clock, and the
 * real files of tests/data/vmx compared with what libvirt and virt-v2v make of them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "../../formats/vm/vmx.h"
#include "../lib/harness.h"
#include "../lib/testdata.h"

HARNESS_MAIN

/* ------------------------------------------------------------------------------------ */
/* Helpers */

static int parse(const char *text, struct vm **vm)
{
	return vmx_parse(text, strlen(text), "guest.vmx", vm, E);
}

/* Parse text, which must succeed; the VM is freed at the end of the next parse_ok. */
static struct vm *last_vm;

static struct vm *parse_ok(const char *text)
{
	struct vm *vm = NULL;

	vm_free(last_vm);
	last_vm = NULL;
	err_clear(E);
	ASSERT_OK(parse(text, &vm));
	ASSERT(vm != NULL);
	last_vm = vm;
	return vm;
}

/* Parse text, which must fail with code and a one-line message that names the file and
 * contains substr. */
#define ASSERT_PARSE_ERR(text, code, substr)                                                       \
	do {                                                                                       \
		struct vm *vm_ = NULL;                                                             \
		ASSERT_ERR(parse(text, &vm_), code, substr);                                       \
		ASSERT(vm_ == NULL);                                                               \
		ASSERT(strncmp(harness_err.msg, "guest.vmx: ", 11) == 0);                          \
		ASSERT(strchr(harness_err.msg, '\n') == NULL);                                     \
	} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growing string for generated files. */
struct sb {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

static const struct vm_controller *ctl_of_disk(const struct vm *vm, size_t i)
{
	ASSERT(vm->disks[i].controller >= 0 && (size_t)vm->disks[i].controller < vm->n_controllers);
	return &vm->controllers[vm->disks[i].controller];
}

static const struct vm_controller *ctl_of_cdrom(const struct vm *vm, size_t i)
{
	ASSERT(vm->cdroms[i].controller >= 0 &&
	       (size_t)vm->cdroms[i].controller < vm->n_controllers);
	return &vm->controllers[vm->cdroms[i].controller];
}

/* ------------------------------------------------------------------------------------ */
/* The machine */

static const char full_vmx[] =
	"#!/usr/bin/vmware\n"
	".encoding = \"UTF-8\"\n"
	"config.version = \"8\"\n"
	"virtualHW.version = \"19\"\n"
	"displayName = \"web server\"\n"
	"guestOS = \"ubuntu-64\"\n"
	"memsize = \"4096\"\n"
	"numvcpus = \"4\"\n"
	"cpuid.coresPerSocket = \"2\"\n"
	"firmware = \"efi\"\n"
	"uefi.secureBoot.enabled = \"TRUE\"\n"
	"uuid.bios = \"56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 A3 B4 C5 D6\"\n"
	"scsi0.present = \"TRUE\"\n"
	"scsi0.virtualDev = \"pvscsi\"\n"
	"scsi0:0.present = \"TRUE\"\n"
	"scsi0:0.deviceType = \"scsi-hardDisk\"\n"
	"scsi0:0.fileName = \"web.vmdk\"\n"
	"ethernet0.present = \"TRUE\"\n"
	"ethernet0.virtualDev = \"vmxnet3\"\n"
	"ethernet0.networkName = \"VM Network\"\n"
	"ethernet0.connectionType = \"bridged\"\n"
	"ethernet0.addressType = \"generated\"\n"
	"ethernet0.generatedAddress = \"00:0C:29:AB:cd:EF\"\n"
	"svga.present = \"TRUE\"\n"
	"svga.vramSize = \"8388608\"\n"
	"sound.present = \"TRUE\"\n"
	"serial0.present = \"TRUE\"\n"
	"serial1.present = \"TRUE\"\n"
	"serial2.present = \"FALSE\"\n";

TEST(machine)
{
	struct vm *vm = parse_ok(full_vmx);

	ASSERT_STREQ(vm->id, "guest.vmx");
	ASSERT_STREQ(vm->name, "web server");
	ASSERT_STREQ(vm->uuid, "564d9f1a-2b3c-4d5e-6f70-8192a3b4c5d6");
	ASSERT_U64_EQ(vm->memory, 4096ull << 20);
	ASSERT_EQ(vm->vcpus, 4);
	ASSERT_EQ(vm->cores_per_socket, 2);
	ASSERT_EQ(vm->firmware, VM_FW_EFI);
	ASSERT(vm->secure_boot);
	ASSERT_STREQ(vm->os_type, "ubuntu-64");
	ASSERT_STREQ(vm->hw_version, "vmx-19");
	ASSERT_EQ(vm->n_controllers, 1);
	ASSERT_EQ(vm->controllers[0].bus, VM_BUS_SCSI);
	ASSERT_STREQ(vm->controllers[0].model, "pvscsi");
	ASSERT_EQ(vm->controllers[0].index, 0);
	ASSERT(vm->controllers[0].instance_id == NULL);
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].file, "web.vmdk");
	ASSERT_EQ(vm->disks[0].controller, 0);
	ASSERT_EQ(vm->disks[0].unit, 0);
	ASSERT(vm->disks[0].disk_id == NULL && vm->disks[0].format == NULL);
	ASSERT_EQ(vm->n_cdroms, 0);
	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_STREQ(vm->nics[0].mac, "00:0c:29:ab:cd:ef");
	ASSERT_STREQ(vm->nics[0].model, "vmxnet3");
	ASSERT_STREQ(vm->nics[0].network, "VM Network");
	ASSERT_EQ(vm->nics[0].index, 0);
	ASSERT(vm->has_video);
	ASSERT_U64_EQ(vm->video_ram, 8388608);
	ASSERT(vm->has_sound);
	ASSERT_EQ(vm->n_serial, 2);
	/* Every key, as written, in file order. */
	ASSERT_EQ(vm->n_extra, 28);
	ASSERT_STREQ(vm->extra[0].key, ".encoding");
	ASSERT_STREQ(vm->extra[3].key, "displayName");
	ASSERT_STREQ(vm->extra[3].value, "web server");
	ASSERT_STREQ(vmx_value(vm, "ETHERNET0.CONNECTIONTYPE"), "bridged");
	ASSERT_STREQ(vmx_value(vm, "cpuid.corespersocket"), "2");
	ASSERT(vmx_value(vm, "nosuch.key") == NULL);
	ASSERT(vmx_value(NULL, "memsize") == NULL);
}

TEST(defaults)
{
	struct vm *vm = parse_ok("");

	/* No displayName: the file name without .vmx; libvirt's defaults otherwise. */
	ASSERT_STREQ(vm->name, "guest");
	ASSERT(vm->uuid == NULL);
	ASSERT_U64_EQ(vm->memory, 32ull << 20);
	ASSERT_EQ(vm->vcpus, 1);
	ASSERT_EQ(vm->cores_per_socket, 0);
	ASSERT_EQ(vm->firmware, VM_FW_BIOS);
	ASSERT(!vm->secure_boot);
	ASSERT(vm->os_type == NULL && vm->hw_version == NULL);
	ASSERT(vm->has_video);
	ASSERT_U64_EQ(vm->video_ram, 0);
	ASSERT(!vm->has_sound);
	ASSERT_EQ(vm->n_serial, 0);
	ASSERT_EQ(vm->n_controllers + vm->n_disks + vm->n_cdroms + vm->n_nics + vm->n_extra, 0);

	vm = parse_ok("svga.present = \"FALSE\"\nsvga.vramSize = \"4194304\"\nfirmware = \"bios\"\n"
		      "virtualHW.version = \"4\"\n");
	ASSERT(!vm->has_video);
	ASSERT_U64_EQ(vm->video_ram, 0);
	ASSERT_EQ(vm->firmware, VM_FW_BIOS);
	ASSERT_STREQ(vm->hw_version, "vmx-04");

	vm = parse_ok("firmware = \"efi64\"\n");
	ASSERT_EQ(vm->firmware, VM_FW_UNKNOWN);
	ASSERT_STREQ(vmx_value(vm, "firmware"), "efi64");

	/* The fallback name drops the directory and a .VMX suffix in any case. */
	{
		struct vm *v = NULL;

		ASSERT_OK(vmx_parse("", 0, "some/dir/My VM.VMX", &v, E));
		ASSERT_STREQ(v->name, "My VM");
		ASSERT_STREQ(v->id, "some/dir/My VM.VMX");
		vm_free(v);
		v = NULL;
		ASSERT_OK(vmx_parse("displayName = \"\"\n", 17, ".vmx", &v, E));
		ASSERT_STREQ(v->name, "vm");
		vm_free(v);
	}
}

TEST(syntax)
{
	struct vm *vm;

	/* Comments, blank lines, CRLF, tabs, no spaces around '=', a BOM, a trailing
	 * comment, no final newline. */
	vm = parse_ok("\xef\xbb\xbf# a comment\r\n\r\n   \t\r\n\tdisplayName=\"a\"\r\n"
		      "  memsize\t=\t\"64\"   # trailing comment\n"
		      "guestOS = \"x # not a comment\"\n"
		      "numvcpus = \"2\"");
	ASSERT_STREQ(vm->name, "a");
	ASSERT_U64_EQ(vm->memory, 64ull << 20);
	ASSERT_STREQ(vm->os_type, "x # not a comment");
	ASSERT_EQ(vm->vcpus, 2);
	ASSERT_EQ(vm->n_extra, 4);
	/* Odd but legal keys: pciPassthru*.present, a leading dot. */
	vm = parse_ok("pciPassthru*.present = \"FALSE\"\n.x-y_z:0 = \"\"\n");
	ASSERT_STREQ(vmx_value(vm, "pcipassthru*.present"), "FALSE");
	ASSERT_STREQ(vmx_value(vm, ".X-Y_Z:0"), "");

	ASSERT_PARSE_ERR("displayName = \"a\"\nmemsize\n", -EINVAL,
			 "guest.vmx: line 2: expected key = \"value\"");
	ASSERT_PARSE_ERR("memsize = 1024\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("= \"x\"\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("\n\nmem size = \"1\"\n", -EINVAL, "line 3: expected key = \"value\"");
	ASSERT_PARSE_ERR("a = \"1\" \"2\"\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("a = \"1\"x\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("a = 'x'\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("a == \"x\"\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("a|b = \"x\"\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("k\xc3\xa9y = \"x\"\n", -EINVAL, "line 1: expected key = \"value\"");
	ASSERT_PARSE_ERR("a = \"x\n", -EINVAL, "guest.vmx: line 1: unterminated quote");
	ASSERT_PARSE_ERR("#\n#\na = \"x\"\nb = \"\n", -EINVAL, "line 4: unterminated quote");
	/* The quote does not run on into the next line. */
	ASSERT_PARSE_ERR("a = \"x\nb\"\n", -EINVAL, "line 1: unterminated quote");
}

TEST(escapes)
{
	struct vm *vm = parse_ok("displayName = \"say |22hi|22 |7c pipe |7C |45|58\"\n"
				 "annotation = \"one|0Atwo|0d|0a|23three\"\n"
				 "guestinfo.x = \"|e2|82|ac\"\n");

	ASSERT_STREQ(vm->name, "say \"hi\" | pipe | EX");
	ASSERT_STREQ(vmx_value(vm, "annotation"), "one\ntwo\r\n#three");
	ASSERT_STREQ(vmx_value(vm, "guestinfo.x"), "\xe2\x82\xac");
	/* A value may be nothing but escapes, or empty. */
	vm = parse_ok("a = \"|7C|7C\"\nb = \"\"\n");
	ASSERT_STREQ(vmx_value(vm, "a"), "||");
	ASSERT_STREQ(vmx_value(vm, "b"), "");

	ASSERT_PARSE_ERR("a = \"x|2\"\n", -EINVAL, "line 1: bad escape \"|2\"");
	ASSERT_PARSE_ERR("a = \"x|zz\"\n", -EINVAL, "line 1: bad escape \"|zz\"");
	ASSERT_PARSE_ERR("a = \"x|\"\n", -EINVAL, "bad escape \"|\"\"");
	ASSERT_PARSE_ERR("a = \"x|", -EINVAL, "bad escape \"|\"");
	ASSERT_PARSE_ERR("\na = \"x| 1\"\n", -EINVAL, "line 2: bad escape");
	ASSERT_PARSE_ERR("a = \"|00\"\n", -EINVAL, "line 1: escape |00");
	/* An escaped byte that is not UTF-8 in a UTF-8 file. */
	ASSERT_PARSE_ERR("a = \"|e9\"\n", -EINVAL, "line 1: the value of a is not valid UTF-8");
}

TEST(encoding)
{
	struct vm *vm;

	/* windows-1252: é is 0xe9, € 0x80, ™ 0x99; an escape is a byte of the encoding; the
	 * five undefined bytes become C1 controls. */
	vm = parse_ok(".encoding = \"windows-1252\"\n"
		      "displayName = \"caf\xe9 \x80\x99 |E9 \x81\"\n");
	ASSERT_STREQ(vm->name, "caf\xc3\xa9 \xe2\x82\xac\xe2\x84\xa2 \xc3\xa9 \xc2\x81");
	/* .encoding applies to the whole file, wherever it is. */
	vm = parse_ok("displayName = \"\xe9t\xe9\"\n.encoding = \"CP1252\"\n");
	ASSERT_STREQ(vm->name, "\xc3\xa9t\xc3\xa9");
	/* ISO-8859-1 has no € at 0x80: that is U+0080. */
	vm = parse_ok(".encoding = \"ISO-8859-1\"\ndisplayName = \"\xe9\x80\xff\"\n");
	ASSERT_STREQ(vm->name, "\xc3\xa9\xc2\x80\xc3\xbf");
	vm = parse_ok(".encoding = \"latin1\"\ndisplayName = \"\xe9\"\n");
	ASSERT_STREQ(vm->name, "\xc3\xa9");
	/* UTF-8, said or not. */
	vm = parse_ok(".encoding = \"utf-8\"\n"
		      "displayName = \"\xe8\x99\x9a\xe6\x8b\x9f\xe6\x9c\xba\"\n");
	ASSERT_STREQ(vm->name, "\xe8\x99\x9a\xe6\x8b\x9f\xe6\x9c\xba");
	vm = parse_ok("displayName = \"\xf0\x9f\x98\x80\"\n");
	ASSERT_STREQ(vm->name, "\xf0\x9f\x98\x80");
	/* The later .encoding wins, like any key. */
	vm = parse_ok(".encoding = \"GBK\"\n.encoding = \"windows-1252\"\n"
		      "displayName = \"\xe9\"\n");
	ASSERT_STREQ(vm->name, "\xc3\xa9");

	ASSERT_PARSE_ERR(".encoding = \"GBK\"\ndisplayName = \"x\"\n", -ENOTSUP,
			 "line 1: .encoding \"GBK\" is not supported");
	ASSERT_PARSE_ERR(".encoding = \"Shift_JIS\"\n", -ENOTSUP, "Shift_JIS");
	ASSERT_PARSE_ERR("displayName = \"caf\xe9\"\n", -EINVAL,
			 "line 1: the value of displayName is not valid UTF-8 "
			 "(the file has no .encoding)");
	ASSERT_PARSE_ERR(".encoding = \"UTF-8\"\nx = \"\xc0\xaf\"\n", -EINVAL,
			 "line 2: the value of x is not valid UTF-8");   /* overlong '/' */
	ASSERT_PARSE_ERR("x = \"\xed\xa0\x80\"\n", -EINVAL, "not valid UTF-8"); /* surrogate */
	ASSERT_PARSE_ERR("x = \"\xf4\x90\x80\x80\"\n", -EINVAL, "not valid UTF-8"); /* > U+10FFFF */
	ASSERT_PARSE_ERR("x = \"\xe2\x82\"\n", -EINVAL, "not valid UTF-8");     /* truncated */
}

TEST(later_wins_and_case)
{
	struct vm *vm = parse_ok("memsize = \"512\"\n"
				 "displayName = \"first\"\n"
				 "MEMSIZE = \"1024\"\n"
				 "DisplayName = \"second\"\n"
				 "ethernet0.present = \"false\"\n"
				 "Ethernet0.Present = \"True\"\n"
				 "ETHERNET0.VIRTUALDEV = \"E1000\"\n"
				 "ethernet0.generatedaddress = \"00:50:56:00:00:01\"\n");

	ASSERT_U64_EQ(vm->memory, 1024ull << 20);
	ASSERT_STREQ(vm->name, "second");
	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_STREQ(vm->nics[0].model, "E1000"); /* values keep their case */
	ASSERT_STREQ(vm->nics[0].mac, "00:50:56:00:00:01");
	/* One entry per key: the last line's spelling, value and place. */
	ASSERT_EQ(vm->n_extra, 5);
	ASSERT_STREQ(vm->extra[0].key, "MEMSIZE");
	ASSERT_STREQ(vm->extra[0].value, "1024");
	ASSERT_STREQ(vm->extra[1].key, "DisplayName");
	ASSERT_STREQ(vm->extra[2].key, "Ethernet0.Present");
	ASSERT_STREQ(vm->extra[3].key, "ETHERNET0.VIRTUALDEV");
}

TEST(present_false_subtree)
{
	struct vm *vm = parse_ok(
		"ethernet1.virtualDev = \"e1000\"\n"	/* before its present line */
		"ethernet1.present = \"FALSE\"\n"
		"ethernet1.generatedAddress = \"00:0c:29:00:00:01\"\n" /* and after */
		"ethernet0.present = \"TRUE\"\n"
		"ethernet10.connectionType = \"nat\"\n" /* not under ethernet1 */
		"scsi0.present = \"TRUE\"\n"
		"scsi0:0.present = \"TRUE\"\n"
		"scsi0:0.fileName = \"a.vmdk\"\n"
		"scsi0:1.fileName = \"b.vmdk\"\n"
		"scsi0:1.present = \"FALSE\"\n"
		"scsi0:10.present = \"TRUE\"\n"	/* not under scsi0:1 */
		"scsi0:10.fileName = \"c.vmdk\"\n"
		"scsi1:0.present = \"TRUE\"\n"	/* under an absent controller */
		"scsi1:0.fileName = \"d.vmdk\"\n"
		"scsi1.present = \"FALSE\"\n"
		"scsi1.virtualDev = \"lsilogic\"\n"
		"sound.present = \"FALSE\"\n"
		"sound.fileName = \"-1\"\n"
		"ide0:0.present = \"FALSE\"\n"
		"ide0:0.deviceType = \"cdrom-image\"\n"
		"ide0:0.fileName = \"x.iso\"\n");

	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_EQ(vm->nics[0].index, 0);
	ASSERT_EQ(vm->n_controllers, 1);
	ASSERT_EQ(vm->n_disks, 2);
	ASSERT_STREQ(vm->disks[0].file, "a.vmdk");
	ASSERT_STREQ(vm->disks[1].file, "c.vmdk");
	ASSERT_EQ(vm->disks[1].unit, 10);
	ASSERT_EQ(vm->n_cdroms, 0);
	ASSERT(!vm->has_sound);
	/* Removed keys are gone from extra; the present lines themselves stay. */
	ASSERT(vmx_value(vm, "ethernet1.virtualDev") == NULL);
	ASSERT(vmx_value(vm, "ethernet1.generatedAddress") == NULL);
	ASSERT_STREQ(vmx_value(vm, "ethernet1.present"), "FALSE");
	ASSERT_STREQ(vmx_value(vm, "ethernet10.connectionType"), "nat");
	ASSERT(vmx_value(vm, "scsi0:1.fileName") == NULL);
	ASSERT_STREQ(vmx_value(vm, "scsi0:10.fileName"), "c.vmdk");
	ASSERT(vmx_value(vm, "scsi1:0.present") == NULL);
	ASSERT(vmx_value(vm, "scsi1:0.fileName") == NULL);
	ASSERT(vmx_value(vm, "scsi1.virtualDev") == NULL);
	ASSERT_STREQ(vmx_value(vm, "scsi1.present"), "FALSE");
	ASSERT(vmx_value(vm, "sound.fileName") == NULL);
	ASSERT(vmx_value(vm, "ide0:0.fileName") == NULL);
	ASSERT_EQ(vm->n_extra, 12);

	/* The last present line decides; so a later TRUE brings the subtree back. */
	vm = parse_ok("ethernet0.present = \"FALSE\"\nethernet0.networkName = \"n\"\n"
		      "ethernet0.present = \"TRUE\"\n");
	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_STREQ(vm->nics[0].network, "n");
	/* A device whose present is missing does not exist (libvirt's rule) but keeps its
	 * keys. */
	vm = parse_ok("ethernet0.virtualDev = \"e1000\"\nscsi0.present = \"TRUE\"\n"
		      "scsi0:0.fileName = \"a.vmdk\"\n");
	ASSERT_EQ(vm->n_nics, 0);
	ASSERT_EQ(vm->n_disks, 0);
	ASSERT_STREQ(vmx_value(vm, "scsi0:0.fileName"), "a.vmdk");
	/* Only "FALSE" removes: an odd value on a key we do not read is left alone. */
	vm = parse_ok("vmci0.present = \"maybe\"\nvmci0.id = \"1\"\n");
	ASSERT_STREQ(vmx_value(vm, "vmci0.id"), "1");
	/* ... but on a device we read it is an error. */
	ASSERT_PARSE_ERR("x = \"1\"\nethernet0.present = \"yes\"\n", -EINVAL,
			 "line 2: ethernet0.present = \"yes\": expected TRUE or FALSE");
	ASSERT_PARSE_ERR("scsi0.present = \"TRUE\"\nscsi0:3.present = \"1\"\n", -EINVAL,
			 "line 2: scsi0:3.present = \"1\": expected TRUE or FALSE");
}

TEST(uuid)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6",
		  "564d9f1a-2b3c-4d5e-6f70-8192a3b4c5d6" },
		{ "564D9F1A2B3C4D5E6F708192A3B4C5D6", "564d9f1a-2b3c-4d5e-6f70-8192a3b4c5d6" },
		{ "564d9f1a-2b3c-4d5e-6f70-8192a3b4c5d6", "564d9f1a-2b3c-4d5e-6f70-8192a3b4c5d6" },
		{ " 50 11 5e 16 9b dc 49 d7 - f1 71 53 c4 d7 f9 17 10 ",
		  "50115e16-9bdc-49d7-f171-53c4d7f91710" },
	};
	static const char *const bad[] = {
		"", "56 4d", "56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5",
		"56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 d6 00",
		"56 4d 9f 1a 2b 3c 4d 5e-6f 70 81 92 a3 b4 c5 dg",
		"56:4d:9f:1a:2b:3c:4d:5e:6f:70:81:92:a3:b4:c5:d6",
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "uuid.bios = \"%s\"\n", ok[i].in);
		ASSERT_STREQ(parse_ok(text)->uuid, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "\nUUID.BIOS = \"%s\"\n", bad[i]);
		ASSERT_PARSE_ERR(text, -EINVAL, "line 2: UUID.BIOS = \"");
		ASSERT(strstr(harness_err.msg, "expected 16 bytes in hex"));
	}
	/* uuid.location and vc.uuid are not the machine's UUID. */
	ASSERT(parse_ok("vc.uuid = \"52 31 cb fc c1 3f 96 32-83 c0 bb 70 6c 90 5c fd\"\n")->uuid ==
	       NULL);
}

TEST(numbers)
{
	struct vm *vm = parse_ok("memsize = \"262144\"\nnumvcpus = \"3\"\n"
				 "cpuid.coresPerSocket = \"3\"\nvirtualHW.version = \"21\"\n");

	/* Neither libvirt's multiple-of-4 memsize rule nor its even-vCPU rule. */
	ASSERT_U64_EQ(vm->memory, 262144ull << 20);
	ASSERT_EQ(vm->vcpus, 3);
	ASSERT_EQ(vm->cores_per_socket, 3);
	ASSERT_STREQ(vm->hw_version, "vmx-21");
	ASSERT_U64_EQ(parse_ok("memsize = \"67108864\"\n")->memory, 64ull << 40);

	ASSERT_PARSE_ERR("memsize = \"abc\"\n", -EINVAL,
			 "line 1: memsize = \"abc\": expected a whole number from 1 to 67108864");
	ASSERT_PARSE_ERR("memsize = \"0\"\n", -EINVAL, "memsize = \"0\"");
	ASSERT_PARSE_ERR("memsize = \"\"\n", -EINVAL, "memsize = \"\"");
	ASSERT_PARSE_ERR("memsize = \"-1\"\n", -EINVAL, "memsize = \"-1\"");
	ASSERT_PARSE_ERR("memsize = \" 1\"\n", -EINVAL, "memsize = \" 1\"");
	ASSERT_PARSE_ERR("memsize = \"67108865\"\n", -EINVAL, "memsize");
	ASSERT_PARSE_ERR("memsize = \"99999999999999999999999\"\n", -EINVAL, "memsize");
	ASSERT_PARSE_ERR("numvcpus = \"0\"\n", -EINVAL, "numvcpus = \"0\"");
	ASSERT_PARSE_ERR("numvcpus = \"4097\"\n", -EINVAL, "from 1 to 4096");
	ASSERT_PARSE_ERR("cpuid.coresPerSocket = \"0\"\n", -EINVAL, "cpuid.coresPerSocket");
	ASSERT_PARSE_ERR("virtualHW.version = \"1000\"\n", -EINVAL, "virtualHW.version");
	ASSERT_PARSE_ERR("svga.vramSize = \"lots\"\n", -EINVAL, "svga.vramSize");
	ASSERT_PARSE_ERR("uefi.secureBoot.enabled = \"on\"\n", -EINVAL, "expected TRUE or FALSE");
	/* A long value is cut short in the message. */
	{
		struct sb b = { 0 };
		size_t i;

		sb_add(&b, "memsize = \"");
		for (i = 0; i < 1000; i++)
			sb_add(&b, "x");
		sb_add(&b, "\"\n");
		ASSERT_PARSE_ERR(b.s, -EINVAL, "xxx...\"");
		ASSERT(strlen(harness_err.msg) < 200);
		free(b.s);
	}
	/* Unprintable bytes are not echoed. */
	ASSERT_PARSE_ERR("memsize = \"1|0A|1B[2J\"\n", -EINVAL, "memsize = \"1??[2J\"");
}

TEST(controllers)
{
	struct vm *vm = parse_ok(
		"scsi0.present = \"TRUE\"\nscsi0.virtualDev = \"lsilogic\"\n"
		"scsi1.present = \"TRUE\"\nscsi1.virtualDev = \"lsisas1068\"\n"
		"scsi2.present = \"TRUE\"\nscsi2.virtualDev = \"buslogic\"\n"
		"scsi3.present = \"TRUE\"\nscsi3.virtualDev = \"pvscsi\"\n"
		"sata0.present = \"TRUE\"\n"
		"sata3.present = \"TRUE\"\n"
		"nvme1.present = \"TRUE\"\n"
		"ide1.present = \"TRUE\"\n");
	static const struct {
		enum vm_bus bus;
		unsigned index;
		const char *model;
	} want[] = {
		{ VM_BUS_SCSI, 0, "lsilogic" }, { VM_BUS_SCSI, 1, "lsisas1068" },
		{ VM_BUS_SCSI, 2, "buslogic" }, { VM_BUS_SCSI, 3, "pvscsi" },
		{ VM_BUS_SATA, 0, NULL },	{ VM_BUS_SATA, 3, NULL },
		{ VM_BUS_IDE, 1, NULL },	{ VM_BUS_NVME, 1, NULL },
	};
	size_t i;

	/* Present controllers are listed even without disks; IDE only when said or used. */
	ASSERT_EQ(vm->n_controllers, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < vm->n_controllers; i++) {
		ASSERT_EQ(vm->controllers[i].bus, want[i].bus);
		ASSERT_EQ(vm->controllers[i].index, want[i].index);
		if (want[i].model)
			ASSERT_STREQ(vm->controllers[i].model, want[i].model);
		else
			ASSERT(vm->controllers[i].model == NULL);
	}
	/* A SCSI, SATA or NVMe controller must be present for its disks; IDE needs not,
	 * unless it is switched off. */
	vm = parse_ok("scsi0:0.present = \"TRUE\"\nscsi0:0.fileName = \"a.vmdk\"\n"
		      "sata0:0.present = \"TRUE\"\nsata0:0.fileName = \"b.vmdk\"\n"
		      "nvme0:0.present = \"TRUE\"\nnvme0:0.fileName = \"c.vmdk\"\n"
		      "ide0:1.present = \"TRUE\"\nide0:1.fileName = \"d.vmdk\"\n"
		      "ide1.present = \"FALSE\"\n"
		      "ide1:0.present = \"TRUE\"\nide1:0.fileName = \"e.vmdk\"\n");
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].file, "d.vmdk");
	ASSERT_EQ(vm->disks[0].unit, 1);
	ASSERT_EQ(vm->n_controllers, 1);
	ASSERT_EQ(ctl_of_disk(vm, 0)->bus, VM_BUS_IDE);
	ASSERT_EQ(ctl_of_disk(vm, 0)->index, 0);
	/* An empty virtualDev is no model. */
	vm = parse_ok("scsi0.present = \"TRUE\"\nscsi0.virtualDev = \"\"\n");
	ASSERT(vm->controllers[0].model == NULL);
}

TEST(disks_and_cdroms)
{
	struct vm *vm = parse_ok(
		"scsi0.present = \"TRUE\"\n"
		"scsi0:0.present = \"TRUE\"\nscsi0:0.deviceType = \"scsi-hardDisk\"\n"
		"scsi0:0.fileName = \"/vmfs/volumes/ds1/vm/vm.vmdk\"\n"
		"scsi0:1.present = \"TRUE\"\nscsi0:1.deviceType = \"disk\"\n"
		"scsi0:1.fileName = \"vm_1.vmdk\"\n"
		"scsi0:2.present = \"TRUE\"\nscsi0:2.fileName = \"NO TYPE.VMDK\"\n"
		"scsi0:3.present = \"TRUE\"\nscsi0:3.deviceType = \"cdrom-image\"\n"
		"scsi0:3.fileName = \"[ds] iso/x.iso\"\n"
		"scsi0:4.present = \"TRUE\"\nscsi0:4.fileName = \"untyped.iso\"\n"
		"scsi0:5.present = \"TRUE\"\nscsi0:5.deviceType = \"scsi-passthru\"\n"
		"scsi0:5.fileName = \"/vmfs/devices/cdrom/mpx.vmhba32:C0:T0:L0\"\n"
		"scsi0:6.present = \"TRUE\"\nscsi0:6.deviceType = \"scsi-passthru\"\n"
		"scsi0:6.fileName = \"/vmfs/devices/genscsi/tape0\"\n"
		"scsi0:7.present = \"TRUE\"\nscsi0:7.fileName = \"unit7.vmdk\"\n"
		"scsi0:8.present = \"TRUE\"\nscsi0:8.fileName = \"notes.txt\"\n"
		"scsi0:9.present = \"TRUE\"\n"
		"scsi0:63.present = \"TRUE\"\nscsi0:63.fileName = \"last.vmdk\"\n"
		"sata0.present = \"TRUE\"\n"
		"sata0:0.present = \"TRUE\"\nsata0:0.deviceType = \"cdrom-image\"\n"
		"sata0:0.fileName = \"\"\n"
		"sata0:1.present = \"TRUE\"\nsata0:1.deviceType = \"cdrom-image\"\n"
		"sata0:1.fileName = \"emptyBackingString\"\n"
		"sata0:2.present = \"TRUE\"\nsata0:2.deviceType = \"cdrom-raw\"\n"
		"sata0:2.fileName = \"/dev/sr0\"\n"
		"sata0:3.present = \"TRUE\"\nsata0:3.deviceType = \"cdrom-raw\"\n"
		"sata0:3.clientDevice = \"TRUE\"\nsata0:3.fileName = \"emptyBackingString\"\n"
		"sata0:29.present = \"TRUE\"\nsata0:29.fileName = \"sata.vmdk\"\n"
		"ide0:0.present = \"TRUE\"\nide0:0.deviceType = \"ata-hardDisk\"\n"
		"ide0:0.fileName = \"ide.vmdk\"\n"
		"ide1:1.present = \"TRUE\"\nide1:1.deviceType = \"atapi-cdrom\"\n"
		"ide1:1.fileName = \"auto detect\"\n"
		"nvme0.present = \"TRUE\"\n"
		"nvme0:14.present = \"TRUE\"\nnvme0:14.fileName = \"nvme.vmdk\"\n");
	static const struct {
		const char *file;
		enum vm_bus bus;
		unsigned ctl;
		int unit;
	} disks[] = {
		{ "/vmfs/volumes/ds1/vm/vm.vmdk", VM_BUS_SCSI, 0, 0 },
		{ "vm_1.vmdk", VM_BUS_SCSI, 0, 1 },
		{ "NO TYPE.VMDK", VM_BUS_SCSI, 0, 2 },
		{ "unit7.vmdk", VM_BUS_SCSI, 0, 7 },
		{ "last.vmdk", VM_BUS_SCSI, 0, 63 },
		{ "sata.vmdk", VM_BUS_SATA, 0, 29 },
		{ "ide.vmdk", VM_BUS_IDE, 0, 0 },
		{ "nvme.vmdk", VM_BUS_NVME, 0, 14 },
	};
	static const struct {
		const char *file;
		enum vm_bus bus;
		unsigned ctl;
		int unit;
	} cds[] = {
		{ "[ds] iso/x.iso", VM_BUS_SCSI, 0, 3 },
		{ "untyped.iso", VM_BUS_SCSI, 0, 4 },
		{ NULL, VM_BUS_SCSI, 0, 5 },   /* host CD passed through: empty drive */
		{ NULL, VM_BUS_SATA, 0, 0 },   /* "" */
		{ NULL, VM_BUS_SATA, 0, 1 },   /* emptyBackingString */
		{ NULL, VM_BUS_SATA, 0, 2 },   /* host drive */
		{ NULL, VM_BUS_IDE, 1, 1 },    /* atapi-cdrom "auto detect" */
	};
	size_t i;

	ASSERT_EQ(vm->n_disks, sizeof(disks) / sizeof(disks[0]));
	for (i = 0; i < vm->n_disks; i++) {
		ASSERT_STREQ(vm->disks[i].file, disks[i].file);
		ASSERT_EQ(ctl_of_disk(vm, i)->bus, disks[i].bus);
		ASSERT_EQ(ctl_of_disk(vm, i)->index, disks[i].ctl);
		ASSERT_EQ(vm->disks[i].unit, disks[i].unit);
		ASSERT_U64_EQ(vm->disks[i].capacity, 0);
	}
	ASSERT_EQ(vm->n_cdroms, sizeof(cds) / sizeof(cds[0]));
	for (i = 0; i < vm->n_cdroms; i++) {
		if (cds[i].file)
			ASSERT_STREQ(vm->cdroms[i].file, cds[i].file);
		else
			ASSERT(vm->cdroms[i].file == NULL);
		ASSERT(!vm->cdroms[i].floppy);
		ASSERT_EQ(ctl_of_cdrom(vm, i)->bus, cds[i].bus);
		ASSERT_EQ(ctl_of_cdrom(vm, i)->index, cds[i].ctl);
		ASSERT_EQ(vm->cdroms[i].unit, cds[i].unit);
	}
	/* scsi0, sata0, ide0 (implicit, used), ide1 (implicit, used), nvme0 */
	ASSERT_EQ(vm->n_controllers, 5);

	/* A client device is dropped even when it is a disk; so is an unknown unit. */
	vm = parse_ok("ide0:0.present = \"TRUE\"\nide0:0.clientDevice = \"TRUE\"\n"
		      "ide0:0.fileName = \"a.vmdk\"\n");
	ASSERT_EQ(vm->n_disks + vm->n_cdroms + vm->n_controllers, 0);

	ASSERT_PARSE_ERR("scsi0.present = \"TRUE\"\nscsi0:1.present = \"TRUE\"\n"
			 "scsi0:1.deviceType = \"scsi-hardDisk\"\n",
			 -EINVAL, "line 2: scsi0:1 is a hard disk without a fileName");
	ASSERT_PARSE_ERR("ide0:0.present = \"TRUE\"\nide0:0.deviceType = \"ata-hardDisk\"\n"
			 "ide0:0.fileName = \"\"\n",
			 -EINVAL, "line 1: ide0:0 is a hard disk without a fileName");
	ASSERT_PARSE_ERR("scsi0.present = \"TRUE\"\nscsi0:1.present = \"TRUE\"\n"
			 "scsi0:1.deviceType = \"rawDisk\"\nscsi0:1.fileName = \"r.vmdk\"\n",
			 -ENOTSUP, "line 3: scsi0:1.deviceType = \"rawDisk\" is not a device type");
	ASSERT_PARSE_ERR("ide0:0.present = \"TRUE\"\nide0:0.clientDevice = \"no\"\n", -EINVAL,
			 "line 2: ide0:0.clientDevice = \"no\": expected TRUE or FALSE");
}

TEST(floppies)
{
	struct vm *vm = parse_ok(
		"floppy0.present = \"TRUE\"\nfloppy0.fileType = \"file\"\n"
		"floppy0.fileName = \"boot.flp\"\n"
		"floppy1.present = \"TRUE\"\nfloppy1.fileType = \"device\"\n"
		"floppy1.fileName = \"/dev/fd0\"\n");

	ASSERT_EQ(vm->n_cdroms, 2);
	ASSERT(vm->cdroms[0].floppy && vm->cdroms[1].floppy);
	ASSERT_STREQ(vm->cdroms[0].file, "boot.flp");
	ASSERT(vm->cdroms[1].file == NULL);
	ASSERT_EQ(vm->cdroms[0].controller, -1);
	ASSERT_EQ(vm->cdroms[0].unit, 0);
	ASSERT_EQ(vm->cdroms[1].unit, 1);
	ASSERT_EQ(vm->n_controllers, 0);
	/* Client floppies (vmware-null-remote-floppy), absent ones, and ones without present
	 * are not there. */
	vm = parse_ok("floppy0.present = \"TRUE\"\nfloppy0.clientDevice = \"TRUE\"\n"
		      "floppy0.fileName = \"vmware-null-remote-floppy\"\n"
		      "floppy1.present = \"FALSE\"\nfloppy1.fileType = \"file\"\n");
	ASSERT_EQ(vm->n_cdroms, 0);
	vm = parse_ok("floppy0.fileType = \"file\"\nfloppy0.fileName = \"a.flp\"\n");
	ASSERT_EQ(vm->n_cdroms, 0);
	vm = parse_ok("floppy0.present = \"TRUE\"\nfloppy0.fileType = \"file\"\n"
		      "floppy0.fileName = \"\"\n");
	ASSERT_EQ(vm->n_cdroms, 1);
	ASSERT(vm->cdroms[0].file == NULL);
}

TEST(nics)
{
	struct vm *vm = parse_ok(
		"ethernet0.present = \"TRUE\"\nethernet0.virtualDev = \"e1000\"\n"
		"ethernet0.addressType = \"vpx\"\n"
		"ethernet0.generatedAddress = \"00:50:56:9F:08:51\"\n"
		"ethernet1.present = \"TRUE\"\nethernet1.virtualDev = \"e1000e\"\n"
		"ethernet1.addressType = \"static\"\nethernet1.address = \"00:1a:4a:16:01:55\"\n"
		"ethernet1.generatedAddress = \"00:0c:29:00:00:99\"\n"
		"ethernet2.present = \"TRUE\"\nethernet2.virtualDev = \"vmxnet\"\n"
		"ethernet2.features = \"15\"\n"
		"ethernet3.present = \"TRUE\"\nethernet3.virtualDev = \"vmxnet\"\n"
		"ethernet4.present = \"TRUE\"\nethernet4.virtualDev = \"vlance\"\n"
		"ethernet4.networkName = \"\"\n"
		"ethernet5.present = \"TRUE\"\n" /* no virtualDev: the guest's default, unsaid */
		"ethernet5.address = \"00:50:56:00:00:05\"\n" /* generated by default: ignored */
		"ethernet7.present = \"TRUE\"\nethernet7.virtualDev = \"vmxnet3\"\n"
		"ethernet7.addressType = \"static\"\nethernet7.address = \"00:00:00:00:00:00\"\n"
		"ethernet7.networkName = \"nsx segment\"\n"
		"ethernet9.present = \"TRUE\"\nethernet9.virtualDev = \"vmxnet2\"\n");
	static const struct {
		unsigned index;
		const char *model, *mac, *network;
	} want[] = {
		{ 0, "e1000", "00:50:56:9f:08:51", NULL },
		{ 1, "e1000e", "00:1a:4a:16:01:55", NULL },
		{ 2, "vmxnet2", NULL, NULL },
		{ 3, "vmxnet", NULL, NULL },
		{ 4, "vlance", NULL, NULL },
		{ 5, NULL, NULL, NULL },
		{ 7, "vmxnet3", NULL, "nsx segment" }, /* all-zero MAC: none */
		{ 9, "vmxnet2", NULL, NULL },
	};
	size_t i;

	ASSERT_EQ(vm->n_nics, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < vm->n_nics; i++) {
		ASSERT_EQ(vm->nics[i].index, want[i].index);
#define STR_OR_NULL(a, b)                                                                          \
	do {                                                                                       \
		if (b)                                                                             \
			ASSERT_STREQ(a, b);                                                        \
		else                                                                               \
			ASSERT((a) == NULL);                                                       \
	} while (0)
		STR_OR_NULL(vm->nics[i].model, want[i].model);
		STR_OR_NULL(vm->nics[i].mac, want[i].mac);
		STR_OR_NULL(vm->nics[i].network, want[i].network);
	}

	ASSERT_PARSE_ERR("ethernet0.present = \"TRUE\"\n"
			 "ethernet0.generatedAddress = \"00:50:56\"\n",
			 -EINVAL,
			 "line 2: ethernet0.generatedAddress = \"00:50:56\": expected a MAC");
	ASSERT_PARSE_ERR("ethernet0.present = \"TRUE\"\nethernet0.generatedAddress = "
			 "\"00-50-56-01-02-03\"\n",
			 -EINVAL, "expected a MAC");
	ASSERT_PARSE_ERR("ethernet0.present = \"TRUE\"\nethernet0.generatedAddress = "
			 "\"00:50:56:01:02:0g\"\n",
			 -EINVAL, "expected a MAC");
	ASSERT_PARSE_ERR("ethernet0.present = \"TRUE\"\nethernet0.addressType = \"static\"\n"
			 "ethernet0.address = \"00:50:56:01:02:03:04\"\n",
			 -EINVAL, "line 3: ethernet0.address");
	ASSERT_PARSE_ERR("ethernet0.present = \"TRUE\"\nethernet0.addressType = \"random\"\n",
			 -EINVAL,
			 "line 2: ethernet0.addressType = \"random\": "
			 "expected generated, vpx or static");
	/* The MAC of a NIC that is not there is not looked at. */
	ASSERT_EQ(parse_ok("ethernet0.generatedAddress = \"junk\"\n")->n_nics, 0);
}

TEST(device_ranges)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "scsi0.present = \"TRUE\"\nscsi0:64.present = \"TRUE\"\n",
		  "line 2: scsi0:64.present: unit 64 is out of range (0 to 63 on scsi)" },
		{ "sata0:30.present = \"TRUE\"\n", "unit 30 is out of range (0 to 29 on sata)" },
		{ "ide0:2.present = \"TRUE\"\n", "unit 2 is out of range (0 to 1 on ide)" },
		{ "nvme0:15.present = \"TRUE\"\n", "unit 15 is out of range (0 to 14 on nvme)" },
		{ "scsi4.present = \"TRUE\"\n",
		  "line 1: scsi4.present: VMware has scsi0 to scsi3 only" },
		{ "scsi4:0.present = \"TRUE\"\n", "VMware has scsi0 to scsi3 only" },
		{ "sata4.present = \"TRUE\"\n", "VMware has sata0 to sata3 only" },
		{ "ide2:0.present = \"TRUE\"\n", "VMware has ide0 to ide1 only" },
		{ "nvme4.present = \"TRUE\"\n", "VMware has nvme0 to nvme3 only" },
		{ "ethernet10.present = \"TRUE\"\n", "VMware has ethernet0 to ethernet9 only" },
		{ "FLOPPY2.Present = \"true\"\n",
		  "line 1: FLOPPY2.Present: VMware has floppy0 to floppy1 only" },
		{ "scsi0:999999999.present = \"TRUE\"\n", "unit 999999999 is out of range" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_PARSE_ERR(bad[i].text, -EINVAL, bad[i].msg);
	/* Out of range but absent, or not a device key we know: fine. */
	parse_ok("scsi0:64.present = \"FALSE\"\nethernet12.present = \"FALSE\"\n"
		 "scsi0:01.present = \"TRUE\"\nscsi9999999999.present = \"TRUE\"\n"
		 "ethernet0:1.present = \"TRUE\"\nscsi0:1:2.present = \"TRUE\"\n"
		 "scsi.present = \"TRUE\"\nscsix.present = \"TRUE\"\n"
		 "ideHost.present = \"TRUE\"\nserial40.present = \"TRUE\"\n"
		 "usb.present = \"TRUE\"\nsata0:0.present2 = \"TRUE\"\n");
	/* Under an absent controller nothing is checked. */
	parse_ok("scsi1.present = \"FALSE\"\nscsi1:99.present = \"TRUE\"\n");
}

TEST(encrypted_vm)
{
	ASSERT_PARSE_ERR(".encoding = \"UTF-8\"\ndisplayName = \"Encrypted VM\"\n"
			 "encryption.keySafe = \"vmware:key/list/()\"\n"
			 "encryption.data = \"Ynv+XzAuYX3B\"\n",
			 -ENOTSUP, "line 4: the VM is encrypted (encryption.data)");
}

/* ------------------------------------------------------------------------------------ */
/* Hostile files */

TEST(caps)
{
	struct vm *vm = NULL;
	struct sb b = { 0 };
	char *big;
	size_t i;

	/* Over 4 MiB: refused before anything is read. */
	big = malloc(VMX_MAX_BYTES + 1);
	ASSERT(big);
	memset(big, '\n', VMX_MAX_BYTES + 1);
	ASSERT_ERR(vmx_parse(big, VMX_MAX_BYTES + 1, "guest.vmx", &vm, E), -EFBIG,
		   "guest.vmx: 4194305 bytes, more than the 4194304");
	ASSERT(vm == NULL);
	/* Exactly 4 MiB of comments is fine line-count-wise only if few lines: use long
	 * comment lines. */
	memset(big, '#', VMX_MAX_BYTES);
	for (i = 60000; i < VMX_MAX_BYTES; i += 60000)
		big[i] = '\n';
	ASSERT_OK(vmx_parse(big, VMX_MAX_BYTES, "guest.vmx", &vm, E));
	vm_free(vm);
	vm = NULL;
	/* 100000 lines are fine, 100001 are not. */
	memset(big, '\n', VMX_MAX_LINES);
	ASSERT_OK(vmx_parse(big, VMX_MAX_LINES, "guest.vmx", &vm, E));
	vm_free(vm);
	vm = NULL;
	ASSERT_ERR(vmx_parse(big, VMX_MAX_LINES + 1, "guest.vmx", &vm, E), -EFBIG,
		   "guest.vmx: more than 100000 lines");
	/* A line of 64 KiB is fine, one byte more is not. */
	memset(big, '#', VMX_MAX_LINE + 1);
	big[VMX_MAX_LINE + 1] = '\n';
	ASSERT_ERR(vmx_parse(big, VMX_MAX_LINE + 2, "guest.vmx", &vm, E), -EFBIG,
		   "guest.vmx: line 1: longer than 65536 bytes");
	ASSERT_OK(vmx_parse(big + 1, VMX_MAX_LINE + 1, "guest.vmx", &vm, E));
	vm_free(vm);
	vm = NULL;
	free(big);

	/* A 60 KB value made of escapes, the worst real case (esx-in-the-wild-15) times 7. */
	sb_add(&b, "guestinfo.appInfo = \"");
	for (i = 0; i < 20000; i++)
		sb_add(&b, "|22");
	sb_add(&b, "\"\n");
	vm = parse_ok(b.s);
	ASSERT_EQ(strlen(vmx_value(vm, "guestinfo.appinfo")), 20000);
	free(b.s);
}

TEST(nul_bytes)
{
	static const char text[] = "displayName = \"a\"\nguestOS = \"x\0y\"\n";
	struct vm *vm = NULL;

	ASSERT_ERR(vmx_parse(text, sizeof(text) - 1, "guest.vmx", &vm, E), -EINVAL,
		   "guest.vmx: line 2: NUL byte");
	ASSERT(vm == NULL);
	ASSERT_ERR(vmx_parse("\0", 1, "guest.vmx", &vm, E), -EINVAL, "line 1: NUL byte");
	/* Only len counts: a NUL after it is not read. */
	ASSERT_OK(vmx_parse("a = \"1\"\0junk", 7, "guest.vmx", &vm, E));
	vm_free(vm);
}

/* Many lines of every kind must stay fast and bounded. */
TEST(many_keys)
{
	struct sb b = { 0 };
	struct vm *vm;
	unsigned c, u, n = 0;
	double t;

	/* Every device slot there is, plus filler up to the line cap. */
	for (c = 0; c < 4; c++) {
		sb_add(&b, "scsi%u.present = \"TRUE\"\nsata%u.present = \"TRUE\"\n"
			   "nvme%u.present = \"TRUE\"\n", c, c, c);
		for (u = 0; u < 64; u++, n++)
			sb_add(&b,
			       "scsi%u:%u.present = \"TRUE\"\n"
			       "scsi%u:%u.fileName = \"s%u-%u.vmdk\"\n",
			       c, u, c, u, c, u);
		for (u = 0; u < 30; u++, n++)
			sb_add(&b,
			       "sata%u:%u.present = \"TRUE\"\n"
			       "sata%u:%u.fileName = \"a%u-%u.iso\"\n",
			       c, u, c, u, c, u);
		for (u = 0; u < 15; u++, n++)
			sb_add(&b,
			       "nvme%u:%u.present = \"TRUE\"\n"
			       "nvme%u:%u.fileName = \"n%u-%u.vmdk\"\n",
			       c, u, c, u, c, u);
	}
	for (u = 0; u < 10; u++)
		sb_add(&b, "ethernet%u.present = \"TRUE\"\n", u);
	while (n < 48000)
		sb_add(&b, "guestinfo.k%u = \"v\"\nguestinfo.k%u = \"w\"\n", n, n), n++;
	t = now();
	vm = parse_ok(b.s);
	t = now() - t;
	ASSERT_EQ(vm->n_disks, 4 * 64 + 4 * 15);
	ASSERT_EQ(vm->n_cdroms, 4 * 30);
	ASSERT_EQ(vm->n_nics, 10);
	ASSERT_EQ(vm->n_controllers, 12);
	ASSERT_STREQ(vmx_value(vm, "guestinfo.k47999"), "w");
	printf("  %zu bytes, %zu keys: %.3f s\n", b.len, vm->n_extra, t);
	ASSERT(t < 2.0);
	free(b.s);
	vm_free(last_vm);
	last_vm = NULL;
}

/* present = FALSE on every level of a deep key, and on many siblings: the removal pass
 * must stay linear. */
TEST(many_absent_subtrees)
{
	struct sb b = { 0 }, prefix = { 0 };
	struct vm *vm;
	unsigned i;
	double t;

	sb_add(&prefix, "a");
	for (i = 0; i < 1000; i++) {
		sb_add(&b, "%s.present = \"FALSE\"\n%s.x = \"1\"\n", prefix.s, prefix.s);
		sb_add(&prefix, ".a");
	}
	for (i = 0; i < 40000; i++)
		sb_add(&b, "d%u.present = \"FALSE\"\nd%u:0.x = \"1\"\n", i, i);
	t = now();
	vm = parse_ok(b.s);
	t = now() - t;
	/* Only the outermost present line and each d's own are left. */
	ASSERT_EQ(vm->n_extra, 1 + 40000);
	printf("  %zu bytes: %.3f s\n", b.len, t);
	ASSERT(t < 2.0);
	free(b.s);
	free(prefix.s);
	vm_free(last_vm);
	last_vm = NULL;
}

/* Random damage to a real file: never a crash, always a clean result or one line. */
TEST(mutations)
{
	size_t len = strlen(full_vmx), i;
	char *buf = malloc(len + 1);
	unsigned seed = 12345, ok = 0, refused = 0;

	ASSERT(buf);
	for (i = 0; i < 20000; i++) {
		struct vm *vm = NULL;
		unsigned k, n = 1 + (seed >> 16) % 4;
		int r;

		memcpy(buf, full_vmx, len + 1);
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		err_clear(E);
		r = vmx_parse(buf, len, "guest.vmx", &vm, E);
		if (r == 0) {
			ASSERT(vm && vm->name);
			ok++;
		} else {
			ASSERT(vm == NULL);
			ASSERT(r == -EINVAL || r == -ENOTSUP || r == -EFBIG);
			ASSERT(strncmp(harness_err.msg, "guest.vmx: ", 11) == 0);
			ASSERT(strchr(harness_err.msg, '\n') == NULL);
			refused++;
		}
		vm_free(vm);
	}
	printf("  %u parsed, %u refused\n", ok, refused);
	free(buf);
}

/* ------------------------------------------------------------------------------------ */
/* libvirt's vmx2xmldata: the same files through libvirt's parser */

/* A difference from libvirt's reading that we mean, or that the data forces. */
struct known_diff {
	const char *file, *field, *reason;
	bool seen;
};

static struct known_diff known_diffs[] = {
	{ "esx-in-the-wild-11", "disks",
	  "corpus version skew: the XML is from a newer libvirt commit whose .vmx gained a third "
	  "disk (scsi1:0); the stored .vmx has two", false },
	{ "esx-in-the-wild-7", "cdroms",
	  "scsi-passthru of /vmfs/devices/cdrom/...: libvirt makes a device='lun', we an empty "
	  "CD-ROM drive (a host's LUN means nothing on KVM)", false },
	{ "esx-in-the-wild-14", "mac",
	  "all-zero static MAC (NSX opaque network): libvirt keeps 00:00:00:00:00:00, we say "
	  "no address so the target generates one", false },
	{ NULL, NULL, NULL, false },
};

/* True (and noted) when file/field is a listed difference. */
static bool known(const char *file, const char *field)
{
	struct known_diff *k;

	for (k = known_diffs; k->file; k++) {
		if (!strcmp(k->file, file) && !strcmp(k->field, field)) {
			if (!k->seen)
				printf("  %s: %s differs from libvirt, as listed: %s\n", file,
				       field, k->reason);
			k->seen = true;
			return true;
		}
	}
	return false;
}

static xmlXPathObjectPtr xp(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);

	if (!o)
		HARNESS_FAIL("xpath %s failed", expr);
	return o;
}

/* The string value of expr, malloc'd, or NULL when it selects nothing. */
static char *xp_str(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr o = xp(ctx, expr);
	char *s = NULL;

	if (o->nodesetval && o->nodesetval->nodeNr > 0) {
		xmlChar *c = xmlNodeGetContent(o->nodesetval->nodeTab[0]);

		s = strdup(c ? (const char *)c : "");
		xmlFree(c);
	}
	xmlXPathFreeObject(o);
	return s;
}

static int xp_count(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr o = xp(ctx, expr);
	int n = o->nodesetval ? o->nodesetval->nodeNr : 0;

	xmlXPathFreeObject(o);
	return n;
}

static const char *bus_name(enum vm_bus b)
{
	switch (b) {
	case VM_BUS_IDE:
		return "ide";
	case VM_BUS_SCSI:
		return "scsi";
	case VM_BUS_SATA:
		return "sata";
	case VM_BUS_NVME:
		return "nvme";
	case VM_BUS_FLOPPY:
		return "fdc";
	case VM_BUS_USB:
		return "usb";
	default:
		return "?";
	}
}

/* The name libvirt's test harness gives file f (tests/vmx2xmltest.c): a bare or relative
 * name goes under "[datastore] directory/", /vmfs/volumes/DS/PATH becomes "[DS] PATH",
 * other absolute paths stay. */
static void libvirt_name(const char *f, char *buf, size_t size)
{
	if (!strncmp(f, "/vmfs/volumes/", 14)) {
		const char *ds = f + 14, *slash = strchr(ds, '/');

		if (slash) {
			snprintf(buf, size, "[%.*s] %s", (int)(slash - ds), ds, slash + 1);
			return;
		}
	}
	if (f[0] == '/')
		snprintf(buf, size, "%s", f);
	else
		snprintf(buf, size, "[datastore] directory/%s", f);
}

/* Compare one corpus pair; returns the number of fields that differ unexpectedly. */
static int compare_libvirt(const char *base, const struct vm *vm, const char *xml, size_t xml_len)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)xml_len, base, NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlXPathContextPtr ctx;
	char *s, expr[256];
	int bad = 0, n, i;
	size_t k, m;

	if (!doc)
		HARNESS_FAIL("%s.xml: not XML", base);
	ctx = xmlXPathNewContext(doc);

#define DIFF(field, ...)                                                                           \
	do {                                                                                       \
		if (!known(base, field)) {                                                         \
			printf("  %s: %s: ", base, field);                                         \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			bad++;                                                                     \
		}                                                                                  \
	} while (0)

	/* name: libvirt leaves it out when displayName is missing; we fall back to the
	 * file name. */
	s = xp_str(ctx, "/domain/name");
	if (s && strcmp(s, vm->name) != 0)
		DIFF("name", "libvirt \"%s\", we \"%s\"", s, vm->name);
	free(s);

	/* uuid.bios is libvirt's <hwuuid> (newer) or <uuid> (older); all zeros = none. */
	s = xp_str(ctx, "/domain/hwuuid");
	if (!s)
		s = xp_str(ctx, "/domain/uuid");
	if (s && !strcmp(s, "00000000-0000-0000-0000-000000000000")) {
		free(s);
		s = NULL;
	}
	if ((s || vm->uuid) && (!s || !vm->uuid || strcmp(s, vm->uuid) != 0))
		DIFF("uuid", "libvirt %s, we %s", s ? s : "none", vm->uuid ? vm->uuid : "none");
	free(s);

	s = xp_str(ctx, "/domain/memory");
	if (!s || strtoull(s, NULL, 10) * 1024 != vm->memory)
		DIFF("memory", "libvirt %s KiB, we %" PRIu64 " bytes", s ? s : "none", vm->memory);
	free(s);

	s = xp_str(ctx, "/domain/vcpu");
	if (!s || strtoul(s, NULL, 10) != vm->vcpus)
		DIFF("vcpus", "libvirt %s, we %u", s ? s : "none", vm->vcpus);
	free(s);

	s = xp_str(ctx, "/domain/cpu/topology/@cores");
	if (s && strtoul(s, NULL, 10) != vm->cores_per_socket)
		DIFF("cores", "libvirt %s, we %u", s, vm->cores_per_socket);
	free(s);

	s = xp_str(ctx, "/domain/os/@firmware");
	if ((s && !strcmp(s, "efi")) != (vm->firmware == VM_FW_EFI))
		DIFF("firmware", "libvirt %s, we %d", s ? s : "none", vm->firmware);
	free(s);
	s = xp_str(ctx, "/domain/os/firmware/feature[@name='secure-boot']/@enabled");
	if ((s && !strcmp(s, "yes")) != vm->secure_boot)
		DIFF("secure_boot", "libvirt %s, we %d", s ? s : "none", vm->secure_boot);
	free(s);

	/* Disks: the same files, each on the same bus, controller and unit. */
	n = xp_count(ctx, "/domain/devices/disk[@device='disk']");
	if ((size_t)n != vm->n_disks)
		DIFF("disks", "libvirt %d, we %zu", n, vm->n_disks);
	for (i = 1; i <= n; i++) {
		char *src, *bus, *actl, *abus, *aunit;
		bool found = false;

#define DISK_XP(var, what)                                                                         \
	snprintf(expr, sizeof(expr), "/domain/devices/disk[@device='disk'][%d]/%s", i, what);      \
	var = xp_str(ctx, expr)
		DISK_XP(src, "source/@file");
		DISK_XP(bus, "target/@bus");
		DISK_XP(actl, "address/@controller");
		DISK_XP(abus, "address/@bus");
		DISK_XP(aunit, "address/@unit");
		for (k = 0; k < vm->n_disks && src; k++) {
			const struct vm_controller *c = &vm->controllers[vm->disks[k].controller];
			char name[1024];
			unsigned want_ctl, want_bus;

			libvirt_name(vm->disks[k].file, name, sizeof(name));
			if (strcmp(name, src) != 0)
				continue;
			found = true;
			if (!bus || strcmp(bus, bus_name(c->bus)) != 0)
				DIFF("disk bus", "%s: libvirt %s, we %s", src, bus ? bus : "none",
				     bus_name(c->bus));
			/* libvirt: IDE is one controller with buses 0 and 1; NVMe addresses
			 * are namespaces, not compared. */
			want_ctl = c->bus == VM_BUS_IDE ? 0 : c->index;
			want_bus = c->bus == VM_BUS_IDE ? c->index : 0;
			if (c->bus != VM_BUS_NVME && actl && aunit &&
			    (strtoul(actl, NULL, 10) != want_ctl ||
			     strtoul(abus ? abus : "0", NULL, 10) != want_bus ||
			     strtol(aunit, NULL, 10) != vm->disks[k].unit))
				DIFF("disk address", "%s: libvirt %s/%s/%s, we %u/%u/%d", src, actl,
				     abus ? abus : "-", aunit, want_ctl, want_bus,
				     vm->disks[k].unit);
		}
		if (!found)
			DIFF("disks", "libvirt's %s is not ours", src ? src : "(no source)");
		free(src);
		free(bus);
		free(actl);
		free(abus);
		free(aunit);
	}

	/* CD-ROMs and floppies, counted. */
	for (k = 0, m = 0; k < vm->n_cdroms; k++)
		m += !vm->cdroms[k].floppy;
	n = xp_count(ctx, "/domain/devices/disk[@device='cdrom']");
	if ((size_t)n != m)
		DIFF("cdroms", "libvirt %d, we %zu", n, m);
	n = xp_count(ctx, "/domain/devices/disk[@device='floppy']");
	if ((size_t)n != vm->n_cdroms - m)
		DIFF("floppies", "libvirt %d, we %zu", n, vm->n_cdroms - m);

	/* NICs in order: MAC, model where libvirt has one, bridge = networkName. */
	n = xp_count(ctx, "/domain/devices/interface");
	if ((size_t)n != vm->n_nics) {
		DIFF("nics", "libvirt %d, we %zu", n, vm->n_nics);
	} else {
		for (i = 1; i <= n; i++) {
			const struct vm_nic *nic = &vm->nics[i - 1];
			char *mac, *model, *type, *bridge;

#define NIC_XP(what)                                                                               \
	(snprintf(expr, sizeof(expr), "/domain/devices/interface[%d]/%s", i, what),                \
	 xp_str(ctx, expr))
			mac = NIC_XP("mac/@address");
			model = NIC_XP("model/@type");
			type = NIC_XP("@type");
			bridge = NIC_XP("source/@bridge");
#undef NIC_XP
			if ((mac || nic->mac) && (!mac || !nic->mac || strcmp(mac, nic->mac) != 0))
				DIFF("mac", "ethernet%u: libvirt %s, we %s", nic->index,
				     mac ? mac : "none", nic->mac ? nic->mac : "none");
			if ((model || nic->model) &&
			    (!model || !nic->model || strcasecmp(model, nic->model) != 0))
				DIFF("nic model", "ethernet%u: libvirt %s, we %s", nic->index,
				     model ? model : "none", nic->model ? nic->model : "none");
			if (type && !strcmp(type, "bridge") &&
			    (!bridge || !nic->network || strcmp(bridge, nic->network) != 0))
				DIFF("network", "ethernet%u: libvirt %s, we %s", nic->index,
				     bridge ? bridge : "none",
				     nic->network ? nic->network : "none");
			free(mac);
			free(model);
			free(type);
			free(bridge);
		}
	}

	n = xp_count(ctx, "/domain/devices/serial");
	if ((unsigned)n != vm->n_serial)
		DIFF("serial", "libvirt %d, we %u", n, vm->n_serial);

	/* Video: libvirt always has one, 4 MiB unless svga.vramSize says otherwise. */
	s = xp_str(ctx, "/domain/devices/video/model/@vram");
	if ((s != NULL) != vm->has_video ||
	    (s && strtoull(s, NULL, 10) * 1024 != (vm->video_ram ? vm->video_ram : 4u << 20)))
		DIFF("video", "libvirt %s KiB, we %d/%" PRIu64, s ? s : "none", vm->has_video,
		     vm->video_ram);
	free(s);
#undef DIFF

	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return bad;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of dir ending in suffix; NULL-terminated, malloc'd. */
static char **list_dir(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (!d)
		HARNESS_FAIL("cannot open %s (set VMFS_VMX_DATA to tests/data/vmx)", dir);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		v = realloc(v, (n + 2) * sizeof(*v));
		if (!v)
			abort();
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (!v)
		HARNESS_FAIL("no *%s in %s", suffix, dir);
	v[n] = NULL;
	qsort(v, n, sizeof(*v), cmp_str);
	return v;
}

static void free_list(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

TEST(libvirt_corpus)
{
	char dir[1024], path[1400];
	char **files;
	int bad = 0;
	size_t i, n = 0;
	struct known_diff *k;

	testdata_path(dir, sizeof(dir), "VMFS_VMX_DATA", "vmx", "libvirt");
	files = list_dir(dir, ".vmx");
	for (i = 0; files[i]; i++) {
		char *text, *xml, base[256];
		size_t len, xml_len;
		struct vm *vm = NULL;

		snprintf(base, sizeof(base), "%.*s", (int)(strlen(files[i]) - 4), files[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!testdata_read(path, &text, &len))
			HARNESS_FAIL("cannot read %s", path);
		err_clear(E);
		if (vmx_parse(text, len, files[i], &vm, E) < 0) {
			printf("  %s: %s\n", files[i], harness_err.msg);
			bad++;
			free(text);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.xml", dir, base);
		if (!testdata_read(path, &xml, &xml_len))
			HARNESS_FAIL("cannot read %s", path);
		bad += compare_libvirt(base, vm, xml, xml_len);
		n++;
		vm_free(vm);
		free(text);
		free(xml);
	}
	free_list(files);
	printf("  %zu libvirt pairs compared\n", n);
	/* A listed difference that no longer happens is a stale list. */
	for (k = known_diffs; k->file; k++) {
		if (!k->seen) {
			printf("  listed difference %s/%s did not happen\n", k->file, k->field);
			bad++;
		}
	}
	ASSERT_EQ(bad, 0);
	ASSERT(n >= 26);
}

/* ------------------------------------------------------------------------------------ */
/* virt-v2v's test-i-vmx-*: its --print-source output */

/* The text after "label: " on the line that has it, malloc'd, or NULL. */
static char *expected_field(const char *text, const char *label)
{
	const char *p = strstr(text, label), *e;

	if (!p)
		return NULL;
	p += strlen(label);
	e = strchr(p, '\n');
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* Lines of the section after header ("disks:\n"), up to the next unindented line. */
static size_t expected_section(const char *text, const char *header, char lines[][256],
			       size_t max)
{
	const char *p = strstr(text, header);
	size_t n = 0;

	if (!p)
		return 0;
	p += strlen(header);
	while (*p == '\t' && n < max) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		snprintf(lines[n++], 256, "%.*s", (int)(l - 1), p + 1);
		p += l + (e != NULL);
	}
	return n;
}

TEST(v2v_corpus)
{
	static unsigned sata_cds;

	char dir[1024], path[1200];
	char **files;
	size_t i, n = 0;

	testdata_path(dir, sizeof(dir), "VMFS_VMX_DATA", "vmx", "v2v");
	sata_cds = 0;
	files = list_dir(dir, ".vmx");
	for (i = 0; files[i]; i++) {
		char *text, *exp, *s, lines[64][256], want[300];
		size_t len, exp_len, nl, k, m;
		struct vm *vm = NULL;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!testdata_read(path, &text, &len))
			HARNESS_FAIL("cannot read %s", path);
		snprintf(path, sizeof(path), "%s/%.*s.expected", dir, (int)(strlen(files[i]) - 4),
			 files[i]);
		if (!testdata_read(path, &exp, &exp_len))
			HARNESS_FAIL("cannot read %s", path);
		err_clear(E);
		ASSERT_OK(vmx_parse(text, len, files[i], &vm, E));
		last_vm = vm;

		s = expected_field(exp, "source name: ");
		ASSERT_STREQ(vm->name, s);
		free(s);
		s = expected_field(exp, "memory: ");
		ASSERT(s && strtoull(s, NULL, 10) == vm->memory);
		free(s);
		s = expected_field(exp, "nr vCPUs: ");
		ASSERT(s && strtoul(s, NULL, 10) == vm->vcpus);
		free(s);
		s = expected_field(exp, "firmware: ");
		ASSERT_STREQ(s, vm->firmware == VM_FW_EFI ? "uefi" : "bios");
		free(s);
		s = expected_field(exp, "UEFI secureboot: ");
		ASSERT_STREQ(s, vm->secure_boot ? "true" : "false");
		free(s);
		s = expected_field(exp, "cores/socket: ");
		if (s)
			ASSERT_EQ(strtoul(s, NULL, 10), vm->cores_per_socket);
		free(s);

		/* disks: "N [bus]" in order */
		nl = expected_section(exp, "\ndisks:\n", lines, 64);
		ASSERT_EQ(nl, vm->n_disks);
		for (k = 0; k < nl; k++) {
			snprintf(want, sizeof(want), "%zu [%s]", k,
				 bus_name(vm->controllers[vm->disks[k].controller].bus));
			ASSERT_STREQ(lines[k], want);
		}
		/* removable media: "CD-ROM [ide] in slot N" (slot = 2 * bus + unit).  virt-v2v's
		 * -i vmx reads IDE CD-ROMs only: test-i-vmx-2 and -7 have a SATA CD-ROM with an
		 * ISO that it does not list, and we do. */
		nl = expected_section(exp, "\nremovable media:\n", lines, 64);
		for (k = 0, m = 0; k < vm->n_cdroms; k++) {
			const struct vm_cdrom *c = &vm->cdroms[k];
			const struct vm_controller *ctl;

			if (c->floppy)
				continue;
			ctl = &vm->controllers[c->controller];
			if (ctl->bus != VM_BUS_IDE) {
				printf("  %s: %s CD-ROM %s not in virt-v2v's list, as expected\n",
				       files[i], bus_name(ctl->bus), c->file ? c->file : "(empty)");
				sata_cds++;
				continue;
			}
			ASSERT(m < nl);
			snprintf(want, sizeof(want), "CD-ROM [ide] in slot %u",
				 ctl->index * 2 + c->unit);
			ASSERT(strncmp(lines[m], want, strlen(want)) == 0);
			m++;
		}
		ASSERT_EQ(m, nl);
		/* NICs: Network "NAME" mac: MAC [model], or Bridge "ethernetN" without a
		 * networkName */
		nl = expected_section(exp, "\nNICs:\n", lines, 64);
		ASSERT_EQ(nl, vm->n_nics);
		for (k = 0; k < nl; k++) {
			const struct vm_nic *nic = &vm->nics[k];
			char net[128];

			if (nic->network)
				snprintf(net, sizeof(net), "Network \"%s\"", nic->network);
			else
				snprintf(net, sizeof(net), "Bridge \"ethernet%u\"", nic->index);
			snprintf(want, sizeof(want), "%s mac: %s [%s]", net,
				 nic->mac ? nic->mac : "", nic->model ? nic->model : "");
			ASSERT_STREQ(lines[k], want);
		}
		vm_free(vm);
		last_vm = NULL;
		free(text);
		free(exp);
		n++;
	}
	free_list(files);
	printf("  %zu virt-v2v files compared\n", n);
	ASSERT_EQ(n, 7);
	ASSERT_EQ(sata_cds, 2); /* the two listed above, no more */
}

/* The encrypted VM from dissect.hypervisor: refused, in one line. */
TEST(dissect_encrypted)
{
	char path[1200], *text;
	size_t len;
	struct vm *vm = NULL;

	testdata_path(path, sizeof(path), "VMFS_VMX_DATA", "vmx", "dissect/encrypted.vmx");
	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s (set VMFS_VMX_DATA to tests/data/vmx)", path);
	ASSERT_ERR(vmx_parse(text, len, "encrypted.vmx", &vm, E), -ENOTSUP,
		   "encrypted.vmx: line 4: the VM is encrypted (encryption.data): "
		   "decrypt it in VMware first");
	ASSERT(vm == NULL);
	free(text);
}

/* Every .vmx in the shared corpus, when it is there: parsed, or refused for a listed
 * reason. */
TEST(shared_corpus)
{
	static const struct {
		const char *file, *reason;
	} expected_failures[] = {
		{ "encrypted.vmx", "encrypted VM: its devices are sealed in encryption.data" },
	};
#define N_EXPECTED_FAILURES (sizeof(expected_failures) / sizeof(expected_failures[0]))
	const char *subdirs[] = { "vmx/libvirt", "vmx/dissect", "v2v" };
	char dir[1100], path[1400];
	size_t s, i, j, parsed = 0, refused = 0;

	testdata_corpus_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vmx", dir);
	if (access(path, F_OK) != 0) {
		printf("  shared corpus not found at %s: skipped (set VMFS_CORPUS)\n", dir);
		return;
	}
	for (s = 0; s < sizeof(subdirs) / sizeof(subdirs[0]); s++) {
		char sub[1200], **files;

		snprintf(sub, sizeof(sub), "%s/%s", dir, subdirs[s]);
		files = list_dir(sub, ".vmx");
		for (i = 0; files[i]; i++) {
			char *text;
			size_t len;
			struct vm *vm = NULL;
			const char *reason = NULL;

			snprintf(path, sizeof(path), "%s/%s", sub, files[i]);
			if (!testdata_read(path, &text, &len))
				HARNESS_FAIL("cannot read %s", path);
			for (j = 0; j < N_EXPECTED_FAILURES; j++)
				if (!strcmp(files[i], expected_failures[j].file))
					reason = expected_failures[j].reason;
			err_clear(E);
			if (vmx_parse(text, len, files[i], &vm, E) == 0) {
				if (reason)
					HARNESS_FAIL("%s parsed, expected to fail (%s)", path,
						     reason);
				parsed++;
			} else {
				if (!reason)
					HARNESS_FAIL("%s: %s", path, harness_err.msg);
				printf("  %s refused as expected (%s): %s\n", files[i], reason,
				       harness_err.msg);
				refused++;
			}
			vm_free(vm);
			free(text);
		}
		free_list(files);
	}
	printf("  corpus %s: %zu .vmx parsed, %zu refused as expected\n", dir, parsed, refused);
}
