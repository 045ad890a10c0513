/* drive.c - spawn spec -> guest_config -> config-2 ISO. The admin password goes only to
 * meta_data.json's admin_pass (as nova writes it); the user data reaches the drive as
 * given. Keeps no copy of a secret. */
#include "drive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AGENT_WITH_DRIVE: set by agent/meson.build when libisofs and guest/ are both built */
#if AGENT_WITH_DRIVE
#include "configdrive.h"
#include "metadata.h"
#include "sshkey.h"
#endif

/* The routed model's gateway (docs/protocol.md): the host answers ARP for it on the tap. */
#define ROUTED_GATEWAY_V4 "169.254.1.1"

bool
drive_supported(void)
{
	return AGENT_WITH_DRIVE;
}

#if AGENT_WITH_DRIVE
static int
fill_and_write(const json_t *spec, const char *uuid, const struct drive_secrets *sec,
	       const char *path, struct guest_kv *meta, struct guest_nic *nics,
	       struct hv_error *err)
{
	json_t *m = json_object_get(spec, "metadata"), *ports = json_object_get(spec, "ports"), *v,
	       *p;
	struct guest_config cfg = {.uuid = uuid};
	/* named as the key pair it came from, as nova's public_keys are */
	const char *key_name = json_string_value(json_object_get(spec, "key_name"));
	struct guest_pubkey key = {.name = key_name ? key_name : "key", .key = sec->key_data};
	const char *k;
	size_t n = 0, i;
	int r;

	cfg.name = json_string_value(json_object_get(spec, "name"));
	cfg.hostname = json_string_value(json_object_get(spec, "hostname"));
	cfg.availability_zone = json_string_value(json_object_get(spec, "availability_zone"));
	json_object_foreach (m, k, v) {
		if (n >= GUEST_META_MAX)
			break;
		meta[n].key = k;
		meta[n++].value = json_string_value(v);
	}
	cfg.meta = meta;
	cfg.n_meta = n;
	n = 0;
	json_array_foreach (ports, i, p) {
		json_t *ips = json_object_get(p, "fixed_ips");
		const char *addr = json_string_value(json_array_get(ips, 0));

		if (!addr || n >= GUEST_NICS_MAX)
			continue; /* a port without an address has nothing to configure */
		nics[n].mac = json_string_value(json_object_get(p, "mac"));
		nics[n].port_id = json_string_value(json_object_get(p, "id"));
		nics[n].network_id = json_string_value(json_object_get(p, "network_id"));
		nics[n].address = addr;
		nics[n].prefix = 0;
		nics[n].gateway = json_string_value(json_object_get(p, "gateway"));
		if (!nics[n].gateway && !strchr(addr, ':'))
			nics[n].gateway = ROUTED_GATEWAY_V4;
		nics[n].mtu = (unsigned)json_integer_value(json_object_get(p, "mtu"));
		n++;
	}
	cfg.nics = nics;
	cfg.n_nics = n;
	if (sec->key_data) {
		if ((r = hv_sshkey_validate(sec->key_data, "body.key_data", err)) < 0)
			return r;
		cfg.keys = &key;
		cfg.n_keys = 1;
	}
	cfg.user_data = sec->user_data;
	cfg.user_data_len = sec->user_data_len;
	/* nova's place for it: meta_data.json admin_pass; the user data stays as given */
	cfg.admin_pass = sec->admin_pass;
	return guest_configdrive_write(&cfg, path, err);
}
#endif

int
drive_write(const json_t *spec, const char *uuid, const struct drive_secrets *sec, const char *path,
	    struct hv_error *err)
{
#if AGENT_WITH_DRIVE
	struct guest_kv *meta = calloc(GUEST_META_MAX, sizeof *meta);
	struct guest_nic *nics = calloc(GUEST_NICS_MAX, sizeof *nics);
	int r;

	if (!meta || !nics)
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
	else
		r = fill_and_write(spec, uuid, sec, path, meta, nics, err);
	free(meta);
	free(nics);
	return r;
#else
	return hv_error_set(err, -EOPNOTSUPP, "body.config_drive",
			    "body.config_drive: this agent was built without config drive support");
#endif
}

int
drive_rewrite(const json_t *spec, const char *uuid, const struct drive_secrets *sec,
	      const char *path, struct hv_error *err)
{
#if AGENT_WITH_DRIVE
	struct drive_secrets kept = *sec;
	unsigned char *ud = NULL;
	size_t len = 0;
	int r;

	/* the old drive is the only copy of the user data the instance was given */
	if (!sec->user_data) {
		r = guest_configdrive_read_file(path, "openstack/latest/user_data", &ud, &len,
						NULL);
		if (r < 0 && r != -ENOENT)
			return hv_error_set(err, r, "config_drive",
					    "cannot read the user data of %s to rebuild it", path);
		kept.user_data = ud;
		kept.user_data_len = len;
	}
	r = drive_write(spec, uuid, &kept, path, err);
	if (ud) {
		explicit_bzero(ud, len);
		free(ud);
	}
	return r;
#else
	return drive_write(spec, uuid, sec, path, err);
#endif
}
