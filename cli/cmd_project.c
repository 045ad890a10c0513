/* cmd_project.c - `hv project` and `hv quota`: the projects that own servers, and each
 * project's limits beside what it uses. Parses a verb's words and prints the answer; the
 * rules (names, limits, what counts as used) are hvcentral's. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char project_help[] =
	"Usage: hv project list\n"
	"       hv project show PROJECT\n"
	"       hv project create NAME [--description TEXT] [--enable|--disable]\n"
	"\n"
	"A project owns servers (and, as the catalog grows, key pairs, networks and floating\n"
	"IPs) and is held to its quotas. PROJECT is a name or an id (32 hex digits). The\n"
	"project 'admin' is created when hvcentral first starts; a server created without\n"
	"--project belongs to it. A disabled project creates nothing.\n"
	"\n"
	"Examples:\n"
	"  hv project create demo --description 'the demo tenant'\n"
	"  hv project list\n"
	"  hv project show demo -f json\n";

const char quota_help[] =
	"Usage: hv quota show [PROJECT]\n"
	"       hv quota set [PROJECT] [--instances N] [--cores N] [--ram MiB]\n"
	"                    [--floating-ips N] [--security-groups N]\n"
	"                    [--security-group-rules N] [--key-pairs N]\n"
	"\n"
	"Limits per project, nova's and neutron's defaults until set: instances 10, cores 20,\n"
	"ram 51200 MiB, floating-ips 50, security-groups 10, security-group-rules 100,\n"
	"key-pairs 100; -1 is unlimited. A create that would pass a limit is refused\n"
	"(over_quota) and creates nothing. A limit below what the project already uses is\n"
	"refused. Without PROJECT: the project 'admin'.\n"
	"\n"
	"Examples:\n"
	"  hv quota show demo\n"
	"  hv quota set demo --instances 20 --cores 40 --ram 102400\n"
	"  hv quota set demo --floating-ips -1\n";

static void
print_projects(json_t *arr)
{
	static const char *const hdr[] = {"ID", "Name", "Enabled", "Description"};
	struct tbl *t = tbl_new(4, hdr);
	size_t i;
	json_t *p;
	json_array_foreach (arr, i, p) {
		const char *row[] = {s_or(p, "id", ""), s_or(p, "name", ""),
				     json_is_true(json_object_get(p, "enabled")) ? "True" : "False",
				     s_or(p, "description", "")};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

int
cmd_project(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = NULL;
	int r;

	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
			return EXIT_USAGE;
		r = call(x, "project.list", NULL, false, &res);
		if (r == EXIT_OK)
			a->json ? print_json(res) : print_projects(res);
		json_decref(res);
		return r;
	}
	if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "PROJECT") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s}", "project", a->argv[2]);
		r = call(x, "project.show", q, false, &res);
		json_decref(q);
		return print_result(a, r, res);
	}
	if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_DESCRIPTION | O_ENABLE | O_DISABLE) < 0 ||
		    need_args(a, 1, "NAME") < 0)
			return EXIT_USAGE;
		if (a->enable && a->disable)
			return usage_error("--enable", "%s", "and --disable exclude each other");
		q = json_pack("{s:s, s:b}", "name", a->argv[2], "enabled", !a->disable);
		if (a->description)
			json_object_set_new(q, "description", json_string(a->description));
		r = call(x, "project.create", q, false, &res);
		json_decref(q);
		return print_result(a, r, res);
	}
	return usage_error("project", "'%s' is not list, show or create", verb);
}

int
cmd_quota(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = NULL;
	int r;
	bool set = strcmp(verb, "set") == 0;

	if (!set && strcmp(verb, "show") != 0)
		return usage_error("quota", "'%s' is not show or set", verb);
	if (check_opts(a, set ? O_QUOTA | O_RAM : 0) < 0)
		return EXIT_USAGE;
	if (a->argc > 3) {
		fprintf(stderr, "hv: quota %s: expected at most PROJECT (see hv quota --help)\n",
			verb);
		return EXIT_USAGE;
	}
	if (set && json_object_size(a->nums) == 0)
		return usage_error("quota set", "%s",
				   "give at least one limit (--instances N, ...)");
	q = json_object();
	if (a->argc == 3)
		json_object_set_new(q, "project", json_string(a->argv[2]));
	if (set)
		json_object_set(q, "quotas", a->nums);
	r = call(x, set ? "quota.set" : "quota.show", q, false, &res);
	json_decref(q);
	return print_result(a, r, res);
}
