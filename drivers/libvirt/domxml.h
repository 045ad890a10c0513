/* domxml.h - the pure core of the libvirt driver: validates a spec's extra specs and image
 * properties, builds the domain XML, and reads facts back from a domain XML.
 *
 * Never talks to libvirt, never touches a file, never logs: everything here is a function of
 * its arguments, so the golden tests pin it down completely. Every user string reaches the
 * XML through libxml2 (escaped), never through printf. */
#ifndef HV_LIBVIRT_DOMXML_H
#define HV_LIBVIRT_DOMXML_H

#include <stdbool.h>
#include <stdint.h>

#include <hvagent/driver.h>
#include "ids.h"

#define DOMXML_MAX_VCPUS 256
#define DOMXML_MAX_GUEST_CELLS 8

/* Host NUMA cells as the validator needs them (filled from the capabilities). */
struct domxml_host_cell {
	uint32_t id;
	char cpuset[256];
	uint32_t n_cpus;
	uint64_t memory_mb;
};

struct domxml_host {
	uint32_t n_cells;
	struct domxml_host_cell cells[HVD_MAX_NUMA_CELLS];
};

enum domxml_mempolicy {
	DOMXML_MEMPOLICY_STRICT = 0,
	DOMXML_MEMPOLICY_PREFERRED = 1,
};

enum domxml_iotune {
	DOMXML_READ_BYTES,
	DOMXML_WRITE_BYTES,
	DOMXML_TOTAL_BYTES,
	DOMXML_READ_IOPS,
	DOMXML_WRITE_IOPS,
	DOMXML_TOTAL_IOPS,
	DOMXML_N_IOTUNE,
};

/* The extra specs and image properties, parsed and checked. Strings are borrowed from the
 * spec or are static. */
struct domxml_opts {
	bool topology;
	uint32_t sockets, cores, threads;

	uint32_t numa_nodes; /* 0: no guest NUMA */
	struct {
		uint64_t cpus[DOMXML_MAX_VCPUS / 64];
		uint32_t n_cpus;
		uint64_t mem_mb;
		int host_cell; /* index into domxml_host.cells; -1 when the host reports none */
	} numa[DOMXML_MAX_GUEST_CELLS];
	enum domxml_mempolicy mempolicy;

	const char *watchdog_action; /* NULL: no watchdog */

	bool rng;
	uint64_t rng_bytes, rng_period; /* both 0: no <rate> */

	const char *video_model;
	uint64_t video_vram_mb; /* 0: libvirt's default */

	bool has_shares, has_period, has_quota;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;

	bool has_iotune[DOMXML_N_IOTUNE];
	uint64_t iotune[DOMXML_N_IOTUNE];

	/* [0] inbound, [1] outbound; [..][0] average, [1] peak, [2] burst */
	bool has_vif[2][3];
	uint64_t vif[2][3];

	bool guest_agent;
	bool require_quiesce;
	const char *kernel, *initrd, *cmdline;
};

/* Disk files of one instance; NULL members are absent. */
struct domxml_disks {
	const char *root;
	const char
		*root_format;  /* "qcow2" for an overlay; the image's format for an existing disk */
	const char *ephemeral; /* qcow2 */
	const char *swap;      /* qcow2 */
	const char *config_drive; /* ISO, attached read-only as a cdrom */
};

struct domxml_params {
	const struct hvd_instance_spec *spec;
	const char *virt_type;          /* "kvm" or "qemu" */
	const struct domxml_host *host; /* NULL or n_cells 0: host reports no NUMA */
	struct domxml_disks disks;
	const char *console_log; /* serial console log file; required */
	const char *listen;      /* address VNC and the TCP serial console bind to */
	bool vnc;
	uint32_t serial_port; /* 0: serial on a pty (logged only) */
};

/* Checks every extra spec (flavor) and image property of spec against host (may be NULL)
 * and fills *ret. -EINVAL with err->field naming the key and the message the allowed range. */
int domxml_validate(const struct hvd_instance_spec *spec, const struct domxml_host *host,
		    struct domxml_opts *ret, struct hv_error *err);

/* Validates, then builds the domain XML. *ret_xml is malloc'd (caller frees). */
int domxml_build(const struct domxml_params *p, char **ret_xml, struct hv_error *err);

/* The <disk> a block copy writes into: the file at path, in format. *ret_xml is malloc'd. */
int domxml_copy_target(const char *path, const char *format, char **ret_xml, struct hv_error *err);

/* What the driver reads back from a defined domain. Paths are "" when absent. */
struct domxml_facts {
	char uuid[37];
	char name[512]; /* display name from our metadata */
	char root_disk[4096];
	char root_format[16];
	char console_log[4096];
	uint32_t vnc_port; /* 0 when none or not running */
	char vnc_listen[64];
	uint32_t serial_port; /* 0 when none */
	char serial_host[64];
	bool guest_agent;
	bool require_quiesce;
};

int domxml_read_facts(const char *xml, struct domxml_facts *ret, struct hv_error *err);

/* Rescue: the domain XML with rescue_disk (qcow2) booted first as vda, the original root
 * moved to vdb, and the boot kernel/initrd/cmdline taken from rescue_image's properties. */
int domxml_rescue(const char *xml, const char *rescue_disk, const struct hvd_image *rescue_image,
		  char **ret_xml, struct hv_error *err);

#endif
