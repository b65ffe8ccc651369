/* SPDX-License-Identifier: MIT */
/*
 * The OVF envelope parser: small inline envelopes for every feature (OVF 1.0 and 2.0,
 * collections, References with gzip and chunks, capacity units, deployment options,
 * vmw:Config, vbox:Machine, OVF 0.9), every refusal with its message, the hostile
 * documents (billion laughs, external entities, huge and deep documents) with time and
 * silence checks, a table of real-world descriptors kept in tests/data/ovf (expected
 * values read from the files by hand), and every *.ovf of the shared corpus when present.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../formats/vm/ovf.h"
#include "../lib/harness.h"
#include "../lib/testdata.h"

HARNESS_MAIN

/* Bounds on how long a refusal may take: hang guards for inputs built to make a parser
 * go quadratic or exponential (minutes if they work), far above any real run even on a
 * loaded machine under ASan; speed itself is for tools/bench, not for tests. */
#define HANG_SECONDS 30.0

/* ------------------------------------------------------------------------------------ */
/* Helpers */

static int parse(const char *text, struct vm_package **p)
{
	return ovf_parse(text, strlen(text), "guest.ovf", p, E);
}

/* Parse text, which must fail with code and a message naming the file and containing
 * substr, on one line. */
#define ASSERT_PARSE_ERR(text, code, substr)                                                       \
	do {                                                                                       \
		struct vm_package *p_ = NULL;                                                      \
		ASSERT_ERR(parse(text, &p_), code, substr);                                        \
		ASSERT(p_ == NULL);                                                                \
		ASSERT(strncmp(harness_err.msg, "guest.ovf: ", 11) == 0);                          \
		ASSERT(strchr(harness_err.msg, '\n') == NULL);                                     \
	} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growing string for generated documents. */
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

/* Redirect stderr to a temporary file, so a test can prove libxml2 printed nothing. */
static int saved_stderr = -1;
static FILE *captured;

static void capture_begin(void)
{
	fflush(stderr);
	captured = tmpfile();
	if (!captured)
		abort();
	saved_stderr = dup(2);
	dup2(fileno(captured), 2);
}

/* Restore stderr; return what was written to it (malloc'd). */
static char *capture_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(captured);
	s = calloc(1, n + 1);
	rewind(captured);
	if (n > 0 && fread(s, 1, n, captured) != (size_t)n)
		abort();
	fclose(captured);
	return s;
}

#define NS_OVF1 "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_OVF2 "http://schemas.dmtf.org/ovf/envelope/2"
#define NS_CIM "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
#define NS_DECL                                                                                    \
	" xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1 "\""                                         \
	" xmlns:rasd=\"" NS_CIM "CIM_ResourceAllocationSettingData\""                              \
	" xmlns:vssd=\"" NS_CIM "CIM_VirtualSystemSettingData\""                                   \
	" xmlns:vmw=\"http://www.vmware.com/schema/ovf\""

/* An OVF 1.0 envelope with one VM "vm" whose VirtualHardwareSection holds items. */
#define ENVELOPE(refs, disks, items)                                                               \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Envelope" NS_DECL ">\n"                      \
	"<References>" refs "</References>\n"                                                      \
	"<DiskSection><Info>disks</Info>" disks "</DiskSection>\n"                                 \
	"<VirtualSystem ovf:id=\"vm\"><Info>a VM</Info><Name>vm</Name>\n"                          \
	"<VirtualHardwareSection><Info>hardware</Info>\n" items "</VirtualHardwareSection>\n"      \
	"</VirtualSystem></Envelope>\n"

#define FILE1 "<File ovf:id=\"file1\" ovf:href=\"disk1.vmdk\"/>"
#define DISK1 "<Disk ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" ovf:capacity=\"1048576\"/>"
#define SCSI0                                                                                      \
	"<Item>"                                                                                   \
	"<rasd:InstanceID>3</rasd:InstanceID>"                                                     \
	"<rasd:ResourceType>6</rasd:ResourceType>"                                                 \
	"<rasd:Address>0</rasd:Address></Item>\n"

/* ------------------------------------------------------------------------------------ */
/* Features */

static const char ovf10_single[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Envelope vmw:buildId=\"build-1\"" NS_DECL ">\n"
	"  <References>\n"
	"    <File ovf:id=\"file1\" ovf:href=\"web-disk1.vmdk\" ovf:size=\"10595840\"/>\n"
	"    <File ovf:id=\"iso1\" ovf:href=\"tools.iso\"/>\n"
	"  </References>\n"
	"  <DiskSection>\n"
	"    <Info>Virtual disk information</Info>\n"
	"    <Disk ovf:capacity=\"8\" ovf:capacityAllocationUnits=\"byte * 2^30\"\n"
	"          ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" ovf:populatedSize=\"18743296\"\n"
	"          ovf:format=\"http://www.vmware.com/interfaces/specifications/"
	"vmdk.html#streamOptimized\"/>\n"
	"  </DiskSection>\n"
	"  <NetworkSection><Info>nets</Info><Network ovf:name=\"VM Network\"/></NetworkSection>\n"
	"  <VirtualSystem ovf:id=\"web1\">\n"
	"    <Info>A virtual machine</Info>\n"
	"    <Name>Web server</Name>\n"
	"    <OperatingSystemSection ovf:id=\"101\" vmw:osType=\"ubuntu64Guest\">\n"
	"      <Info>The guest</Info><Description>Ubuntu Linux (64-bit)</Description>\n"
	"    </OperatingSystemSection>\n"
	"    <ProductSection><Info>p</Info><Product>Web</Product><Vendor>ACME</Vendor>\n"
	"      <Version>2.1</Version></ProductSection>\n"
	"    <VirtualHardwareSection>\n"
	"      <Info>Virtual hardware requirements</Info>\n"
	"      <System>\n"
	"        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n"
	"        <vssd:InstanceID>0</vssd:InstanceID>\n"
	"        <vssd:VirtualSystemType>vmx-07 vmx-08</vssd:VirtualSystemType>\n"
	"      </System>\n"
	"      <Item>\n"
	"        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n"
	"        <rasd:InstanceID>1</rasd:InstanceID>\n"
	"        <rasd:ResourceType>3</rasd:ResourceType>\n"
	"        <rasd:VirtualQuantity>4</rasd:VirtualQuantity>\n"
	"        <vmw:CoresPerSocket ovf:required=\"false\">2</vmw:CoresPerSocket>\n"
	"      </Item>\n"
	"      <Item>\n"
	"        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n"
	"        <rasd:InstanceID>2</rasd:InstanceID>\n"
	"        <rasd:ResourceType>4</rasd:ResourceType>\n"
	"        <rasd:VirtualQuantity>2048</rasd:VirtualQuantity>\n"
	"      </Item>\n"
	"      <!-- the disk before its controller: Parent must still resolve -->\n"
	"      <Item>\n"
	"        <rasd:AddressOnParent>1</rasd:AddressOnParent>\n"
	"        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>\n"
	"        <rasd:InstanceID>6</rasd:InstanceID>\n"
	"        <rasd:Parent>3</rasd:Parent>\n"
	"        <rasd:ResourceType>17</rasd:ResourceType>\n"
	"      </Item>\n"
	"      <Item>\n"
	"        <rasd:Address>0</rasd:Address>\n"
	"        <rasd:InstanceID>3</rasd:InstanceID>\n"
	"        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>\n"
	"        <rasd:ResourceType>6</rasd:ResourceType>\n"
	"      </Item>\n"
	"      <Item>\n"
	"        <rasd:Address>1</rasd:Address>\n"
	"        <rasd:InstanceID>4</rasd:InstanceID>\n"
	"        <rasd:ResourceType>5</rasd:ResourceType>\n"
	"      </Item>\n"
	"      <Item ovf:required=\"false\">\n"
	"        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n"
	"        <rasd:HostResource>ovf:/file/iso1</rasd:HostResource>\n"
	"        <rasd:InstanceID>7</rasd:InstanceID>\n"
	"        <rasd:Parent>4</rasd:Parent>\n"
	"        <rasd:ResourceType>15</rasd:ResourceType>\n"
	"      </Item>\n"
	"      <Item>\n"
	"        <rasd:Address>00:50:56:AB:CD:01</rasd:Address>\n"
	"        <rasd:AddressOnParent>7</rasd:AddressOnParent>\n"
	"        <rasd:Connection>VM Network</rasd:Connection>\n"
	"        <rasd:InstanceID>8</rasd:InstanceID>\n"
	"        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>\n"
	"        <rasd:ResourceType>10</rasd:ResourceType>\n"
	"        <vmw:Config ovf:required=\"false\" vmw:key=\"wakeOnLanEnabled\" "
	"vmw:value=\"true\"/>\n"
	"      </Item>\n"
	"      <Item>\n"
	"        <rasd:Address>00:50:56:ab:cd:02</rasd:Address>\n"
	"        <rasd:Connection>Backup</rasd:Connection>\n"
	"        <rasd:InstanceID>9</rasd:InstanceID>\n"
	"        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>\n"
	"        <rasd:ResourceType>10</rasd:ResourceType>\n"
	"      </Item>\n"
	"      <Item ovf:required=\"false\">\n"
	"        <rasd:InstanceID>10</rasd:InstanceID>\n"
	"        <rasd:ResourceType>24</rasd:ResourceType>\n"
	"        <vmw:Config ovf:required=\"false\" vmw:key=\"videoRamSizeInKB\" "
	"vmw:value=\"4096\"/>\n"
	"      </Item>\n"
	"      <vmw:Config ovf:required=\"false\" vmw:key=\"cpuHotAddEnabled\" "
	"vmw:value=\"true\"/>\n"
	"    </VirtualHardwareSection>\n"
	"  </VirtualSystem>\n"
	"</Envelope>\n";

TEST(ovf10_single_vm)
{
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(ovf10_single, &p));
	ASSERT(p->name == NULL);
	ASSERT_EQ(p->n_files, 2);
	ASSERT_STREQ(p->files[0].id, "file1");
	ASSERT_STREQ(p->files[0].href, "web-disk1.vmdk");
	ASSERT(p->files[0].has_size);
	ASSERT_U64_EQ(p->files[0].size, 10595840);
	ASSERT(!p->files[1].has_size);
	ASSERT(vm_package_file(p, "iso1") == &p->files[1]);
	ASSERT(vm_package_file(p, "nope") == NULL);
	ASSERT_EQ(p->n_vms, 1);
	vm = p->vms[0];
	ASSERT_STREQ(vm->id, "web1");
	ASSERT_STREQ(vm->name, "Web server");
	ASSERT(vm->uuid == NULL);
	ASSERT_EQ(vm->firmware, VM_FW_UNKNOWN);
	ASSERT_EQ(vm->vcpus, 4);
	ASSERT_EQ(vm->cores_per_socket, 2);
	ASSERT_U64_EQ(vm->memory, 2048ull << 20);
	ASSERT_STREQ(vm->os_cim_id, "101");
	ASSERT_STREQ(vm->os_type, "ubuntu64Guest");
	ASSERT_STREQ(vm->os_desc, "Ubuntu Linux (64-bit)");
	ASSERT_STREQ(vm->hw_version, "vmx-07");
	ASSERT_STREQ(vm->product, "Web");
	ASSERT_STREQ(vm->vendor, "ACME");
	ASSERT_STREQ(vm->version, "2.1");

	ASSERT_EQ(vm->n_controllers, 2);
	ASSERT_EQ(vm->controllers[0].bus, VM_BUS_SCSI);
	ASSERT_STREQ(vm->controllers[0].model, "lsilogic");
	ASSERT_EQ(vm->controllers[0].index, 0);
	ASSERT_STREQ(vm->controllers[0].instance_id, "3");
	ASSERT_EQ(vm->controllers[1].bus, VM_BUS_IDE);
	ASSERT(vm->controllers[1].model == NULL);
	ASSERT_EQ(vm->controllers[1].index, 1);

	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].disk_id, "vmdisk1");
	ASSERT_STREQ(vm->disks[0].file, "web-disk1.vmdk");
	ASSERT_STREQ(vm->disks[0].file_ref, "file1");
	ASSERT_U64_EQ(vm->disks[0].capacity, 8ull << 30);
	ASSERT_U64_EQ(vm->disks[0].populated, 18743296);
	ASSERT_STREQ(vm->disks[0].format,
		     "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized");
	ASSERT_EQ(vm->disks[0].controller, 0);
	ASSERT_EQ(vm->disks[0].unit, 1);
	ASSERT_EQ(vm->disks[0].boot_order, 0);

	ASSERT_EQ(vm->n_cdroms, 1);
	ASSERT_EQ(vm->cdroms[0].controller, 1);
	ASSERT_EQ(vm->controllers[vm->cdroms[0].controller].bus, VM_BUS_IDE);
	ASSERT_EQ(vm->cdroms[0].unit, 0);
	ASSERT_STREQ(vm->cdroms[0].file, "tools.iso");
	ASSERT_STREQ(vm->cdroms[0].file_ref, "iso1");
	ASSERT(!vm->cdroms[0].floppy);

	ASSERT_EQ(vm->n_nics, 2);
	ASSERT_STREQ(vm->nics[0].mac, "00:50:56:ab:cd:01");
	ASSERT_STREQ(vm->nics[0].model, "VmxNet3");
	ASSERT_STREQ(vm->nics[0].network, "VM Network");
	ASSERT_EQ(vm->nics[0].index, 0);
	ASSERT_STREQ(vm->nics[1].mac, "00:50:56:ab:cd:02");
	ASSERT_STREQ(vm->nics[1].model, "E1000");
	ASSERT_STREQ(vm->nics[1].network, "Backup");
	ASSERT_EQ(vm->nics[1].index, 1);

	ASSERT(vm->has_video);
	ASSERT_U64_EQ(vm->video_ram, 4096 * 1024);
	/* Only the section's own vmw:Config, not the NIC's. */
	ASSERT_EQ(vm->n_extra, 1);
	ASSERT_STREQ(vm->extra[0].key, "cpuHotAddEnabled");
	ASSERT_STREQ(vm->extra[0].value, "true");
	vm_package_free(p);
}

/* OVF 2.0 namespaces, StorageItem (sasd:) and EthernetPortItem (epasd:), a SATA disk, a
 * MAC written with dashes, and the DMTF example's misspelt epasd namespace URI. */
static const char ovf20[] =
	"<?xml version=\"1.0\"?>\n"
	"<Envelope xmlns=\"" NS_OVF2 "\" xmlns:ovf=\"" NS_OVF2 "\"\n"
	"    xmlns:rasd=\"" NS_CIM "CIM_ResourceAllocationSettingData\"\n"
	"    xmlns:vssd=\"" NS_CIM "CIM_VirtualSystemSettingData\"\n"
	"    xmlns:sasd=\"" NS_CIM "CIM_StorageAllocationSettingData\"\n"
	"    xmlns:epasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim2608 schema/2/"
	"CIM_EthernetPortAllocationSettingData\">\n"
	"  <References><File ovf:id=\"f1\" ovf:href=\"root.vmdk\" "
	"ovf:size=\"2000000000\"/></References>\n"
	"  <DiskSection><Info>d</Info>\n"
	"    <Disk ovf:diskId=\"d1\" ovf:fileRef=\"f1\" "
	"ovf:capacity=\"4294967296\"/></DiskSection>\n"
	"  <VirtualSystem ovf:id=\"srv\">\n"
	"    <Info>x</Info>\n"
	"    <Name>Server</Name>\n"
	"    <VirtualHardwareSection><Info>x</Info>\n"
	"      <System><vssd:InstanceID>0</vssd:InstanceID>\n"
	"        <vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>\n"
	"      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>\n"
	"        <rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>\n"
	"      <Item><rasd:AllocationUnits>byte*2^30</rasd:AllocationUnits>\n"
	"        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>\n"
	"        <rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>\n"
	"      <Item><rasd:Address>0</rasd:Address><rasd:InstanceID>5</rasd:InstanceID>\n"
	"        <rasd:ResourceSubType>AHCI</rasd:ResourceSubType>\n"
	"        <rasd:ResourceType>20</rasd:ResourceType></Item>\n"
	"      <StorageItem><sasd:AddressOnParent>2</sasd:AddressOnParent>\n"
	"        <sasd:HostResource>/disk/d1</sasd:HostResource>\n"
	"        <sasd:InstanceID>8</sasd:InstanceID><sasd:Parent>5</sasd:Parent>\n"
	"        <sasd:ResourceType>17</sasd:ResourceType></StorageItem>\n"
	"      <StorageItem><sasd:AllocationUnits>byte*2^30</sasd:AllocationUnits>\n"
	"        <sasd:InstanceID>9</sasd:InstanceID><sasd:ResourceType>31</sasd:ResourceType>\n"
	"        <sasd:VirtualQuantity>1</sasd:VirtualQuantity></StorageItem>\n"
	"      <EthernetPortItem><epasd:Address>00-16-8B-DB-00-5E</epasd:Address>\n"
	"        <epasd:Connection>VS Network</epasd:Connection>\n"
	"        <epasd:InstanceID>3</epasd:InstanceID>\n"
	"        <epasd:ResourceSubType>VmxNet3</epasd:ResourceSubType>\n"
	"        <epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>\n"
	"    </VirtualHardwareSection>\n"
	"  </VirtualSystem>\n"
	"</Envelope>\n";

TEST(ovf20_storage_and_ethernet_items)
{
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(ovf20, &p));
	ASSERT_EQ(p->n_vms, 1);
	vm = p->vms[0];
	ASSERT_STREQ(vm->name, "Server");
	ASSERT_STREQ(vm->hw_version, "vmx-19");
	ASSERT_EQ(vm->vcpus, 2);
	ASSERT_U64_EQ(vm->memory, 1ull << 30);
	ASSERT_EQ(vm->n_controllers, 1);
	ASSERT_EQ(vm->controllers[0].bus, VM_BUS_SATA);
	ASSERT_STREQ(vm->controllers[0].model, "AHCI");
	/* The ResourceType 31 StorageItem without HostResource is an allocation, no drive. */
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].disk_id, "d1");
	ASSERT_STREQ(vm->disks[0].file, "root.vmdk");
	ASSERT_U64_EQ(vm->disks[0].capacity, 4294967296ull);
	ASSERT_EQ(vm->disks[0].controller, 0);
	ASSERT_EQ(vm->disks[0].unit, 2);
	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_STREQ(vm->nics[0].mac, "00:16:8b:db:00:5e");
	ASSERT_STREQ(vm->nics[0].model, "VmxNet3");
	ASSERT_STREQ(vm->nics[0].network, "VS Network");
	vm_package_free(p);
}

/* One VirtualSystem with an ovf:id, a Name and a CPU count. */
#define VS(id, name, cpus)                                                                         \
	"<VirtualSystem ovf:id=\"" id "\"><Info>i</Info><Name>" name "</Name>"                     \
	"<VirtualHardwareSection><Info>h</Info><Item><rasd:InstanceID>1</rasd:InstanceID>"         \
	"<rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>" #cpus                     \
	"</rasd:VirtualQuantity></Item></VirtualHardwareSection></VirtualSystem>\n"

TEST(collection_nested_flattened)
{
	/* clang-format off */
	static const char text[] =
		"<Envelope" NS_DECL "><References/>\n"
		"<VirtualSystemCollection ovf:id=\"vapp\"><Info>outer</Info><Name>My vApp</Name>\n"
		VS("a", "Alpha", 1)
		"<VirtualSystemCollection ovf:id=\"inner\"><Info>inner</Info>\n"
		VS("b", "Beta", 2)
		"<VirtualSystemCollection ovf:id=\"deeper\"><Info>d</Info>"
		VS("c", "Gamma", 3)
		"</VirtualSystemCollection>\n"
		"</VirtualSystemCollection>\n"
		VS("d", "Delta", 4)
		"</VirtualSystemCollection></Envelope>\n";
	/* clang-format on */
	struct vm_package *p;

	ASSERT_OK(parse(text, &p));
	ASSERT_STREQ(p->name, "My vApp");
	ASSERT_EQ(p->n_vms, 4);
	ASSERT_STREQ(p->vms[0]->name, "Alpha");
	ASSERT_STREQ(p->vms[1]->name, "Beta");
	ASSERT_STREQ(p->vms[2]->name, "Gamma");
	ASSERT_STREQ(p->vms[3]->name, "Delta");
	ASSERT_EQ(p->vms[0]->vcpus, 1);
	ASSERT_EQ(p->vms[2]->vcpus, 3);
	ASSERT_STREQ(p->vms[3]->id, "d");
	vm_package_free(p);
}

TEST(collection_name_from_id)
{
	/* clang-format off */
	static const char text[] =
		"<Envelope" NS_DECL ">"
		"<VirtualSystemCollection ovf:id=\"vsc1\"><Info>c</Info>"
		VS("x", "X", 1)
		VS("y", "Y", 1)
		"</VirtualSystemCollection></Envelope>";
	/* clang-format on */
	struct vm_package *p;

	ASSERT_OK(parse(text, &p));
	ASSERT_STREQ(p->name, "vsc1");
	ASSERT_EQ(p->n_vms, 2);
	vm_package_free(p);
}

TEST(references_gzip_and_chunks)
{
	static const char text[] = ENVELOPE(
		"<File ovf:id=\"f1\" ovf:href=\"disk1.vmdk.gz\" ovf:size=\"123\" "
		"ovf:compression=\"gzip\"/>"
		"<File ovf:id=\"f2\" ovf:href=\"disk2.vmdk\" ovf:chunkSize=\"2147483648\"/>"
		"<File ovf:id=\"f3\" ovf:href=\"disk3.vmdk\" ovf:compression=\"identity\"/>"
		"<File ovf:id=\"f4\" ovf:href=\"sub dir/disk4.vmdk\" ovf:compression=\"\"/>",
		"", "");
	struct vm_package *p;

	ASSERT_OK(parse(text, &p));
	ASSERT_EQ(p->n_files, 4);
	ASSERT(p->files[0].gzip);
	ASSERT_U64_EQ(p->files[0].size, 123);
	ASSERT_U64_EQ(p->files[0].chunk_size, 0);
	ASSERT(!p->files[1].gzip);
	ASSERT_U64_EQ(p->files[1].chunk_size, 2147483648ull);
	ASSERT(!p->files[1].has_size);
	ASSERT(!p->files[2].gzip);
	ASSERT(!p->files[3].gzip);
	ASSERT_STREQ(p->files[3].href, "sub dir/disk4.vmdk");
	vm_package_free(p);
}

TEST(references_refused)
{
	ASSERT_PARSE_ERR(
		ENVELOPE("<File ovf:id=\"f1\" ovf:href=\"a.bz2\" ovf:compression=\"bzip2\"/>", "",
			 ""),
		-ENOTSUP, "guest.ovf: References/File f1: compression \"bzip2\" is not supported");
	ASSERT_PARSE_ERR(
		ENVELOPE("<File ovf:id=\"f1\" ovf:href=\"a\" ovf:chunkSize=\"0\"/>", "", ""),
		-EINVAL, "References/File f1: chunkSize \"0\" is not a positive number");
	ASSERT_PARSE_ERR(ENVELOPE("<File ovf:id=\"f1\" ovf:href=\"a\" ovf:size=\"-5\"/>", "", ""),
			 -EINVAL, "References/File f1: size \"-5\" is not a number");
	ASSERT_PARSE_ERR(ENVELOPE("<File ovf:id=\"f1\" ovf:href=\"a\" "
				  "ovf:size=\"18446744073709551616\"/>",
				  "", ""),
			 -EINVAL, "size \"18446744073709551616\" is not a number");
	ASSERT_PARSE_ERR(ENVELOPE("<File ovf:id=\"f1\" ovf:href=\"a\"/><File ovf:id=\"f1\" "
				  "ovf:href=\"b\"/>",
				  "", ""),
			 -EINVAL, "References/File f1: ovf:id is used twice");
	ASSERT_PARSE_ERR(ENVELOPE("<File ovf:id=\"f1\"/>", "", ""), -EINVAL,
			 "References/File f1: no ovf:href");
	ASSERT_PARSE_ERR(ENVELOPE("<File ovf:href=\"a\"/>", "", ""), -EINVAL,
			 "References/File 1: no ovf:id");
}

/* Capacity with every allocation-unit spelling seen in real files, and the refusals. */
TEST(capacity_units)
{
	static const struct {
		const char *cap, *units; /* units NULL: attribute absent */
		uint64_t bytes;
	} ok[] = {
		{ "107373568", NULL, 107373568 },
		{ "41943040", "byte", 41943040 },
		{ "8", "byte * 2^30", 8ull << 30 },
		{ "30", "byte * 2^20", 30ull << 20 },
		{ "3", "byte * 1024", 3072 },
		{ "10240", "byte*1024*1024", 10240ull << 20 },
		{ "2", "byte*2^40", 2ull << 40 },
		{ "5", "byte * 10^9", 5000000000ull },
		{ "4", "KiloBytes", 4096 },
		{ "512", "MegaBytes", 512ull << 20 },
		{ "2", "GigaBytes", 2ull << 30 },
		{ " 7 ", " byte  *  2^20 ", 7ull << 20 },
		{ "${disk_size}", "byte * 2^30", 0 },
		{ "0", "byte * 2^30", 0 },
		{ "16777215", "byte * 2^40", 16777215ull << 40 }, /* 2^64 - 2^40 */
	};
	static const struct {
		const char *cap, *units, *msg;
	} bad[] = {
		{ "abc", NULL,
		  "guest.ovf: DiskSection/Disk vmdisk1: capacity \"abc\" is not a number" },
		{ "-1", NULL, "capacity \"-1\" is not a number" },
		{ "+1", NULL, "capacity \"+1\" is not a number" },
		{ "1.5", "byte * 2^30", "capacity \"1.5\" is not a number" },
		{ "0x10", NULL, "capacity \"0x10\" is not a number" },
		{ "", NULL, "capacity \"\" is not a number" },
		{ "99999999999999999999", NULL, "is not a number" },
		{ "16777216", "byte * 2^44",
		  "DiskSection/Disk vmdisk1: capacity 16777216 * "
		  "17592186044416 bytes overflows" },
		{ "1", "byte * 2^64", "capacityAllocationUnits \"byte * 2^64\" overflows" },
		{ "1", "bit", "capacityAllocationUnits \"bit\" is not a byte unit" },
		{ "1", "byte / 8", "is not a byte unit" },
		{ "1", "byte * 2^", "is not a byte unit" },
		{ "1", "hertz * 10^6", "is not a byte unit" },
	};
	char text[2048], units[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct vm_package *p;

		if (ok[i].units)
			snprintf(units, sizeof(units), " ovf:capacityAllocationUnits=\"%s\"",
				 ok[i].units);
		else
			units[0] = '\0';
		snprintf(text, sizeof(text),
			 ENVELOPE(FILE1,
				  "<Disk ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" "
				  "ovf:capacity=\"%s\"%s/>",
				  SCSI0 "<Item>"
					"<rasd:InstanceID>4</rasd:InstanceID>"
					"<rasd:ResourceType>17</rasd:ResourceType>"
					"<rasd:Parent>3</rasd:Parent>"
					"<rasd:HostResource>ovf:/disk/"
					"vmdisk1</rasd:HostResource>"
					"</Item>"),
			 ok[i].cap, units);
		if (parse(text, &p) < 0)
			HARNESS_FAIL("capacity \"%s\" units \"%s\" refused", ok[i].cap,
				     ok[i].units ? ok[i].units : "(none)");
		ASSERT_EQ(p->vms[0]->n_disks, 1);
		if (p->vms[0]->disks[0].capacity != ok[i].bytes)
			HARNESS_FAIL("capacity \"%s\" units \"%s\": %" PRIu64 " != %" PRIu64,
				     ok[i].cap, ok[i].units ? ok[i].units : "(none)",
				     p->vms[0]->disks[0].capacity, ok[i].bytes);
		vm_package_free(p);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].units)
			snprintf(units, sizeof(units), " ovf:capacityAllocationUnits=\"%s\"",
				 bad[i].units);
		else
			units[0] = '\0';
		snprintf(text, sizeof(text),
			 ENVELOPE(FILE1,
				  "<Disk ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" "
				  "ovf:capacity=\"%s\"%s/>",
				  ""),
			 bad[i].cap, units);
		ASSERT_PARSE_ERR(text, -EINVAL, bad[i].msg);
	}
}

TEST(memory_units)
{
	static const struct {
		const char *quantity, *units;
		uint64_t bytes;
	} cases[] = {
		{ "32", NULL, 32ull << 20 }, /* no AllocationUnits: MiB */
		{ "512", "MegaBytes", 512ull << 20 },
		{ "4", "byte * 2^30", 4ull << 30 },
		{ "1024", "byte*1024*1024", 1024ull << 20 },
		{ "1", "GigaBytes", 1ull << 30 },
	};
	char text[2048], units[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_package *p;

		if (cases[i].units)
			snprintf(units, sizeof(units),
				 "<rasd:AllocationUnits>%s</rasd:AllocationUnits>", cases[i].units);
		else
			units[0] = '\0';
		snprintf(text, sizeof(text),
			 ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>2</rasd:InstanceID>"
				  "<rasd:ResourceType>4</rasd:ResourceType>"
				  "%s<rasd:VirtualQuantity>%s"
				  "</rasd:VirtualQuantity></Item>"),
			 units, cases[i].quantity);
		ASSERT_OK(parse(text, &p));
		ASSERT_U64_EQ(p->vms[0]->memory, cases[i].bytes);
		vm_package_free(p);
	}
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>2</rasd:InstanceID>"
				  "<rasd:ResourceType>4</rasd:ResourceType>"
				  "<rasd:VirtualQuantity>lots"
				  "</rasd:VirtualQuantity></Item>"),
			 -EINVAL,
			 "guest.ovf: VirtualSystem vm: Item 2: VirtualQuantity \"lots\" is "
			 "not a number");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>2</rasd:InstanceID>"
				  "<rasd:ResourceType>4</rasd:ResourceType>"
				  "<rasd:AllocationUnits>byte * 2^40"
				  "</rasd:AllocationUnits><rasd:VirtualQuantity>16777216"
				  "</rasd:VirtualQuantity></Item>"),
			 -EINVAL,
			 "Item 2: VirtualQuantity 16777216 * 1099511627776 bytes overflows");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>2</rasd:InstanceID>"
				  "<rasd:ResourceType>4</rasd:ResourceType>"
				  "<rasd:AllocationUnits>hertz * 10^6"
				  "</rasd:AllocationUnits><rasd:VirtualQuantity>1"
				  "</rasd:VirtualQuantity></Item>"),
			 -EINVAL, "Item 2: AllocationUnits \"hertz * 10^6\" is not a byte unit");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>1</rasd:InstanceID>"
				  "<rasd:ResourceType>3</rasd:ResourceType>"
				  "<rasd:VirtualQuantity>5000"
				  "</rasd:VirtualQuantity></Item>"),
			 -EINVAL, "Item 1: VirtualQuantity 5000 is over the limit of 4096");
}

/* clang-format off */
#define DEPLOY_ITEMS                                                                               \
	"<Item ovf:bound=\"max\"><rasd:InstanceID>1</rasd:InstanceID>"                             \
	"<rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity>"  \
	"</Item>"                                                                                  \
	"<Item ovf:configuration=\"small\"><rasd:InstanceID>2</rasd:InstanceID>"                   \
	"<rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity>"   \
	"</Item>"                                                                                  \
	"<Item ovf:configuration=\"large\"><rasd:InstanceID>3</rasd:InstanceID>"                   \
	"<rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>8</rasd:VirtualQuantity>"   \
	"</Item>"                                                                                  \
	"<Item ovf:configuration=\"small  large\"><rasd:InstanceID>4</rasd:InstanceID>"            \
	"<rasd:ResourceType>4</rasd:ResourceType>"                                                 \
	"<rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>"                                 \
	"<Item><rasd:InstanceID>5</rasd:InstanceID>"                                               \
	"<rasd:ResourceType>6</rasd:ResourceType></Item>"                                          \
	"<Item ovf:configuration=\"large\"><rasd:InstanceID>6</rasd:InstanceID>"                   \
	"<rasd:ResourceType>17</rasd:ResourceType><rasd:Parent>5</rasd:Parent>"                    \
	"<rasd:HostResource>ovf:/disk/big</rasd:HostResource></Item>"                              \
	"<Item ovf:configuration=\"small\"><rasd:InstanceID>7</rasd:InstanceID>"                   \
	"<rasd:ResourceType>10</rasd:ResourceType>"                                                \
	"<rasd:Connection>only-small</rasd:Connection></Item>"
/* clang-format on */

#define DEPLOY_DISKS                                                                               \
	"<Disk ovf:diskId=\"big\" ovf:capacity=\"100\" ovf:capacityAllocationUnits=\"byte * "      \
	"2^30\"/>"

#define DEPLOY(configs)                                                                            \
	"<Envelope" NS_DECL "><References/><DiskSection><Info>d</Info>" DEPLOY_DISKS               \
	"</DiskSection><DeploymentOptionSection><Info>c</Info>" configs                            \
	"</DeploymentOptionSection><VirtualSystem ovf:id=\"vm\"><Info>i</Info>"                    \
	"<VirtualHardwareSection><Info>h</Info>" DEPLOY_ITEMS                                      \
	"</VirtualHardwareSection></VirtualSystem></Envelope>"

TEST(deployment_options)
{
	static const char with_default[] = DEPLOY(
		"<Configuration ovf:id=\"small\"><Label>S</Label><Description>s</Description>"
		"</Configuration><Configuration ovf:id=\"large\" ovf:default=\"true\"><Label>L"
		"</Label><Description>l</Description></Configuration>");
	static const char first[] = DEPLOY(
		"<Configuration ovf:id=\"small\"><Label>S</Label><Description>s</Description>"
		"</Configuration><Configuration ovf:id=\"large\"><Label>L</Label>"
		"<Description>l</Description></Configuration>");
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(with_default, &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->vcpus, 8);
	ASSERT_U64_EQ(vm->memory, 1024ull << 20);
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].disk_id, "big");
	ASSERT(vm->disks[0].file == NULL); /* blank disk: no fileRef */
	ASSERT_U64_EQ(vm->disks[0].capacity, 100ull << 30);
	ASSERT_EQ(vm->n_nics, 0);
	vm_package_free(p);

	ASSERT_OK(parse(first, &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->vcpus, 2);
	ASSERT_U64_EQ(vm->memory, 1024ull << 20);
	ASSERT_EQ(vm->n_disks, 0);
	ASSERT_EQ(vm->n_nics, 1);
	ASSERT_STREQ(vm->nics[0].network, "only-small");
	vm_package_free(p);
}

TEST(deployment_hardware_sections)
{
#define HW(attr, cpus)                                                                             \
	"<VirtualHardwareSection" attr "><Info>h</Info><Item>"                                     \
	"<rasd:InstanceID>1</rasd:InstanceID>"                                                     \
	"<rasd:ResourceType>3</rasd:ResourceType>"                                                 \
	"<rasd:VirtualQuantity>" #cpus "</rasd:VirtualQuantity></Item></VirtualHardwareSection>"
#define DOC(configs, sections)                                                                     \
	"<Envelope" NS_DECL "><DeploymentOptionSection><Info>c</Info>" configs                     \
	"</DeploymentOptionSection><VirtualSystem ovf:id=\"vm\"><Info>i</Info>" sections           \
	"</VirtualSystem></Envelope>"
#define CONFIGS                                                                                    \
	"<Configuration ovf:id=\"a\"><Label>a</Label><Description>a</Description>"                 \
	"</Configuration><Configuration ovf:id=\"b\" ovf:default=\"true\"><Label>b</Label>"        \
	"<Description>b</Description></Configuration>"
	struct vm_package *p;

	/* One section without a configuration wins over configured ones. */
	ASSERT_OK(parse(DOC(CONFIGS, HW(" ovf:configuration=\"b\"", 2) HW("", 4)), &p));
	ASSERT_EQ(p->vms[0]->vcpus, 4);
	vm_package_free(p);
	/* All configured: the one for the default configuration. */
	ASSERT_OK(parse(
		DOC(CONFIGS, HW(" ovf:configuration=\"a\"", 2) HW(" ovf:configuration=\"b\"", 6)),
		&p));
	ASSERT_EQ(p->vms[0]->vcpus, 6);
	vm_package_free(p);
	/* A VMware-namespaced configuration attribute counts too. */
	ASSERT_OK(parse(
		DOC(CONFIGS, HW(" vmw:configuration=\"a\"", 2) HW(" vmw:configuration=\"b\"", 6)),
		&p));
	ASSERT_EQ(p->vms[0]->vcpus, 6);
	vm_package_free(p);
	/* Empty DeploymentOptionSection: every item applies, the first CPU item counts. */
	ASSERT_OK(parse(DOC("", HW("", 3)), &p));
	ASSERT_EQ(p->vms[0]->vcpus, 3);
	vm_package_free(p);
#undef HW
#undef DOC
#undef CONFIGS
}

TEST(vmw_config_firmware_uuid_extra)
{
	static const char text[] = ENVELOPE(
		"", "",
		"<vmw:Config ovf:required=\"false\" vmw:key=\"firmware\" vmw:value=\"efi\"/>"
		"<vmw:Config ovf:required=\"false\" vmw:key=\"bootOptions.efiSecureBootEnabled\" "
		"vmw:value=\"true\"/>"
		"<vmw:Config ovf:required=\"false\" vmw:key=\"uuid\" "
		"vmw:value=\"422C5082-D330-CC0E-C38C-A86CD7C15879\"/>"
		"<vmw:ExtraConfig ovf:required=\"false\" vmw:key=\"tools.syncTimeWithHost\" "
		"vmw:value=\"true\"/>"
		"<vmw:ExtraConfig vmw:key=\"empty.value\"/>"
		"<vmw:ExtraConfig vmw:value=\"no key: skipped\"/>");
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(text, &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->firmware, VM_FW_EFI);
	ASSERT(vm->secure_boot);
	ASSERT_STREQ(vm->uuid, "422c5082-d330-cc0e-c38c-a86cd7c15879");
	ASSERT_EQ(vm->n_extra, 5);
	ASSERT_STREQ(vm->extra[0].key, "firmware");
	ASSERT_STREQ(vm->extra[0].value, "efi");
	ASSERT_STREQ(vm->extra[3].key, "tools.syncTimeWithHost");
	ASSERT_STREQ(vm->extra[3].value, "true");
	ASSERT_STREQ(vm->extra[4].key, "empty.value");
	ASSERT_STREQ(vm->extra[4].value, "");
	vm_package_free(p);

	/* ExtraConfig uefi.secureBoot.enabled, BIOS, a VMX-style uuid, a bad uuid ignored. */
	ASSERT_OK(
		parse(ENVELOPE("", "",
			       "<vmw:Config vmw:key=\"firmware\" vmw:value=\"bios\"/>"
			       "<vmw:ExtraConfig vmw:key=\"uuid.bios\" vmw:value=\"56 4d 9e 2a 11 "
			       "22 33 44-55 66 77 88 99 aa bb cc\"/>"
			       "<vmw:ExtraConfig vmw:key=\"uefi.secureBoot.enabled\" "
			       "vmw:value=\"FALSE\"/>"),
		      &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->firmware, VM_FW_BIOS);
	ASSERT(!vm->secure_boot);
	ASSERT_STREQ(vm->uuid, "564d9e2a-1122-3344-5566-778899aabbcc");
	vm_package_free(p);

	ASSERT_OK(parse(ENVELOPE("", "",
				 "<vmw:Config vmw:key=\"uuid\" vmw:value=\"not-a-uuid\"/>"
				 "<vmw:Config vmw:key=\"firmware\" vmw:value=\"csm\"/>"),
			&p));
	ASSERT(p->vms[0]->uuid == NULL);
	ASSERT_EQ(p->vms[0]->firmware, VM_FW_UNKNOWN);
	vm_package_free(p);
}

static const char vbox_doc[] =
	"<?xml version=\"1.0\"?>\n"
	"<Envelope ovf:version=\"2.0\" xml:lang=\"en-US\" xmlns=\"" NS_OVF2
	"\" xmlns:ovf=\"" NS_OVF2 "\"\n"
	"  xmlns:rasd=\"" NS_CIM "CIM_ResourceAllocationSettingData\"\n"
	"  xmlns:vssd=\"" NS_CIM "CIM_VirtualSystemSettingData\"\n"
	"  xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\">\n"
	"<VirtualSystem ovf:id=\"efi-vm\"><Info>x</Info>\n"
	"  <OperatingSystemSection "
	"ovf:id=\"94\"><Info>x</Info><Description>Ubuntu_64</Description>\n"
	"    <vbox:OSType ovf:required=\"false\">Ubuntu_64</vbox:OSType></OperatingSystemSection>\n"
	"  <VirtualHardwareSection><Info>x</Info><System><vssd:InstanceID>0</vssd:InstanceID>\n"
	"    <vssd:VirtualSystemIdentifier>efi-vm-ident</vssd:VirtualSystemIdentifier>\n"
	"    <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>\n"
	"  </VirtualHardwareSection>\n"
	"  <vbox:Machine ovf:required=\"false\" version=\"1.12-linux\" "
	"uuid=\"{40A22499-F787-4D19-A8D7-238ECA2AAE88}\" name=\"efi-vm\">\n"
	"    <ovf:Info>Complete VirtualBox machine configuration</ovf:Info>\n"
	"    <Hardware><CPU count=\"1\"/><Firmware type=\"EFI\"/><Memory "
	"RAMSize=\"512\"/></Hardware>\n"
	"  </vbox:Machine>\n"
	"</VirtualSystem></Envelope>\n";

TEST(virtualbox_machine)
{
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(vbox_doc, &p));
	vm = p->vms[0];
	ASSERT_STREQ(vm->uuid, "40a22499-f787-4d19-a8d7-238eca2aae88");
	ASSERT_EQ(vm->firmware, VM_FW_EFI);
	/* No Name: VirtualSystemIdentifier comes before ovf:id. */
	ASSERT_STREQ(vm->name, "efi-vm-ident");
	ASSERT_STREQ(vm->os_cim_id, "94");
	ASSERT(vm->os_type == NULL); /* vbox:OSType is not VMware's guest id */
	ASSERT_STREQ(vm->os_desc, "Ubuntu_64");
	ASSERT_STREQ(vm->hw_version, "virtualbox-2.2");
	vm_package_free(p);
}

TEST(name_fallbacks)
{
	struct vm_package *p;

	ASSERT_OK(parse("<Envelope" NS_DECL "><VirtualSystem ovf:id=\"only-id\"><Info>i</Info>"
			"</VirtualSystem></Envelope>",
			&p));
	ASSERT_STREQ(p->vms[0]->name, "only-id");
	ASSERT_STREQ(p->vms[0]->id, "only-id");
	vm_package_free(p);
	ASSERT_OK(parse("<Envelope" NS_DECL "><VirtualSystem><Name>  </Name></VirtualSystem>"
			"<VirtualSystem/></Envelope>",
			&p));
	ASSERT_EQ(p->n_vms, 2);
	ASSERT_STREQ(p->vms[0]->name, "vm1");
	ASSERT_STREQ(p->vms[1]->name, "vm2");
	vm_package_free(p);
}

/* OVF 0.9: <Section xsi:type="ovf:..._Type">, <Content>, InstanceId, BusNumber. */
TEST(ovf09_sections)
{
	static const char text[] =
		"<ovf:Envelope xmlns:ovf=\"http://www.vmware.com/schema/ovf/1/envelope\" "
		"xmlns:rasd=\"" NS_CIM "CIM_ResourceAllocationSettingData\" "
		"xmlns:vssd=\"" NS_CIM "CIM_VirtualSystemSettingData\" "
		"xmlns:vmw=\"http://www.vmware.com/schema/ovf\" "
		"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ovf:version=\"0.9\">"
		"<ovf:References><ovf:File ovf:href=\"input.vmdk\" "
		"ovf:id=\"file1\"/></ovf:References>"
		"<ovf:Section xsi:type=\"ovf:DiskSection_Type\"><ovf:Info>d</ovf:Info>"
		"<ovf:Disk ovf:capacity=\"1073741824\" ovf:diskId=\"vmdisk1\" "
		"ovf:fileRef=\"file1\"/>"
		"</ovf:Section>"
		"<ovf:Content ovf:id=\"old\" "
		"xsi:type=\"ovf:VirtualSystem_Type\"><ovf:Info>v</ovf:Info>"
		"<ovf:Section ovf:id=\"107\" vmw:osType=\"other26xLinux64Guest\" "
		"xsi:type=\"ovf:OperatingSystemSection_Type\"><ovf:Info>o</ovf:Info></ovf:Section>"
		"<ovf:Section xsi:type=\"ovf:VirtualHardwareSection_Type\"><ovf:Info>h</ovf:Info>"
		"<ovf:System><vssd:VirtualSystemIdentifier>foo</vssd:VirtualSystemIdentifier>"
		"<vssd:VirtualSystemType>vmx-04</vssd:VirtualSystemType></ovf:System>"
		"<ovf:Item><rasd:InstanceId>4</rasd:InstanceId><rasd:ResourceType>6</"
		"rasd:ResourceType>"
		"<rasd:BusNumber>2</rasd:BusNumber></ovf:Item>"
		"<ovf:Item><rasd:InstanceId>7</rasd:InstanceId><rasd:ResourceType>17</"
		"rasd:ResourceType>"
		"<rasd:HostResource>/disk/vmdisk1</rasd:HostResource><rasd:Parent>4</rasd:Parent>"
		"<rasd:AddressOnParent>3</rasd:AddressOnParent></ovf:Item>"
		"</ovf:Section></ovf:Content></ovf:Envelope>";
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(text, &p));
	ASSERT_EQ(p->n_vms, 1);
	vm = p->vms[0];
	ASSERT_STREQ(vm->name, "foo");
	ASSERT_STREQ(vm->os_type, "other26xLinux64Guest");
	ASSERT_STREQ(vm->hw_version, "vmx-04");
	ASSERT_EQ(vm->n_controllers, 1);
	ASSERT_EQ(vm->controllers[0].index, 2);
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT_STREQ(vm->disks[0].file, "input.vmdk");
	ASSERT_U64_EQ(vm->disks[0].capacity, 1073741824);
	ASSERT_EQ(vm->disks[0].controller, 0);
	ASSERT_EQ(vm->disks[0].unit, 3);
	vm_package_free(p);
}

/* No namespaces at all, odd prefixes, an unknown envelope version: local names decide;
 * but an element of another known vocabulary is not taken for an OVF one. */
TEST(namespaces_tolerant)
{
	static const char bare[] =
		"<Envelope><References><File id=\"f\" href=\"a.vmdk\"/></References>"
		"<DiskSection><Disk diskId=\"d\" fileRef=\"f\" capacity=\"1\" "
		"capacityAllocationUnits=\"byte * 2^20\"/></DiskSection>"
		"<VirtualSystem id=\"v\"><Name>bare</Name><VirtualHardwareSection>"
		"<Item><InstanceID>1</InstanceID><ResourceType>5</ResourceType></Item>"
		"<Item><InstanceID>2</InstanceID><ResourceType>17</ResourceType><Parent>1</Parent>"
		"<HostResource>ovf:/disk/d</HostResource></Item>"
		"<Config key=\"firmware\" value=\"efi\"/>"
		"</VirtualHardwareSection></VirtualSystem></Envelope>";
	static const char odd[] =
		"<e:Envelope xmlns:e=\"http://schemas.dmtf.org/ovf/envelope/3\" "
		"xmlns:r=\"" NS_CIM "CIM_ResourceAllocationSettingData.xsd\" "
		"xmlns:vc=\"http://www.vmware.com/vcloud/v1.5\">"
		"<e:VirtualSystem e:id=\"v\"><vc:Name>not this</vc:Name><e:Name>odd</e:Name>"
		"<e:VirtualHardwareSection><e:Item><r:InstanceID>1</r:InstanceID>"
		"<r:ResourceType>3</r:ResourceType><r:VirtualQuantity>3</r:VirtualQuantity></"
		"e:Item>"
		"</e:VirtualHardwareSection></e:VirtualSystem></e:Envelope>";
	struct vm_package *p;

	ASSERT_OK(parse(bare, &p));
	ASSERT_STREQ(p->vms[0]->name, "bare");
	ASSERT_EQ(p->vms[0]->n_disks, 1);
	ASSERT_STREQ(p->vms[0]->disks[0].file, "a.vmdk");
	ASSERT_U64_EQ(p->vms[0]->disks[0].capacity, 1 << 20);
	ASSERT_EQ(p->vms[0]->firmware, VM_FW_EFI);
	vm_package_free(p);
	ASSERT_OK(parse(odd, &p));
	ASSERT_STREQ(p->vms[0]->name, "odd");
	ASSERT_EQ(p->vms[0]->vcpus, 3);
	vm_package_free(p);
}

/* Prefixes used but never declared: a namespace error, not a fatal one, to XML; the
 * elements and attributes still mean what their local names say. */
TEST(undeclared_prefixes)
{
	static const char text[] =
		"<Envelope xmlns=\"" NS_OVF1
		"\"><References><File ovf:id=\"f\" ovf:href=\"a.vmdk\" "
		"ovf:compression=\"gzip\"/></References>"
		"<VirtualSystem ovf:id=\"v\"><VirtualHardwareSection>"
		"<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>"
		"<rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>"
		"<vmw:Config vmw:key=\"firmware\" vmw:value=\"efi\"/>"
		"</VirtualHardwareSection></VirtualSystem></Envelope>";
	struct vm_package *p;
	char *out;
	int r;

	capture_begin();
	r = parse(text, &p);
	out = capture_end();
	ASSERT_OK(r);
	ASSERT_STREQ(out, "");
	free(out);
	ASSERT_STREQ(p->files[0].id, "f");
	ASSERT(p->files[0].gzip);
	ASSERT_STREQ(p->vms[0]->name, "v");
	ASSERT_EQ(p->vms[0]->vcpus, 2);
	ASSERT_EQ(p->vms[0]->firmware, VM_FW_EFI);
	vm_package_free(p);
}

TEST(controllers_and_devices)
{
	static const char text[] =
		ENVELOPE(FILE1, DISK1 "<Disk ovf:diskId=\"nv\" ovf:capacity=\"1\"/>",
			 "<Item>"
			 "<rasd:InstanceID>1</rasd:InstanceID>"
			 "<rasd:ResourceType>6</rasd:ResourceType>"
			 "<rasd:ResourceSubType>VirtualSCSI</"
			 "rasd:ResourceSubType></Item>"
			 "<Item>"
			 "<rasd:InstanceID>2</rasd:InstanceID>"
			 "<rasd:ResourceType>6</rasd:ResourceType>"
			 "<rasd:"
			 "ResourceSubType"
			 ">buslogic</"
			 "rasd:"
			 "ResourceSubType"
			 "></Item>"
			 "<Item>"
			 "<rasd:InstanceID>3</rasd:InstanceID>"
			 "<rasd:ResourceType>20</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.nvme.controller"
			 "</rasd:ResourceSubType><rasd:Address>0</rasd:Address></Item>"
			 "<Item>"
			 "<rasd:InstanceID>4</rasd:InstanceID>"
			 "<rasd:ResourceType>20</rasd:ResourceType>"
			 "<rasd:ResourceSubType>NVMe</rasd:ResourceSubType></Item>"
			 "<Item>"
			 "<rasd:InstanceID>5</rasd:InstanceID>"
			 "<rasd:ResourceType>20</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType>"
			 "</Item>"
			 "<Item>"
			 "<rasd:InstanceID>6</rasd:InstanceID>"
			 "<rasd:ResourceType>20</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.nvdimm.controller"
			 "</rasd:ResourceSubType></Item>"
			 "<Item>"
			 "<rasd:InstanceID>7</rasd:InstanceID>"
			 "<rasd:ResourceType>20</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.nvdimm.device"
			 "</rasd:ResourceSubType><rasd:Parent>6</rasd:Parent>"
			 "<rasd:HostResource>ovf:/disk/nv</rasd:HostResource></Item>"
			 "<Item>"
			 "<rasd:InstanceID>8</rasd:InstanceID>"
			 "<rasd:ResourceType>23</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.usb.xhci</rasd:ResourceSubType>"
			 "</Item>"
			 "<Item>"
			 "<rasd:InstanceID>9</rasd:InstanceID>"
			 "<rasd:ResourceType>17</rasd:ResourceType>"
			 "<rasd:Parent>4</rasd:Parent>"
			 "<rasd:AddressOnParent>0</rasd:AddressOnParent>"
			 "<rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource></Item>"
			 "<Item>"
			 "<rasd:InstanceID>10</rasd:InstanceID>"
			 "<rasd:ResourceType>14</rasd:ResourceType>"
			 "</Item>"
			 "<Item>"
			 "<rasd:InstanceID>11</rasd:InstanceID>"
			 "<rasd:ResourceType>16</rasd:ResourceType>"
			 "<rasd:Parent>5</rasd:Parent>"
			 "<rasd:AddressOnParent>1</rasd:AddressOnParent></Item>"
			 "<Item>"
			 "<rasd:InstanceID>12</rasd:InstanceID>"
			 "<rasd:ResourceType>21</rasd:ResourceType>"
			 "</Item><Item>"
			 "<rasd:InstanceID>13</rasd:InstanceID>"
			 "<rasd:ResourceType>21</rasd:ResourceType>"
			 "</Item>"
			 "<Item>"
			 "<rasd:InstanceID>14</rasd:InstanceID>"
			 "<rasd:ResourceType>1</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.soundcard.hdaudio"
			 "</rasd:ResourceSubType></Item>"
			 "<Item>"
			 "<rasd:InstanceID>15</rasd:InstanceID>"
			 "<rasd:ResourceType>1</rasd:ResourceType>"
			 "<rasd:ResourceSubType>vmware.vmci</rasd:ResourceSubType></Item>"
			 "<Item>"
			 "<rasd:InstanceID>16</rasd:InstanceID>"
			 "<rasd:ResourceType>17</rasd:ResourceType>"
			 "<rasd:Parent>1</rasd:Parent>"
			 "<rasd:AllocationUnits>byte*1024*1024</rasd:AllocationUnits>"
			 "<rasd:VirtualQuantity>10240</rasd:VirtualQuantity></Item>"
			 "<Item><rasd:ElementName>no type</rasd:ElementName></Item>");
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(text, &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->n_controllers, 6);
	ASSERT_EQ(vm->controllers[0].bus, VM_BUS_SCSI);
	ASSERT_EQ(vm->controllers[0].index, 0);
	ASSERT_EQ(vm->controllers[1].bus, VM_BUS_SCSI);
	ASSERT_EQ(vm->controllers[1].index, 1); /* no Address: its order among SCSI */
	ASSERT_STREQ(vm->controllers[1].model, "buslogic");
	ASSERT_EQ(vm->controllers[2].bus, VM_BUS_NVME);
	ASSERT_EQ(vm->controllers[3].bus, VM_BUS_NVME);
	ASSERT_EQ(vm->controllers[3].index, 1);
	ASSERT_EQ(vm->controllers[4].bus, VM_BUS_SATA);
	ASSERT_EQ(vm->controllers[5].bus, VM_BUS_USB);
	ASSERT_STREQ(vm->controllers[5].model, "vmware.usb.xhci");
	/* The NVDIMM is no disk; the blank 10 GiB disk has no file. */
	ASSERT_EQ(vm->n_disks, 2);
	ASSERT_EQ(vm->disks[0].controller, 3);
	ASSERT_EQ(vm->controllers[vm->disks[0].controller].bus, VM_BUS_NVME);
	ASSERT_EQ(vm->disks[0].unit, 0);
	ASSERT(vm->disks[1].disk_id == NULL && vm->disks[1].file == NULL);
	ASSERT(vm->disks[1].file_ref == NULL);
	ASSERT_U64_EQ(vm->disks[1].capacity, 10240ull << 20);
	ASSERT_EQ(vm->disks[1].controller, 0);
	ASSERT_EQ(vm->disks[1].unit, -1);
	ASSERT_EQ(vm->n_cdroms, 2);
	ASSERT(vm->cdroms[0].floppy);
	ASSERT_EQ(vm->cdroms[0].controller, -1);
	ASSERT(!vm->cdroms[1].floppy);
	ASSERT_EQ(vm->controllers[vm->cdroms[1].controller].bus, VM_BUS_SATA);
	ASSERT_EQ(vm->cdroms[1].unit, 1);
	ASSERT(vm->cdroms[1].file == NULL);
	ASSERT_EQ(vm->n_serial, 2);
	ASSERT(vm->has_sound);
	ASSERT(!vm->has_video);
	vm_package_free(p);
}

/* HostResource may name a File directly ("ovf:/file/id"), and a CD may name a Disk. */
TEST(host_resource_forms)
{
	static const char text[] =
		ENVELOPE("<File ovf:id=\"img\" ovf:href=\"raw.vmdk\"/>"
			 "<File ovf:id=\"iso\" ovf:href=\"boot.iso\"/>",
			 "<Disk ovf:diskId=\"isodisk\" ovf:fileRef=\"iso\"/>",
			 "<Item><rasd:InstanceID>1</rasd:InstanceID>"
			 "<rasd:ResourceType>17</rasd:ResourceType>"
			 "<rasd:HostResource>ovf:/file/img</rasd:HostResource></Item>"
			 "<Item><rasd:InstanceID>2</rasd:InstanceID>"
			 "<rasd:ResourceType>16</rasd:ResourceType>"
			 "<rasd:HostResource>/disk/isodisk</rasd:HostResource></Item>"
			 "<Item><rasd:InstanceID>3</rasd:InstanceID>"
			 "<rasd:ResourceType>15</rasd:ResourceType>"
			 "<rasd:HostResource>/dev/cdrom</rasd:HostResource></Item>");
	struct vm_package *p;
	struct vm *vm;

	ASSERT_OK(parse(text, &p));
	vm = p->vms[0];
	ASSERT_EQ(vm->n_disks, 1);
	ASSERT(vm->disks[0].disk_id == NULL);
	ASSERT_STREQ(vm->disks[0].file, "raw.vmdk");
	ASSERT_STREQ(vm->disks[0].file_ref, "img");
	ASSERT_U64_EQ(vm->disks[0].capacity, 0);
	ASSERT_EQ(vm->n_cdroms, 2);
	ASSERT_STREQ(vm->cdroms[0].file, "boot.iso");
	ASSERT_STREQ(vm->cdroms[0].file_ref, "iso");
	ASSERT(vm->cdroms[1].file == NULL);
	vm_package_free(p);
}

TEST(references_between_sections_refused)
{
	ASSERT_PARSE_ERR(
		ENVELOPE(FILE1, "<Disk ovf:diskId=\"flash2\" ovf:fileRef=\"flash2\"/>", ""),
		-EINVAL,
		"guest.ovf: DiskSection/Disk flash2: fileRef \"flash2\" names no File in "
		"References");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, DISK1,
				  SCSI0 "<Item>"
					"<rasd:InstanceID>4</rasd:InstanceID>"
					"<rasd:ResourceType>17</rasd:ResourceType>"
					"<rasd:HostResource>ovf:/disk/vmdisk9"
					"</rasd:HostResource></Item>"),
			 -EINVAL,
			 "guest.ovf: VirtualSystem vm: Item 4: HostResource \"ovf:/disk/vmdisk9\" "
			 "names no Disk in DiskSection");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, DISK1,
				  "<Item>"
				  "<rasd:InstanceID>4</rasd:InstanceID>"
				  "<rasd:ResourceType>17</rasd:ResourceType>"
				  "<rasd:HostResource>nonexistent.vmdk"
				  "</rasd:HostResource></Item>"),
			 -EINVAL, "Item 4: HostResource \"nonexistent.vmdk\" names no Disk");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, DISK1,
				  "<Item>"
				  "<rasd:InstanceID>4</rasd:InstanceID>"
				  "<rasd:ResourceType>15</rasd:ResourceType>"
				  "<rasd:HostResource>ovf:/file/nope</rasd:HostResource>"
				  "</Item>"),
			 -EINVAL,
			 "Item 4: HostResource \"ovf:/file/nope\" names no File in References");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, DISK1,
				  "<Item>"
				  "<rasd:InstanceID>4</rasd:InstanceID>"
				  "<rasd:ResourceType>17</rasd:ResourceType>"
				  "<rasd:Parent>27</rasd:Parent>"
				  "<rasd:HostResource>ovf:/disk/vmdisk1"
				  "</rasd:HostResource></Item>"),
			 -EINVAL, "Item 4: Parent \"27\" names no controller Item");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, DISK1 "<Disk ovf:diskId=\"vmdisk1\"/>", ""), -EINVAL,
			 "DiskSection/Disk vmdisk1: diskId is used twice");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, "<Disk ovf:capacity=\"1\"/>", ""), -EINVAL,
			 "DiskSection/Disk 1: no ovf:diskId");
	ASSERT_PARSE_ERR(ENVELOPE(FILE1, "<Disk ovf:diskId=\"d\" ovf:populatedSize=\"x\"/>", ""),
			 -EINVAL, "DiskSection/Disk d: populatedSize \"x\" is not a number");
}

TEST(item_fields_refused)
{
	ASSERT_PARSE_ERR(
		ENVELOPE("", "",
			 "<Item>"
			 "<rasd:InstanceID>8</rasd:InstanceID>"
			 "<rasd:ResourceType>10</rasd:ResourceType>"
			 "<rasd:Address>00:50:56:zz:00:01"
			 "</rasd:Address></Item>"),
		-EINVAL,
		"guest.ovf: VirtualSystem vm: Item 8: Address \"00:50:56:zz:00:01\" is not "
		"a MAC address");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>8</rasd:InstanceID>"
				  "<rasd:ResourceType>10</rasd:ResourceType>"
				  "<rasd:Address>0050.56ab.0001"
				  "</rasd:Address></Item>"),
			 -EINVAL, "is not a MAC address");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>8</rasd:InstanceID>"
				  "<rasd:ResourceType>ten</rasd:ResourceType>"
				  "</Item>"),
			 -EINVAL, "Item 8: ResourceType \"ten\" is not a number");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  SCSI0 "<Item>"
					"<rasd:InstanceID>9</rasd:InstanceID>"
					"<rasd:ResourceType>15</rasd:ResourceType>"
					"<rasd:Parent>3</rasd:Parent>"
					"<rasd:AddressOnParent>-1</rasd:AddressOnParent></Item>"),
			 -EINVAL, "Item 9: AddressOnParent \"-1\" is not a number");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  SCSI0
				  "<Item>"
				  "<rasd:InstanceID>9</rasd:InstanceID>"
				  "<rasd:ResourceType>15</rasd:ResourceType>"
				  "<rasd:Parent>3</rasd:Parent>"
				  "<rasd:AddressOnParent>70000</rasd:AddressOnParent></Item>"),
			 -EINVAL, "Item 9: AddressOnParent 70000 is over the limit of 65535");
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>3</rasd:InstanceID>"
				  "<rasd:ResourceType>6</rasd:ResourceType>"
				  "<rasd:Address>zero</rasd:Address>"
				  "</Item>"),
			 -EINVAL, "Item 3: Address \"zero\" is not a number");
	/* An item without InstanceID is named by its position. */
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:ResourceType>3</rasd:ResourceType>"
				  "</Item><Item>"
				  "<rasd:ResourceType>3</rasd:ResourceType>"
				  "<rasd:VirtualQuantity>x</rasd:VirtualQuantity></Item>"),
			 -EINVAL, "Item #2: VirtualQuantity \"x\" is not a number");
	/* A hostile value is quoted short and on one line. */
	ASSERT_PARSE_ERR(ENVELOPE("", "",
				  "<Item>"
				  "<rasd:InstanceID>8</rasd:InstanceID>"
				  "<rasd:ResourceType>10</rasd:ResourceType>"
				  "<rasd:Address>aaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
				  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
				  "</rasd:Address></Item>"),
			 -EINVAL, "aaaaaaaaaaaaaaaaaaaa...\" is not a MAC address");
}

/* Documents with more Files, Items or systems than the caps. */
TEST(counts_bounded)
{
	struct sb b = { 0 };
	unsigned i;

	sb_add(&b, "<Envelope" NS_DECL "><References>");
	for (i = 0; i <= OVF_MAX_FILES; i++)
		sb_add(&b, "<File ovf:id=\"f%u\" ovf:href=\"f%u.vmdk\"/>", i, i);
	sb_add(&b, "</References></Envelope>");
	ASSERT_PARSE_ERR(b.s, -EFBIG, "References has 4097 File elements, over the cap of 4096");
	b.len = 0;

	sb_add(&b, "<Envelope" NS_DECL "><VirtualSystem ovf:id=\"big\"><VirtualHardwareSection>");
	for (i = 0; i <= OVF_MAX_ITEMS; i++)
		sb_add(&b,
		       "<Item><rasd:InstanceID>%u</rasd:InstanceID>"
		       "<rasd:ResourceType>10</rasd:ResourceType>"
		       "</Item>",
		       i);
	sb_add(&b, "</VirtualHardwareSection></VirtualSystem></Envelope>");
	ASSERT_PARSE_ERR(b.s, -EFBIG,
			 "VirtualSystem big: VirtualHardwareSection has 1025 Items, over the cap "
			 "of 1024");
	b.len = 0;

	sb_add(&b, "<Envelope" NS_DECL "><VirtualSystem ovf:id=\"big\"><VirtualHardwareSection>");
	for (i = 0; i <= OVF_MAX_EXTRA; i++)
		sb_add(&b, "<vmw:ExtraConfig vmw:key=\"k%u\" vmw:value=\"v\"/>", i);
	sb_add(&b, "</VirtualHardwareSection></VirtualSystem></Envelope>");
	ASSERT_PARSE_ERR(b.s, -EFBIG, "over the cap of 4096");
	b.len = 0;

	sb_add(&b, "<Envelope" NS_DECL "><VirtualSystemCollection ovf:id=\"c\">");
	for (i = 0; i <= OVF_MAX_VMS; i++)
		sb_add(&b, "<VirtualSystem ovf:id=\"v%u\"/>", i);
	sb_add(&b, "</VirtualSystemCollection></Envelope>");
	ASSERT_PARSE_ERR(b.s, -EFBIG, "more than 256 VirtualSystems");
	b.len = 0;

	/* Exactly at the caps is fine. */
	sb_add(&b, "<Envelope" NS_DECL "><VirtualSystem ovf:id=\"ok\"><VirtualHardwareSection>");
	for (i = 0; i < OVF_MAX_ITEMS; i++)
		sb_add(&b,
		       "<Item><rasd:InstanceID>%u</rasd:InstanceID>"
		       "<rasd:ResourceType>10</rasd:ResourceType>"
		       "</Item>",
		       i);
	sb_add(&b, "</VirtualHardwareSection></VirtualSystem></Envelope>");
	{
		struct vm_package *p;

		ASSERT_OK(parse(b.s, &p));
		ASSERT_EQ(p->vms[0]->n_nics, OVF_MAX_ITEMS);
		vm_package_free(p);
	}
	free(b.s);
}

TEST(empty_envelope)
{
	struct vm_package *p;

	ASSERT_OK(parse("<Envelope xmlns=\"" NS_OVF1 "\"/>", &p));
	ASSERT_EQ(p->n_vms, 0);
	ASSERT_EQ(p->n_files, 0);
	vm_package_free(p);
}

/* ------------------------------------------------------------------------------------ */
/* Hostile documents */

static const char billion_laughs[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE Envelope [\n"
	" <!ENTITY lol \"lol\">\n"
	" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	"]>\n"
	"<Envelope xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1 "\">\n"
	"<VirtualSystem ovf:id=\"&lol9;\"><Name>&lol9;</Name></VirtualSystem></Envelope>\n";

TEST(billion_laughs_refused_fast)
{
	struct vm_package *p = NULL;
	double t0 = now(), dt;
	char *out;
	int r;

	capture_begin();
	err_clear(E);
	r = parse(billion_laughs, &p);
	out = capture_end();
	dt = now() - t0;
	ASSERT_EQ(r, -EINVAL);
	ASSERT(p == NULL);
	ASSERT(strstr(harness_err.msg, "guest.ovf: OVF descriptor declares XML entity \"lol\""));
	ASSERT_STREQ(out, "");
	free(out);
	/* A hang guard, not a speed goal: expanding the entities would take minutes. */
	if (dt > HANG_SECONDS)
		HARNESS_FAIL("billion laughs took %.3f s", dt);
}

/* Whether s holds a whole line of /etc/passwd. */
static bool has_passwd_line(const char *s)
{
	char *text, *line, *save;
	size_t len;
	bool found = false;

	if (!s || !testdata_read("/etc/passwd", &text, &len))
		return false;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (*line && strstr(s, line))
			found = true;
	free(text);
	return found || strstr(s, "root:x:0:0") || strstr(s, ":/bin/");
}

TEST(external_entity_refused)
{
	static const char *const docs[] = {
		/* in element text */
		"<?xml version=\"1.0\"?>\n<!DOCTYPE Envelope [<!ENTITY ext SYSTEM "
		"\"file:///etc/passwd\">]>\n<Envelope xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1
		"\"><VirtualSystem ovf:id=\"v\"><Name>&ext;</Name></VirtualSystem></Envelope>",
		/* in an attribute */
		"<!DOCTYPE Envelope [<!ENTITY ext SYSTEM \"file:///etc/passwd\">]>"
		"<Envelope xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1
		"\"><References><File ovf:id=\"f\" ovf:href=\"&ext;\"/></References></Envelope>",
		/* a parameter entity pulling the file into the DTD */
		"<!DOCTYPE Envelope [<!ENTITY % ext SYSTEM \"file:///etc/passwd\"> %ext;]>"
		"<Envelope xmlns=\"" NS_OVF1 "\"/>",
		/* unparsed entity */
		"<!DOCTYPE Envelope [<!NOTATION n SYSTEM \"x\"><!ENTITY ext SYSTEM "
		"\"file:///etc/passwd\" NDATA n>]><Envelope xmlns=\"" NS_OVF1 "\"/>",
		/* over the network */
		"<!DOCTYPE Envelope [<!ENTITY ext SYSTEM \"http://127.0.0.1:9/x\">]>"
		"<Envelope xmlns=\"" NS_OVF1 "\"><VirtualSystem><Name>&ext;</Name>"
		"</VirtualSystem></Envelope>",
	};
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct vm_package *p = NULL;
		char *out;
		int r;

		capture_begin();
		err_clear(E);
		r = parse(docs[i], &p);
		out = capture_end();
		if (r != -EINVAL || p)
			HARNESS_FAIL("document %zu: returned %d", i, r);
		if (!strstr(harness_err.msg, "declares XML entity \"ext\""))
			HARNESS_FAIL("document %zu: message \"%s\"", i, harness_err.msg);
		ASSERT(!has_passwd_line(harness_err.msg));
		ASSERT(!has_passwd_line(out));
		ASSERT_STREQ(out, "");
		free(out);
	}
}

/* An external DTD subset and an XInclude are not loaded: the document parses without
 * them, and nothing of the target file shows up. */
TEST(external_dtd_and_xinclude_not_loaded)
{
	static const char text[] =
		"<!DOCTYPE Envelope SYSTEM \"file:///etc/passwd\">"
		"<Envelope xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1 "\" "
		"xmlns:xi=\"http://www.w3.org/2001/XInclude\"><VirtualSystem ovf:id=\"v\"><Name>"
		"<xi:include href=\"file:///etc/passwd\" parse=\"text\"/></Name>"
		"<ProductSection><Product><xi:include href=\"/etc/passwd\" parse=\"text\"/>"
		"</Product></ProductSection></VirtualSystem></Envelope>";
	struct vm_package *p;
	char *out;
	int r;

	capture_begin();
	err_clear(E);
	r = parse(text, &p);
	out = capture_end();
	ASSERT_OK(r);
	ASSERT_STREQ(out, "");
	free(out);
	ASSERT_STREQ(p->vms[0]->name, "v");
	ASSERT(p->vms[0]->product == NULL);
	vm_package_free(p);
}

/* The real attack file from Proxmox's tests, kept in tests/data/ovf. */
TEST(xee_file_refused)
{
	char path[4096], *text;
	struct vm_package *p = NULL;
	size_t len;

	testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", "pve-storage/XEE.ovf");
	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s (set VMFS_OVF_DATA to tests/data/ovf)", path);
	ASSERT_ERR(ovf_parse(text, len, "XEE.ovf", &p, E), -EINVAL,
		   "XEE.ovf: OVF descriptor declares XML entity \"external\"");
	ASSERT(p == NULL);
	free(text);
}

TEST(huge_attribute_capped)
{
	static const char head[] = "<Envelope xmlns=\"" NS_OVF1 "\" xmlns:ovf=\"" NS_OVF1
				   "\"><References><File ovf:id=\"f\" ovf:href=\"";
	static const char tail[] = "\"/></References></Envelope>";
	size_t big = 100u << 20, len = sizeof(head) - 1 + big + sizeof(tail) - 1;
	struct vm_package *p = NULL;
	char *text = malloc(len + 1), msgbuf[128];
	const char *msg = msgbuf;
	double t0;

	ASSERT(text);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'a', big);
	memcpy(text + sizeof(head) - 1 + big, tail, sizeof(tail));
	snprintf(msgbuf, sizeof(msgbuf),
		 "guest.ovf: OVF descriptor is %zu bytes, over the cap of 16 MiB", len);
	t0 = now();
	ASSERT_ERR(ovf_parse(text, len, "guest.ovf", &p, E), -EFBIG, msg);
	ASSERT(now() - t0 < HANG_SECONDS);
	ASSERT(p == NULL);

	/* 10 MB under the cap: libxml2's own 10 MB attribute limit refuses it, quickly. */
	big = 10u << 20;
	len = sizeof(head) - 1 + big + sizeof(tail) - 1;
	memcpy(text + sizeof(head) - 1 + big, tail, sizeof(tail));
	capture_begin();
	t0 = now();
	err_clear(E);
	{
		int r = ovf_parse(text, len, "guest.ovf", &p, E);
		double dt = now() - t0;
		char *out = capture_end();

		ASSERT_STREQ(out, "");
		free(out);
		if (r == 0) {
			ASSERT_EQ(p->n_files, 1);
			ASSERT_EQ(strlen(p->files[0].href), big);
			vm_package_free(p);
		} else {
			ASSERT_EQ(r, -EINVAL);
			ASSERT(strstr(harness_err.msg, "guest.ovf: OVF XML error at line 1: "));
		}
		if (dt > HANG_SECONDS)
			HARNESS_FAIL("10 MB attribute took %.3f s", dt);
		printf("  10 MiB attribute: %s in %.3f s\n", r == 0 ? "parsed" : harness_err.msg,
		       dt);
	}
	free(text);

	/* The cap itself: OVF_MAX_BYTES is accepted, one more byte is not. */
	{
		static const char open[] = "<Envelope xmlns=\"" NS_OVF1 "\">";
		static const char close[] = "</Envelope>";
		size_t n = OVF_MAX_BYTES;
		int r;

		text = malloc(n + 1);
		ASSERT(text);
		memset(text, ' ', n + 1);
		memcpy(text, open, strlen(open));
		memcpy(text + n - strlen(close), close, strlen(close));
		r = ovf_parse(text, n, "guest.ovf", &p, E);
		if (r == 0)
			vm_package_free(p);
		ASSERT_ERR(ovf_parse(text, n + 1, "guest.ovf", &p, E), -EFBIG,
			   "guest.ovf: OVF descriptor is 16777217 bytes, over the cap of 16 MiB");
		free(text);
		ASSERT_OK(r);
	}
}

/* 16 MiB of tiny elements or attributes would cost libxml2 half a gigabyte: refused before
 * parsing, like the size cap. */
TEST(markup_capped)
{
	static const char *const units[] = { "<a/>", "<a b=\"\" c=\"\" d=\"\"/>", "x<a/>" };
	size_t u, n = OVF_MAX_BYTES - 64;
	char *text = malloc(OVF_MAX_BYTES);

	ASSERT(text);
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t k = strlen(units[u]), i = 0;
		struct vm_package *p = NULL;
		double t0;

		i += sprintf(text, "<Envelope xmlns=\"%s\">", NS_OVF1);
		while (i + k < n) {
			memcpy(text + i, units[u], k);
			i += k;
		}
		i += sprintf(text + i, "</Envelope>");
		t0 = now();
		ASSERT_ERR(ovf_parse(text, i, "guest.ovf", &p, E), -EFBIG,
			   "characters (elements and attributes), over the cap of 262144");
		ASSERT(now() - t0 < HANG_SECONDS);
		ASSERT(p == NULL);
	}
	free(text);
}

TEST(deep_nesting_refused)
{
	struct sb b = { 0 };
	struct vm_package *p = NULL;
	double t0;
	char *out;
	unsigned i;
	int r;

	sb_add(&b, "<Envelope xmlns=\"" NS_OVF1 "\">");
	for (i = 0; i < 100000; i++)
		sb_add(&b, "<VirtualSystemCollection>");
	for (i = 0; i < 100000; i++)
		sb_add(&b, "</VirtualSystemCollection>");
	sb_add(&b, "</Envelope>");
	capture_begin();
	t0 = now();
	err_clear(E);
	r = parse(b.s, &p);
	out = capture_end();
	ASSERT(now() - t0 < HANG_SECONDS);
	ASSERT_STREQ(out, "");
	free(out);
	ASSERT_EQ(r, -EINVAL);
	ASSERT(strstr(harness_err.msg, "guest.ovf: OVF XML error at line 1: "));
	ASSERT(strstr(harness_err.msg, "depth"));
	free(b.s);

	/* 200 levels of collections is within libxml2's limit and parses. */
	b = (struct sb){ 0 };
	sb_add(&b, "<Envelope xmlns=\"" NS_OVF1 "\">");
	for (i = 0; i < 200; i++)
		sb_add(&b, "<VirtualSystemCollection>");
	sb_add(&b, "<VirtualSystem><Name>deep</Name></VirtualSystem>");
	for (i = 0; i < 200; i++)
		sb_add(&b, "</VirtualSystemCollection>");
	sb_add(&b, "</Envelope>");
	ASSERT_OK(parse(b.s, &p));
	ASSERT_EQ(p->n_vms, 1);
	ASSERT_STREQ(p->vms[0]->name, "deep");
	vm_package_free(p);
	free(b.s);
}

TEST(malformed_xml)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "<Envelope><References></Envelope>", "OVF XML error at line 1: " },
		{ "<Envelope>\n<VirtualSystem>\n<Name>x</Nam>\n</VirtualSystem></Envelope>",
		  "OVF XML error at line 3: " },
		{ "", "OVF XML error at line 1: Document is empty" },
		{ "\x01\x02garbage", "OVF XML error at line 1: " },
		{ "<Envelope a=\"1\" a=\"2\"/>", "OVF XML error at line 1: " },
		{ "<Envelope>&undefined;</Envelope>", "OVF XML error at line 1: " },
		{ "<Envelope/><Envelope/>", "OVF XML error at line 1: Extra content" },
		{ "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><Envelope/>",
		  "OVF XML error" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_package *p = NULL;
		char *out;
		int r;

		capture_begin();
		err_clear(E);
		r = parse(cases[i].text, &p);
		out = capture_end();
		if (r != -EINVAL || p)
			HARNESS_FAIL("case %zu: returned %d", i, r);
		if (!strstr(harness_err.msg, cases[i].msg) ||
		    strncmp(harness_err.msg, "guest.ovf: ", 11) != 0 ||
		    strchr(harness_err.msg, '\n'))
			HARNESS_FAIL("case %zu: message \"%s\" lacks \"%s\"", i, harness_err.msg,
				     cases[i].msg);
		ASSERT_STREQ(out, "");
		free(out);
	}
	/* A NUL inside the given length is malformed too. */
	{
		static const char nul[] = "<Envelope>\0</Envelope>";
		struct vm_package *p = NULL;

		ASSERT_ERR(ovf_parse(nul, sizeof(nul) - 1, "guest.ovf", &p, E), -EINVAL,
			   "OVF XML error");
	}
}

TEST(not_ovf_root)
{
	ASSERT_PARSE_ERR("<html><body/></html>", -EINVAL,
			 "guest.ovf: not an OVF descriptor: the root element is <html>, not "
			 "<Envelope>");
	ASSERT_PARSE_ERR("<rasd:Envelope xmlns:rasd=\"" NS_CIM
			 "CIM_ResourceAllocationSettingData\"/>",
			 -EINVAL, "not an OVF descriptor");
}

/* Every prefix of a real descriptor parses or fails cleanly (no crash, no leak under
 * ASan, nothing printed). */
TEST(truncations)
{
	char path[4096], *text, *out;
	size_t len, n, fails = 0;

	testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", "govmomi/ttylinux.ovf");
	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s (set VMFS_OVF_DATA to tests/data/ovf)", path);
	capture_begin();
	for (n = 0; n < len; n += 3) {
		struct vm_package *p = NULL;
		struct err e = { 0 };
		int r = ovf_parse(text, n, "t.ovf", &p, &e);

		if (r == 0)
			vm_package_free(p);
		else if (r != -EINVAL || p || strncmp(e.msg, "t.ovf: ", 7) != 0)
			fails++;
	}
	out = capture_end();
	free(text);
	ASSERT_EQ(fails, 0);
	ASSERT_STREQ(out, "");
	free(out);
}

/* ------------------------------------------------------------------------------------ */
/* Real-world descriptors (tests/data/ovf): expected values read from the files by hand */

#define MIB (1ull << 20)
#define GIB (1ull << 30)

struct exp_disk {
	uint64_t capacity;
	const char *file; /* NULL: blank disk */
};

struct exp_vm {
	const char *name;
	unsigned vcpus, cores;
	uint64_t memory;
	size_t n_disks;
	struct exp_disk disks[4];
	size_t n_nics;
	const char *macs[4]; /* NULL: no Address */
	const char *networks[4];
	int firmware; /* enum vm_firmware */
	const char *uuid;
	const char *hw_version;
};

struct exp_pkg {
	const char *path;
	const char *pkg_name;
	size_t n_vms;
	struct exp_vm vms[2];
};

static const struct exp_pkg table[] = {
	/* govmomi/ttylinux.ovf: <Name>ttylinux-pc_i486-16.1</Name>; CPU Item VirtualQuantity 1;
	 * memory Item 32 "byte * 2^20"; Disk vmdisk1 capacity 30 "byte * 2^20" fileRef file1 =
	 * ttylinux-pc_i486-16.1-disk1.vmdk; one ResourceType 10 Item E1000 Connection nat, no
	 * rasd:Address; VirtualSystemType vmx-09; no firmware key. */
	{ "govmomi/ttylinux.ovf",
	  NULL,
	  1,
	  { { "ttylinux-pc_i486-16.1",
	      1,
	      0,
	      32 * MIB,
	      1,
	      { { 30 * MIB, "ttylinux-pc_i486-16.1-disk1.vmdk" } },
	      1,
	      { NULL },
	      { "nat" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-09" } } },
	/* govmomi/virtualsystemcollection.ovf (DMTF example): collection ovf:id vsc1 holding
	 * <Name>Virtual Appliance One</Name> and <Name>Virtual Appliance Two</Name>; each CPU
	 * VirtualQuantity 1, memory 1 "byte*2^30"; the StorageItem is ResourceType 31 without
	 * HostResource (no drive); EthernetPortItem epasd:Address 00-16-8B-DB-00-5E / -5F,
	 * Connection "VS Network"; no System element. */
	{ "govmomi/virtualsystemcollection.ovf",
	  "vsc1",
	  2,
	  { { "Virtual Appliance One",
	      1,
	      0,
	      1 * GIB,
	      0,
	      { { 0 } },
	      1,
	      { "00:16:8b:db:00:5e" },
	      { "VS Network" },
	      VM_FW_UNKNOWN,
	      NULL,
	      NULL },
	    { "Virtual Appliance Two",
	      1,
	      0,
	      1 * GIB,
	      0,
	      { { 0 } },
	      1,
	      { "00:16:8b:db:00:5f" },
	      { "VS Network" },
	      VM_FW_UNKNOWN,
	      NULL,
	      NULL } } },
	/* govmomi/mixed-disks.ovf: <Name>mixed-disks-vm</Name>; CPU 1; memory 512
	 * "byte * 2^20"; vmdisk1 20 "byte * 2^30" fileRef file1 = os.vmdk, vmdisk2 10
	 * "byte * 2^30" without fileRef; no NIC Item; vmx-13. */
	{ "govmomi/mixed-disks.ovf",
	  NULL,
	  1,
	  { { "mixed-disks-vm",
	      1,
	      0,
	      512 * MIB,
	      2,
	      { { 20 * GIB, "os.vmdk" }, { 10 * GIB, NULL } },
	      0,
	      { NULL },
	      { NULL },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-13" } } },
	/* govmomi/deployment-configs.ovf: Configuration "large" has ovf:default="true"; its
	 * Items: CPU VirtualQuantity 8, memory 8192 "byte * 2^20", disks vmdisk_large_1 (4
	 * GiB, file_large_1 = system-large.vmdk), vmdisk_large_2 (4 GiB, model-large.vmdk),
	 * vmdisk_large_3 (4 GiB, no fileRef); one VmxNet3 NIC on Management in all configs. */
	{ "govmomi/deployment-configs.ovf",
	  NULL,
	  1,
	  { { "deployment-configs-vm",
	      8,
	      0,
	      8192 * MIB,
	      3,
	      { { 4 * GIB, "system-large.vmdk" },
		{ 4 * GIB, "model-large.vmdk" },
		{ 4 * GIB, NULL } },
	      1,
	      { NULL },
	      { "Management" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-13" } } },
	/* govmomi/nostalgia-two-disks.ovf: <Name>Nostalgia</Name>; CPU 1; memory 64
	 * "byte * 2^20"; two Disks ovf:capacity="107373568" with no units (bytes), files
	 * nostalgia-disk1.vmdk and nostalgia-disk2.vmdk; one PCNet32 NIC on "VM Network",
	 * no Address; vmx-04. */
	{ "govmomi/nostalgia-two-disks.ovf",
	  NULL,
	  1,
	  { { "Nostalgia",
	      1,
	      0,
	      64 * MIB,
	      2,
	      { { 107373568, "nostalgia-disk1.vmdk" }, { 107373568, "nostalgia-disk2.vmdk" } },
	      1,
	      { NULL },
	      { "VM Network" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-04" } } },
	/* govmomi/multi-core-vm.ovf: <Name>multi-core-vm</Name>; CPU VirtualQuantity 4 with
	 * <vmw:CoresPerSocket>2</vmw:CoresPerSocket>; memory 4 "byte * 2^20"; Disk capacity 2
	 * "byte * 2^20" = multi-core-vm-disk1.vmdk; one E1000 NIC on Automation; vmx-07. */
	{ "govmomi/multi-core-vm.ovf",
	  NULL,
	  1,
	  { { "multi-core-vm",
	      4,
	      2,
	      4 * MIB,
	      1,
	      { { 2 * MIB, "multi-core-vm-disk1.vmdk" } },
	      1,
	      { NULL },
	      { "Automation" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-07" } } },
	/* govmomi/xp-multinic.ovf: <Name>xp-multinic</Name>; CPU 2; memory 512 "byte * 2^20";
	 * vmdisk1 1536 "byte * 2^20" = xp-multinic-disk1.vmdk, vmdisk2 2 "byte * 2^30" =
	 * xp-multinic-disk2.vmdk; NICs PCNet32 on "VM Network" and on dvportgroup-30. */
	{ "govmomi/xp-multinic.ovf",
	  NULL,
	  1,
	  { { "xp-multinic",
	      2,
	      0,
	      512 * MIB,
	      2,
	      { { 1536 * MIB, "xp-multinic-disk1.vmdk" }, { 2 * GIB, "xp-multinic-disk2.vmdk" } },
	      2,
	      { NULL, NULL },
	      { "VM Network", "dvportgroup-30" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-07" } } },
	/* govmomi/虚拟机.ovf: <Name>虚拟机</Name>; CPU 1, CoresPerSocket 1; memory 40
	 * "byte * 2^20"; Disk capacity 41943040 units "byte", href 虚拟机-1.vmdk; one E1000 on
	 * "VM Network"; vmx-13. */
	{ "govmomi/虚拟机.ovf",
	  NULL,
	  1,
	  { { "虚拟机",
	      1,
	      1,
	      40 * MIB,
	      1,
	      { { 41943040, "虚拟机-1.vmdk" } },
	      1,
	      { NULL },
	      { "VM Network" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-13" } } },
	/* cot/vmware.ovf: <ovf:Name>vmw</ovf:Name>; CPU 2, CoresPerSocket 2; memory 1536
	 * "byte * 2^20"; Disk 1 "byte * 2^30" = input.vmdk; four E1000 Items on lanethernet0;
	 * vmw:Config firmware bios; vmx-08. */
	{ "cot/vmware.ovf",
	  NULL,
	  1,
	  { { "vmw",
	      2,
	      2,
	      1536 * MIB,
	      1,
	      { { 1 * GIB, "input.vmdk" } },
	      4,
	      { NULL, NULL, NULL, NULL },
	      { "lanethernet0", "lanethernet0", "lanethernet0", "lanethernet0" },
	      VM_FW_BIOS,
	      NULL,
	      "vmx-08" } } },
	/* cot/ubuntu.2.0.ovf (OVF 2.0, VirtualBox): no Name, VirtualSystemIdentifier ubuntu;
	 * CPU 1; memory 512 "MegaBytes"; Disk capacity 8589934592 (bytes) =
	 * ubuntu.2.0-disk1.vmdk via StorageItem /disk/vmdisk1; EthernetPortItem E1000 on NAT;
	 * vbox:Machine uuid {39a69c87-0433-4945-8e25-b89431544a28}, Hardware without Firmware
	 * (VirtualBox's BIOS default); VirtualSystemType virtualbox-2.2. */
	{ "cot/ubuntu.2.0.ovf",
	  NULL,
	  1,
	  { { "ubuntu",
	      1,
	      0,
	      512 * MIB,
	      1,
	      { { 8589934592ull, "ubuntu.2.0-disk1.vmdk" } },
	      1,
	      { NULL },
	      { "NAT" },
	      VM_FW_BIOS,
	      "39a69c87-0433-4945-8e25-b89431544a28",
	      "virtualbox-2.2" } } },
	/* cot/v0.9.ovf (OVF 0.9): no Name, VirtualSystemIdentifier foo; CPU 1; memory 8192
	 * "MegaBytes"; Disk capacity 1073741824 = input.vmdk; PCNet32 on bridged; vmx-04. */
	{ "cot/v0.9.ovf",
	  NULL,
	  1,
	  { { "foo",
	      1,
	      0,
	      8192 * MIB,
	      1,
	      { { 1 * GIB, "input.vmdk" } },
	      1,
	      { NULL },
	      { "bridged" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-04" } } },
	/* glance/testserver.ovf (VirtualBox OVF 1.0): no Name, VirtualSystemIdentifier
	 * testserver; CPU 1; memory 512 "MegaBytes"; Disk vmdisk2 capacity 8589934592 =
	 * testserver-disk1.vmdk; E1000 on NAT; vbox:Machine uuid
	 * {40a22499-f787-4d19-a8d7-238eca2aae88}, no Firmware element. */
	{ "glance/testserver.ovf",
	  NULL,
	  1,
	  { { "testserver",
	      1,
	      0,
	      512 * MIB,
	      1,
	      { { 8589934592ull, "testserver-disk1.vmdk" } },
	      1,
	      { NULL },
	      { "NAT" },
	      VM_FW_BIOS,
	      "40a22499-f787-4d19-a8d7-238eca2aae88",
	      "virtualbox-2.2" } } },
	/* pve-storage/Win_2008_R2_two-disks.ovf: <Name>Win_2008-R2x64</Name>; CPU 1; memory
	 * 2048 "byte * 2^20"; vmdisk1 40 "byte * 2^30" = disk1.vmdk, vmdisk2 1 "byte * 2^30" =
	 * disk2.vmdk; E1000 on bridged; no firmware key; vmx-11. */
	{ "pve-storage/Win_2008_R2_two-disks.ovf",
	  NULL,
	  1,
	  { { "Win_2008-R2x64",
	      1,
	      0,
	      2048 * MIB,
	      2,
	      { { 40 * GIB, "disk1.vmdk" }, { 1 * GIB, "disk2.vmdk" } },
	      1,
	      { NULL },
	      { "bridged" },
	      VM_FW_UNKNOWN,
	      NULL,
	      "vmx-11" } } },
	/* pve-storage/Win10-Liz_no_default_ns.ovf (rasd: declared on every element):
	 * <Name>Win10-Liz</Name>; CPU 4; memory 6144 "byte * 2^20"; Disk 128 "byte * 2^30" =
	 * Win10-Liz-disk1.vmdk; E1000e on bridged; vmw:Config firmware efi; vmx-11. */
	{ "pve-storage/Win10-Liz_no_default_ns.ovf",
	  NULL,
	  1,
	  { { "Win10-Liz",
	      4,
	      0,
	      6144 * MIB,
	      1,
	      { { 128 * GIB, "Win10-Liz-disk1.vmdk" } },
	      1,
	      { NULL },
	      { "bridged" },
	      VM_FW_EFI,
	      NULL,
	      "vmx-11" } } },
};

static void check_vm(const char *path, const struct vm *vm, const struct exp_vm *x)
{
	size_t i;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s: %s: ", path, x->name);                              \
			HARNESS_FAIL(__VA_ARGS__);                                                 \
		}                                                                                  \
	} while (0)
#define SAME(a, b) ((a) == (b) || ((a) && (b) && strcmp((a), (b)) == 0))

	CHECK(SAME(vm->name, x->name), "name \"%s\"", vm->name);
	CHECK(vm->vcpus == x->vcpus, "vcpus %u != %u", vm->vcpus, x->vcpus);
	CHECK(vm->cores_per_socket == x->cores, "cores %u != %u", vm->cores_per_socket, x->cores);
	CHECK(vm->memory == x->memory, "memory %" PRIu64 " != %" PRIu64, vm->memory, x->memory);
	CHECK((int)vm->firmware == x->firmware, "firmware %d != %d", vm->firmware, x->firmware);
	CHECK(SAME(vm->uuid, x->uuid), "uuid %s", vm->uuid ? vm->uuid : "(null)");
	CHECK(SAME(vm->hw_version, x->hw_version), "hw_version %s",
	      vm->hw_version ? vm->hw_version : "(null)");
	CHECK(vm->n_disks == x->n_disks, "%zu disks != %zu", vm->n_disks, x->n_disks);
	for (i = 0; i < x->n_disks; i++) {
		CHECK(vm->disks[i].capacity == x->disks[i].capacity,
		      "disk %zu capacity %" PRIu64 " != %" PRIu64, i, vm->disks[i].capacity,
		      x->disks[i].capacity);
		CHECK(SAME(vm->disks[i].file, x->disks[i].file), "disk %zu file %s", i,
		      vm->disks[i].file ? vm->disks[i].file : "(null)");
	}
	CHECK(vm->n_nics == x->n_nics, "%zu NICs != %zu", vm->n_nics, x->n_nics);
	for (i = 0; i < x->n_nics; i++) {
		CHECK(SAME(vm->nics[i].mac, x->macs[i]), "NIC %zu MAC %s", i,
		      vm->nics[i].mac ? vm->nics[i].mac : "(null)");
		CHECK(SAME(vm->nics[i].network, x->networks[i]), "NIC %zu network %s", i,
		      vm->nics[i].network ? vm->nics[i].network : "(null)");
	}
#undef CHECK
#undef SAME
}

TEST(real_world_table)
{
	size_t t, v;

	for (t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
		const struct exp_pkg *x = &table[t];
		char path[4096], *text;
		struct vm_package *p;
		size_t len;

		testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", x->path);
		if (!testdata_read(path, &text, &len))
			HARNESS_FAIL("cannot read %s (set VMFS_OVF_DATA to tests/data/ovf)", path);
		err_clear(E);
		if (ovf_parse(text, len, x->path, &p, E) < 0)
			HARNESS_FAIL("%s refused", x->path);
		free(text);
		if (!((p->name == NULL && x->pkg_name == NULL) ||
		      (p->name && x->pkg_name && strcmp(p->name, x->pkg_name) == 0)))
			HARNESS_FAIL("%s: package name %s", x->path, p->name ? p->name : "(null)");
		if (p->n_vms != x->n_vms)
			HARNESS_FAIL("%s: %zu VMs != %zu", x->path, p->n_vms, x->n_vms);
		for (v = 0; v < x->n_vms; v++)
			check_vm(x->path, p->vms[v], &x->vms[v]);
		vm_package_free(p);
	}
	printf("  %zu real-world descriptors match\n", t);
}

/* ------------------------------------------------------------------------------------ */
/* The shared corpus, when it is there */

/* Corpus files that must be refused, and why. */
static const struct {
	const char *suffix, *why, *msg;
} expected_failures[] = {
	{ "ovf/govmomi/external/jeos_corrupted.ovf", "binary garbage before <?xml",
	  "OVF XML error at line 1" },
	{ "ovf/cot/invalid.ovf",
	  "COT's negative test: Disk flash2 has fileRef flash2, no such File",
	  "DiskSection/Disk flash2: fileRef \"flash2\" names no File" },
	{ "ovf/pve-storage/XEE.ovf", "external entity to /proc/self/comm",
	  "declares XML entity \"external\"" },
};

struct corpus_run {
	size_t parsed, refused, vms;
	int bad;
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void corpus_file(const char *path, const char *name, void *ctx)
{
	struct corpus_run *run = ctx;
	struct vm_package *p = NULL;
	struct err e = { 0 };
	const char *why = NULL, *msg = NULL;
	char *text;
	size_t len, i;
	int r;

	(void)name;
	for (i = 0; i < sizeof(expected_failures) / sizeof(expected_failures[0]); i++)
		if (has_suffix(path, expected_failures[i].suffix)) {
			why = expected_failures[i].why;
			msg = expected_failures[i].msg;
		}
	if (!testdata_read(path, &text, &len)) {
		printf("  cannot read %s\n", path);
		run->bad++;
		return;
	}
	r = ovf_parse(text, len, path, &p, &e);
	free(text);
	if (why) {
		if (r == 0 || !strstr(e.msg, msg)) {
			printf("  %s: expected a refusal (%s), got %d \"%s\"\n", path, why, r,
			       e.msg);
			run->bad++;
		} else {
			run->refused++;
		}
		vm_package_free(p);
		return;
	}
	if (r < 0) {
		printf("  %s: %s\n", path, e.msg);
		run->bad++;
		return;
	}
	for (i = 0; i < p->n_vms; i++)
		if (!p->vms[i]->name || !*p->vms[i]->name) {
			printf("  %s: VM %zu has no name\n", path, i);
			run->bad++;
		}
	run->parsed++;
	run->vms += p->n_vms;
	vm_package_free(p);
}

TEST(shared_corpus)
{
	const char *dir = testdata_corpus();
	struct corpus_run run = { 0 };
	char *out;

	if (!dir)
		return;
	capture_begin();
	testdata_walk(dir, ".ovf", 16, corpus_file, &run);
	out = capture_end();
	printf("  corpus %s: %zu OVF descriptors parsed (%zu VMs), %zu refused as expected\n", dir,
	       run.parsed, run.vms, run.refused);
	ASSERT_STREQ(out, "");
	free(out);
	ASSERT_EQ(run.bad, 0);
	ASSERT(run.parsed > 0);
	ASSERT_EQ(run.refused, sizeof(expected_failures) / sizeof(expected_failures[0]));
}
