/* service-priv.h - the service layer's state, shared by its files (service.c, server.c,
 * host.c) and nobody else: a front or the daemon must never include it. */
#ifndef HVC_SERVICE_PRIV_H
#define HVC_SERVICE_PRIV_H

#include "service.h"

struct svc {
	struct store *store; /* borrowed */
	struct ctl *ctl;     /* borrowed: the command journal */
	struct allow *allow; /* borrowed, may be NULL */
	struct reg_intervals liveness;
};

/* A string member of a stored record, or def when absent or not a string. */
static inline const char *
field_or(const json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : def;
}

#endif
