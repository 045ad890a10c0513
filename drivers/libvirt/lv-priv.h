/* lv-priv.h - what driver.c and change.c share inside the libvirt driver plugin: the host
 * handle, the paths of an instance's files, the domain lookup, the XML build and the disks a
 * spec needs, and the ops of change.c that driver.c's ops table names. Private to the plugin:
 * nothing outside drivers/libvirt/ includes it, and nothing in it is exported. */
#ifndef HV_LIBVIRT_LV_PRIV_H
#define HV_LIBVIRT_LV_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include <hvagent/driver.h>

#include "conn.h"
#include "domxml.h"

/* How long libvirt waits for the guest agent's answer (without a bound: forever). */
#define LV_AGENT_TIMEOUT_S 60

struct hvd_host {
	char uri[512];
	char virt_type[8];
	uint32_t reboot_timeout, shutdown_timeout;
	uint32_t snapshot_timeout; /* seconds a live snapshot's disk copy may take to catch up */
	bool live_snapshot;        /* false: the guest is paused for the whole copy */
	char listen[64];
	uint32_t port_lo, port_hi; /* 0: serial on a pty */
	size_t console_log_max;
	char instances_path[PATH_MAX - 64];
	struct conn *conn;

	pthread_mutex_t lock; /* everything below */
	bool topology_known;
	struct domxml_host topology;
	bool ports_scanned;
	uint8_t *port_used; /* port_hi - port_lo + 1 entries */
};

struct lv_inst_files {
	char dir[PATH_MAX], root[PATH_MAX], eph[PATH_MAX], swap[PATH_MAX], log[PATH_MAX];
};

/* instances_path/<uuid>/<file>, or the directory when file is NULL; -ENAMETOOLONG. */
int
lv_inst_path(const struct hvd_host *h, const char *uuid, const char *file, char *buf, size_t size);
bool lv_inst_has(const struct hvd_host *h, const char *uuid, const char *file);
void lv_inst_unlink(const struct hvd_host *h, const char *uuid, const char *file);
int lv_files_of(const struct hvd_host *h, const char *uuid, struct lv_inst_files *f,
		struct hv_error *err);

int lv_check_uuid(const char *uuid, struct hv_error *err);
/* The connection and the domain for one op; release with lv_dom_put. */
int lv_dom_get(struct hvd_host *h, const char *uuid, virConnectPtr *ret_vc, virDomainPtr *ret_dom,
	       struct hv_error *err);
void lv_dom_put(virConnectPtr vc, virDomainPtr dom);
/* A VIR_DOMAIN_* state, or -1. */
int lv_dom_state(virDomainPtr dom);
/* A graceful shutdown (through the guest agent when the image has one, else ACPI), a wait,
 * then destroy: the domain is shut off afterwards. */
int lv_stop_domain(struct hvd_host *h, virConnectPtr vc, virDomainPtr dom, uint32_t timeout_s,
		   struct hv_error *err);

/* Builds the XML for spec with this host's settings; serial_port 0 takes a new one. */
int lv_build_xml(struct hvd_host *h, virConnectPtr vc, const struct hvd_instance_spec *spec,
		 const struct lv_inst_files *f, uint32_t serial_port, char **ret_xml,
		 uint32_t *ret_port, struct hv_error *err);
/* The root overlay (unless spec names an existing disk), and the ephemeral and swap disks
 * the flavor asks for that do not exist yet. */
int lv_make_disks(const struct hvd_instance_spec *spec, const struct lv_inst_files *f,
		  struct hv_error *err);

/* change.c: the ops of <hvagent/driver.h> that change an instance's definition. */
int lv_resize(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err);
int lv_confirm_resize(struct hvd_host *h, const char *uuid, struct hv_error *err);
int lv_revert_resize(struct hvd_host *h, const char *uuid, struct hv_error *err);
int lv_rebuild(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err);
int lv_rescue(struct hvd_host *h, const char *uuid, const struct hvd_image *rescue_image,
	      struct hv_error *err);
int lv_unrescue(struct hvd_host *h, const char *uuid, struct hv_error *err);
int lv_root_disk(struct hvd_host *h, const char *uuid, char **ret_path, char **ret_format,
		 struct hv_error *err);

/* snapshot.c */
int lv_snapshot(struct hvd_host *h, const char *uuid, const char *dest_path,
		const char *dest_format, struct hv_error *err);

#endif
