/* SPDX-License-Identifier: MIT */
/*
 * domain.xml: the VM model as a libvirt domain (see domain.h), written with libxml2's
 * text writer so that every name and path from the source is escaped by the library.
 *
 * Notes on the translation (libvirt 9.0 and qemu 7.2, as Debian 12 ships them):
 *
 * - Machine: q35, unless a hard disk sits on IDE: q35 has no IDE controller, and moving a
 *   Windows boot disk off IDE makes it unbootable, so such a VM gets i440fx ('pc').  IDE
 *   CD-ROMs on q35 move to SATA instead, which costs the guest nothing.
 * - Storage: SCSI controllers keep their kind where qemu emulates it (lsilogic,
 *   lsisas1068 = qemu's mptsas1068, vmpvscsi = qemu's pvscsi); BusLogic becomes lsilogic.
 *   NVMe becomes SATA: libvirt 9 has no NVMe disk bus.  Every device keeps the source's
 *   controller and unit when qemu's model has that slot (lsilogic: targets 0-6, mptsas:
 *   8 ports, pvscsi: 64, AHCI: 6 ports, IDE: 2 buses x 2 units), else it moves to the
 *   first free one.  Names follow libvirt's VMX reader (SCSI sd[controller * 15 + unit],
 *   SATA sd[controller * 30 + unit], hdX from the IDE slot), the first free sdX where two
 *   would clash; vdX for -o virtio.
 * - NICs: the source's model where qemu has it (e1000, e1000e, vmxnet3, pcnet); vmxnet
 *   (1 and 2) become e1000.  MAC addresses are kept as written; the network is -o network
 *   (libvirt's "default") or -o bridge: VMware port groups do not exist on the target.
 * - Every substitution is an XML comment beside the element it concerns.  Comments carry
 *   text from the source, so that text is cut short, made printable and valid UTF-8, and
 *   "--" is broken up (XML forbids it inside a comment).
 */
#include "domain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlwriter.h>

#include "../common/text.h"

#define SHOW_MAX 64 /* bytes of a source string shown in a comment or message */
#define SHOW_BUF (SHOW_MAX + 4)
#define NOTE_MAX 384

#define IDE_SLOTS 4  /* one IDE controller: 2 buses x 2 units */
#define AHCI_PORTS 6 /* qemu's ich9-ahci */

/* Where one disk or CD-ROM goes. */
struct place {
	const char *bus; /* "ide" "scsi" "sata" "virtio"; NULL: left out */
	unsigned ctl, bus_nr, unit;
	char dev[16];
	char note[NOTE_MAX]; /* comment to write before the device, or "" */
};

struct dom {
	const struct vm *vm;
	const struct domain_opts *o;
	xmlTextWriterPtr w;
	bool pc;	     /* i440fx */
	struct place *disks; /* one per vm->disks */
	struct place *cds;   /* one per vm->cdroms */
	unsigned n_sd, n_vd;
	unsigned nvme_base; /* first SATA index for the source's NVMe controllers */
	int r;		    /* first writer failure, sticky */
};

/* ------------------------------------------------------------------------------------ */
/* Text from the source */

/* Length of the valid UTF-8 character XML 1.0 allows at p (n bytes left), or 0. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (p[0] < 0x80)
		return p[0] >= 0x20 || p[0] == '\t' || p[0] == '\n' || p[0] == '\r' ? 1 : 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF, and the two non-characters XML bans. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return 0;
	return len;
}

/* True when s is valid UTF-8 without control characters. */
static bool text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	while (n > 0) {
		k = utf8_char(p, n);
		if (k == 0 || *p < 0x20)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/* buf = s cut to SHOW_MAX bytes at a character boundary, anything not printable UTF-8
 * as '?'. Returns buf. */
static const char *show(char *buf, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i = 0, k;

	if (!s)
		return "(none)";
	n = strlen(s);
	while (n > 0) {
		k = utf8_char(p, n);
		if (k == 0 || *p < 0x20)
			k = 0;
		if (i + (k ? k : 1) > SHOW_MAX) {
			memcpy(buf + i, "...", 3);
			i += 3;
			break;
		}
		if (k) {
			memcpy(buf + i, p, k);
			i += k;
		} else {
			buf[i++] = '?';
			k = 1;
		}
		p += k;
		n -= k;
	}
	buf[i] = '\0';
	return buf;
}

/* The name libvirt will take: '/' (refused when the config is saved), control characters
 * (refused or not representable in XML) and bytes that are not UTF-8 become '_'. *changed
 * says whether anything did. NULL on ENOMEM. */
static char *domain_name(const char *name, bool *changed)
{
	const unsigned char *p;
	size_t n, k, i = 0;
	char *out;

	*changed = false;
	if (!name || !*name) {
		*changed = true;
		return strdup("vm");
	}
	n = strlen(name);
	out = malloc(n + 1);
	if (!out)
		return NULL;
	p = (const unsigned char *)name;
	while (n > 0) {
		k = utf8_char(p, n);
		if (k == 0 || *p < 0x20 || *p == '/') {
			out[i++] = '_';
			*changed = true;
			k = 1;
		} else {
			memcpy(out + i, p, k);
			i += k;
		}
		p += k;
		n -= k;
	}
	out[i] = '\0';
	return out;
}

static bool starts_ci(const char *s, const char *prefix)
{
	return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* True when the first word of model (words split by spaces or commas: OVF subtypes may
 * list alternatives, "virtio lsilogic") that is one of names[] exists; *which = its index
 * in names. */
static bool model_word(const char *model, const char *const *names, size_t n, size_t *which)
{
	const char *p = model;
	size_t len, i;

	if (!p)
		return false;
	while (*p) {
		p += strspn(p, " ,\t");
		len = strcspn(p, " ,\t");
		for (i = 0; len && i < n; i++) {
			if (strlen(names[i]) == len && strncasecmp(p, names[i], len) == 0) {
				*which = i;
				return true;
			}
		}
		p += len;
	}
	return false;
}

/* ------------------------------------------------------------------------------------ */
/* Guest OS */

/* CIM OperatingSystem types (DSP0004 CIM_OperatingSystem.OSType) that are Windows. */
static const unsigned cim_windows[] = {
	16, 17, 18, 58, 63, 67, 69, 70, 71, 72, 73, 74, 75, 76, 77, 103, 105,
};

static bool is_windows(const struct vm *vm)
{
	unsigned long id;
	char *end;
	size_t i;

	if (starts_ci(vm->os_type, "win") || (vm->os_desc && strcasestr(vm->os_desc, "windows")))
		return true;
	if (!vm->os_cim_id)
		return false;
	id = strtoul(vm->os_cim_id, &end, 10);
	if (end == vm->os_cim_id || *end)
		return false;
	for (i = 0; i < sizeof(cim_windows) / sizeof(cim_windows[0]); i++)
		if (id == cim_windows[i])
			return true;
	return false;
}

/* VMware guest ids, lower case without "Guest", '-' and '_' (so OVF's "rhel8_64Guest" and
 * VMX's "rhel8-64" meet), to libosinfo ids present in osinfo-db 20221130 (Debian 12).
 * Ids without a version ("ubuntu64Guest", "otherLinux64Guest") have none. */
static const struct {
	const char *vmware, *osinfo;
} osinfo_ids[] = {
	{ "win2000pro", "http://microsoft.com/win/2k" },
	{ "win2000serv", "http://microsoft.com/win/2k" },
	{ "win2000advserv", "http://microsoft.com/win/2k" },
	{ "winxppro", "http://microsoft.com/win/xp" },
	{ "winxppro64", "http://microsoft.com/win/xp" },
	{ "winnetstandard", "http://microsoft.com/win/2k3" },
	{ "winnetstandard64", "http://microsoft.com/win/2k3" },
	{ "winnetenterprise", "http://microsoft.com/win/2k3" },
	{ "winnetenterprise64", "http://microsoft.com/win/2k3" },
	{ "winnetdatacenter", "http://microsoft.com/win/2k3" },
	{ "winnetdatacenter64", "http://microsoft.com/win/2k3" },
	{ "winvista", "http://microsoft.com/win/vista" },
	{ "winvista64", "http://microsoft.com/win/vista" },
	{ "winlonghorn", "http://microsoft.com/win/2k8" },
	{ "winlonghorn64", "http://microsoft.com/win/2k8" },
	{ "longhorn", "http://microsoft.com/win/2k8" },
	{ "longhorn64", "http://microsoft.com/win/2k8" },
	{ "windows7", "http://microsoft.com/win/7" },
	{ "windows764", "http://microsoft.com/win/7" },
	{ "windows7server64", "http://microsoft.com/win/2k8r2" },
	{ "windows7srv64", "http://microsoft.com/win/2k8r2" },
	{ "windows8", "http://microsoft.com/win/8" },
	{ "windows864", "http://microsoft.com/win/8" },
	{ "windows8server64", "http://microsoft.com/win/2k12" },
	{ "windows8srv64", "http://microsoft.com/win/2k12" },
	{ "windows9", "http://microsoft.com/win/10" },
	{ "windows964", "http://microsoft.com/win/10" },
	{ "windows9server64", "http://microsoft.com/win/2k16" },
	{ "windows9srv64", "http://microsoft.com/win/2k16" },
	{ "windows2019srv64", "http://microsoft.com/win/2k19" },
	{ "windows1164", "http://microsoft.com/win/11" },
	{ "debian8", "http://debian.org/debian/8" },
	{ "debian864", "http://debian.org/debian/8" },
	{ "debian9", "http://debian.org/debian/9" },
	{ "debian964", "http://debian.org/debian/9" },
	{ "debian10", "http://debian.org/debian/10" },
	{ "debian1064", "http://debian.org/debian/10" },
	{ "debian11", "http://debian.org/debian/11" },
	{ "debian1164", "http://debian.org/debian/11" },
	{ "rhel6", "http://redhat.com/rhel/6-unknown" },
	{ "rhel664", "http://redhat.com/rhel/6-unknown" },
	{ "rhel7", "http://redhat.com/rhel/7-unknown" },
	{ "rhel764", "http://redhat.com/rhel/7-unknown" },
	{ "rhel864", "http://redhat.com/rhel/8-unknown" },
	{ "rhel964", "http://redhat.com/rhel/9-unknown" },
	{ "centos7", "http://centos.org/centos/7.0" },
	{ "centos764", "http://centos.org/centos/7.0" },
	{ "centos864", "http://centos.org/centos/8" },
	{ "sles12", "http://suse.com/sles/12-unknown" },
	{ "sles1264", "http://suse.com/sles/12-unknown" },
	{ "sles1564", "http://suse.com/sle/15-unknown" },
};

static const char *osinfo_id(const struct vm *vm)
{
	char key[32];
	size_t i = 0, n;
	const char *p;

	if (!vm->os_type)
		return NULL;
	for (p = vm->os_type; *p; p++) {
		if (*p == '-' || *p == '_')
			continue;
		if (i + 1 >= sizeof(key))
			return NULL;
		key[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	}
	key[i] = '\0';
	n = strlen(key);
	if (n > 5 && strcmp(key + n - 5, "guest") == 0)
		key[n - 5] = '\0';
	for (i = 0; i < sizeof(osinfo_ids) / sizeof(osinfo_ids[0]); i++)
		if (strcmp(key, osinfo_ids[i].vmware) == 0)
			return osinfo_ids[i].osinfo;
	return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Writer helpers: the first failure sticks in d->r and later calls do nothing, so the
 * document code reads straight through and is checked once at the end. */

static void wr(struct dom *d, int rc)
{
	if (rc < 0 && !d->r)
		d->r = -ENOMEM;
}

static void start(struct dom *d, const char *el)
{
	if (!d->r)
		wr(d, xmlTextWriterStartElement(d->w, BAD_CAST el));
}

static void end(struct dom *d)
{
	if (!d->r)
		wr(d, xmlTextWriterEndElement(d->w));
}

static void attr(struct dom *d, const char *name, const char *value)
{
	if (!d->r)
		wr(d, xmlTextWriterWriteAttribute(d->w, BAD_CAST name, BAD_CAST value));
}

static void attr_u(struct dom *d, const char *name, unsigned long long v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", v);
	attr(d, name, b);
}

static void text(struct dom *d, const char *s)
{
	if (!d->r)
		wr(d, xmlTextWriterWriteString(d->w, BAD_CAST s));
}

/* <el name=value/> with up to two attributes (NULL name: none). */
static void empty(struct dom *d, const char *el, const char *a1, const char *v1, const char *a2,
		  const char *v2)
{
	start(d, el);
	if (a1)
		attr(d, a1, v1);
	if (a2)
		attr(d, a2, v2);
	end(d);
}

/* Write s as a comment: a space at each end, "--" broken into "- -". */
static void comment_text(struct dom *d, const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char *c;

	if (d->r || !n)
		return;
	c = malloc(2 * n + 3);
	if (!c) {
		d->r = -ENOMEM;
		return;
	}
	c[j++] = ' ';
	for (i = 0; i < n; i++) {
		if (s[i] == '-' && j > 0 && c[j - 1] == '-')
			c[j++] = ' ';
		c[j++] = s[i];
	}
	c[j++] = ' ';
	c[j] = '\0';
	wr(d, xmlTextWriterWriteComment(d->w, BAD_CAST c));
	free(c);
}

static void comment(struct dom *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void comment(struct dom *d, const char *fmt, ...)
{
	char buf[NOTE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	comment_text(d, buf);
}

static void note(struct place *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add a sentence to p's comment. */
static void note(struct place *p, const char *fmt, ...)
{
	size_t n = strlen(p->note);
	va_list ap;

	if (n && n + 2 < sizeof(p->note)) {
		memcpy(p->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(p->note + n, sizeof(p->note) - n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------------------ */
/* Placing disks and CD-ROMs */

static const char *bus_name(enum vm_bus b)
{
	switch (b) {
	case VM_BUS_IDE:
		return "IDE";
	case VM_BUS_SCSI:
		return "SCSI";
	case VM_BUS_SATA:
		return "SATA";
	case VM_BUS_NVME:
		return "NVMe";
	case VM_BUS_FLOPPY:
		return "floppy";
	case VM_BUS_USB:
		return "USB";
	default:
		return "unknown";
	}
}

enum scsi_model {
	SCSI_LSILOGIC,
	SCSI_LSISAS1068,
	SCSI_PVSCSI,
	SCSI_BUSLOGIC,
	SCSI_VIRTIO,
	SCSI_UNKNOWN
};

/* OVF subtypes, then VMX virtualDev spellings. */
static const char *const scsi_words[] = {
	"lsilogic", "lsilogicsas", "VirtualSCSI", "buslogic",
	"virtio",   "lsisas1068",  "pvscsi",	  "virtio-scsi",
};
static const enum scsi_model scsi_word_model[] = {
	SCSI_LSILOGIC, SCSI_LSISAS1068, SCSI_PVSCSI, SCSI_BUSLOGIC,
	SCSI_VIRTIO,   SCSI_LSISAS1068, SCSI_PVSCSI, SCSI_VIRTIO,
};

static enum scsi_model scsi_model(const struct vm_controller *c)
{
	size_t w;

	if (!model_word(c->model, scsi_words, sizeof(scsi_words) / sizeof(scsi_words[0]), &w))
		return SCSI_UNKNOWN;
	return scsi_word_model[w];
}

/* libvirt's model for it, and the units qemu's device has (lsi53c895a: targets 0-6, the
 * controller being 7; mptsas1068: 8 ports; pvscsi: 64 targets; virtio-scsi: LUNs). */
static const char *scsi_libvirt(enum scsi_model m, unsigned *units)
{
	switch (m) {
	case SCSI_LSISAS1068:
		*units = 8;
		return "lsisas1068";
	case SCSI_PVSCSI:
		*units = 64;
		return "vmpvscsi";
	case SCSI_VIRTIO:
		*units = 16384;
		return "virtio-scsi";
	default:
		*units = 7;
		return "lsilogic";
	}
}

/* The source's SCSI controller with index idx, or NULL. */
static const struct vm_controller *scsi_ctl(const struct vm *vm, unsigned idx)
{
	size_t i;

	for (i = 0; i < vm->n_controllers; i++)
		if (vm->controllers[i].bus == VM_BUS_SCSI && vm->controllers[i].index == idx)
			return &vm->controllers[i];
	return NULL;
}

static bool taken(const struct dom *d, const char *bus, unsigned ctl, unsigned bus_nr,
		  unsigned unit)
{
	size_t i;

	for (i = 0; i < d->vm->n_disks; i++)
		if (d->disks[i].bus && strcmp(d->disks[i].bus, bus) == 0 &&
		    d->disks[i].ctl == ctl && d->disks[i].bus_nr == bus_nr &&
		    d->disks[i].unit == unit)
			return true;
	for (i = 0; i < d->vm->n_cdroms; i++)
		if (d->cds[i].bus && strcmp(d->cds[i].bus, bus) == 0 && d->cds[i].ctl == ctl &&
		    d->cds[i].bus_nr == bus_nr && d->cds[i].unit == unit)
			return true;
	return false;
}

/* libvirt's disk names: a..z, aa..az, ba.. (virDiskNameFromIndex). */
static void dev_name(char *buf, size_t size, const char *prefix, unsigned idx)
{
	char tmp[8];
	size_t n = 0, i;
	long x = idx;

	while (x >= 0 && n < sizeof(tmp)) {
		tmp[n++] = (char)('a' + x % 26);
		x = x / 26 - 1;
	}
	i = (size_t)snprintf(buf, size, "%s", prefix);
	while (n > 0 && i + 1 < size)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

/* SATA port unit of controller ctl when qemu's AHCI has it and it is free. */
static bool sata_ok(const struct dom *d, unsigned ctl, int unit)
{
	return unit >= 0 && unit < AHCI_PORTS && !taken(d, "sata", ctl, 0, (unsigned)unit);
}

static void set(struct place *p, const char *bus, unsigned ctl, unsigned bus_nr, unsigned unit)
{
	p->bus = bus;
	p->ctl = ctl;
	p->bus_nr = bus_nr;
	p->unit = unit;
}

/* The first free SATA port from controller ctl on. */
static void sata_free(const struct dom *d, struct place *p, unsigned ctl)
{
	unsigned u;

	/* Ends: there are only so many devices. */
	for (;; ctl++)
		for (u = 0; u < AHCI_PORTS; u++)
			if (!taken(d, "sata", ctl, 0, u)) {
				set(p, "sata", ctl, 0, u);
				return;
			}
}

/* The first free IDE slot (bus * 2 + unit), or false. */
static bool ide_free(const struct dom *d, unsigned *slot)
{
	unsigned s;

	for (s = 0; s < IDE_SLOTS; s++)
		if (!taken(d, "ide", 0, s / 2, s % 2)) {
			*slot = s;
			return true;
		}
	return false;
}

/* Place a device whose source controller is c (NULL: none known) at unit.  With exact,
 * only where the source put it (false when qemu has no such free slot); without, wherever
 * it fits, saying why in p->note. */
static bool place(struct dom *d, struct place *p, const struct vm_controller *c, int unit,
		  bool cdrom, bool exact)
{
	enum vm_bus bus = c ? c->bus : VM_BUS_UNKNOWN;
	unsigned slot, units, u;

	if (d->o->virtio && !cdrom) {
		p->bus = "virtio";
		note(p, "%s %u:%d in the source; virtio-blk for -o virtio", bus_name(bus),
		     c ? c->index : 0, unit);
		return true;
	}
	switch (bus) {
	case VM_BUS_IDE:
		if (d->pc && c->index < 2 && unit >= 0 && unit < 2 &&
		    !taken(d, "ide", 0, c->index, (unsigned)unit)) {
			set(p, "ide", 0, c->index, (unsigned)unit);
			return true;
		}
		if (exact)
			return false;
		if (!d->pc) {
			note(p, "IDE %u:%d in the source; q35 has no IDE controller: SATA",
			     c->index, unit);
			sata_free(d, p, 0);
		} else if (ide_free(d, &slot)) {
			note(p, "IDE %u:%d in the source is no free IDE slot here: IDE %u:%u",
			     c->index, unit, slot / 2, slot % 2);
			set(p, "ide", 0, slot / 2, slot % 2);
		} else {
			note(p, "IDE %u:%d in the source; all four IDE slots are used: SATA",
			     c->index, unit);
			sata_free(d, p, 0);
		}
		return true;
	case VM_BUS_SCSI:
		scsi_libvirt(scsi_model(c), &units);
		if (unit >= 0 && (unsigned)unit < units &&
		    !taken(d, "scsi", c->index, 0, (unsigned)unit)) {
			set(p, "scsi", c->index, 0, (unsigned)unit);
			return true;
		}
		if (exact)
			return false;
		for (u = 0; u < units; u++)
			if (!taken(d, "scsi", c->index, 0, u))
				break;
		if (u == units) {
			note(p, "SCSI %u:%d in the source; that controller is full: SATA", c->index,
			     unit);
			sata_free(d, p, 0);
			return true;
		}
		if (unit >= 0)
			note(p,
			     "SCSI %u:%d in the source is taken or past the %u units of qemu's "
			     "controller: unit %u",
			     c->index, unit, units, u);
		set(p, "scsi", c->index, 0, u);
		return true;
	case VM_BUS_SATA:
		if (sata_ok(d, c->index, unit)) {
			set(p, "sata", c->index, 0, (unsigned)unit);
			return true;
		}
		if (exact)
			return false;
		sata_free(d, p, c->index);
		if (unit >= 0)
			note(p,
			     "SATA %u:%d in the source is taken or past qemu's %d AHCI ports: "
			     "SATA %u:%u",
			     c->index, unit, AHCI_PORTS, p->ctl, p->unit);
		return true;
	case VM_BUS_NVME:
		if (sata_ok(d, d->nvme_base + c->index, unit))
			set(p, "sata", d->nvme_base + c->index, 0, (unsigned)unit);
		else if (exact)
			return false;
		else
			sata_free(d, p, d->nvme_base + c->index);
		note(p, "NVMe %u:%d in the source; libvirt 9 has no NVMe disk bus: SATA %u:%u",
		     c->index, unit, p->ctl, p->unit);
		return true;
	default:
		if (exact)
			return false;
		if (c)
			note(p, "on a %s controller in the source", bus_name(bus));
		else
			note(p, "no controller known in the source");
		if (d->pc && ide_free(d, &slot))
			set(p, "ide", 0, slot / 2, slot % 2);
		else
			sata_free(d, p, 0);
		return true;
	}
}

static const struct vm_controller *ctl_of(const struct vm *vm, int i)
{
	return i >= 0 && (size_t)i < vm->n_controllers ? &vm->controllers[i] : NULL;
}

static const char *disk_path(const struct dom *d, size_t i)
{
	return d->o->disk_paths && i < d->o->n_disk_paths ? d->o->disk_paths[i] : NULL;
}

static const char *cdrom_path(const struct dom *d, size_t i)
{
	return d->o->cdrom_paths && i < d->o->n_cdrom_paths ? d->o->cdrom_paths[i] : NULL;
}

/* True when a placed disk or CD-ROM already has target name dev. */
static bool dev_taken(const struct dom *d, const char *dev)
{
	size_t i;

	for (i = 0; i < d->vm->n_disks; i++)
		if (d->disks[i].bus && strcmp(d->disks[i].dev, dev) == 0)
			return true;
	for (i = 0; i < d->vm->n_cdroms; i++)
		if (d->cds[i].bus && strcmp(d->cds[i].dev, dev) == 0)
			return true;
	return false;
}

/* With wanted, the name libvirt's own VMX reader gives the slot, so that its reading of
 * the .vmx and ours agree: SCSI sd[controller * 15 + unit, skipping the controller's unit
 * 7], SATA sd[controller * 30 + unit], IDE hd[bus * 2 + unit]; left unnamed when another
 * device has it (libvirt counts SCSI and SATA from the same "sda", and pvscsi units past
 * 15 run into the next controller's names; qemu's driver refuses a repeated target).
 * Without, the first free sdX, or the next vdX. */
static void name_one(struct dom *d, struct place *p, bool wanted)
{
	char name[sizeof(p->dev)];
	unsigned idx;

	if (!p->bus || p->dev[0])
		return;
	if (strcmp(p->bus, "ide") == 0) {
		dev_name(p->dev, sizeof(p->dev), "hd", p->bus_nr * 2 + p->unit);
		return;
	}
	if (strcmp(p->bus, "virtio") == 0) {
		if (!wanted)
			dev_name(p->dev, sizeof(p->dev), "vd", d->n_vd++);
		return;
	}
	if (wanted) {
		if (strcmp(p->bus, "scsi") == 0)
			idx = p->ctl * 15 + (p->unit > 7 ? p->unit - 1 : p->unit);
		else
			idx = p->ctl * 30 + p->unit;
		dev_name(name, sizeof(name), "sd", idx);
		if (!dev_taken(d, name))
			memcpy(p->dev, name, sizeof(name));
		return;
	}
	do
		dev_name(name, sizeof(name), "sd", d->n_sd++);
	while (dev_taken(d, name));
	memcpy(p->dev, name, sizeof(name));
}

/* Pass 0 names SCSI devices, as libvirt's reader does first, pass 1 SATA and IDE, pass 2
 * whoever lost its name to an earlier device, and the virtio disks. */
static void name_pass(struct dom *d, struct place *p, int pass)
{
	if (p->bus && (pass == 2 || (pass == 0) == (strcmp(p->bus, "scsi") == 0)))
		name_one(d, p, pass < 2);
}

static void place_all(struct dom *d)
{
	const struct vm *vm = d->vm;
	int pass;
	size_t i;

	for (i = 0; i < vm->n_controllers; i++)
		if (vm->controllers[i].bus == VM_BUS_SATA &&
		    vm->controllers[i].index + 1 > d->nvme_base)
			d->nvme_base = vm->controllers[i].index + 1;
	/* First every device that fits where the source put it, then the rest around them;
	 * hard disks before CD-ROMs. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < vm->n_disks; i++)
			if (disk_path(d, i) && !d->disks[i].bus)
				place(d, &d->disks[i], ctl_of(vm, vm->disks[i].controller),
				      vm->disks[i].unit, false, pass == 0);
		for (i = 0; i < vm->n_cdroms; i++)
			if (!vm->cdroms[i].floppy && !d->cds[i].bus)
				place(d, &d->cds[i], ctl_of(vm, vm->cdroms[i].controller),
				      vm->cdroms[i].unit, true, pass == 0);
	}
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < vm->n_disks; i++)
			name_pass(d, &d->disks[i], pass);
		for (i = 0; i < vm->n_cdroms; i++)
			name_pass(d, &d->cds[i], pass);
	}
}

/* ------------------------------------------------------------------------------------ */
/* The document */

static void write_address(struct dom *d, const struct place *p)
{
	if (strcmp(p->bus, "virtio") == 0)
		return;
	start(d, "address");
	attr(d, "type", "drive");
	attr_u(d, "controller", p->ctl);
	attr_u(d, "bus", p->bus_nr);
	attr(d, "target", "0");
	attr_u(d, "unit", p->unit);
	end(d);
}

/* Boot order of disk i among the disks that say one (1..), or 0. */
static unsigned boot_rank(const struct dom *d, size_t i)
{
	const struct vm *vm = d->vm;
	unsigned rank = 1;
	size_t j;

	if (vm->disks[i].boot_order <= 0 || !d->disks[i].bus)
		return 0;
	for (j = 0; j < vm->n_disks; j++)
		if (d->disks[j].bus && vm->disks[j].boot_order > 0 &&
		    (vm->disks[j].boot_order < vm->disks[i].boot_order ||
		     (vm->disks[j].boot_order == vm->disks[i].boot_order && j < i)))
			rank++;
	return rank;
}

static bool any_boot_order(const struct dom *d)
{
	size_t i;

	for (i = 0; i < d->vm->n_disks; i++)
		if (boot_rank(d, i))
			return true;
	return false;
}

static void write_disks(struct dom *d)
{
	const struct vm *vm = d->vm;
	char b[SHOW_BUF];
	bool told = false;
	unsigned rank;
	size_t i;

	for (i = 0; i < vm->n_disks; i++) {
		const struct place *p = &d->disks[i];

		if (!p->bus) {
			comment(d, "disk %zu of the source (%s) is not in this mount: left out",
				i + 1, show(b, vm->disks[i].file));
			continue;
		}
		if (!told) {
			comment(d, "The disk files below are on a read-only mount and qemu opens "
				   "disks for writing: before starting, copy each one, or point "
				   "<source> at an overlay made with: qemu-img create -f qcow2 -b "
				   "DISK.qcow2 -F qcow2 overlay.qcow2");
			told = true;
		}
		if (p->note[0])
			comment_text(d, p->note);
		start(d, "disk");
		attr(d, "type", "file");
		attr(d, "device", "disk");
		empty(d, "driver", "name", "qemu", "type", "qcow2");
		empty(d, "source", "file", disk_path(d, i), NULL, NULL);
		empty(d, "target", "dev", p->dev, "bus", p->bus);
		if (d->o->transient)
			empty(d, "transient", NULL, NULL, NULL, NULL);
		if ((rank = boot_rank(d, i))) {
			start(d, "boot");
			attr_u(d, "order", rank);
			end(d);
		}
		write_address(d, p);
		end(d);
	}
}

static void write_cdroms(struct dom *d)
{
	const struct vm *vm = d->vm;
	char b[SHOW_BUF];
	const char *path;
	size_t i;

	for (i = 0; i < vm->n_cdroms; i++) {
		const struct place *p = &d->cds[i];

		if (vm->cdroms[i].floppy) {
			comment(d, "floppy drive %zu of the source: left out", i + 1);
			continue;
		}
		if (p->note[0])
			comment_text(d, p->note);
		path = cdrom_path(d, i);
		if (vm->cdroms[i].file && !path)
			comment(d, "the source's medium %s is not in this mount: empty drive",
				show(b, vm->cdroms[i].file));
		start(d, "disk");
		attr(d, "type", "file");
		attr(d, "device", "cdrom");
		empty(d, "driver", "name", "qemu", "type", "raw");
		if (path)
			empty(d, "source", "file", path, NULL, NULL);
		empty(d, "target", "dev", p->dev, "bus", p->bus);
		empty(d, "readonly", NULL, NULL, NULL, NULL);
		write_address(d, p);
		end(d);
	}
}

static bool ctl_used(const struct dom *d, const char *bus, unsigned ctl)
{
	size_t i;

	for (i = 0; i < d->vm->n_disks; i++)
		if (d->disks[i].bus && strcmp(d->disks[i].bus, bus) == 0 && d->disks[i].ctl == ctl)
			return true;
	for (i = 0; i < d->vm->n_cdroms; i++)
		if (d->cds[i].bus && strcmp(d->cds[i].bus, bus) == 0 && d->cds[i].ctl == ctl)
			return true;
	return false;
}

/* The highest controller index any device was placed on. */
static unsigned max_ctl(const struct dom *d)
{
	unsigned m = 0;
	size_t i;

	for (i = 0; i < d->vm->n_disks; i++)
		if (d->disks[i].bus && d->disks[i].ctl > m)
			m = d->disks[i].ctl;
	for (i = 0; i < d->vm->n_cdroms; i++)
		if (d->cds[i].bus && d->cds[i].ctl > m)
			m = d->cds[i].ctl;
	return m;
}

static void write_controllers(struct dom *d)
{
	const struct vm *vm = d->vm;
	const struct vm_controller *c;
	unsigned units, idx, top = max_ctl(d);
	enum scsi_model m;
	char b[SHOW_BUF];
	const char *lv;
	size_t i;

	for (i = 0; i < vm->n_controllers; i++) {
		c = &vm->controllers[i];
		if (c->bus == VM_BUS_SCSI && scsi_ctl(vm, c->index) != c)
			comment(d,
				"SCSI controller %zu of the source repeats index %u: its "
				"devices are on the first one",
				i + 1, c->index);
	}
	/* SCSI controllers that hold a device of ours, in index order. */
	for (idx = 0; idx <= top; idx++) {
		if (!(c = scsi_ctl(vm, idx)) || !ctl_used(d, "scsi", idx))
			continue;
		m = scsi_model(c);
		lv = scsi_libvirt(m, &units);
		if (m == SCSI_BUSLOGIC)
			comment(d,
				"BusLogic SCSI controller %u in the source; qemu has no BusLogic: "
				"lsilogic",
				idx);
		else if (m == SCSI_UNKNOWN)
			comment(d,
				"SCSI controller %u in the source is \"%s\", which qemu lacks: "
				"lsilogic",
				idx, show(b, c->model));
		start(d, "controller");
		attr(d, "type", "scsi");
		attr_u(d, "index", idx);
		attr(d, "model", lv);
		end(d);
	}
	for (idx = 0; idx <= top; idx++) {
		if (!ctl_used(d, "sata", idx))
			continue;
		start(d, "controller");
		attr(d, "type", "sata");
		attr_u(d, "index", idx);
		end(d);
	}
}

enum nic_model {
	NIC_E1000,
	NIC_E1000E,
	NIC_VMXNET3,
	NIC_PCNET,
	NIC_VMXNET,
	NIC_VIRTIO,
	NIC_RTL8139
};

static const char *const nic_words[] = {
	"E1000", "E1000e", "VmxNet3", "PCNet32", "vlance",  "Flexible",
	"pcnet", "vmxnet", "vmxnet2", "virtio",	 "rtl8139",
};
static const enum nic_model nic_word_model[] = {
	NIC_E1000, NIC_E1000E, NIC_VMXNET3, NIC_PCNET,	NIC_PCNET,   NIC_PCNET,
	NIC_PCNET, NIC_VMXNET, NIC_VMXNET,  NIC_VIRTIO, NIC_RTL8139,
};
static const char *const nic_libvirt[] = {
	[NIC_E1000] = "e1000",	   [NIC_E1000E] = "e1000e", [NIC_VMXNET3] = "vmxnet3",
	[NIC_PCNET] = "pcnet",	   [NIC_VMXNET] = "e1000",  [NIC_VIRTIO] = "virtio",
	[NIC_RTL8139] = "rtl8139",
};

/* True for "xx:xx:xx:xx:xx:xx" in hex with the group bit clear: libvirt takes no
 * multicast address for a NIC. */
static bool mac_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : hex_digit(s[i]) < 0)
			return false;
	return !(hex_digit(s[1]) & 1);
}

static void write_nics(struct dom *d)
{
	const struct vm *vm = d->vm;
	const char *network = d->o->network ? d->o->network : "default";
	char b[SHOW_BUF], b2[SHOW_BUF];
	const char *model;
	size_t i, w;

	for (i = 0; i < vm->n_nics; i++) {
		const struct vm_nic *n = &vm->nics[i];
		bool known = model_word(n->model, nic_words,
					sizeof(nic_words) / sizeof(nic_words[0]), &w);

		if (d->o->virtio) {
			model = "virtio";
			comment(d, "NIC %zu is %s in the source; virtio for -o virtio", i + 1,
				show(b, n->model));
		} else if (!n->model) {
			/* VMware then picks by guest OS (vlance or e1000); e1000 is the one
			 * every guest since Windows XP and Linux 2.4 drives. */
			model = "e1000";
			comment(d, "NIC %zu has no model in the source: e1000", i + 1);
		} else if (!known) {
			model = "e1000";
			comment(d, "NIC %zu is %s in the source, which qemu lacks: e1000", i + 1,
				show(b, n->model));
		} else {
			model = nic_libvirt[nic_word_model[w]];
			if (nic_word_model[w] == NIC_VMXNET)
				comment(d,
					"NIC %zu is %s in the source; qemu has no vmxnet (1 or "
					"2), only vmxnet3: e1000",
					i + 1, show(b, n->model));
		}
		if (n->network && strcmp(n->network, d->o->bridge ? d->o->bridge : network) != 0)
			comment(d, "NIC %zu was on network \"%s\" in the source: %s \"%s\" here",
				i + 1, show(b, n->network), d->o->bridge ? "bridge" : "network",
				show(b2, d->o->bridge ? d->o->bridge : network));
		if (n->mac && !mac_ok(n->mac))
			comment(d,
				"NIC %zu has MAC address %s in the source, which is not a "
				"unicast address: libvirt picks one",
				i + 1, show(b, n->mac));
		start(d, "interface");
		if (d->o->bridge) {
			attr(d, "type", "bridge");
			empty(d, "source", "bridge", d->o->bridge, NULL, NULL);
		} else {
			attr(d, "type", "network");
			empty(d, "source", "network", network, NULL, NULL);
		}
		if (n->mac && mac_ok(n->mac))
			empty(d, "mac", "address", n->mac, NULL, NULL);
		empty(d, "model", "type", model, NULL, NULL);
		end(d);
	}
}

static void write_os(struct dom *d)
{
	const struct vm *vm = d->vm;
	bool efi = vm->firmware == VM_FW_EFI;

	start(d, "os");
	if (efi)
		attr(d, "firmware", "efi");
	if (d->pc)
		comment(d, "i440fx ('pc'): a hard disk is on IDE, which q35 lacks");
	if (vm->firmware == VM_FW_UNKNOWN)
		comment(d, "the source does not say its firmware: BIOS");
	start(d, "type");
	attr(d, "arch", "x86_64");
	attr(d, "machine", d->pc ? "pc" : "q35");
	text(d, "hvm");
	end(d);
	if (efi) {
		if (vm->secure_boot && d->pc)
			comment(d, "Secure Boot is on in the source, but OVMF's Secure Boot needs "
				   "q35: off here");
		start(d, "firmware");
		if (vm->secure_boot && !d->pc) {
			empty(d, "feature", "enabled", "yes", "name", "secure-boot");
			/* Guests signed for VMware's Secure Boot expect Microsoft's keys. */
			empty(d, "feature", "enabled", "yes", "name", "enrolled-keys");
		} else {
			empty(d, "feature", "enabled", "no", "name", "secure-boot");
		}
		end(d);
	}
	if (!any_boot_order(d))
		empty(d, "boot", "dev", "hd", NULL, NULL);
	end(d);
}

static void write_cpu(struct dom *d)
{
	const struct vm *vm = d->vm;
	unsigned vcpus = vm->vcpus ? vm->vcpus : 1, cores = vm->cores_per_socket;

	if (!vm->vcpus)
		comment(d, "the source does not say its CPU count: 1");
	start(d, "vcpu");
	attr(d, "placement", "static");
	{
		char b[16];

		snprintf(b, sizeof(b), "%u", vcpus);
		text(d, b);
	}
	end(d);
	if (cores && vcpus % cores)
		comment(d, "%u cores per socket do not divide %u vCPUs: one core per socket", cores,
			vcpus);
	/* host-model: the guest ran with the host's features under VMware, and recent guests
	 * (RHEL 9, Windows 11) refuse qemu's default CPU model. */
	start(d, "cpu");
	attr(d, "mode", "host-model");
	if (cores && vcpus % cores == 0) {
		start(d, "topology");
		attr_u(d, "sockets", vcpus / cores);
		attr_u(d, "dies", 1);
		attr_u(d, "cores", cores);
		attr_u(d, "threads", 1);
		end(d);
	}
	end(d);
}

static void write_document(struct dom *d, const char *wanted, const char *name, bool renamed)
{
	const struct vm *vm = d->vm;
	const char *os = osinfo_id(vm);
	char b[SHOW_BUF];
	uint64_t kib;

	wr(d, xmlTextWriterStartDocument(d->w, NULL, "UTF-8", NULL));
	start(d, "domain");
	attr(d, "type", "kvm");
	/* The .vmsn that holds a snapshot's own configuration is an undocumented binary
	 * container: its disks are known from the .vmsd, the rest is today's .vmx. */
	if (d->o->snapshot)
		comment(d,
			"snapshot \"%s\": its disks are the snapshot's; the other hardware is the "
			"VM's as configured now (.vmx), which may differ from when the snapshot "
			"was taken (its .vmsn is not read); no uuid, so that it can be defined "
			"beside the VM",
			show(b, d->o->snapshot));
	if (renamed)
		comment(d,
			"the source names this VM \"%s\"; libvirt refuses '/' and control "
			"characters in names and needs one: changed",
			show(b, wanted));
	start(d, "name");
	text(d, name);
	end(d);
	if (!d->o->snapshot && vm->uuid &&
	    strcmp(vm->uuid, "00000000-0000-0000-0000-000000000000") != 0) {
		start(d, "uuid");
		text(d, vm->uuid);
		end(d);
	}
	if (os) {
		start(d, "metadata");
		if (!d->r)
			wr(d, xmlTextWriterStartElementNS(
				      d->w, BAD_CAST "libosinfo", BAD_CAST "libosinfo",
				      BAD_CAST "http://libosinfo.org/xmlns/libvirt/domain/1.0"));
		if (!d->r)
			wr(d, xmlTextWriterStartElementNS(d->w, BAD_CAST "libosinfo", BAD_CAST "os",
							  NULL));
		attr(d, "id", os);
		end(d);
		end(d);
		end(d);
	}
	if (!vm->memory)
		comment(d, "the source does not say its memory size: 1 GiB");
	kib = vm->memory ? (vm->memory + 1023) / 1024 : 1048576;
	start(d, "memory");
	attr(d, "unit", "KiB");
	{
		char v[24];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)kib);
		text(d, v);
		end(d);
		start(d, "currentMemory");
		attr(d, "unit", "KiB");
		text(d, v);
		end(d);
	}
	write_cpu(d);
	write_os(d);
	start(d, "features");
	empty(d, "acpi", NULL, NULL, NULL, NULL);
	empty(d, "apic", NULL, NULL, NULL, NULL);
	if (vm->firmware == VM_FW_EFI && vm->secure_boot && !d->pc)
		empty(d, "smm", "state", "on", NULL, NULL);
	end(d);
	if (is_windows(vm))
		comment(d, "Windows keeps the hardware clock in local time");
	empty(d, "clock", "offset", is_windows(vm) ? "localtime" : "utc", NULL, NULL);

	start(d, "devices");
	write_disks(d);
	write_cdroms(d);
	write_controllers(d);
	write_nics(d);
	/* (Comments go before elements: libxml2 does not indent an end tag after one.) */
	if (vm->has_sound)
		comment(d, "sound card in the source: left out");
	if (vm->n_serial > 1)
		comment(d, "%u serial ports in the source: one console here", vm->n_serial);
	start(d, "serial");
	attr(d, "type", "pty");
	start(d, "target");
	attr(d, "port", "0");
	end(d);
	end(d);
	start(d, "console");
	attr(d, "type", "pty");
	end(d);
	empty(d, "input", "type", "tablet", "bus", "usb");
	empty(d, "graphics", "type", "vnc", "port", "-1");
	if (vm->has_video)
		comment(d, "VMware SVGA in the source; qemu's vmvga is poorly maintained and every "
			   "guest drives VGA: vga");
	start(d, "video");
	empty(d, "model", "type", "vga", NULL, NULL);
	end(d);
	end(d); /* devices */
	end(d); /* domain */
	if (!d->r)
		wr(d, xmlTextWriterEndDocument(d->w));
}

/* An absolute path libvirt accepts, or -EINVAL. */
static int check_path(const struct vm *vm, const char *what, size_t i, const char *path,
		      struct err *err)
{
	char b[SHOW_BUF], b2[SHOW_BUF];

	if (path[0] != '/' || !path[1] || !text_ok(path))
		return err_set(err, EINVAL,
			       "%s: domain.xml: %s %zu path \"%s\" is not absolute "
			       "printable UTF-8",
			       show(b2, vm->name), what, i + 1, show(b, path));
	return 0;
}

int domain_render(const struct vm *vm, const struct domain_opts *o, char **ret, size_t *ret_len,
		  struct err *err)
{
	struct dom d = { .vm = vm, .o = o };
	xmlBufferPtr buf = NULL;
	char b[SHOW_BUF], *name = NULL, *wanted = NULL, *out;
	bool renamed;
	size_t i, len;
	int r;

	for (i = 0; i < vm->n_disks; i++)
		if (disk_path(&d, i) && (r = check_path(vm, "disk", i, disk_path(&d, i), err)) < 0)
			return r;
	for (i = 0; i < vm->n_cdroms; i++)
		if (cdrom_path(&d, i) &&
		    (r = check_path(vm, "CD-ROM", i, cdrom_path(&d, i), err)) < 0)
			return r;
	if ((o->network && (!*o->network || !text_ok(o->network))) ||
	    (o->bridge && (!*o->bridge || !text_ok(o->bridge))))
		return err_set(err, EINVAL,
			       "%s: domain.xml: network or bridge name is empty or "
			       "not printable UTF-8",
			       show(b, vm->name));

	d.disks = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*d.disks));
	d.cds = calloc(vm->n_cdroms ? vm->n_cdroms : 1, sizeof(*d.cds));
	if (o->snapshot && asprintf(&wanted, "%s (snapshot %s)", vm->name ? vm->name : "vm",
				    o->snapshot) < 0)
		wanted = NULL;
	if (!d.disks || !d.cds || (o->snapshot && !wanted) ||
	    !(name = domain_name(wanted ? wanted : vm->name, &renamed))) {
		r = -ENOMEM;
		goto out;
	}
	if (!o->virtio)
		for (i = 0; i < vm->n_disks; i++) {
			const struct vm_controller *c = ctl_of(vm, vm->disks[i].controller);

			if (disk_path(&d, i) && c && c->bus == VM_BUS_IDE)
				d.pc = true;
		}
	place_all(&d);

	if (!(buf = xmlBufferCreate()) || !(d.w = xmlNewTextWriterMemory(buf, 0))) {
		r = -ENOMEM;
		goto out;
	}
	if (xmlTextWriterSetIndent(d.w, 1) < 0 ||
	    xmlTextWriterSetIndentString(d.w, BAD_CAST "  ") < 0) {
		r = -ENOMEM;
		goto out;
	}
	write_document(&d, wanted ? wanted : vm->name, name, renamed);
	xmlFreeTextWriter(d.w); /* flushes into buf */
	d.w = NULL;
	if ((r = d.r) < 0)
		goto out;
	len = (size_t)xmlBufferLength(buf);
	out = malloc(len + 1);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(out, xmlBufferContent(buf), len);
	out[len] = '\0';
	*ret = out;
	*ret_len = len;
	r = 0;
out:
	if (d.w)
		xmlFreeTextWriter(d.w);
	if (buf)
		xmlBufferFree(buf);
	free(name);
	free(wanted);
	free(d.disks);
	free(d.cds);
	if (r == -ENOMEM)
		err_set(err, ENOMEM, "%s: domain.xml: out of memory", show(b, vm->name));
	return r;
}
