/* central_config.h - the schema of hvcentral.conf (sections DEFAULT, agents, api,
 * commands) and its loading through common/config.h. Never logs; never exits. */
#ifndef HVC_CENTRAL_CONFIG_H
#define HVC_CENTRAL_CONFIG_H

#include "config.h"

#define CENTRAL_CONFIG_DEFAULT_PATH HV_SYSCONFDIR "/hvcentral/hvcentral.conf"

extern const struct cfg_key central_config_schema[];

/* Whether an API endpoint stays on this machine: ipc://, or tcp:// on a loopback address. */
bool central_api_endpoint_local(const char *endpoint);
/* Loads path (NULL: the default path, which may be absent) and "<path>.d/". */
int central_config_load(const char *path, struct cfg **ret, struct cfg_diags *diags);

#endif
