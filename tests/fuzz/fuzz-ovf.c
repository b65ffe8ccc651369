/* SPDX-License-Identifier: MIT */
/*
 * The OVF envelope parser (formats/vm/ovf.c): the input is an .ovf descriptor.  A success
 * must give a package whose files and VMs keep vm.h's promises (file references that
 * resolve or are NULL, canonical uuids and MACs); each VM (the first few) is then rendered
 * as domain.xml and parsed back, so the renderer also sees the models OVF makes.
 */
#include "../../formats/vm/ovf.h"
#include "vm-check.h"

#define RENDERED_VMS 4

FUZZ_TARGET(ovf, "ovf")
{
	struct err err = { 0 };
	struct vm_package *p;
	int r;

	r = ovf_parse((const char *)data, size, "fuzz.ovf", &p, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return 0;
	}
	FUZZ_CHECK(p->n_vms <= OVF_MAX_VMS && p->n_files <= OVF_MAX_FILES, "%zu VMs, %zu files",
		   p->n_vms, p->n_files);
	for (size_t i = 0; i < p->n_files; i++) {
		FUZZ_CHECK(p->files[i].id && p->files[i].href, "file %zu without id or href", i);
		FUZZ_CHECK(vm_package_file(p, p->files[i].id), "file id \"%s\" does not resolve",
			   p->files[i].id);
	}
	for (size_t v = 0; v < p->n_vms; v++) {
		const struct vm *vm = p->vms[v];

		fuzz_check_vm(vm);
		for (size_t i = 0; i < vm->n_disks; i++)
			FUZZ_CHECK(!vm->disks[i].file_ref ||
					   vm_package_file(p, vm->disks[i].file_ref),
				   "disk %zu refers to file \"%s\", not in References", i,
				   vm->disks[i].file_ref);
		if (v < RENDERED_VMS)
			fuzz_check_domain(vm, (unsigned)((fuzz_hash(data, size) + v) % 16));
	}
	vm_package_free(p);
	return 0;
}
