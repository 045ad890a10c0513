/* req.h - validation of COMMAND bodies (docs/protocol.md 6.4) into a typed request, and
 * the view of a validated spec as the driver ABI's struct hvd_instance_spec. Pure: it
 * never touches a file, a driver or a log. Every refusal names the field. */
#ifndef HV_AGENT_REQ_H
#define HV_AGENT_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

#include "inst.h"

struct req {
	enum inst_cmd cmd;
	char uuid[37];
	bool hard;                     /* reboot */
	uint32_t timeout_s;            /* stop */
	bool timeout_given;            /* stop: false = the driver's shutdown timeout */
	bool delete_disks;             /* destroy */
	bool power_on;                 /* spawn */
	bool reuse_disk;               /* spawn: evacuated on shared storage */
	size_t max_bytes;              /* console_log */
	enum hvd_console_type console; /* get_console */
	char image_id[65];             /* snapshot: the new image */
	char format[8];                /* snapshot */
	char user[33];                 /* set_admin_password */
	/* spawn: the whole normalized spec; resize: {"flavor"}; rebuild/rescue: {"image"}.
	 * Owned, never holds a secret. */
	json_t *spec;
	/* admin_pass (spawn, rebuild) or password (set_admin_password): malloc'd, wiped by
	 * req_release. NULL when absent. */
	char *secret;
	/* spawn, rebuild: the OpenSSH public key line (not a secret), malloc'd or NULL */
	char *key_data;
	/* spawn, rebuild: user_data decoded from base64; a secret (it may hold credentials): malloc'd,
	 * wiped by req_release. NULL when absent. */
	unsigned char *user_data;
	size_t user_data_len;
	/* spawn: what the controller's filters checked the host against (0: not given), for
	 * the claim to check again (agent_claim) */
	struct req_limits {
		int64_t memory_mb, vcpus, disk_gb;
	} limits;
};

/* Validates body. On failure returns -EINVAL (or -EPROTONOSUPPORT for an unknown or
 * reserved command) with *ret_code a PROTO_E_* code and err naming the field; *ret holds
 * nothing to release then. */
int req_parse(const json_t *body, struct req *ret, const char **ret_code, struct hv_error *err);
void req_release(struct req *r);
/* Overwrites and frees the secrets (admin password, user data) as soon as the command no
 * longer needs them; req_release does it too. */
void req_wipe_secrets(struct req *r);

/* A copy of a COMMAND body fit for the journal: secrets replaced by "<field>_redacted". */
json_t *req_redacted(const json_t *body);
/* Overwrites the secret strings of a received body in place. */
void req_wipe(json_t *body);

/* A driver view of a spec (as stored in struct inst / struct req). */
struct req_spec_view {
	struct hvd_instance_spec spec;
	struct hvd_kv *extra_specs, *properties, *metadata;
	struct hvd_port *ports;
	const char **ips;
	char image_path[4096];
	char hostname[64];
};
/* Builds the view; pointers borrow from spec, which must outlive the view. image_store
 * may be NULL (no image file path then). */
int req_spec_view(const json_t *spec, const char *uuid, const char *image_store,
		  struct req_spec_view *ret, struct hv_error *err);
void req_spec_view_release(struct req_spec_view *v);

#endif
