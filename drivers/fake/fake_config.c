/* fake_config.c - the fake driver's [fake] section: its keys and the check they cannot say
 * themselves. Pure data and one pure function, linked into the plugin and, as a driver
 * that comes with hvagent, into the agent (plugins/bundled.c), so a config names it even
 * where the plugin is not installed. Must never touch a host. */
#include "fake_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* [fake] in hvagent.conf: the size of the simulated host and its injected faults. */
const struct hvd_config_key fake_config_keys[] = {
	{"vcpus", HVD_CONFIG_INT, "16", NULL, 1, 4096, "host CPUs", 0},
	{"memory_mb", HVD_CONFIG_INT, "65536", NULL, 64, 16777216, "host memory", 0},
	{"local_gb", HVD_CONFIG_INT, "1000", NULL, 1, 1048576, "host disk", 0},
	{"numa_cells", HVD_CONFIG_INT, "2", NULL, 1, 16,
	 "NUMA cells CPUs and memory are split across", 0},
	{"cpu_mhz", HVD_CONFIG_INT, "2400", NULL, 100, 10000, "CPU frequency reported", 0},
	{"latency_ms", HVD_CONFIG_INT, "0", NULL, 0, 60000, "delay added to every operation", 0},
	{"acpi", HVD_CONFIG_BOOL, "true", NULL, 0, 0,
	 "guests shut down on the ACPI button; false: a soft reboot or graceful stop waits its "
	 "timeout, then forces",
	 0},
	{"fail_probability", HVD_CONFIG_STRING, "0", NULL, 0, 0,
	 "chance in [0,1] that an operation fails with an injected error", 0},
	{"seed", HVD_CONFIG_INT, "1", NULL, INT64_MIN, INT64_MAX,
	 "seed of the failure draws (deterministic per host)", 0},
	{NULL},
};

/* What the key types cannot say: fail_probability is a number in [0, 1]. */
int
fake_check_config(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err)
{
	for (size_t k = 0; k < n_cfg; k++) {
		if (!cfg[k].key || !cfg[k].value || strcmp(cfg[k].key, "fail_probability") != 0)
			continue;
		char *end;
		errno = 0;
		double p = strtod(cfg[k].value, &end);
		if (!*cfg[k].value || *end || errno || !(p >= 0.0 && p <= 1.0))
			return hv_error_set(err, -EINVAL, "fail_probability",
					    "not a probability (allowed: a number from 0 to 1)");
	}
	return 0;
}
