/* caps.c - capabilities XML -> host NUMA cells, and the user the DAC security driver runs
 * guests as. Pure: never calls libvirt, never logs. */
#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

static xmlNodePtr
find(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
			return c;
	return NULL;
}

static unsigned long long
prop_ull(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	unsigned long long r = v ? strtoull((const char *)v, NULL, 10) : 0;

	xmlFree(v);
	return r;
}

static unsigned long long
text_ull(xmlNodePtr n)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	unsigned long long r = v ? strtoull((const char *)v, NULL, 10) : 0;

	xmlFree(v);
	return r;
}

static void
text_copy(xmlNodePtr n, char *buf, size_t size)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;

	snprintf(buf, size, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

/* Appends "a" or ",a" (or ";" as the group separator) while it fits. */
static void
append(char *buf, size_t size, const char *sep, const char *item)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%s%s", len ? sep : "", item);
}

#define MAX_CPUS 4096

/* "0-3,8" from a bitmap, as operators write CPU lists. */
static void
format_ranges(const unsigned char *bits, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < MAX_CPUS; i++) {
		unsigned j = i;
		int n;

		if (!bits[i])
			continue;
		while (j + 1 < MAX_CPUS && bits[j + 1])
			j++;
		n = j == i ? snprintf(buf + len, size - len, "%s%u", len ? "," : "", i)
			   : snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", i, j);
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
		i = j;
	}
}

static void
parse_cell(xmlNodePtr cell, struct hvd_numa_cell *c, struct domxml_host_cell *hc)
{
	xmlNodePtr cpus = find(cell, "cpus");
	unsigned long long mem_kib = 0;
	unsigned char bits[MAX_CPUS] = {0};

	c->id = (uint32_t)prop_ull(cell, "id");
	for (xmlNodePtr n = cell->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrEqual(n->name, BAD_CAST "memory")) {
			mem_kib = text_ull(n);
		} else if (xmlStrEqual(n->name, BAD_CAST "pages") &&
			   c->n_mempages < HVD_MAX_PAGE_SIZES) {
			c->mempages[c->n_mempages].size_kb = (uint32_t)prop_ull(n, "size");
			c->mempages[c->n_mempages].total = text_ull(n);
			c->n_mempages++;
		}
	}
	c->memory_mb = mem_kib / 1024;
	for (xmlNodePtr n = cpus ? cpus->children : NULL; n; n = n->next) {
		xmlChar *id, *sib;

		if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "cpu"))
			continue;
		id = xmlGetProp(n, BAD_CAST "id");
		sib = xmlGetProp(n, BAD_CAST "siblings");
		if (id && strtoul((const char *)id, NULL, 10) < MAX_CPUS) {
			bits[strtoul((const char *)id, NULL, 10)] = 1;
			if (hc)
				hc->n_cpus++;
			/* A sibling group is listed once, by its first CPU. */
			if (sib && strchr((const char *)sib, ',') == NULL &&
			    strchr((const char *)sib, '-') == NULL)
				;
			else if (sib && strtoul((const char *)sib, NULL, 10) ==
						strtoul((const char *)id, NULL, 10))
				append(c->siblings, sizeof c->siblings, ";", (const char *)sib);
		}
		xmlFree(id);
		xmlFree(sib);
	}
	format_ranges(bits, c->cpuset, sizeof c->cpuset);
	if (hc) {
		hc->id = c->id;
		hc->memory_mb = c->memory_mb;
		snprintf(hc->cpuset, sizeof hc->cpuset, "%s", c->cpuset);
	}
}

int
caps_parse(const char *caps_xml, struct hvd_host_info *info, struct domxml_host *host,
	   struct hv_error *err)
{
	xmlDocPtr doc = xmlReadMemory(caps_xml, (int)strlen(caps_xml), "capabilities.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNodePtr h, cpu, cells;

	if (!doc)
		return hv_error_set(err, -EPROTO, "capabilities",
				    "the host capabilities XML does not parse");
	h = find(xmlDocGetRootElement(doc), "host");
	cpu = find(h, "cpu");
	text_copy(find(cpu, "arch"), info->arch, sizeof info->arch);
	text_copy(find(cpu, "model"), info->cpu_model, sizeof info->cpu_model);
	cells = find(find(h, "topology"), "cells");
	info->n_cells = 0;
	if (host)
		memset(host, 0, sizeof *host);
	for (xmlNodePtr n = cells ? cells->children : NULL; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "cell"))
			continue;
		if (info->n_cells == HVD_MAX_NUMA_CELLS)
			break;
		memset(&info->cells[info->n_cells], 0, sizeof info->cells[0]);
		parse_cell(n, &info->cells[info->n_cells],
			   host ? &host->cells[info->n_cells] : NULL);
		info->n_cells++;
	}
	if (host)
		host->n_cells = info->n_cells;
	xmlFreeDoc(doc);
	return 0;
}

/* "+64055:+64055" (numeric) or "libvirt-qemu:kvm" (names, resolved on this host). */
static int
dac_label(const char *s, uid_t *ret_uid, gid_t *ret_gid)
{
	char user[128], group[128];
	const char *colon = strchr(s, ':');
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof user || strlen(colon + 1) >= sizeof group)
		return -EINVAL;
	snprintf(user, sizeof user, "%.*s", (int)(colon - s), s);
	snprintf(group, sizeof group, "%s", colon + 1);
	if (user[0] == '+') {
		*ret_uid = (uid_t)strtoul(user + 1, &end, 10);
		if (*end || !user[1])
			return -EINVAL;
	} else {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			return -ENOENT;
		*ret_uid = pw->pw_uid;
	}
	if (group[0] == '+') {
		*ret_gid = (gid_t)strtoul(group + 1, &end, 10);
		if (*end || !group[1])
			return -EINVAL;
	} else {
		struct group *gr = getgrnam(group);
		if (!gr)
			return -ENOENT;
		*ret_gid = gr->gr_gid;
	}
	return 0;
}

int
caps_dac_user(const char *caps_xml, const char *virt_type, uid_t *ret_uid, gid_t *ret_gid,
	      struct hv_error *err)
{
	xmlDocPtr doc = xmlReadMemory(caps_xml, (int)strlen(caps_xml), "caps.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNodePtr host = doc ? find(xmlDocGetRootElement(doc), "host") : NULL;
	int r = 0;
	bool found = false;

	if (!doc)
		return hv_error_set(err, -EPROTO, "", "capabilities: not XML");
	for (xmlNodePtr sm = host ? host->children : NULL; sm && !found && r == 0; sm = sm->next) {
		xmlNodePtr model = NULL;
		xmlChar *name;
		bool dac;

		if (sm->type != XML_ELEMENT_NODE || !xmlStrEqual(sm->name, BAD_CAST "secmodel"))
			continue;
		model = find(sm, "model");
		name = model ? xmlNodeGetContent(model) : NULL;
		dac = name && xmlStrEqual(name, BAD_CAST "dac");
		xmlFree(name);
		if (!dac)
			continue;
		for (xmlNodePtr b = sm->children; b && !found; b = b->next) {
			xmlChar *type, *label;

			if (b->type != XML_ELEMENT_NODE ||
			    !xmlStrEqual(b->name, BAD_CAST "baselabel"))
				continue;
			type = xmlGetProp(b, BAD_CAST "type");
			if (type && xmlStrEqual(type, BAD_CAST virt_type)) {
				label = xmlNodeGetContent(b);
				r = dac_label(label ? (const char *)label : "", ret_uid, ret_gid);
				if (r < 0)
					hv_error_set(err, r, "", "capabilities: DAC baselabel '%s'",
						     label ? (const char *)label : "");
				found = r == 0;
				xmlFree(label);
			}
			xmlFree(type);
		}
	}
	xmlFreeDoc(doc);
	if (r < 0)
		return r;
	return found ? 1 : 0;
}
