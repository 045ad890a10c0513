/* domxml.c - extra specs -> validated options -> libvirt domain XML, and facts read back.
 *
 * Pure: no libvirt call, no file, no log. A request string reaches the XML only as a libxml2
 * attribute or text node (escaped), and only after it was checked to be valid UTF-8 without
 * control characters, because XML cannot carry those even escaped. */
#include "domxml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "extraspec.h"
#include "ids.h"

#define HV_XMLNS "urn:hvagent:instance:1"

/* ---------------------------------------------------------------- small parsers */

static void
format_cpuset(const uint64_t *bits, unsigned limit, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < limit; i++) {
		unsigned j = i;

		if (!hv_bit_get(bits, i))
			continue;
		while (j + 1 < limit && hv_bit_get(bits, j + 1))
			j++;
		if (j == i)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%u",
						len ? "," : "", i);
		else
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%u-%u",
						len ? "," : "", i, j);
		i = j;
	}
}

/* XML 1.0 cannot carry control characters even escaped, and libxml2 needs valid UTF-8. */
static bool
text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return xmlCheckUTF8((const xmlChar *)s) != 0;
}

static bool
path_ok(const char *s)
{
	return s && s[0] == '/' && text_ok(s) && !strstr(s, "/../") &&
	       strcmp(s + strlen(s) - (strlen(s) >= 3 ? 3 : 0), "/..") != 0;
}

static bool
ifname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* ---------------------------------------------------------------- validation */

_Static_assert(DOMXML_N_IOTUNE == HV_XSPEC_N_IOTUNE, "extraspec.h orders the iotune keys");
_Static_assert(DOMXML_MAX_GUEST_CELLS == HV_XSPEC_MAX_CELLS, "extraspec.h bounds the cells");
_Static_assert(DOMXML_MAX_VCPUS == HV_XSPEC_MAX_VCPUS, "extraspec.h bounds the cells' CPU sets");
static const char *const iotune_elems[DOMXML_N_IOTUNE] = {
	"read_bytes_sec", "write_bytes_sec", "total_bytes_sec",
	"read_iops_sec",  "write_iops_sec",  "total_iops_sec",
};

struct topo_in {
	uint32_t v[3], max[3]; /* sockets, cores, threads; 0 unset */
	const char *key[3];
};

/* Largest divisor of n that is <= cap. */
static uint32_t
divisor_upto(uint32_t n, uint32_t cap)
{
	for (uint32_t d = cap < n ? cap : n; d > 1; d--)
		if (n % d == 0)
			return d;
	return 1;
}

static int
resolve_topology(const struct topo_in *in, uint32_t vcpus, struct domxml_opts *o,
		 struct hv_error *err)
{
	uint32_t s = in->v[0], c = in->v[1], t = in->v[2];
	uint32_t max[3];

	/* a preferred value above its maximum was refused by hv_xspec_finish */
	for (int i = 0; i < 3; i++)
		max[i] = in->max[i] ? in->max[i] : vcpus;
	if (!t)
		t = s && c ? (vcpus % (s * c) ? 0 : vcpus / (s * c)) : 1;
	if (!t)
		goto mismatch;
	if (!s && !c) {
		s = divisor_upto(vcpus / t, max[0]);
		if ((vcpus / t) % s)
			goto mismatch;
		c = vcpus / t / s;
	} else if (!s) {
		if (vcpus % (c * t))
			goto mismatch;
		s = vcpus / (c * t);
	} else if (!c) {
		if (vcpus % (s * t))
			goto mismatch;
		c = vcpus / (s * t);
	}
	if ((uint64_t)s * c * t != vcpus)
		goto mismatch;
	{
		uint32_t got[3] = {s, c, t};
		for (int i = 0; i < 3; i++)
			if (got[i] > max[i])
				return hv_error_set(err, -EINVAL, hv_xspec_topo_max_keys[i],
						    "%s=%u: %u vCPUs need %s=%u with this topology",
						    hv_xspec_topo_max_keys[i], max[i], vcpus,
						    hv_xspec_topo_keys[i] + 3, got[i]);
	}
	o->topology = true;
	o->sockets = s;
	o->cores = c;
	o->threads = t;
	return 0;
mismatch:
	for (int i = 0; i < 3; i++)
		if (in->v[i])
			return hv_error_set(
				err, -EINVAL, hv_xspec_topo_keys[i],
				"sockets*cores*threads must equal the flavor's %u vCPUs "
				"(hw:cpu_sockets=%u hw:cpu_cores=%u hw:cpu_threads=%u)",
				vcpus, in->v[0], in->v[1], in->v[2]);
	return hv_error_set(err, -EINVAL, "hw:cpu_max_sockets",
			    "no topology of %u vCPUs fits hw:cpu_max_sockets/cores/threads", vcpus);
}

/* The guest's cells as the flavor asks them (extraspec.h, hvcentral's reading too), each
 * on a host cell of its own. */
static int
resolve_numa(const struct hv_xspec *x, const struct hvd_flavor *fl, const struct domxml_host *host,
	     struct domxml_opts *o, struct hv_error *err)
{
	bool host_numa = host && host->n_cells > 0;
	bool used[HVD_MAX_NUMA_CELLS] = {0};
	struct hv_numa_split split;
	int r;

	if ((r = hv_xspec_numa_split(x, fl->vcpus, fl->ram_mb, host_numa ? host->n_cells : 0,
				     &split, err)) < 0)
		return r;
	uint32_t nodes = o->numa_nodes = split.nodes;
	if (split.policy != HV_NUMA_POLICY_NONE)
		o->mempolicy = split.policy == HV_NUMA_POLICY_STRICT ? DOMXML_MEMPOLICY_STRICT
								     : DOMXML_MEMPOLICY_PREFERRED;
	for (uint32_t i = 0; i < nodes; i++) {
		memcpy(o->numa[i].cpus, split.cell[i].cpus, sizeof o->numa[i].cpus);
		o->numa[i].n_cpus = split.cell[i].n_cpus;
		o->numa[i].mem_mb = split.cell[i].mem_mb;
	}
	for (uint32_t i = 0; i < nodes; i++) {
		o->numa[i].host_cell = -1;
		if (!host_numa)
			continue;
		/* First fit on distinct host cells: a guest cell never spans two host cells. */
		for (uint32_t h = 0; h < host->n_cells; h++) {
			if (used[h] || host->cells[h].n_cpus < o->numa[i].n_cpus ||
			    host->cells[h].memory_mb < o->numa[i].mem_mb)
				continue;
			used[h] = true;
			o->numa[i].host_cell = (int)h;
			break;
		}
		if (o->numa[i].host_cell < 0) {
			uint32_t most_cpus = 0;
			uint64_t most_mem = 0;
			for (uint32_t h = 0; h < host->n_cells; h++) {
				if (host->cells[h].n_cpus > most_cpus)
					most_cpus = host->cells[h].n_cpus;
				if (host->cells[h].memory_mb > most_mem)
					most_mem = host->cells[h].memory_mb;
			}
			return hv_error_set(
				err, -EINVAL,
				o->numa[i].n_cpus > most_cpus ? "hw:numa_cpus" : "hw:numa_mem",
				"guest NUMA cell %u (%u vCPUs, %" PRIu64
				" MB) fits no free host cell "
				"(largest: %u CPUs, %" PRIu64 " MB)",
				i, o->numa[i].n_cpus, o->numa[i].mem_mb, most_cpus, most_mem);
		}
	}
	return 0;
}

static const char *
kv_find(const struct hvd_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i].key && strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static int
validate_image(const struct hvd_image *img, uint64_t video_max_mb, bool video_max_set,
	       struct domxml_opts *o, struct hv_error *err)
{
	static const char *const models[] = {"vga", "virtio", "cirrus", "qxl", "bochs", "none"};
	const char *v;

	o->video_model = "vga";
	if ((v = kv_find(img->properties, img->n_properties, "hw_video_model"))) {
		size_t i;
		for (i = 0; i < 6 && strcmp(v, models[i]) != 0; i++)
			;
		if (i == 6)
			return hv_error_set(err, -EINVAL, "image.hw_video_model",
					    "hw_video_model=%s: must be vga, virtio, cirrus, qxl, "
					    "bochs or none",
					    v);
		o->video_model = models[i];
	}
	if ((v = kv_find(img->properties, img->n_properties, "hw_video_ram"))) {
		uint64_t mb;
		if (hv_parse_u64(v, &mb) < 0 || mb > 4096)
			return hv_error_set(err, -EINVAL, "image.hw_video_ram",
					    "hw_video_ram=%s: must be an integer 0-4096 (MB)", v);
		if (mb > (video_max_set ? video_max_mb : 0))
			return hv_error_set(
				err, -EINVAL, "image.hw_video_ram",
				"image hw_video_ram=%" PRIu64
				" MB is above the flavor's hw_video:ram_max_mb=%" PRIu64,
				mb, video_max_set ? video_max_mb : 0);
		o->video_vram_mb = mb;
	}
	if ((v = kv_find(img->properties, img->n_properties, "hw_qemu_guest_agent")) &&
	    hv_parse_bool(v, &o->guest_agent) < 0)
		return hv_error_set(err, -EINVAL, "image.hw_qemu_guest_agent",
				    "hw_qemu_guest_agent=%s: must be yes or no", v);
	if ((v = kv_find(img->properties, img->n_properties, "os_require_quiesce")) &&
	    hv_parse_bool(v, &o->require_quiesce) < 0)
		return hv_error_set(err, -EINVAL, "image.os_require_quiesce",
				    "os_require_quiesce=%s: must be yes or no", v);
	if (o->require_quiesce && !o->guest_agent)
		return hv_error_set(err, -EINVAL, "image.os_require_quiesce",
				    "os_require_quiesce needs hw_qemu_guest_agent=yes");
	o->kernel = kv_find(img->properties, img->n_properties, "kernel");
	o->initrd = kv_find(img->properties, img->n_properties, "initrd");
	o->cmdline = kv_find(img->properties, img->n_properties, "os_command_line");
	if (o->kernel && !path_ok(o->kernel))
		return hv_error_set(err, -EINVAL, "image.kernel",
				    "kernel must be an absolute path without '..'");
	if (o->initrd && !path_ok(o->initrd))
		return hv_error_set(err, -EINVAL, "image.initrd",
				    "initrd must be an absolute path without '..'");
	if (o->initrd && !o->kernel)
		return hv_error_set(err, -EINVAL, "image.initrd", "initrd needs a kernel property");
	if (o->cmdline && (!o->kernel || !text_ok(o->cmdline)))
		return hv_error_set(err, -EINVAL, "image.os_command_line",
				    "os_command_line needs a kernel property and printable text");
	return 0;
}

/* What the shared reading of the extra specs (extraspec.h) gives the domain, and the
 * inputs of the host-dependent steps (topology, NUMA cells). */
static void
opts_from_xspec(const struct hv_xspec *x, struct domxml_opts *o, struct topo_in *topo)
{
	for (int j = 0; j < 3; j++) {
		topo->v[j] = x->topo[j];
		topo->max[j] = x->topo_max[j];
	}
	o->watchdog_action = x->watchdog_action;
	o->rng = x->rng;
	o->rng_bytes = x->rng_bytes;
	o->rng_period = x->rng_period;
	o->has_shares = x->has_shares;
	o->has_period = x->has_period;
	o->has_quota = x->has_quota;
	o->cpu_shares = x->cpu_shares;
	o->cpu_period = x->cpu_period;
	o->cpu_quota = x->cpu_quota;
	memcpy(o->has_iotune, x->has_iotune, sizeof o->has_iotune);
	memcpy(o->iotune, x->iotune, sizeof o->iotune);
	memcpy(o->has_vif, x->has_vif, sizeof o->has_vif);
	memcpy(o->vif, x->vif, sizeof o->vif);
}

int
domxml_validate(const struct hvd_instance_spec *spec, const struct domxml_host *host,
		struct domxml_opts *ret, struct hv_error *err)
{
	const struct hvd_flavor *fl = &spec->flavor;
	struct domxml_opts o = {.rng = true};
	struct topo_in topo = {0};
	struct hv_xspec x;
	int r;

	if (fl->vcpus < 1 || fl->vcpus > DOMXML_MAX_VCPUS)
		return hv_error_set(err, -EINVAL, "flavor.vcpus", "vcpus=%u: must be 1-%d",
				    fl->vcpus, DOMXML_MAX_VCPUS);
	if (fl->ram_mb < 16 || fl->ram_mb > UINT64_C(16) * 1024 * 1024)
		return hv_error_set(err, -EINVAL, "flavor.ram_mb",
				    "ram_mb=%" PRIu64 ": must be 16-16777216", fl->ram_mb);

	hv_xspec_init(&x);
	for (size_t i = 0; i < fl->n_extra_specs; i++) {
		const char *k = fl->extra_specs[i].key, *v = fl->extra_specs[i].value;

		if (!k || !v)
			return hv_error_set(err, -EINVAL, "flavor.extra_specs",
					    "extra spec %zu has no key or value", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(fl->extra_specs[j].key, k) == 0)
				return hv_error_set(err, -EINVAL, k, "%s is given twice", k);
		if (!text_ok(v))
			return hv_error_set(err, -EINVAL, k, "%s: the value must be printable text",
					    k);
		if ((r = hv_xspec_add(&x, k, v, fl->vcpus, err)) < 0)
			return r;
	}
	if ((r = hv_xspec_finish(&x, err)) < 0)
		return r;
	opts_from_xspec(&x, &o, &topo);

	if (x.topo_any && (r = resolve_topology(&topo, fl->vcpus, &o, err)) < 0)
		return r;
	if ((r = resolve_numa(&x, fl, host, &o, err)) < 0)
		return r;
	if (o.topology && o.numa_nodes && o.sockets > 1 && o.sockets != o.numa_nodes &&
	    o.numa_nodes % o.sockets != 0 && o.sockets % o.numa_nodes != 0)
		return hv_error_set(
			err, -EINVAL, "hw:cpu_sockets",
			"hw:cpu_sockets=%u and hw:numa_nodes=%u: one must divide the other",
			o.sockets, o.numa_nodes);
	if ((r = validate_image(&spec->image, x.video_max, x.video_max_set, &o, err)) < 0)
		return r;
	*ret = o;
	return 0;
}

/* ---------------------------------------------------------------- building */

static xmlNodePtr
child(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
}

static void
attr(xmlNodePtr node, const char *name, const char *value)
{
	xmlNewProp(node, BAD_CAST name, BAD_CAST value);
}

static void
attr_u64(xmlNodePtr node, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	attr(node, name, buf);
}

static xmlNodePtr
child_u64(xmlNodePtr parent, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return child(parent, name, buf);
}

/* Serializes and frees doc. */
static int
doc_dump(xmlDocPtr doc, char **ret_xml, struct hv_error *err)
{
	xmlChar *mem = NULL;
	int len = 0;

	xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!mem)
		return hv_error_set(err, -ENOMEM, "", "cannot serialize the domain XML");
	*ret_xml = strndup((const char *)mem, (size_t)len);
	xmlFree(mem);
	return *ret_xml ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

int
domxml_copy_target(const char *path, const char *format, char **ret_xml, struct hv_error *err)
{
	xmlDocPtr doc;
	xmlNodePtr d;

	if (!path_ok(path))
		return hv_error_set(err, -EINVAL, "instances_path", "not a usable path: %s", path);
	doc = xmlNewDoc(BAD_CAST "1.0");
	d = xmlNewNode(NULL, BAD_CAST "disk");
	xmlDocSetRootElement(doc, d);
	attr(d, "type", "file");
	attr(child(d, "source", NULL), "file", path);
	attr(child(d, "driver", NULL), "type", format);
	return doc_dump(doc, ret_xml, err);
}

static void
add_disk(xmlNodePtr devs, const char *device, const char *format, const char *path, const char *dev,
	 const char *bus, bool readonly, const struct domxml_opts *o)
{
	xmlNodePtr d = xmlNewChild(devs, NULL, BAD_CAST "disk", NULL), n;

	attr(d, "type", "file");
	attr(d, "device", device);
	n = child(d, "driver", NULL);
	attr(n, "name", "qemu");
	attr(n, "type", format);
	if (!readonly)
		attr(n, "cache", "none");
	attr(child(d, "source", NULL), "file", path);
	n = child(d, "target", NULL);
	attr(n, "dev", dev);
	attr(n, "bus", bus);
	if (readonly)
		child(d, "readonly", NULL);
	if (o && !readonly) {
		xmlNodePtr io = NULL;
		for (int i = 0; i < DOMXML_N_IOTUNE; i++) {
			if (!o->has_iotune[i])
				continue;
			if (!io)
				io = child(d, "iotune", NULL);
			child_u64(io, iotune_elems[i], o->iotune[i]);
		}
	}
}

static int
check_spec_strings(const struct domxml_params *p, struct hv_error *err)
{
	const struct hvd_instance_spec *s = p->spec;

	if (!hv_uuid_valid(s->uuid))
		return hv_error_set(err, -EINVAL, "uuid",
				    "uuid must be 8-4-4-4-12 lower-case hex digits");
	if (!s->name || !*s->name || strlen(s->name) > 255 || !text_ok(s->name))
		return hv_error_set(err, -EINVAL, "name",
				    "name must be 1-255 bytes of printable UTF-8");
	if (s->hostname && (strlen(s->hostname) > 255 || !text_ok(s->hostname)))
		return hv_error_set(err, -EINVAL, "hostname",
				    "hostname must be at most 255 bytes of printable UTF-8");
	if (s->flavor.name && !text_ok(s->flavor.name))
		return hv_error_set(err, -EINVAL, "flavor.name",
				    "flavor name must be printable UTF-8");
	if (s->image.id && !text_ok(s->image.id))
		return hv_error_set(err, -EINVAL, "image.id", "image id must be printable UTF-8");
	for (size_t i = 0; i < s->n_metadata; i++)
		if (!s->metadata[i].key || !s->metadata[i].value || !text_ok(s->metadata[i].key) ||
		    !text_ok(s->metadata[i].value))
			return hv_error_set(err, -EINVAL, "metadata",
					    "metadata item %zu must be printable UTF-8", i);
	for (size_t i = 0; i < s->n_ports; i++) {
		if (!hv_mac_valid(s->ports[i].mac))
			return hv_error_set(
				err, -EINVAL, "ports.mac",
				"port %zu: mac must be lower-case like fa:16:3e:00:00:01", i);
		if (!ifname_ok(s->ports[i].ifname))
			return hv_error_set(err, -EINVAL, "ports.ifname",
					    "port %zu: ifname must be 1-15 of [A-Za-z0-9._-]", i);
		if (s->ports[i].id && !text_ok(s->ports[i].id))
			return hv_error_set(err, -EINVAL, "ports.id",
					    "port %zu: id must be printable UTF-8", i);
	}
	if (!p->disks.root || !path_ok(p->disks.root))
		return hv_error_set(err, -EINVAL, "disk.root", "root disk path must be absolute");
	if (p->spec->config_drive_path && !path_ok(p->spec->config_drive_path))
		return hv_error_set(err, -EINVAL, "config_drive_path",
				    "config drive path must be absolute without '..'");
	if (!p->console_log || !path_ok(p->console_log))
		return hv_error_set(err, -EINVAL, "console_log",
				    "console log path must be absolute");
	if (!p->virt_type ||
	    (strcmp(p->virt_type, "kvm") != 0 && strcmp(p->virt_type, "qemu") != 0))
		return hv_error_set(err, -EINVAL, "virt_type", "virt_type must be kvm or qemu");
	if (p->listen && !text_ok(p->listen))
		return hv_error_set(err, -EINVAL, "vnc_listen", "listen address must be printable");
	return 0;
}

static void
add_numa(xmlNodePtr dom, xmlNodePtr cpu, const struct domxml_params *p, const struct domxml_opts *o,
	 xmlNodePtr cputune)
{
	xmlNodePtr numa = child(cpu, "numa", NULL), tune = NULL, n;
	const struct domxml_host *h = p->host;
	uint64_t host_nodes[HVD_MAX_NUMA_CELLS / 64 + 1] = {0};
	uint64_t all_pcpus[4] = {0};
	char buf[256];

	for (uint32_t i = 0; i < o->numa_nodes; i++) {
		n = child(numa, "cell", NULL);
		attr_u64(n, "id", i);
		format_cpuset(o->numa[i].cpus, DOMXML_MAX_VCPUS, buf, sizeof buf);
		attr(n, "cpus", buf);
		attr_u64(n, "memory", o->numa[i].mem_mb * 1024);
		attr(n, "unit", "KiB");
		if (o->numa[i].host_cell >= 0)
			hv_bit_set(host_nodes, h->cells[o->numa[i].host_cell].id);
	}
	if (!h || h->n_cells == 0)
		return;

	/* vCPUs float over the CPUs of their guest cell's host cell. */
	for (uint32_t i = 0; i < o->numa_nodes; i++)
		hv_parse_cpuset(h->cells[o->numa[i].host_cell].cpuset, 256, all_pcpus);
	format_cpuset(all_pcpus, 256, buf, sizeof buf);
	n = child(cputune, "emulatorpin", NULL);
	attr(n, "cpuset", buf);
	for (unsigned c = 0; c < p->spec->flavor.vcpus; c++)
		for (uint32_t i = 0; i < o->numa_nodes; i++)
			if (hv_bit_get(o->numa[i].cpus, c)) {
				n = child(cputune, "vcpupin", NULL);
				attr_u64(n, "vcpu", c);
				attr(n, "cpuset", h->cells[o->numa[i].host_cell].cpuset);
			}

	tune = xmlNewChild(dom, NULL, BAD_CAST "numatune", NULL);
	format_cpuset(host_nodes, HVD_MAX_NUMA_CELLS, buf, sizeof buf);
	/* libvirt takes 'preferred' for one node only; per-cell memnodes carry it otherwise. */
	if (o->mempolicy == DOMXML_MEMPOLICY_STRICT || o->numa_nodes == 1) {
		n = child(tune, "memory", NULL);
		attr(n, "mode", o->mempolicy == DOMXML_MEMPOLICY_STRICT ? "strict" : "preferred");
		attr(n, "nodeset", buf);
	}
	for (uint32_t i = 0; i < o->numa_nodes; i++) {
		n = child(tune, "memnode", NULL);
		attr_u64(n, "cellid", i);
		attr(n, "mode", o->mempolicy == DOMXML_MEMPOLICY_STRICT ? "strict" : "preferred");
		attr_u64(n, "nodeset", h->cells[o->numa[i].host_cell].id);
	}
}

static void
add_metadata(xmlNodePtr dom, const struct hvd_instance_spec *s, const struct domxml_opts *o)
{
	xmlNodePtr md = child(dom, "metadata", NULL);
	xmlNodePtr inst = xmlNewChild(md, NULL, BAD_CAST "instance", NULL), n;
	xmlNsPtr ns = xmlNewNs(inst, BAD_CAST HV_XMLNS, BAD_CAST "hv");

	xmlSetNs(inst, ns);
	xmlNewTextChild(inst, ns, BAD_CAST "name", BAD_CAST s->name);
	if (s->hostname)
		xmlNewTextChild(inst, ns, BAD_CAST "hostname", BAD_CAST s->hostname);
	n = xmlNewChild(inst, ns, BAD_CAST "flavor", NULL);
	attr(n, "name", s->flavor.name ? s->flavor.name : "");
	attr_u64(n, "vcpus", s->flavor.vcpus);
	attr_u64(n, "ram_mb", s->flavor.ram_mb);
	attr_u64(n, "root_gb", s->flavor.root_gb);
	attr_u64(n, "ephemeral_gb", s->flavor.ephemeral_gb);
	attr_u64(n, "swap_mb", s->flavor.swap_mb);
	n = xmlNewChild(inst, ns, BAD_CAST "image", NULL);
	attr(n, "id", s->image.id ? s->image.id : "");
	attr(n, "guest_agent", o->guest_agent ? "yes" : "no");
	attr(n, "require_quiesce", o->require_quiesce ? "yes" : "no");
	for (size_t i = 0; i < s->n_ports; i++) {
		n = xmlNewChild(inst, ns, BAD_CAST "port", NULL);
		attr(n, "id", s->ports[i].id ? s->ports[i].id : "");
		attr(n, "ifname", s->ports[i].ifname);
	}
	for (size_t i = 0; i < s->n_metadata; i++) {
		n = xmlNewTextChild(inst, ns, BAD_CAST "meta", BAD_CAST s->metadata[i].value);
		attr(n, "key", s->metadata[i].key);
	}
}

static void
add_chardev_log(xmlNodePtr dev, const char *log)
{
	xmlNodePtr n = child(dev, "log", NULL);

	attr(n, "file", log);
	attr(n, "append", "on");
}

int
domxml_build(const struct domxml_params *p, char **ret_xml, struct hv_error *err)
{
	const struct hvd_instance_spec *s = p->spec;
	struct domxml_opts o;
	xmlDocPtr doc = NULL;
	xmlNodePtr dom, n, os, cpu = NULL, cputune = NULL, devs;
	int r;
	char buf[64];

	if ((r = check_spec_strings(p, err)) < 0)
		return r;
	if ((r = domxml_validate(s, p->host, &o, err)) < 0)
		return r;

	doc = xmlNewDoc(BAD_CAST "1.0");
	dom = xmlNewNode(NULL, BAD_CAST "domain");
	xmlDocSetRootElement(doc, dom);
	attr(dom, "type", p->virt_type);
	snprintf(buf, sizeof buf, "instance-%s", s->uuid);
	child(dom, "name", buf);
	child(dom, "uuid", s->uuid);
	add_metadata(dom, s, &o);
	n = child_u64(dom, "memory", s->flavor.ram_mb * 1024);
	attr(n, "unit", "KiB");
	child_u64(dom, "vcpu", s->flavor.vcpus);

	if (o.has_shares || o.has_period || o.has_quota || o.numa_nodes) {
		cputune = child(dom, "cputune", NULL);
		if (o.has_shares)
			child_u64(cputune, "shares", o.cpu_shares);
		if (o.has_period)
			child_u64(cputune, "period", o.cpu_period);
		if (o.has_quota) {
			snprintf(buf, sizeof buf, "%" PRId64, o.cpu_quota);
			child(cputune, "quota", buf);
		}
	}

	os = child(dom, "os", NULL);
	n = child(os, "type", "hvm");
	attr(n, "arch", "x86_64");
	if (o.kernel) {
		child(os, "kernel", o.kernel);
		if (o.initrd)
			child(os, "initrd", o.initrd);
		if (o.cmdline)
			child(os, "cmdline", o.cmdline);
	}
	attr(child(os, "boot", NULL), "dev", "hd");

	n = child(dom, "features", NULL);
	child(n, "acpi", NULL); /* the soft reboot and graceful power off press the ACPI button */
	child(n, "apic", NULL);

	if (o.topology || o.numa_nodes) {
		cpu = child(dom, "cpu", NULL);
		if (o.topology) {
			n = child(cpu, "topology", NULL);
			attr_u64(n, "sockets", o.sockets);
			attr_u64(n, "dies", 1);
			attr_u64(n, "cores", o.cores);
			attr_u64(n, "threads", o.threads);
		}
		if (o.numa_nodes)
			add_numa(dom, cpu, p, &o, cputune);
	}
	/* libvirt's schema wants <cputune> before <numatune>; keep the natural order above and
	 * let the cputune node sit where it was created. */
	n = child(dom, "clock", NULL);
	attr(n, "offset", "utc");
	child(dom, "on_poweroff", "destroy");
	child(dom, "on_reboot", "restart");
	child(dom, "on_crash", "destroy");

	devs = child(dom, "devices", NULL);
	add_disk(devs, "disk", p->disks.root_format ? p->disks.root_format : "qcow2", p->disks.root,
		 "vda", "virtio", false, &o);
	if (p->disks.ephemeral)
		add_disk(devs, "disk", "qcow2", p->disks.ephemeral, "vdb", "virtio", false, &o);
	if (p->disks.swap)
		add_disk(devs, "disk", "qcow2", p->disks.swap, p->disks.ephemeral ? "vdc" : "vdb",
			 "virtio", false, &o);
	if (s->config_drive_path)
		add_disk(devs, "cdrom", "raw", s->config_drive_path, "hdd", "ide", true, NULL);

	for (size_t i = 0; i < s->n_ports; i++) {
		xmlNodePtr iface = child(devs, "interface", NULL);
		attr(iface, "type", "ethernet");
		attr(child(iface, "mac", NULL), "address", s->ports[i].mac);
		attr(child(iface, "target", NULL), "dev", s->ports[i].ifname);
		attr(child(iface, "model", NULL), "type", "virtio");
		if (o.has_vif[0][0] || o.has_vif[1][0]) {
			xmlNodePtr bw = child(iface, "bandwidth", NULL);
			for (int d = 0; d < 2; d++) {
				if (!o.has_vif[d][0])
					continue;
				n = child(bw, hv_xspec_vif_dirs[d], NULL);
				for (int a = 0; a < 3; a++)
					if (o.has_vif[d][a])
						attr_u64(n, hv_xspec_vif_attrs[a], o.vif[d][a]);
			}
		}
	}

	if (p->serial_port) {
		n = child(devs, "serial", NULL);
		attr(n, "type", "tcp");
		xmlNodePtr src = child(n, "source", NULL);
		attr(src, "mode", "bind");
		attr(src, "host", p->listen ? p->listen : "127.0.0.1");
		attr_u64(src, "service", p->serial_port);
		attr(child(n, "protocol", NULL), "type", "raw");
	} else {
		n = child(devs, "serial", NULL);
		attr(n, "type", "pty");
	}
	add_chardev_log(n, p->console_log);
	attr_u64(child(n, "target", NULL), "port", 0);

	if (o.guest_agent) {
		n = child(devs, "channel", NULL);
		attr(n, "type", "unix");
		xmlNodePtr t = child(n, "target", NULL);
		attr(t, "type", "virtio");
		attr(t, "name", "org.qemu.guest_agent.0");
	}
	if (p->vnc) {
		n = child(devs, "graphics", NULL);
		attr(n, "type", "vnc");
		attr(n, "autoport", "yes");
		attr(n, "listen", p->listen ? p->listen : "127.0.0.1");
	}
	n = child(devs, "video", NULL);
	n = child(n, "model", NULL);
	attr(n, "type", o.video_model);
	if (o.video_vram_mb && strcmp(o.video_model, "none") != 0)
		attr_u64(n, "vram", o.video_vram_mb * 1024);
	if (o.watchdog_action) {
		n = child(devs, "watchdog", NULL);
		attr(n, "model", "i6300esb");
		attr(n, "action", o.watchdog_action);
	}
	if (o.rng) {
		n = child(devs, "rng", NULL);
		attr(n, "model", "virtio");
		if (o.rng_bytes) {
			xmlNodePtr rate = child(n, "rate", NULL);
			attr_u64(rate, "bytes", o.rng_bytes);
			attr_u64(rate, "period", o.rng_period);
		}
		n = child(n, "backend", "/dev/urandom");
		attr(n, "model", "random");
	}
	attr(child(devs, "memballoon", NULL), "model", "virtio");

	return doc_dump(doc, ret_xml, err);
}

/* ---------------------------------------------------------------- reading back */

static xmlDocPtr
parse_xml(const char *xml, struct hv_error *err)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		hv_error_set(err, -EINVAL, "xml", "the domain XML does not parse");
	return doc;
}

static xmlNodePtr
first_node(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlNodePtr n = NULL;

	if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0)
		n = obj->nodesetval->nodeTab[0];
	xmlXPathFreeObject(obj);
	return n;
}

static void
copy_prop(xmlNodePtr n, const char *name, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;

	snprintf(buf, size, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

static void
copy_text(xmlNodePtr n, char *buf, size_t size)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;

	snprintf(buf, size, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

int
domxml_read_facts(const char *xml, struct domxml_facts *ret, struct hv_error *err)
{
	xmlDocPtr doc = parse_xml(xml, err);
	xmlXPathContextPtr ctx;
	char buf[64];

	memset(ret, 0, sizeof *ret);
	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	xmlXPathRegisterNs(ctx, BAD_CAST "hv", BAD_CAST HV_XMLNS);
	copy_text(first_node(ctx, "/domain/uuid"), ret->uuid, sizeof ret->uuid);
	copy_text(first_node(ctx, "/domain/metadata/hv:instance/hv:name"), ret->name,
		  sizeof ret->name);
	copy_prop(first_node(ctx, "/domain/devices/disk[target/@dev='vda']/source"), "file",
		  ret->root_disk, sizeof ret->root_disk);
	copy_prop(first_node(ctx, "/domain/devices/disk[target/@dev='vda']/driver"), "type",
		  ret->root_format, sizeof ret->root_format);
	copy_prop(first_node(ctx, "/domain/devices/serial/log"), "file", ret->console_log,
		  sizeof ret->console_log);
	copy_prop(first_node(ctx, "/domain/devices/graphics[@type='vnc']"), "port", buf,
		  sizeof buf);
	ret->vnc_port = buf[0] == '-' ? 0 : (uint32_t)strtoul(buf, NULL, 10);
	copy_prop(first_node(ctx, "/domain/devices/graphics[@type='vnc']"), "listen",
		  ret->vnc_listen, sizeof ret->vnc_listen);
	copy_prop(first_node(ctx, "/domain/devices/serial[@type='tcp']/source"), "service", buf,
		  sizeof buf);
	ret->serial_port = (uint32_t)strtoul(buf, NULL, 10);
	copy_prop(first_node(ctx, "/domain/devices/serial[@type='tcp']/source"), "host",
		  ret->serial_host, sizeof ret->serial_host);
	copy_prop(first_node(ctx, "/domain/metadata/hv:instance/hv:image"), "guest_agent", buf,
		  sizeof buf);
	ret->guest_agent = strcmp(buf, "yes") == 0;
	copy_prop(first_node(ctx, "/domain/metadata/hv:instance/hv:image"), "require_quiesce", buf,
		  sizeof buf);
	ret->require_quiesce = strcmp(buf, "yes") == 0;
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return 0;
}

/* A virtio disk's PCI address, kept as libvirt writes it (hex strings) and as numbers to
 * order by. */
struct pci_addr {
	unsigned long dom, bus, slot, fn;
	bool set;
};

static void
pci_addr_read(xmlNodePtr a, struct pci_addr *ret)
{
	static const char *names[] = {"domain", "bus", "slot", "function"};
	unsigned long *v[] = {&ret->dom, &ret->bus, &ret->slot, &ret->fn};

	memset(ret, 0, sizeof *ret);
	for (size_t i = 0; i < 4; i++) {
		xmlChar *s = xmlGetProp(a, BAD_CAST names[i]);
		*v[i] = s ? strtoul((const char *)s, NULL, 0) : 0;
		xmlFree(s);
	}
	ret->set = true;
}

static int
pci_addr_cmp(const void *a, const void *b)
{
	const struct pci_addr *x = a, *y = b;
	unsigned long kx[] = {x->dom, x->bus, x->slot, x->fn},
		      ky[] = {y->dom, y->bus, y->slot, y->fn};

	for (size_t i = 0; i < 4; i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? -1 : 1;
	return 0;
}

static void
pci_addr_write(xmlNodePtr disk, const struct pci_addr *a)
{
	char buf[16];
	xmlNodePtr n = child(disk, "address", NULL);

	attr(n, "type", "pci");
	snprintf(buf, sizeof buf, "0x%04lx", a->dom);
	attr(n, "domain", buf);
	snprintf(buf, sizeof buf, "0x%02lx", a->bus);
	attr(n, "bus", buf);
	snprintf(buf, sizeof buf, "0x%02lx", a->slot);
	attr(n, "slot", buf);
	snprintf(buf, sizeof buf, "0x%lx", a->fn);
	attr(n, "function", buf);
}

/* Slots 0-2 of bus 0 belong to the host bridge, the PIIX3 and the primary video. */
#define RESCUE_FIRST_FREE_SLOT 3
#define PCI_SLOTS 32

/* A guest names its virtio disks in PCI order, not by <target dev>: the disks (the rescue
 * disk first, in document order) get explicit addresses in ascending order, reusing the
 * addresses the disks had (lowest first), so the rescue disk is the first disk the guest
 * sees and the original root the second. The one address missing is a free bus-0 slot above
 * the disks' highest; when no disk had an address (a definition never defined) every disk
 * gets a free bus-0 slot, in order. Returns -ENOSPC when bus 0 is full. */
static int
rescue_addresses(xmlXPathContextPtr ctx, struct hv_error *err)
{
	xmlXPathObjectPtr disks = xmlXPathEvalExpression(
		BAD_CAST "/domain/devices/disk[@device='disk'][target/@bus='virtio']", ctx);
	xmlXPathObjectPtr used = xmlXPathEvalExpression(
		BAD_CAST "/domain/devices/*[not(self::disk[@device='disk'][target/@bus='virtio'])]"
			 "/address[@type='pci']",
		ctx);
	bool taken[PCI_SLOTS] = {true, true, true};
	struct pci_addr have[PCI_SLOTS] = {0};
	size_t n_have = 0, n;
	unsigned long next = RESCUE_FIRST_FREE_SLOT;
	int r = 0;

	n = disks && disks->nodesetval ? (size_t)disks->nodesetval->nodeNr : 0;
	for (int i = 0; used && used->nodesetval && i < used->nodesetval->nodeNr; i++) {
		struct pci_addr a;
		pci_addr_read(used->nodesetval->nodeTab[i], &a);
		if (a.dom == 0 && a.bus == 0 && a.slot < PCI_SLOTS)
			taken[a.slot] = true;
	}
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr d = disks->nodesetval->nodeTab[i];
		for (xmlNodePtr c = d->children, nx; c; c = nx) {
			nx = c->next;
			if (c->type != XML_ELEMENT_NODE ||
			    !xmlStrEqual(c->name, BAD_CAST "address"))
				continue;
			if (n_have < PCI_SLOTS)
				pci_addr_read(c, &have[n_have++]);
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
	if (n > PCI_SLOTS) {
		r = hv_error_set(err, -E2BIG, "xml", "too many disks for one PCI bus");
		goto out;
	}
	qsort(have, n_have, sizeof have[0], pci_addr_cmp);
	for (size_t i = 0; i < n_have; i++)
		if (have[i].dom == 0 && have[i].bus == 0 && have[i].slot + 1 > next)
			next = have[i].slot + 1;
	for (size_t i = 0; i < n; i++) {
		struct pci_addr a = {0};
		if (i < n_have) {
			a = have[i];
		} else if (n_have && (have[n_have - 1].dom || have[n_have - 1].bus)) {
			/* Disks behind PCIe root ports (q35): libvirt gives an unaddressed disk
			 * a new port, numbered after the ones in use, so it stays last. */
			continue;
		} else {
			while (next < PCI_SLOTS && taken[next])
				next++;
			if (next >= PCI_SLOTS) {
				r = hv_error_set(err, -ENOSPC, "xml",
						 "no free PCI slot for the rescue disk");
				goto out;
			}
			a.slot = next++;
		}
		pci_addr_write(disks->nodesetval->nodeTab[i], &a);
	}
out:
	xmlXPathFreeObject(disks);
	xmlXPathFreeObject(used);
	return r;
}

int
domxml_rescue(const char *xml, const char *rescue_disk, const struct hvd_image *rescue_image,
	      char **ret_xml, struct hv_error *err)
{
	struct domxml_opts o = {0};
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlNodePtr root, disk, os, n;
	int r;

	if (!path_ok(rescue_disk))
		return hv_error_set(err, -EINVAL, "rescue_image.path",
				    "rescue disk path must be absolute");
	if ((r = validate_image(rescue_image, 4096, true, &o, err)) < 0)
		return r;
	if (!(doc = parse_xml(xml, err)))
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	root = first_node(ctx, "/domain/devices/disk[target/@dev='vda']");
	os = first_node(ctx, "/domain/os");
	if (!root || !os) {
		xmlXPathFreeContext(ctx);
		xmlFreeDoc(doc);
		return hv_error_set(err, -EINVAL, "xml", "the domain has no root disk vda");
	}
	/* Extra disks shift by one letter so the original root can become vdb. */
	{
		xmlXPathObjectPtr obj = xmlXPathEvalExpression(
			BAD_CAST "/domain/devices/disk[target/@bus='virtio']/target", ctx);
		for (int i = obj && obj->nodesetval ? obj->nodesetval->nodeNr - 1 : -1; i >= 0;
		     i--) {
			xmlNodePtr t = obj->nodesetval->nodeTab[i];
			xmlChar *dev = xmlGetProp(t, BAD_CAST "dev");
			if (dev && strlen((const char *)dev) == 3) {
				char nd[4] = {'v', 'd', (char)(dev[2] + 1), '\0'};
				xmlSetProp(t, BAD_CAST "dev", BAD_CAST nd);
			}
			xmlFree(dev);
		}
		xmlXPathFreeObject(obj);
	}
	xmlXPathFreeContext(ctx);

	disk = xmlNewNode(NULL, BAD_CAST "disk");
	attr(disk, "type", "file");
	attr(disk, "device", "disk");
	n = child(disk, "driver", NULL);
	attr(n, "name", "qemu");
	attr(n, "type", "qcow2");
	attr(n, "cache", "none");
	attr(child(disk, "source", NULL), "file", rescue_disk);
	n = child(disk, "target", NULL);
	attr(n, "dev", "vda");
	attr(n, "bus", "virtio");
	xmlAddPrevSibling(root, disk);
	ctx = xmlXPathNewContext(doc);
	r = rescue_addresses(ctx, err);
	xmlXPathFreeContext(ctx);
	if (r < 0) {
		xmlFreeDoc(doc);
		return r;
	}

	for (xmlNodePtr c = os->children, next; c; c = next) {
		next = c->next;
		if (c->type == XML_ELEMENT_NODE && (xmlStrEqual(c->name, BAD_CAST "kernel") ||
						    xmlStrEqual(c->name, BAD_CAST "initrd") ||
						    xmlStrEqual(c->name, BAD_CAST "cmdline"))) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
	if (o.kernel) {
		xmlNodePtr boot = NULL;
		for (xmlNodePtr c = os->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "boot"))
				boot = c;
		xmlNodePtr k = xmlNewNode(NULL, BAD_CAST "kernel");
		xmlNodeAddContent(k, BAD_CAST o.kernel);
		if (boot)
			xmlAddPrevSibling(boot, k);
		else
			xmlAddChild(os, k);
		if (o.initrd) {
			n = xmlNewNode(NULL, BAD_CAST "initrd");
			xmlNodeAddContent(n, BAD_CAST o.initrd);
			xmlAddNextSibling(k, n);
			k = n;
		}
		if (o.cmdline) {
			n = xmlNewNode(NULL, BAD_CAST "cmdline");
			xmlNodeAddContent(n, BAD_CAST o.cmdline);
			xmlAddNextSibling(k, n);
		}
	}
	return doc_dump(doc, ret_xml, err);
}
