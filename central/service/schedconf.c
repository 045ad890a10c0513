/* schedconf.c - hvcentral.conf's [scheduler] and [metrics] sections as the scheduler
 * core's config: the filter list, ratios, multipliers, subset size, attempts, the default
 * zone and the metrics weigher, each checked with an error naming its key, so a bad file
 * is refused at start and a bad reload leaves the running config in force. Must never log. */
#include "service-priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The filters of the hints: each judges only a request that gives its hint, so a hint is
 * never silently ignored (nova drops one unless its filter is configured). RetryFilter
 * too: it judges only a server a host's claim refused, which must not go back there. */
static void
add_hint_filters(struct sched_config *cfg)
{
	static const enum sched_filter hint[] = {SF_SAME_HOST, SF_DIFFERENT_HOST, SF_JSON,
						 SF_SIMPLE_CIDR_AFFINITY, SF_RETRY};
	for (size_t i = 0; i < sizeof hint / sizeof *hint; i++) {
		bool have = false;
		for (size_t k = 0; k < cfg->n_filters; k++)
			have |= cfg->filters[k] == hint[i];
		if (!have && cfg->n_filters < SCHED_MAX_FILTERS)
			cfg->filters[cfg->n_filters++] = hint[i];
	}
}

void
svc_sched_defaults(struct svc *sv)
{
	sched_config_default(&sv->sched);
	add_hint_filters(&sv->sched);
	snprintf(sv->default_zone, sizeof sv->default_zone, "nova");
}

/* A number of [section] within [lo, hi]. */
static int
number(const struct cfg *c, const char *section, const char *key, double lo, double hi, double *ret,
       struct hv_error *err)
{
	const char *s = cfg_get_str(c, section, key);
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !isfinite(v) || v < lo || v > hi)
		return hv_error_set(err, -EINVAL, key,
				    "[%s] %s: '%s' is not a number from %g to %g", section, key, s,
				    lo, hi);
	*ret = v;
	return 0;
}

static int
real(const struct cfg *c, const char *key, double lo, double hi, double *ret, struct hv_error *err)
{
	return number(c, "scheduler", key, lo, hi, ret, err);
}

/* [metrics]: weight_setting parsed into buf (the weights point into it), the multiplier
 * (empty: [scheduler]'s), required and weight_of_unavailable. */
static int
metrics(const struct cfg *c, struct sched_config *n, char *buf, size_t size, struct hv_error *err)
{
	const char *setting = cfg_get_str(c, "metrics", "weight_setting");
	int r;
	if (strlen(setting) >= size)
		return hv_error_set(err, -EINVAL, "weight_setting",
				    "[metrics] weight_setting: longer than %zu bytes", size - 1);
	snprintf(buf, size, "%s", setting);
	if ((r = sched_config_weights(n, buf, err)) < 0)
		return r;
	if (*cfg_get_str(c, "metrics", "weight_multiplier") &&
	    (r = number(c, "metrics", "weight_multiplier", -1e6, 1e6, &n->metrics_weight_multiplier,
			err)) < 0)
		return r;
	n->metrics_required = cfg_get_bool(c, "metrics", "required");
	return number(c, "metrics", "weight_of_unavailable", -1e9, 1e9, &n->weight_of_unavailable,
		      err);
}

int
svc_set_scheduler(struct svc *sv, const struct cfg *c, struct hv_error *err)
{
	struct sched_config n;
	char weights[sizeof sv->sched_weights];
	const char *filters = cfg_get_str(c, "scheduler", "enabled_filters");
	const char *zone = cfg_get_str(c, "scheduler", "default_availability_zone");
	int r = 0;
	sched_config_default(&n);
	if (*filters && (r = sched_config_filters(&n, filters, err)) < 0) {
		char why[sizeof err->message];
		const char *colon = strstr(err->message, ": ");
		snprintf(why, sizeof why, "%s", colon ? colon + 2 : err->message);
		return hv_error_set(err, r, "enabled_filters", "[scheduler] enabled_filters: %s",
				    why);
	}
	if ((r = real(c, "cpu_allocation_ratio", 0.01, 1000, &n.cpu_allocation_ratio, err)) < 0 ||
	    (r = real(c, "ram_allocation_ratio", 0.01, 1000, &n.ram_allocation_ratio, err)) < 0 ||
	    (r = real(c, "disk_allocation_ratio", 0.01, 1000, &n.disk_allocation_ratio, err)) < 0 ||
	    (r = real(c, "ram_weight_multiplier", -1e6, 1e6, &n.ram_weight_multiplier, err)) < 0 ||
	    (r = real(c, "metrics_weight_multiplier", -1e6, 1e6, &n.metrics_weight_multiplier,
		      err)) < 0 ||
	    (r = real(c, "cpu_weight_multiplier", -1e6, 1e6, &n.cpu_weight_multiplier, err)) < 0 ||
	    (r = real(c, "disk_weight_multiplier", -1e6, 1e6, &n.disk_weight_multiplier, err)) <
		    0 ||
	    (r = real(c, "io_ops_weight_multiplier", -1e6, 1e6, &n.io_ops_weight_multiplier, err)) <
		    0 ||
	    (r = real(c, "soft_affinity_weight_multiplier", 0, 1e6,
		      &n.soft_affinity_weight_multiplier, err)) < 0 ||
	    (r = real(c, "soft_anti_affinity_weight_multiplier", 0, 1e6,
		      &n.soft_anti_affinity_weight_multiplier, err)) < 0 ||
	    (r = metrics(c, &n, weights, sizeof weights, err)) < 0)
		return r;
	if (!*zone || strlen(zone) >= sizeof sv->default_zone || strchr(zone, ':'))
		return hv_error_set(err, -EINVAL, "default_availability_zone",
				    "[scheduler] default_availability_zone: '%s' is not a zone "
				    "name (1-255 bytes, no ':')",
				    zone);
	n.host_subset_size = (unsigned)cfg_get_int(c, "scheduler", "host_subset_size");
	n.max_attempts = (unsigned)cfg_get_int(c, "scheduler", "max_attempts");
	add_hint_filters(&n);
	/* the weights' names move with their buffer into the service */
	memcpy(sv->sched_weights, weights, sizeof weights);
	for (size_t i = 0; i < n.n_weights; i++)
		n.weights[i].metric = sv->sched_weights + (n.weights[i].metric - weights);
	sv->sched = n;
	snprintf(sv->default_zone, sizeof sv->default_zone, "%s", zone);
	return 0;
}
