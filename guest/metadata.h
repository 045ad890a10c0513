/* metadata.h - the documents of an OpenStack config drive (config-2): meta_data.json,
 * user_data, vendor_data.json, network_data.json and the optional EC2 meta-data.json,
 * built from a plain struct the agent fills from the spawn command. Pure: validation and
 * JSON encoding only (jansson), no files, no logging. configdrive.h turns the result into
 * an ISO image.
 *
 * The user's data reaches user_data byte for byte, whatever it is (script, #cloud-config,
 * gzip, MIME): it is never rewritten. The admin password goes where nova puts it,
 * meta_data.json's admin_pass (cloud-init and cloudbase-init read it there), and nowhere
 * else. Never printf a request string into JSON: everything goes through the encoder. */
#ifndef GUEST_METADATA_H
#define GUEST_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include <hvagent/error.h>

#define GUEST_USER_DATA_MAX 65536 /* bytes, like nova's 64 KiB */
#define GUEST_RANDOM_SEED_LEN 512 /* bytes, like nova */
#define GUEST_META_MAX 128        /* items, nova's default metadata quota */
#define GUEST_KEYS_MAX 16
#define GUEST_NICS_MAX 16
#define GUEST_DNS_MAX 8
#define GUEST_ADMIN_PASS_MAX 255 /* bytes */
/* The dated version directory written next to "latest": the first release with
 * network_data.json (Liberty), a version every cloud-init since 0.7.7 knows. */
#define GUEST_OPENSTACK_VERSION "2015-10-15"

struct guest_kv {
	const char *key;
	const char *value;
};

struct guest_pubkey {
	const char *name; /* key pair name, 1-255 printable bytes */
	const char *key;  /* one OpenSSH public key line (validated by sshkey.h) */
};

/* One port in the routed model: a static address with a gateway (usually link-local,
 * outside the address' prefix) and DNS from struct guest_config. */
struct guest_nic {
	const char *mac;     /* required, "52:54:00:12:34:56" (the guest NIC cloud-init matches) */
	const char *port_id; /* optional, up to 64 printable bytes */
	const char *network_id; /* optional, up to 64 printable bytes */
	const char *address;    /* required, IPv4 or IPv6 literal */
	unsigned prefix;        /* 0 = host route (/32 or /128), else 1..32/128 */
	const char *gateway;    /* optional, same family as address */
	unsigned mtu;           /* 0 = unset, else 68..65535 */
};

struct guest_config {
	const char *uuid;              /* required: the instance id cloud-init keys first boot on */
	const char *name;              /* optional display name, UTF-8, <= 255 bytes */
	const char *hostname;          /* optional RFC 1123 host name */
	const char *availability_zone; /* optional */
	const char *project_id;        /* optional */
	unsigned launch_index;
	const struct guest_pubkey *keys;
	size_t n_keys;
	const struct guest_kv *meta; /* user metadata, keys 1-255 bytes, values <= 255 */
	size_t n_meta;
	const unsigned char *user_data; /* the customization script, raw bytes, may be NULL */
	size_t user_data_len;
	/* The admin password as the user gave it, written to meta_data.json as admin_pass
	 * (nova's place for it); NULL for none. UTF-8, 1-GUEST_ADMIN_PASS_MAX bytes. */
	const char *admin_pass;
	const struct guest_nic *nics;
	size_t n_nics;
	const char *const *dns; /* name server literals */
	size_t n_dns;
	/* GUEST_RANDOM_SEED_LEN bytes for meta_data.json's random_seed; NULL = fresh ones from
	 * getrandom(2) (tests pass fixed bytes to get stable documents). */
	const unsigned char *random_seed;
	bool ec2; /* also write ec2/latest/meta-data.json and user-data */
};

struct guest_drive_file {
	char path[64];       /* relative, "openstack/latest/meta_data.json" */
	unsigned char *data; /* owned by the tree */
	size_t len;
};

struct guest_drive_tree {
	size_t n;
	struct guest_drive_file files[20];
};

/* Validates cfg and builds every document of the drive. On success *ret is a new tree the
 * caller frees with guest_drive_tree_free(). On failure returns -EINVAL (or -ENOMEM, or a
 * getrandom error) with err naming the field ("nics[1].address") and *ret untouched. */
int guest_drive_tree_build(const struct guest_config *cfg, struct guest_drive_tree **ret,
			   struct hv_error *err);
/* NULL-safe. Wipes the documents: meta_data.json may hold the admin password. */
void guest_drive_tree_free(struct guest_drive_tree *tree);
/* The file at `path`, or NULL. */
const struct guest_drive_file *
guest_drive_tree_find(const struct guest_drive_tree *tree, const char *path);

#endif
