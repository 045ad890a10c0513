/* fake_config.h - the fake driver's config section as <hvagent/driver.h> declares one
 * (struct hvd_driver.config_section, config_keys, check_config). */
#ifndef HV_FAKE_CONFIG_H
#define HV_FAKE_CONFIG_H

#include <hvagent/driver.h>

#define FAKE_CONFIG_SECTION "fake"

/* Ends with an entry whose key is NULL. */
extern const struct hvd_config_key fake_config_keys[];

/* fail_probability must be a number in [0, 1]; state_file empty or absolute; numa_cells at
 * most vcpus. A key absent from
 * cfg is not checked. */
int fake_check_config(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err);

#endif
