/* reload.c - the daemons' reload report (see reload.h). */
#include "reload.h"

#include <stdbool.h>
#include <string.h>

#include "log.h"

struct live_set {
	const struct hv_live_key *keys;
	size_t n;
};

static void
report_change(void *ctx, const char *section, const char *key, const char *value)
{
	const struct live_set *live = ctx;

	(void)value;
	for (size_t i = 0; i < live->n; i++)
		if (strcmp(live->keys[i].section, section) == 0 &&
		    strcmp(live->keys[i].key, key) == 0) {
			log_notice("reload: [%s] %s applied", section, key);
			return;
		}
	log_warning("reload: [%s] %s changed; it takes effect at the next restart", section, key);
}

void
hv_reload_log_changes(const struct cfg *running, const struct cfg *next,
		      const struct hv_live_key *live, size_t n_live)
{
	struct live_set set = {live, n_live};

	cfg_diff(running, next, report_change, &set);
}

void
hv_reload_log_refused(const struct cfg_diags *diags)
{
	char text[sizeof(struct cfg_diag) + 16];

	for (size_t i = 0; i < cfg_diags_kept(diags); i++)
		log_error("reload refused, the running config stays: %s",
			  cfg_diag_format(&diags->items[i], text, sizeof text));
}
