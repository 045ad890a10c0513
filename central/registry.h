/* registry.h - agent liveness, as nova's service group: a host is up while it has been
 * heard from recently, suspect after a few missed reports, down after the down time.
 * Pure: computes a state from timestamps; never touches sockets or the store. Down is not
 * dead: nothing here ever moves instances off a host. */
#ifndef HVC_REGISTRY_H
#define HVC_REGISTRY_H

#include <stdint.h>

enum reg_state {
	REG_UP,
	REG_SUSPECT,
	REG_DOWN,
};

struct reg_intervals {
	int64_t report_ms;  /* how often agents are expected to speak (nova: 10 s) */
	int64_t suspect_ms; /* silence after which a host is suspect (3 reports: 30 s) */
	int64_t down_ms;    /* silence after which a host is down (nova: 60 s) */
};

/* Defaults as nova: report 10 s, suspect 30 s, down 60 s. */
void reg_intervals_default(struct reg_intervals *iv);
/* -EINVAL when an interval is not positive or suspect > down (field names the key). */
struct hv_error;
int reg_intervals_check(const struct reg_intervals *iv, struct hv_error *err);
/* last_seen_ms 0 means never heard from: down. A clock that went backwards counts as up. */
enum reg_state reg_state_at(int64_t last_seen_ms, int64_t now_ms, const struct reg_intervals *iv);
const char *reg_state_name(enum reg_state state);

#endif
