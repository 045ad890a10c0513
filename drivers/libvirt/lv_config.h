/* lv_config.h - the libvirt driver's config section as <hvagent/driver.h> declares one
 * (struct hvd_driver.config_section, config_keys, check_config). */
#ifndef HV_LV_CONFIG_H
#define HV_LV_CONFIG_H

#include <hvagent/driver.h>

#define LV_CONFIG_SECTION "libvirt"

/* Ends with an entry whose key is NULL. */
extern const struct hvd_config_key lv_config_keys[];

/* serial_port_range must be FIRST:LAST. */
int lv_check_config(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err);

#endif
