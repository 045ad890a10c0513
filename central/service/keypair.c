/* keypair.c - the rules of key pairs: names per project, the quota, importing a public key
 * (checked by common/sshkey.c, the agent's own check) and generating an ed25519 pair whose
 * private half is answered once in OpenSSH's format and kept nowhere. Must never store,
 * log or leave in memory a private key, never encode a reply or touch a socket. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "sshkey.h"

/* nova's key pair names (microversion 2.92): 1-255 of letters, digits, space, @ . _ - */
static bool
keypair_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= 255 &&
	       strspn(name,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 @._-") == n;
}

/* An SSH wire buffer: uint32 lengths before strings, big-endian. */
struct wire {
	unsigned char *p;
	size_t n, cap;
};

static void
put_u32(struct wire *w, uint32_t v)
{
	if (w->n + 4 <= w->cap) {
		w->p[w->n++] = (unsigned char)(v >> 24);
		w->p[w->n++] = (unsigned char)(v >> 16);
		w->p[w->n++] = (unsigned char)(v >> 8);
		w->p[w->n++] = (unsigned char)v;
	}
}

static void
put_str(struct wire *w, const void *s, size_t len)
{
	put_u32(w, (uint32_t)len);
	if (w->n + len <= w->cap) {
		memcpy(w->p + w->n, s, len);
		w->n += len;
	}
}

/* ssh-ed25519 public key blob: string "ssh-ed25519", string pk */
static size_t
ed25519_blob(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], unsigned char out[64])
{
	struct wire w = {out, 0, 64};
	put_str(&w, "ssh-ed25519", 11);
	put_str(&w, pk, crypto_sign_PUBLICKEYBYTES);
	return w.n;
}

/* base64 of n bytes, a new string (NULL on ENOMEM). */
static char *
b64(const unsigned char *p, size_t n, int variant)
{
	size_t len = sodium_base64_encoded_len(n, variant);
	char *s = malloc(len);
	if (s)
		sodium_bin2base64(s, len, p, n, variant);
	return s;
}

/* The fingerprint `ssh-keygen -l` prints: SHA256: and the unpadded base64 of the blob's
 * SHA-256. Fills ret (at least 64 bytes). */
static int
fingerprint_of(const char *line, char ret[64], struct hv_error *err)
{
	const char *sp = strchr(line, ' ');
	const char *body = sp ? sp + 1 : "";
	size_t blen = strcspn(body, " ");
	unsigned char blob[HV_SSHKEY_MAX], hash[crypto_hash_sha256_BYTES];
	size_t n = 0;
	if (sodium_base642bin(blob, sizeof blob, body, blen, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return hv_error_set(err, -EINVAL, "args.public_key",
				    "args.public_key: the key's base64 does not decode");
	crypto_hash_sha256(hash, blob, n);
	char *t = b64(hash, sizeof hash, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	if (!t)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	snprintf(ret, 64, "SHA256:%s", t);
	free(t);
	return 0;
}

/* OpenSSH's private key file ("openssh-key-v1", unencrypted) for an ed25519 pair, as
 * ssh-keygen writes it and `ssh-keygen -y -f` reads it. The caller wipes and frees it. */
static char *
openssh_private(const unsigned char pk[32], const unsigned char sk[64], const char *comment)
{
	static const char magic[] = "openssh-key-v1";
	size_t clen = strlen(comment), cap = 512 + clen;
	unsigned char *buf = malloc(cap), *priv = malloc(cap), blob[64];
	char *text = NULL, *out = NULL;
	if (!buf || !priv)
		goto out;
	uint32_t check = randombytes_random();
	struct wire p = {priv, 0, cap}, w = {buf, 0, cap};
	put_u32(&p, check);
	put_u32(&p, check);
	put_str(&p, "ssh-ed25519", 11);
	put_str(&p, pk, 32);
	put_str(&p, sk, 64);
	put_str(&p, comment, clen);
	for (unsigned char pad = 1; p.n % 8; pad++) /* to the cipher "none"'s block of 8 */
		p.p[p.n++] = pad;
	memcpy(buf, magic, sizeof magic); /* with its NUL */
	w.n = sizeof magic;
	put_str(&w, "none", 4);
	put_str(&w, "none", 4);
	put_str(&w, "", 0);
	put_u32(&w, 1);
	put_str(&w, blob, ed25519_blob(pk, blob));
	put_str(&w, priv, p.n);
	if (!(text = b64(buf, w.n, sodium_base64_VARIANT_ORIGINAL)))
		goto out;
	size_t tlen = strlen(text), olen = tlen + tlen / 70 + 128;
	if (!(out = malloc(olen)))
		goto out;
	size_t o = (size_t)snprintf(out, olen, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (size_t i = 0; i < tlen; i += 70) /* ssh-keygen's line width */
		o += (size_t)snprintf(out + o, olen - o, "%.70s\n", text + i);
	snprintf(out + o, olen - o, "-----END OPENSSH PRIVATE KEY-----\n");
out:
	if (text)
		sodium_memzero(text, strlen(text));
	if (priv)
		sodium_memzero(priv, cap);
	if (buf)
		sodium_memzero(buf, cap);
	free(text);
	free(priv);
	free(buf);
	return out;
}

/* A new ed25519 pair: its public key line (comment: the key pair's name) and private key
 * file, both new strings. */
static int
generate(const char *name, char **ret_pub, char **ret_priv, struct hv_error *err)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], blob[64];
	crypto_sign_keypair(pk, sk);
	char *body = b64(blob, ed25519_blob(pk, blob), sodium_base64_VARIANT_ORIGINAL);
	char *priv = openssh_private(pk, sk, name);
	sodium_memzero(sk, sizeof sk);
	size_t len = body ? strlen(body) + strlen(name) + 16 : 0;
	char *pub = body ? malloc(len) : NULL;
	if (!pub || !priv) {
		free(body);
		free(pub);
		if (priv)
			sodium_memzero(priv, strlen(priv));
		free(priv);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	snprintf(pub, len, "ssh-ed25519 %s %s", body, name);
	free(body);
	*ret_pub = pub;
	*ret_priv = priv;
	return 0;
}

static const char *const create_args[] = {"name", "project", "public_key", NULL};

/* The record to store from a public key line, or the error naming args.public_key. */
static int
keypair_record(const char *project_id, const char *name, const char *line, json_t **ret,
	       struct hv_error *err)
{
	char fp[64];
	int r = hv_sshkey_validate(line, "args.public_key", err);
	if (r < 0 || (r = fingerprint_of(line, fp, err)) < 0)
		return r;
	*ret = json_pack("{s:s, s:s, s:s, s:s, s:s}", "project_id", project_id, "name", name,
			 "type", "ssh", "public_key", line, "fingerprint", fp);
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

int
svc_keypair_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name, *project = NULL, *import = NULL;
	json_t *p = NULL, *kp = NULL;
	char *pub = NULL, *priv = NULL, pid[33];
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &project, err)) < 0 ||
	    (r = hj_str(args, "args", "public_key", HJ_OPTIONAL, HV_SSHKEY_MAX, &import, err)) < 0)
		return r;
	if (!keypair_name_ok(name))
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: 1-255 of letters, digits, space, @ . _ -");
	if ((r = svc_project_find(sv, project, "args.project", &p, err)) < 0)
		return r;
	snprintf(pid, sizeof pid, "%s", field_or(p, "id", ""));
	json_decref(p);
	if (!import && (r = generate(name, &pub, &priv, err)) < 0)
		return r;
	if ((r = keypair_record(pid, name, import ? import : pub, &kp, err)) < 0 ||
	    (r = store_begin(sv->store, err)) < 0)
		goto out;
	/* the quota read and the insert in one transaction */
	if ((r = svc_quota_check(sv, pid, &(struct svc_quota_ask){.key_pairs = 1}, err)) == 0 &&
	    (r = store_keypair_insert(sv->store, kp, now, err)) == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: the project has a key pair named '%s'", name);
	if (r < 0) {
		store_rollback(sv->store);
		goto out;
	}
	if ((r = store_commit(sv->store, err)) < 0)
		goto out;
	json_object_set_new(kp, "created_ms", json_integer(now));
	if (priv) /* answered this once; the caller's reply is the only copy */
		json_object_set_new(kp, "private_key", json_string(priv));
	*ret = kp;
	kp = NULL;
out:
	json_decref(kp);
	free(pub);
	if (priv)
		sodium_memzero(priv, strlen(priv));
	free(priv);
	return r;
}

int
svc_keypair_list(struct svc *sv, const char *project, json_t **ret, struct hv_error *err)
{
	json_t *p = NULL;
	int r = svc_project_find(sv, project, "args.project", &p, err);
	if (r == 0)
		r = store_keypair_list(sv->store, field_or(p, "id", ""), ret, err);
	json_decref(p);
	return r;
}

static int
keypair_find(struct svc *sv, const char *project_id, const char *name, const char *field,
	     json_t **ret, struct hv_error *err)
{
	int r = store_keypair_get(sv->store, project_id, name, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no key pair named '%s'", field, name);
	return r;
}

int
svc_keypair_show(struct svc *sv, const char *project, const char *name, json_t **ret,
		 struct hv_error *err)
{
	json_t *p = NULL;
	int r = svc_project_find(sv, project, "args.project", &p, err);
	if (r == 0)
		r = keypair_find(sv, field_or(p, "id", ""), name, "args.name", ret, err);
	json_decref(p);
	return r;
}

int
svc_keypair_delete(struct svc *sv, const char *project, const char *name, struct hv_error *err)
{
	json_t *p = NULL;
	int r = svc_project_find(sv, project, "args.project", &p, err);
	if (r == 0 &&
	    (r = store_keypair_delete(sv->store, field_or(p, "id", ""), name, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, "args.name", "args.name: no key pair named '%s'",
				 name);
	json_decref(p);
	return r;
}

int
svc_keypair_public(struct svc *sv, const char *project_id, const char *name, const char *field,
		   char **ret, struct hv_error *err)
{
	json_t *kp = NULL;
	int r = keypair_find(sv, project_id, name, field, &kp, err);
	if (r < 0)
		return r;
	*ret = strdup(field_or(kp, "public_key", ""));
	json_decref(kp);
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}
