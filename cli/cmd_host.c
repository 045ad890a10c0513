/* cmd_host.c - `hv host`: the hosts hvcentral knows with their liveness and last report,
 * and letting a pending agent key in. Parses a verb's words and prints the answer; the
 * rules are hvcentral's. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char host_help[] =
	"Usage: hv host list\n"
	"       hv host show HOST\n"
	"       hv host accept KEY|ADDRESS --name HOST\n"
	"       hv host evacuate HOST [--target HOST] [--on-shared-storage] [--wait]\n"
	"\n"
	"A host's state is up while its agent reports, suspect after a few missed reports and\n"
	"down after the down time (hvcentral's [agents] suspect_after / down_after). An agent\n"
	"whose CURVE key is not in the allowlist is refused and listed as 'pending' with its key\n"
	"and address; `hv host accept` writes the key to the allowlist under HOST, which must be\n"
	"the agent's configured host_id. A full 40-character key may be accepted before the\n"
	"agent ever connects. Keys may begin with '-': end the options with `--` first\n"
	"(hv host accept --name node-2 -- KEY).\n"
	"`hv host evacuate` rebuilds every server of a host that is down (fence it first)\n"
	"elsewhere: on --target, or where the scheduler places each (hv server evacuate).\n"
	"\n"
	"Examples:\n"
	"  hv host list\n"
	"  hv host accept 'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7' --name node-2\n"
	"  hv host accept 127.0.0.1 --name node-2     # the only pending key from that address\n"
	"  hv host evacuate node-1 --target node-3 --wait\n"
	"  hv host show node-1 -f json\n";

int __attribute__((format(printf, 2, 3))) usage_error(const char *field, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hv: %s: ", field);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see hv --help)\n", stderr);
	return EXIT_USAGE;
}

/* The host's NUMA cells as the scheduler's NUMATopologyFilter reads them. */
static void
print_cells(const json_t *res)
{
	static const char *const hdr[] = {"Cell", "CPUs", "CPUs used", "Memory MiB (used/total)"};
	const json_t *cells = json_object_get(json_object_get(res, "numa_topology"), "cells");
	size_t i;
	json_t *c;
	if (!json_array_size(cells))
		return;
	struct tbl *t = tbl_new(4, hdr);
	json_array_foreach (cells, i, c) {
		char id[24], used[24], mem[64];
		snprintf(id, sizeof id, "%lld",
			 (long long)json_integer_value(json_object_get(c, "id")));
		snprintf(used, sizeof used, "%lld",
			 (long long)json_integer_value(json_object_get(c, "cpu_usage")));
		snprintf(mem, sizeof mem, "%lld/%lld",
			 (long long)json_integer_value(json_object_get(c, "memory_usage")),
			 (long long)json_integer_value(json_object_get(c, "memory")));
		const char *row[] = {id, s_or(c, "cpuset", ""), used, mem};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* The metrics the metrics weigher and MetricFilter read ([metrics] weight_setting). */
static void
print_metrics(const json_t *res)
{
	static const char *const hdr[] = {"Metric", "Value"};
	const json_t *metrics = json_object_get(res, "metrics");
	size_t i;
	json_t *m;
	if (!json_array_size(metrics))
		return;
	struct tbl *t = tbl_new(2, hdr);
	json_array_foreach (metrics, i, m) {
		char v[48] = "";
		json_t *val = json_object_get(m, "value");
		if (json_is_integer(val))
			snprintf(v, sizeof v, "%lld", (long long)json_integer_value(val));
		else if (json_is_number(val))
			snprintf(v, sizeof v, "%.4g", json_number_value(val));
		const char *row[] = {s_or(m, "name", ""), v};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

static void
print_hosts(json_t *arr)
{
	static const char *const hdr[] = {"Host",
					  "State",
					  "Status",
					  "Last Seen",
					  "Address",
					  "vCPUs (used/total)",
					  "RAM MiB (used/total)",
					  "VMs",
					  "Key"};
	struct tbl *t = tbl_new(9, hdr);
	size_t i;
	json_t *h;
	json_array_foreach (arr, i, h) {
		char seen[32] = "never", cpu[48] = "", ram[64] = "", vms[16] = "", key[16];
		char status[320] = "-";
		json_t *ago = json_object_get(h, "seen_ago_ms");
		if (json_is_integer(ago))
			snprintf(seen, sizeof seen, "%.1fs ago",
				 (double)json_integer_value(ago) / 1000.0);
		json_t *r = json_object_get(h, "resources");
		if (json_object_get(r, "vcpus"))
			snprintf(cpu, sizeof cpu, "%lld/%lld",
				 (long long)json_integer_value(json_object_get(r, "vcpus_used")),
				 (long long)json_integer_value(json_object_get(r, "vcpus")));
		if (json_object_get(r, "memory_mb"))
			snprintf(
				ram, sizeof ram, "%lld/%lld",
				(long long)json_integer_value(json_object_get(r, "memory_mb_used")),
				(long long)json_integer_value(json_object_get(r, "memory_mb")));
		if (json_object_get(r, "running_vms"))
			snprintf(vms, sizeof vms, "%lld",
				 (long long)json_integer_value(json_object_get(r, "running_vms")));
		snprintf(key, sizeof key, "%.10s...", s_or(h, "public_key", ""));
		/* what the host says of itself: disabled comes with its reason */
		if (json_is_string(json_object_get(h, "status")))
			snprintf(status, sizeof status, "%s%s%s%s", s_or(h, "status", ""),
				 json_is_string(json_object_get(h, "disabled_reason")) ? " (" : "",
				 s_or(h, "disabled_reason", ""),
				 json_is_string(json_object_get(h, "disabled_reason")) ? ")" : "");
		const char *row[] = {s_or(h, "host_id", "-"),
				     s_or(h, "state", ""),
				     status,
				     seen,
				     s_or(h, "address", ""),
				     cpu,
				     ram,
				     vms,
				     key};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* nova's host-evacuate: every live server of a host that is down, one request each; a
 * line per server (or the records as a JSON list); the worst exit code. */
static int
evacuate_host(struct ctx *x, const char *host)
{
	struct args *a = x->a;
	json_t *list = NULL, *out = json_array(), *s;
	json_t *q = json_pack("{s:s}", "host", host);
	int worst = call(x, "server.list", q, false, &list);
	size_t i;
	json_decref(q);
	if (worst == EXIT_OK && json_array_size(list) == 0)
		fprintf(stderr, "hv: host %s has no server to evacuate\n", host);
	json_array_foreach (worst == EXIT_OK ? list : NULL, i, s) {
		json_t *res = NULL;
		const char *uuid = s_or(s, "uuid", "");
		q = json_pack("{s:s}", "server", uuid);
		if (a->target)
			json_object_set_new(q, "host", json_string(a->target));
		if (a->shared_storage)
			json_object_set_new(q, "on_shared_storage", json_true());
		int r = call(x, "server.evacuate", q, a->wait, &res);
		json_decref(q);
		if (r == EXIT_OK && a->json)
			json_array_append(out, res);
		else if (r == EXIT_OK)
			printf("%s %s: evacuated to %s\n", uuid, s_or(s, "name", ""),
			       s_or(res, "host", "?"));
		if (r > worst)
			worst = r;
		json_decref(res);
	}
	if (a->json)
		print_json(out);
	json_decref(out);
	json_decref(list);
	return worst;
}

int
cmd_host(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = NULL;
	int r;

	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
			return EXIT_USAGE;
		r = call(x, "host.list", NULL, false, &res);
		if (r == EXIT_OK)
			a->json ? print_json(res) : print_hosts(res);
	} else if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "HOST") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s}", "host", a->argv[2]);
		r = call(x, "host.show", q, false, &res);
		if (r == EXIT_OK && a->json) {
			print_json(res);
		} else if (r == EXIT_OK) {
			/* the report's headline numbers as rows, then its NUMA cells and metrics */
			static const char *const keys[] = {
				"hypervisor_type", "vcpus",    "vcpus_used",    "memory_mb",
				"memory_mb_used",  "local_gb", "local_gb_used", "running_vms"};
			json_t *flat = json_deep_copy(res), *rs = json_object_get(res, "resources");
			json_object_del(flat, "resources");
			for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
				json_t *v = json_object_get(rs, keys[i]);
				if (v) {
					char k[64];
					snprintf(k, sizeof k, "resources.%s", keys[i]);
					json_object_set(flat, k, v);
				}
			}
			print_object(flat);
			json_decref(flat);
			print_cells(rs);
			print_metrics(rs);
		}
	} else if (strcmp(verb, "accept") == 0) {
		if (check_opts(a, O_NAME) < 0 || need_args(a, 1, "KEY or ADDRESS") < 0)
			return EXIT_USAGE;
		if (!a->name)
			return usage_error("--name", "%s", "is required: the agent's host_id");
		q = json_pack("{s:s, s:s}", "key", a->argv[2], "name", a->name);
		r = call(x, "host.accept", q, false, &res);
		if (r == EXIT_OK)
			a->json ? print_json(res) : print_object(res);
	} else if (strcmp(verb, "evacuate") == 0) {
		if (check_opts(a, O_TARGET | O_SHARED_STORAGE | O_WAIT) < 0 ||
		    need_args(a, 1, "HOST") < 0)
			return EXIT_USAGE;
		json_decref(q);
		return evacuate_host(x, a->argv[2]);
	} else {
		return usage_error("host", "'%s' is not list, show, accept or evacuate", verb);
	}
	json_decref(q);
	json_decref(res);
	return r;
}
