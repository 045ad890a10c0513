/* bundled.h - the config sections of the drivers that come with hvagent (fake, libvirt),
 * linked into the agent from the drivers' own declarations (drivers/fake/fake_config.c,
 * drivers/libvirt/lv_config.c): the same code their plugins carry.
 *
 * Why: a config is checked the same on every host, whichever of these drivers it names and
 * whether or not that plugin is installed there (a package without libvirt still reads a
 * shared config with a [libvirt] section). A driver that does not come with hvagent needs
 * none of this: its plugin's declaration is read when the config names it. The agent knows
 * these drivers only through this list, never by name. */
#ifndef HV_BUNDLED_H
#define HV_BUNDLED_H

#include <stddef.h>

#include <hvagent/driver.h>

struct hv_bundled_config {
	const char *section;               /* as the plugin's config_section */
	const struct hvd_config_key *keys; /* as the plugin's config_keys */
	int (*check)(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err);
};

/* In the order their sections are listed; ends with an entry whose section is NULL. */
extern const struct hv_bundled_config hv_bundled_configs[];

/* The driver [DEFAULT] driver names when the config does not say. */
extern const char hv_bundled_default_driver[];

#endif
