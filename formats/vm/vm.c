/* SPDX-License-Identifier: MIT */
/*
 * The VM model's destructors and look-ups: see vm.h.  Parsers build these structs piece by
 * piece and may fail half-way, so every free here copes with a partly filled struct.
 */
#include "vm.h"

#include <stdlib.h>
#include <string.h>

void vm_free(struct vm *vm)
{
	size_t i;

	if (!vm)
		return;
	free(vm->id);
	free(vm->name);
	free(vm->uuid);
	free(vm->os_cim_id);
	free(vm->os_type);
	free(vm->os_desc);
	free(vm->hw_version);
	free(vm->product);
	free(vm->vendor);
	free(vm->version);
	for (i = 0; i < vm->n_controllers; i++) {
		free(vm->controllers[i].model);
		free(vm->controllers[i].instance_id);
	}
	free(vm->controllers);
	for (i = 0; i < vm->n_disks; i++) {
		free(vm->disks[i].disk_id);
		free(vm->disks[i].file);
		free(vm->disks[i].file_ref);
		free(vm->disks[i].format);
	}
	free(vm->disks);
	for (i = 0; i < vm->n_cdroms; i++) {
		free(vm->cdroms[i].file);
		free(vm->cdroms[i].file_ref);
	}
	free(vm->cdroms);
	for (i = 0; i < vm->n_nics; i++) {
		free(vm->nics[i].mac);
		free(vm->nics[i].model);
		free(vm->nics[i].network);
	}
	free(vm->nics);
	for (i = 0; i < vm->n_extra; i++) {
		free(vm->extra[i].key);
		free(vm->extra[i].value);
	}
	free(vm->extra);
	free(vm);
}

void vm_package_free(struct vm_package *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_files; i++) {
		free(p->files[i].id);
		free(p->files[i].href);
	}
	free(p->files);
	for (i = 0; i < p->n_vms; i++)
		vm_free(p->vms[i]);
	free(p->vms);
	free(p->name);
	free(p);
}

const struct vm_file *vm_package_file(const struct vm_package *p, const char *id)
{
	size_t i;

	if (!p || !id)
		return NULL;
	for (i = 0; i < p->n_files; i++)
		if (p->files[i].id && strcmp(p->files[i].id, id) == 0)
			return &p->files[i];
	return NULL;
}
