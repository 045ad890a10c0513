/* registry.c - liveness arithmetic. Must stay free of I/O so it can be tested with
 * invented clocks. */
#include "registry.h"

#include <hvagent/error.h>

void
reg_intervals_default(struct reg_intervals *iv)
{
	iv->report_ms = 10000;
	iv->suspect_ms = 30000;
	iv->down_ms = 60000;
}

int
reg_intervals_check(const struct reg_intervals *iv, struct hv_error *err)
{
	if (iv->report_ms <= 0)
		return hv_error_set(err, -EINVAL, "report_interval", "must be positive");
	if (iv->suspect_ms <= 0)
		return hv_error_set(err, -EINVAL, "suspect_after", "must be positive");
	if (iv->down_ms < iv->suspect_ms)
		return hv_error_set(err, -EINVAL, "down_after",
				    "must be at least suspect_after (%lld ms), got %lld ms",
				    (long long)iv->suspect_ms, (long long)iv->down_ms);
	return 0;
}

enum reg_state
reg_state_at(int64_t last_seen_ms, int64_t now_ms, const struct reg_intervals *iv)
{
	if (last_seen_ms <= 0)
		return REG_DOWN;
	int64_t silent = now_ms - last_seen_ms;
	if (silent >= iv->down_ms)
		return REG_DOWN;
	if (silent >= iv->suspect_ms)
		return REG_SUSPECT;
	return REG_UP;
}

const char *
reg_state_name(enum reg_state state)
{
	switch (state) {
	case REG_UP: return "up";
	case REG_SUSPECT: return "suspect";
	case REG_DOWN: return "down";
	}
	return "down";
}
