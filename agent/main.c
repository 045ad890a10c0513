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
#include "keys.h"
#include "loader.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: hvagent [-c FILE] [--check-config | --show-public-key]\n"
"       hvagent --help | --version\n"
"\n"
"The per-host compute agent: it dials the controller named in [controller] endpoint,\n"
"says HELLO, sends its host and instance state, and runs the commands it is given\n"
"(spawn, reboot, pause, snapshot, ...) through the driver named in [DEFAULT] driver.\n"
"Protocol: docs/protocol.md (HVA/1 over ZeroMQ, CURVE-authenticated).\n"
"\n"
"Options:\n"
"  -c, --config FILE     config file (default %s);\n"
"                        FILE.d/*.conf drop-ins are read after it, a later value wins\n"
"      --check-config    parse the config, print it normalized (every key, defaults\n"
"                        included) and exit 0; on errors print FILE:LINE: [section] key:\n"
"                        problem for each one and exit 78\n"
"      --show-public-key print this agent's CURVE public key (Z85), creating the keypair\n"
"                        in [controller] keys_dir on first use; give it to the\n"
"                        controller's allowlist (hvcentral: hv host accept)\n"
"  -h, --help            this help\n"
"  -V, --version         print the version\n"
"\n"
"First start on a new host:\n"
"  1. set [controller] endpoint and server_public_key (the controller's public key)\n"
"  2. hvagent --check-config -c /etc/hvagent/hvagent.conf\n"
"  3. hvagent --show-public-key   and allowlist the key on the controller under this\n"
"     host's id ([DEFAULT] host_id, or the hostname)\n"
"  4. hvagent   (SIGTERM stops it; guests keep running)\n"
"\n"
"Environment: HVAGENT_DRIVER_DIR overrides [DEFAULT] driver_dir.\n"
"Files: [DEFAULT] state_dir/journal.sqlite (commands and instances, crash-safe),\n"
"       [controller] keys_dir/agent.key and agent.key_secret (mode 0600).\n",
		AGENT_CONFIG_DEFAULT_PATH);
}

static void on_signal(int sig)
{
	(void)sig;
	agent_request_stop();
}

static int load_config(const char *path, struct cfg **cfg)
{
	struct cfg_diags diags;

	if (agent_config_load(path, cfg, &diags) < 0) {
		cfg_diags_print(&diags, stderr);
		fprintf(stderr, "hvagent: the config has errors (hvagent --check-config -c %s)\n",
			path ? path : AGENT_CONFIG_DEFAULT_PATH);
		return AGENT_CONFIG_EX_CONFIG;
	}
	return 0;
}

static int show_public_key(const char *path)
{
	struct cfg *cfg = NULL;
	struct keys_pair kp;
	struct hv_error err = { 0 };
	bool created = false;
	int r = load_config(path, &cfg);

	if (r)
		return r;
	r = keys_load_or_create(cfg_get_str(cfg, "controller", "keys_dir"), "agent", &kp, &created,
				&err);
	cfg_free(cfg);
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

static int run(const char *path)
{
	struct cfg *cfg = NULL;
	struct hv_driver *drv = NULL;
	struct agent *a = NULL;
	struct hvd_kv *section = NULL;
	size_t n_section = 0;
	struct hv_error err = { 0 };
	struct agent_opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char host_id[256];
	const char *driver;
	int r = load_config(path, &cfg);

	if (r)
		return r;
	hv_log_set_level((enum hv_log_level)hv_log_level_parse(cfg_get_str(cfg, "DEFAULT", "log_level")));
	if (agent_config_host_id(cfg, host_id, sizeof host_id) < 0) {
		log_error("cannot determine the host id: set [DEFAULT] host_id");
		r = AGENT_CONFIG_EX_CONFIG;
		goto out;
	}
	driver = cfg_get_str(cfg, "DEFAULT", "driver");
	if ((r = hv_driver_load(hv_driver_dir(cfg_get_str(cfg, "DEFAULT", "driver_dir")), driver,
				&drv, &err)) < 0) {
		log_error("driver %s: %s", driver, err.message);
		r = 1;
		goto out;
	}
	if (cfg_section_kv(cfg, driver, &section, &n_section) < 0) {
		section = NULL;
		n_section = 0;
	}
	o.host_id = host_id;
	o.state_dir = cfg_get_str(cfg, "DEFAULT", "state_dir");
	o.endpoint = cfg_get_str(cfg, "controller", "endpoint");
	o.server_public_key = cfg_get_str(cfg, "controller", "server_public_key");
	o.keys_dir = cfg_get_str(cfg, "controller", "keys_dir");
	o.heartbeat_s = (int)cfg_get_int(cfg, "controller", "heartbeat_interval");
	o.reconnect_min_ms = (int)cfg_get_int(cfg, "controller", "reconnect_min_ms");
	o.reconnect_max_ms = (int)cfg_get_int(cfg, "controller", "reconnect_max_ms");
	o.report_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "report_interval");
	o.sync_interval_s = (int)cfg_get_int(cfg, "DEFAULT", "sync_power_state_interval");
	o.max_builds = (int)cfg_get_int(cfg, "DEFAULT", "max_concurrent_builds");
	o.image_store = cfg_get_str(cfg, "DEFAULT", "image_store");
	o.instances_path = cfg_get_str(cfg, "DEFAULT", "instances_path");
	o.config_drive_dir = cfg_get_str(cfg, "guest", "config_drive_dir");
	o.force_config_drive = cfg_get_bool(cfg, "guest", "force_config_drive");
	o.netfilter = cfg_get_bool(cfg, "netfilter", "enabled");
	o.external_interface = cfg_get_str(cfg, "netfilter", "external_interface");
	o.netfilter_resync_s = (int)cfg_get_int(cfg, "netfilter", "resync_interval");
	o.driver = drv;
	o.driver_cfg = section;
	o.n_driver_cfg = n_section;
	if (!o.server_public_key || !*o.server_public_key)
		log_warning("[controller] server_public_key is empty: the link is NOT authenticated");
	if ((r = agent_new(&o, &a, &err)) < 0) {
		log_error("starting: %s", err.message);
		r = 1;
		goto out;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_notice("hvagent %s started: host_id=%s driver=%s", HV_VERSION, host_id, driver);
	r = agent_run(a) < 0 ? 1 : 0;
out:
	agent_free(a);
	free(section);
	hv_driver_unload(&drv);
	cfg_free(cfg);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "show-public-key", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *path = NULL;
	bool check = false, show_key = false;
	int c;

	hv_log_set_ident("hvagent");
	/* Workers mostly wait on the hypervisor: one malloc arena is enough, and per-thread
	 * arenas kept 3-5 MiB of freed memory resident with 1000 instances (bench/agent_mem.sh). */
	mallopt(M_ARENA_MAX, 1);
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'K': show_key = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("hvagent %s (HVA/1)\n", HV_VERSION); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hvagent: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 64;
	}
	if (check)
		return agent_config_check(path, stdout, stderr);
	if (show_key)
		return show_public_key(path);
	return run(path);
}
