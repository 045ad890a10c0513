/* keys.h - CURVE keypairs on disk, in the ZPL certificate format libzmq's zcert and pyzmq's
 * zmq.auth write (so either tool can read ours): NAME.key holds the public key, NAME.key_secret
 * both keys. Keys are 40-character Z85 text. Files are written atomically (temp file,
 * fsync, rename) with mode 0600 for the secret file. Never logs; never puts a secret key in
 * an error message. */
#ifndef HV_KEYS_H
#define HV_KEYS_H

#include <stdbool.h>

#include <hvagent/error.h>

#define KEYS_Z85_LEN 40

struct keys_pair {
	char public_z85[KEYS_Z85_LEN + 1];
	char secret_z85[KEYS_Z85_LEN + 1]; /* a secret: wipe with keys_pair_wipe */
};

/* A fresh pair (zmq_curve_keypair). -ENOTSUP when libzmq lacks CURVE. */
int keys_generate(struct keys_pair *ret, struct hv_error *err);
/* Writes dir/NAME.key (0644) and dir/NAME.key_secret (0600); dir is created 0700 when
 * missing. Existing files are replaced atomically. */
int keys_save(const char *dir, const char *name, const struct keys_pair *kp, struct hv_error *err);
/* Reads dir/NAME.key_secret; checks that the public key matches the secret key. */
int keys_load(const char *dir, const char *name, struct keys_pair *ret, struct hv_error *err);
/* Loads the pair, or generates and saves one when dir/NAME.key_secret does not exist.
 * *ret_created (may be NULL) says which happened. */
int keys_load_or_create(const char *dir, const char *name, struct keys_pair *ret, bool *ret_created,
			struct hv_error *err);
/* A public key given either as 40 Z85 characters or as the path of a certificate file
 * (NAME.key or NAME.key_secret; only its public key is used). */
int keys_public_from(const char *text_or_path, char ret[KEYS_Z85_LEN + 1], struct hv_error *err);
/* True when s is 40 characters that decode as Z85 to 32 bytes. */
bool keys_z85_valid(const char *s);
void keys_pair_wipe(struct keys_pair *kp);

#endif
