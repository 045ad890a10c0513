/* sshkey.h - validation of an OpenSSH public key line before it is written into a guest's
 * authorized_keys or onto a config drive. Pure: no I/O, no allocation.
 *
 * Must never accept anything that could add a second line, authorized_keys options
 * (`command="..."`) or bytes that are not a real key blob of the declared type. */
#ifndef HV_SSHKEY_H
#define HV_SSHKEY_H

#include <stddef.h>

#include <hvagent/error.h>

/* Longest accepted line (an RSA-16384 key is about 2.8 KiB of base64). */
#define HV_SSHKEY_MAX 8192

/* Checks one public key line "TYPE BASE64 [COMMENT]": a known type (ssh-rsa, ssh-ed25519,
 * ecdsa-sha2-nistp256/384/521, sk-ecdsa-sha2-nistp256@openssh.com,
 * sk-ssh-ed25519@openssh.com), a base64 body that decodes to a blob of that same type with
 * well-formed fields, printable characters only, no line break, at most HV_SSHKEY_MAX
 * bytes. A trailing "\n" is not accepted: callers strip what they read from a file.
 * Returns 0, or -EINVAL with err naming `field` (e.g. "key_name") and what is wrong. */
int hv_sshkey_validate(const char *line, const char *field, struct hv_error *err);

#endif
