/* SPDX-License-Identifier: MIT */
/*
 * The domain.xml renderer: inline-built VM models for each translation rule (machine
 * type, firmware, controllers, disk names and slots, NIC models and MACs, -o virtio,
 * -o bridge, names libvirt refuses, substitution comments, a snapshot's domain), and
 * every VM of the OVFs in tests/data/ovf and of the shared corpus when present.  Every rendered document is checked
 * by libvirt itself: virt-xml-validate (the RelaxNG schema) and a define on libvirt's test
 * driver (virsh -c test:///PATH with an empty node, since the default node already holds a
 * domain named "test"; no daemon needed); both come with Debian's libvirt-clients.  Facts
 * are read back with XPath, and every comment is checked for "--" and a trailing '-'.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "../../formats/view/domain.h"
#include "../../formats/vm/ovf.h"
#include "../../formats/vm/vmx.h"
#include "../lib/harness.h"
#include "../lib/testdata.h"

HARNESS_MAIN

/* ------------------------------------------------------------------------------------ */
/* Building models */

static char *xstrdup(const char *s)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		abort();
	return r;
}

static void *grow(void *p, size_t n, size_t size)
{
	p = realloc(p, (n + 1) * size);
	if (!p)
		abort();
	memset((char *)p + n * size, 0, size);
	return p;
}

static struct vm *vm_new(const char *name)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		abort();
	vm->name = xstrdup(name);
	vm->vcpus = 2;
	vm->memory = 2ull << 30;
	vm->firmware = VM_FW_BIOS;
	return vm;
}

/* Add a controller; returns its index in vm->controllers. */
static int ctl(struct vm *vm, enum vm_bus bus, const char *model, unsigned index)
{
	struct vm_controller *c;

	vm->controllers = grow(vm->controllers, vm->n_controllers, sizeof(*c));
	c = &vm->controllers[vm->n_controllers];
	c->bus = bus;
	c->model = xstrdup(model);
	c->index = index;
	return (int)vm->n_controllers++;
}

static void disk(struct vm *vm, int controller, int unit)
{
	struct vm_disk *d;
	char file[32];

	vm->disks = grow(vm->disks, vm->n_disks, sizeof(*d));
	d = &vm->disks[vm->n_disks];
	snprintf(file, sizeof(file), "disk%zu.vmdk", vm->n_disks + 1);
	d->file = xstrdup(file);
	d->capacity = 1ull << 30;
	d->controller = controller;
	d->unit = unit;
	vm->n_disks++;
}

static void cdrom(struct vm *vm, int controller, int unit, bool floppy)
{
	struct vm_cdrom *c;

	vm->cdroms = grow(vm->cdroms, vm->n_cdroms, sizeof(*c));
	c = &vm->cdroms[vm->n_cdroms++];
	c->controller = controller;
	c->unit = unit;
	c->floppy = floppy;
}

static void nic(struct vm *vm, const char *mac, const char *model, const char *network)
{
	struct vm_nic *n;

	vm->nics = grow(vm->nics, vm->n_nics, sizeof(*n));
	n = &vm->nics[vm->n_nics];
	n->mac = xstrdup(mac);
	n->model = xstrdup(model);
	n->network = xstrdup(network);
	n->index = (unsigned)vm->n_nics++;
}

/* Disk paths /mnt/x/disk.qcow2, /mnt/x/disk2.qcow2, ... as fs/ names them. */
static char **paths_new(size_t n)
{
	char **p = calloc(n ? n : 1, sizeof(*p));
	size_t i;

	if (!p)
		abort();
	for (i = 0; i < n; i++) {
		if (i == 0)
			p[i] = xstrdup("/mnt/x/disk.qcow2");
		else if (asprintf(&p[i], "/mnt/x/disk%zu.qcow2", i + 1) < 0)
			abort();
	}
	return p;
}

static void paths_free(char **p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

/* ------------------------------------------------------------------------------------ */
/* Checking documents */

static char tmpdir[] = "/tmp/test-domain-XXXXXX";

static void cleanup_tmpdir(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static const char *tmp(void)
{
	static bool made; /* not the template's X: mkdtemp may put an 'X' there too */
	char path[512];
	FILE *f;

	if (!made) {
		made = true;
		if (!mkdtemp(tmpdir))
			abort();
		atexit(cleanup_tmpdir);
		snprintf(path, sizeof(path), "%s/node.xml", tmpdir);
		if (!(f = fopen(path, "w")) || fputs("<node/>\n", f) < 0 || fclose(f) != 0)
			abort();
	}
	return tmpdir;
}

/* Run cmd (a shell line) with its output in a file; true on exit status 0, else print
 * the command and its output. */
static bool run(const char *cmd)
{
	char line[8192], *out = NULL;
	size_t len = 0;
	FILE *f;
	int st;

	snprintf(line, sizeof(line), "%s >%s/out 2>&1", cmd, tmp());
	st = system(line);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return true;
	fprintf(stderr, "  command failed (status %d): %s\n", st, cmd);
	snprintf(line, sizeof(line), "%s/out", tmp());
	if ((f = fopen(line, "r"))) {
		if (getdelim(&out, &len, '\0', f) > 0)
			fprintf(stderr, "%s", out);
		free(out);
		fclose(f);
	}
	return false;
}

/* libvirt's own verdict on the document: the schema, then a define on the test driver. */
static bool libvirt_accepts(const char *xml, size_t len, const char *label)
{
	char path[512], cmd[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/domain.xml", tmp());
	f = fopen(path, "w");
	if (!f || fwrite(xml, 1, len, f) != len || fclose(f) != 0)
		abort();
	snprintf(cmd, sizeof(cmd), "virt-xml-validate %s domain", path);
	if (!run(cmd))
		goto bad;
	/* The test driver with an empty node: its default one already has a domain "test". */
	snprintf(cmd, sizeof(cmd), "virsh -q -c test://%s/node.xml define %s", tmp(), path);
	if (!run(cmd))
		goto bad;
	return true;
bad:
	fprintf(stderr, "  document for %s:\n%s\n", label, xml);
	return false;
}

static xmlDocPtr parse_doc(const char *xml, size_t len)
{
	return xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOBLANKS);
}

/* The XPath expr evaluated as a string (malloc'd). */
static char *xs(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;
	xmlChar *s;
	char *r;

	if (!ctx)
		abort();
	xmlXPathRegisterNs(ctx, BAD_CAST "libosinfo",
			   BAD_CAST "http://libosinfo.org/xmlns/libvirt/domain/1.0");
	o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	if (!o) {
		fprintf(stderr, "bad xpath %s\n", expr);
		abort();
	}
	s = xmlXPathCastToString(o);
	r = xstrdup((const char *)s);
	xmlFree(s);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return r;
}

static long xn(xmlDocPtr doc, const char *expr)
{
	char *s = xs(doc, expr);
	long n = strtol(s, NULL, 10);

	free(s);
	return n;
}

#define ASSERT_XS(doc, expr, want)                                                                 \
	do {                                                                                       \
		char *s_ = xs(doc, expr);                                                          \
		if (strcmp(s_, want) != 0) {                                                       \
			fprintf(stderr, "  %s = \"%s\"\n", expr, s_);                              \
			free(s_);                                                                  \
			HARNESS_FAIL("%s != \"%s\"", expr, want);                                  \
		}                                                                                  \
		free(s_);                                                                          \
	} while (0)

#define ASSERT_XN(doc, expr, want) ASSERT_EQ(xn(doc, expr), want)

/* Some comment contains substr. */
#define ASSERT_COMMENT(doc, substr)                                                                \
	ASSERT(xn(doc, "count(//comment()[contains(., '" substr "')])") > 0)

/* Every comment is well-formed: no "--", no '-' at the end. */
static bool comments_ok(xmlDocPtr doc)
{
	return xn(doc, "count(//comment()[contains(., '--') or substring(., string-length(.)) "
		       "= '-'])") == 0;
}

/* Every line but the declaration and the root's tags is indented (libxml2 leaves an end tag
 * after a comment unindented, so the renderer must not end an element with a comment). */
static bool indented(const char *xml)
{
	const char *line = xml, *nl;

	for (; *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			return false; /* ends with a newline */
		if (strncmp(line, "  ", 2) != 0 && strncmp(line, "<?xml ", 6) != 0 &&
		    strncmp(line, "<domain ", 8) != 0 && strncmp(line, "</domain>\n", 10) != 0) {
			fprintf(stderr, "  not indented: %.*s\n", (int)(nl - line), line);
			return false;
		}
	}
	return true;
}

struct rendered {
	char *xml;
	size_t len;
	xmlDocPtr doc;
};

/* Render with o, have libvirt accept it, parse it back. */
#define RENDER(vm, o, out)                                                                         \
	do {                                                                                       \
		ASSERT_OK(domain_render((vm), (o), &(out).xml, &(out).len, E));                    \
		ASSERT_EQ(strlen((out).xml), (out).len);                                           \
		if (!libvirt_accepts((out).xml, (out).len, (vm)->name))                            \
			HARNESS_FAIL("libvirt refused the document");                              \
		(out).doc = parse_doc((out).xml, (out).len);                                       \
		ASSERT((out).doc != NULL);                                                         \
		ASSERT(comments_ok((out).doc));                                                    \
		ASSERT(indented((out).xml));                                                       \
	} while (0)

static void rendered_free(struct rendered *r)
{
	xmlFreeDoc(r->doc);
	free(r->xml);
}

/* ------------------------------------------------------------------------------------ */
/* Inline models */

TEST(name_escaped_exactly)
{
	const char *name = "Tëst <VM> & 'quotes' \"dq\" 虚拟机";
	struct vm *vm = vm_new(name);
	char **paths;
	struct rendered r;

	disk(vm, ctl(vm, VM_BUS_SCSI, "lsilogic", 0), 0);
	paths = paths_new(1);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 1 };
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/name)", name);
	ASSERT_XN(r.doc, "count(//comment()[contains(., 'changed')])", 0);
	ASSERT_XS(r.doc, "string(/domain/@type)", "kvm");
	ASSERT_XS(r.doc, "string(/domain/memory)", "2097152");
	ASSERT_XS(r.doc, "string(/domain/memory/@unit)", "KiB");
	ASSERT_XS(r.doc, "string(/domain/currentMemory)", "2097152");
	ASSERT_XS(r.doc, "string(/domain/vcpu)", "2");
	ASSERT_XS(r.doc, "string(/domain/clock/@offset)", "utc");
	ASSERT_XN(r.doc, "count(/domain/metadata)", 0);
	rendered_free(&r);
	paths_free(paths, 1);
	vm_free(vm);
}

TEST(name_libvirt_refuses)
{
	struct vm *vm = vm_new("web/db\nprod\x01 -- x");
	struct domain_opts o = { 0 };
	struct rendered r;

	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/name)", "web_db_prod_ -- x");
	ASSERT_COMMENT(r.doc, "changed");
	rendered_free(&r);
	free(vm->name);
	vm->name = xstrdup("");
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/name)", "vm");
	rendered_free(&r);
	/* Not UTF-8: each bad byte becomes '_'. */
	free(vm->name);
	vm->name = xstrdup("caf\xe9 \xff\xfe ok");
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/name)", "caf_ __ ok");
	rendered_free(&r);
	vm_free(vm);
}

TEST(machine_ide_is_pc)
{
	struct vm *vm = vm_new("ide");
	char **paths = paths_new(2);
	struct rendered r;
	int ide0 = ctl(vm, VM_BUS_IDE, "PIIX4", 0), ide1 = ctl(vm, VM_BUS_IDE, "PIIX4", 1);

	disk(vm, ide0, 0);
	disk(vm, ide0, 1);
	cdrom(vm, ide1, 0, false);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 2 };
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", "pc");
	ASSERT_XS(r.doc, "string(/domain/os/type)", "hvm");
	ASSERT_XS(r.doc, "string(/domain/os/type/@arch)", "x86_64");
	ASSERT_COMMENT(r.doc, "i440fx");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/target/@dev)", "hda");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/target/@bus)", "ide");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/target/@dev)", "hdb");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/address/@unit)", "1");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/source/@file)", "/mnt/x/disk.qcow2");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/source/@file)", "/mnt/x/disk2.qcow2");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/driver/@type)", "qcow2");
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/target/@dev)", "hdc");
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/target/@bus)", "ide");
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/address/@bus)", "1");
	ASSERT_XN(r.doc, "count(//disk[@device='cdrom']/readonly)", 1);
	ASSERT_XN(r.doc, "count(//disk[@device='cdrom']/source)", 0);
	ASSERT_XN(r.doc, "count(//disk[@device='disk']/readonly)", 0);
	ASSERT_COMMENT(r.doc, "qemu-img create -f qcow2 -b");
	ASSERT_XS(r.doc, "string(/domain/os/boot/@dev)", "hd");
	ASSERT_XN(r.doc, "count(//controller[@type='ide'])", 0);
	rendered_free(&r);
	paths_free(paths, 2);
	vm_free(vm);
}

TEST(machine_scsi_is_q35)
{
	struct vm *vm = vm_new("scsi");
	char **paths = paths_new(2);
	struct rendered r;
	int scsi = ctl(vm, VM_BUS_SCSI, "lsilogic", 0), ide1 = ctl(vm, VM_BUS_IDE, "PIIX4", 1);

	disk(vm, scsi, 0);
	disk(vm, scsi, 1);
	cdrom(vm, ide1, 0, false);
	cdrom(vm, -1, -1, true);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 2 };
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", "q35");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/target/@dev)", "sda");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/target/@bus)", "scsi");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/target/@dev)", "sdb");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/address/@type)", "drive");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/address/@controller)", "0");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][2]/address/@unit)", "1");
	ASSERT_XS(r.doc, "string(//controller[@type='scsi']/@model)", "lsilogic");
	/* The IDE CD-ROM moves to SATA on q35, with a comment; the floppy is left out. */
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/target/@bus)", "sata");
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/target/@dev)", "sdc");
	ASSERT_COMMENT(r.doc, "q35 has no IDE");
	ASSERT_COMMENT(r.doc, "floppy");
	ASSERT_XN(r.doc, "count(//disk[@device='floppy'])", 0);
	ASSERT_XN(r.doc, "count(//controller[@type='sata'])", 1);
	rendered_free(&r);
	paths_free(paths, 2);
	vm_free(vm);
}

TEST(efi_and_secure_boot)
{
	struct vm *vm = vm_new("efi");
	struct domain_opts o = { 0 };
	struct rendered r;

	vm->firmware = VM_FW_EFI;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/@firmware)", "efi");
	ASSERT_XS(r.doc, "string(/domain/os/firmware/feature[@name='secure-boot']/@enabled)", "no");
	ASSERT_XN(r.doc, "count(/domain/features/smm)", 0);
	rendered_free(&r);

	vm->secure_boot = true;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/@firmware)", "efi");
	ASSERT_XS(r.doc, "string(/domain/os/firmware/feature[@name='secure-boot']/@enabled)",
		  "yes");
	ASSERT_XS(r.doc, "string(/domain/os/firmware/feature[@name='enrolled-keys']/@enabled)",
		  "yes");
	ASSERT_XS(r.doc, "string(/domain/features/smm/@state)", "on");
	rendered_free(&r);

	/* Secure Boot needs q35: an IDE boot disk keeps pc and loses Secure Boot. */
	char **paths = paths_new(1);
	disk(vm, ctl(vm, VM_BUS_IDE, NULL, 0), 0);
	o.disk_paths = (const char *const *)paths;
	o.n_disk_paths = 1;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", "pc");
	ASSERT_XS(r.doc, "string(/domain/os/firmware/feature[@name='secure-boot']/@enabled)", "no");
	ASSERT_COMMENT(r.doc, "Secure Boot");
	rendered_free(&r);

	vm->firmware = VM_FW_BIOS;
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(/domain/os/@firmware)", 0);
	ASSERT_XN(r.doc, "count(/domain/os/firmware)", 0);
	rendered_free(&r);
	vm->firmware = VM_FW_UNKNOWN;
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(/domain/os/@firmware)", 0);
	ASSERT_COMMENT(r.doc, "firmware");
	rendered_free(&r);
	paths_free(paths, 1);
	vm_free(vm);
}

TEST(scsi_models)
{
	static const struct {
		const char *vmware, *libvirt;
		bool comment;
	} t[] = {
		{ "lsilogic", "lsilogic", false },
		{ "lsilogicsas", "lsisas1068", false },
		{ "lsisas1068", "lsisas1068", false },
		{ "VirtualSCSI", "vmpvscsi", false },
		{ "pvscsi", "vmpvscsi", false },
		{ "buslogic", "lsilogic", true },
		{ "virtio lsilogic", "virtio-scsi", false },
		{ NULL, "lsilogic", true },
		{ "acme--raid-", "lsilogic", true },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vm *vm = vm_new("scsi-models");
		char **paths = paths_new(1);
		struct rendered r;

		disk(vm, ctl(vm, VM_BUS_SCSI, t[i].vmware, 0), 0);
		struct domain_opts o = { .disk_paths = (const char *const *)paths,
					 .n_disk_paths = 1 };
		RENDER(vm, &o, r);
		ASSERT_XS(r.doc, "string(//controller[@type='scsi'][@index='0']/@model)",
			  t[i].libvirt);
		ASSERT_XN(r.doc, "count(//controller[@type='scsi'])", 1);
		ASSERT_EQ(xn(r.doc, "count(//comment()[contains(., 'SCSI controller')])") > 0,
			  t[i].comment);
		rendered_free(&r);
		paths_free(paths, 1);
		vm_free(vm);
	}
}

TEST(nvme_becomes_sata)
{
	struct vm *vm = vm_new("nvme");
	char **paths = paths_new(3);
	struct rendered r;
	int sata = ctl(vm, VM_BUS_SATA, "vmware.sata.ahci", 0);
	int nvme = ctl(vm, VM_BUS_NVME, "vmware.nvme.controller", 0);

	disk(vm, nvme, 0);
	disk(vm, sata, 0);
	disk(vm, nvme, 1);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 3 };
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", "q35");
	ASSERT_XN(r.doc, "count(//disk[target/@bus='sata'])", 3);
	ASSERT_COMMENT(r.doc, "NVMe");
	ASSERT_COMMENT(r.doc, "no NVMe disk bus");
	/* The SATA disk keeps controller 0 port 0; the NVMe ones get a controller of their own. */
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk2.qcow2']/address/@controller)",
		  "0");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk.qcow2']/address/@controller)",
		  "1");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk3.qcow2']/address/@unit)", "1");
	ASSERT_XN(r.doc, "count(//controller[@type='sata'])", 2);
	/* Names as libvirt's VMX reader gives SATA slots: sd[controller * 30 + unit]. */
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk2.qcow2']/target/@dev)", "sda");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk.qcow2']/target/@dev)", "sdae");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk3.qcow2']/target/@dev)", "sdaf");
	rendered_free(&r);
	paths_free(paths, 3);
	vm_free(vm);
}

TEST(slots_qemu_lacks_move)
{
	struct vm *vm = vm_new("slots");
	char **paths = paths_new(4);
	struct rendered r;
	int lsi = ctl(vm, VM_BUS_SCSI, "lsilogic", 0), sata = ctl(vm, VM_BUS_SATA, "AHCI", 0);

	disk(vm, lsi, 8); /* VMware has targets 8-15; qemu's lsi53c895a 0-6 */
	disk(vm, lsi, 0);
	disk(vm, sata, 17); /* VMware has 30 SATA ports; AHCI 6 */
	disk(vm, lsi, 0);   /* the same slot twice */
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 4 };
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk2.qcow2']/address/@unit)", "0");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk.qcow2']/address/@unit)", "1");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk4.qcow2']/address/@unit)", "2");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk3.qcow2']/address/@unit)", "0");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk3.qcow2']/target/@bus)", "sata");
	ASSERT_COMMENT(r.doc, "SCSI 0:8");
	ASSERT_COMMENT(r.doc, "SATA 0:17");
	rendered_free(&r);
	paths_free(paths, 4);
	vm_free(vm);
}

TEST(many_disks_names)
{
	struct vm *vm = vm_new("many");
	char **paths = paths_new(30);
	struct rendered r;
	int pv = ctl(vm, VM_BUS_SCSI, "VirtualSCSI", 0);
	int i;

	for (i = 0; i < 30; i++)
		disk(vm, pv, i);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 30 };
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//disk[@device='disk'])", 30);
	/* libvirt's names for SCSI slots, sd[unit] below the controller's unit 7 and
	 * sd[unit - 1] above it; unit 8 wants unit 7's name and gets the first free one. */
	ASSERT_XS(r.doc, "string(//disk[address/@unit='6']/target/@dev)", "sdg");
	ASSERT_XS(r.doc, "string(//disk[address/@unit='7']/target/@dev)", "sdh");
	ASSERT_XS(r.doc, "string(//disk[address/@unit='26']/target/@dev)", "sdz");
	ASSERT_XS(r.doc, "string(//disk[address/@unit='27']/target/@dev)", "sdaa");
	ASSERT_XS(r.doc, "string(//disk[address/@unit='8']/target/@dev)", "sdad");
	/* Every name once. */
	ASSERT_XN(r.doc, "count(//disk[target/@dev = preceding::disk/target/@dev])", 0);
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][30]/address/@unit)", "29");
	rendered_free(&r);
	paths_free(paths, 30);
	vm_free(vm);
}

TEST(nics)
{
	static const struct {
		const char *vmware, *libvirt;
		bool comment;
	} t[] = {
		{ "E1000", "e1000", false },	 { "E1000e", "e1000e", false },
		{ "VmxNet3", "vmxnet3", false }, { "vmxnet3", "vmxnet3", false },
		{ "PCNet32", "pcnet", false },	 { "vlance", "pcnet", false },
		{ "Flexible", "pcnet", false },	 { "vmxnet", "e1000", true },
		{ "vmxnet2", "e1000", true },	 { "rtl8139", "rtl8139", false },
		{ NULL, "e1000", true },	 { "3com--x-", "e1000", true },
	};
	struct vm *vm = vm_new("nics");
	struct rendered r;
	char expr[256], mac[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(mac, sizeof(mac), "00:50:56:ab:cd:%02zx", i);
		nic(vm, mac, t[i].vmware, "VM Network");
	}
	nic(vm, NULL, "E1000", NULL);
	nic(vm, "01:00:5e:00:00:01", "E1000", "default"); /* multicast: libvirt refuses it */
	struct domain_opts o = { 0 };
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//interface)", (long)vm->n_nics);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(expr, sizeof(expr), "string(//interface[%zu]/model/@type)", i + 1);
		ASSERT_XS(r.doc, expr, t[i].libvirt);
		snprintf(expr, sizeof(expr), "string(//interface[%zu]/mac/@address)", i + 1);
		ASSERT_XS(r.doc, expr, vm->nics[i].mac);
		snprintf(expr, sizeof(expr), "string(//interface[%zu]/@type)", i + 1);
		ASSERT_XS(r.doc, expr, "network");
		snprintf(expr, sizeof(expr), "string(//interface[%zu]/source/@network)", i + 1);
		ASSERT_XS(r.doc, expr, "default");
		snprintf(expr, sizeof(expr),
			 "count(//comment()[contains(., 'NIC %zu is') or "
			 "contains(., 'NIC %zu has no model')])",
			 i + 1, i + 1);
		ASSERT_EQ(xn(r.doc, expr), t[i].comment);
	}
	ASSERT_COMMENT(r.doc, "qemu has no vmxnet");
	ASSERT_COMMENT(r.doc, "VM Network");
	ASSERT_XN(r.doc, "count(//interface[13]/mac)", 0);
	ASSERT_XN(r.doc, "count(//interface[14]/mac)", 0);
	ASSERT_COMMENT(r.doc, "not a unicast");
	rendered_free(&r);

	/* Upper-case MACs are kept as written. */
	free(vm->nics[0].mac);
	vm->nics[0].mac = xstrdup("00:0C:29:AB:CD:EF");
	o.network = "lan";
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(//interface[1]/mac/@address)", "00:0C:29:AB:CD:EF");
	ASSERT_XS(r.doc, "string(//interface[1]/source/@network)", "lan");
	rendered_free(&r);
	vm_free(vm);
}

TEST(opt_bridge)
{
	struct vm *vm = vm_new("bridge");
	struct domain_opts o = { .bridge = "br0" };
	struct rendered r;

	nic(vm, "00:50:56:00:00:01", "VmxNet3", "VM Network");
	nic(vm, "00:50:56:00:00:02", "E1000", "br0");
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//interface[@type='bridge'])", 2);
	ASSERT_XN(r.doc, "count(//interface[@type='network'])", 0);
	ASSERT_XS(r.doc, "string(//interface[1]/source/@bridge)", "br0");
	ASSERT_XS(r.doc, "string(//interface[2]/mac/@address)", "00:50:56:00:00:02");
	ASSERT_XS(r.doc, "string(//interface[1]/model/@type)", "vmxnet3");
	ASSERT_XN(r.doc, "count(//comment()[contains(., 'NIC 1 was on')])", 1);
	ASSERT_XN(r.doc, "count(//comment()[contains(., 'NIC 2 was on')])", 0);
	rendered_free(&r);
	vm_free(vm);
}

TEST(opt_virtio)
{
	struct vm *vm = vm_new("virtio");
	char **paths = paths_new(3);
	struct rendered r;
	int ide = ctl(vm, VM_BUS_IDE, NULL, 0), scsi = ctl(vm, VM_BUS_SCSI, "lsilogic", 0);

	disk(vm, ide, 0);
	disk(vm, scsi, 0);
	disk(vm, scsi, 1);
	cdrom(vm, ide, 1, false);
	nic(vm, "00:50:56:00:00:01", "E1000", NULL);
	struct domain_opts o = { .disk_paths = (const char *const *)paths,
				 .n_disk_paths = 3,
				 .virtio = true };
	RENDER(vm, &o, r);
	/* No IDE disk left, so q35; the IDE CD-ROM moves to SATA. */
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", "q35");
	ASSERT_XN(r.doc, "count(//disk[@device='disk'][target/@bus='virtio'])", 3);
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][1]/target/@dev)", "vda");
	ASSERT_XS(r.doc, "string(//disk[@device='disk'][3]/target/@dev)", "vdc");
	ASSERT_XN(r.doc, "count(//disk[@device='disk']/address)", 0);
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom']/target/@bus)", "sata");
	ASSERT_XS(r.doc, "string(//interface/model/@type)", "virtio");
	ASSERT_XS(r.doc, "string(//interface/mac/@address)", "00:50:56:00:00:01");
	ASSERT_XN(r.doc, "count(//controller[@type='scsi'])", 0);
	ASSERT_COMMENT(r.doc, "virtio-blk for -o virtio");
	ASSERT_COMMENT(r.doc, "virtio for -o virtio");
	rendered_free(&r);
	paths_free(paths, 3);
	vm_free(vm);
}

TEST(opt_transient)
{
	struct vm *vm = vm_new("transient");
	char **paths = paths_new(1);
	struct rendered r;

	disk(vm, ctl(vm, VM_BUS_SCSI, "VirtualSCSI", 0), 0);
	struct domain_opts o = { .disk_paths = (const char *const *)paths,
				 .n_disk_paths = 1,
				 .transient = true };
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//disk[@device='disk']/transient)", 1);
	rendered_free(&r);
	o.transient = false;
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//transient)", 0);
	rendered_free(&r);
	paths_free(paths, 1);
	vm_free(vm);
}

TEST(disks_and_media_left_out_or_given)
{
	struct vm *vm = vm_new("partial");
	const char *paths[] = { NULL, "/mnt/x/disk2.qcow2" };
	const char *isos[] = { "/srv/iso/tools--1.iso" };
	struct rendered r;
	int scsi = ctl(vm, VM_BUS_SCSI, "lsilogic", 0), sata = ctl(vm, VM_BUS_SATA, NULL, 0);

	disk(vm, scsi, 0);
	disk(vm, scsi, 1);
	disk(vm, scsi, 2); /* past n_disk_paths */
	cdrom(vm, sata, 0, false);
	vm->cdroms[0].file = xstrdup("tools.iso");
	cdrom(vm, sata, 1, false);
	vm->cdroms[1].file = xstrdup("other--.iso");
	struct domain_opts o = {
		.disk_paths = paths, .n_disk_paths = 2, .cdrom_paths = isos, .n_cdrom_paths = 1
	};
	RENDER(vm, &o, r);
	ASSERT_XN(r.doc, "count(//disk[@device='disk'])", 1);
	ASSERT_XS(r.doc, "string(//disk[@device='disk']/source/@file)", "/mnt/x/disk2.qcow2");
	ASSERT_XS(r.doc, "string(//disk[@device='disk']/address/@unit)", "1");
	ASSERT_COMMENT(r.doc, "disk 1 of the source (disk1.vmdk) is not in this mount");
	ASSERT_COMMENT(r.doc, "disk 3 of the source");
	ASSERT_XS(r.doc, "string(//disk[@device='cdrom'][1]/source/@file)",
		  "/srv/iso/tools--1.iso");
	ASSERT_XN(r.doc, "count(//disk[@device='cdrom'][2]/source)", 0);
	ASSERT_COMMENT(r.doc, "is not in this mount: empty drive");
	rendered_free(&r);
	vm_free(vm);
}

TEST(guest_os)
{
	static const struct {
		const char *os_type, *cim, *desc, *osinfo, *clock;
	} t[] = {
		{ "windows9_64Guest", "1", NULL, "http://microsoft.com/win/10", "localtime" },
		{ "windows9-64", NULL, NULL, "http://microsoft.com/win/10", "localtime" },
		{ "windows2019srv_64Guest", NULL, NULL, "http://microsoft.com/win/2k19",
		  "localtime" },
		{ "windows7Server64Guest", "103", NULL, "http://microsoft.com/win/2k8r2",
		  "localtime" },
		{ "winXPProGuest", "67", NULL, "http://microsoft.com/win/xp", "localtime" },
		{ "rhel8_64Guest", "80", NULL, "http://redhat.com/rhel/8-unknown", "utc" },
		{ "rhel8-64", NULL, NULL, "http://redhat.com/rhel/8-unknown", "utc" },
		{ "debian11_64Guest", NULL, NULL, "http://debian.org/debian/11", "utc" },
		{ "centos7_64Guest", NULL, NULL, "http://centos.org/centos/7.0", "utc" },
		{ "ubuntu64Guest", "94", NULL, "", "utc" },
		{ "otherLinux64Guest", "101", NULL, "", "utc" },
		{ NULL, "69", NULL, "", "localtime" },
		{ NULL, "1", "Microsoft Windows Server 2016 (64-bit)", "", "localtime" },
		{ NULL, NULL, NULL, "", "utc" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vm *vm = vm_new("os");
		struct domain_opts o = { 0 };
		struct rendered r;

		vm->os_type = xstrdup(t[i].os_type);
		vm->os_cim_id = xstrdup(t[i].cim);
		vm->os_desc = xstrdup(t[i].desc);
		RENDER(vm, &o, r);
		ASSERT_XS(r.doc, "string(/domain/metadata/libosinfo:libosinfo/libosinfo:os/@id)",
			  t[i].osinfo);
		ASSERT_XS(r.doc, "string(/domain/clock/@offset)", t[i].clock);
		rendered_free(&r);
		vm_free(vm);
	}
}

TEST(cpu_memory_uuid_boot)
{
	struct vm *vm = vm_new("cpu");
	char **paths = paths_new(3);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 3 };
	struct rendered r;
	int scsi = ctl(vm, VM_BUS_SCSI, "lsilogic", 0);

	vm->vcpus = 8;
	vm->cores_per_socket = 4;
	vm->memory = 1000; /* rounds up to a KiB */
	vm->uuid = xstrdup("42011b1a-5e4c-8a21-7c3e-2c5f6a0b9d11");
	disk(vm, scsi, 0);
	disk(vm, scsi, 1);
	disk(vm, scsi, 2);
	vm->disks[1].boot_order = 5;
	vm->disks[2].boot_order = 2;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/vcpu)", "8");
	ASSERT_XS(r.doc, "string(/domain/cpu/topology/@sockets)", "2");
	ASSERT_XS(r.doc, "string(/domain/cpu/topology/@cores)", "4");
	ASSERT_XS(r.doc, "string(/domain/cpu/topology/@threads)", "1");
	ASSERT_XS(r.doc, "string(/domain/memory)", "1");
	ASSERT_XS(r.doc, "string(/domain/uuid)", "42011b1a-5e4c-8a21-7c3e-2c5f6a0b9d11");
	ASSERT_XN(r.doc, "count(/domain/os/boot)", 0);
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk3.qcow2']/boot/@order)", "1");
	ASSERT_XS(r.doc, "string(//disk[source/@file='/mnt/x/disk2.qcow2']/boot/@order)", "2");
	ASSERT_XN(r.doc, "count(//disk[source/@file='/mnt/x/disk.qcow2']/boot)", 0);
	rendered_free(&r);

	vm->cores_per_socket = 3;
	vm->vcpus = 0;
	vm->memory = 0;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/vcpu)", "1");
	ASSERT_XN(r.doc, "count(/domain/cpu/topology)", 0);
	ASSERT_XS(r.doc, "string(/domain/memory)", "1048576");
	ASSERT_COMMENT(r.doc, "memory size");
	ASSERT_COMMENT(r.doc, "do not divide");
	rendered_free(&r);
	paths_free(paths, 3);
	vm_free(vm);
}

TEST(snapshot_of_a_vm)
{
	struct vm *vm = vm_new("web");
	char **paths = paths_new(1);
	struct domain_opts o = { .disk_paths = (const char *const *)paths, .n_disk_paths = 1,
				 .snapshot = "before 2.0 / -- \"x\"" };
	struct rendered r;

	vm->uuid = xstrdup("42011b1a-5e4c-8a21-7c3e-2c5f6a0b9d11");
	disk(vm, ctl(vm, VM_BUS_SCSI, "lsilogic", 0), 0);
	RENDER(vm, &o, r);
	/* Its own name and no uuid, so that it can be defined beside the VM's domain. */
	ASSERT_XS(r.doc, "string(/domain/name)", "web (snapshot before 2.0 _ -- \"x\")");
	ASSERT_XN(r.doc, "count(/domain/uuid)", 0);
	ASSERT_COMMENT(r.doc, "as configured now (.vmx)");
	ASSERT_COMMENT(r.doc, "changed");
	ASSERT_XS(r.doc, "string(//disk/source/@file)", "/mnt/x/disk.qcow2");
	rendered_free(&r);
	o.snapshot = NULL;
	RENDER(vm, &o, r);
	ASSERT_XS(r.doc, "string(/domain/name)", "web");
	ASSERT_XS(r.doc, "string(/domain/uuid)", "42011b1a-5e4c-8a21-7c3e-2c5f6a0b9d11");
	ASSERT_XN(r.doc, "count(//comment()[contains(., 'snapshot')])", 0);
	rendered_free(&r);
	paths_free(paths, 1);
	vm_free(vm);
}

TEST(bad_options)
{
	struct vm *vm = vm_new("bad");
	const char *rel[] = { "disk.qcow2" };
	const char *nl[] = { "/mnt/x\n/disk.qcow2" };
	char *xml = NULL;
	size_t len;

	disk(vm, -1, -1);
	struct domain_opts o = { .disk_paths = rel, .n_disk_paths = 1 };
	ASSERT_ERR(domain_render(vm, &o, &xml, &len, E), -EINVAL, "not absolute");
	ASSERT(strncmp(harness_err.msg, "bad: domain.xml: ", 17) == 0);
	o.disk_paths = nl;
	ASSERT_ERR(domain_render(vm, &o, &xml, &len, E), -EINVAL, "disk 1");
	ASSERT(strchr(harness_err.msg, '\n') == NULL);
	struct domain_opts o2 = { .network = "" };
	ASSERT_ERR(domain_render(vm, &o2, &xml, &len, E), -EINVAL, "network");
	ASSERT(xml == NULL);
	vm_free(vm);
}

/* ------------------------------------------------------------------------------------ */
/* Real descriptors */

/* Render one VM and check what the source said survives: name, disks by path, NICs
 * with their MACs, the machine type rule and firmware. */
static void check_vm(const struct vm *vm)
{
	size_t i;
	char **paths = paths_new(vm->n_disks), expr[256];
	struct domain_opts o = { .disk_paths = (const char *const *)paths,
				 .n_disk_paths = vm->n_disks };
	struct rendered r;
	bool ide = false;

	RENDER(vm, &o, r);
	if (!strchr(vm->name, '/') && !strpbrk(vm->name, "\n\r\t"))
		ASSERT_XS(r.doc, "string(/domain/name)", vm->name);
	ASSERT_XN(r.doc, "count(//disk[@device='disk'])", (long)vm->n_disks);
	ASSERT_XN(r.doc, "count(//interface)", (long)vm->n_nics);
	for (i = 0; i < vm->n_nics; i++) {
		if (!vm->nics[i].mac)
			continue;
		snprintf(expr, sizeof(expr), "string(//interface[%zu]/mac/@address)", i + 1);
		ASSERT_XS(r.doc, expr, vm->nics[i].mac);
	}
	for (i = 0; i < vm->n_disks; i++) {
		int c = vm->disks[i].controller;

		if (c >= 0 && vm->controllers[c].bus == VM_BUS_IDE)
			ide = true;
		snprintf(expr, sizeof(expr), "count(//disk[source/@file='%s'])", paths[i]);
		ASSERT_XN(r.doc, expr, 1);
	}
	ASSERT_XS(r.doc, "string(/domain/os/type/@machine)", ide ? "pc" : "q35");
	if (vm->firmware == VM_FW_EFI)
		ASSERT_XS(r.doc, "string(/domain/os/@firmware)", "efi");
	rendered_free(&r);
	paths_free(paths, vm->n_disks);
}

/* Render every VM of the OVF at path, have libvirt accept it and check what must survive
 * exactly. Returns the number of VMs, or -1 when the file does not parse. */
static long check_ovf(const char *path, const char *label)
{
	struct vm_package *p;
	size_t v, len;
	char *text;

	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s (set VMFS_OVF_DATA to tests/data/ovf)", path);
	err_clear(E);
	if (ovf_parse(text, len, label, &p, E) < 0) {
		free(text);
		return -1;
	}
	free(text);
	for (v = 0; v < p->n_vms; v++)
		check_vm(p->vms[v]);
	v = p->n_vms;
	vm_package_free(p);
	return (long)v;
}

TEST(real_world_ovfs)
{
	static const char *const files[] = {
		"govmomi/ttylinux.ovf",
		"govmomi/virtualsystemcollection.ovf",
		"govmomi/mixed-disks.ovf",
		"govmomi/deployment-configs.ovf",
		"govmomi/nostalgia-two-disks.ovf",
		"govmomi/multi-core-vm.ovf",
		"govmomi/xp-multinic.ovf",
		"govmomi/虚拟机.ovf",
		"cot/vmware.ovf",
		"cot/ubuntu.2.0.ovf",
		"cot/v0.9.ovf",
		"glance/testserver.ovf",
		"pve-storage/Win_2008_R2_two-disks.ovf",
		"pve-storage/Win10-Liz_no_default_ns.ovf",
	};
	char path[4096];
	size_t i;
	long n, vms = 0;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", files[i]);
		n = check_ovf(path, files[i]);
		if (n < 0)
			HARNESS_FAIL("%s refused", files[i]);
		vms += n;
	}
	printf("  %zu descriptors, %ld VMs rendered and defined\n", i, vms);
}

/* Facts of particular real files. */
static xmlDocPtr render_file(const char *rel, size_t vm_index, struct rendered *r)
{
	struct vm_package *p;
	char path[4096], *text;
	size_t len;

	testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", rel);
	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s", path);
	if (ovf_parse(text, len, rel, &p, E) < 0)
		HARNESS_FAIL("%s refused", rel);
	free(text);
	ASSERT(vm_index < p->n_vms);
	{
		const struct vm *vm = p->vms[vm_index];
		char **paths = paths_new(vm->n_disks);
		struct domain_opts o = { .disk_paths = (const char *const *)paths,
					 .n_disk_paths = vm->n_disks };

		ASSERT_OK(domain_render(vm, &o, &r->xml, &r->len, E));
		paths_free(paths, vm->n_disks);
	}
	vm_package_free(p);
	r->doc = parse_doc(r->xml, r->len);
	ASSERT(r->doc);
	return r->doc;
}

TEST(real_world_facts)
{
	struct rendered r;

	/* Windows 2008 R2 on lsilogicsas, two disks. */
	render_file("pve-storage/Win_2008_R2_two-disks.ovf", 0, &r);
	ASSERT_XS(r.doc, "string(/domain/clock/@offset)", "localtime");
	ASSERT_XS(r.doc, "string(/domain/metadata/libosinfo:libosinfo/libosinfo:os/@id)",
		  "http://microsoft.com/win/2k8r2");
	ASSERT_XS(r.doc, "string(//controller[@type='scsi']/@model)", "lsisas1068");
	rendered_free(&r);
	/* The Chinese-named VM keeps its name. */
	render_file("govmomi/虚拟机.ovf", 0, &r);
	ASSERT_XN(r.doc, "count(/domain/name[contains(., '虚拟机')])", 1);
	rendered_free(&r);
	/* Windows 10 with EFI. */
	render_file("pve-storage/Win10-Liz_no_default_ns.ovf", 0, &r);
	ASSERT_XS(r.doc, "string(/domain/metadata/libosinfo:libosinfo/libosinfo:os/@id)",
		  "http://microsoft.com/win/10");
	ASSERT_XS(r.doc, "string(/domain/clock/@offset)", "localtime");
	rendered_free(&r);
}

struct corpus_run {
	size_t ok, refused;
};

static void corpus_file(const char *path, const char *name, void *ctx)
{
	struct corpus_run *c = ctx;
	long v = check_ovf(path, name);

	if (v < 0)
		c->refused++;
	else
		c->ok += (size_t)v;
}

TEST(shared_corpus)
{
	const char *dir = testdata_corpus();
	struct corpus_run run = { 0 };

	if (!dir)
		return;
	testdata_walk(dir, ".ovf", 8, corpus_file, &run);
	printf("  corpus %s: %zu VMs rendered and defined (%zu descriptors the parser "
	       "refuses)\n",
	       dir, run.ok, run.refused);
	ASSERT(run.ok > 0);
}

static void vmx_file(const char *path, const char *name, void *ctx)
{
	struct corpus_run *c = ctx;
	struct vm *vm;
	size_t len;
	char *text;

	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s", path);
	err_clear(E);
	if (vmx_parse(text, len, name, &vm, E) < 0) {
		c->refused++;
	} else {
		check_vm(vm);
		vm_free(vm);
		c->ok++;
	}
	free(text);
}

/* Every real-world .vmx kept in tests/data/vmx (libvirt's, virt-v2v's, dissect's)
 * renders to a document libvirt validates and defines. */
TEST(real_world_vmx)
{
	struct corpus_run run = { 0 };
	char dir[4096];

	testdata_path(dir, sizeof(dir), "VMFS_VMX_DATA", "vmx", "");
	testdata_walk(dir, ".vmx", 4, vmx_file, &run);
	printf("  %zu VMX files rendered and defined (%zu refused by the parser)\n", run.ok,
	       run.refused);
	/* dissect's encrypted.vmx is the one the parser refuses on purpose. */
	ASSERT(run.ok >= 30);
	ASSERT_EQ(run.refused, (size_t)1);
}

/* ------------------------------------------------------------------------------------ */
/* Ours against libvirt's reading of the same .vmx (tests/data/vmx/libvirt: the .vmx files
 * of libvirt's vmx2xml test and the domain XML libvirt makes of each). */

/* A difference we mean, for one file (or "*": any file) and one field. */
struct expected_diff {
	const char *file, *field, *reason;
	unsigned seen;
};

static struct expected_diff expected_diffs[] = {
	{ "*", "disk bus nvme",
	  "libvirt's VMX reader keeps NVMe; libvirt 9 (Debian 12) has no NVMe disk bus for "
	  "qemu, so ours is on SATA",
	  0 },
	{ "*", "cdrom bus ide",
	  "an IDE CD-ROM on a q35 machine (no IDE there) moves to SATA; only an IDE hard disk "
	  "makes the machine i440fx",
	  0 },
	{ "*", "nic model vlance", "qemu has no vlance; its pcnet is the same AMD PCnet chip", 0 },
	{ "*", "nic model none",
	  "no ethernetN.virtualDev: libvirt leaves the model out, we write e1000, which every "
	  "guest since Windows XP and Linux 2.4 drives (VMware picks vlance or e1000 by guest OS)",
	  0 },
	{ "*", "name none",
	  "no displayName: libvirt writes no name (its test harness adds none), we name the domain "
	  "after the .vmx file",
	  0 },
	{ "*", "floppies",
	  "floppy drives are left out: q35 has no floppy controller, and an export carries no "
	  "floppy image",
	  0 },
	{ "esx-in-the-wild-8", "cdrom dev",
	  "libvirt names the SATA CD-ROM sda, as the first SCSI disk is: qemu's driver refuses "
	  "two devices named sda, so ours takes the first free name",
	  0 },
	{ "esx-in-the-wild-12", "cdrom dev", "SATA CD-ROM beside SCSI sda, as esx-in-the-wild-8",
	  0 },
	{ "esx-in-the-wild-17", "cdrom dev", "SATA CD-ROM beside SCSI sda, as esx-in-the-wild-8",
	  0 },
	{ "esx-in-the-wild-11", "disks",
	  "corpus version skew: the XML is from a newer libvirt commit whose .vmx gained a third "
	  "disk (scsi1:0); the stored .vmx has two",
	  0 },
	{ "esx-in-the-wild-7", "cdroms",
	  "scsi-passthru of a host CD-ROM: libvirt makes a device='lun', we an empty CD-ROM "
	  "drive (the ESXi host's LUN means nothing on KVM)",
	  0 },
	{ "esx-in-the-wild-14", "mac",
	  "all-zero static MAC (NSX opaque network): libvirt keeps 00:00:00:00:00:00, we leave "
	  "the address out so libvirt generates one",
	  0 },
	{ NULL, NULL, NULL, 0 },
};

/* True (and counted) when file's field is an expected difference. */
static bool expected(const char *file, const char *field)
{
	struct expected_diff *k;

	for (k = expected_diffs; k->file; k++)
		if ((!strcmp(k->file, "*") || !strcmp(k->file, file)) && !strcmp(k->field, field)) {
			k->seen++;
			return true;
		}
	return false;
}

static int diffs;

/* Compare a field; a difference not listed fails the test at the end. */
static void differs(const char *file, const char *field, const char *theirs, const char *ours)
{
	if (expected(file, field))
		return;
	printf("  %s: %s: libvirt \"%s\", ours \"%s\"\n", file, field, theirs, ours);
	diffs++;
}

#define SAME(file, field, doc_theirs, doc_ours, expr)                                              \
	do {                                                                                       \
		char *t_ = xs(doc_theirs, expr), *o_ = xs(doc_ours, expr);                         \
		if (strcmp(t_, o_) != 0)                                                           \
			differs(file, field, t_, o_);                                              \
		free(t_);                                                                          \
		free(o_);                                                                          \
	} while (0)

/* libvirt's test harness names a disk file "[datastore] directory/NAME" (or "[DS] PATH"
 * for /vmfs/volumes/DS/PATH, an absolute path unchanged): which of vm's disks is src. */
static long libvirt_disk(const struct vm *vm, const char *src)
{
	char name[1024];
	size_t k;

	for (k = 0; k < vm->n_disks; k++) {
		const char *f = vm->disks[k].file, *ds, *slash;

		if (!strncmp(f, "/vmfs/volumes/", 14) && (slash = strchr(ds = f + 14, '/')))
			snprintf(name, sizeof(name), "[%.*s] %s", (int)(slash - ds), ds, slash + 1);
		else if (f[0] == '/')
			snprintf(name, sizeof(name), "%s", f);
		else
			snprintf(name, sizeof(name), "[datastore] directory/%s", f);
		if (!strcmp(name, src))
			return (long)k;
	}
	return -1;
}

static void compare_with_libvirt(const char *base, const struct vm *vm, xmlDocPtr theirs,
				 xmlDocPtr ours, char **paths)
{
	char expr[512], field[64], *t, *o;
	long n, i, k;

	/* Name: where libvirt has one. */
	t = xs(theirs, "string(/domain/name)");
	o = xs(ours, "string(/domain/name)");
	if (!*t)
		expected(base, "name none");
	else if (strcmp(t, o) != 0)
		differs(base, "name", t, o);
	free(t);
	free(o);

	/* uuid.bios: newer libvirt writes it as <hwuuid>, older as <uuid>; ours is <uuid>. */
	t = xs(theirs, "string(/domain/hwuuid)");
	if (!*t) {
		free(t);
		t = xs(theirs, "string(/domain/uuid)");
	}
	if (!strcmp(t, "00000000-0000-0000-0000-000000000000"))
		*t = '\0';
	o = xs(ours, "string(/domain/uuid)");
	if (strcmp(t, o) != 0)
		differs(base, "uuid", t, o);
	free(t);
	free(o);

	/* Memory: both in KiB. */
	if (xn(theirs, "count(/domain/memory[@unit='KiB'])") != 1 ||
	    xn(ours, "count(/domain/memory[@unit='KiB'])") != 1)
		HARNESS_FAIL("%s: memory not in KiB", base);
	SAME(base, "memory", theirs, ours, "string(/domain/memory)");
	SAME(base, "vcpus", theirs, ours, "string(/domain/vcpu)");
	SAME(base, "cores", theirs, ours, "string(/domain/cpu/topology/@cores)");
	SAME(base, "firmware", theirs, ours, "string(/domain/os/@firmware)");

	/* Hard disks: the same count, and each of libvirt's (found by its file) on the same
	 * bus, with the same target name and slot. */
	n = xn(theirs, "count(/domain/devices/disk[@device='disk'])");
	if (n != xn(ours, "count(/domain/devices/disk[@device='disk'])")) {
		snprintf(field, sizeof(field), "%ld", n);
		differs(base, "disks", field, "a different count");
	}
	for (i = 1; i <= n; i++) {
		char *src, *bus, *dev, *addr, *our_addr;

#define THEIRS(what)                                                                               \
	(snprintf(expr, sizeof(expr), "string(/domain/devices/disk[@device='disk'][%ld]/%s)", i,   \
		  what),                                                                           \
	 xs(theirs, expr))
#define OURS(what)                                                                                 \
	(snprintf(expr, sizeof(expr), "string(/domain/devices/disk[source/@file='%s']/%s)",        \
		  paths[k], what),                                                                 \
	 xs(ours, expr))
		src = THEIRS("source/@file");
		if ((k = libvirt_disk(vm, src)) < 0) {
			differs(base, "disks", src, "no such disk");
			free(src);
			continue;
		}
		bus = THEIRS("target/@bus");
		o = OURS("target/@bus");
		if (strcmp(bus, o) != 0) {
			snprintf(field, sizeof(field), "disk bus %s", bus);
			differs(base, field, bus, o);
		} else {
			dev = THEIRS("target/@dev");
			free(o);
			o = OURS("target/@dev");
			if (strcmp(dev, o) != 0)
				differs(base, "disk dev", dev, o);
			free(dev);
			addr = THEIRS("address/@controller");
			our_addr = OURS("address/@controller");
			free(o);
			o = NULL;
			if (strcmp(addr, our_addr) != 0)
				differs(base, "disk controller", addr, our_addr);
			free(addr);
			free(our_addr);
			addr = THEIRS("address/@unit");
			our_addr = OURS("address/@unit");
			if (strcmp(addr, our_addr) != 0)
				differs(base, "disk unit", addr, our_addr);
			free(addr);
			free(our_addr);
		}
#undef THEIRS
#undef OURS
		free(o);
		free(bus);
		free(src);
	}

	/* CD-ROMs: the same count, and each of libvirt's with one of ours on its bus and with
	 * its name (CD-ROMs have no file to match them by). */
	n = xn(theirs, "count(/domain/devices/disk[@device='cdrom'])");
	if (n != xn(ours, "count(/domain/devices/disk[@device='cdrom'])")) {
		snprintf(field, sizeof(field), "%ld", n);
		differs(base, "cdroms", field, "a different count");
	} else {
		for (i = 1; i <= n; i++) {
			char *bus, *dev;

			snprintf(expr, sizeof(expr),
				 "string(/domain/devices/disk[@device='cdrom'][%ld]/target/@bus)",
				 i);
			bus = xs(theirs, expr);
			snprintf(expr, sizeof(expr),
				 "string(/domain/devices/disk[@device='cdrom'][%ld]/target/@dev)",
				 i);
			dev = xs(theirs, expr);
			snprintf(expr, sizeof(expr),
				 "count(/domain/devices/disk[@device='cdrom'][target/@bus='%s'])",
				 bus);
			if (xn(ours, expr) == 0) {
				snprintf(field, sizeof(field), "cdrom bus %s", bus);
				differs(base, field, bus, "none");
			} else {
				snprintf(expr, sizeof(expr),
					 "count(/domain/devices/disk[@device='cdrom'][target/"
					 "@dev='%s'])",
					 dev);
				if (xn(ours, expr) == 0)
					differs(base, "cdrom dev", dev, "another name");
			}
			free(bus);
			free(dev);
		}
	}
	if (xn(theirs, "count(/domain/devices/disk[@device='floppy'])") !=
	    xn(ours, "count(/domain/devices/disk[@device='floppy'])"))
		expected(base, "floppies");

	/* NICs in order: MAC and model. */
	n = xn(theirs, "count(/domain/devices/interface)");
	if (n != xn(ours, "count(/domain/devices/interface)")) {
		snprintf(field, sizeof(field), "%ld", n);
		differs(base, "nics", field, "a different count");
		return;
	}
	for (i = 1; i <= n; i++) {
		snprintf(expr, sizeof(expr), "string(/domain/devices/interface[%ld]/mac/@address)",
			 i);
		SAME(base, "mac", theirs, ours, expr);
		snprintf(expr, sizeof(expr), "string(/domain/devices/interface[%ld]/model/@type)",
			 i);
		t = xs(theirs, expr);
		o = xs(ours, expr);
		if (strcmp(t, o) != 0) {
			snprintf(field, sizeof(field), "nic model %s", *t ? t : "none");
			differs(base, field, t, o);
		}
		free(t);
		free(o);
	}
}

TEST(libvirt_expected)
{
	char dir[1024], path[1400];
	struct expected_diff *k;
	struct dirent **names;
	size_t pairs = 0;
	int n, i;

	testdata_path(dir, sizeof(dir), "VMFS_VMX_DATA", "vmx", "libvirt");
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		HARNESS_FAIL("cannot list %s", dir);
	diffs = 0;
	for (i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t l = strlen(f), len, xml_len;
		char base[256], *text, *xml, *ours;
		struct vm *vm;
		xmlDocPtr theirs, our_doc;
		char **paths;

		if (l <= 4 || strcmp(f + l - 4, ".vmx") != 0)
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(l - 4), f);
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		if (!testdata_read(path, &text, &len))
			HARNESS_FAIL("cannot read %s", path);
		err_clear(E);
		if (vmx_parse(text, len, f, &vm, E) < 0)
			HARNESS_FAIL("%s: %s", f, harness_err.msg);
		snprintf(path, sizeof(path), "%s/%s.xml", dir, base);
		if (!testdata_read(path, &xml, &xml_len))
			HARNESS_FAIL("cannot read %s", path);
		theirs = parse_doc(xml, xml_len);
		ASSERT(theirs != NULL);
		paths = paths_new(vm->n_disks);
		struct domain_opts o = { .disk_paths = (const char *const *)paths,
					 .n_disk_paths = vm->n_disks };
		ASSERT_OK(domain_render(vm, &o, &ours, &len, E));
		our_doc = parse_doc(ours, len);
		ASSERT(our_doc != NULL);
		compare_with_libvirt(base, vm, theirs, our_doc, paths);
		pairs++;
		xmlFreeDoc(our_doc);
		xmlFreeDoc(theirs);
		free(ours);
		paths_free(paths, vm->n_disks);
		vm_free(vm);
		free(xml);
		free(text);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	printf("  %zu pairs compared: name, uuid, memory, vCPUs, cores, firmware, disks (bus, "
	       "name, slot), CD-ROMs, NIC MACs and models\n",
	       pairs);
	for (k = expected_diffs; k->file; k++) {
		if (k->seen)
			printf("  as listed, %u x %s (%s): %s\n", k->seen, k->field, k->file,
			       k->reason);
		else {
			/* A listed difference that no longer happens is a stale list. */
			printf("  listed difference %s / %s did not happen\n", k->file, k->field);
			diffs++;
		}
	}
	ASSERT_EQ(diffs, 0);
	ASSERT(pairs >= 26);
}
