/* agent_config.c - the hvagent.conf schema (every section and key the agent knows, with
 * type, default and one line of help) and the checks that span keys.
 * Must never log or exit: errors go to struct cfg_diags and the caller reports them. */
#include "agent_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

#define STR(s, k, d, h) { s, k, CFG_STRING, d, NULL, 0, 0, h }
#define PATH(s, k, d, h) { s, k, CFG_PATH, d, NULL, 0, 0, h }
#define INT(s, k, d, lo, hi, h) { s, k, CFG_INT, d, NULL, lo, hi, h }
#define BOOL(s, k, d, h) { s, k, CFG_BOOL, d, NULL, 0, 0, h }
#define ENUM(s, k, d, a, h) { s, k, CFG_ENUM, d, a, 0, 0, h }

/* Fixed, not derived from the build prefix: packages and operators expect these paths. */
#define VARLIB "/var/lib/hvagent"

const struct cfg_key agent_config_schema[] = {
	STR("DEFAULT", "host_id", "", "name this host registers under (empty: the machine's hostname)"),
	ENUM("DEFAULT", "log_level", "info", "error|warning|notice|info|debug", "least severe level logged"),
	PATH("DEFAULT", "state_dir", VARLIB, "local journal and state"),
	STR("DEFAULT", "driver", "fake", "hypervisor driver plugin: loads hvagent-driver-<driver>.so"),
	PATH("DEFAULT", "driver_dir", HV_DRIVERDIR, "where driver plugins live (HVAGENT_DRIVER_DIR overrides)"),
	INT("DEFAULT", "max_concurrent_builds", "4", 1, 64, "spawns run at the same time"),
	INT("DEFAULT", "report_interval", "10", 1, 3600, "seconds between resource reports"),
	INT("DEFAULT", "sync_power_state_interval", "600", 0, 86400, "seconds between power state syncs (0: off)"),
	PATH("DEFAULT", "instances_path", VARLIB "/instances", "instance disks and console logs"),
	PATH("DEFAULT", "image_store", VARLIB "/images", "image store directory"),

	STR("controller", "endpoint", "tcp://127.0.0.1:5555", "hvcentral address (tcp:// or ipc://)"),
	STR("controller", "server_public_key", "", "hvcentral's CURVE public key, Z85, 40 characters (empty: no CURVE)"),
	PATH("controller", "keys_dir", VARLIB "/keys", "this agent's CURVE key pair"),
	INT("controller", "heartbeat_interval", "5", 1, 300, "seconds between heartbeats"),
	INT("controller", "reconnect_min_ms", "100", 10, 60000, "first reconnect delay"),
	INT("controller", "reconnect_max_ms", "30000", 100, 600000, "longest reconnect delay"),

	STR("libvirt", "uri", "qemu:///system", "libvirt connection URI"),
	ENUM("libvirt", "virt_type", "kvm", "kvm|qemu", "domain type: kvm, or qemu for software emulation"),
	INT("libvirt", "reboot_timeout", "120", 0, 3600, "seconds a soft reboot waits before a hard one"),
	INT("libvirt", "shutdown_timeout", "60", 0, 3600, "seconds a graceful shutdown waits before forcing off"),
	STR("libvirt", "vnc_listen", "127.0.0.1", "address VNC consoles listen on"),
	STR("libvirt", "serial_port_range", "10000:20000", "TCP ports for serial consoles, FIRST:LAST"),
	INT("libvirt", "console_log_max_kb", "64", 1, 10240, "console log kept per instance"),

	INT("fake", "vcpus", "16", 1, 4096, "host CPUs"),
	INT("fake", "memory_mb", "65536", 64, 16777216, "host memory"),
	INT("fake", "local_gb", "1000", 1, 1048576, "host disk"),
	INT("fake", "numa_cells", "2", 1, 16, "NUMA cells CPUs and memory are split across"),
	INT("fake", "cpu_mhz", "2400", 100, 10000, "CPU frequency reported"),
	INT("fake", "latency_ms", "0", 0, 60000, "delay added to every operation"),
	BOOL("fake", "acpi", "true", "guests shut down on the ACPI button; false: a soft reboot or graceful stop waits its timeout, then forces"),
	STR("fake", "fail_probability", "0", "chance in [0,1] that an operation fails with an injected error"),
	INT("fake", "seed", "1", INT64_MIN, INT64_MAX, "seed of the failure draws (deterministic per host)"),

	BOOL("netfilter", "enabled", "false", "program security groups and floating IPs"),
	STR("netfilter", "external_interface", "", "interface floating IP addresses live on"),
	INT("netfilter", "resync_interval", "60", 0, 86400, "seconds between ruleset checks (0: off)"),

	BOOL("guest", "inject_key", "false", "write the key pair into the root disk"),
	BOOL("guest", "inject_password", "false", "write the admin password hash into the root disk"),
	INT("guest", "injection_timeout", "600", 10, 3600, "seconds an injection may take"),
	BOOL("guest", "force_config_drive", "false", "attach a config drive to every instance"),
	PATH("guest", "config_drive_dir", VARLIB "/config-drives", "where config drive images are built"),

	{ 0 },
};

static bool agent_config_is_host_id(const char *s)
{
	if (strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

static bool agent_config_is_z85(const char *s)
{
	static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  ".-:+=^!/*?&<>()[]{}@%$#";
	return strlen(s) == 40 && strspn(s, z85) == 40;
}

static bool agent_config_parse_port(const char *s, size_t len, long *ret)
{
	if (len == 0 || len > 5)
		return false;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return v >= 1 && v <= 65535;
}

static void agent_config_cross_check(const struct cfg *cfg, struct cfg_diags *diags)
{
	const char *v = cfg_get_str(cfg, "DEFAULT", "driver");
	if (!hv_driver_name_valid(v))
		cfg_diag_key(diags, cfg, "DEFAULT", "driver",
			     "not a driver name (allowed: 1-64 lowercase letters, digits, '_')");

	v = cfg_get_str(cfg, "DEFAULT", "host_id");
	if (!agent_config_is_host_id(v))
		cfg_diag_key(diags, cfg, "DEFAULT", "host_id",
			     "not a host name (allowed: letters, digits, '-', '.', '_', up to 253)");

	v = cfg_get_str(cfg, "controller", "endpoint");
	if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0)
		cfg_diag_key(diags, cfg, "controller", "endpoint",
			     "not a ZeroMQ endpoint (allowed: tcp://HOST:PORT, ipc://PATH)");

	v = cfg_get_str(cfg, "controller", "server_public_key");
	if (*v && !agent_config_is_z85(v))
		cfg_diag_key(diags, cfg, "controller", "server_public_key",
			     "not a Z85 CURVE key (allowed: 40 Z85 characters, or empty)");

	if (cfg_get_int(cfg, "controller", "reconnect_min_ms") >
	    cfg_get_int(cfg, "controller", "reconnect_max_ms"))
		cfg_diag_key(diags, cfg, "controller", "reconnect_min_ms",
			     "larger than reconnect_max_ms (allowed: up to reconnect_max_ms)");

	v = cfg_get_str(cfg, "libvirt", "serial_port_range");
	const char *colon = strchr(v, ':');
	long first, last;
	if (!colon || !agent_config_parse_port(v, (size_t)(colon - v), &first) ||
	    !agent_config_parse_port(colon + 1, strlen(colon + 1), &last) || first > last)
		cfg_diag_key(diags, cfg, "libvirt", "serial_port_range",
			     "not a port range (allowed: FIRST:LAST with 1 <= FIRST <= LAST <= 65535)");

	v = cfg_get_str(cfg, "fake", "fail_probability");
	char *end;
	errno = 0;
	double p = strtod(v, &end);
	if (!*v || *end || errno || !(p >= 0.0 && p <= 1.0))
		cfg_diag_key(diags, cfg, "fake", "fail_probability",
			     "not a probability (allowed: a number from 0 to 1)");
}

int agent_config_load(const char *path, struct cfg **ret, struct cfg_diags *diags)
{
	struct cfg_diags local;
	if (!diags)
		diags = &local;
	*ret = NULL;
	if (!path)
		path = AGENT_CONFIG_DEFAULT_PATH;

	char *dropin;
	if (asprintf(&dropin, "%s.d", path) < 0)
		return -ENOMEM;
	struct cfg *cfg;
	int r = cfg_load(agent_config_schema, path, false, dropin, &cfg, diags);
	free(dropin);
	if (r < 0)
		return r;

	agent_config_cross_check(cfg, diags);
	if (diags->n) {
		cfg_free(cfg);
		return -EINVAL;
	}
	*ret = cfg;
	return 0;
}

int agent_config_check(const char *path, FILE *out, FILE *errout)
{
	struct cfg_diags diags;
	struct cfg *cfg;
	if (agent_config_load(path, &cfg, &diags) < 0) {
		cfg_diags_print(&diags, errout);
		return AGENT_CONFIG_EX_CONFIG;
	}
	cfg_print(cfg, out);
	cfg_free(cfg);
	return 0;
}

void agent_config_sample(FILE *out)
{
	fputs("# hvagent.conf - settings of the hvagent compute agent. Every key is shown with its\n"
	      "# default, commented out. Drop-ins in hvagent.conf.d/*.conf are read after this file,\n"
	      "# in lexical order; a later value wins. Check with: hvagent --check-config\n\n", out);
	cfg_schema_print(agent_config_schema, out);
}

int agent_config_host_id(const struct cfg *cfg, char *buf, size_t size)
{
	const char *id = cfg_get_str(cfg, "DEFAULT", "host_id");
	if (*id) {
		if ((size_t)snprintf(buf, size, "%s", id) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	if (gethostname(buf, size) < 0)
		return -errno;
	if (strnlen(buf, size) == size)
		return -ENAMETOOLONG;
	return 0;
}
