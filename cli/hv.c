/* hv.c - the command-line client: parses `hv NOUN VERB ...` and hands the verb to its noun
 * (cli/cmd_<noun>.c), which sends requests to hvcentral (docs/api.md) through call() and
 * prints a table for people or JSON for scripts; exits with a code scripts can trust. It
 * must never retry a request on its own and never print a secret. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "spec.h"
#include "table.h"

static const char main_help[] =
	"Usage: hv [--api ENDPOINT] [-f table|json] COMMAND ...\n"
	"\n"
	"Drives hvcentral, the controller of hvagent compute hosts.\n"
	"\n"
	"Commands:\n"
	"  host list                      hosts with liveness (up/suspect/down) and pending keys\n"
	"  host show HOST                 one host: resources, agent version, last report\n"
	"  host accept KEY|ADDRESS --name HOST\n"
	"                                 let a pending agent key in as HOST\n"
	"  host evacuate HOST [--target HOST]  rebuild a down host's servers elsewhere\n"
	"  server create NAME ...         boot a server (see hv server create --help)\n"
	"  server list|show               servers and their vm_state/task_state/power_state\n"
	"  server set SERVER --name NAME  rename a server\n"
	"  server delete|reboot|stop|start|pause|unpause|suspend|resume SERVER... [--wait]\n"
	"  server resize|resize-confirm|resize-revert|rebuild|rescue|unrescue SERVER ...\n"
	"  server snapshot SERVER SNAPSHOT_NAME [--wait]\n"
	"  server console SERVER [--type novnc|serial]\n"
	"  server set-password SERVER [--password P]\n"
	"  server console-log SERVER [--length N]\n"
	"  server evacuate SERVER [--host HOST]  rebuild it elsewhere: its host is down\n"
	"  server add|remove security group|floating ip SERVER NAME\n"
	"  project list|show|create       projects: the owners of servers and of quotas\n"
	"  quota show|set [PROJECT]       a project's limits and what it uses\n"
	"  flavor list|show|create|delete|set|unset\n"
	"                                 the sizes servers are created with\n"
	"  keypair list|show|create|delete  SSH key pairs injected into servers\n"
	"  network|subnet create|list|show|delete  networks and their IPv4 subnets\n"
	"  port list|show                   the servers' ports (MAC, fixed IPs, groups)\n"
	"  security group [rule] create|list|show|delete  firewall rules of ports\n"
	"  floating ip create|list|show|delete  addresses of the external network\n"
	"  aggregate list|show|create|set|unset|add host|remove host|delete\n"
	"                                 host aggregates: metadata and availability zones\n"
	"  availability zone list         the zones servers may be created in\n"
	"  server group list|show|create|delete\n"
	"                                 affinity and anti-affinity of servers\n"
	"  usage list|show                what projects used over a date range\n"
	"  hypervisor list|show|stats     each host's capacity and what is allocated on it\n"
	"  image list|show|create|upload|save|set|delete\n"
	"                                 the image catalog servers boot from\n"
	"  user list|show|create|delete     users of the OpenStack-compatible API\n"
	"\n"
	"Options (anywhere on the line):\n"
	"  --api ENDPOINT   hvcentral's API socket (default: $HV_API, else\n"
	"                   ipc://$XDG_RUNTIME_DIR/hvcentral/api.sock or "
	"ipc:///run/hvcentral/api.sock)\n"
	"  -f, --format F   table (default) or json (stable, for scripts)\n"
	"  --timeout SEC    how long --wait waits (default 300)\n"
	"  -h, --help       help for any command: hv server --help, hv server create --help\n"
	"  --version\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  hvcentral or the host reported an error (message names the field at fault)\n"
	"  2  usage error (bad option, missing argument, malformed spec)\n"
	"  3  cannot reach hvcentral\n"
	"  4  timeout while waiting (--wait)\n"
	"\n"
	"Examples:\n"
	"  export HV_API=ipc:///tmp/hv-demo/api.sock\n"
	"  hv host list\n"
	"  hv server create web-1 --host node-1 --flavor m1.tiny --image cirros --key-name k1 "
	"--wait\n"
	"  hv server pause web-1 --wait && hv server show web-1 -f json\n"
	"  hv server snapshot web-1 web-1-nightly --wait\n";

/* hv_error messages already begin with their field ("args.name: ..."), most of the time:
 * print the field only when the message does not. */
void
print_error(const struct hv_error *err, const char *code)
{
	size_t n = strlen(err->field);
	bool named = n && strncmp(err->message, err->field, n) == 0 && err->message[n] == ':';

	fprintf(stderr, "hv: ");
	if (n && !named)
		fprintf(stderr, "%s: ", err->field);
	if (code)
		fprintf(stderr, "%s (%s)\n", err->message, code);
	else
		fprintf(stderr, "%s\n", err->message);
}

/* A single-valued option given twice is a mistake to report, not a value to drop. */
static bool
given_twice(struct args *a, unsigned long long bit, const char *name)
{
	if (!(a->given & bit)) {
		a->given |= bit;
		return false;
	}
	usage_error(name, "%s", "given more than once");
	return true;
}

static int
parse_long(const char *field, const char *s, long min, long max, long *ret)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "hv: %s: '%s' is not an integer in %ld-%ld\n", field, s, min, max);
		return -1;
	}
	*ret = v;
	return 0;
}

/* Every value hv sends is a JSON string, which must be UTF-8: a word that is not would be
 * dropped or refused far from where it was typed. Names the option it belongs to. */
static int
check_utf8(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		json_t *t = json_string(argv[i]);
		if (t) {
			json_decref(t);
			continue;
		}
		if (i > 1 && strncmp(argv[i - 1], "--", 2) == 0 && !strchr(argv[i - 1], '='))
			return usage_error(argv[i - 1], "%s", "its value is not valid UTF-8");
		return usage_error("argument", "word %d is not valid UTF-8", i);
	}
	return -1;
}

/* Options with an integer value, each stored in args.nums under its JSON name; getopt
 * codes OPT_NUM + index. -1 means unlimited for a quota; hvcentral checks each range. */
#define OPT_NUM 1000
static const struct {
	const char *opt, *key;
	unsigned long long bit;
} num_opts[] = {
	{"instances", "instances", O_QUOTA},
	{"cores", "cores", O_QUOTA},
	{"ram", "ram", O_RAM},
	{"floating-ips", "floating_ips", O_QUOTA},
	{"security-groups", "security_groups", O_QUOTA},
	{"security-group-rules", "security_group_rules", O_QUOTA},
	{"key-pairs", "key_pairs", O_QUOTA},
	{"vcpus", "vcpus", O_VCPUS},
	{"disk", "disk", O_DISK},
	{"ephemeral", "ephemeral", O_EPHEMERAL},
	{"swap", "swap", O_SWAP},
	{"min", "min_count", O_MIN},
	{"max", "max_count", O_MAX},
	{"min-disk", "min_disk", O_MIN_DISK},
	{"min-ram", "min_ram", O_MIN_RAM},
};
#define N_NUM_OPTS (sizeof num_opts / sizeof num_opts[0])

/* Networking's options, each stored in args.net under its JSON name: a value, a list
 * (repeatable) or true (a flag); getopt codes OPT_NET + index. They share the bit O_NET;
 * cmd_network.c checks which a command takes. */
#define OPT_NET 1100
enum {
	NET_ONE,
	NET_LIST,
	NET_FLAG
};
static const struct {
	const char *opt, *key;
	int kind;
} net_opts[] = {
	{"network", "networks", NET_LIST},
	{"security-group", "security_groups", NET_LIST},
	{"subnet-range", "subnet_range", NET_ONE},
	{"gateway", "gateway_ip", NET_ONE},
	{"dns-nameserver", "dns_nameservers", NET_LIST},
	{"allocation-pool", "allocation_pools", NET_LIST},
	{"external", "external", NET_FLAG},
	{"share", "shared", NET_FLAG},
	{"protocol", "protocol", NET_ONE},
	{"dst-port", "dst_port", NET_ONE},
	{"ingress", "ingress", NET_FLAG},
	{"egress", "egress", NET_FLAG},
	{"ethertype", "ethertype", NET_ONE},
	{"remote-ip", "remote_ip_prefix", NET_ONE},
	{"remote-group", "remote_group", NET_ONE},
	{"icmp-type", "icmp_type", NET_ONE},
	{"icmp-code", "icmp_code", NET_ONE},
};
#define N_NET_OPTS (sizeof net_opts / sizeof net_opts[0])

static int
parse_net(struct args *a, size_t which, const char *value)
{
	char optname[40];
	const char *key = net_opts[which].key;
	snprintf(optname, sizeof optname, "--%s", net_opts[which].opt);
	a->given |= O_NET;
	if (net_opts[which].kind == NET_LIST) {
		json_t *list = json_object_get(a->net, key);
		if (!list)
			json_object_set_new(a->net, key, list = json_array());
		json_array_append_new(list, json_string(value));
		return -1;
	}
	if (json_object_get(a->net, key))
		return usage_error(optname, "%s", "given more than once");
	json_object_set_new(a->net, key,
			    net_opts[which].kind == NET_FLAG ? json_true() : json_string(value));
	return -1;
}

static int
parse_num(struct args *a, size_t which, const char *value)
{
	char optname[40];
	long v;
	snprintf(optname, sizeof optname, "--%s", num_opts[which].opt);
	if (json_object_get(a->nums, num_opts[which].key))
		return usage_error(optname, "%s", "given more than once");
	if (parse_long(optname, value, -1, 2147483647L, &v) < 0)
		return EXIT_USAGE;
	json_object_set_new(a->nums, num_opts[which].key, json_integer(v));
	a->given |= num_opts[which].bit;
	return -1;
}

/* --hint KEY=VALUE into hints (scheduler hints, docs/scheduler.md): same_host and
 * different_host may repeat and become lists; another key given twice is a usage error. */
static int
add_hint(json_t *hints, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "hv: --hint: %s is not KEY=VALUE\n", arg);
		return -1;
	}
	char key[64];
	snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
	if (strcmp(key, "same_host") == 0 || strcmp(key, "different_host") == 0) {
		json_t *list = json_object_get(hints, key);
		if (!list)
			json_object_set_new(hints, key, list = json_array());
		json_array_append_new(list, json_string(eq + 1));
		return 0;
	}
	if (json_object_get(hints, key)) {
		fprintf(stderr, "hv: --hint: %s given twice\n", key);
		return -1;
	}
	json_object_set_new(hints, key, json_string(eq + 1));
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	struct option opts[96] = {
		{"api", required_argument, NULL, 'A'},
		{"format", required_argument, NULL, 'f'},
		{"timeout", required_argument, NULL, 'T'},
		{"host", required_argument, NULL, 'H'},
		{"flavor-spec", required_argument, NULL, 'F'},
		{"property", required_argument, NULL, 'P'},
		{"image", required_argument, NULL, 'I'},
		{"wait", no_argument, NULL, 'w'},
		{"hard", no_argument, NULL, 'R'},
		{"length", required_argument, NULL, 'L'},
		{"name", required_argument, NULL, 'N'},
		{"deleted", no_argument, NULL, 'D'},
		{"key-file", required_argument, NULL, 'K'},
		{"admin-pass", required_argument, NULL, 'a'},
		{"user-data", required_argument, NULL, 'U'},
		{"config-drive", no_argument, NULL, 'C'},
		{"type", required_argument, NULL, 't'},
		{"password", required_argument, NULL, 'p'},
		{"image-property", required_argument, NULL, 'i'},
		{"project", required_argument, NULL, 'j'},
		{"image-format", required_argument, NULL, 'm'},
		{"description", required_argument, NULL, 'd'},
		{"enable", no_argument, NULL, 'e'},
		{"disable", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"id", required_argument, NULL, 'x'},
		{"public", no_argument, NULL, 'u'},
		{"private", no_argument, NULL, 'r'},
		{"all", no_argument, NULL, 'l'},
		{"flavor", required_argument, NULL, 'v'},
		{"key-name", required_argument, NULL, 'k'},
		{"no-admin-pass", no_argument, NULL, 'n'},
		{"hint", required_argument, NULL, 'g'},
		{"availability-zone", required_argument, NULL, 'z'},
		{"public-key", required_argument, NULL, 'b'},
		{"private-key", required_argument, NULL, 'q'},
		{"zone", required_argument, NULL, 'Z'},
		{"policy", required_argument, NULL, 'O'},
		{"start", required_argument, NULL, 'S'},
		{"end", required_argument, NULL, 'Y'},
		{"server-group", required_argument, NULL, 'G'},
		{"file", required_argument, NULL, 'o'},
		{"disk-format", required_argument, NULL, 'W'},
		{"protected", no_argument, NULL, 'y'},
		{"unprotected", no_argument, NULL, 'X'},
		{"role", required_argument, NULL, 'B'},
		{"password-file", required_argument, NULL, 'J'},
		{"target", required_argument, NULL, 'Q'},
		{"on-shared-storage", no_argument, NULL, 's'},
	};
	size_t n_opts = 0;
	while (opts[n_opts].name)
		n_opts++;
	/* the named ones, the numeric ones and the zero entry that ends them */
	_Static_assert(50 + N_NUM_OPTS + N_NET_OPTS + 1 <= sizeof opts / sizeof opts[0],
		       "opts is too small");
	for (size_t i = 0; i < N_NUM_OPTS; i++)
		opts[n_opts++] =
			(struct option){num_opts[i].opt, required_argument, NULL, OPT_NUM + (int)i};
	for (size_t i = 0; i < N_NET_OPTS; i++)
		opts[n_opts++] = (struct option){net_opts[i].opt,
						 net_opts[i].kind == NET_FLAG ? no_argument
									      : required_argument,
						 NULL, OPT_NET + (int)i};
	struct hv_error err = {0};
	int c;

	a->timeout_s = 300;
	a->length = -1;
	a->props = json_object();
	a->image_props = json_object();
	a->nums = json_object();
	a->hints = json_object();
	a->prop_keys = json_array();
	a->net = json_object();
	opterr = 0;
	/* GNU getopt permutes: options may follow the command words, as operators type them */
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'A':
			if (given_twice(a, O_API, "--api"))
				return EXIT_USAGE;
			a->api = optarg;
			break;
		case 'f':
			if (given_twice(a, O_FORMAT, "--format"))
				return EXIT_USAGE;
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
				return usage_error("--format", "'%s' is not table or json", optarg);
			a->json = strcmp(optarg, "json") == 0;
			break;
		case 'T':
			if (given_twice(a, O_TIMEOUT, "--timeout"))
				return EXIT_USAGE;
			if (parse_long("--timeout", optarg, 1, 86400, &a->timeout_s) < 0)
				return EXIT_USAGE;
			break;
		case 'H':
			if (given_twice(a, O_HOST, "--host"))
				return EXIT_USAGE;
			a->host = optarg;
			break;
		case 'F':
			if (given_twice(a, O_FLAVOR, "--flavor-spec"))
				return EXIT_USAGE;
			a->flavor = optarg;
			break;
		case 'P':
			if (!strchr(optarg, '=')) { /* a key alone: what flavor unset removes */
				json_array_append_new(a->prop_keys, json_string(optarg));
				a->given |= O_PROP_KEY;
				break;
			}
			if (spec_property(optarg, a->props, &err) < 0) {
				fprintf(stderr, "hv: --property: %s\n", err.message);
				return EXIT_USAGE;
			}
			a->given |= O_PROPERTY;
			break;
		case 'I':
			if (given_twice(a, O_IMAGE, "--image"))
				return EXIT_USAGE;
			a->image = optarg;
			break;
		case 'w':
			a->wait = true;
			a->given |= O_WAIT;
			break;
		case 'R':
			a->hard = true;
			a->given |= O_HARD;
			break;
		case 'L':
			if (given_twice(a, O_LENGTH, "--length"))
				return EXIT_USAGE;
			if (parse_long("--length", optarg, 1, 100000, &a->length) < 0)
				return EXIT_USAGE;
			break;
		case 'N':
			if (given_twice(a, O_NAME, "--name"))
				return EXIT_USAGE;
			a->name = optarg;
			break;
		case 'D':
			a->deleted = true;
			a->given |= O_DELETED;
			break;
		case 'K':
			if (given_twice(a, O_KEY_FILE, "--key-file"))
				return EXIT_USAGE;
			a->key_file = optarg;
			break;
		case 'a':
			if (given_twice(a, O_ADMIN_PASS, "--admin-pass"))
				return EXIT_USAGE;
			a->admin_pass = optarg;
			break;
		case 'U':
			if (given_twice(a, O_USER_DATA, "--user-data"))
				return EXIT_USAGE;
			a->user_data = optarg;
			break;
		case 'C':
			a->config_drive = true;
			a->given |= O_CONFIG_DRIVE;
			break;
		case 't':
			if (given_twice(a, O_TYPE, "--type"))
				return EXIT_USAGE;
			if (strcmp(optarg, "novnc") != 0 && strcmp(optarg, "vnc") != 0 &&
			    strcmp(optarg, "serial") != 0)
				return usage_error("--type", "'%s' is not novnc or serial", optarg);
			a->type = optarg;
			break;
		case 'p':
			if (given_twice(a, O_PASSWORD, "--password"))
				return EXIT_USAGE;
			a->password = optarg;
			break;
		case 'j':
			if (given_twice(a, O_PROJECT, "--project"))
				return EXIT_USAGE;
			a->project = optarg;
			break;
		case 'm':
			if (given_twice(a, O_IMAGE_FORMAT, "--image-format"))
				return EXIT_USAGE;
			if (strcmp(optarg, "qcow2") != 0 && strcmp(optarg, "raw") != 0)
				return usage_error("--image-format", "'%s' is not qcow2 or raw",
						   optarg);
			a->image_format = optarg;
			break;
		case 'i':
			if (spec_property(optarg, a->image_props, &err) < 0) {
				fprintf(stderr, "hv: --image-property: %s\n", err.message);
				return EXIT_USAGE;
			}
			a->given |= O_IMAGE_PROP;
			break;
		case 'd':
			if (given_twice(a, O_DESCRIPTION, "--description"))
				return EXIT_USAGE;
			a->description = optarg;
			break;
		case 'e':
			a->enable = true;
			a->given |= O_ENABLE;
			break;
		case 'E':
			a->disable = true;
			a->given |= O_DISABLE;
			break;
		case 'x':
			if (given_twice(a, O_ID, "--id"))
				return EXIT_USAGE;
			a->id = optarg;
			break;
		case 'u':
			a->is_public = true;
			a->given |= O_PUBLIC;
			break;
		case 'r':
			a->is_private = true;
			a->given |= O_PRIVATE;
			break;
		case 'l':
			a->all = true;
			a->given |= O_ALL;
			break;
		case 'v':
			if (given_twice(a, O_FLAVOR_REF, "--flavor"))
				return EXIT_USAGE;
			a->flavor_ref = optarg;
			break;
		case 'n':
			a->no_admin_pass = true;
			a->given |= O_NO_ADMIN_PASS;
			break;
		case 'g':
			if (add_hint(a->hints, optarg) < 0)
				return EXIT_USAGE;
			a->given |= O_HINT;
			break;
		case 'z':
			if (given_twice(a, O_AZ, "--availability-zone"))
				return EXIT_USAGE;
			a->az = optarg;
			break;
		case 'k':
			if (given_twice(a, O_KEY_NAME, "--key-name"))
				return EXIT_USAGE;
			a->key_name = optarg;
			break;
		case 'b':
			if (given_twice(a, O_PUBLIC_KEY, "--public-key"))
				return EXIT_USAGE;
			a->public_key = optarg;
			break;
		case 'q':
			if (given_twice(a, O_PRIVATE_KEY, "--private-key"))
				return EXIT_USAGE;
			a->private_key = optarg;
			break;
		case 'Z':
			if (given_twice(a, O_ZONE, "--zone"))
				return EXIT_USAGE;
			a->zone = optarg;
			break;
		case 'O':
			if (given_twice(a, O_POLICY, "--policy"))
				return EXIT_USAGE;
			a->policy = optarg;
			break;
		case 'S':
			if (given_twice(a, O_START, "--start"))
				return EXIT_USAGE;
			a->start = optarg;
			break;
		case 'Y':
			if (given_twice(a, O_END, "--end"))
				return EXIT_USAGE;
			a->end = optarg;
			break;
		case 'G':
			if (given_twice(a, O_SERVER_GROUP, "--server-group"))
				return EXIT_USAGE;
			a->server_group = optarg;
			break;
		case 'o':
			if (given_twice(a, O_FILE, "--file"))
				return EXIT_USAGE;
			a->file = optarg;
			break;
		case 'W':
			if (given_twice(a, O_DISK_FORMAT, "--disk-format"))
				return EXIT_USAGE;
			if (strcmp(optarg, "qcow2") != 0 && strcmp(optarg, "raw") != 0)
				return usage_error("--disk-format", "'%s' is not qcow2 or raw",
						   optarg);
			a->disk_format = optarg;
			break;
		case 'y':
			a->protect = true;
			a->given |= O_PROTECTED;
			break;
		case 'X':
			a->unprotect = true;
			a->given |= O_UNPROTECTED;
			break;
		case 'B':
			if (given_twice(a, O_ROLE, "--role"))
				return EXIT_USAGE;
			a->role = optarg;
			break;
		case 's':
			a->shared_storage = true;
			a->given |= O_SHARED_STORAGE;
			break;
		case 'Q':
			if (given_twice(a, O_TARGET, "--target"))
				return EXIT_USAGE;
			a->target = optarg;
			break;
		case 'J':
			if (given_twice(a, O_PASSWORD_FILE, "--password-file"))
				return EXIT_USAGE;
			a->password_file = optarg;
			break;
		case 'h': a->help = true; break;
		case 'V': printf("hv %s\n", HV_VERSION); exit(EXIT_OK);
		default:
			if (c >= OPT_NET && c < OPT_NET + (int)N_NET_OPTS) {
				int r = parse_net(a, (size_t)(c - OPT_NET), optarg);
				if (r >= 0)
					return r;
				break;
			}
			if (c >= OPT_NUM && c < OPT_NUM + (int)N_NUM_OPTS) {
				int r = parse_num(a, (size_t)(c - OPT_NUM), optarg);
				if (r >= 0)
					return r;
				break;
			}
			return usage_error("option", "'%s' is not known here", argv[optind - 1]);
		}
	}
	return -1;
}

/* ---- output ------------------------------------------------------------------------------- */

const char *
s_or(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : def;
}

void
print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (text) {
		puts(text);
		free(text);
	}
}

/* Field/Value table of an object; nested values printed as compact JSON. */
void
print_object(json_t *o)
{
	static const char *const hdr[] = {"Field", "Value"};
	struct tbl *t = tbl_new(2, hdr);
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		char *text = NULL;
		char num[32];
		const char *cell;
		if (json_is_string(v))
			cell = json_string_value(v);
		else if (json_is_null(v))
			cell = "";
		else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			cell = num;
		} else if (strcmp(k, "recent_commands") == 0 && json_is_array(v)) {
			/* people want "what happened", newest first; -f json has every field */
			size_t i, len = 0;
			json_t *cmd;
			text = calloc(1, 144 * json_array_size(v) + 1);
			json_array_foreach (v, i, cmd) {
				const char *image = s_or(cmd, "image_id", NULL); /* a snapshot's */
				if (text)
					len += (size_t)snprintf(
						text + len, 144, "%s%.24s %.12s%s%.64s%s",
						i ? ", " : "", s_or(cmd, "action", "?"),
						s_or(cmd, "state", "?"), image ? " (" : "",
						image ? image : "", image ? ")" : "");
			}
			cell = text ? text : "";
		} else
			cell = text =
				json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		const char *row[] = {k, cell};
		tbl_add(t, row);
		free(text);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

int
print_result(struct args *a, int r, json_t *res)
{
	if (r == EXIT_OK)
		a->json ? print_json(res) : print_object(res);
	json_decref(res);
	return r;
}

/* ---- commands ----------------------------------------------------------------------------- */

/* One request; maps the outcome onto the exit codes and reports errors on stderr. */
int
call(struct ctx *x, const char *op, json_t *args, bool wait, json_t **ret)
{
	struct hv_error err = {0};
	char code[32];
	int64_t wait_ms = x->a->timeout_s * 1000;
	json_t *res = NULL;
	if (!x->c && hvc_open(x->endpoint, &x->c, &err) < 0) {
		fprintf(stderr, "hv: %s\n", err.message);
		return err.code == -EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE;
	}
	int r = hvc_call(x->c, op, args, wait, wait ? wait_ms : 0, wait ? wait_ms + 10000 : 30000,
			 &res, code, &err);
	if (r == 0) {
		if (ret)
			*ret = res;
		else
			json_decref(res);
		return EXIT_OK;
	}
	json_decref(res);
	if (r == -EHOSTUNREACH) {
		fprintf(stderr, "hv: %s\n", err.message);
		return EXIT_UNREACHABLE;
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "hv: timeout: %s\n", err.message);
		return EXIT_TIMEOUT;
	}
	print_error(&err, code);
	return EXIT_SERVER;
}

int
need_args(struct args *a, int n, const char *what)
{
	if (a->argc - 2 != n) {
		fprintf(stderr, "hv: %s %s: expected %s (see hv %s --help)\n", a->argv[0],
			a->argv[1], what, a->argv[0]);
		return -1;
	}
	return 0;
}

int
check_opts(struct args *a, unsigned long long allowed)
{
	unsigned long long extra = a->given & ~(allowed | O_GLOBAL);
	if (extra) {
		/* indexed by the bit of each O_ option (cmd.h) */
		static const char *const names[] = {
			"--api",
			"--format",
			"--timeout",
			"--host",
			"--flavor-spec",
			"--property",
			"--image",
			"--wait",
			"--hard",
			"--length",
			"--name",
			"--deleted",
			"--key-file",
			"--admin-pass",
			"--user-data",
			"--config-drive",
			"--type",
			"--password",
			"--image-property",
			"--project",
			"--image-format",
			"--description",
			"--enable",
			"--disable",
			"--instances (and the other quotas)",
			"--ram",
			"--vcpus",
			"--disk",
			"--ephemeral",
			"--swap",
			"--id",
			"--public",
			"--private",
			"--all",
			"--property KEY (without =VALUE)",
			"--flavor",
			"--key-name",
			"--min",
			"--max",
			"--public-key",
			"--private-key",
			"--no-admin-pass",
			"--hint",
			"--availability-zone",
			"--network (and the other networking options)",
			"--zone",
			"--policy",
			"--start",
			"--end",
			"--server-group",
			"--file",
			"--disk-format",
			"--min-disk",
			"--min-ram",
			"--protected",
			"--unprotected",
			"--role",
			"--password-file",
			"--target",
			"--on-shared-storage",
		};
		_Static_assert(sizeof names / sizeof names[0] == 60 &&
				       O_SHARED_STORAGE == 1ULL << 59,
			       "one name per O_ bit, the last one included");
		for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
			if (extra & (1ULL << i)) {
				fprintf(stderr,
					"hv: %s: not an option of 'hv %s %s' (see hv %s --help)\n",
					names[i], a->argv[0], a->argv[1], a->argv[0]);
				break;
			}
		return -1;
	}
	return 0;
}

/* Reads a whole file of at most max bytes; on failure prints why (naming the option) and
 * returns -1. */
int
read_small_file(const char *opt, const char *path, size_t max, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hv: %s: cannot read %s: %s\n", opt, path, strerror(errno));
		return -1;
	}
	char *buf = malloc(max + 2);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	bool bad = !buf || ferror(f);
	fclose(f);
	if (bad || n > max) {
		if (bad)
			fprintf(stderr, "hv: %s: cannot read %s\n", opt, path);
		else
			fprintf(stderr, "hv: %s: %s is larger than %zu bytes\n", opt, path, max);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = n;
	return 0;
}

static const struct noun {
	const char *name;
	const char *help;
	int (*fn)(struct ctx *);
} nouns[] = {
	{"host", host_help, cmd_host},
	{"server", server_help, cmd_server},
	{"project", project_help, cmd_project},
	{"quota", quota_help, cmd_quota},
	{"flavor", flavor_help, cmd_flavor},
	{"keypair", keypair_help, cmd_keypair},
	{"network", network_help, cmd_network},
	{"subnet", subnet_help, cmd_subnet},
	{"port", port_help, cmd_port},
	{"security", secgroup_help, cmd_secgroup},
	{"floating", fip_help, cmd_fip},
	{"aggregate", aggregate_help, cmd_aggregate},
	{"availability zone", zone_help, cmd_zone},
	{"server group", server_group_help, cmd_server_group},
	{"usage", usage_help, cmd_usage},
	{"hypervisor", hypervisor_help, cmd_hypervisor},
	{"image", image_help, cmd_image},
	{"user", user_help, cmd_user},
};

/* The nouns of two words ("server group", "availability zone"), as the OpenStack client
 * spells them, become one word: pos[0] is then the noun and pos[1] its verb. */
static void
join_two_word_noun(char **pos, int *npos)
{
	static char server_group[] = "server group", zone[] = "availability zone";
	char *joined = NULL;
	if (*npos < 2)
		return;
	if (strcmp(pos[0], "server") == 0 && strcmp(pos[1], "group") == 0)
		joined = server_group;
	else if (strcmp(pos[0], "availability") == 0 && strcmp(pos[1], "zone") == 0)
		joined = zone;
	if (!joined)
		return;
	pos[0] = joined;
	memmove(pos + 1, pos + 2, (size_t)(*npos - 1) * sizeof *pos);
	(*npos)--;
}

int
main(int argc, char **argv)
{
	struct args a = {0};
	char **pos = NULL;
	int r = check_utf8(argc, argv);
	if (r < 0)
		r = parse_args(argc, argv, &a);
	if (r >= 0)
		goto out;
	/* GNU getopt moved the command words behind the options */
	int npos = argc - optind;
	pos = calloc((size_t)npos + 1, sizeof *pos);
	if (!pos) {
		r = EXIT_SERVER;
		goto out;
	}
	for (int i = 0; i < npos; i++)
		pos[i] = argv[optind + i];
	a.argc = npos;
	a.argv = pos;

	if (npos == 0 || (npos == 1 && strcmp(pos[0], "help") == 0)) {
		fputs(main_help, a.help || npos ? stdout : stderr);
		r = a.help || npos ? EXIT_OK : EXIT_USAGE;
		goto out;
	}
	if (strcmp(pos[0], "help") == 0) {
		a.help = true;
		memmove(pos, pos + 1, (size_t)npos * sizeof *pos);
		a.argc = --npos;
	}
	join_two_word_noun(pos, &npos);
	a.argc = npos;
	const struct noun *noun = NULL;
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++)
		if (strcmp(pos[0], nouns[i].name) == 0)
			noun = &nouns[i];
	if (!noun) {
		if (a.help) {
			fputs(main_help, stdout);
			r = EXIT_OK;
		} else {
			r = usage_error(
				"command",
				"'%s' is not host, server, project, quota, flavor, keypair, "
				"network, subnet, port, security group, floating ip, aggregate, "
				"availability zone, server group, usage, hypervisor, image or user",
				pos[0]);
		}
		goto out;
	}
	const char *help = noun->help;
	if (a.help) {
		fputs(help, stdout);
		r = EXIT_OK;
		goto out;
	}
	if (npos < 2) {
		fputs(help, stderr);
		r = EXIT_USAGE;
		goto out;
	}

	char ep[512];
	hvc_resolve_endpoint(a.api, ep, sizeof ep);
	struct ctx x = {.a = &a, .endpoint = ep};
	r = noun->fn(&x);
	hvc_free(x.c);
out:
	free(pos);
	json_decref(a.props);
	json_decref(a.image_props);
	json_decref(a.nums);
	json_decref(a.hints);
	json_decref(a.prop_keys);
	json_decref(a.net);
	return r;
}
