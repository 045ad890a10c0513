/* cmd_server.c - `hv server`: create (one or several servers, a catalog or inline flavor,
 * a key pair or a key file, a generated password shown once), the lifecycle actions, the
 * console, and waiting until a server settles. Parses a verb's words and prints the
 * answer; the rules are hvcentral's. Never prints a secret but the password it generated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "spec.h"
#include "table.h"

const char server_help[] =
	"Usage: hv server create NAME --flavor FLAVOR --image ID [--host HOST]\n"
	"                        [--availability-zone AZ] [--hint KEY=VALUE]...\n"
	"                        [--server-group GROUP]\n"
	"                        [--image-format qcow2|raw] [--image-property KEY=VALUE]...\n"
	"                        [--key-name KEYPAIR | --key-file FILE]\n"
	"                        [--admin-pass P | --no-admin-pass]\n"
	"                        [--user-data FILE] [--config-drive] [--project PROJECT]\n"
	"                        [--min N] [--max N] [--network NETWORK]...\n"
	"                        [--security-group GROUP]... [--wait]\n"
	"       hv server create NAME [--host HOST] --flavor-spec SPEC\n"
	"                        [--property KEY=VALUE]... --image ID ...\n"
	"       hv server list [--host HOST] [--deleted]\n"
	"       hv server show SERVER\n"
	"       hv server set SERVER --name NAME   (rename; names stay unique)\n"
	"       hv server evacuate SERVER [--host HOST] [--admin-pass P | --no-admin-pass |\n"
	"                        --on-shared-storage]\n"
	"                          [--wait]   (its host is down: rebuild it elsewhere)\n"
	"       hv server delete|stop|start|pause|unpause|suspend|resume SERVER... [--wait]\n"
	"       hv server reboot SERVER... [--hard] [--wait]\n"
	"       hv server resize SERVER --flavor FLAVOR | --flavor-spec SPEC [--property "
	"KEY=VALUE]...\n"
	"                        [--wait]\n"
	"       hv server resize-confirm|resize-revert SERVER [--wait]\n"
	"       hv server rebuild SERVER --image ID [--image-format qcow2|raw]\n"
	"                        [--image-property KEY=VALUE]...\n"
	"                        [--admin-pass P] [--key-file FILE] [--user-data FILE]\n"
	"                        [--wait]\n"
	"       hv server rescue SERVER [--image ID [--image-format qcow2|raw]\n"
	"                        [--image-property KEY=VALUE]...] [--wait]\n"
	"       hv server unrescue SERVER [--wait]\n"
	"       hv server snapshot SERVER SNAPSHOT_NAME [--wait]\n"
	"       hv server console SERVER [--type novnc|serial]\n"
	"       hv server set-password SERVER [--password P] [--wait]\n"
	"       hv server console-log SERVER [--length N]\n"
	"       hv server add|remove security group SERVER GROUP\n"
	"       hv server add|remove floating ip SERVER FLOATING_IP\n"
	"\n"
	"SERVER is a name or a uuid. SPEC is vcpus=N,ram=MiB,disk=GiB[,ephemeral=GiB,swap=MiB].\n"
	"Each action returns once the host accepted it; with --wait, hv returns when task_state\n"
	"is empty and vm_state is final (exit 4 after --timeout seconds).\n"
	"\n"
	"create: without --host the scheduler places the server (docs/scheduler.md): nova's\n"
	"filters and weighers over the hosts' reports; --availability-zone and --hint\n"
	"same_host=UUID, different_host=UUID (both may repeat), query=JSON (JsonFilter),\n"
	"build_near_host_ip=IP with cidr=/N, group=ID (as --server-group GROUP: the server\n"
	"joins the group, whose policy places it) steer it; 'No valid host' names what each "
	"filter\n"
	"removed. --host places it there (an admin's forced host).\n"
	"--flavor is a catalog flavor's name or id (hv flavor list), its sizes and\n"
	"extra specs; --flavor-spec with --property gives an inline one instead. --key-name\n"
	"is a key pair of the project (hv keypair list). --min N --max N creates several\n"
	"servers, NAME-1 to NAME-N as nova names them: --max when the project's quota allows\n"
	"it, else as many as it allows down to --min; fewer creates none (over_quota).\n"
	"--key-file is an OpenSSH public key file (one line); --user-data a\n"
	"customization script (at most 64 KiB, sent base64); --config-drive attaches a config\n"
	"drive carrying them. --image names a catalog image by name or id (hv image list): its\n"
	"format and properties come with it and a host without it fetches it from hvcentral;\n"
	"an id the catalog does not know names an image of the host's own store, whose\n"
	"properties --image-property gives (they override the catalog's for a catalog\n"
	"image); set-password needs hw_qemu_guest_agent=yes. Without --admin-pass a\n"
	"password is generated; it is printed once, as adminPass, and never stored by\n"
	"hvcentral. --no-admin-pass sends none: the guest gets no admin_pass and nothing is\n"
	"injected. set-password does the same without --password.\n"
	"\n"
	"rebuild: --user-data replaces the user data on the rebuilt config drive; without it\n"
	"the server keeps the user data it was created with.\n"
	"\n"
	"resize takes a catalog flavor (--flavor m1.small) or an inline size (--flavor-spec);\n"
	"it ends in vm_state resized until resize-confirm keeps the new flavor\n"
	"or resize-revert restores the old one. snapshot prints the new image's id; with\n"
	"--wait, once the host wrote it; it joins the catalog (hv image show) once hvcentral\n"
	"took its data from the host, and any host can then boot it.\n"
	"\n"
	"console prints the URL of the server's noVNC (default) or serial console through\n"
	"hvcentral's console proxy, as openstack console url show --novnc|--serial does: a\n"
	"single-use URL that expires ([openstack] console_token_ttl) and ends with the server\n"
	"(deleted or moved to another host). Without the proxy ([openstack] listen unset) it\n"
	"prints the host's own endpoint. The console's password, when the host sets one, is\n"
	"printed too.\n"
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
	"  hv server resize web-1 --flavor m1.small --wait\n"
	"  hv server resize-confirm web-1 --wait\n"
	"  hv server rescue web-1 --wait && hv server unrescue web-1 --wait\n"
	"  hv server snapshot web-1 web-1-nightly --wait\n"
	"  hv server console web-1 --type serial\n"
	"  hv server set-password web-1\n"
	"  hv server stop web-1 web-2 db-1 --wait     (several at once, one line each)\n"
	"  hv server list -f json\n"
	"  hv server console-log web-1 --length 20\n";

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

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* --user-data into q, base64 as the API takes it (create, rebuild); usage problems exit 2. */
static int
add_user_data(struct args *a, json_t *q)
{
	char *data = NULL;
	size_t len = 0;
	if (!a->user_data)
		return EXIT_OK;
	if (read_small_file("--user-data", a->user_data, 65536, &data, &len) < 0)
		return EXIT_USAGE;
	char *b64 = spec_base64((unsigned char *)data, len);
	explicit_bzero(data, len);
	free(data);
	json_object_set_new(q, "user_data", json_string(b64 ? b64 : ""));
	if (b64)
		explicit_bzero(b64, strlen(b64));
	free(b64);
	return EXIT_OK;
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

static const struct {
	const char *verb;
	const char *action;
	unsigned long long opts; /* besides --wait */
} actions[] = {
	{"delete", "delete", 0},
	{"reboot", "reboot", O_HARD},
	{"stop", "stop", 0},
	{"start", "start", 0},
	{"pause", "pause", 0},
	{"unpause", "unpause", 0},
	{"suspend", "suspend", 0},
	{"resume", "resume", 0},
	{"resize", "resize", O_FLAVOR | O_FLAVOR_REF | O_PROPERTY},
	{"resize-confirm", "confirm_resize", 0},
	{"resize-revert", "revert_resize", 0},
	{"rebuild", "rebuild",
	 O_IMAGE | O_IMAGE_FORMAT | O_IMAGE_PROP | O_ADMIN_PASS | O_KEY_FILE | O_USER_DATA},
	{"rescue", "rescue", O_IMAGE | O_IMAGE_FORMAT | O_IMAGE_PROP},
	{"unrescue", "unrescue", 0},
};

/* A console as openstack console url show prints it, {type: novnc|serial, url}, and its
 * password when the host set one; without hvcentral's proxy, the host's own endpoint
 * {type: vnc|serial, host, port, url, password?}. */
static void
print_console(const struct args *a, json_t *res, bool serial)
{
	json_t *out = res;
	if (json_is_string(json_object_get(res, "url"))) {
		out = json_pack("{s:s, s:O}", "type", serial ? "serial" : "novnc", "url",
				json_object_get(res, "url"));
		if (out && json_is_string(json_object_get(res, "password")))
			json_object_set(out, "password", json_object_get(res, "password"));
	} else {
		char url[600];
		snprintf(url, sizeof url, "%s://%s:%lld", s_or(res, "type", "vnc"),
			 s_or(res, "host", ""),
			 (long long)json_integer_value(json_object_get(res, "port")));
		json_object_set_new(res, "url", json_string(url));
	}
	if (!out)
		return;
	a->json ? print_json(out) : print_object(out);
	if (out != res)
		json_decref(out); /* the password is res's string, wiped by the caller */
}

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

/* An action without arguments on several servers (the guide's "managing multiple
 * instances simultaneously"): one request each, in order; one line per server (or the
 * records as a JSON list); the worst exit code of them. A server that fails does not stop
 * the others. */
static int
many_servers(struct ctx *x, const char *action)
{
	struct args *a = x->a;
	if (check_opts(a, O_WAIT | O_HARD) < 0)
		return EXIT_USAGE;
	if (a->hard && strcmp(action, "reboot") != 0)
		return usage_error("--hard", "%s", "goes with reboot only");
	int worst = EXIT_OK;
	json_t *out = json_array();
	for (int k = 2; k < a->argc; k++) {
		json_t *res = NULL,
		       *q = json_pack("{s:s, s:s}", "server", a->argv[k], "action", action);
		if (strcmp(action, "reboot") == 0)
			json_object_set_new(q, "hard", json_boolean(a->hard));
		int r = call(x, "server.action", q, a->wait, &res);
		json_decref(q);
		if (r == EXIT_OK && a->wait && res) {
			json_t *settled = NULL;
			r = settle(x, s_or(res, "uuid", ""), strcmp(action, "delete") == 0,
				   &settled);
			if (settled) {
				json_decref(res);
				res = settled;
			}
		}
		if (r == EXIT_OK && res) {
			if (a->json)
				json_array_append(out, res);
			else
				printf("%s: %s%s\n", a->argv[k], a->wait ? "" : "accepted, ",
				       s_or(res, "vm_state", "done"));
		}
		if (r > worst)
			worst = r;
		json_decref(res);
	}
	if (a->json)
		print_json(out);
	json_decref(out);
	return worst;
}

int
evacuate_one(struct ctx *x, const char *server, const char *target)
{
	struct args *a = x->a;
	char generated[17] = "";
	json_t *res = NULL, *q = json_pack("{s:s}", "server", server);
	int r;
	if (a->admin_pass && a->no_admin_pass) {
		json_decref(q);
		return usage_error("--no-admin-pass", "%s", "cannot be given with --admin-pass");
	}
	if (a->admin_pass && a->shared_storage) {
		json_decref(q);
		return usage_error("--admin-pass", "%s",
				   "cannot be given with --on-shared-storage: the server boots "
				   "its own disk, which keeps its password");
	}
	if (a->shared_storage)
		json_object_set_new(q, "on_shared_storage", json_true());
	if (target)
		json_object_set_new(q, "host", json_string(target));
	if ((r = add_identity(a, q)) != EXIT_OK) {
		json_decref(q);
		return r;
	}
	if (!a->admin_pass && !a->no_admin_pass && !a->shared_storage) {
		if (generate_password(generated) < 0) {
			json_decref(q);
			return EXIT_SERVER;
		}
		json_object_set_new(q, "admin_pass", json_string(generated));
	}
	r = call(x, "server.evacuate", q, a->wait, &res);
	wipe_json_string(json_object_get(q, "admin_pass"));
	json_decref(q);
	if (r == EXIT_OK && generated[0] && res) /* shown this once; nothing keeps it */
		json_object_set_new(res, "adminPass", json_string(generated));
	explicit_bzero(generated, sizeof generated);
	if (r != EXIT_OK)
		return r;
	return finish_server(x, res, false);
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

int
cmd_server(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = NULL;
	int r;
	static const char *const net_keys[] = {"networks", "security_groups", NULL};

	if (strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0)
		return cmd_server_net(x);
	if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_HOST | O_FLAVOR | O_FLAVOR_REF | O_PROPERTY | O_IMAGE | O_WAIT |
					  O_KEY_FILE | O_KEY_NAME | O_ADMIN_PASS | O_NO_ADMIN_PASS |
					  O_USER_DATA | O_CONFIG_DRIVE | O_IMAGE_PROP | O_PROJECT |
					  O_IMAGE_FORMAT | O_MIN | O_MAX | O_HINT | O_AZ | O_NET |
					  O_SERVER_GROUP) < 0 ||
		    need_args(a, 1, "NAME") < 0)
			return EXIT_USAGE;
		if (a->admin_pass && a->no_admin_pass)
			return usage_error("--no-admin-pass", "%s",
					   "cannot be given with --admin-pass");
		if (!a->image)
			return usage_error("--image", "%s", "is required (an image id)");
		if ((r = create_flavor_arg(a, &q)) != EXIT_OK)
			return r;
		if ((r = net_opts_take(a, q, net_keys)) != EXIT_OK) {
			json_decref(q);
			return r;
		}
		json_object_set_new(q, "name", json_string(a->argv[2]));
		if (a->host)
			json_object_set_new(q, "host", json_string(a->host));
		if (a->az)
			json_object_set_new(q, "availability_zone", json_string(a->az));
		if (json_object_size(a->hints))
			json_object_set(q, "hints", a->hints);
		if (a->server_group)
			json_object_set_new(q, "server_group", json_string(a->server_group));
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
		if ((r = add_identity(a, q)) != EXIT_OK || (r = add_user_data(a, q)) != EXIT_OK) {
			json_decref(q);
			return r;
		}
		if (!a->admin_pass && !a->no_admin_pass) {
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
		bool serial = a->type && strcmp(a->type, "serial") == 0;
		q = json_pack("{s:s, s:s}", "server", a->argv[2], "type",
			      serial ? "serial" : "vnc");
		r = call(x, "server.console", q, true, &res);
		json_decref(q);
		if (r == EXIT_OK) {
			print_console(a, res, serial);
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
	if (strcmp(verb, "evacuate") == 0) {
		if (check_opts(a, O_HOST | O_ADMIN_PASS | O_NO_ADMIN_PASS | O_SHARED_STORAGE |
					  O_WAIT) < 0 ||
		    need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		return evacuate_one(x, a->argv[2], a->host);
	}
	if (strcmp(verb, "set") == 0) {
		if (check_opts(a, O_NAME) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		if (!a->name)
			return usage_error("--name", "%s", "is required (the server's new name)");
		q = json_pack("{s:s, s:s}", "server", a->argv[2], "name", a->name);
		r = call(x, "server.rename", q, false, &res);
		json_decref(q);
		return print_result(a, r, res);
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
		if (a->argc > 3 && (actions[i].opts & ~O_HARD) == 0)
			return many_servers(x, actions[i].action);
		bool reboot = strcmp(verb, "reboot") == 0;
		if (check_opts(a, O_WAIT | actions[i].opts) < 0 || need_args(a, 1, "SERVER") < 0)
			return EXIT_USAGE;
		q = json_pack("{s:s, s:s}", "server", a->argv[2], "action", actions[i].action);
		if (reboot)
			json_object_set_new(q, "hard", json_boolean(a->hard));
		if (strcmp(verb, "resize") == 0) {
			json_t *size = NULL;
			if ((r = create_flavor_arg(a, &size)) != EXIT_OK) {
				json_decref(q);
				return r;
			}
			json_object_update(q, size);
			json_decref(size);
		}
		if (strcmp(verb, "rebuild") == 0 && !a->image) {
			json_decref(q);
			return usage_error("--image", "%s",
					   "is required (the image to rebuild from)");
		}
		if (a->image)
			json_object_set_new(q, "image", json_string(a->image));
		if ((r = add_identity(a, q)) != EXIT_OK || (r = add_user_data(a, q)) != EXIT_OK) {
			json_decref(q);
			return r;
		}
		r = call(x, "server.action", q, a->wait, &res);
		wipe_json_string(json_object_get(q, "admin_pass"));
		wipe_json_string(json_object_get(q, "user_data"));
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
