/* caps.h - reads libvirt's host capabilities XML into the driver ABI's host info and the
 * NUMA cells the domain XML validator places guest cells on. Pure: no libvirt call. */
#ifndef HV_LIBVIRT_CAPS_H
#define HV_LIBVIRT_CAPS_H

#include <sys/types.h>

#include <hvagent/driver.h>

#include "domxml.h"

/* Fills arch, cpu_model and the NUMA cells (cpus, thread siblings, memory, pages) of *info
 * (other fields untouched) and, when host is non-NULL, the validator's view of the cells. */
int caps_parse(const char *caps_xml, struct hvd_host_info *info, struct domxml_host *host,
	       struct hv_error *err);

/* The user and group the DAC security driver runs `virt_type` ("kvm", "qemu") guests as:
 * <secmodel><model>dac</model><baselabel type=...>+UID:+GID</baselabel>, names resolved
 * on this host. Returns 1 and fills both, 0 when the daemon runs guests with no DAC
 * driver (security_driver = "none" without dynamic ownership: nothing to check), or
 * -errno. */
int caps_dac_user(const char *caps_xml, const char *virt_type, uid_t *ret_uid, gid_t *ret_gid,
		  struct hv_error *err);

#endif
