/* cmd_servergroup.c - `hv server group`: groups whose policy the scheduler keeps when it
 * places their servers (affinity: one host; anti-affinity: one host each). Parses a verb's
 * words and prints the answer; the rules are hvcentral's. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char server_group_help[] =
	"Usage: hv server group list [--project PROJECT]\n"
	"       hv server group show GROUP\n"
	"       hv server group create NAME --policy POLICY [--project PROJECT]\n"
	"       hv server group delete GROUP...\n"
	"\n"
	"GROUP is an id or a name. POLICY is affinity (every server on one host),\n"
	"anti-affinity (each on a host of its own: a create that finds none left fails with\n"
	"no_valid_host naming ServerGroupAntiAffinityFilter), or soft-affinity /\n"
	"soft-anti-affinity (weighed, never refused: [scheduler]\n"
	"soft_(anti_)affinity_weight_multiplier). A server joins a group when it is\n"
	"created: hv server create ... --server-group GROUP, or nova's --hint group=ID.\n"
	"\n"
	"Examples:\n"
	"  hv server group create web --policy anti-affinity\n"
	"  hv server create web --flavor m1.tiny --image cirros --server-group web --min 3\n"
	"  hv server group show web -f json\n"
	"  hv server group delete web\n";

static void
print_groups(json_t *arr)
{
	static const char *const hdr[] = {"ID", "Name", "Policy", "Members"};
	struct tbl *t = tbl_new(4, hdr);
	size_t i;
	json_t *g;
	json_array_foreach (arr, i, g) {
		char n[24];
		snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(g, "members")));
		const char *row[] = {s_or(g, "id", ""), s_or(g, "name", ""), s_or(g, "policy", ""),
				     n};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

int
cmd_server_group(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = json_object();
	int r;
	if (a->project)
		json_object_set_new(q, "project", json_string(a->project));
	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, O_PROJECT) < 0 || need_args(a, 0, "no arguments") < 0)
			r = EXIT_USAGE;
		else if ((r = call(x, "server_group.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_groups(res);
		json_decref(res);
	} else if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "GROUP") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "group", json_string(a->argv[2]));
			r = call(x, "server_group.show", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_PROJECT | O_POLICY) < 0 || need_args(a, 1, "NAME") < 0) {
			r = EXIT_USAGE;
		} else if (!a->policy) {
			r = usage_error("--policy", "%s",
					"is required (affinity, anti-affinity, soft-affinity or "
					"soft-anti-affinity)");
		} else {
			json_object_set_new(q, "name", json_string(a->argv[2]));
			json_object_set_new(q, "policy", json_string(a->policy));
			r = call(x, "server_group.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "delete") == 0) {
		r = check_opts(a, 0) < 0 || a->argc < 3 ? EXIT_USAGE : EXIT_OK;
		if (r == EXIT_USAGE && a->argc < 3)
			fprintf(stderr, "hv: server group delete: expected GROUP... (see hv server "
					"group --help)\n");
		for (int i = 2; r != EXIT_USAGE && i < a->argc; i++) {
			json_object_set_new(q, "group", json_string(a->argv[i]));
			int ri = call(x, "server_group.delete", q, false, NULL);
			r = ri != EXIT_OK ? ri : r;
		}
	} else {
		r = usage_error("server group", "'%s' is not list, show, create or delete", verb);
	}
	json_decref(q);
	return r;
}
