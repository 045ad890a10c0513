/* cmd_network.c - `hv network`, `hv subnet`, `hv port`, `hv security group [rule]`,
 * `hv floating ip` and `hv server add|remove security group|floating ip`, as the OpenStack
 * client spells them. Parses a verb's words and prints the answer; the rules (CIDRs,
 * ranges, quotas, names) are hvcentral's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char network_help[] =
	"Usage: hv network create NAME [--external] [--share] [--subnet-range CIDR]\n"
	"                         [--project PROJECT]\n"
	"       hv network list [--project PROJECT]\n"
	"       hv network show NETWORK\n"
	"       hv network delete NETWORK...\n"
	"\n"
	"A network's name is unique in its project. --external makes a pool of floating IPs\n"
	"(hvcentral's [network] external_cidr makes one named 'public' at start);\n"
	"--subnet-range creates its subnet (named as the network) in the same step.\n"
	"A network with a port or a floating IP on it is not deleted.\n"
	"\n"
	"Examples:\n"
	"  hv network create private\n"
	"  hv subnet create private-v4 --network private --subnet-range 10.0.0.0/24\n"
	"  hv network create public --external --subnet-range 203.0.113.0/24\n"
	"  hv network list -f json\n";

const char subnet_help[] =
	"Usage: hv subnet create NAME --network NETWORK --subnet-range CIDR\n"
	"                        [--gateway IP|none] [--dns-nameserver IP]...\n"
	"                        [--allocation-pool start=IP,end=IP]...\n"
	"       hv subnet list [--network NETWORK]\n"
	"       hv subnet show SUBNET\n"
	"       hv subnet delete SUBNET...\n"
	"\n"
	"IPv4. The gateway defaults to the first address; the allocation pools to every host\n"
	"address but the gateway. A port takes the lowest free address of its network.\n"
	"\n"
	"Examples:\n"
	"  hv subnet create private-v4 --network private --subnet-range 10.0.0.0/24 \\\n"
	"      --dns-nameserver 192.0.2.53 --allocation-pool start=10.0.0.10,end=10.0.0.99\n";

const char port_help[] = "Usage: hv port list [--network NETWORK] [--project PROJECT]\n"
			 "       hv port show PORT\n"
			 "\n"
			 "A server created with --network NAME has one port per network: a MAC\n"
			 "fa:16:3e:..., a fixed IP, its security groups and its host.\n"
			 "\n"
			 "Examples:\n"
			 "  hv port list --network private -f json\n";

const char secgroup_help[] =
	"Usage: hv security group create NAME [--description TEXT]\n"
	"       hv security group list\n"
	"       hv security group show GROUP\n"
	"       hv security group delete GROUP...\n"
	"       hv security group rule create GROUP [--ingress | --egress]\n"
	"                        [--protocol tcp|udp|icmp|any|NUMBER] [--dst-port N[:M]]\n"
	"                        [--icmp-type T [--icmp-code C]] [--ethertype IPv4|IPv6]\n"
	"                        [--remote-ip CIDR | --remote-group GROUP]\n"
	"       hv security group rule list [GROUP]\n"
	"       hv security group rule delete RULE...\n"
	"       hv server add|remove security group SERVER GROUP\n"
	"\n"
	"A project has a 'default' group, made on first use: all egress, and ingress from\n"
	"its own members. A new group allows all egress. A rule is ingress unless --egress;\n"
	"without a remote it admits any address. Every change reaches the hosts with a\n"
	"member port at once (and again until they acknowledge it). hv server create\n"
	"--security-group GROUP (repeatable; default: 'default') sets a new server's groups.\n"
	"\n"
	"Examples:\n"
	"  hv security group create ssh --description 'SSH from anywhere'\n"
	"  hv security group rule create ssh --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0\n"
	"  hv security group rule create ssh --protocol icmp --icmp-type 8\n"
	"  hv server add security group web-1 ssh\n";

const char fip_help[] = "Usage: hv floating ip create [NETWORK]\n"
			"       hv floating ip list\n"
			"       hv floating ip show FLOATING_IP\n"
			"       hv floating ip delete FLOATING_IP...\n"
			"       hv server add floating ip SERVER FLOATING_IP\n"
			"       hv server remove floating ip SERVER FLOATING_IP\n"
			"\n"
			"A floating IP is allocated to the project from an external network\n"
			"(default: the first one) against its floating_ips quota, then NATed 1:1\n"
			"to the first fixed IP of a server, whatever the server's state. A server\n"
			"has at most one. FLOATING_IP is its address or id.\n"
			"\n"
			"Examples:\n"
			"  hv floating ip create public\n"
			"  hv server add floating ip web-1 203.0.113.10\n"
			"  hv server remove floating ip web-1 203.0.113.10\n";

int
net_opts_take(struct args *a, json_t *q, const char *const *keys)
{
	const char *k;
	json_t *v;
	json_object_foreach (a->net, k, v) {
		bool ok = false;
		for (size_t i = 0; keys && keys[i]; i++)
			ok = ok || strcmp(k, keys[i]) == 0;
		if (!ok) {
			fprintf(stderr, "hv: %s: not an option of 'hv %s %s' (see hv %s --help)\n",
				k, a->argv[0], a->argv[1], a->argv[0]);
			return EXIT_USAGE;
		}
		json_object_set(q, k, v);
	}
	return EXIT_OK;
}

/* One table row per record: the columns' headers and the record keys they show. */
struct cols {
	size_t n;
	const char *const *hdr, *const *keys;
};

static void
cell_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (!v || json_is_null(v))
		buf[0] = '\0';
	else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, size, "%s", t ? t : "");
		free(t);
	}
}

static void
print_rows(json_t *arr, const struct cols *c)
{
	struct tbl *t = tbl_new(c->n, c->hdr);
	size_t i;
	json_t *o;
	json_array_foreach (arr, i, o) {
		char cells[8][256];
		const char *row[8];
		for (size_t j = 0; j < c->n && j < 8; j++) {
			cell_text(json_object_get(o, c->keys[j]), cells[j], sizeof cells[j]);
			row[j] = cells[j];
		}
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* The list, show, delete verbs every noun shares; create is the noun's own. key: the arg
 * naming one record. */
static int
common_verb(struct ctx *x, const char *noun, const char *key, int words, json_t *q,
	    const struct cols *c)
{
	struct args *a = x->a;
	const char *verb = a->argv[words];
	char op[64];
	json_t *res = NULL;
	int r;
	int nargs = a->argc - words - 1;
	if (strcmp(verb, "list") == 0) {
		snprintf(op, sizeof op, "%s.list", noun);
		if (nargs > 0)
			return usage_error(verb, "%s", "takes no arguments");
		if ((r = call(x, op, q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_rows(res, c);
		json_decref(res);
		return r;
	}
	if (strcmp(verb, "show") == 0) {
		snprintf(op, sizeof op, "%s.show", noun);
		if (nargs != 1)
			return usage_error(verb, "expected one %s", key);
		json_object_set_new(q, key, json_string(a->argv[words + 1]));
		r = call(x, op, q, false, &res);
		return print_result(a, r, res);
	}
	if (strcmp(verb, "delete") == 0) {
		snprintf(op, sizeof op, "%s.delete", noun);
		if (nargs < 1)
			return usage_error(verb, "expected %s...", key);
		r = EXIT_OK;
		for (int i = words + 1; i < a->argc; i++) {
			json_object_set_new(q, key, json_string(a->argv[i]));
			int ri = call(x, op, q, false, NULL);
			r = ri != EXIT_OK ? ri : r;
		}
		return r;
	}
	return usage_error(verb, "'%s' is not create, list, show or delete", verb);
}

/* The query every verb starts from: --project, and the networking options it takes. */
static json_t *
start_query(struct args *a, const char *const *keys, unsigned long long opts, int *r)
{
	json_t *q = json_object();
	*r = check_opts(a, O_PROJECT | O_NET | opts) < 0 ? EXIT_USAGE : net_opts_take(a, q, keys);
	if (a->project)
		json_object_set_new(q, "project", json_string(a->project));
	return q;
}

/* A list option given once, as its single value. */
static void
single(json_t *q, const char *key)
{
	json_t *v = json_object_get(q, key);
	if (json_is_array(v))
		json_object_set(q, key, json_array_get(v, 0));
}

int
cmd_network(struct ctx *x)
{
	static const char *const hdr[] = {"ID", "Name", "Subnets", "External"};
	static const char *const keys[] = {"id", "name", "subnets", "router:external"};
	static const struct cols c = {4, hdr, keys};
	static const char *const opts[] = {"external", "shared", "subnet_range", NULL};
	struct args *a = x->a;
	int r;
	bool create = strcmp(a->argv[1], "create") == 0;
	json_t *q = start_query(a, create ? opts : NULL, 0, &r), *res = NULL;
	if (r == EXIT_OK && create) {
		if (need_args(a, 1, "NAME") < 0)
			r = EXIT_USAGE;
		else {
			json_object_set_new(q, "name", json_string(a->argv[2]));
			r = call(x, "network.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (r == EXIT_OK) {
		r = common_verb(x, "network", "network", 1, q, &c);
	}
	json_decref(q);
	return r;
}

/* --allocation-pool start=A,end=B into {start, end}. */
static int
pools_arg(json_t *q)
{
	json_t *given = json_object_get(q, "allocation_pools"), *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (given, i, v) {
		char start[64], end[64];
		if (sscanf(json_string_value(v), "start=%63[^,],end=%63s", start, end) != 2) {
			json_decref(out);
			return usage_error("--allocation-pool", "'%s' is not start=IP,end=IP",
					   json_string_value(v));
		}
		json_array_append_new(out, json_pack("{s:s, s:s}", "start", start, "end", end));
	}
	if (given)
		json_object_set(q, "allocation_pools", out);
	json_decref(out);
	return EXIT_OK;
}

int
cmd_subnet(struct ctx *x)
{
	static const char *const hdr[] = {"ID", "Name", "Network", "Subnet"};
	static const char *const keys[] = {"id", "name", "network_id", "cidr"};
	static const struct cols c = {4, hdr, keys};
	static const char *const copts[] = {"networks",        "subnet_range",     "gateway_ip",
					    "dns_nameservers", "allocation_pools", NULL};
	static const char *const lopts[] = {"networks", NULL};
	struct args *a = x->a;
	int r;
	bool create = strcmp(a->argv[1], "create") == 0;
	json_t *q = start_query(a, create ? copts : lopts, 0, &r), *res = NULL;
	if (json_array_size(json_object_get(q, "networks")) > 1)
		r = usage_error("--network", "%s", "given more than once");
	if (json_object_get(q, "networks")) {
		single(q, "networks");
		json_object_set(q, "network", json_object_get(q, "networks"));
		json_object_del(q, "networks");
	}
	if (r == EXIT_OK && create) {
		json_t *range = json_object_get(q, "subnet_range");
		if (need_args(a, 1, "NAME") < 0)
			r = EXIT_USAGE;
		else if (!json_object_get(q, "network"))
			r = usage_error("--network", "%s", "is required");
		else if (!range)
			r = usage_error("--subnet-range", "%s", "is required");
		else if ((r = pools_arg(q)) == EXIT_OK) {
			json_object_set(q, "cidr", range);
			json_object_del(q, "subnet_range");
			json_object_set_new(q, "name", json_string(a->argv[2]));
			r = call(x, "subnet.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (r == EXIT_OK) {
		r = common_verb(x, "subnet", "subnet", 1, q, &c);
	}
	json_decref(q);
	return r;
}

int
cmd_port(struct ctx *x)
{
	static const char *const hdr[] = {"ID", "MAC Address", "Fixed IP Addresses", "Server",
					  "Host"};
	static const char *const keys[] = {"id", "mac_address", "fixed_ips", "device_id",
					   "binding:host_id"};
	static const struct cols c = {5, hdr, keys};
	static const char *const opts[] = {"networks", NULL};
	struct args *a = x->a;
	int r;
	json_t *q = start_query(a, opts, 0, &r);
	if (json_object_get(q, "networks")) {
		single(q, "networks");
		json_object_set(q, "network", json_object_get(q, "networks"));
		json_object_del(q, "networks");
	}
	if (r == EXIT_OK && (strcmp(a->argv[1], "list") == 0 || strcmp(a->argv[1], "show") == 0))
		r = common_verb(x, "port", "port", 1, q, &c);
	else if (r == EXIT_OK)
		r = usage_error(a->argv[1], "'%s' is not list or show", a->argv[1]);
	json_decref(q);
	return r;
}

/* An integer option value (--dst-port's halves, --icmp-type, --icmp-code). */
static int
int_arg(const char *opt, const char *s, json_t *q, const char *key)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0 || v > 65535)
		return usage_error(opt, "'%s' is not an integer 0-65535", s);
	json_object_set_new(q, key, json_integer(v));
	return EXIT_OK;
}

/* The rule's options as the API's fields. */
static int
rule_args(json_t *q)
{
	const char *ports = json_string_value(json_object_get(q, "dst_port"));
	const char *type = json_string_value(json_object_get(q, "icmp_type"));
	const char *code = json_string_value(json_object_get(q, "icmp_code"));
	bool in = json_is_true(json_object_get(q, "ingress"));
	bool out = json_is_true(json_object_get(q, "egress"));
	int r = EXIT_OK;
	if (in && out)
		return usage_error("--ingress", "%s", "and --egress exclude each other");
	if (ports && (type || code))
		return usage_error("--dst-port", "%s", "and --icmp-type exclude each other");
	json_object_set_new(q, "direction", json_string(out ? "egress" : "ingress"));
	if (ports) {
		char lo[16], hi[16];
		const char *colon = strchr(ports, ':');
		snprintf(lo, sizeof lo, "%.*s", colon ? (int)(colon - ports) : 15, ports);
		snprintf(hi, sizeof hi, "%s", colon ? colon + 1 : lo);
		if ((r = int_arg("--dst-port", lo, q, "port_range_min")) == EXIT_OK)
			r = int_arg("--dst-port", hi, q, "port_range_max");
	}
	if (r == EXIT_OK && type)
		r = int_arg("--icmp-type", type, q, "port_range_min");
	if (r == EXIT_OK && code)
		r = int_arg("--icmp-code", code, q, "port_range_max");
	static const char *const drop[] = {"dst_port", "icmp_type", "icmp_code", "ingress",
					   "egress"};
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		json_object_del(q, drop[i]);
	return r;
}

static int
secgroup_rule(struct ctx *x)
{
	static const char *const hdr[] = {"ID",
					  "Direction",
					  "Ethertype",
					  "Protocol",
					  "Port Range Min",
					  "Port Range Max",
					  "Remote IP Prefix",
					  "Remote Group"};
	static const char *const keys[] = {"id",
					   "direction",
					   "ethertype",
					   "protocol",
					   "port_range_min",
					   "port_range_max",
					   "remote_ip_prefix",
					   "remote_group_id"};
	static const struct cols c = {8, hdr, keys};
	static const char *const opts[] = {
		"protocol",  "dst_port",  "ingress",          "egress",       "ethertype",
		"icmp_type", "icmp_code", "remote_ip_prefix", "remote_group", NULL};
	struct args *a = x->a;
	const char *verb = a->argc > 3 ? a->argv[3] : "";
	bool create = strcmp(verb, "create") == 0;
	int r;
	json_t *q = start_query(a, create ? opts : NULL, O_DESCRIPTION, &r), *res = NULL;
	if (r != EXIT_OK) {
		json_decref(q);
		return r;
	}
	if (create) {
		if (a->argc != 5)
			r = usage_error("create", "%s", "expected GROUP");
		else if ((r = rule_args(q)) == EXIT_OK) {
			json_object_set_new(q, "group", json_string(a->argv[4]));
			r = call(x, "secgroup.rule.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "list") == 0) {
		if (a->argc > 5)
			r = usage_error("list", "%s", "expected at most one GROUP");
		if (r == EXIT_OK && a->argc == 5)
			json_object_set_new(q, "group", json_string(a->argv[4]));
		if (r == EXIT_OK && (r = call(x, "secgroup.rule.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_rows(res, &c);
		json_decref(res);
	} else if (strcmp(verb, "delete") == 0) {
		r = common_verb(x, "secgroup.rule", "rule", 3, q, &c);
	} else {
		r = usage_error("security group rule", "'%s' is not create, list or delete", verb);
	}
	json_decref(q);
	return r;
}

int
cmd_secgroup(struct ctx *x)
{
	static const char *const hdr[] = {"ID", "Name", "Description", "Project"};
	static const char *const keys[] = {"id", "name", "description", "project_id"};
	static const struct cols c = {4, hdr, keys};
	struct args *a = x->a;
	if (strcmp(a->argv[1], "group") != 0 || a->argc < 3)
		return usage_error("security", "%s",
				   "expected 'security group VERB' (see hv "
				   "security --help)");
	if (strcmp(a->argv[2], "rule") == 0)
		return secgroup_rule(x);
	int r;
	bool create = strcmp(a->argv[2], "create") == 0;
	json_t *q = start_query(a, NULL, create ? O_DESCRIPTION : 0, &r), *res = NULL;
	if (r == EXIT_OK && create) {
		if (a->argc != 4)
			r = usage_error("create", "%s", "expected NAME");
		else {
			json_object_set_new(q, "name", json_string(a->argv[3]));
			if (a->description)
				json_object_set_new(q, "description", json_string(a->description));
			r = call(x, "secgroup.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (r == EXIT_OK) {
		r = common_verb(x, "secgroup", "group", 2, q, &c);
	}
	json_decref(q);
	return r;
}

int
cmd_fip(struct ctx *x)
{
	static const char *const hdr[] = {"ID", "Floating IP Address", "Fixed IP Address", "Port",
					  "Status"};
	static const char *const keys[] = {"id", "floating_ip_address", "fixed_ip_address",
					   "port_id", "status"};
	static const struct cols c = {5, hdr, keys};
	struct args *a = x->a;
	if (strcmp(a->argv[1], "ip") != 0 || a->argc < 3)
		return usage_error("floating", "%s",
				   "expected 'floating ip VERB' (see hv "
				   "floating --help)");
	int r;
	json_t *q = start_query(a, NULL, 0, &r), *res = NULL;
	if (r == EXIT_OK && strcmp(a->argv[2], "create") == 0) {
		if (a->argc > 4)
			r = usage_error("create", "%s", "expected at most one NETWORK");
		else {
			if (a->argc == 4)
				json_object_set_new(q, "network", json_string(a->argv[3]));
			r = call(x, "floatingip.create", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (r == EXIT_OK) {
		r = common_verb(x, "floatingip", "floating_ip", 2, q, &c);
	}
	json_decref(q);
	return r;
}

int
cmd_server_net(struct ctx *x)
{
	struct args *a = x->a;
	bool add = strcmp(a->argv[1], "add") == 0;
	const char *what = a->argc > 3 ? a->argv[2] : "";
	const char *op = NULL, *key = NULL;
	if (strcmp(what, "floating") == 0 && strcmp(a->argv[3], "ip") == 0) {
		op = add ? "server.floatingip.add" : "server.floatingip.remove";
		key = "floating_ip";
	} else if (strcmp(what, "security") == 0 && strcmp(a->argv[3], "group") == 0) {
		op = add ? "server.secgroup.add" : "server.secgroup.remove";
		key = "group";
	}
	if (!op)
		return usage_error(a->argv[1], "%s",
				   "expected 'floating ip' or 'security group' (see hv server "
				   "--help)");
	if (a->argc != 6)
		return usage_error(a->argv[1], "expected SERVER and %s",
				   key[0] == 'g' ? "GROUP" : "FLOATING_IP");
	int r;
	json_t *q = start_query(a, NULL, 0, &r), *res = NULL;
	if (r == EXIT_OK) {
		json_object_set_new(q, "server", json_string(a->argv[4]));
		json_object_set_new(q, key, json_string(a->argv[5]));
		r = call(x, op, q, false, &res);
		if (r == EXIT_OK && a->json)
			print_json(res);
		json_decref(res);
	}
	json_decref(q);
	return r;
}
