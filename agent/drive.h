/* drive.h - the agent's use of the config drive builder (guest/configdrive.h): maps a
 * validated spawn spec plus its secrets to a guest_config and writes the ISO. The admin
 * password reaches only meta_data.json's admin_pass (nova's place for it); the drive file
 * is mode 0600. Never logs; never keeps a secret. Without libisofs in the build every call is -EOPNOTSUPP. */
#ifndef HV_AGENT_DRIVE_H
#define HV_AGENT_DRIVE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <hvagent/error.h>

struct drive_secrets {
	const char *admin_pass;         /* may be NULL */
	const char *key_data;           /* may be NULL */
	const unsigned char *user_data; /* may be NULL */
	size_t user_data_len;
};

bool drive_supported(void);
/* Writes the drive for instance uuid to path (mode 0600, atomically). Errors name the
 * request field ("body.key_data", "body.ports[0].fixed_ips") where one is at fault. */
int drive_write(const json_t *spec, const char *uuid, const struct drive_secrets *sec,
		const char *path, struct hv_error *err);
/* The same for a rebuild: the drive at path is replaced, keeping its user data when sec
 * gives none (the old drive is the agent's only copy of it). */
int drive_rewrite(const json_t *spec, const char *uuid, const struct drive_secrets *sec,
		  const char *path, struct hv_error *err);

#endif
