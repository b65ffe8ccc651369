/* SPDX-License-Identifier: MIT */
/*
 * The domain.xml renderer (formats/view/domain.c) over models the .vmx parser builds from
 * fuzzed text: every model vmx_parse() accepts must render (or be refused with one line)
 * as well-formed XML, whatever its names, paths, models and counts.  The rendering
 * options (network or bridge, virtio, transient, disks with and without paths) are picked
 * by the input's hash, so each input replays the same way.
 */
#include "../../formats/vm/vmx.h"
#include "vm-check.h"

FUZZ_TARGET(domain, "domain")
{
	struct err err = { 0 };
	struct vm *vm;

	if (vmx_parse((const char *)data, size, "fuzz.vmx", &vm, &err) < 0)
		return 0;
	fuzz_check_domain(vm, (unsigned)(fuzz_hash(data, size) % 16));
	vm_free(vm);
	return 0;
}
