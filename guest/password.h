/* password.h - admin passwords: generation (the guide's adminPass, shown once when the
 * request gives none) and host-side hashing with libxcrypt, so that only a hash ever
 * reaches a guest disk or a config drive.
 *
 * Must never log, store or return a plaintext password anywhere but the caller's buffer,
 * and never produce MD5 or DES hashes. */
#ifndef GUEST_PASSWORD_H
#define GUEST_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <hvagent/error.h>

#define GUEST_PASSWORD_MIN 8
#define GUEST_PASSWORD_MAX 128
/* Large enough for any "$6$" or "$y$" hash libxcrypt produces (CRYPT_OUTPUT_SIZE). */
#define GUEST_HASH_MAX 384

enum guest_hash_method {
	GUEST_HASH_SHA512,   /* "$6$": every glibc since 2.7, and cloud-init's chpasswd */
	GUEST_HASH_YESCRYPT, /* "$y$": only for guests known to be new enough */
};

/* Writes a random password of `len` characters (GUEST_PASSWORD_MIN..MAX) plus NUL into out
 * (size > len): letters and digits without look-alikes (0/O, 1/l/I), at least one
 * lowercase, one uppercase and one digit; entropy from getrandom(2), no modulo bias.
 * Returns 0, -EINVAL (len or size), or the getrandom error. */
int guest_password_generate(char *out, size_t size, size_t len, struct hv_error *err);

/* Hashes `plain` with a fresh random salt into out (size >= GUEST_HASH_MAX). All internal
 * copies are wiped; the caller wipes `plain` (explicit_bzero) when done with it.
 * Returns 0, -EINVAL for an empty/too long password (field "admin_password"), -ENOTSUP
 * when built without libxcrypt, or -EIO when libxcrypt fails (a "*" result). */
int guest_password_hash(const char *plain, enum guest_hash_method method, char *out, size_t size,
			struct hv_error *err);

/* True for a string that looks like a hash guest_password_hash() makes ("$6$..." or
 * "$y$..."): no ':' or newline, printable, bounded. Used to refuse a plaintext password
 * wherever a hash is expected. */
int guest_password_hash_check(const char *hash, const char *field, struct hv_error *err);

/* True for a login name a password or key may be set for: 1-32 of [a-z0-9_-], starting with
 * [a-z_] (shadow-utils' default rule). The name ends up in an Augeas path and a file path,
 * so nothing else may pass. */
bool guest_user_name_valid(const char *s);

#endif
