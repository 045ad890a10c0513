/* sshkey.c - OpenSSH public key line validation (see sshkey.h).
 * Pure: it parses the key blob only to prove the body really is a key of the declared
 * type; it never touches files and never logs (a key is not secret, but it is user data). */
#include "sshkey.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"

struct key_type {
	const char *name;
	enum {
		KT_RSA,
		KT_ED25519,
		KT_ECDSA,
		KT_SK_ECDSA,
		KT_SK_ED25519
	} kind;
	const char *curve; /* ECDSA curve identifier inside the blob */
};

static const struct key_type key_types[] = {
	{"ssh-rsa", KT_RSA, NULL},
	{"ssh-ed25519", KT_ED25519, NULL},
	{"ecdsa-sha2-nistp256", KT_ECDSA, "nistp256"},
	{"ecdsa-sha2-nistp384", KT_ECDSA, "nistp384"},
	{"ecdsa-sha2-nistp521", KT_ECDSA, "nistp521"},
	{"sk-ecdsa-sha2-nistp256@openssh.com", KT_SK_ECDSA, "nistp256"},
	{"sk-ssh-ed25519@openssh.com", KT_SK_ED25519, NULL},
};

/* Cursor over an SSH wire-format blob (RFC 4251 strings and mpints). */
struct blob {
	const unsigned char *p;
	size_t left;
};

static bool
blob_string(struct blob *b, const unsigned char **ret, size_t *ret_len)
{
	if (b->left < 4)
		return false;
	uint32_t n = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 | (uint32_t)b->p[2] << 8 |
		     b->p[3];
	if (n > b->left - 4)
		return false;
	*ret = b->p + 4;
	*ret_len = n;
	b->p += 4 + n;
	b->left -= 4 + n;
	return true;
}

static bool
blob_string_is(struct blob *b, const char *want)
{
	const unsigned char *s;
	size_t n;
	return blob_string(b, &s, &n) && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Bits of a positive mpint, 0 when malformed or not positive. */
static size_t
mpint_bits(const unsigned char *s, size_t n)
{
	while (n > 0 && s[0] == 0) {
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	size_t bits = n * 8;
	for (unsigned char top = s[0]; !(top & 0x80); top <<= 1)
		bits--;
	return bits;
}

static bool
blob_matches(const struct key_type *t, const unsigned char *raw, size_t len)
{
	struct blob b = {raw, len};
	const unsigned char *s;
	size_t n;

	if (!blob_string_is(&b, t->name))
		return false;
	switch (t->kind) {
	case KT_RSA:
		if (!blob_string(&b, &s, &n) || mpint_bits(s, n) == 0) /* e */
			return false;
		if (!blob_string(&b, &s, &n) || mpint_bits(s, n) < 1024) /* n */
			return false;
		break;
	case KT_ED25519:
	case KT_SK_ED25519:
		if (!blob_string(&b, &s, &n) || n != 32)
			return false;
		break;
	case KT_ECDSA:
	case KT_SK_ECDSA:
		if (!blob_string_is(&b, t->curve))
			return false;
		/* uncompressed point: 0x04 || X || Y */
		if (!blob_string(&b, &s, &n) || n < 65 || s[0] != 0x04)
			return false;
		break;
	}
	if (t->kind == KT_SK_ECDSA || t->kind == KT_SK_ED25519) {
		if (!blob_string(&b, &s, &n) || n == 0) /* application, "ssh:" */
			return false;
	}
	return b.left == 0;
}

int
hv_sshkey_validate(const char *line, const char *field, struct hv_error *err)
{
	if (!line || !*line)
		return hv_error_set(err, -EINVAL, field, "%s: empty public key", field);
	size_t len = strnlen(line, HV_SSHKEY_MAX + 1);
	if (len > HV_SSHKEY_MAX)
		return hv_error_set(err, -EINVAL, field, "%s: public key longer than %d bytes",
				    field, HV_SSHKEY_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\n' || c == '\r')
			return hv_error_set(err, -EINVAL, field, "%s: public key must be one line",
					    field);
		if (c < 0x20 || c == 0x7f)
			return hv_error_set(err, -EINVAL, field,
					    "%s: control character at offset %zu", field, i);
	}

	const char *sp = strchr(line, ' ');
	size_t type_len = sp ? (size_t)(sp - line) : len;
	const struct key_type *t = NULL;
	for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++) {
		if (strlen(key_types[i].name) == type_len &&
		    memcmp(key_types[i].name, line, type_len) == 0)
			t = &key_types[i];
	}
	if (!t)
		return hv_error_set(
			err, -EINVAL, field,
			"%s: unknown key type (want ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp*, "
			"sk-ecdsa-sha2-nistp256@openssh.com or sk-ssh-ed25519@openssh.com)",
			field);
	if (!sp)
		return hv_error_set(err, -EINVAL, field, "%s: %s key without a base64 body", field,
				    t->name);

	const char *body = sp + 1;
	const char *body_end = strchr(body, ' ');
	size_t body_len = body_end ? (size_t)(body_end - body) : strlen(body);
	unsigned char raw[HV_SSHKEY_MAX];
	size_t n = 0;
	if (body_len == 0 || hv_base64_decode_to(body, body_len, raw, sizeof raw, &n) < 0)
		return hv_error_set(err, -EINVAL, field, "%s: key body is not valid base64", field);
	if (!blob_matches(t, raw, n))
		return hv_error_set(err, -EINVAL, field, "%s: key body is not a well-formed %s key",
				    field, t->name);
	if (body_end) {
		/* Comment: free text, but printable ASCII so nothing odd lands in the guest. */
		for (const char *c = body_end + 1; *c; c++) {
			if ((unsigned char)*c >= 0x80)
				return hv_error_set(err, -EINVAL, field,
						    "%s: key comment must be printable ASCII",
						    field);
		}
	}
	return 0;
}
