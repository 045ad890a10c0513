/* fixture_driver.c - tiny driver plugins for the loader tests, one per way a plugin can be
 * wrong, selected by FIXTURE_* at compile time; FIXTURE_CONFIG makes the third-party driver
 * "thirdparty", whose own config section the agent checks without knowing it. Never used
 * outside tests/. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <hvagent/driver.h>

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "good"
#endif

struct hvd_host {
	int unused;
};

static int
fx_open(const struct hvd_kv *cfg, size_t n, struct hvd_host **ret, struct hv_error *err)
{
	*ret = calloc(1, sizeof **ret);
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

static void
fx_close(struct hvd_host *h)
{
	free(h);
}

static int
fx_host_info(struct hvd_host *h, struct hvd_host_info *ret, struct hv_error *err)
{
	return 0;
}

static int
fx_host_stats(struct hvd_host *h, struct hvd_host_stats *ret, struct hv_error *err)
{
	return 0;
}

static int
fx_list(struct hvd_host *h, hvd_instance_fn fn, void *ctx, struct hv_error *err)
{
	return 0;
}

static int
fx_get(struct hvd_host *h, const char *uuid, struct hvd_instance_info *ret, struct hv_error *err)
{
	return hv_error_set(err, -ENOENT, "uuid", "no instance %s", uuid);
}

static int
fx_spawn(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	return 0;
}

static int
fx_destroy(struct hvd_host *h, const char *uuid, bool disks, struct hv_error *err)
{
	return 0;
}

static int
fx_power_off(struct hvd_host *h, const char *uuid, uint32_t t, struct hv_error *err)
{
	return 0;
}

#ifndef FIXTURE_NO_POWER_ON
static int
fx_power_on(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	return 0;
}
#endif

#if defined(FIXTURE_CONFIG) || defined(FIXTURE_BAD_KEYS)
static const struct hvd_config_key fx_keys[] = {
	{"endpoint", HVD_CONFIG_STRING, "unix:/run/thirdparty.sock", NULL, 0, 0,
	 "where the hypervisor's control socket is", 0},
#ifdef FIXTURE_BAD_KEYS
	{"pool_size", HVD_CONFIG_INT, "4", NULL, 32, 1, "a range the wrong way round", 0},
#else
	{"pool_size", HVD_CONFIG_INT, "4", NULL, 1, 32, "connections kept open", 0},
#endif
	{"mode", HVD_CONFIG_ENUM, "safe", "safe|fast", 0, 0, "how guests are started", 0},
	{"verbose", HVD_CONFIG_BOOL, "false", NULL, 0, 0, "chatty hypervisor calls", 0},
	{"stop_wait", HVD_CONFIG_INT, "7", NULL, 0, 600, "seconds a graceful stop waits",
	 HVD_KEY_SHUTDOWN_TIMEOUT},
	{NULL},
};

/* A check the key types cannot say: the endpoint's scheme. */
static int
fx_check_config(const struct hvd_kv *cfg, size_t n, struct hv_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cfg[i].key, "endpoint") == 0 && strncmp(cfg[i].value, "unix:/", 6) != 0)
			return hv_error_set(err, -EINVAL, "endpoint",
					    "not a socket address (allowed: unix:/PATH)");
	return 0;
}
#endif

#ifdef FIXTURE_LONGER
static const struct {
	struct hvd_driver v1;
	void (*appended[FIXTURE_LONGER / sizeof(void (*)(void))])(void);
} fx_longer = {.v1 = {
#else
static const struct hvd_driver fx_driver = {
#endif
#ifdef FIXTURE_ABI
		       .abi_version = FIXTURE_ABI,
#else
	.abi_version = HVD_ABI_VERSION,
#endif
#if defined(FIXTURE_SHORT)
		       .struct_size = offsetof(struct hvd_driver, reboot),
#elif defined(FIXTURE_V1_ROOT_DISK)
	/* built before the config description was appended: ends after root_disk */
	.struct_size = offsetof(struct hvd_driver, check_config),
#elif defined(FIXTURE_LONGER)
/* a later build of the same ABI version that appended ops this agent does not know */
.struct_size = sizeof(struct hvd_driver) + FIXTURE_LONGER,
#else
.struct_size = sizeof(struct hvd_driver),
#endif
		       .name = FIXTURE_NAME,
		       .version = "0",
		       .open = fx_open,
		       .close = fx_close,
		       .host_info = fx_host_info,
		       .host_stats = fx_host_stats,
		       .list_instances = fx_list,
		       .get_instance = fx_get,
		       .spawn = fx_spawn,
		       .destroy = fx_destroy,
		       .power_off = fx_power_off,
#ifndef FIXTURE_NO_POWER_ON
		       .power_on = fx_power_on,
#endif
#if defined(FIXTURE_CONFIG) || defined(FIXTURE_BAD_KEYS)
		       .check_config = fx_check_config,
		       .config_section = FIXTURE_NAME,
		       .config_keys = fx_keys,
#endif
#ifdef FIXTURE_LONGER
	       }};
#define fx_driver fx_longer.v1
#else
};
#endif

#ifdef FIXTURE_NO_ENTRY
#define FIXTURE_ENTRY not_the_entry_symbol
#else
#define FIXTURE_ENTRY hvagent_driver_entry
#endif

HVD_EXPORT const struct hvd_driver *FIXTURE_ENTRY(uint32_t v);

HVD_EXPORT const struct hvd_driver *
FIXTURE_ENTRY(uint32_t v)
{
#ifdef FIXTURE_RETURN_NULL
	return v == 0 ? &fx_driver : NULL; /* refuses every agent this test can be */
#else
	return &fx_driver;
#endif
}
