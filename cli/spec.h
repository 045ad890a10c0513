/* spec.h - turns hv's command-line specs into request JSON: the flavor spec
 * ("vcpus=2,ram=512,disk=1[,ephemeral=N,swap=N]"), "--property KEY=VALUE", the content of
 * a --key-file and of a --user-data file.
 * Pure: strings in, JSON out, errors naming the field; never prints. */
#ifndef HV_SPEC_H
#define HV_SPEC_H

#include <jansson.h>
#include <stddef.h>

#include <hvagent/error.h>

/* -> {"vcpus", "ram", "disk", "ephemeral", "swap"} (ram and swap in MiB, disks in GiB). */
int spec_flavor(const char *text, json_t **ret, struct hv_error *err);
/* Adds KEY=VALUE to props; -EINVAL (field "property") for a missing '=', an empty key,
 * control characters, or a key given twice. */
int spec_property(const char *text, json_t *props, struct hv_error *err);

/* The content of an SSH public key file as one key line (a trailing newline dropped):
 * -EINVAL (field "key-file") when empty, over 8 KiB, several lines, control characters,
 * or not an OpenSSH public key. *ret is malloc'd. */
int spec_key_line(const char *text, size_t len, char **ret, struct hv_error *err);
/* Standard base64 with padding; malloc'd, NULL on ENOMEM. */
char *spec_base64(const unsigned char *data, size_t len);

#endif
