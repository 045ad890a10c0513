/* hypervisor.c - nova's os-hypervisors view of the hosts: capacity from each host's last
 * report, usage as hvcentral's own records allocate it (the flavors of its live servers on
 * the host), and what the host itself reports and measures beside it, so an operator sees
 * both; the sums over every host (stats). Must never encode a reply or touch a socket. */
#include "service-priv.h"

#include <string.h>

#include "json.h"

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The flavors of hvcentral's live servers on each host: {host: {vcpus, ram, disk, n}}. */
static json_t *
allocated(json_t *servers)
{
	json_t *by = json_object(), *s;
	size_t i;
	json_array_foreach (servers, i, s) {
		const char *host = field_or(s, "host", "");
		const json_t *f = json_object_get(s, "flavor");
		json_t *a = json_object_get(by, host);
		if (!a) {
			a = json_pack("{s:I, s:I, s:I, s:I}", "vcpus", 0, "ram", 0, "disk", 0, "n",
				      0);
			json_object_set_new(by, host, a);
		}
		json_object_set_new(a, "vcpus", json_integer(num(a, "vcpus") + num(f, "vcpus")));
		json_object_set_new(a, "ram", json_integer(num(a, "ram") + num(f, "ram_mb")));
		json_object_set_new(
			a, "disk",
			json_integer(num(a, "disk") + num(f, "root_gb") + num(f, "ephemeral_gb")));
		json_object_set_new(a, "n", json_integer(num(a, "n") + 1));
	}
	return by;
}

static json_t *
hypervisor_row(const json_t *h, const json_t *alloc, bool detail)
{
	const json_t *res = json_object_get(h, "resources"), *real = json_object_get(res, "real");
	json_int_t ram = num(res, "memory_mb"), disk = num(res, "local_gb");
	json_t *row = json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:s}",
		"id", field_or(h, "host_id", ""), "hypervisor_hostname",
		field_or(res, "hypervisor_hostname", field_or(h, "host_id", "")), "hypervisor_type",
		field_or(res, "hypervisor_type", ""), "state",
		strcmp(field_or(h, "state", ""), "up") == 0 ? "up" : "down", "status",
		json_string(field_or(h, "status", "disabled")), "vcpus", num(res, "vcpus"),
		"vcpus_used", num(alloc, "vcpus"), "memory_mb", ram, "memory_mb_used",
		num(alloc, "ram"), "free_ram_mb", ram - num(alloc, "ram"), "local_gb", disk,
		"local_gb_used", num(alloc, "disk"), "free_disk_gb", disk - num(alloc, "disk"),
		"running_vms", num(alloc, "n"), "disk_available_least",
		json_object_get(res, "disk_available_least")
			? json_object_get(res, "disk_available_least")
			: json_null(),
		"host_ip", field_or(h, "address", ""));
	/* what the host says it allocates and what it measures, beside hvcentral's count */
	json_object_set_new(row, "reported",
			    json_pack("{s:I, s:I, s:I, s:I}", "vcpus_used", num(res, "vcpus_used"),
				      "memory_mb_used", num(res, "memory_mb_used"), "local_gb_used",
				      num(res, "local_gb_used"), "running_vms",
				      num(res, "running_vms")));
	json_object_set_new(row, "measured",
			    json_pack("{s:I, s:I}", "memory_mb_used", num(real, "memory_mb_used"),
				      "local_gb_used", num(real, "local_gb_used")));
	if (detail) {
		json_t *cells = json_object_get(json_object_get(res, "numa_topology"), "cells");
		json_object_set_new(row, "numa_cells",
				    cells ? json_deep_copy(cells) : json_array());
		json_object_set(row, "cpu_info", json_object_get(res, "cpu_info"));
	}
	return row;
}

/* Every host that has reported, as os-hypervisors rows; only `host` when not NULL. */
static int
hypervisors(struct svc *sv, const char *host, bool detail, int64_t now, json_t **ret,
	    struct hv_error *err)
{
	json_t *hosts = NULL, *servers = NULL, *by = NULL, *h;
	size_t i;
	int r;
	if ((r = svc_host_list(sv, now, &hosts, err)) < 0 ||
	    (r = store_instance_list(sv->store, NULL, false, &servers, err)) < 0)
		goto out;
	by = allocated(servers);
	*ret = json_array();
	json_array_foreach (hosts, i, h) {
		const char *id = field_or(h, "host_id", NULL);
		if (!id || !json_object_size(json_object_get(h, "resources")) ||
		    (host && strcmp(id, host) != 0))
			continue;
		json_array_append_new(*ret, hypervisor_row(h, json_object_get(by, id), detail));
	}
out:
	json_decref(hosts);
	json_decref(servers);
	json_decref(by);
	return r;
}

int
svc_hypervisor_list(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err)
{
	return hypervisors(sv, NULL, false, now, ret, err);
}

int
svc_hypervisor_show(struct svc *sv, const char *host, int64_t now, json_t **ret,
		    struct hv_error *err)
{
	json_t *list = NULL;
	int r = hypervisors(sv, host, true, now, &list, err);
	if (r == 0 && !json_array_size(list))
		r = hv_error_set(err, -ENOENT, "args.hypervisor",
				 "args.hypervisor: no hypervisor '%s' (a host that has reported)",
				 host);
	if (r == 0)
		*ret = json_incref(json_array_get(list, 0));
	json_decref(list);
	return r;
}

int
svc_hypervisor_stats(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const keys[] = {"vcpus",         "vcpus_used",
					   "memory_mb",     "memory_mb_used",
					   "free_ram_mb",   "local_gb",
					   "local_gb_used", "free_disk_gb",
					   "running_vms",   "disk_available_least"};
	json_t *list = NULL, *h;
	size_t i;
	int r = hypervisors(sv, NULL, false, now, &list, err);
	if (r < 0)
		return r;
	*ret = json_pack("{s:I}", "count", (json_int_t)json_array_size(list));
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		json_int_t sum = 0;
		json_array_foreach (list, i, h)
			sum += num(h, keys[k]);
		json_object_set_new(*ret, keys[k], json_integer(sum));
	}
	json_decref(list);
	return 0;
}
