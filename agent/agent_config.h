/* agent_config.h - the schema of hvagent.conf and the agent's way of loading it.
 *
 * The main file is /etc/hvagent/hvagent.conf (or -c FILE); drop-ins are read from
 * "<main>.d/ *.conf" in lexical order, a later value winning. Besides the per-key checks of
 * the schema, loading checks what spans keys or needs a format (endpoint scheme, Z85 key,
 * port range, reconnect bounds, fail probability). Never logs; never exits. */
#ifndef HV_AGENT_CONFIG_H
#define HV_AGENT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define AGENT_CONFIG_DEFAULT_PATH HV_SYSCONFDIR "/hvagent/hvagent.conf"
/* sysexits.h EX_CONFIG: what --check-config returns for a bad config. */
#define AGENT_CONFIG_EX_CONFIG 78

/* The schema table, terminated by an entry whose section is NULL. */
extern const struct cfg_key agent_config_schema[];

/* Loads path (NULL = AGENT_CONFIG_DEFAULT_PATH) and "<path>.d/". Returns 0 and *ret, or
 * -EINVAL / -errno with every problem in *diags (which may be NULL) and *ret NULL. */
int agent_config_load(const char *path, struct cfg **ret, struct cfg_diags *diags);

/* `hvagent --check-config`: prints the normalized config to out and returns 0, or prints
 * every error ("FILE:LINE: [section] key: message (allowed: ...)") to errout and returns
 * AGENT_CONFIG_EX_CONFIG. */
int agent_config_check(const char *path, FILE *out, FILE *errout);

/* Prints the commented sample hvagent.conf (every key, its help, type and default). */
void agent_config_sample(FILE *out);

/* [DEFAULT] host_id, or the machine's hostname when it is empty. Returns 0 or -errno
 * (-ENAMETOOLONG when buf is too small). */
int agent_config_host_id(const struct cfg *cfg, char *buf, size_t size);

#endif
