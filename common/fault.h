/* fault.h - named fault points: the places where a test may make a daemon die as kill -9
 * would, to show that a crash there loses nothing and runs no command twice.
 *
 * HV_FAULT in the environment lists the points that fire, separated by commas; each may carry
 * "@N" to fire on the Nth time the point is reached instead of the first (spawn@3). Unset, a
 * point costs one load and one branch. The list is read once, by hv_fault_init() at start;
 * a point not in it never fires. Names are lower-case words with '_' (spawn_defined,
 * fip_associate_applied); docs/hacking.md lists them.
 *
 * Not a configuration option on purpose: a fault point is a test's tool and must never be
 * left switched on in a config file. */
#ifndef HV_FAULT_H
#define HV_FAULT_H

#include <stdbool.h>

/* Reads HV_FAULT. Returns 0, or -EINVAL (and fires nothing) when the list does not parse:
 * a test that names a point wrongly must fail loudly, not run without its crash. */
int hv_fault_init(void);

/* True when point fires now (counts the hit). For points that do something other than die,
 * e.g. a main loop that stalls on purpose. */
bool hv_fault_hit(const char *point);

/* Dies with SIGKILL when point fires now: no atexit handler, no flush, as kill -9. */
void hv_fault(const char *point);

/* hv_fault() of the point "<command>_<moment>" (spawn_after_driver): the name is built only
 * when some point is armed. */
void hv_fault_at(const char *command, const char *moment);

#endif
