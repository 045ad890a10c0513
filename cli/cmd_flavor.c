/* cmd_flavor.c - `hv flavor`: the catalog's flavors (the sizes and extra specs servers are
 * created with) and who may use a private one. Parses a verb's words and prints the
 * answer; the rules (sizes, extra specs, access) are hvcentral's. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char flavor_help[] =
	"Usage: hv flavor list [--all|--private|--public]\n"
	"       hv flavor show FLAVOR\n"
	"       hv flavor create NAME --vcpus N --ram MiB --disk GiB [--id ID]\n"
	"                        [--ephemeral GiB] [--swap MiB] [--public|--private]\n"
	"                        [--property KEY=VALUE]... [--project PROJECT]\n"
	"                        [--description TEXT]\n"
	"       hv flavor delete FLAVOR...\n"
	"       hv flavor set FLAVOR [--property KEY=VALUE]... [--project PROJECT]\n"
	"                        [--description TEXT]\n"
	"       hv flavor unset FLAVOR [--property KEY]... [--project PROJECT]\n"
	"\n"
	"FLAVOR is a name or an id. hvcentral starts with the flavors m1.tiny (1 vCPU, 512 MiB,\n"
	"1 GiB), m1.small (1, 2048, 20), m1.medium (2, 4096, 40), m1.large (4, 8192, 80) and\n"
	"m1.xlarge (8, 16384, 160), ids 1-5. A new flavor's id is a UUID unless --id gives\n"
	"one. --property sets extra specs (hw:watchdog_action=reset, hw:numa_nodes=2, ...),\n"
	"checked as the hosts check them; unset takes their keys. A private flavor is usable\n"
	"only by the projects on its access list: --project on create, set and unset adds or\n"
	"removes one. list shows public flavors unless --private or --all.\n"
	"\n"
	"Examples:\n"
	"  hv flavor list\n"
	"  hv flavor create m1.nano --id 42 --vcpus 1 --ram 128 --disk 1\n"
	"  hv flavor create db.large --vcpus 4 --ram 8192 --disk 80 --swap 2048 \\\n"
	"      --property quota:cpu_shares=2048 --private --project demo\n"
	"  hv flavor set db.large --property hw:numa_nodes=2\n"
	"  hv flavor unset db.large --property hw:numa_nodes\n"
	"  hv flavor show m1.small -f json\n"
	"  hv flavor delete m1.nano\n";

static void
print_flavors(json_t *arr)
{
	static const char *const hdr[] = {"ID",        "Name",  "RAM",      "Disk",
					  "Ephemeral", "VCPUs", "Is Public"};
	struct tbl *t = tbl_new(7, hdr);
	size_t i;
	json_t *f;
	json_array_foreach (arr, i, f) {
		char n[4][24];
		static const char *const keys[] = {"ram", "disk", "ephemeral", "vcpus"};
		for (int k = 0; k < 4; k++)
			snprintf(n[k], sizeof n[k], "%lld",
				 (long long)json_integer_value(json_object_get(f, keys[k])));
		const char *row[] = {s_or(f, "id", ""),
				     s_or(f, "name", ""),
				     n[0],
				     n[1],
				     n[2],
				     n[3],
				     json_is_true(json_object_get(f, "is_public")) ? "True"
										   : "False"};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

static int
flavor_list(struct ctx *x)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (check_opts(a, O_ALL | O_PRIVATE | O_PUBLIC) < 0 || need_args(a, 0, "no arguments") < 0)
		return EXIT_USAGE;
	if (a->all + a->is_private + a->is_public > 1)
		return usage_error("--all", "%s", "--private and --public exclude each other");
	json_t *q = json_pack("{s:s}", "which",
			      a->all          ? "all"
			      : a->is_private ? "private"
					      : "public");
	int r = call(x, "flavor.list", q, false, &res);
	json_decref(q);
	if (r == EXIT_OK)
		a->json ? print_json(res) : print_flavors(res);
	json_decref(res);
	return r;
}

static int
flavor_create(struct ctx *x)
{
	struct args *a = x->a;
	json_t *res = NULL;
	static const char *const need[] = {"vcpus", "ram", "disk"};
	if (check_opts(a, O_VCPUS | O_RAM | O_DISK | O_EPHEMERAL | O_SWAP | O_ID | O_PUBLIC |
				  O_PRIVATE | O_PROPERTY | O_PROJECT | O_DESCRIPTION) < 0 ||
	    need_args(a, 1, "NAME") < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < 3; i++)
		if (!json_object_get(a->nums, need[i]))
			return usage_error(i == 0   ? "--vcpus"
					   : i == 1 ? "--ram"
						    : "--disk",
					   "%s", "is required");
	if (a->is_public && a->is_private)
		return usage_error("--public", "%s", "and --private exclude each other");
	json_t *q = json_deep_copy(a->nums);
	json_object_set_new(q, "name", json_string(a->argv[2]));
	json_object_set_new(q, "is_public", json_boolean(!a->is_private));
	if (a->id)
		json_object_set_new(q, "id", json_string(a->id));
	if (json_object_size(a->props))
		json_object_set(q, "extra_specs", a->props);
	if (a->project)
		json_object_set_new(q, "project", json_string(a->project));
	if (a->description)
		json_object_set_new(q, "description", json_string(a->description));
	int r = call(x, "flavor.create", q, false, &res);
	json_decref(q);
	return print_result(a, r, res);
}

/* set and unset: the same words, opposite changes */
static int
flavor_update(struct ctx *x, bool set)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (check_opts(a, O_PROJECT | (set ? O_PROPERTY | O_DESCRIPTION : O_PROP_KEY)) < 0 ||
	    need_args(a, 1, "FLAVOR") < 0)
		return EXIT_USAGE;
	if (!a->project && !json_object_size(a->props) && !json_array_size(a->prop_keys) &&
	    !a->description)
		return usage_error(set ? "flavor set" : "flavor unset", "%s",
				   "nothing to change (--property, --project)");
	json_t *q = json_pack("{s:s}", "flavor", a->argv[2]);
	if (set && json_object_size(a->props))
		json_object_set(q, "extra_specs", a->props);
	if (!set && json_array_size(a->prop_keys))
		json_object_set(q, "extra_specs", a->prop_keys);
	if (a->project)
		json_object_set_new(q, "project", json_string(a->project));
	if (a->description)
		json_object_set_new(q, "description", json_string(a->description));
	int r = call(x, set ? "flavor.set" : "flavor.unset", q, false, &res);
	json_decref(q);
	return print_result(a, r, res);
}

/* Deletes each flavor named, going on past one that fails as openstack does; the exit
 * status is that of the last failure. */
static int
flavor_delete(struct ctx *x)
{
	struct args *a = x->a;
	int ret = EXIT_OK;
	if (check_opts(a, 0) < 0)
		return EXIT_USAGE;
	if (a->argc < 3) {
		fprintf(stderr, "hv: flavor delete: expected FLAVOR... (see hv flavor --help)\n");
		return EXIT_USAGE;
	}
	for (int i = 2; i < a->argc; i++) {
		json_t *q = json_pack("{s:s}", "flavor", a->argv[i]);
		int r = call(x, "flavor.delete", q, false, NULL);
		json_decref(q);
		if (r != EXIT_OK)
			ret = r;
	}
	return ret;
}

int
cmd_flavor(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	if (strcmp(verb, "list") == 0)
		return flavor_list(x);
	if (strcmp(verb, "create") == 0)
		return flavor_create(x);
	if (strcmp(verb, "set") == 0 || strcmp(verb, "unset") == 0)
		return flavor_update(x, verb[0] == 's');
	if (strcmp(verb, "delete") == 0)
		return flavor_delete(x);
	if (strcmp(verb, "show") == 0) {
		json_t *res = NULL;
		if (check_opts(a, 0) < 0 || need_args(a, 1, "FLAVOR") < 0)
			return EXIT_USAGE;
		json_t *q = json_pack("{s:s}", "flavor", a->argv[2]);
		int r = call(x, "flavor.show", q, false, &res);
		json_decref(q);
		return print_result(a, r, res);
	}
	return usage_error("flavor", "'%s' is not list, show, create, delete, set or unset", verb);
}
