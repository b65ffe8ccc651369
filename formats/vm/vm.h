/* SPDX-License-Identifier: MIT */
/*
 * The VM model: what a VMware export says about its virtual machines, independent of
 * whether it came from an OVF envelope or a .vmx file.  Parsers fill it; the domain view
 * and the FUSE tree only read it.  Plain data: every string is malloc'd and owned by the
 * struct that holds it, NULL when the source did not say.
 */
#ifndef VMFS_VM_H
#define VMFS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vm_firmware { VM_FW_UNKNOWN, VM_FW_BIOS, VM_FW_EFI };

enum vm_bus { VM_BUS_UNKNOWN, VM_BUS_IDE, VM_BUS_SCSI, VM_BUS_SATA, VM_BUS_NVME,
	      VM_BUS_FLOPPY, VM_BUS_USB };

/* A storage controller (OVF ResourceType 5 IDE, 6 SCSI, 20 SATA, NVMe; VMX ideN, scsiN,
 * sataN, nvmeN).  OVF USB controllers (ResourceType 23) are listed too, with bus
 * VM_BUS_USB, so a device whose Parent is one resolves; they hold no disk of ours. */
struct vm_controller {
	enum vm_bus bus;
	char *model;	     /* as the source wrote it: "lsilogic", "VirtualSCSI", "PIIX4"... */
	unsigned index;	     /* bus number among controllers of its type (OVF Address, VMX N) */
	char *instance_id;   /* OVF InstanceID, to resolve Parent; NULL for VMX */
};

/* A hard disk. */
struct vm_disk {
	char *disk_id;	     /* OVF DiskSection diskId ("vmdisk1"); NULL for VMX */
	char *file;	     /* OVF: href of the referenced file; VMX: fileName, as written */
	char *file_ref;	     /* OVF: that File's ovf:id, for vm_package_file(); NULL otherwise */
	uint64_t capacity;   /* bytes, 0 when unknown */
	uint64_t populated;  /* bytes, 0 when unknown */
	char *format;	     /* OVF format URI, NULL otherwise */
	int controller;	     /* index into vm.controllers, -1 when unknown */
	int unit;	     /* AddressOnParent / VMX unit number, -1 when unknown */
	int boot_order;	     /* 1.., 0 when not said */
};

/* A CD/DVD drive (OVF ResourceType 15/16) or floppy (14). */
struct vm_cdrom {
	int controller;	     /* index into vm.controllers, -1 when unknown */
	int unit;	     /* -1 when unknown */
	char *file;	     /* ISO href inside the export or VMX fileName; NULL when empty */
	char *file_ref;	     /* OVF: that File's ovf:id, for vm_package_file(); NULL otherwise */
	bool floppy;
};

/* A network adapter (OVF ResourceType 10; VMX ethernetN). */
struct vm_nic {
	char *mac;	     /* "00:50:56:..." lower case, or NULL (generated on the target) */
	char *model;	     /* "E1000", "E1000e", "VmxNet3", "PCNet32", "vlance"... as written */
	char *network;	     /* OVF Connection / VMX networkName, or NULL */
	unsigned index;	     /* order in the source */
};

/* One name = value pair kept verbatim (vmw:ExtraConfig, vmw:Config, VMX keys). */
struct vm_kv {
	char *key, *value;
};

struct vm {
	char *id;	     /* OVF VirtualSystem ovf:id, or VMX file name */
	char *name;	     /* display name: OVF Name / VirtualSystemIdentification / ovf:id,
				VMX displayName; never NULL after a successful parse */
	char *uuid;	     /* canonical 8-4-4-4-12 lower case, or NULL */
	enum vm_firmware firmware;
	bool secure_boot;
	unsigned vcpus;	     /* 0 when unknown */
	unsigned cores_per_socket; /* 0 when unknown */
	uint64_t memory;     /* bytes, 0 when unknown */
	char *os_cim_id;     /* OVF OperatingSystemSection ovf:id ("101"), or NULL */
	char *os_type;	     /* vmw:osType / VMX guestOS ("ubuntu64Guest"), or NULL */
	char *os_desc;	     /* OVF OperatingSystemSection Description, or NULL */
	char *hw_version;    /* "vmx-13" (OVF VirtualSystemType) / VMX virtualHW.version */
	char *product, *vendor, *version; /* ProductSection, or NULL */
	struct vm_controller *controllers;
	size_t n_controllers;
	struct vm_disk *disks;
	size_t n_disks;
	struct vm_cdrom *cdroms;
	size_t n_cdroms;
	struct vm_nic *nics;
	size_t n_nics;
	bool has_video;
	uint64_t video_ram;  /* bytes, 0 when unknown */
	unsigned n_serial;
	bool has_sound;
	struct vm_kv *extra; /* vmw:Config / vmw:ExtraConfig / VMX keys, in order */
	size_t n_extra;
};

/* One file of an OVF package (References/File). */
struct vm_file {
	char *id;	     /* ovf:id */
	char *href;	     /* as written */
	uint64_t size;	     /* ovf:size, when has_size */
	bool has_size;
	bool gzip;	     /* ovf:compression="gzip" */
	uint64_t chunk_size; /* ovf:chunkSize, 0 when not chunked */
};

/* A parsed package: its files and its virtual machines (one, or the members of a
 * VirtualSystemCollection, nested collections flattened in document order). */
struct vm_package {
	struct vm_file *files;
	size_t n_files;
	struct vm **vms;
	size_t n_vms;
	char *name;	     /* the collection's name or id, or NULL for a single VM */
};

/* Free a VM / a package (NULL is a no-op). */
void vm_free(struct vm *vm);
void vm_package_free(struct vm_package *p);

/* The file of a package with ovf:id id, or NULL. */
const struct vm_file *vm_package_file(const struct vm_package *p, const char *id);

#endif
