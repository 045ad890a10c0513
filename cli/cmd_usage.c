/* cmd_usage.c - `hv usage` (what projects used over a date range, as nova's simple tenant
 * usage counts it) and `hv hypervisor` (each host's capacity, what hvcentral allocated on it
 * and what the host reports, side by side). Parses a verb's words and prints the answer;
 * the numbers are hvcentral's. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char usage_help[] =
	"Usage: hv usage list [--project PROJECT] [--start DATE] [--end DATE]\n"
	"       hv usage show [--project PROJECT] [--start DATE] [--end DATE]\n"
	"\n"
	"DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC (default: the four weeks before now).\n"
	"A server counts from its creation to its deletion (or now), inside the range:\n"
	"hours, and hours times its flavor's vCPUs, RAM (MB) and disk (GB). list has one row\n"
	"per project (or only PROJECT's); show one project's totals and its servers\n"
	"(default project: admin).\n"
	"\n"
	"Examples:\n"
	"  hv usage list --start 2026-12-01 --end 2026-12-07\n"
	"  hv usage show --project demo -f json\n";

const char hypervisor_help[] =
	"Usage: hv hypervisor list\n"
	"       hv hypervisor show HOST\n"
	"       hv hypervisor stats\n"
	"\n"
	"Capacity is what each host reports; vcpus_used, memory_mb_used, local_gb_used and\n"
	"running_vms are what hvcentral's server records allocate there; \"reported\" is what\n"
	"the host says it allocates and \"measured\" what it measures. show adds the NUMA\n"
	"cells; stats sums every host.\n"
	"\n"
	"Examples:\n"
	"  hv hypervisor list\n"
	"  hv hypervisor show node-1 -f json\n"
	"  hv hypervisor stats\n";

static void
print_usage_rows(json_t *arr)
{
	static const char *const hdr[] = {"Project", "Servers", "RAM MB-Hours", "CPU Hours",
					  "Disk GB-Hours"};
	struct tbl *t = tbl_new(5, hdr);
	size_t i;
	json_t *u;
	json_array_foreach (arr, i, u) {
		char n[24], ram[32], cpu[32], disk[32];
		json_t *rows = json_object_get(u, "server_usages");
		snprintf(n, sizeof n, "%zu", json_array_size(rows));
		snprintf(ram, sizeof ram, "%.2f",
			 json_real_value(json_object_get(u, "total_memory_mb_usage")));
		snprintf(cpu, sizeof cpu, "%.2f",
			 json_real_value(json_object_get(u, "total_vcpus_usage")));
		snprintf(disk, sizeof disk, "%.2f",
			 json_real_value(json_object_get(u, "total_local_gb_usage")));
		/* the list (nova's non-detailed usage) has no per-server rows to count */
		const char *row[] = {s_or(u, "tenant_id", ""), rows ? n : "-", ram, cpu, disk};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* One project's totals as list prints them, then a row per server. */
static void
print_usage_show(json_t *u)
{
	json_t *one = json_array();
	json_array_append(one, u);
	print_usage_rows(one);
	json_decref(one);
	static const char *const hdr[] = {"Server", "Name",    "Flavor", "State",
					  "Hours",  "Started", "Ended"};
	struct tbl *t = tbl_new(7, hdr);
	size_t i;
	json_t *s;
	json_array_foreach (json_object_get(u, "server_usages"), i, s) {
		char hours[32];
		snprintf(hours, sizeof hours, "%.2f", json_real_value(json_object_get(s, "hours")));
		const char *row[] = {s_or(s, "instance_id", ""),
				     s_or(s, "name", ""),
				     s_or(s, "flavor", ""),
				     s_or(s, "state", ""),
				     hours,
				     s_or(s, "started_at", ""),
				     s_or(s, "ended_at", "-")};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

int
cmd_usage(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	bool show = strcmp(verb, "show") == 0;
	json_t *res = NULL, *q = json_object();
	int r;
	if (!show && strcmp(verb, "list") != 0) {
		r = usage_error("usage", "'%s' is not list or show", verb);
	} else if (check_opts(a, O_START | O_END | O_PROJECT) < 0 ||
		   need_args(a, 0, "no arguments") < 0) {
		r = EXIT_USAGE;
	} else {
		if (a->project)
			json_object_set_new(q, "project", json_string(a->project));
		if (a->start)
			json_object_set_new(q, "start", json_string(a->start));
		if (a->end)
			json_object_set_new(q, "end", json_string(a->end));
		r = call(x, show ? "usage.show" : "usage.list", q, false, &res);
		if (r == EXIT_OK && a->json)
			print_json(res);
		else if (r == EXIT_OK && show)
			print_usage_show(res);
		else if (r == EXIT_OK)
			print_usage_rows(res);
		json_decref(res);
	}
	json_decref(q);
	return r;
}

static void
print_hypervisors(json_t *arr)
{
	static const char *const hdr[] = {"Hypervisor Hostname", "State",   "Status",     "vCPUs",
					  "Memory MB",           "Disk GB", "Running VMs"};
	struct tbl *t = tbl_new(7, hdr);
	size_t i;
	json_t *h;
	json_array_foreach (arr, i, h) {
#define NUM(k) json_integer_value(json_object_get(h, k))
		char cpu[48], ram[48], disk[48], vms[24];
		snprintf(cpu, sizeof cpu, "%lld of %lld", NUM("vcpus_used"), NUM("vcpus"));
		snprintf(ram, sizeof ram, "%lld of %lld", NUM("memory_mb_used"), NUM("memory_mb"));
		snprintf(disk, sizeof disk, "%lld of %lld", NUM("local_gb_used"), NUM("local_gb"));
		snprintf(vms, sizeof vms, "%lld", NUM("running_vms"));
#undef NUM
		const char *row[] = {s_or(h, "hypervisor_hostname", ""),
				     s_or(h, "state", ""),
				     s_or(h, "status", ""),
				     cpu,
				     ram,
				     disk,
				     vms};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

int
cmd_hypervisor(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = json_object();
	int r;
	if (check_opts(a, 0) < 0) {
		r = EXIT_USAGE;
	} else if (strcmp(verb, "list") == 0) {
		if (need_args(a, 0, "no arguments") < 0)
			r = EXIT_USAGE;
		else if ((r = call(x, "hypervisor.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_hypervisors(res);
		json_decref(res);
	} else if (strcmp(verb, "show") == 0) {
		if (need_args(a, 1, "HOST") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "hypervisor", json_string(a->argv[2]));
			r = call(x, "hypervisor.show", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "stats") == 0) {
		if (need_args(a, 0, "no arguments") < 0) {
			r = EXIT_USAGE;
		} else {
			r = call(x, "hypervisor.stats", q, false, &res);
			r = print_result(a, r, res);
		}
	} else {
		r = usage_error("hypervisor", "'%s' is not list, show or stats", verb);
	}
	json_decref(q);
	return r;
}
