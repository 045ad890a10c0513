/* allow.h - the agent allowlist: one file per host, <dir>/<host_id>.pub, holding the host's
 * CURVE public key (40 Z85 characters). The ZAP handler asks it which host a key belongs to;
 * `hv host accept` adds to it. The directory is the truth: files dropped in by config
 * management are picked up on the next lookup. Never logs; never holds a secret key. */
#ifndef HVC_ALLOW_H
#define HVC_ALLOW_H

#include <jansson.h>
#include <stdbool.h>

#include <hvagent/error.h>

struct allow;

/* Creates dir (0700) when missing and reads it. */
int allow_open(const char *dir, struct allow **ret, struct hv_error *err);
void allow_free(struct allow *al);
/* Re-reads the directory when its modification time changed. Unreadable or malformed
 * files are skipped (a bad file must not lock every other host out). */
int allow_refresh(struct allow *al, struct hv_error *err);
/* Re-reads the directory even when its time did not change: a key file rewritten in place
 * (which leaves the directory's time alone) is seen. */
int allow_reload(struct allow *al, struct hv_error *err);
/* The host a public key (Z85) is allowed as, or NULL. Borrowed until the next refresh. */
const char *allow_host_for(const struct allow *al, const char *public_z85);
/* The key allowed for host_id, or NULL. */
const char *allow_key_for(const struct allow *al, const char *host_id);
/* Writes <dir>/<host_id>.pub atomically. -EEXIST when host_id already has another key or
 * the key already belongs to another host; -EINVAL (field "name"/"key") for a bad name/key. */
int allow_add(struct allow *al, const char *host_id, const char *public_z85, struct hv_error *err);
/* True for a name usable as a host id and a file name: 1-64 of [A-Za-z0-9._:-], starting
 * with a letter or digit. */
bool allow_host_name_valid(const char *name);
/* [{host_id, public_key}] */
json_t *allow_list(const struct allow *al);

#endif
