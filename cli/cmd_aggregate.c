/* cmd_aggregate.c - `hv aggregate` (host aggregates: hosts grouped with metadata the
 * scheduler matches, and an availability zone) and `hv availability zone` (the zones as
 * users see them). Parses a verb's words and prints the answer; the rules are hvcentral's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char aggregate_help[] =
	"Usage: hv aggregate list\n"
	"       hv aggregate show AGGREGATE\n"
	"       hv aggregate create NAME [--zone ZONE] [--property KEY=VALUE]...\n"
	"       hv aggregate set AGGREGATE [--name NAME] [--zone ZONE] [--property KEY=VALUE]...\n"
	"       hv aggregate unset AGGREGATE --property KEY...\n"
	"       hv aggregate add host AGGREGATE HOST\n"
	"       hv aggregate remove host AGGREGATE HOST\n"
	"       hv aggregate delete AGGREGATE...\n"
	"\n"
	"AGGREGATE is an id or a name. A host may be in several aggregates, but in one\n"
	"availability zone only: adding it to an aggregate of another zone is refused. A host\n"
	"in no aggregate with a zone is in [scheduler] default_availability_zone (nova). The\n"
	"metadata is what AggregateInstanceExtraSpecsFilter matches against a flavor's\n"
	"aggregate_instance_extra_specs:KEY=VALUE, and cpu/ram/disk_allocation_ratio override\n"
	"the config's for the Aggregate*Filter filters. An aggregate with hosts cannot be\n"
	"deleted.\n"
	"\n"
	"Examples:\n"
	"  hv aggregate create fast --zone az1 --property ssd=true\n"
	"  hv aggregate add host fast node-1\n"
	"  hv flavor set m1.fast --property aggregate_instance_extra_specs:ssd=true\n"
	"  hv server create web-1 --flavor m1.small --image cirros --availability-zone az1\n"
	"  hv aggregate remove host fast node-1 && hv aggregate delete fast\n";

const char zone_help[] = "Usage: hv availability zone list\n"
			 "\n"
			 "The zones that have hosts, and whether each is available (one of its\n"
			 "hosts is up and enabled). `hv server create --availability-zone ZONE`\n"
			 "places a server in one; zones come from `hv aggregate create --zone`.\n"
			 "\n"
			 "Examples:\n"
			 "  hv availability zone list\n"
			 "  hv availability zone list -f json\n";

/* "a, b" of an array of strings, or "k='v', ..." of an object. */
static void
join(json_t *v, char *buf, size_t size)
{
	size_t i, n = 0;
	json_t *e;
	const char *k;
	buf[0] = '\0';
	if (json_is_array(v))
		json_array_foreach (v, i, e)
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
					      i ? ", " : "", json_string_value(e));
	else
		json_object_foreach (v, k, e)
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s='%s'",
					      n ? ", " : "", k, json_string_value(e));
}

static void
print_aggregates(json_t *arr)
{
	static const char *const hdr[] = {"ID", "Name", "Availability Zone", "Hosts", "Properties"};
	struct tbl *t = tbl_new(5, hdr);
	size_t i;
	json_t *g;
	json_array_foreach (arr, i, g) {
		char id[24], hosts[1024], props[1024];
		snprintf(id, sizeof id, "%lld",
			 (long long)json_integer_value(json_object_get(g, "id")));
		join(json_object_get(g, "hosts"), hosts, sizeof hosts);
		join(json_object_get(g, "metadata"), props, sizeof props);
		const char *row[] = {id, s_or(g, "name", ""), s_or(g, "availability_zone", ""),
				     hosts, props};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

static int
aggregate_write(struct ctx *x, const char *verb, json_t *q)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (a->zone)
		json_object_set_new(q, "availability_zone", json_string(a->zone));
	if (json_object_size(a->props))
		json_object_set(q, "properties", a->props);
	if (a->name)
		json_object_set_new(q, "name", json_string(a->name));
	int r = call(x, verb, q, false, &res);
	return print_result(a, r, res);
}

/* add host / remove host AGGREGATE HOST */
static int
aggregate_host(struct ctx *x, json_t *q, bool add)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (check_opts(a, 0) < 0)
		return EXIT_USAGE;
	if (a->argc != 5 || strcmp(a->argv[2], "host") != 0) {
		fprintf(stderr,
			"hv: aggregate %s: expected host AGGREGATE HOST (see hv aggregate "
			"--help)\n",
			a->argv[1]);
		return EXIT_USAGE;
	}
	json_object_set_new(q, "aggregate", json_string(a->argv[3]));
	json_object_set_new(q, "host", json_string(a->argv[4]));
	int r = call(x, add ? "aggregate.add_host" : "aggregate.remove_host", q, false, &res);
	return print_result(a, r, res);
}

int
cmd_aggregate(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = json_object();
	int r;
	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
			r = EXIT_USAGE;
		else if ((r = call(x, "aggregate.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_aggregates(res);
		json_decref(res);
	} else if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "AGGREGATE") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "aggregate", json_string(a->argv[2]));
			r = call(x, "aggregate.show", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_ZONE | O_PROPERTY) < 0 || need_args(a, 1, "NAME") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "name", json_string(a->argv[2]));
			r = aggregate_write(x, "aggregate.create", q);
		}
	} else if (strcmp(verb, "set") == 0) {
		if (check_opts(a, O_ZONE | O_PROPERTY | O_NAME) < 0 ||
		    need_args(a, 1, "AGGREGATE") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "aggregate", json_string(a->argv[2]));
			r = aggregate_write(x, "aggregate.set", q);
		}
	} else if (strcmp(verb, "unset") == 0) {
		if (check_opts(a, O_PROP_KEY) < 0 || need_args(a, 1, "AGGREGATE") < 0) {
			r = EXIT_USAGE;
		} else if (!json_array_size(a->prop_keys)) {
			r = usage_error("--property", "%s", "give at least one KEY to remove");
		} else {
			json_object_set_new(q, "aggregate", json_string(a->argv[2]));
			json_object_set(q, "properties", a->prop_keys);
			r = call(x, "aggregate.unset", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0) {
		r = aggregate_host(x, q, verb[0] == 'a');
	} else if (strcmp(verb, "delete") == 0) {
		r = check_opts(a, 0) < 0 || a->argc < 3 ? EXIT_USAGE : EXIT_OK;
		if (r == EXIT_USAGE && a->argc < 3)
			fprintf(stderr, "hv: aggregate delete: expected AGGREGATE... (see hv "
					"aggregate --help)\n");
		for (int i = 2; r != EXIT_USAGE && i < a->argc; i++) {
			json_object_set_new(q, "aggregate", json_string(a->argv[i]));
			int ri = call(x, "aggregate.delete", q, false, NULL);
			r = ri != EXIT_OK ? ri : r;
		}
	} else {
		r = usage_error("aggregate",
				"'%s' is not list, show, create, set, unset, add, remove or delete",
				verb);
	}
	json_decref(q);
	return r;
}

int
cmd_zone(struct ctx *x)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (strcmp(a->argv[1], "list") != 0)
		return usage_error("availability zone", "'%s' is not list", a->argv[1]);
	if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
		return EXIT_USAGE;
	int r = call(x, "availability_zone.list", NULL, false, &res);
	if (r == EXIT_OK && a->json) {
		print_json(res);
	} else if (r == EXIT_OK) {
		static const char *const hdr[] = {"Zone Name", "Zone Status", "Hosts"};
		struct tbl *t = tbl_new(3, hdr);
		size_t i;
		json_t *z;
		json_array_foreach (res, i, z) {
			char hosts[1024];
			join(json_object_get(z, "hosts"), hosts, sizeof hosts);
			const char *row[] = {s_or(z, "zone_name", ""), s_or(z, "zone_state", ""),
					     hosts};
			tbl_add(t, row);
		}
		tbl_print(t, stdout);
		tbl_free(t);
	}
	json_decref(res);
	return r;
}
