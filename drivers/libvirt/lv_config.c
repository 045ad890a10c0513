/* lv_config.c - the libvirt driver's [libvirt] section: its keys and the check they cannot
 * say themselves. Pure data and pure functions, linked into the plugin and, as a driver that
 * comes with hvagent, into the agent (plugins/bundled.c), so a config names it even where
 * the plugin is not installed or libvirt is missing. Must never call libvirt. */
#include "lv_config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* [libvirt] in hvagent.conf. lv_open() checks the values again (it is also called directly,
 * by tests), some more strictly: serial ports within 1024-65535. */
const struct hvd_config_key lv_config_keys[] = {
	{"uri", HVD_CONFIG_STRING, "qemu:///system", NULL, 0, 0, "libvirt connection URI", 0},
	{"virt_type", HVD_CONFIG_ENUM, "kvm", "kvm|qemu", 0, 0,
	 "domain type: kvm, or qemu for software emulation", 0},
	{"reboot_timeout", HVD_CONFIG_INT, "120", NULL, 0, 3600,
	 "seconds a soft reboot waits before a hard one", HVD_KEY_REBOOT_TIMEOUT},
	{"shutdown_timeout", HVD_CONFIG_INT, "60", NULL, 0, 3600,
	 "seconds a graceful shutdown waits before forcing off", HVD_KEY_SHUTDOWN_TIMEOUT},
	{"vnc_listen", HVD_CONFIG_STRING, "127.0.0.1", NULL, 0, 0, "address VNC consoles listen on",
	 0},
	{"serial_port_range", HVD_CONFIG_STRING, "10000:20000", NULL, 0, 0,
	 "TCP ports for serial consoles, FIRST:LAST", 0},
	{"console_log_max_kb", HVD_CONFIG_INT, "64", NULL, 1, 10240,
	 "console log kept per instance", 0},
	{"live_snapshot", HVD_CONFIG_BOOL, "true", NULL, 0, 0,
	 "copy a running guest's disk while it runs (false: pause it for the copy)", 0},
	{"snapshot_timeout", HVD_CONFIG_INT, "3600", NULL, 1, 86400,
	 "seconds a live snapshot's disk copy may take to catch up", 0},
	{NULL},
};

static bool
lv_parse_port(const char *s, size_t len, long *ret)
{
	long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return v >= 1 && v <= 65535;
}

/* What the key types cannot say: serial_port_range is FIRST:LAST. */
int
lv_check_config(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err)
{
	for (size_t i = 0; i < n_cfg; i++) {
		const char *v = cfg[i].value, *colon;
		long first, last;

		if (!cfg[i].key || !v || strcmp(cfg[i].key, "serial_port_range") != 0)
			continue;
		colon = strchr(v, ':');
		if (!colon || !lv_parse_port(v, (size_t)(colon - v), &first) ||
		    !lv_parse_port(colon + 1, strlen(colon + 1), &last) || first > last)
			return hv_error_set(err, -EINVAL, "serial_port_range",
					    "not a port range (allowed: FIRST:LAST with 1 <= FIRST "
					    "<= LAST <= 65535)");
	}
	return 0;
}
