/* spec.h - turns hv's command-line specs into request JSON: the flavor spec
 * ("vcpus=2,ram=512,disk=1[,ephemeral=N,swap=N]") and "--property KEY=VALUE".
 * Pure: strings in, JSON out, errors naming the field; never prints. */
#ifndef HV_SPEC_H
#define HV_SPEC_H

#include <jansson.h>

#include <hvagent/error.h>

/* -> {"vcpus", "ram", "disk", "ephemeral", "swap"} (ram and swap in MiB, disks in GiB). */
int spec_flavor(const char *text, json_t **ret, struct hv_error *err);
/* Adds KEY=VALUE to props; -EINVAL (field "property") for a missing '=', an empty key,
 * control characters, or a key given twice. */
int spec_property(const char *text, json_t *props, struct hv_error *err);

#endif
