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
	{"state_file", HVD_CONFIG_STRING, "", NULL, 0, 0,
	 "absolute path of the file the guests and call counters are kept in, so a restarted "
	 "agent finds them (empty: memory only)",
	 0},
	{"console_addr", HVD_CONFIG_STRING, "", NULL, 0, 0,
	 "HOST:PORT every guest's console answers on, for tests that connect to it (empty: "
	 "127.0.0.1, port 5900 or 10000 plus the guest's index, where nothing listens)",
	 0},
	{"outside_memory_mb", HVD_CONFIG_INT, "0", NULL, 0, 16777216,
	 "memory the host uses outside its guests: reported as not free, though no guest "
	 "claims it",
	 0},
	{NULL},
};

/* The value of key in cfg, or NULL when it is not there (a value the config refused is
 * left out by the caller). */
static const char *
fake_config_value(const struct hvd_kv *cfg, size_t n_cfg, const char *key)
{
	for (size_t k = 0; k < n_cfg; k++)
		if (cfg[k].key && cfg[k].value && strcmp(cfg[k].key, key) == 0)
			return cfg[k].value;
	return NULL;
}

/* What the key types cannot say: fail_probability is a number in [0, 1], a state_file is
 * absolute (its key is a string so that empty can mean "memory only"), and the CPUs are
 * split across the NUMA cells, so there are no more cells than vcpus (a cell without a CPU
 * would be advertised to the scheduler as a place to put one). */
int
fake_check_config(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err)
{
	const char *v = fake_config_value(cfg, n_cfg, "fail_probability");
	if (v) {
		char *end;
		errno = 0;
		double p = strtod(v, &end);
		if (!*v || *end || errno || !(p >= 0.0 && p <= 1.0))
			return hv_error_set(err, -EINVAL, "fail_probability",
					    "not a probability (allowed: a number from 0 to 1)");
	}
	v = fake_config_value(cfg, n_cfg, "state_file");
	if (v && *v && *v != '/')
		return hv_error_set(err, -EINVAL, "state_file",
				    "not an absolute path (allowed: empty, or a path from /)");
	const char *vcpus = fake_config_value(cfg, n_cfg, "vcpus");
	const char *cells = fake_config_value(cfg, n_cfg, "numa_cells");
	if (vcpus && cells && strtoll(cells, NULL, 10) > strtoll(vcpus, NULL, 10))
		return hv_error_set(err, -EINVAL, "numa_cells",
				    "more NUMA cells than vcpus (allowed: 1 to vcpus)");
	return 0;
}
