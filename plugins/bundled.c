/* bundled.c - the list of the drivers that come with hvagent, for their config sections
 * (see bundled.h). Adding a driver here is a packaging choice, never needed for a driver
 * to work: must never hold more than the drivers' own declarations. */
#include "bundled.h"

#include "fake_config.h"
#include "lv_config.h"

const struct hv_bundled_config hv_bundled_configs[] = {
	{LV_CONFIG_SECTION, lv_config_keys, lv_check_config},
	{FAKE_CONFIG_SECTION, fake_config_keys, fake_check_config},
	{NULL},
};

/* Runs anywhere, needs nothing: what a new config should start with. */
const char hv_bundled_default_driver[] = FAKE_CONFIG_SECTION;
