/* agent_config.c - the hvagent.conf schema (every section and key the agent knows, with
 * type, default and one line of help), the configured driver's section as its plugin
 * declares it, and the checks that span keys.
 * Must never log or exit: errors go to struct cfg_diags and the caller reports them. */
#include "agent_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

	/* LEGACY: the sections of the two drivers built with hvagent, as they declare them in
	 * their plugins (test_config checks that both agree). They stay here only so that a
	 * config is checked the same whichever driver it names, as the golden files in
	 * tests/data/config expect; the configured driver's own declaration replaces its rows
	 * when it loads. Remove them with those golden files. */
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

}

/* LEGACY: the checks of the driver sections above, for a config whose driver is another
 * one (the configured driver's own check_config runs instead for its section). */
static void agent_config_legacy_check(const struct cfg *cfg, const char *section,
				      struct cfg_diags *diags)
{
	const char *v;

	if (strcmp(section, "libvirt") == 0) {
		v = cfg_get_str(cfg, "libvirt", "serial_port_range");
		const char *colon = strchr(v, ':');
		long first, last;
		if (!colon || !agent_config_parse_port(v, (size_t)(colon - v), &first) ||
		    !agent_config_parse_port(colon + 1, strlen(colon + 1), &last) || first > last)
			cfg_diag_key(diags, cfg, "libvirt", "serial_port_range",
				     "not a port range (allowed: FIRST:LAST with 1 <= FIRST <= LAST <= 65535)");
	} else if (strcmp(section, "fake") == 0) {
		v = cfg_get_str(cfg, "fake", "fail_probability");
		char *end;
		errno = 0;
		double p = strtod(v, &end);
		if (!*v || *end || errno || !(p >= 0.0 && p <= 1.0))
			cfg_diag_key(diags, cfg, "fake", "fail_probability",
				     "not a probability (allowed: a number from 0 to 1)");
	}
}

static const char *const agent_config_own_sections[] = {
	"DEFAULT", "controller", "netfilter", "guest", NULL,
};

static bool agent_config_is_own_section(const char *section)
{
	for (size_t i = 0; agent_config_own_sections[i]; i++)
		if (strcmp(agent_config_own_sections[i], section) == 0)
			return true;
	return false;
}

/* The driver's config section as open() gets it: every key with a value, defaults
 * included, converted from the config's neutral pairs to the ABI's. */
static int agent_config_section_kv(const struct cfg *cfg, const char *section,
				   struct hvd_kv **ret, size_t *ret_n)
{
	struct hv_kv *kv = NULL;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (cfg_section_kv(cfg, section, &kv, &n) < 0)
		return -ENOMEM;
	struct hvd_kv *out = calloc(n ? n : 1, sizeof *out);
	if (!out) {
		free(kv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (struct hvd_kv){ kv[i].key, kv[i].value };
	free(kv);
	*ret = out;
	*ret_n = n;
	return 0;
}

/* Runs the driver's check_config on its section; its error lands at the FILE:LINE that set
 * the key it names. */
static void agent_config_driver_check(const struct agent_config *ac, struct cfg_diags *diags)
{
	const struct hvd_driver *ops = hv_driver_ops(ac->driver);
	struct hvd_kv *kv;
	size_t n;
	struct hv_error err = { 0 };

	if (!ops->check_config)
		return;
	if (agent_config_section_kv(ac->cfg, ops->config_section, &kv, &n) < 0) {
		cfg_diag_key(diags, ac->cfg, "DEFAULT", "driver", "out of memory");
		return;
	}
	if (ops->check_config(kv, n, &err) < 0) {
		bool known = false;
		for (const struct hvd_config_key *k = ops->config_keys; k && k->key && !known; k++)
			known = strcmp(k->key, err.field) == 0;
		if (known)
			cfg_diag_key(diags, ac->cfg, ops->config_section, err.field, "%s", err.message);
		else
			cfg_diag_key(diags, ac->cfg, "DEFAULT", "driver", "[%s]: %s",
				     ops->config_section, err.message);
	}
	free(kv);
}

/* Checks every driver section in schema order: the configured driver's with its own check,
 * the others with the legacy checks. */
static void agent_config_check_driver_sections(const struct agent_config *ac,
					       struct cfg_diags *diags)
{
	const char *mine = ac->driver ? hv_driver_ops(ac->driver)->config_section : NULL;

	for (size_t i = 0; ac->schema[i].section; i++) {
		const char *section = ac->schema[i].section;
		if ((i && strcmp(ac->schema[i - 1].section, section) == 0) ||
		    agent_config_is_own_section(section))
			continue;
		if (mine && strcmp(section, mine) == 0)
			agent_config_driver_check(ac, diags);
		else
			agent_config_legacy_check(ac->cfg, section, diags);
	}
}

static const enum cfg_type agent_config_types[] = {
	[HVD_CONFIG_STRING] = CFG_STRING, [HVD_CONFIG_INT] = CFG_INT, [HVD_CONFIG_BOOL] = CFG_BOOL,
	[HVD_CONFIG_ENUM] = CFG_ENUM, [HVD_CONFIG_PATH] = CFG_PATH,
};

/* The agent's schema with the driver's declared section in it: in place of the legacy rows
 * of the same section, else appended. The rows borrow the driver's strings. */
static int agent_config_schema_with(const struct hvd_driver *ops, struct cfg_key **ret)
{
	size_t n_own = 0, n_drv = 0, n = 0;
	bool placed = false;

	*ret = NULL;
	while (agent_config_schema[n_own].section)
		n_own++;
	for (; ops && ops->config_section && ops->config_keys && ops->config_keys[n_drv].key; n_drv++)
		;
	struct cfg_key *schema = calloc(n_own + n_drv + 1, sizeof *schema);
	if (!schema)
		return -ENOMEM;
	for (size_t i = 0; i <= n_own; i++) {
		bool drivers = i < n_own && n_drv &&
			       strcmp(agent_config_schema[i].section, ops->config_section) == 0;
		if ((drivers || i == n_own) && n_drv && !placed) {
			for (size_t k = 0; k < n_drv; k++) {
				const struct hvd_config_key *dk = &ops->config_keys[k];
				schema[n++] = (struct cfg_key){
					ops->config_section, dk->key, agent_config_types[dk->type],
					dk->def, dk->allowed, dk->min, dk->max, dk->help,
				};
			}
			placed = true;
		}
		if (i < n_own && !drivers)
			schema[n++] = agent_config_schema[i];
	}
	*ret = schema;
	return 0;
}

/* Loads the configured driver to learn its section; a driver that cannot be loaded is no
 * config error here (its section may still be a legacy one): the agent reports it when it
 * starts. */
static void agent_config_load_driver(struct agent_config *ac, const char *path,
				     const char *dropin)
{
	char *name = cfg_peek(agent_config_schema, path, dropin, "DEFAULT", "driver");
	char *dir = cfg_peek(agent_config_schema, path, dropin, "DEFAULT", "driver_dir");

	if (!name || !hv_driver_name_valid(name)) {
		hv_error_set(&ac->driver_err, -EINVAL, "driver", "not a driver name");
	} else if (hv_driver_load(hv_driver_dir(dir), name, &ac->driver, &ac->driver_err) >= 0) {
		const char *section = hv_driver_ops(ac->driver)->config_section;
		if (section && agent_config_is_own_section(section)) {
			hv_error_set(&ac->driver_err, -ENOEXEC, "config_section",
				     "%s: driver '%s' claims the agent's section [%s]",
				     hv_driver_path(ac->driver), name, section);
			hv_driver_unload(&ac->driver);
		}
	}
	free(name);
	free(dir);
}

void agent_config_free(struct agent_config *ac)
{
	if (!ac)
		return;
	cfg_free(ac->cfg);
	free(ac->schema);
	/* last: the schema rows borrowed the driver's strings */
	hv_driver_unload(&ac->driver);
	free(ac);
}

int agent_config_load(const char *path, struct agent_config **ret, struct cfg_diags *diags)
{
	struct cfg_diags local;
	if (!diags)
		diags = &local;
	*ret = NULL;
	if (!path)
		path = AGENT_CONFIG_DEFAULT_PATH;

	struct agent_config *ac = calloc(1, sizeof *ac);
	char *dropin = NULL;
	int r = -ENOMEM;
	if (!ac || asprintf(&dropin, "%s.d", path) < 0) {
		dropin = NULL;
		goto fail;
	}
	agent_config_load_driver(ac, path, dropin);
	if ((r = agent_config_schema_with(ac->driver ? hv_driver_ops(ac->driver) : NULL,
					  &ac->schema)) < 0)
		goto fail;
	if ((r = cfg_load(ac->schema, path, false, dropin, &ac->cfg, diags)) < 0)
		goto fail;

	agent_config_cross_check(ac->cfg, diags);
	agent_config_check_driver_sections(ac, diags);
	if (diags->n) {
		r = -EINVAL;
		goto fail;
	}
	free(dropin);
	*ret = ac;
	return 0;
fail:
	free(dropin);
	agent_config_free(ac);
	return r;
}

int agent_config_check(const char *path, FILE *out, FILE *errout)
{
	struct cfg_diags diags;
	struct agent_config *ac;
	if (agent_config_load(path, &ac, &diags) < 0) {
		cfg_diags_print(&diags, errout);
		return AGENT_CONFIG_EX_CONFIG;
	}
	cfg_print(ac->cfg, out);
	agent_config_free(ac);
	return 0;
}

int agent_config_driver_kv(const struct agent_config *ac, struct hvd_kv **ret, size_t *ret_n)
{
	const char *section = ac->driver ? hv_driver_ops(ac->driver)->config_section : NULL;

	*ret = NULL;
	*ret_n = 0;
	return section ? agent_config_section_kv(ac->cfg, section, ret, ret_n) : 0;
}

/* The driver's keys with a timeout role; LEGACY: without one, [libvirt]'s, which the agent
 * has passed to every driver (the fake's ACPI-less guests wait them). */
void agent_config_timeouts(const struct agent_config *ac, uint32_t *ret_reboot_s,
			   uint32_t *ret_shutdown_s)
{
	const struct hvd_driver *ops = ac->driver ? hv_driver_ops(ac->driver) : NULL;
	const char *reboot = NULL, *shutdown = NULL;

	for (const struct hvd_config_key *k = ops ? ops->config_keys : NULL; k && k->key; k++) {
		if (k->flags & HVD_KEY_REBOOT_TIMEOUT)
			reboot = k->key;
		if (k->flags & HVD_KEY_SHUTDOWN_TIMEOUT)
			shutdown = k->key;
	}
	*ret_reboot_s = (uint32_t)cfg_get_int(ac->cfg, reboot ? ops->config_section : "libvirt",
					      reboot ? reboot : "reboot_timeout");
	*ret_shutdown_s = (uint32_t)cfg_get_int(ac->cfg, shutdown ? ops->config_section : "libvirt",
						shutdown ? shutdown : "shutdown_timeout");
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
