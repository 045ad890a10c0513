/* hv.c - the command-line client: parses `hv NOUN VERB ...`, sends one request to hvcentral
 * (docs/api.md), prints a table for people or JSON for scripts, and exits with a code
 * scripts can trust. It must never retry a request on its own and never print a secret. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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
	"  server create NAME ...         boot a server (see hv server create --help)\n"
	"  server list|show               servers and their vm_state/task_state/power_state\n"
	"  server delete|reboot|stop|start|pause|unpause|suspend|resume SERVER [--wait]\n"
	"  server resize|resize-confirm|resize-revert|rebuild|rescue|unrescue SERVER ...\n"
	"  server snapshot SERVER SNAPSHOT_NAME [--wait]\n"
	"  server console SERVER [--type vnc|serial]\n"
	"  server set-password SERVER [--password P]\n"
	"  server console-log SERVER [--length N]\n"
	"  project list|show|create       projects: the owners of servers and of quotas\n"
	"  quota show|set [PROJECT]       a project's limits and what it uses\n"
	"  flavor list|show|create|delete|set|unset\n"
	"                                 the sizes servers are created with\n"
	"  keypair list|show|create|delete  SSH key pairs injected into servers\n"
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

static const char host_help[] =
	"Usage: hv host list\n"
	"       hv host show HOST\n"
	"       hv host accept KEY|ADDRESS --name HOST\n"
	"\n"
	"A host's state is up while its agent reports, suspect after a few missed reports and\n"
	"down after the down time (hvcentral's [agents] suspect_after / down_after). An agent\n"
	"whose CURVE key is not in the allowlist is refused and listed as 'pending' with its key\n"
	"and address; `hv host accept` writes the key to the allowlist under HOST, which must be\n"
	"the agent's configured host_id. A full 40-character key may be accepted before the\n"
	"agent ever connects. Keys may begin with '-': end the options with `--` first\n"
	"(hv host accept --name node-2 -- KEY).\n"
	"\n"
	"Examples:\n"
	"  hv host list\n"
	"  hv host accept 'rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7' --name node-2\n"
	"  hv host accept 127.0.0.1 --name node-2     # the only pending key from that address\n"
	"  hv host show node-1 -f json\n";

static const char server_help[] =
	"Usage: hv server create NAME --host HOST --flavor FLAVOR --image ID\n"
	"                        [--image-format qcow2|raw] [--image-property KEY=VALUE]...\n"
	"                        [--key-name KEYPAIR | --key-file FILE] [--admin-pass P]\n"
	"                        [--user-data FILE] [--config-drive] [--project PROJECT]\n"
	"                        [--min N] [--max N] [--wait]\n"
	"       hv server create NAME --host HOST --flavor-spec SPEC\n"
	"                        [--property KEY=VALUE]... --image ID ...\n"
	"       hv server list [--host HOST] [--deleted]\n"
	"       hv server show SERVER\n"
	"       hv server delete|stop|start|pause|unpause|suspend|resume SERVER [--wait]\n"
	"       hv server reboot SERVER [--hard] [--wait]\n"
	"       hv server resize SERVER --flavor-spec SPEC [--property KEY=VALUE]... [--wait]\n"
	"       hv server resize-confirm|resize-revert SERVER [--wait]\n"
	"       hv server rebuild SERVER --image ID [--image-format qcow2|raw]\n"
	"                        [--image-property KEY=VALUE]...\n"
	"                        [--admin-pass P] [--key-file FILE] [--wait]\n"
	"       hv server rescue SERVER [--image ID [--image-format qcow2|raw]\n"
	"                        [--image-property KEY=VALUE]...] [--wait]\n"
	"       hv server unrescue SERVER [--wait]\n"
	"       hv server snapshot SERVER SNAPSHOT_NAME [--wait]\n"
	"       hv server console SERVER [--type vnc|serial]\n"
	"       hv server set-password SERVER [--password P] [--wait]\n"
	"       hv server console-log SERVER [--length N]\n"
	"\n"
	"SERVER is a name or a uuid. SPEC is vcpus=N,ram=MiB,disk=GiB[,ephemeral=GiB,swap=MiB].\n"
	"Each action returns once the host accepted it; with --wait, hv returns when task_state\n"
	"is empty and vm_state is final (exit 4 after --timeout seconds).\n"
	"\n"
	"create: --flavor is a catalog flavor's name or id (hv flavor list), its sizes and\n"
	"extra specs; --flavor-spec with --property gives an inline one instead. --key-name\n"
	"is a key pair of the project (hv keypair list). --min N --max N creates several\n"
	"servers, NAME-1 to NAME-N as nova names them: --max when the project's quota allows\n"
	"it, else as many as it allows down to --min; fewer creates none (over_quota).\n"
	"--key-file is an OpenSSH public key file (one line); --user-data a\n"
	"customization script (at most 64 KiB, sent base64); --config-drive attaches a config\n"
	"drive carrying them. --image-property gives the image's properties (hvcentral keeps no\n"
	"image catalog); set-password needs hw_qemu_guest_agent=yes. Without --admin-pass a\n"
	"password is generated; it is printed once, as adminPass, and never stored by\n"
	"hvcentral. set-password does the same without --password.\n"
	"\n"
	"resize ends in vm_state resized until resize-confirm keeps the new flavor\n"
	"or resize-revert restores the old one. snapshot prints the new image's id; with\n"
	"--wait, once the host wrote it. console prints the host and port of a vnc (default) or\n"
	"serial console.\n"
	"\n"
	"States (as nova): vm_state building, active, paused, suspended, stopped, rescued,\n"
	"resized, error, deleted; task_state while in flight: spawning, rebooting,\n"
	"rebooting_hard, powering_off, powering_on, pausing, unpausing, suspending, resuming,\n"
	"resize_migrating, resize_confirming, resize_reverting, rebuilding, rescuing,\n"
	"unrescuing, image_snapshot, updating_password, deleting; power_state as the\n"
	"hypervisor reports it: running, paused, shutdown, crashed, suspended, nostate.\n"
	"\n"
	"Examples:\n"
	"  hv server create web-1 --host node-1 --flavor m1.tiny --image cirros \\\n"
	"      --key-name k1 --wait\n"
	"  hv server create web --host node-1 --flavor m1.small --image cirros --min 2 --max 3\n"
	"  hv server create db-1 --host node-1 --flavor-spec vcpus=2,ram=512,disk=1 \\\n"
	"      --property hw:cpu_policy=shared --image cirros --wait\n"
	"  hv server create web-2 --host node-1 --flavor-spec vcpus=1,ram=256,disk=1 \\\n"
	"      --image cirros --image-property hw_qemu_guest_agent=yes \\\n"
	"      --key-file ~/.ssh/id_ed25519.pub --user-data init.sh --config-drive\n"
	"  hv server reboot web-1 --hard --wait\n"
	"  hv server resize web-1 --flavor-spec vcpus=4,ram=1024,disk=1 --wait\n"
	"  hv server resize-confirm web-1 --wait\n"
	"  hv server rescue web-1 --wait && hv server unrescue web-1 --wait\n"
	"  hv server snapshot web-1 web-1-nightly --wait\n"
	"  hv server console web-1 --type serial\n"
	"  hv server set-password web-1\n"
	"  hv server list -f json\n"
	"  hv server console-log web-1 --length 20\n";

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
};
#define N_NUM_OPTS (sizeof num_opts / sizeof num_opts[0])

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

static int
parse_args(int argc, char **argv, struct args *a)
{
	struct option opts[48] = {
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
		{"public-key", required_argument, NULL, 'b'},
		{"private-key", required_argument, NULL, 'q'},
	};
	size_t n_opts = 0;
	while (opts[n_opts].name)
		n_opts++;
	for (size_t i = 0; i < N_NUM_OPTS; i++)
		opts[n_opts++] =
			(struct option){num_opts[i].opt, required_argument, NULL, OPT_NUM + (int)i};
	struct hv_error err = {0};
	int c;

	a->timeout_s = 300;
	a->length = -1;
	a->props = json_object();
	a->image_props = json_object();
	a->nums = json_object();
	a->prop_keys = json_array();
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
			if (strcmp(optarg, "vnc") != 0 && strcmp(optarg, "serial") != 0)
				return usage_error("--type", "'%s' is not vnc or serial", optarg);
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
		case 'h': a->help = true; break;
		case 'V': printf("hv %s\n", HV_VERSION); exit(EXIT_OK);
		default:
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

static void
print_servers(json_t *arr)
{
	static const char *const hdr[] = {"ID",          "Name", "Status", "Task State",
					  "Power State", "Host", "Image"};
	struct tbl *t = tbl_new(7, hdr);
	size_t i;
	json_t *s;
	json_array_foreach (arr, i, s) {
		const char *row[] = {s_or(s, "uuid", ""),        s_or(s, "name", ""),
				     s_or(s, "vm_state", ""),    s_or(s, "task_state", "-"),
				     s_or(s, "power_state", ""), s_or(s, "host", ""),
				     s_or(s, "image", "")};
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

/* ---- commands ----------------------------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static bool
is_final(json_t *s, bool deleting)
{
	const char *vm = s_or(s, "vm_state", "");
	if (!json_is_null(json_object_get(s, "task_state")) && json_object_get(s, "task_state"))
		return false;
	if (deleting)
		return strcmp(vm, "deleted") == 0 || strcmp(vm, "error") == 0;
	return strcmp(vm, "building") != 0;
}

/* After a waited command: poll until task_state is empty and vm_state is final. */
static int
settle(struct ctx *x, const char *uuid, bool deleting, json_t **ret)
{
	int64_t end = now_ms() + x->a->timeout_s * 1000;
	for (;;) {
		json_t *s = NULL;
		json_t *q = json_pack("{s:s}", "server", uuid);
		int r = call(x, "server.show", q, false, &s);
		json_decref(q);
		if (r != EXIT_OK)
			return r;
		if (is_final(s, deleting)) {
			*ret = s;
			return strcmp(s_or(s, "vm_state", ""), "error") == 0 && !deleting
				       ? EXIT_SERVER
				       : EXIT_OK;
		}
		json_decref(s);
		if (now_ms() >= end) {
			fprintf(stderr, "hv: timeout: server %s did not settle within %ld s\n",
				uuid, x->a->timeout_s);
			return EXIT_TIMEOUT;
		}
		usleep(100 * 1000);
	}
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
		static const char *const names[] = {"--api",
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
						    "--instances (or another quota)"};
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

/* A password for a guest, as nova generates one: 16 characters from an alphabet without
 * look-alikes. */
static int
generate_password(char ret[17])
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		fprintf(stderr, "hv: cannot generate a password: %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		ret[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
	ret[16] = '\0';
	explicit_bzero(rnd, sizeof rnd);
	return 0;
}

/* --image-format, --image-property, --key-file and --admin-pass into q (create, rebuild,
 * rescue: check_opts admitted only what the command takes); usage problems exit 2. */
static int
add_identity(struct args *a, json_t *q)
{
	struct hv_error err = {0};
	if (a->image_format)
		json_object_set_new(q, "image_format", json_string(a->image_format));
	if (json_object_size(a->image_props))
		json_object_set(q, "image_properties", a->image_props);
	if (a->key_file) {
		char *text = NULL, *key = NULL;
		size_t len = 0;
		if (read_small_file("--key-file", a->key_file, 16384, &text, &len) < 0)
			return EXIT_USAGE;
		int r = spec_key_line(text, len, &key, &err);
		free(text);
		if (r < 0) {
			fprintf(stderr, "hv: --key-file: %s: %s\n", a->key_file, err.message);
			return EXIT_USAGE;
		}
		json_object_set_new(q, "key_data", json_string(key));
		free(key);
	}
	if (a->admin_pass) {
		if (!*a->admin_pass || strlen(a->admin_pass) > 255)
			return usage_error("--admin-pass", "%s", "must be 1-255 bytes");
		json_object_set_new(q, "admin_pass", json_string(a->admin_pass));
	}
	return EXIT_OK;
}

static void
wipe_json_string(json_t *v)
{
	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

static int
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
			/* the report's headline numbers as rows; metrics and NUMA cells are in -f json */
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
	} else {
		return usage_error("host", "'%s' is not list, show or accept", verb);
	}
	json_decref(q);
	json_decref(res);
	return r;
}

static const struct {
	const char *verb;
	const char *action;
	unsigned opts; /* besides --wait */
} actions[] = {
	{"delete", "delete", 0},
	{"reboot", "reboot", O_HARD},
	{"stop", "stop", 0},
	{"start", "start", 0},
	{"pause", "pause", 0},
	{"unpause", "unpause", 0},
	{"suspend", "suspend", 0},
	{"resume", "resume", 0},
	{"resize", "resize", O_FLAVOR | O_PROPERTY},
	{"resize-confirm", "confirm_resize", 0},
	{"resize-revert", "revert_resize", 0},
	{"rebuild", "rebuild", O_IMAGE | O_IMAGE_FORMAT | O_IMAGE_PROP | O_ADMIN_PASS | O_KEY_FILE},
	{"rescue", "rescue", O_IMAGE | O_IMAGE_FORMAT | O_IMAGE_PROP},
	{"unrescue", "unrescue", 0},
};

static int
finish_server(struct ctx *x, json_t *s, bool deleting)
{
	int r = EXIT_OK;
	json_t *settled = NULL;
	if (x->a->wait && s) {
		r = settle(x, s_or(s, "uuid", ""), deleting, &settled);
		if (settled) {
			/* a generated password is shown once, whatever record is printed */
			json_t *pass = json_object_get(s, "adminPass");
			if (pass)
				json_object_set(settled, "adminPass", pass);
			json_decref(s);
			s = settled;
		}
	}
	if (s && r != EXIT_TIMEOUT)
		x->a->json ? print_json(s) : print_object(s);
	if (r == EXIT_SERVER)
		fprintf(stderr, "hv: server %s is in error: %s\n", s_or(s, "name", ""),
			s_or(s, "fault", "(no fault recorded)"));
	json_decref(s);
	return r;
}

/* server create's flavor: --flavor (a catalog flavor) or --flavor-spec with --property (an
 * inline one); a new request object in *ret. */
static int
create_flavor_arg(struct args *a, json_t **ret)
{
	struct hv_error err = {0};
	json_t *flavor = NULL;
	if (a->flavor_ref && a->flavor)
		return usage_error("--flavor", "%s", "and --flavor-spec exclude each other");
	if (a->flavor_ref && json_object_size(a->props))
		return usage_error("--property", "%s",
				   "goes with --flavor-spec; a catalog flavor has its own");
	if (a->flavor_ref) {
		*ret = json_pack("{s:s}", "flavor", a->flavor_ref);
		return EXIT_OK;
	}
	if (!a->flavor)
		return usage_error("--flavor", "%s",
				   "is required: a flavor's name or id (or --flavor-spec "
				   "vcpus=2,ram=512,disk=1)");
	if (spec_flavor(a->flavor, &flavor, &err) < 0) {
		print_error(&err, NULL);
		return EXIT_USAGE;
	}
	*ret = json_pack("{s:o, s:O}", "flavor", flavor, "properties", a->props);
	return EXIT_OK;
}

/* After a create of several: each server (settled with --wait), as a table or as
 * {"servers": [...], "adminPass"} (the password they share, shown this once). */
static int
finish_servers(struct ctx *x, json_t *res)
{
	json_t *out = json_array(), *one;
	size_t i;
	int r = EXIT_OK;
	json_array_foreach (json_object_get(res, "servers"), i, one) {
		json_t *s = NULL, *q = json_pack("{s:O}", "server", json_object_get(one, "uuid"));
		int rs = x->a->wait ? settle(x, s_or(one, "uuid", ""), false, &s)
				    : call(x, "server.show", q, false, &s);
		json_decref(q);
		if (s)
			json_array_append_new(out, s);
		if (rs != EXIT_OK)
			r = rs;
	}
	json_t *pass = json_object_get(res, "adminPass");
	if (x->a->json) {
		json_t *o = json_pack("{s:O}", "servers", out);
		if (pass)
			json_object_set(o, "adminPass", pass);
		print_json(o);
		json_decref(o);
	} else {
		print_servers(out);
		if (pass)
			printf("adminPass: %s\n", json_string_value(pass));
	}
	if (pass)
		wipe_json_string(pass);
	json_decref(out);
	json_decref(res);
	return r;
}

static int
cmd_server(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = NULL;
	struct hv_error err = {0};
	int r;

	if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_HOST | O_FLAVOR | O_FLAVOR_REF | O_PROPERTY | O_IMAGE | O_WAIT |
					  O_KEY_FILE | O_KEY_NAME | O_ADMIN_PASS | O_USER_DATA |
					  O_CONFIG_DRIVE | O_IMAGE_PROP | O_PROJECT |
					  O_IMAGE_FORMAT | O_MIN | O_MAX) < 0 ||
		    need_args(a, 1, "NAME") < 0)
			return EXIT_USAGE;
		if (!a->host)
			return usage_error("--host", "%s", "is required (the host to boot on)");
		if (!a->image)
			return usage_error("--image", "%s", "is required (an image id)");
		if ((r = create_flavor_arg(a, &q)) != EXIT_OK)
			return r;
		json_object_set_new(q, "name", json_string(a->argv[2]));
		json_object_set_new(q, "host", json_string(a->host));
		json_object_set_new(q, "image", json_string(a->image));
		json_object_set_new(q, "config_drive", json_boolean(a->config_drive));
		json_object_update(q, a->nums); /* min_count, max_count */
		if (a->key_name && a->key_file) {
			json_decref(q);
			return usage_error("--key-name", "%s", "and --key-file exclude each other");
		}
		if (a->key_name)
			json_object_set_new(q, "key_name", json_string(a->key_name));
		if (a->project)
			json_object_set_new(q, "project", json_string(a->project));
		char generated[17] = "";
		if ((r = add_identity(a, q)) != EXIT_OK) {
			json_decref(q);
			return r;
		}
		if (a->user_data) {
			char *data = NULL;
			size_t len = 0;
			if (read_small_file("--user-data", a->user_data, 65536, &data, &len) < 0) {
				json_decref(q);
				return EXIT_USAGE;
			}
			char *b64 = spec_base64((unsigned char *)data, len);
			explicit_bzero(data, len);
			free(data);
			json_object_set_new(q, "user_data", json_string(b64 ? b64 : ""));
			if (b64)
				explicit_bzero(b64, strlen(b64));
			free(b64);
		}
		if (!a->admin_pass) {
			if (generate_password(generated) < 0) {
				json_decref(q);
				return EXIT_SERVER;
			}
			json_object_set_new(q, "admin_pass", json_string(generated));
		}
		r = call(x, "server.create", q, a->wait, &res);
		wipe_json_string(json_object_get(q, "admin_pass"));
		wipe_json_string(json_object_get(q, "user_data"));
		json_decref(q);
		if (r != EXIT_OK) {
			explicit_bzero(generated, sizeof generated);
			return r;
		}
		/* the generated password is shown this once; nothing keeps it */
		if (generated[0] && res)
			json_object_set_new(res, "adminPass", json_string(generated));
		explicit_bzero(generated, sizeof generated);
		if (json_array_size(json_object_get(res, "servers")) > 1)
			return finish_servers(x, res);
		return finish_server(x, res, false);
	}
	if (strcmp(verb, "snapshot") == 0) {
		if (check_opts(a, O_WAIT) < 0 || need_args(a, 2, "SERVER SNAPSHOT_NAME") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s, s:s, s:s}", "server", a->argv[2], "action", "snapshot", "name",
			      a->argv[3]);
		r = call(x, "server.action", q, a->wait, &res);
		json_decref(q);
		if (r != EXIT_OK)
			return r;
		json_t *image = json_deep_copy(json_object_get(res, "image_snapshot"));
		if (!json_is_object(image))
			image = json_object();
		json_object_set(image, "server", json_object_get(res, "uuid"));
		json_object_set_new(image, "status", json_string(a->wait ? "active" : "queued"));
		json_decref(res);
		if (a->wait) { /* the image is written; wait for the server to settle too */
			json_t *settled = NULL;
			r = settle(x, s_or(image, "server", ""), false, &settled);
			json_decref(settled);
		}
		if (a->json)
			print_json(image);
		else
			print_object(image);
		json_decref(image);
		return r == EXIT_TIMEOUT ? r : EXIT_OK;
	}
	if (strcmp(verb, "console") == 0) {
		if (check_opts(a, O_TYPE) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s, s:s}", "server", a->argv[2], "type",
			      a->type ? a->type : "vnc");
		r = call(x, "server.console", q, true, &res);
		json_decref(q);
		if (r == EXIT_OK) {
			char url[600];
			snprintf(url, sizeof url, "%s://%s:%lld", s_or(res, "type", "vnc"),
				 s_or(res, "host", ""),
				 (long long)json_integer_value(json_object_get(res, "port")));
			json_object_set_new(res, "url", json_string(url));
			a->json ? print_json(res) : print_object(res);
			wipe_json_string(json_object_get(res, "password"));
		}
		json_decref(res);
		return r;
	}
	if (strcmp(verb, "set-password") == 0) {
		if (check_opts(a, O_PASSWORD | O_WAIT) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		char generated[17] = "";
		if (a->password && (!*a->password || strlen(a->password) > 255))
			return usage_error("--password", "%s", "must be 1-255 bytes");
		if (!a->password && generate_password(generated) < 0)
			return EXIT_SERVER;
		q = json_pack("{s:s, s:s, s:s}", "server", a->argv[2], "action",
			      "set_admin_password", "password",
			      a->password ? a->password : generated);
		r = call(x, "server.action", q, a->wait, &res);
		wipe_json_string(json_object_get(q, "password"));
		json_decref(q);
		if (r == EXIT_OK && generated[0])
			json_object_set_new(res, "adminPass", json_string(generated));
		explicit_bzero(generated, sizeof generated);
		if (r != EXIT_OK)
			return r;
		return finish_server(x, res, false);
	}
	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, O_HOST | O_DELETED) < 0 || need_args(a, 0, "no arguments") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:b}", "deleted", a->deleted);
		if (a->host)
			json_object_set_new(q, "host", json_string(a->host));
		r = call(x, "server.list", q, false, &res);
		if (r == EXIT_OK)
			a->json ? print_json(res) : print_servers(res);
		json_decref(q);
		json_decref(res);
		return r;
	}
	if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s}", "server", a->argv[2]);
		r = call(x, "server.show", q, false, &res);
		json_decref(q);
		if (r == EXIT_OK)
			a->json ? print_json(res) : print_object(res);
		json_decref(res);
		return r;
	}
	if (strcmp(verb, "console-log") == 0) {
		if (check_opts(a, O_LENGTH) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s}", "server", a->argv[2]);
		if (a->length > 0)
			json_object_set_new(q, "length", json_integer(a->length));
		r = call(x, "server.console_log", q, true, &res);
		json_decref(q);
		if (r == EXIT_OK) {
			if (a->json)
				print_json(res);
			else
				fputs(s_or(res, "output", ""), stdout);
		}
		json_decref(res);
		return r;
	}
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (strcmp(verb, actions[i].verb) != 0)
			continue;
		bool reboot = strcmp(verb, "reboot") == 0;
		if (check_opts(a, O_WAIT | actions[i].opts) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s, s:s}", "server", a->argv[2], "action", actions[i].action);
		if (reboot)
			json_object_set_new(q, "hard", json_boolean(a->hard));
		if (strcmp(verb, "resize") == 0) {
			json_t *flavor = NULL;
			if (!a->flavor) {
				json_decref(q);
				return usage_error(
					"--flavor-spec", "%s",
					"is required (the new size: vcpus=4,ram=1024,disk=1)");
			}
			if (spec_flavor(a->flavor, &flavor, &err) < 0) {
				print_error(&err, NULL);
				json_decref(q);
				return EXIT_USAGE;
			}
			json_object_set_new(q, "flavor", flavor);
			json_object_set(q, "properties", a->props);
		}
		if (strcmp(verb, "rebuild") == 0 && !a->image) {
			json_decref(q);
			return usage_error("--image", "%s",
					   "is required (the image to rebuild from)");
		}
		if (a->image)
			json_object_set_new(q, "image", json_string(a->image));
		if ((r = add_identity(a, q)) != EXIT_OK) {
			json_decref(q);
			return r;
		}
		r = call(x, "server.action", q, a->wait, &res);
		wipe_json_string(json_object_get(q, "admin_pass"));
		json_decref(q);
		if (r != EXIT_OK)
			return r;
		if (!a->wait && !a->json) {
			json_decref(res);
			return EXIT_OK;
		}
		return finish_server(x, res, strcmp(verb, "delete") == 0);
	}
	return usage_error("server", "'%s' is not a server command", verb);
}

static const struct noun {
	const char *name;
	const char *help;
	int (*fn)(struct ctx *);
} nouns[] = {
	{"host", host_help, cmd_host},          {"server", server_help, cmd_server},
	{"project", project_help, cmd_project}, {"quota", quota_help, cmd_quota},
	{"flavor", flavor_help, cmd_flavor},    {"keypair", keypair_help, cmd_keypair},
};

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
				"'%s' is not host, server, project, quota, flavor or keypair",
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
	json_decref(a.prop_keys);
	return r;
}
