/* reload.h - what both daemons say on SIGHUP, in the same words: each changed key, applied
 * live or waiting for a restart, and each error of a file that was refused. Logs (it is the
 * daemons' edge, not a library); never logs a value, which may be a path to a secret. */
#ifndef HV_RELOAD_H
#define HV_RELOAD_H

#include <stddef.h>

#include "config.h"

/* A key SIGHUP applies while the daemon serves. */
struct hv_live_key {
	const char *section, *key;
};

/* Logs every key whose value differs between running and next: "applied" for one of
 * live[0..n_live), "takes effect at the next restart" for the others. */
void hv_reload_log_changes(const struct cfg *running, const struct cfg *next,
			   const struct hv_live_key *live, size_t n_live);
/* Logs each error of a refused file, saying that the running config stays. */
void hv_reload_log_refused(const struct cfg_diags *diags);

#endif
