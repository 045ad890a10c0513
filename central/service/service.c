/* service.c - the service layer's handle: what it works through (the store, the command
 * journal, the allowlist) and the liveness intervals its host checks use; it seeds a new
 * catalog when it opens. Holds no state of its own, so every rule reads the store afresh;
 * must never cache a record. */
#include "service-priv.h"

#include <stdlib.h>

/* A host is known while its key is in the allowlist (without one, every host is). */
static bool
host_known(void *ctx, const char *host)
{
	struct svc *sv = ctx;
	return !sv->allow || allow_key_for(sv->allow, host) != NULL;
}

int
svc_new(struct store *store, struct ctl *ctl, struct allow *allow,
	const struct reg_intervals *liveness, struct svc **ret, struct hv_error *err)
{
	struct svc *sv = calloc(1, sizeof *sv);
	if (!sv)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sv->store = store;
	sv->ctl = ctl;
	sv->allow = allow;
	sv->liveness = *liveness;
	svc_sched_defaults(sv);
	int r = svc_seed(sv, proto_now_ms(), err); /* one insert, when the catalog is new */
	if (r < 0) {
		free(sv);
		return r;
	}
	if (ctl) { /* a spawn a host's claim refuses is placed again here */
		ctl_set_placer(ctl, svc_place_again, sv);
		ctl_set_host_watch(ctl, svc_place_dirty, sv);
		ctl_set_host_known(ctl, host_known, sv);
	}
	*ret = sv;
	return 0;
}

void
svc_free(struct svc *sv)
{
	if (!sv)
		return;
	if (sv->ctl) {
		ctl_set_placer(sv->ctl, NULL, NULL);
		ctl_set_host_watch(sv->ctl, NULL, NULL);
		ctl_set_host_known(sv->ctl, NULL, NULL);
	}
	svc_place_free(sv);
	svc_console_stop(sv);
	free(sv);
}

void
svc_set_liveness(struct svc *sv, const struct reg_intervals *liveness)
{
	sv->liveness = *liveness;
}
