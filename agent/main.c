/* main.c - hvagent's command line: read the config, load the driver, run the core until
 * SIGTERM. Must never leave a guest stopped because the agent stopped, and never print a
 * secret key (only the public one, on request). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "agent.h"
#include "agent_config.h"
#include "config.h"
#include "fault.h"
#include "imgstore.h"
#include "keys.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "reload.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: hvagent [-c FILE] [--check-config | --show-public-key | "
		"--rebuild-journal]\n"
		"       hvagent [-c FILE] image-import IMAGE_FILE ...   (see hvagent image-import "
		"-h)\n"
		"       hvagent --help | --version\n"
		"\n"
		"The per-host compute agent: it dials the controller named in [controller] "
		"endpoint,\n"
		"says HELLO, sends its host and instance state, and runs the commands it is given\n"
		"(spawn, reboot, pause, snapshot, ...) through the driver named in [DEFAULT] "
		"driver.\n"
		"Protocol: docs/protocol.md (HVA/1 over ZeroMQ, CURVE-authenticated).\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     config file (default %s);\n"
		"                        FILE.d/*.conf drop-ins are read after it, a later value "
		"wins\n"
		"      --check-config    parse the config, print it normalized (every key, "
		"defaults\n"
		"                        included) and exit 0; on errors print FILE:LINE: "
		"[section] key:\n"
		"                        problem for each one and exit 78. Then, when the "
		"hypervisor\n"
		"                        can be opened, check that its guests' user (a stock\n"
		"                        libvirtd: qemu's) can reach instances_path, image_store "
		"and\n"
		"                        [guest] config_drive_dir: exit 78 naming the directory "
		"at\n"
		"                        fault; a hypervisor that cannot be opened is a warning\n"
		"      --show-public-key print this agent's CURVE public key (Z85), creating the "
		"keypair\n"
		"                        in [controller] keys_dir on first use; give it to the\n"
		"                        controller's allowlist (hvcentral: hv host accept)\n"
		"      --rebuild-journal a new journal from the hypervisor's own list of "
		"instances,\n"
		"                        when the journal is missing, empty or damaged (a damaged\n"
		"                        one is kept as journal.sqlite.damaged-SECONDS); never\n"
		"                        replaces a healthy journal\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"First start on a new host:\n"
		"  1. set [controller] endpoint and server_public_key (the controller's public "
		"key)\n"
		"  2. hvagent --check-config -c /etc/hvagent/hvagent.conf\n"
		"  3. hvagent --show-public-key   and allowlist the key on the controller under "
		"this\n"
		"     host's id ([DEFAULT] host_id, or the hostname)\n"
		"  4. hvagent   (SIGTERM stops it; guests keep running)\n"
		"\n"
		"Environment: HVAGENT_DRIVER_DIR overrides [DEFAULT] driver_dir;\n"
		"  LIBGUESTFS_BACKEND_SETTINGS containing force_tcg makes [guest] injection use\n"
		"  software emulation (hosts where KVM is unusable).\n"
		"Files: [DEFAULT] state_dir/journal.sqlite (commands and instances, crash-safe),\n"
		"       [controller] keys_dir/agent.key and agent.key_secret (mode 0600).\n"
		"Exit: 0 stopped by SIGTERM, 1 failed, 64 bad usage, 65 the journal is damaged,\n"
		"  66 the journal is missing or empty but the hypervisor has instances, 74 the\n"
		"  journal cannot be opened or written (disk full, I/O), 78 bad configuration.\n",
		AGENT_CONFIG_DEFAULT_PATH);
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		agent_request_reload();
	else
		agent_request_stop();
}

/* What SIGHUP applies while the agent serves; every other key waits for a restart. */
static const struct hv_live_key live_keys[] = {
	{"DEFAULT", "log_level"},
	{"DEFAULT", "report_interval"},
	{"DEFAULT", "sync_power_state_interval"},
	{"controller", "heartbeat_interval"},
	{"controller", "reconnect_min_ms"},
	{"controller", "reconnect_max_ms"},
	{"netfilter", "resync_interval"},
};

static void
live_from(const struct cfg *cfg, struct agent_live *l)
{
	l->heartbeat_s = (int)cfg_get_int(cfg, "controller", "heartbeat_interval");
	l->reconnect_min_ms = (int)cfg_get_int(cfg, "controller", "reconnect_min_ms");
	l->reconnect_max_ms = (int)cfg_get_int(cfg, "controller", "reconnect_max_ms");
	l->report_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "report_interval");
	l->sync_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "sync_power_state_interval");
	l->netfilter_resync_s = (int)cfg_get_int(cfg, "netfilter", "resync_interval");
}

/* SIGHUP: re-reads the config. The running one stays in force when the new one does not
 * load; otherwise the live keys are applied and each other change is named. The running
 * config (which owns the driver) is kept: only the live values are taken from the new. */
static void
reload(const char *path, const struct agent_config *running, struct agent *a)
{
	struct agent_config *ac = NULL;
	struct cfg_diags diags = {0};
	struct agent_live live;

	hv_notify_reloading();
	if (agent_config_load(path, &ac, &diags) < 0) {
		hv_reload_log_refused(&diags);
		hv_notify_reloaded();
		return;
	}
	hv_reload_log_changes(running->cfg, ac->cfg, live_keys,
			      sizeof live_keys / sizeof live_keys[0]);
	hv_log_set_level((enum hv_log_level)hv_log_level_parse(
		cfg_get_str(ac->cfg, "DEFAULT", "log_level")));
	live_from(ac->cfg, &live);
	agent_set_live(a, &live);
	log_notice("reload: done");
	agent_config_free(ac);
	hv_notify_reloaded();
}

static int
load_config(const char *path, struct agent_config **ac)
{
	struct cfg_diags diags;

	if (agent_config_load(path, ac, &diags) < 0) {
		cfg_diags_print(&diags, stderr);
		fprintf(stderr, "hvagent: the config has errors (hvagent --check-config -c %s)\n",
			path ? path : AGENT_CONFIG_DEFAULT_PATH);
		return AGENT_CONFIG_EX_CONFIG;
	}
	return 0;
}

static int
show_public_key(const char *path)
{
	struct agent_config *ac = NULL;
	struct keys_pair kp;
	struct hv_error err = {0};
	bool created = false;
	int r = load_config(path, &ac);

	if (r)
		return r;
	r = keys_load_or_create(cfg_get_str(ac->cfg, "controller", "keys_dir"), "agent", &kp,
				&created, &err);
	agent_config_free(ac);
	if (r < 0) {
		fprintf(stderr, "hvagent: %s\n", err.message);
		return 1;
	}
	if (created)
		fprintf(stderr, "hvagent: created a new keypair\n");
	printf("%s\n", kp.public_z85);
	keys_pair_wipe(&kp);
	return 0;
}

/* Start-up refusals that a restart cannot cure get their own exit code (hvagent(8)), so
 * a service manager can tell them apart and stop restarting. */
static int
exit_code_for(const struct hv_error *err)
{
	if (err->code == -EUCLEAN)
		return 65; /* EX_DATAERR: the journal is damaged */
	if (err->code == -ENODATA)
		return 66; /* EX_NOINPUT: no journal, but the hypervisor has instances */
	if (strcmp(err->field, "state_dir") == 0)
		return 74; /* EX_IOERR: the journal cannot be opened or written */
	if (strcmp(err->field, "net.netfilter.nf_conntrack_tcp_loose") == 0 ||
	    strcmp(err->field, "guest.config_drive_dir") == 0)
		return AGENT_CONFIG_EX_CONFIG;
	return 1;
}

/* The agent's options from a loaded config (the driver loaded); host_id, driver_cfg and
 * n_driver_cfg are the caller's. Strings are borrowed from ac. */
static void
opts_from_config(const struct agent_config *ac, struct agent_opts *o)
{
	const struct cfg *cfg = ac->cfg;

	o->state_dir = cfg_get_str(cfg, "DEFAULT", "state_dir");
	o->endpoint = cfg_get_str(cfg, "controller", "endpoint");
	o->server_public_key = cfg_get_str(cfg, "controller", "server_public_key");
	o->keys_dir = cfg_get_str(cfg, "controller", "keys_dir");
	o->heartbeat_s = (int)cfg_get_int(cfg, "controller", "heartbeat_interval");
	o->reconnect_min_ms = (int)cfg_get_int(cfg, "controller", "reconnect_min_ms");
	o->reconnect_max_ms = (int)cfg_get_int(cfg, "controller", "reconnect_max_ms");
	o->report_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "report_interval");
	o->sync_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "sync_power_state_interval");
	o->max_builds = (int)cfg_get_int(cfg, "DEFAULT", "max_concurrent_builds");
	o->image_store = cfg_get_str(cfg, "DEFAULT", "image_store");
	/* A driver that needs no file takes any image id (image.path NULL) and uses the
	 * store's record when the store has the id. */
	o->image_store_required = hv_driver_ops(ac->driver)->needs & HVD_NEED_IMAGE_FILE;
	o->image_cache_max_age_s = (int)cfg_get_int(cfg, "images", "cache_max_age");
	o->instances_path = cfg_get_str(cfg, "DEFAULT", "instances_path");
	o->config_drive_dir = cfg_get_str(cfg, "guest", "config_drive_dir");
	o->force_config_drive = cfg_get_bool(cfg, "guest", "force_config_drive");
	o->inject_key = cfg_get_bool(cfg, "guest", "inject_key");
	o->inject_password = cfg_get_bool(cfg, "guest", "inject_password");
	o->injection_timeout_s = (int)cfg_get_int(cfg, "guest", "injection_timeout");
	{
		/* libguestfs' own variable, read here: the injector ignores the environment */
		const char *bs = getenv("LIBGUESTFS_BACKEND_SETTINGS");

		o->inject_force_tcg = bs && strstr(bs, "force_tcg");
	}
	o->netfilter = cfg_get_bool(cfg, "netfilter", "enabled");
	o->external_interface = cfg_get_str(cfg, "netfilter", "external_interface");
	o->netfilter_resync_s = (int)cfg_get_int(cfg, "netfilter", "resync_interval");
	o->metrics_listen = cfg_get_str(cfg, "metrics", "listen");
	agent_config_timeouts(ac, &o->reboot_timeout_s, &o->shutdown_timeout_s);
	o->driver = ac->driver;
}

/* --check-config: the config as parsed, then the start-up reach check where the
 * hypervisor can be opened (a config that passes here does not fail the first boot on a
 * directory the guests' user cannot search). A host that cannot be opened is a warning:
 * the config may be checked before the hypervisor runs. */
static int
check_config(const char *path)
{
	struct agent_config *ac = NULL;
	struct hvd_kv *section = NULL;
	size_t n_section = 0;
	struct agent_opts o = {0};
	struct hv_error err = {0};
	int r = agent_config_check(path, stdout, stderr);

	if (r || (r = load_config(path, &ac)))
		return r;
	if (!ac->driver) {
		fprintf(stderr,
			"hvagent: warning: driver %s cannot be loaded (%s): the reach of its "
			"directories was not checked\n",
			cfg_get_str(ac->cfg, "DEFAULT", "driver"), ac->driver_err.message);
	} else if (agent_config_driver_kv(ac, &section, &n_section) < 0) {
		fprintf(stderr, "hvagent: out of memory\n");
		r = 1;
	} else {
		opts_from_config(ac, &o);
		o.driver_cfg = section;
		o.n_driver_cfg = n_section;
		r = agent_check_reach(&o, &err);
		if (r == -ENOTCONN)
			fprintf(stderr,
				"hvagent: warning: cannot open the %s host (%s): whether its "
				"guests can reach instances_path, image_store and [guest] "
				"config_drive_dir was not checked\n",
				cfg_get_str(ac->cfg, "DEFAULT", "driver"), err.message);
		else if (r < 0)
			fprintf(stderr, "hvagent: %s\n", err.message);
		r = r < 0 && r != -ENOTCONN ? AGENT_CONFIG_EX_CONFIG : 0;
	}
	free(section);
	agent_config_free(ac);
	return r;
}

static int
run(const char *path, bool rebuild)
{
	struct agent_config *ac = NULL;
	struct cfg *cfg;
	struct agent *a = NULL;
	struct hvd_kv *section = NULL;
	size_t n_section = 0;
	struct hv_error err = {0};
	struct agent_opts o = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	char host_id[256];
	const char *driver;
	int r = load_config(path, &ac);

	if (r)
		return r;
	cfg = ac->cfg;
	hv_log_set_level(
		(enum hv_log_level)hv_log_level_parse(cfg_get_str(cfg, "DEFAULT", "log_level")));
	if (agent_config_host_id(cfg, host_id, sizeof host_id) < 0) {
		log_error("cannot determine the host id: set [DEFAULT] host_id");
		r = AGENT_CONFIG_EX_CONFIG;
		goto out;
	}
	driver = cfg_get_str(cfg, "DEFAULT", "driver");
	if (!ac->driver) {
		log_error("driver %s: %s", driver, ac->driver_err.message);
		r = 1;
		goto out;
	}
	if (agent_config_driver_kv(ac, &section, &n_section) < 0) {
		log_error("driver %s: out of memory", driver);
		r = 1;
		goto out;
	}
	opts_from_config(ac, &o);
	o.host_id = host_id;
	o.driver_cfg = section;
	o.n_driver_cfg = n_section;
	if (!o.server_public_key || !*o.server_public_key)
		log_warning(
			"[controller] server_public_key is empty: the link is NOT authenticated");
	if (rebuild) {
		if ((r = agent_rebuild_journal(&o, stdout, &err)) < 0)
			log_error("--rebuild-journal: %s", err.message);
		r = r < 0 ? exit_code_for(&err) : 0;
		goto out;
	}
	if ((r = agent_new(&o, &a, &err)) < 0) {
		log_error("starting: %s", err.message);
		r = exit_code_for(&err);
		goto out;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_notice("hvagent %s started: host_id=%s driver=%s", HV_VERSION, host_id, driver);
	hv_notify_init();
	while ((r = agent_run(a)) == AGENT_RUN_RELOAD)
		reload(path, ac, a);
	r = r < 0 ? 1 : 0;
out:
	agent_free(a);
	free(section);
	agent_config_free(ac); /* unloads the driver: after every host of it is closed */
	return r;
}

#define IMPORT_MAX_PROPS 64

static void
import_usage(FILE *out)
{
	fprintf(out,
		"Usage: hvagent [-c FILE] image-import IMAGE_FILE --id ID --format raw|qcow2\n"
		"               [--property KEY=VALUE ...]\n"
		"\n"
		"Copies IMAGE_FILE into [DEFAULT] image_store as image ID. The format is recorded "
		"and\n"
		"trusted from then on (never probed); a file that contradicts it is refused. "
		"Properties\n"
		"are recorded with the image, e.g. kernel=/abs/vmlinuz initrd=/abs/initrd.img\n"
		"os_command_line='console=ttyS0' for direct kernel boot. The image appears "
		"atomically\n"
		"(its sidecar is written last). Exit 0 imported, 1 refused or failed (ID exists, "
		"I/O),\n"
		"64 bad usage.\n");
}

/* hvagent image-import: the operator's way to put an image into the store. */
static int
image_import(const char *path, const char *file, const char *id, const char *format, char **props,
	     size_t n_props)
{
	static const char qcow2_magic[4] = {'Q', 'F', 'I', (char)0xfb};
	struct hvd_kv kv[IMPORT_MAX_PROPS];
	struct agent_config *ac = NULL;
	struct imgstore *store = NULL;
	struct imgstore_image *img = NULL;
	struct hv_error err = {0};
	char magic[4] = {0};
	FILE *f;
	int r;

	if (!id || !imgstore_id_valid(id)) {
		fprintf(stderr, "hvagent: image-import: --id: expected 1-64 of [A-Za-z0-9._-], "
				"not starting with '.'\n");
		return 64;
	}
	if (!format || (strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0)) {
		fprintf(stderr, "hvagent: image-import: --format: expected raw or qcow2\n");
		return 64;
	}
	for (size_t i = 0; i < n_props; i++) {
		char *eq = strchr(props[i], '=');

		if (!eq || eq == props[i] || strlen(props[i]) > 512) {
			fprintf(stderr,
				"hvagent: image-import: --property \"%s\": expected KEY=VALUE\n",
				props[i]);
			return 64;
		}
		for (const char *c = props[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				fprintf(stderr,
					"hvagent: image-import: --property: a control character\n");
				return 64;
			}
		*eq = '\0';
		kv[i] = (struct hvd_kv){props[i], eq + 1};
	}
	/* The declared format is what every later reader trusts: refuse an obvious lie now
	 * (a raw file that is a qcow2 header could name a host backing file). */
	if (!(f = fopen(file, "rb"))) {
		fprintf(stderr, "hvagent: image-import: %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (fread(magic, 1, sizeof magic, f) != sizeof magic)
		memset(magic, 0, sizeof magic);
	fclose(f);
	if ((memcmp(magic, qcow2_magic, 4) == 0) != (strcmp(format, "qcow2") == 0)) {
		fprintf(stderr, "hvagent: image-import: --format %s: %s %s a qcow2 header\n",
			format, file,
			strcmp(format, "qcow2") == 0 ? "does not start with" : "starts with");
		return 1;
	}
	if ((r = load_config(path, &ac)))
		return r;
	r = imgstore_open(cfg_get_str(ac->cfg, "DEFAULT", "image_store"), &store, &err);
	if (r >= 0)
		r = imgstore_add(store, id, file, format, kv, n_props, &err);
	if (r >= 0)
		r = imgstore_get(store, id, &img, &err);
	if (r < 0)
		fprintf(stderr, "hvagent: image-import: %s\n", err.message);
	else
		printf("imported image %s (%s, %llu bytes): %s\n", id, format,
		       (unsigned long long)img->size, img->path);
	imgstore_image_free(img);
	imgstore_free(store);
	agent_config_free(ac);
	return r < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"show-public-key", no_argument, NULL, 'K'},
		{"rebuild-journal", no_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"id", required_argument, NULL, 'I'},
		{"format", required_argument, NULL, 'F'},
		{"property", required_argument, NULL, 'P'},
		{0},
	};
	const char *path = NULL, *image_id = NULL, *image_format = NULL;
	char *props[IMPORT_MAX_PROPS];
	size_t n_props = 0;
	bool check = false, show_key = false, rebuild = false;
	int c;

	hv_log_set_ident("hvagent");
	if (hv_fault_init() < 0) {
		fprintf(stderr, "hvagent: HV_FAULT does not parse (name[@N][,name[@N]...])\n");
		return 2;
	}
	/* Workers mostly wait on the hypervisor: one malloc arena is enough, and per-thread
	 * arenas kept 3-5 MiB of freed memory resident with 1000 instances (bench/agent_mem.sh). */
	mallopt(M_ARENA_MAX, 1);
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'K': show_key = true; break;
		case 'R': rebuild = true; break;
		case 'h':
			for (int i = 1; i < argc; i++)
				if (strcmp(argv[i], "image-import") == 0) {
					import_usage(stdout);
					return 0;
				}
			usage(stdout);
			return 0;
		case 'V': printf("hvagent %s (HVA/1)\n", HV_VERSION); return 0;
		case 'I': image_id = optarg; break;
		case 'F': image_format = optarg; break;
		case 'P':
			if (n_props == IMPORT_MAX_PROPS) {
				fprintf(stderr, "hvagent: at most %d --property\n",
					IMPORT_MAX_PROPS);
				return 64;
			}
			props[n_props++] = optarg;
			break;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc && strcmp(argv[optind], "image-import") == 0) {
		if (argc - optind != 2) {
			fprintf(stderr, "hvagent: image-import takes one IMAGE_FILE\n");
			import_usage(stderr);
			return 64;
		}
		return image_import(path, argv[optind + 1], image_id, image_format, props, n_props);
	}
	if (image_id || image_format || n_props) {
		fprintf(stderr, "hvagent: --id, --format and --property belong to image-import\n");
		return 64;
	}
	if (optind < argc) {
		fprintf(stderr, "hvagent: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 64;
	}
	if (check)
		return check_config(path);
	if (show_key)
		return show_public_key(path);
	return run(path, rebuild);
}
