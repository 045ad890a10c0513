/* agent_config.h - the schema of hvagent.conf and the agent's way of loading it.
 *
 * The main file is /etc/hvagent/hvagent.conf (or -c FILE); drop-ins are read from
 * "<main>.d/ *.conf" in lexical order, a later value winning. Besides the per-key checks of
 * the schema, loading checks what spans keys or needs a format (endpoint scheme, Z85 key,
 * port range, reconnect bounds, fail probability). Never logs; never exits. */
#ifndef HV_AGENT_CONFIG_H
#define HV_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hvagent/driver.h>

#include "config.h"
#include "loader.h"

#define AGENT_CONFIG_DEFAULT_PATH HV_SYSCONFDIR "/hvagent/hvagent.conf"
/* sysexits.h EX_CONFIG: what --check-config returns for a bad config. */
#define AGENT_CONFIG_EX_CONFIG 78

/* The schema without a configured driver: the agent's own sections and those of the
 * drivers that come with hvagent (plugins/bundled.h), terminated by an entry whose section
 * is NULL; built on first use, kept for the process. Loading a config adds the configured
 * driver's section as its plugin declares it. */
const struct cfg_key *agent_config_schema(void);

/* A loaded hvagent.conf and the driver plugin it names. */
struct agent_config {
	struct cfg *cfg;
	/* The configured driver, loaded to read its section; NULL when it could not be loaded
	 * (driver_err says why: the agent refuses to start, --check-config does not mind). */
	struct hv_driver *driver;
	struct hv_error driver_err;
	struct cfg_key *schema; /* the agent's rows and the driver's */
};

/* Loads path (NULL = AGENT_CONFIG_DEFAULT_PATH) and "<path>.d/", with the section of the
 * driver named in [DEFAULT] driver, loaded from driver_dir (or $HVAGENT_DRIVER_DIR).
 * Returns 0 and *ret, or -EINVAL / -errno with every problem in *diags (which may be NULL)
 * and *ret NULL. */
int agent_config_load(const char *path, struct agent_config **ret, struct cfg_diags *diags);
/* NULL-safe; unloads the driver unless the caller took it (set ac->driver to NULL). */
void agent_config_free(struct agent_config *ac);

/* `hvagent --check-config`: prints the normalized config to out and returns 0, or prints
 * every error ("FILE:LINE: [section] key: message (allowed: ...)") to errout and returns
 * AGENT_CONFIG_EX_CONFIG. */
int agent_config_check(const char *path, FILE *out, FILE *errout);

/* Prints the commented sample hvagent.conf (every key, its help, type and default). */
void agent_config_sample(FILE *out);

/* [DEFAULT] host_id, or the machine's hostname when it is empty. Returns 0 or -errno
 * (-ENAMETOOLONG when buf is too small). */
int agent_config_host_id(const struct cfg *cfg, char *buf, size_t size);

/* The driver's section as open() takes it: every key with a value, defaults included.
 * *ret is malloc'd (the caller frees the array); the strings are borrowed from ac. None
 * when the driver declares no section. */
int agent_config_driver_kv(const struct agent_config *ac, struct hvd_kv **ret, size_t *ret_n);

/* The timeouts the agent passes to soft reboots and to stops that name no wait: the
 * driver's keys with the HVD_KEY_*_TIMEOUT roles; for a driver that declares none, those of
 * the first driver that comes with hvagent and does; else 120 s and 60 s. */
void agent_config_timeouts(const struct agent_config *ac, uint32_t *ret_reboot_s,
			   uint32_t *ret_shutdown_s);

#endif
