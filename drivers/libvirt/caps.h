/* caps.h - reads libvirt's host capabilities XML into the driver ABI's host info and the
 * NUMA cells the domain XML validator places guest cells on. Pure: no libvirt call. */
#ifndef HV_LIBVIRT_CAPS_H
#define HV_LIBVIRT_CAPS_H

#include <hvagent/driver.h>

#include "domxml.h"

/* Fills arch, cpu_model and the NUMA cells (cpus, thread siblings, memory, pages) of *info
 * (other fields untouched) and, when host is non-NULL, the validator's view of the cells. */
int caps_parse(const char *caps_xml, struct hvd_host_info *info, struct domxml_host *host,
	       struct hv_error *err);

#endif
