/* agent_config.c - the hvagent.conf schema: the agent's own sections (every key with type,
 * default and one line of help), the driver sections as the drivers declare them (those
 * that come with hvagent, and the configured driver's plugin), and the checks that span
 * keys. Knows no driver by name.
 * Must never log or exit: errors go to struct cfg_diags and the caller reports them. */
#include "agent_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundled.h"
#include "proto.h"

/* Fixed, not derived from the build prefix: packages and operators expect these paths. */
#define VARLIB "/var/lib/hvagent"

/* The agent's own sections. The driver sections come between the two tables, where the
 * file has always listed them. */
static const struct cfg_key agent_config_head[] = {
	CFG_ROW_STR("DEFAULT", "host_id", "",
		    "name this host registers under (empty: the machine's hostname)"),
	CFG_ROW_ENUM("DEFAULT", "log_level", "info", "error|warning|notice|info|debug",
		     "least severe level logged"),
	CFG_ROW_PATH("DEFAULT", "state_dir", VARLIB, "local journal and state"),
	CFG_ROW_STR("DEFAULT", "driver", hv_bundled_default_driver,
		    "hypervisor driver plugin: loads hvagent-driver-<driver>.so"),
	CFG_ROW_PATH("DEFAULT", "driver_dir", HV_DRIVERDIR,
		     "where driver plugins live (HVAGENT_DRIVER_DIR overrides)"),
	CFG_ROW_INT("DEFAULT", "max_concurrent_builds", "4", 1, 64, "spawns run at the same time"),
	CFG_ROW_INT("DEFAULT", "report_interval", "10", 1, 3600,
		    "seconds between resource reports"),
	CFG_ROW_INT("DEFAULT", "sync_power_state_interval", "600", 0, 86400,
		    "seconds between power state syncs (0: off)"),
	CFG_ROW_PATH("DEFAULT", "instances_path", VARLIB "/instances",
		     "instance disks and console logs"),
	CFG_ROW_PATH("DEFAULT", "image_store", VARLIB "/images", "image store directory"),

	CFG_ROW_STR("controller", "endpoint", "tcp://127.0.0.1:5555",
		    "hvcentral address (tcp:// or ipc://)"),
	CFG_ROW_STR("controller", "server_public_key", "",
		    "hvcentral's CURVE public key, Z85, 40 characters (empty: no CURVE)"),
	CFG_ROW_PATH("controller", "keys_dir", VARLIB "/keys", "this agent's CURVE key pair"),
	CFG_ROW_INT("controller", "heartbeat_interval", "5", 1, 300, "seconds between heartbeats"),
	CFG_ROW_INT("controller", "reconnect_min_ms", "100", 10, 60000, "first reconnect delay"),
	CFG_ROW_INT("controller", "reconnect_max_ms", "30000", 100, 600000,
		    "longest reconnect delay"),
	{0},
};

static const struct cfg_key agent_config_tail[] = {
	CFG_ROW_BOOL("netfilter", "enabled", "false", "program security groups and floating IPs"),
	CFG_ROW_STR("netfilter", "external_interface", "",
		    "interface floating IP addresses live on"),
	CFG_ROW_INT("netfilter", "resync_interval", "60", 0, 86400,
		    "seconds between ruleset checks (0: off)"),

	CFG_ROW_BOOL("guest", "inject_key", "false", "write the key pair into the root disk"),
	CFG_ROW_BOOL("guest", "inject_password", "false",
		     "write the admin password hash into the root disk"),
	CFG_ROW_INT("guest", "injection_timeout", "600", 10, 3600, "seconds an injection may take"),
	CFG_ROW_BOOL("guest", "force_config_drive", "false",
		     "attach a config drive to every instance"),
	CFG_ROW_PATH("guest", "config_drive_dir", VARLIB "/config-drives",
		     "where config drive images are built"),

	CFG_ROW_INT("images", "cache_max_age", "86400", 0, 31536000,
		    "seconds an image fetched from the controller stays unused before it is "
		    "removed (0: kept)"),
	CFG_ROW_STR("metrics", "listen", "",
		    "Prometheus /metrics on PORT (127.0.0.1) or ADDRESS:PORT (empty: off)"),

	{0},
};

static bool
agent_config_is_z85(const char *s)
{
	static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  ".-:+=^!/*?&<>()[]{}@%$#";
	return strlen(s) == 40 && strspn(s, z85) == 40;
}

static void
agent_config_cross_check(const struct cfg *cfg, struct cfg_diags *diags)
{
	const char *v = cfg_get_str(cfg, "DEFAULT", "driver");
	if (!hv_driver_name_valid(v))
		cfg_diag_key(diags, cfg, "DEFAULT", "driver",
			     "not a driver name (allowed: 1-64 lowercase letters, digits, '_')");

	/* The protocol's rule (the HELLO header carries it), so what passes here starts. */
	v = cfg_get_str(cfg, "DEFAULT", "host_id");
	if (*v && !proto_id_valid(v))
		cfg_diag_key(diags, cfg, "DEFAULT", "host_id",
			     "not a host id (allowed: 1-%d letters, digits, '.', '_', ':', '-'; "
			     "empty: the hostname)",
			     PROTO_MAX_ID);

	v = cfg_get_str(cfg, "controller", "endpoint");
	if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0)
		cfg_diag_key(diags, cfg, "controller", "endpoint",
			     "not a ZeroMQ endpoint (allowed: tcp://HOST:PORT, ipc://PATH)");

	v = cfg_get_str(cfg, "controller", "server_public_key");
	if (*v && !agent_config_is_z85(v))
		cfg_diag_key(diags, cfg, "controller", "server_public_key",
			     "not a Z85 CURVE key (allowed: 40 Z85 characters, or empty)");

	if (cfg_value_ok(cfg, "controller", "reconnect_min_ms") &&
	    cfg_value_ok(cfg, "controller", "reconnect_max_ms") &&
	    cfg_get_int(cfg, "controller", "reconnect_min_ms") >
		    cfg_get_int(cfg, "controller", "reconnect_max_ms"))
		cfg_diag_key(diags, cfg, "controller", "reconnect_min_ms",
			     "larger than reconnect_max_ms (allowed: up to reconnect_max_ms)");
}

static bool
agent_config_has_section(const struct cfg_key *table, const char *section)
{
	for (size_t i = 0; table[i].section; i++)
		if (strcmp(table[i].section, section) == 0)
			return true;
	return false;
}

static bool
agent_config_is_own_section(const char *section)
{
	return agent_config_has_section(agent_config_head, section) ||
	       agent_config_has_section(agent_config_tail, section);
}

static const enum cfg_type agent_config_types[] = {
	[HVD_CONFIG_STRING] = CFG_STRING, [HVD_CONFIG_INT] = CFG_INT,
	[HVD_CONFIG_BOOL] = CFG_BOOL,     [HVD_CONFIG_ENUM] = CFG_ENUM,
	[HVD_CONFIG_PATH] = CFG_PATH,
};

/* Appends a driver's declared keys as schema rows (borrowing its strings); returns the
 * number of rows written. */
static size_t
agent_config_add_driver(struct cfg_key *rows, const char *section,
			const struct hvd_config_key *keys)
{
	size_t n = 0;

	for (; keys && keys[n].key; n++)
		rows[n] = (struct cfg_key){
			section,     keys[n].key,     agent_config_types[keys[n].type],
			keys[n].def, keys[n].allowed, keys[n].min,
			keys[n].max, keys[n].help,
		};
	return n;
}

static size_t
agent_config_count(const struct cfg_key *table)
{
	size_t n = 0;
	while (table[n].section)
		n++;
	return n;
}

static size_t
agent_config_count_keys(const struct hvd_config_key *keys)
{
	size_t n = 0;
	while (keys && keys[n].key)
		n++;
	return n;
}

/* The schema: the agent's head rows, the drivers that come with hvagent, the agent's tail
 * rows; the configured driver's declaration (ops, may be NULL) replaces the rows of its
 * section, or is appended when no bundled driver has it. The rows borrow every string. */
static int
agent_config_build_schema(const struct hvd_driver *ops, struct cfg_key **ret)
{
	const char *mine = ops ? ops->config_section : NULL;
	size_t cap = agent_config_count(agent_config_head) + agent_config_count(agent_config_tail) +
		     (mine ? agent_config_count_keys(ops->config_keys) : 0) + 1;
	size_t n = 0;
	bool placed = false;

	*ret = NULL;
	for (const struct hv_bundled_config *b = hv_bundled_configs; b->section; b++)
		cap += agent_config_count_keys(b->keys);
	struct cfg_key *schema = calloc(cap, sizeof *schema);
	if (!schema)
		return -ENOMEM;
	for (size_t i = 0; agent_config_head[i].section; i++)
		schema[n++] = agent_config_head[i];
	for (const struct hv_bundled_config *b = hv_bundled_configs; b->section; b++) {
		if (mine && strcmp(b->section, mine) == 0) {
			n += agent_config_add_driver(schema + n, mine, ops->config_keys);
			placed = true;
		} else {
			n += agent_config_add_driver(schema + n, b->section, b->keys);
		}
	}
	for (size_t i = 0; agent_config_tail[i].section; i++)
		schema[n++] = agent_config_tail[i];
	if (mine && !placed)
		agent_config_add_driver(schema + n, mine, ops->config_keys);
	*ret = schema;
	return 0;
}

/* The driver's config section as open() gets it: every key with a value, defaults
 * included, converted from the config's neutral pairs to the ABI's. */
static int
agent_config_section_kv(const struct cfg *cfg, const char *section, struct hvd_kv **ret,
			size_t *ret_n)
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
		out[i] = (struct hvd_kv){kv[i].key, kv[i].value};
	free(kv);
	*ret = out;
	*ret_n = n;
	return 0;
}

/* Runs a driver's check of its section; its error lands at the FILE:LINE that set the key
 * it names (at [DEFAULT] driver when it names none of the section's keys). */
static void
agent_config_driver_check(const struct cfg *cfg, const char *section,
			  const struct hvd_config_key *keys,
			  int (*check)(const struct hvd_kv *, size_t, struct hv_error *),
			  struct cfg_diags *diags)
{
	struct hvd_kv *kv;
	size_t n;
	struct hv_error err = {0};

	if (!check)
		return;
	if (agent_config_section_kv(cfg, section, &kv, &n) < 0) {
		cfg_diag_key(diags, cfg, "DEFAULT", "driver", "out of memory");
		return;
	}
	/* A key whose setting was refused is left out: the driver checks only what parsed,
	 * and does not blame another key for that value's default. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (cfg_value_ok(cfg, section, kv[i].key))
			kv[kept++] = kv[i];
	if (check(kv, kept, &err) < 0) {
		bool known = false;
		for (const struct hvd_config_key *k = keys; k && k->key && !known; k++)
			known = strcmp(k->key, err.field) == 0;
		if (known)
			cfg_diag_key(diags, cfg, section, err.field, "%s", err.message);
		else
			cfg_diag_key(diags, cfg, "DEFAULT", "driver", "[%s]: %s", section,
				     err.message);
	}
	free(kv);
}

/* Checks every driver section in schema order, each with its driver's own check: the
 * configured plugin's for its section, the bundled declarations' for the others. */
static void
agent_config_check_driver_sections(const struct agent_config *ac, struct cfg_diags *diags)
{
	const struct hvd_driver *ops = ac->driver ? hv_driver_ops(ac->driver) : NULL;
	const char *mine = ops ? ops->config_section : NULL;

	for (size_t i = 0; ac->schema[i].section; i++) {
		const char *section = ac->schema[i].section;
		if ((i && strcmp(ac->schema[i - 1].section, section) == 0) ||
		    agent_config_is_own_section(section))
			continue;
		if (mine && strcmp(section, mine) == 0) {
			agent_config_driver_check(ac->cfg, section, ops->config_keys,
						  ops->check_config, diags);
			continue;
		}
		for (const struct hv_bundled_config *b = hv_bundled_configs; b->section; b++)
			if (strcmp(b->section, section) == 0)
				agent_config_driver_check(ac->cfg, section, b->keys, b->check,
							  diags);
	}
}

/* Loads the configured driver to learn its section; a driver that cannot be loaded is no
 * config error here (its section may be a bundled one): the agent reports it when it
 * starts. */
static void
agent_config_load_driver(struct agent_config *ac, const char *path, const char *dropin)
{
	char *name = cfg_peek(agent_config_head, path, dropin, "DEFAULT", "driver");
	char *dir = cfg_peek(agent_config_head, path, dropin, "DEFAULT", "driver_dir");

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

void
agent_config_free(struct agent_config *ac)
{
	if (!ac)
		return;
	cfg_free(ac->cfg);
	free(ac->schema);
	/* last: the schema rows borrowed the driver's strings */
	hv_driver_unload(&ac->driver);
	free(ac);
}

int
agent_config_load(const char *path, struct agent_config **ret, struct cfg_diags *diags)
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
	if ((r = agent_config_build_schema(ac->driver ? hv_driver_ops(ac->driver) : NULL,
					   &ac->schema)) < 0)
		goto fail;
	/* The checks across keys run even when a value was refused: every error at once. */
	r = cfg_load_partial(ac->schema, path, false, dropin, &ac->cfg, diags);
	if (!ac->cfg)
		goto fail;
	agent_config_cross_check(ac->cfg, diags);
	agent_config_check_driver_sections(ac, diags);
	if (r < 0 || diags->n) {
		r = r < 0 ? r : -EINVAL;
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

int
agent_config_check(const char *path, FILE *out, FILE *errout)
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

int
agent_config_driver_kv(const struct agent_config *ac, struct hvd_kv **ret, size_t *ret_n)
{
	const char *section = ac->driver ? hv_driver_ops(ac->driver)->config_section : NULL;

	*ret = NULL;
	*ret_n = 0;
	return section ? agent_config_section_kv(ac->cfg, section, ret, ret_n) : 0;
}

/* The key with a timeout role: the configured driver's, else the first bundled driver's
 * that declares one (its value in the config, default or set): a driver without timeouts
 * of its own has always been given those, and guests without ACPI wait them. */
static uint32_t
agent_config_timeout(const struct agent_config *ac, uint32_t role, uint32_t fallback)
{
	const struct hvd_driver *ops = ac->driver ? hv_driver_ops(ac->driver) : NULL;

	for (const struct hvd_config_key *k = ops ? ops->config_keys : NULL; k && k->key; k++)
		if (k->flags & role)
			return (uint32_t)cfg_get_int(ac->cfg, ops->config_section, k->key);
	for (const struct hv_bundled_config *b = hv_bundled_configs; b->section; b++)
		for (const struct hvd_config_key *k = b->keys; k && k->key; k++)
			if (k->flags & role)
				return (uint32_t)cfg_get_int(ac->cfg, b->section, k->key);
	return fallback;
}

void
agent_config_timeouts(const struct agent_config *ac, uint32_t *ret_reboot_s,
		      uint32_t *ret_shutdown_s)
{
	*ret_reboot_s = agent_config_timeout(ac, HVD_KEY_REBOOT_TIMEOUT, 120);
	*ret_shutdown_s = agent_config_timeout(ac, HVD_KEY_SHUTDOWN_TIMEOUT, 60);
}

const struct cfg_key *
agent_config_schema(void)
{
	/* built once and kept: the process reads its config at start */
	static struct cfg_key *schema;

	if (!schema && agent_config_build_schema(NULL, &schema) < 0)
		abort();
	return schema;
}

void
agent_config_sample(FILE *out)
{
	fputs("# hvagent.conf - settings of the hvagent compute agent. Every key is shown with "
	      "its\n"
	      "# default, commented out. Drop-ins in hvagent.conf.d/*.conf are read after this "
	      "file,\n"
	      "# in lexical order; a later value wins. Check with: hvagent --check-config\n\n",
	      out);
	cfg_schema_print(agent_config_schema(), out);
}

int
agent_config_host_id(const struct cfg *cfg, char *buf, size_t size)
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
