/* lvtest.h - what the libvirt driver's component, end-to-end tests and benchmarks share:
 * loading the built plugin through the agent's loader, a scratch directory, an instance
 * spec, waiting for a power state. Test code only. */
#ifndef HV_LVTEST_H
#define HV_LVTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <hvagent/driver.h>

struct lvt {
	struct hv_driver *drv;
	const struct hvd_driver *ops;
	struct hvd_host *host;
	char dir[256];       /* scratch directory, removed by lvt_close */
	char instances[300]; /* dir/instances */
};

/* Loads $HV_LIBVIRT_DRIVER and opens a host with cfg plus instances_path. Exits 1 (not 77)
 * when that fails, since the plugin is part of this build. */
int lvt_open(struct lvt *t, const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err);
void lvt_close(struct lvt *t);

/* Runs argv and waits; 0 when it exited 0. */
int lvt_run(const char *const *argv);
/* Same, with stdout sent to /dev/null. */
int lvt_run_quiet(const char *const *argv);

/* Polls get_instance until power_state is want (or timeout_s passes). */
bool lvt_wait_power(struct lvt *t, const char *uuid, enum hvd_power_state want, unsigned timeout_s);

enum hvd_power_state lvt_power(struct lvt *t, const char *uuid);

double lvt_now(void);

/* The whole file at path (or what is left to read from f), malloc'd and NUL-terminated;
 * NULL when it cannot be read. */
char *lvt_read(const char *path);
char *lvt_read_stream(FILE *f);

#endif
