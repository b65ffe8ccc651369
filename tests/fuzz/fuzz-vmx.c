/* SPDX-License-Identifier: MIT */
/*
 * The .vmx parser (formats/vm/vmx.c): the input is a .vmx file.  A failure must name the
 * problem in one line; a success must give a model that keeps vm.h's promises, and every
 * key it kept must be found again with vmx_value().
 */
#include "../../formats/vm/vmx.h"
#include "vm-check.h"

FUZZ_TARGET(vmx, "vmx")
{
	struct err err = { 0 };
	struct vm *vm;
	int r;

	r = vmx_parse((const char *)data, size, "fuzz.vmx", &vm, &err);
	if (r < 0) {
		fuzz_check_err(r, &err);
		return 0;
	}
	fuzz_check_vm(vm);
	for (size_t i = 0; i < vm->n_extra; i++)
		FUZZ_CHECK(vmx_value(vm, vm->extra[i].key), "kept key \"%s\" is not found",
			   vm->extra[i].key);
	(void)vmx_value(vm, "displayName");
	vm_free(vm);
	return 0;
}
