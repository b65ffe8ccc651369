/* SPDX-License-Identifier: MIT */
/*
 * The OVF envelope parser: descriptor text in, struct vm_package out (see ovf.h).
 *
 * Notes on the format (DMTF DSP0243 1.1 and 2.1; DSP0004 for allocation units; what
 * VMware, VirtualBox, vCloud Director, COT and govmomi actually write as the second reading):
 *
 * - Envelope holds References (File: ovf:id, ovf:href, ovf:size, ovf:compression "gzip" or
 *   "identity", ovf:chunkSize), DiskSection (Disk: ovf:diskId, ovf:fileRef, ovf:capacity in
 *   ovf:capacityAllocationUnits, ovf:populatedSize, ovf:format), NetworkSection,
 *   DeploymentOptionSection (Configuration ovf:id, ovf:default) and one content element:
 *   a VirtualSystem or a VirtualSystemCollection of them, collections nesting.
 * - A VirtualSystem has Name, OperatingSystemSection (ovf:id is the CIM OS number,
 *   vmw:osType VMware's guest id), ProductSection and VirtualHardwareSection: a System
 *   (vssd:VirtualSystemType "vmx-13", sometimes several words) and Items, each a CIM
 *   ResourceAllocationSettingData (rasd:) keyed by ResourceType: 3 CPU, 4 memory, 5 IDE,
 *   6 SCSI, 20 other storage (SATA, NVMe, and VMware's NVDIMMs), 10 NIC, 14 floppy, 15 CD,
 *   16 DVD, 17 disk, 21 serial, 23 USB, 24 video, 35 sound (VMware: 1 with a soundcard
 *   subtype).  Devices name their controller with Parent = its InstanceID and their slot
 *   with AddressOnParent; a disk's HostResource is "ovf:/disk/<diskId>" (older writers
 *   leave out "ovf:"), a CD's may be "ovf:/file/<fileId>".  OVF 2.0 adds StorageItem (sasd:)
 *   and EthernetPortItem (epasd:) with the same children.  vmw:Config and vmw:ExtraConfig
 *   carry VMware's own keys (firmware, uuid, bootOptions.efiSecureBootEnabled, ...);
 *   VirtualBox appends its whole machine as vbox:Machine.
 * - Items and VirtualHardwareSections may carry ovf:configuration="a b": they apply only
 *   when the chosen deployment configuration (the one marked default, else the first) is
 *   in the list.  Items with ovf:bound="min"/"max" describe ranges, not the machine.
 * - OVF 0.9 (VMware's namespace, VirtualBox 2.x) spells sections as
 *   <Section xsi:type="ovf:DiskSection_Type">, content as <Content xsi:type=...> and
 *   InstanceId with a small d; these are read too.
 *
 * Namespaces: elements are matched by local name, and a namespace is only held against an
 * element when it is a known one of another vocabulary (a vcloud:Description is not an
 * OVF Description).  Real files use odd prefixes, no default namespace, misspelt CIM URIs
 * and an "ovf/envelope/3" that does not exist; they all mean the same elements.
 *
 * Hostile input: the text is capped at OVF_MAX_BYTES, and at OVF_MAX_MARKUP elements and
 * attributes, before libxml2 sees it; libxml2 runs without network, DTD loading, entity
 * substitution or XML_PARSE_HUGE (so its own limits hold: 256 levels of nesting, 10 MB
 * text nodes), and the SAX hooks stop the parse at the first entity declaration, so
 * neither "billion laughs" nor an external entity can expand.  libxml2 prints nothing:
 * its first error (the first fatal one, if any) becomes the one-line message.  Every count
 * has a cap, every number is parsed with range and overflow checks, and every string from
 * the file that goes into an error message is cut short and made printable.
 *
 * Deliberately not read: Property values (${prop} capacities stay unknown), StartupSection,
 * AnnotationSection, EulaSection, NetworkSection (only an Item's Connection name matters),
 * the vbox:Machine's own device list (the OVF items describe the same machine).
 */
#include "ovf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "../common/bounds.h"
#include "../common/cleanup.h"

/*
 * OVF_MAX_BYTES: the largest real descriptor in the corpus (vCenter appliance, 32 disks,
 * every deployment option) is 331 KB; 16 MiB leaves fifty times that and bounds the
 * document tree libxml2 builds.
 * OVF_MAX_MARKUP: libxml2 spends 150 to 250 bytes on every element, attribute and text
 * node, so 16 MiB of "<a/>" would cost half a gigabyte and seconds.  Every element,
 * comment and CDATA section starts with '<', every attribute has its '=': counting both
 * bounds the tree at a few tens of MiB.  The vCenter appliance has 5021 of them.
 * OVF_MAX_FILES / OVF_MAX_DISKS: one tar member or disk per entry; 4096 is far beyond any
 * appliance and keeps the linear look-ups cheap.
 * OVF_MAX_VMS: vApps have a handful of machines; 256 directories is plenty.
 * OVF_MAX_ITEMS: ESXi allows a few hundred devices per VM; Items beyond 1024 are garbage.
 * OVF_MAX_EXTRA: vmw:Config / ExtraConfig pairs per VM, a few dozen in practice.
 * OVF_MAX_VCPUS: KVM's own ceiling; a larger count cannot describe a real machine.
 */
#define MAX_UNIT 65535u	    /* AddressOnParent: SCSI targets, SATA ports, NVMe namespaces */
#define MAX_BUS_INDEX 1023u /* Address of a controller */
#define SHOW_MAX 48	    /* bytes of a file's string quoted in an error message */
#define SHOW_BUF (SHOW_MAX + 8)

/* Namespace families: what an element or attribute is expected to be. */
enum nsf {
	NSF_OVF,   /* the envelope: DSP0243 1.x, 2.x and VMware's 0.9 */
	NSF_CIM,   /* rasd, vssd, sasd, epasd, pasd: the children of System and Items */
	NSF_VMW,   /* http://www.vmware.com/schema/ovf */
	NSF_VBOX,  /* http://www.virtualbox.org/ovf/machine */
	NSF_OTHER, /* known, but nothing we read (vcloud, xsi, cim common) */
	NSF_ANY,   /* whatever the namespace */
};

#define CIM_SCHEMA "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"

static const struct {
	const char *uri;
	enum nsf fam;
} known_ns[] = {
	{ "http://schemas.dmtf.org/ovf/envelope/1", NSF_OVF },
	{ "http://schemas.dmtf.org/ovf/envelope/2", NSF_OVF },
	{ "http://www.vmware.com/schema/ovf/1/envelope", NSF_OVF },
	{ CIM_SCHEMA "CIM_ResourceAllocationSettingData", NSF_CIM },
	{ CIM_SCHEMA "CIM_VirtualSystemSettingData", NSF_CIM },
	{ CIM_SCHEMA "CIM_StorageAllocationSettingData", NSF_CIM },
	{ CIM_SCHEMA "CIM_EthernetPortAllocationSettingData", NSF_CIM },
	{ CIM_SCHEMA "CIM_ProcessorAllocationSettingData", NSF_CIM },
	{ "http://www.vmware.com/schema/ovf", NSF_VMW },
	{ "http://www.virtualbox.org/ovf/machine", NSF_VBOX },
	{ "http://www.vmware.com/vcloud/v1", NSF_OTHER },
	{ "http://www.vmware.com/vcloud/v1.5", NSF_OTHER },
	{ "http://schemas.dmtf.org/wbem/wscim/1/common", NSF_OTHER },
	{ "http://www.w3.org/2001/XMLSchema-instance", NSF_OTHER },
	{ "http://www.w3.org/XML/1998/namespace", NSF_OTHER },
};

/* A disk of the DiskSection, before a VM's Item refers to it. */
struct ovf_disk {
	char *id;
	const struct vm_file *file; /* NULL for a blank disk */
	uint64_t capacity, populated;
	char *format;
};

struct ovf {
	const char *name;
	struct err *err;
	struct vm_package *pkg;
	size_t vms_cap;
	struct ovf_disk *disks;
	size_t n_disks;
	char *config; /* the chosen deployment configuration, NULL when there is none */
};

/* One applicable Item of a VirtualHardwareSection, its children as text. */
struct item {
	xmlNode *node;
	char label[2 * SHOW_BUF + 32]; /* "VirtualSystem vm: Item 4" for messages */
	unsigned long type;	       /* ResourceType, 0 when absent */
	char *iid, *subtype, *parent, *address, *bus_number, *aop, *host, *connection;
	char *quantity, *units;
};

/* ------------------------------------------------------------------------------------ */
/* Small helpers */

/* Copy s into buf (SHOW_BUF bytes) cut to SHOW_MAX bytes at a character boundary, with
 * control characters made '?', so a hostile string stays one short line. */
static const char *show(char *buf, const char *s)
{
	size_t n, i;

	if (!s)
		return "(none)";
	n = strlen(s);
	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (n < strlen(s))
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

static int ovf_err(struct ovf *o, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record "name: <message>" in o->err; return -code. */
static int ovf_err(struct ovf *o, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(o->err, code, "%s: %s", o->name, msg);
}

static int oom(struct ovf *o)
{
	return ovf_err(o, ENOMEM, "out of memory");
}

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A malloc'd copy of s without leading and trailing white space; NULL only on ENOMEM. */
static char *dup_trim(const char *s)
{
	size_t n;

	while (is_xml_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_xml_space(s[n - 1]))
		n--;
	return strndup(s, n);
}

/* Parse a whole decimal number: digits only (white space around is allowed), no sign, no
 * overflow. 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	while (is_xml_space(*s))
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (is_xml_space(*end))
		end++;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Bytes per allocation unit: DSP0004 programmatic units as OVF writers use them ("byte",
 * "byte * 2^30", "byte*1024*1024", "byte * 10^9") and the older CIM words ("MegaBytes").
 * 0 or -EINVAL (not understood) / -ERANGE (over 2^64). */
static int parse_units(const char *s, uint64_t *ret)
{
	static const struct {
		const char *word;
		unsigned shift;
	} words[] = {
		{ "byte", 0 },	     { "bytes", 0 },	  { "kilobytes", 10 },
		{ "megabytes", 20 }, { "gigabytes", 30 }, { "terabytes", 40 },
	};
	uint64_t v = 1;
	size_t i;

	while (is_xml_space(*s))
		s++;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if (strncasecmp(s, words[i].word, n) == 0) {
			const char *t = s + n;

			while (is_xml_space(*t))
				t++;
			if (*t == '\0') {
				*ret = UINT64_C(1) << words[i].shift;
				return 0;
			}
		}
	}
	if (strncasecmp(s, "byte", 4) != 0)
		return -EINVAL;
	s += 4;
	for (;;) {
		uint64_t base, exp, f = 1;
		char *end;

		while (is_xml_space(*s))
			s++;
		if (*s == '\0')
			break;
		if (*s != '*')
			return -EINVAL;
		s++;
		while (is_xml_space(*s))
			s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		base = strtoull(s, &end, 10);
		if (errno)
			return -ERANGE;
		s = end;
		while (is_xml_space(*s))
			s++;
		if (*s == '^') {
			s++;
			while (is_xml_space(*s))
				s++;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			errno = 0;
			exp = strtoull(s, &end, 10);
			if (errno || exp > 64)
				return -ERANGE;
			s = end;
			while (exp--)
				if (CHECKED_MUL(f, base, &f))
					return -ERANGE;
		} else {
			f = base;
		}
		if (CHECKED_MUL(v, f, &v))
			return -ERANGE;
	}
	if (v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Canonical lower-case 8-4-4-4-12 form of a UUID written with or without dashes, spaces
 * or braces ("{39a69c87-...}", VMware's "56 4d 9e ... -..."), in out[37]; false when s is
 * not 32 hex digits. */
static bool uuid_norm(const char *s, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned nd = 0, o = 0;

	for (; *s; s++) {
		const char *p;

		if (*s == '-' || *s == '{' || *s == '}' || is_xml_space(*s))
			continue;
		p = strchr(hex, *s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
		if (!p || nd == 32)
			return false;
		if (nd == 8 || nd == 12 || nd == 16 || nd == 20)
			out[o++] = '-';
		out[o++] = *p;
		nd++;
	}
	out[o] = '\0';
	return nd == 32;
}

/* Canonical "xx:xx:xx:xx:xx:xx" lower case of a MAC written with ':' or '-' separators or
 * as 12 bare hex digits (VirtualBox), in out[18]; false when it is none of those. */
static bool mac_norm(const char *s, char out[18])
{
	size_t n = strlen(s), i, d = 0;
	bool sep = n == 17;

	if (n != 17 && n != 12)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (sep && i % 3 == 2) {
			if (c != ':' && c != '-')
				return false;
			out[d++] = ':';
			continue;
		}
		if (c >= 'A' && c <= 'F')
			c = c - 'A' + 'a';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[d++] = c;
		if (!sep && i % 2 == 1 && i != 11)
			out[d++] = ':';
	}
	out[d] = '\0';
	return true;
}

/* ------------------------------------------------------------------------------------ */
/* Tree access, tolerant of namespaces */

static enum nsf ns_family(const xmlNs *ns)
{
	size_t i;

	if (!ns || !ns->href)
		return NSF_ANY;
	for (i = 0; i < sizeof(known_ns) / sizeof(known_ns[0]); i++)
		if (strcmp((const char *)ns->href, known_ns[i].uri) == 0)
			return known_ns[i].fam;
	return NSF_ANY;
}

/* Whether a node or attribute in namespace ns may be the fam-vocabulary thing: no
 * namespace, an unknown one, the expected one, or the envelope's (writers that leave out a
 * prefix put everything in the default OVF namespace). */
static bool ns_ok(const xmlNs *ns, enum nsf fam)
{
	enum nsf f = ns_family(ns);

	return fam == NSF_ANY || f == NSF_ANY || f == fam || f == NSF_OVF;
}

/* The local part of an element or attribute name.  An undeclared prefix is only a
 * namespace error to libxml2, which then keeps "vmw:Config" whole as the name, without a
 * namespace: what follows the colon is what the writer meant. */
static const char *local_name(const xmlChar *name, const xmlNs *ns)
{
	const char *s = (const char *)name, *colon;

	if (ns || !(colon = strchr(s, ':')))
		return s;
	return colon + 1;
}

static bool el_is(const xmlNode *n, enum nsf fam, const char *local)
{
	return n->type == XML_ELEMENT_NODE && strcmp(local_name(n->name, n->ns), local) == 0 &&
	       ns_ok(n->ns, fam);
}

/* The attribute local of n, preferring one in the expected family; borrowed, or NULL. */
static xmlAttr *attr_node(const xmlNode *n, enum nsf fam, const char *local)
{
	xmlAttr *a, *found = NULL;

	for (a = n->properties; a; a = a->next) {
		if (strcmp(local_name(a->name, a->ns), local) != 0 || !ns_ok(a->ns, fam))
			continue;
		if (fam != NSF_ANY && ns_family(a->ns) == fam)
			return a;
		if (!found)
			found = a;
	}
	return found;
}

/* *ret = malloc'd value of attribute local (without surrounding white space when trim),
 * or NULL when absent. 0 or -ENOMEM. */
static int attr_value(struct ovf *o, const xmlNode *n, enum nsf fam, const char *local, bool trim,
		      char **ret)
{
	xmlAttr *a = attr_node(n, fam, local);
	const char *s;
	xmlChar *v;

	*ret = NULL;
	if (!a)
		return 0;
	v = xmlNodeListGetString(n->doc, a->children, 1);
	s = v ? (const char *)v : "";
	*ret = trim ? dup_trim(s) : strdup(s);
	xmlFree(v);
	return *ret ? 0 : oom(o);
}

/* Identifiers, numbers and names: leading and trailing white space is not part of them. */
static int attr_get(struct ovf *o, const xmlNode *n, enum nsf fam, const char *local, char **ret)
{
	return attr_value(o, n, fam, local, true, ret);
}

/* Whether n is the section called name: <name> or, in OVF 0.9,
 * <Section xsi:type="ovf:name_Type"> (also <Content> for the content types). */
static bool section_is(const xmlNode *n, const char *name)
{
	xmlAttr *a;
	xmlChar *t;
	const char *local;
	bool r;

	if (el_is(n, NSF_OVF, name))
		return true;
	if (!el_is(n, NSF_OVF, "Section") && !el_is(n, NSF_OVF, "Content"))
		return false;
	a = attr_node(n, NSF_OTHER, "type");
	if (!a)
		return false;
	t = xmlNodeListGetString(n->doc, a->children, 1);
	if (!t)
		return false;
	local = strchr((const char *)t, ':');
	local = local ? local + 1 : (const char *)t;
	r = strncmp(local, name, strlen(name)) == 0 && strcmp(local + strlen(name), "_Type") == 0;
	xmlFree(t);
	return r;
}

static xmlNode *child(const xmlNode *n, enum nsf fam, const char *local)
{
	xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (el_is(c, fam, local))
			return c;
	return NULL;
}

/* *ret = malloc'd, trimmed text of the first child element local, or NULL when there is
 * none. 0 or -ENOMEM. */
static int child_text(struct ovf *o, const xmlNode *n, enum nsf fam, const char *local, char **ret)
{
	xmlNode *c = child(n, fam, local);
	xmlChar *v;

	*ret = NULL;
	if (!c)
		return 0;
	v = xmlNodeGetContent(c);
	*ret = dup_trim(v ? (const char *)v : "");
	xmlFree(v);
	return *ret ? 0 : oom(o);
}

/* Like child_text, but an empty text counts as absent. */
static int child_text_nonempty(struct ovf *o, const xmlNode *n, enum nsf fam, const char *local,
			       char **ret)
{
	int r = child_text(o, n, fam, local, ret);

	if (r == 0 && *ret && !**ret) {
		free(*ret);
		*ret = NULL;
	}
	return r;
}

static size_t count_children(const xmlNode *n, enum nsf fam, const char *local)
{
	const xmlNode *c;
	size_t k = 0;

	for (c = n->children; c; c = c->next)
		if (el_is(c, fam, local))
			k++;
	return k;
}

/* ------------------------------------------------------------------------------------ */
/* libxml2, locked down */

struct xml_state {
	bool entity; /* the document declared an entity: refused */
	char entity_name[SHOW_BUF];
	bool have_fatal, have_error;
	int fatal_line, error_line;
	char fatal_msg[200], error_msg[200];
};

static void xml_record(struct xml_state *st, const xmlError *e)
{
	char *msg, *line;
	int *lp;
	bool *have;

	if (!e || e->level < XML_ERR_ERROR)
		return;
	if (e->level == XML_ERR_FATAL) {
		have = &st->have_fatal, msg = st->fatal_msg, lp = &st->fatal_line;
	} else {
		have = &st->have_error, msg = st->error_msg, lp = &st->error_line;
	}
	if (*have)
		return;
	*have = true;
	*lp = e->line;
	snprintf(msg, sizeof(st->fatal_msg), "%s", e->message ? e->message : "unknown error");
	/* libxml2 ends its messages with a newline; ours are one line. */
	for (line = msg; *line; line++)
		if ((unsigned char)*line < 0x20)
			*line = ' ';
	while (line > msg && line[-1] == ' ')
		*--line = '\0';
}

static void xml_serror_ctxt(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;

	xml_record(ctxt->_private, e);
}

static void xml_serror_global(void *data, xmlErrorPtr e)
{
	xml_record(data, e);
}

static void xml_generic_quiet(void *data, const char *fmt, ...)
{
	(void)data;
	(void)fmt;
}

static void xml_refuse_entity(xmlParserCtxtPtr ctxt, const xmlChar *name)
{
	struct xml_state *st = ctxt->_private;

	if (!st->entity) {
		st->entity = true;
		show(st->entity_name, (const char *)name);
	}
	xmlStopParser(ctxt);
}

static void xml_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
			    const xmlChar *system_id, xmlChar *content)
{
	(void)type, (void)public_id, (void)system_id, (void)content;
	xml_refuse_entity(ctx, name);
}

static void xml_unparsed_entity_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
				     const xmlChar *system_id, const xmlChar *notation)
{
	(void)public_id, (void)system_id, (void)notation;
	xml_refuse_entity(ctx, name);
}

static xmlParserInputPtr xml_no_resolve(void *ctx, const xmlChar *public_id,
					const xmlChar *system_id)
{
	(void)ctx, (void)public_id, (void)system_id;
	return NULL;
}

/* Parse text into *ret with everything that reaches outside the text switched off, and
 * libxml2 silenced: its first error becomes err. 0 or -errno. */
static int xml_read(struct ovf *o, const char *text, size_t len, xmlDocPtr *ret)
{
	xmlStructuredErrorFunc old_serror = xmlStructuredError;
	void *old_sctx = xmlStructuredErrorContext;
	xmlGenericErrorFunc old_generic = xmlGenericError;
	void *old_gctx = xmlGenericErrorContext;
	struct xml_state st = { 0 };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int r = 0;

	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return oom(o);
	ctxt->_private = &st;
	/* The SAX handler belongs to this context: hooking it changes no other parse. */
	ctxt->sax->serror = xml_serror_ctxt;
	ctxt->sax->entityDecl = xml_entity_decl;
	ctxt->sax->unparsedEntityDecl = xml_unparsed_entity_decl;
	ctxt->sax->resolveEntity = xml_no_resolve;
	ctxt->sax->externalSubset = NULL;
	/* Errors raised outside the context (memory, encoding set-up) use the per-thread
	 * handlers: silence those for the duration too. */
	xmlSetStructuredErrorFunc(&st, xml_serror_global);
	xmlSetGenericErrorFunc(NULL, xml_generic_quiet);

	/* Not XML_PARSE_NOENT (substitute entities), not XML_PARSE_DTDLOAD / DTDATTR /
	 * DTDVALID (read the DTD), not XML_PARSE_HUGE (lift the depth and size limits),
	 * not XML_PARSE_XINCLUDE. */
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_NOCDATA | XML_PARSE_COMPACT);

	xmlSetStructuredErrorFunc(old_sctx, old_serror);
	xmlSetGenericErrorFunc(old_gctx, old_generic);

	if (st.entity ||
	    (doc && doc->intSubset && (doc->intSubset->entities || doc->intSubset->pentities))) {
		char b[SHOW_BUF];

		r = ovf_err(o, EINVAL,
			    "OVF descriptor declares XML entity \"%s\" in its DOCTYPE; "
			    "entities are refused",
			    st.entity ? st.entity_name : show(b, "?"));
	} else if (!doc || !ctxt->wellFormed) {
		if (st.have_fatal)
			r = ovf_err(o, EINVAL, "OVF XML error at line %d: %s", st.fatal_line,
				    st.fatal_msg);
		else if (st.have_error)
			r = ovf_err(o, EINVAL, "OVF XML error at line %d: %s", st.error_line,
				    st.error_msg);
		else
			r = ovf_err(o, EINVAL, "OVF XML error: the document could not be parsed");
	}
	if (r < 0) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	*ret = doc;
	return r;
}

/* ------------------------------------------------------------------------------------ */
/* References, DiskSection, DeploymentOptionSection */

static int parse_references(struct ovf *o, xmlNode *refs)
{
	struct vm_package *p = o->pkg;
	size_t n = count_children(refs, NSF_OVF, "File");
	char b1[SHOW_BUF], b2[SHOW_BUF];
	xmlNode *c;
	int r;

	if (p->files)
		return ovf_err(o, EINVAL, "more than one References element");
	if (n > OVF_MAX_FILES)
		return ovf_err(o, EFBIG, "References has %zu File elements, over the cap of %u", n,
			       OVF_MAX_FILES);
	if (n == 0)
		return 0;
	p->files = calloc(n, sizeof(*p->files));
	if (!p->files)
		return oom(o);
	for (c = refs->children; c; c = c->next) {
		CLEANUP_FREE char *size = NULL, *comp = NULL, *chunk = NULL;
		struct vm_file *f;
		size_t i;

		if (!el_is(c, NSF_OVF, "File"))
			continue;
		f = &p->files[p->n_files++];
		if ((r = attr_get(o, c, NSF_OVF, "id", &f->id)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "href", &f->href)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "size", &size)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "compression", &comp)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "chunkSize", &chunk)) < 0)
			return r;
		if (!f->id || !*f->id)
			return ovf_err(o, EINVAL, "References/File %zu: no ovf:id", p->n_files);
		for (i = 0; i + 1 < p->n_files; i++)
			if (strcmp(p->files[i].id, f->id) == 0)
				return ovf_err(o, EINVAL,
					       "References/File %s: ovf:id is used twice",
					       show(b1, f->id));
		if (!f->href || !*f->href)
			return ovf_err(o, EINVAL, "References/File %s: no ovf:href",
				       show(b1, f->id));
		if (size) {
			if (parse_u64(size, &f->size) < 0)
				return ovf_err(o, EINVAL,
					       "References/File %s: size \"%s\" is not a number",
					       show(b1, f->id), show(b2, size));
			f->has_size = true;
		}
		if (comp && strcmp(comp, "gzip") == 0)
			f->gzip = true;
		else if (comp && *comp && strcmp(comp, "identity") != 0)
			return ovf_err(o, ENOTSUP,
				       "References/File %s: compression \"%s\" is not supported "
				       "(only gzip)",
				       show(b1, f->id), show(b2, comp));
		if (chunk && (parse_u64(chunk, &f->chunk_size) < 0 || f->chunk_size == 0))
			return ovf_err(o, EINVAL,
				       "References/File %s: chunkSize \"%s\" is not a positive "
				       "number",
				       show(b1, f->id), show(b2, chunk));
	}
	return 0;
}

/* Capacity s (a number, or a ${property} this parser does not evaluate: 0) times units. */
static int parse_capacity(struct ovf *o, const char *id, const char *s, const char *units,
			  uint64_t *ret)
{
	char b1[SHOW_BUF], b2[SHOW_BUF];
	uint64_t v, u = 1;
	int r;

	*ret = 0;
	if (strncmp(s, "${", 2) == 0)
		return 0;
	if (parse_u64(s, &v) < 0)
		return ovf_err(o, EINVAL, "DiskSection/Disk %s: capacity \"%s\" is not a number",
			       show(b1, id), show(b2, s));
	if (units && (r = parse_units(units, &u)) < 0)
		return ovf_err(o, EINVAL, "DiskSection/Disk %s: capacityAllocationUnits \"%s\" %s",
			       show(b1, id), show(b2, units),
			       r == -ERANGE ? "overflows" : "is not a byte unit");
	if (CHECKED_MUL(v, u, ret))
		return ovf_err(o, EINVAL,
			       "DiskSection/Disk %s: capacity %" PRIu64 " * %" PRIu64
			       " bytes overflows",
			       show(b1, id), v, u);
	return 0;
}

static int parse_disk_section(struct ovf *o, xmlNode *sec)
{
	size_t n = count_children(sec, NSF_OVF, "Disk");
	char b1[SHOW_BUF], b2[SHOW_BUF];
	struct ovf_disk *disks;
	xmlNode *c;
	int r;

	if (n == 0)
		return 0;
	if (n > OVF_MAX_DISKS - o->n_disks)
		return ovf_err(o, EFBIG, "DiskSection has more than %u Disk elements",
			       OVF_MAX_DISKS);
	disks = reallocarray(o->disks, o->n_disks + n, sizeof(*disks));
	if (!disks)
		return oom(o);
	o->disks = disks;
	for (c = sec->children; c; c = c->next) {
		CLEANUP_FREE char *file_ref = NULL, *cap = NULL, *units = NULL, *pop = NULL;
		struct ovf_disk *d;
		size_t i;

		if (!el_is(c, NSF_OVF, "Disk"))
			continue;
		d = &o->disks[o->n_disks++];
		memset(d, 0, sizeof(*d));
		if ((r = attr_get(o, c, NSF_OVF, "diskId", &d->id)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "fileRef", &file_ref)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "capacity", &cap)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "capacityAllocationUnits", &units)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "populatedSize", &pop)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "format", &d->format)) < 0)
			return r;
		if (!d->id || !*d->id)
			return ovf_err(o, EINVAL, "DiskSection/Disk %zu: no ovf:diskId",
				       o->n_disks);
		for (i = 0; i + 1 < o->n_disks; i++)
			if (strcmp(o->disks[i].id, d->id) == 0)
				return ovf_err(o, EINVAL,
					       "DiskSection/Disk %s: diskId is used twice",
					       show(b1, d->id));
		if (file_ref && *file_ref) {
			d->file = vm_package_file(o->pkg, file_ref);
			if (!d->file)
				return ovf_err(o, EINVAL,
					       "DiskSection/Disk %s: fileRef \"%s\" names no File "
					       "in References",
					       show(b1, d->id), show(b2, file_ref));
		}
		if (cap && (r = parse_capacity(o, d->id, cap, units, &d->capacity)) < 0)
			return r;
		if (pop && parse_u64(pop, &d->populated) < 0)
			return ovf_err(o, EINVAL,
				       "DiskSection/Disk %s: populatedSize \"%s\" is not a number",
				       show(b1, d->id), show(b2, pop));
	}
	return 0;
}

static const struct ovf_disk *find_disk(const struct ovf *o, const char *id)
{
	size_t i;

	for (i = 0; i < o->n_disks; i++)
		if (strcmp(o->disks[i].id, id) == 0)
			return &o->disks[i];
	return NULL;
}

/* The configuration marked ovf:default="true", else the first one (DSP0243 9.8). */
static int parse_deployment(struct ovf *o, xmlNode *sec)
{
	char *first = NULL;
	xmlNode *c;
	int r;

	if (o->config)
		return 0;
	for (c = sec->children; c; c = c->next) {
		CLEANUP_FREE char *id = NULL, *def = NULL;

		if (!el_is(c, NSF_OVF, "Configuration"))
			continue;
		if ((r = attr_get(o, c, NSF_OVF, "id", &id)) < 0 ||
		    (r = attr_get(o, c, NSF_OVF, "default", &def)) < 0)
			goto out;
		if (!id || !*id)
			continue;
		if (def && (strcasecmp(def, "true") == 0 || strcmp(def, "1") == 0)) {
			o->config = TAKE_PTR(id);
			break;
		}
		if (!first)
			first = TAKE_PTR(id);
	}
	if (!o->config)
		o->config = TAKE_PTR(first);
	r = 0;
out:
	free(first);
	return r;
}

/* Whether a configuration-dependent element (ovf:configuration="a b") applies to the
 * chosen configuration; with no configurations declared, everything applies. */
static int applies(struct ovf *o, const xmlNode *n, bool *ret)
{
	CLEANUP_FREE char *cfg = NULL, *bound = NULL;
	char *tok, *save;
	int r;

	*ret = true;
	if ((r = attr_get(o, n, NSF_ANY, "bound", &bound)) < 0 ||
	    (r = attr_get(o, n, NSF_ANY, "configuration", &cfg)) < 0)
		return r;
	/* min and max describe the range a deployer may choose from, normal the machine. */
	if (bound && (strcmp(bound, "min") == 0 || strcmp(bound, "max") == 0)) {
		*ret = false;
		return 0;
	}
	if (!cfg || !*cfg || !o->config)
		return 0;
	*ret = false;
	for (tok = strtok_r(cfg, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save))
		if (strcmp(tok, o->config) == 0)
			*ret = true;
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* VirtualSystem */

static void item_clear(struct item *it)
{
	free(it->iid);
	free(it->subtype);
	free(it->parent);
	free(it->address);
	free(it->bus_number);
	free(it->aop);
	free(it->host);
	free(it->connection);
	free(it->quantity);
	free(it->units);
}

static int item_read(struct ovf *o, const char *vs, xmlNode *n, size_t pos, struct item *it)
{
	CLEANUP_FREE char *type = NULL;
	char b1[SHOW_BUF], b2[SHOW_BUF];
	uint64_t t;
	int r;

	it->node = n;
	if ((r = child_text_nonempty(o, n, NSF_CIM, "InstanceID", &it->iid)) < 0 ||
	    (!it->iid && (r = child_text_nonempty(o, n, NSF_CIM, "InstanceId", &it->iid)) < 0) ||
	    (r = child_text(o, n, NSF_CIM, "ResourceType", &type)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "ResourceSubType", &it->subtype)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "Parent", &it->parent)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "Address", &it->address)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "BusNumber", &it->bus_number)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "AddressOnParent", &it->aop)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "HostResource", &it->host)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "Connection", &it->connection)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "VirtualQuantity", &it->quantity)) < 0 ||
	    (r = child_text_nonempty(o, n, NSF_CIM, "AllocationUnits", &it->units)) < 0)
		return r;
	if (it->iid)
		snprintf(it->label, sizeof(it->label), "VirtualSystem %s: Item %s", vs,
			 show(b1, it->iid));
	else
		snprintf(it->label, sizeof(it->label), "VirtualSystem %s: Item #%zu", vs, pos);
	if (type && *type) {
		if (parse_u64(type, &t) < 0 || t > 0xffff)
			return ovf_err(o, EINVAL, "%s: ResourceType \"%s\" is not a number",
				       it->label, show(b2, type));
		it->type = t;
	}
	return 0;
}

/* A number field of an item within [0, max]; absent leaves *ret alone. */
static int item_num(struct ovf *o, const struct item *it, const char *field, const char *s,
		    uint64_t max, uint64_t *ret)
{
	char b[SHOW_BUF];
	uint64_t v;

	if (!s)
		return 0;
	if (parse_u64(s, &v) < 0)
		return ovf_err(o, EINVAL, "%s: %s \"%s\" is not a number", it->label, field,
			       show(b, s));
	if (v > max)
		return ovf_err(o, EINVAL, "%s: %s %" PRIu64 " is over the limit of %" PRIu64,
			       it->label, field, v, max);
	*ret = v;
	return 0;
}

static bool contains_ci(const char *s, const char *needle)
{
	return s && strcasestr(s, needle);
}

/* Which controller an item is, if any: IDE, SCSI, SATA or NVMe (ResourceType 20 by its
 * subtype; VMware's NVDIMM controller is not one), USB. */
static bool item_controller(const struct item *it, enum vm_bus *bus)
{
	switch (it->type) {
	case 5:
		*bus = VM_BUS_IDE;
		return true;
	case 6:
		*bus = VM_BUS_SCSI;
		return true;
	case 20:
		if (contains_ci(it->subtype, "nvdimm"))
			return false;
		if (contains_ci(it->subtype, "nvme"))
			*bus = VM_BUS_NVME;
		else if (contains_ci(it->subtype, "sata") || contains_ci(it->subtype, "ahci"))
			*bus = VM_BUS_SATA;
		else
			*bus = VM_BUS_UNKNOWN;
		return true;
	case 23:
		*bus = VM_BUS_USB;
		return true;
	default:
		return false;
	}
}

static int add_controller(struct ovf *o, struct vm *vm, const struct item *it, enum vm_bus bus)
{
	struct vm_controller *c = &vm->controllers[vm->n_controllers];
	uint64_t idx = 0;
	size_t i;
	int r;

	/* Address, else BusNumber (OVF 0.9), else the order among its kind. */
	for (i = 0; i < vm->n_controllers; i++)
		if (vm->controllers[i].bus == bus)
			idx++;
	if ((r = item_num(o, it, "BusNumber", it->bus_number, MAX_BUS_INDEX, &idx)) < 0 ||
	    (r = item_num(o, it, "Address", it->address, MAX_BUS_INDEX, &idx)) < 0)
		return r;
	c->bus = bus;
	c->index = idx;
	if ((it->subtype && !(c->model = strdup(it->subtype))) ||
	    (it->iid && !(c->instance_id = strdup(it->iid))))
		return oom(o);
	vm->n_controllers++;
	return 0;
}

/* The controller a device names with Parent (-1 without one), and its unit. */
static int item_place(struct ovf *o, const struct vm *vm, const struct item *it, int *ctl,
		      int *unit)
{
	char b[SHOW_BUF];
	uint64_t u;
	size_t i;
	int r;

	*ctl = -1;
	*unit = -1;
	if (it->parent) {
		for (i = 0; i < vm->n_controllers; i++)
			if (vm->controllers[i].instance_id &&
			    strcmp(vm->controllers[i].instance_id, it->parent) == 0)
				break;
		if (i == vm->n_controllers)
			return ovf_err(o, EINVAL, "%s: Parent \"%s\" names no controller Item",
				       it->label, show(b, it->parent));
		*ctl = (int)i;
	}
	if (it->aop) {
		if ((r = item_num(o, it, "AddressOnParent", it->aop, MAX_UNIT, &u)) < 0)
			return r;
		*unit = (int)u;
	}
	return 0;
}

/* The id after "ovf:/<kind>/" or "/<kind>/" in a HostResource, or NULL. */
static const char *host_ref(const char *host, const char *kind)
{
	size_t n = strlen(kind);

	if (strncmp(host, "ovf:", 4) == 0)
		host += 4;
	if (host[0] != '/' || strncmp(host + 1, kind, n) != 0 || host[n + 1] != '/')
		return NULL;
	return host + n + 2;
}

/* Quantity times units, units defaulting to def_units (what the field means bare). */
static int item_bytes(struct ovf *o, const struct item *it, const char *def_units, uint64_t *ret)
{
	char b1[SHOW_BUF];
	uint64_t v = 0, u;
	int r;

	if ((r = item_num(o, it, "VirtualQuantity", it->quantity, UINT64_MAX, &v)) < 0)
		return r;
	r = parse_units(it->units ? it->units : def_units, &u);
	if (r < 0)
		return ovf_err(o, EINVAL, "%s: AllocationUnits \"%s\" %s", it->label,
			       show(b1, it->units),
			       r == -ERANGE ? "overflows" : "is not a byte unit");
	if (CHECKED_MUL(v, u, ret))
		return ovf_err(o, EINVAL,
			       "%s: VirtualQuantity %" PRIu64 " * %" PRIu64 " bytes overflows",
			       it->label, v, u);
	return 0;
}

static int add_disk(struct ovf *o, struct vm *vm, const struct item *it)
{
	struct vm_disk *d = &vm->disks[vm->n_disks];
	char b1[SHOW_BUF];
	const char *ref;
	int r;

	d->controller = d->unit = -1;
	vm->n_disks++;
	if ((r = item_place(o, vm, it, &d->controller, &d->unit)) < 0)
		return r;
	if (!it->host) {
		/* A blank disk described by its size alone (govmomi's ConfigSpec style). */
		return it->quantity ? item_bytes(o, it, "byte", &d->capacity) : 0;
	}
	if ((ref = host_ref(it->host, "disk"))) {
		const struct ovf_disk *od = find_disk(o, ref);

		if (!od)
			return ovf_err(o, EINVAL,
				       "%s: HostResource \"%s\" names no Disk in DiskSection",
				       it->label, show(b1, it->host));
		d->capacity = od->capacity;
		d->populated = od->populated;
		if (!(d->disk_id = strdup(od->id)) ||
		    (od->file && (!(d->file = strdup(od->file->href)) ||
				  !(d->file_ref = strdup(od->file->id)))) ||
		    (od->format && !(d->format = strdup(od->format))))
			return oom(o);
		return 0;
	}
	if ((ref = host_ref(it->host, "file"))) {
		const struct vm_file *f = vm_package_file(o->pkg, ref);

		if (!f)
			return ovf_err(o, EINVAL,
				       "%s: HostResource \"%s\" names no File in References",
				       it->label, show(b1, it->host));
		if (!(d->file = strdup(f->href)) || !(d->file_ref = strdup(f->id)))
			return oom(o);
		return 0;
	}
	return ovf_err(o, EINVAL, "%s: HostResource \"%s\" names no Disk in DiskSection", it->label,
		       show(b1, it->host));
}

static int add_cdrom(struct ovf *o, struct vm *vm, const struct item *it)
{
	struct vm_cdrom *cd = &vm->cdroms[vm->n_cdroms];
	const struct vm_file *f = NULL;
	char b1[SHOW_BUF];
	const char *ref;
	int r;

	cd->controller = cd->unit = -1;
	cd->floppy = it->type == 14;
	vm->n_cdroms++;
	if ((r = item_place(o, vm, it, &cd->controller, &cd->unit)) < 0)
		return r;
	if (it->host && (ref = host_ref(it->host, "file"))) {
		f = vm_package_file(o->pkg, ref);
		if (!f)
			return ovf_err(o, EINVAL,
				       "%s: HostResource \"%s\" names no File in References",
				       it->label, show(b1, it->host));
	} else if (it->host && (ref = host_ref(it->host, "disk"))) {
		const struct ovf_disk *od = find_disk(o, ref);

		if (!od)
			return ovf_err(o, EINVAL,
				       "%s: HostResource \"%s\" names no Disk in DiskSection",
				       it->label, show(b1, it->host));
		f = od->file;
	}
	/* Anything else ("", a host device path) is no media of the export. */
	if (f && (!(cd->file = strdup(f->href)) || !(cd->file_ref = strdup(f->id))))
		return oom(o);
	return 0;
}

static int add_nic(struct ovf *o, struct vm *vm, const struct item *it)
{
	struct vm_nic *nic = &vm->nics[vm->n_nics];
	char b1[SHOW_BUF], mac[18];

	nic->index = vm->n_nics++;
	if (it->address) {
		if (!mac_norm(it->address, mac))
			return ovf_err(o, EINVAL, "%s: Address \"%s\" is not a MAC address",
				       it->label, show(b1, it->address));
		if (!(nic->mac = strdup(mac)))
			return oom(o);
	}
	if ((it->subtype && !(nic->model = strdup(it->subtype))) ||
	    (it->connection && !(nic->network = strdup(it->connection))))
		return oom(o);
	return 0;
}

/* *ret = malloc'd value of the item's own vmw:Config key (videoRamSizeInKB, ...), or NULL. */
static int item_config(struct ovf *o, const struct item *it, const char *key, char **ret)
{
	xmlNode *c;
	int r;

	*ret = NULL;
	for (c = it->node->children; c; c = c->next) {
		CLEANUP_FREE char *k = NULL;

		if (!el_is(c, NSF_VMW, "Config"))
			continue;
		if ((r = attr_get(o, c, NSF_VMW, "key", &k)) < 0)
			return r;
		if (k && strcmp(k, key) == 0)
			return attr_get(o, c, NSF_VMW, "value", ret);
	}
	return 0;
}

static int add_device(struct ovf *o, struct vm *vm, const struct item *it)
{
	CLEANUP_FREE char *cores = NULL, *vram = NULL;
	uint64_t v;
	int r;

	switch (it->type) {
	case 3:
		if (vm->vcpus)
			return 0;
		v = 0;
		if ((r = item_num(o, it, "VirtualQuantity", it->quantity, OVF_MAX_VCPUS, &v)) < 0)
			return r;
		vm->vcpus = v;
		if ((r = child_text_nonempty(o, it->node, NSF_VMW, "CoresPerSocket", &cores)) < 0)
			return r;
		v = 0;
		if ((r = item_num(o, it, "CoresPerSocket", cores, OVF_MAX_VCPUS, &v)) < 0)
			return r;
		vm->cores_per_socket = v;
		return 0;
	case 4:
		if (vm->memory)
			return 0;
		/* CIM's default unit for memory, and what VirtualBox 2.x means bare. */
		return item_bytes(o, it, "byte * 2^20", &vm->memory);
	case 10:
		return add_nic(o, vm, it);
	case 14:
	case 15:
	case 16:
		return add_cdrom(o, vm, it);
	case 17:
	case 31: /* logical disk (OVF 2.0 StorageItem) */
		if (it->type == 31 && !it->host)
			return 0; /* a storage allocation, not a drive */
		return add_disk(o, vm, it);
	case 21:
		vm->n_serial++;
		return 0;
	case 24:
		vm->has_video = true;
		if ((r = item_config(o, it, "videoRamSizeInKB", &vram)) < 0)
			return r;
		if (vram && parse_u64(vram, &v) == 0 && v <= UINT64_MAX / 1024)
			vm->video_ram = v * 1024;
		return 0;
	case 35:
		vm->has_sound = true;
		return 0;
	case 1:
		if (contains_ci(it->subtype, "soundcard"))
			vm->has_sound = true;
		return 0;
	default:
		return 0;
	}
}

static int add_extra(struct ovf *o, struct vm *vm, xmlNode *n)
{
	struct vm_kv *kv;
	char *key, *value;
	int r;

	if ((r = attr_get(o, n, NSF_VMW, "key", &key)) < 0)
		return r;
	if (!key || !*key) {
		free(key);
		return 0;
	}
	/* Values are kept verbatim, as the VMX would hold them. */
	if ((r = attr_value(o, n, NSF_VMW, "value", false, &value)) < 0) {
		free(key);
		return r;
	}
	if (!value && !(value = strdup(""))) {
		free(key);
		return oom(o);
	}
	kv = &vm->extra[vm->n_extra++];
	kv->key = key;
	kv->value = value;
	if (strcmp(key, "firmware") == 0) {
		if (strcasecmp(value, "efi") == 0)
			vm->firmware = VM_FW_EFI;
		else if (strcasecmp(value, "bios") == 0)
			vm->firmware = VM_FW_BIOS;
	} else if (strcmp(key, "bootOptions.efiSecureBootEnabled") == 0 ||
		   strcmp(key, "uefi.secureBoot.enabled") == 0) {
		vm->secure_boot = strcasecmp(value, "true") == 0;
	} else if ((strcmp(key, "uuid") == 0 || strcmp(key, "uuid.bios") == 0) && !vm->uuid) {
		char u[37];

		if (uuid_norm(value, u) && !(vm->uuid = strdup(u)))
			return oom(o);
	}
	return 0;
}

/* The VirtualHardwareSection to read: the first one that applies to the chosen
 * configuration, preferring one that does not depend on a configuration at all. */
static int pick_hardware(struct ovf *o, xmlNode *vs, xmlNode **ret)
{
	xmlNode *c, *any = NULL;
	int r;

	*ret = NULL;
	for (c = vs->children; c; c = c->next) {
		bool ok;

		if (!section_is(c, "VirtualHardwareSection"))
			continue;
		if (!attr_node(c, NSF_ANY, "configuration")) {
			*ret = c;
			return 0;
		}
		if ((r = applies(o, c, &ok)) < 0)
			return r;
		if (ok && !any)
			any = c;
	}
	*ret = any;
	return 0;
}

static int parse_hardware(struct ovf *o, struct vm *vm, const char *vs, xmlNode *hw, char **sysid)
{
	struct item *items = NULL;
	size_t n_items = 0, n_nodes = 0, n_extra = 0, i;
	xmlNode *c, *sys;
	int r = 0;

	if ((sys = child(hw, NSF_OVF, "System"))) {
		CLEANUP_FREE char *type = NULL;

		if ((r = child_text_nonempty(o, sys, NSF_CIM, "VirtualSystemType", &type)) < 0 ||
		    (r = child_text_nonempty(o, sys, NSF_CIM, "VirtualSystemIdentifier", sysid)) <
			    0)
			return r;
		if (type) {
			/* "vmx-07 vmx-08": the oldest first, which every host runs. */
			type[strcspn(type, " \t\r\n")] = '\0';
			vm->hw_version = TAKE_PTR(type);
		}
	}
	for (c = hw->children; c; c = c->next) {
		if (el_is(c, NSF_OVF, "Item") || el_is(c, NSF_OVF, "StorageItem") ||
		    el_is(c, NSF_OVF, "EthernetPortItem"))
			n_nodes++;
		else if (el_is(c, NSF_VMW, "Config") || el_is(c, NSF_VMW, "ExtraConfig"))
			n_extra++;
	}
	if (n_nodes > OVF_MAX_ITEMS)
		return ovf_err(o, EFBIG,
			       "VirtualSystem %s: VirtualHardwareSection has %zu Items, over the "
			       "cap of %u",
			       vs, n_nodes, OVF_MAX_ITEMS);
	if (n_extra > OVF_MAX_EXTRA)
		return ovf_err(o, EFBIG,
			       "VirtualSystem %s: VirtualHardwareSection has %zu vmw:Config and "
			       "vmw:ExtraConfig elements, over the cap of %u",
			       vs, n_extra, OVF_MAX_EXTRA);
	if (n_extra && !(vm->extra = calloc(n_extra, sizeof(*vm->extra))))
		return oom(o);
	if (n_nodes) {
		items = calloc(n_nodes, sizeof(*items));
		vm->controllers = calloc(n_nodes, sizeof(*vm->controllers));
		vm->disks = calloc(n_nodes, sizeof(*vm->disks));
		vm->cdroms = calloc(n_nodes, sizeof(*vm->cdroms));
		vm->nics = calloc(n_nodes, sizeof(*vm->nics));
		if (!items || !vm->controllers || !vm->disks || !vm->cdroms || !vm->nics) {
			r = oom(o);
			goto out;
		}
	}
	for (c = hw->children, i = 0; c; c = c->next) {
		bool ok;

		if (el_is(c, NSF_VMW, "Config") || el_is(c, NSF_VMW, "ExtraConfig")) {
			if ((r = add_extra(o, vm, c)) < 0)
				goto out;
			continue;
		}
		if (!el_is(c, NSF_OVF, "Item") && !el_is(c, NSF_OVF, "StorageItem") &&
		    !el_is(c, NSF_OVF, "EthernetPortItem"))
			continue;
		i++;
		if ((r = applies(o, c, &ok)) < 0)
			goto out;
		if (!ok)
			continue;
		if ((r = item_read(o, vs, c, i, &items[n_items++])) < 0)
			goto out;
	}
	/* Controllers first: a device may come before the controller it names. */
	for (i = 0; i < n_items; i++) {
		enum vm_bus bus;

		if (item_controller(&items[i], &bus) &&
		    (r = add_controller(o, vm, &items[i], bus)) < 0)
			goto out;
	}
	for (i = 0; i < n_items; i++) {
		enum vm_bus bus;

		if (!item_controller(&items[i], &bus) && (r = add_device(o, vm, &items[i])) < 0)
			goto out;
	}
out:
	for (i = 0; i < n_items; i++)
		item_clear(&items[i]);
	free(items);
	return r;
}

static int parse_os(struct ovf *o, struct vm *vm, xmlNode *sec)
{
	int r;

	if ((r = attr_get(o, sec, NSF_OVF, "id", &vm->os_cim_id)) < 0 ||
	    (r = attr_get(o, sec, NSF_VMW, "osType", &vm->os_type)) < 0 ||
	    (r = child_text_nonempty(o, sec, NSF_OVF, "Description", &vm->os_desc)) < 0)
		return r;
	return 0;
}

static int parse_product(struct ovf *o, struct vm *vm, xmlNode *sec)
{
	int r;

	/* Several ProductSections (one per ovf:class) may share the fields out. */
	if (!vm->product && (r = child_text_nonempty(o, sec, NSF_OVF, "Product", &vm->product)) < 0)
		return r;
	if (!vm->vendor && (r = child_text_nonempty(o, sec, NSF_OVF, "Vendor", &vm->vendor)) < 0)
		return r;
	if (!vm->version && (r = child_text_nonempty(o, sec, NSF_OVF, "Version", &vm->version)) < 0)
		return r;
	return 0;
}

/* VirtualBox's own copy of the machine: its uuid and firmware, which OVF cannot say. */
static int parse_vbox(struct ovf *o, struct vm *vm, xmlNode *m)
{
	CLEANUP_FREE char *uuid = NULL, *type = NULL;
	xmlNode *hw, *fw;
	char u[37];
	int r;

	if ((r = attr_get(o, m, NSF_ANY, "uuid", &uuid)) < 0)
		return r;
	if (uuid && !vm->uuid && uuid_norm(uuid, u) && !(vm->uuid = strdup(u)))
		return oom(o);
	hw = child(m, NSF_ANY, "Hardware");
	if (!hw || vm->firmware != VM_FW_UNKNOWN)
		return 0;
	fw = child(hw, NSF_ANY, "Firmware");
	if (fw && (r = attr_get(o, fw, NSF_ANY, "type", &type)) < 0)
		return r;
	/* VirtualBox writes no Firmware element for its default, BIOS. */
	vm->firmware = type && strncasecmp(type, "EFI", 3) == 0 ? VM_FW_EFI : VM_FW_BIOS;
	return 0;
}

static int parse_vs(struct ovf *o, xmlNode *vs, struct vm **ret)
{
	struct vm_package *p = o->pkg;
	CLEANUP_FREE char *sysid = NULL;
	xmlNode *c, *hw, *os = NULL, *vbox = NULL;
	char label[SHOW_BUF + 8];
	struct vm *vm;
	int r;

	*ret = NULL;
	if (p->n_vms >= OVF_MAX_VMS)
		return ovf_err(o, EFBIG, "more than %u VirtualSystems", OVF_MAX_VMS);
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return oom(o);
	if ((r = attr_get(o, vs, NSF_OVF, "id", &vm->id)) < 0 ||
	    (r = child_text_nonempty(o, vs, NSF_OVF, "Name", &vm->name)) < 0)
		goto fail;
	if (vm->id && *vm->id)
		show(label, vm->id);
	else
		snprintf(label, sizeof(label), "#%zu", p->n_vms + 1);

	for (c = vs->children; c; c = c->next) {
		if (!os && section_is(c, "OperatingSystemSection"))
			os = c;
		else if (section_is(c, "ProductSection") && (r = parse_product(o, vm, c)) < 0)
			goto fail;
		else if (!vbox && c->type == XML_ELEMENT_NODE && ns_family(c->ns) == NSF_VBOX &&
			 strcmp((const char *)c->name, "Machine") == 0)
			vbox = c;
	}
	if ((r = pick_hardware(o, vs, &hw)) < 0 ||
	    (hw && (r = parse_hardware(o, vm, label, hw, &sysid)) < 0) ||
	    (os && (r = parse_os(o, vm, os)) < 0) || (vbox && (r = parse_vbox(o, vm, vbox)) < 0))
		goto fail;

	if (!vm->name) {
		if (sysid)
			vm->name = TAKE_PTR(sysid);
		else if (vm->id && *vm->id)
			vm->name = strdup(vm->id);
		else if (asprintf(&vm->name, "vm%zu", p->n_vms + 1) < 0)
			vm->name = NULL;
		if (!vm->name) {
			r = oom(o);
			goto fail;
		}
	}
	*ret = vm;
	return 0;
fail:
	vm_free(vm);
	return r;
}

static int add_vm(struct ovf *o, struct vm *vm)
{
	struct vm_package *p = o->pkg;

	if (p->n_vms == o->vms_cap) {
		size_t cap = o->vms_cap ? o->vms_cap * 2 : 4;
		struct vm **vms = reallocarray(p->vms, cap, sizeof(*vms));

		if (!vms) {
			vm_free(vm);
			return oom(o);
		}
		p->vms = vms;
		o->vms_cap = cap;
	}
	p->vms[p->n_vms++] = vm;
	return 0;
}

/* The virtual systems of a content element, collections flattened in document order.
 * libxml2 bounds the nesting (256 levels), and with it this recursion. */
static int parse_content(struct ovf *o, xmlNode *n, bool top)
{
	xmlNode *c;
	int r;

	if (section_is(n, "VirtualSystem")) {
		struct vm *vm;

		if ((r = parse_vs(o, n, &vm)) < 0)
			return r;
		return add_vm(o, vm);
	}
	if (!section_is(n, "VirtualSystemCollection"))
		return 0;
	if (top && !o->pkg->name) {
		if ((r = child_text_nonempty(o, n, NSF_OVF, "Name", &o->pkg->name)) < 0 ||
		    (!o->pkg->name && (r = attr_get(o, n, NSF_OVF, "id", &o->pkg->name)) < 0))
			return r;
	}
	for (c = n->children; c; c = c->next) {
		bool ok;

		if (!section_is(c, "VirtualSystem") && !section_is(c, "VirtualSystemCollection"))
			continue;
		/* DSP0243 lets whole systems depend on a configuration too. */
		if ((r = applies(o, c, &ok)) < 0)
			return r;
		if (ok && (r = parse_content(o, c, false)) < 0)
			return r;
	}
	return 0;
}

static int parse_envelope(struct ovf *o, xmlNode *env)
{
	xmlNode *c;
	int r;

	/* References before DiskSection, which points into it, before the systems. */
	for (c = env->children; c; c = c->next)
		if (section_is(c, "References") && (r = parse_references(o, c)) < 0)
			return r;
	for (c = env->children; c; c = c->next) {
		if (section_is(c, "DiskSection") && (r = parse_disk_section(o, c)) < 0)
			return r;
		if (section_is(c, "DeploymentOptionSection") && (r = parse_deployment(o, c)) < 0)
			return r;
	}
	for (c = env->children; c; c = c->next)
		if ((r = parse_content(o, c, true)) < 0)
			return r;
	return 0;
}

int ovf_parse(const char *text, size_t len, const char *name, struct vm_package **ret,
	      struct err *err)
{
	struct ovf o = { .name = name ? name : "(OVF)", .err = err };
	char b[SHOW_BUF];
	xmlDocPtr doc = NULL;
	xmlNode *root;
	size_t i, marks;
	int r;

	*ret = NULL;
	if (len > OVF_MAX_BYTES)
		return ovf_err(&o, EFBIG, "OVF descriptor is %zu bytes, over the cap of %u MiB",
			       len, OVF_MAX_BYTES >> 20);
	for (i = 0, marks = 0; i < len; i++)
		marks += text[i] == '<' || text[i] == '=';
	if (marks > OVF_MAX_MARKUP)
		return ovf_err(&o, EFBIG,
			       "OVF descriptor has %zu '<' and '=' characters (elements and "
			       "attributes), over the cap of %u",
			       marks, OVF_MAX_MARKUP);
	if ((r = xml_read(&o, text, len, &doc)) < 0)
		return r;
	root = xmlDocGetRootElement(doc);
	if (!root || !el_is(root, NSF_OVF, "Envelope")) {
		r = ovf_err(&o, EINVAL,
			    "not an OVF descriptor: the root element is <%s>, not "
			    "<Envelope>",
			    root ? show(b, (const char *)root->name) : "(none)");
		goto out;
	}
	o.pkg = calloc(1, sizeof(*o.pkg));
	if (!o.pkg) {
		r = oom(&o);
		goto out;
	}
	if ((r = parse_envelope(&o, root)) < 0)
		goto out;
	*ret = TAKE_PTR(o.pkg);
out:
	vm_package_free(o.pkg);
	for (i = 0; i < o.n_disks; i++) {
		free(o.disks[i].id);
		free(o.disks[i].format);
	}
	free(o.disks);
	free(o.config);
	xmlFreeDoc(doc);
	return r;
}
