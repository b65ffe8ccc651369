/* SPDX-License-Identifier: MIT */
/*
 * Checking a VM model that a parser built from fuzzed text (what vm.h promises: a name,
 * device references inside their tables, canonical uuid and MACs), and rendering it as
 * domain.xml, which must always be well-formed XML whatever the strings in the model:
 * libxml2 parses it back, namespaces included.
 */
#ifndef VMFS_FUZZ_VM_CHECK_H
#define VMFS_FUZZ_VM_CHECK_H

#include <ctype.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

#include "../../formats/view/domain.h"
#include "../../formats/vm/vm.h"
#include "disk-check.h"
#include "fuzz.h"

/* Disks and drives given a path in domain.xml; more are left out with a comment. */
#define FUZZ_VM_PATHS 64

__attribute__((unused)) static bool fuzz_canonical(const char *s, const char *shape)
{
	/* shape: 'x' a lower-case hex digit, anything else itself */
	for (; *shape; s++, shape++) {
		if (*shape == 'x' ? !isxdigit((unsigned char)*s) || isupper((unsigned char)*s)
				  : *s != *shape)
			return false;
	}
	return *s == '\0';
}

__attribute__((unused)) static void fuzz_check_vm(const struct vm *vm)
{
	FUZZ_CHECK(vm->name, "a VM without a name");
	FUZZ_CHECK(!vm->uuid || fuzz_canonical(vm->uuid, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"),
		   "uuid \"%s\" is not canonical", vm->uuid);
	for (size_t i = 0; i < vm->n_disks; i++)
		FUZZ_CHECK(vm->disks[i].controller >= -1 &&
				   vm->disks[i].controller < (int)vm->n_controllers,
			   "disk %zu on controller %d of %zu", i, vm->disks[i].controller,
			   vm->n_controllers);
	for (size_t i = 0; i < vm->n_cdroms; i++)
		FUZZ_CHECK(vm->cdroms[i].controller >= -1 &&
				   vm->cdroms[i].controller < (int)vm->n_controllers,
			   "drive %zu on controller %d of %zu", i, vm->cdroms[i].controller,
			   vm->n_controllers);
	for (size_t i = 0; i < vm->n_nics; i++)
		FUZZ_CHECK(!vm->nics[i].mac || fuzz_canonical(vm->nics[i].mac, "xx:xx:xx:xx:xx:xx"),
			   "NIC %zu MAC \"%s\" is not canonical", i, vm->nics[i].mac);
	for (size_t i = 0; i < vm->n_extra; i++)
		FUZZ_CHECK(vm->extra[i].key && vm->extra[i].value, "extra %zu is NULL", i);
}

__attribute__((unused)) static void fuzz_xml_silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Render vm with the options variant (bits: bridge, virtio, transient, no paths) picks,
 * and parse the result back. */
__attribute__((unused)) static void fuzz_check_domain(const struct vm *vm, unsigned variant)
{
	static char disk_paths[FUZZ_VM_PATHS][48], cd_paths[FUZZ_VM_PATHS][48];
	const char *dp[FUZZ_VM_PATHS], *cp[FUZZ_VM_PATHS];
	struct domain_opts o = { 0 };
	struct err err = { 0 };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	char *xml;
	size_t len;
	int r;

	for (size_t i = 0; i < FUZZ_VM_PATHS; i++) {
		snprintf(disk_paths[i], sizeof(disk_paths[i]), "/mnt/fuzz/disk%zu.qcow2", i + 1);
		snprintf(cd_paths[i], sizeof(cd_paths[i]), "/mnt/fuzz/source/cd%zu.iso", i + 1);
		dp[i] = disk_paths[i];
		/* every third drive empty */
		cp[i] = i % 3 == 2 ? NULL : cd_paths[i];
	}
	if (!(variant & 8)) {
		o.disk_paths = dp;
		o.n_disk_paths = MIN(vm->n_disks, (size_t)FUZZ_VM_PATHS);
		o.cdrom_paths = cp;
		o.n_cdrom_paths = MIN(vm->n_cdroms, (size_t)FUZZ_VM_PATHS);
	}
	o.bridge = variant & 1 ? "br0" : NULL;
	o.network = variant & 1 ? NULL : "fuzz-net";
	o.virtio = variant & 2;
	o.transient = variant & 4;
	r = domain_render(vm, &o, &xml, &len, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return;
	}
	FUZZ_CHECK(strlen(xml) == len, "domain.xml of %zu bytes has a NUL at %zu", len,
		   strlen(xml));
	FUZZ_CHECK(len < INT32_MAX, "domain.xml of %zu bytes", len);
	ctxt = xmlNewParserCtxt();
	FUZZ_CHECK(ctxt, "out of memory");
	xmlSetGenericErrorFunc(NULL, fuzz_xml_silent);
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	FUZZ_CHECK(doc && ctxt->wellFormed && ctxt->nsWellFormed,
		   "domain.xml is not well-formed XML: %s\n%s",
		   ctxt->lastError.message ? ctxt->lastError.message : "?", xml);
	FUZZ_CHECK(xmlDocGetRootElement(doc) &&
			   strcmp((const char *)xmlDocGetRootElement(doc)->name, "domain") == 0,
		   "domain.xml's root is not <domain>");
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	free(xml);
}

#endif
