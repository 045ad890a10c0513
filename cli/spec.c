/* spec.c - command-line spec parsing. Accepts exactly the documented keys, so a typo
 * ("vpcus=2") is an error instead of a silently defaulted flavor. */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const struct {
	const char *key;
	long long min, max;
	bool required;
	const char *unit;
} flavor_keys[] = {
	{"vcpus", 1, 1024, true, "CPUs"},       {"ram", 1, 16 * 1024 * 1024, true, "MiB"},
	{"disk", 0, 1024 * 1024, true, "GiB"},  {"ephemeral", 0, 1024 * 1024, false, "GiB"},
	{"swap", 0, 1024 * 1024, false, "MiB"},
};
#define N_FLAVOR_KEYS (sizeof flavor_keys / sizeof flavor_keys[0])

int
spec_flavor(const char *text, json_t **ret, struct hv_error *err)
{
	char field[64];
	bool seen[N_FLAVOR_KEYS] = {false};
	long long val[N_FLAVOR_KEYS] = {0};
	const char *p = text;

	if (!text || !*text)
		return hv_error_set(err, -EINVAL, "flavor-spec",
				    "empty (example: vcpus=2,ram=512,disk=1)");
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return hv_error_set(
				err, -EINVAL, "flavor-spec",
				"'%.*s' is not KEY=VALUE (example: vcpus=2,ram=512,disk=1)",
				(int)len, p);
		size_t klen = (size_t)(eq - p);
		size_t i;
		for (i = 0; i < N_FLAVOR_KEYS; i++)
			if (strlen(flavor_keys[i].key) == klen &&
			    memcmp(flavor_keys[i].key, p, klen) == 0)
				break;
		if (i == N_FLAVOR_KEYS)
			return hv_error_set(
				err, -EINVAL, "flavor-spec",
				"unknown key '%.*s' (allowed: vcpus, ram, disk, ephemeral, swap)",
				(int)klen, p);
		snprintf(field, sizeof field, "flavor-spec.%s", flavor_keys[i].key);
		if (seen[i])
			return hv_error_set(err, -EINVAL, field, "given twice");
		const char *v = eq + 1;
		size_t vlen = len - klen - 1;
		char buf[32];
		if (vlen == 0 || vlen >= sizeof buf)
			return hv_error_set(err, -EINVAL, field, "needs an integer value");
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		char *end;
		errno = 0;
		long long n = strtoll(buf, &end, 10);
		if (errno || *end || !isdigit((unsigned char)buf[0]))
			return hv_error_set(err, -EINVAL, field, "'%s' is not an integer", buf);
		if (n < flavor_keys[i].min || n > flavor_keys[i].max)
			return hv_error_set(
				err, -EINVAL, field, "%lld is out of range %lld-%lld %s", n,
				flavor_keys[i].min, flavor_keys[i].max, flavor_keys[i].unit);
		seen[i] = true;
		val[i] = n;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				return hv_error_set(err, -EINVAL, "flavor-spec", "trailing ','");
		}
	}
	for (size_t i = 0; i < N_FLAVOR_KEYS; i++) {
		if (flavor_keys[i].required && !seen[i]) {
			snprintf(field, sizeof field, "flavor-spec.%s", flavor_keys[i].key);
			return hv_error_set(err, -EINVAL, field,
					    "is required (example: vcpus=2,ram=512,disk=1)");
		}
	}
	json_t *o = json_object();
	for (size_t i = 0; i < N_FLAVOR_KEYS; i++)
		json_object_set_new(o, flavor_keys[i].key, json_integer(val[i]));
	*ret = o;
	return 0;
}

int
spec_property(const char *text, json_t *props, struct hv_error *err)
{
	const char *eq = text ? strchr(text, '=') : NULL;
	if (!eq || eq == text)
		return hv_error_set(err, -EINVAL, "property",
				    "'%s' is not KEY=VALUE (example: hw:cpu_policy=dedicated)",
				    text ? text : "");
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return hv_error_set(err, -EINVAL, "property",
					    "contains a control character");
	size_t klen = (size_t)(eq - text);
	if (klen > 255 || strlen(eq + 1) > 255)
		return hv_error_set(err, -EINVAL, "property",
				    "key and value are limited to 255 bytes");
	char key[256];
	memcpy(key, text, klen);
	key[klen] = '\0';
	if (json_object_get(props, key))
		return hv_error_set(err, -EINVAL, "property", "'%s' given twice", key);
	json_object_set_new(props, key, json_string(eq + 1));
	return 0;
}

int
spec_key_line(const char *text, size_t len, char **ret, struct hv_error *err)
{
	*ret = NULL;
	/* one trailing newline (as ssh-keygen writes the file) is not part of the key */
	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	if (len == 0)
		return hv_error_set(err, -EINVAL, "key-file", "the file is empty");
	if (len > 8192)
		return hv_error_set(err, -EINVAL, "key-file", "a public key line is at most 8 KiB");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\n')
			return hv_error_set(err, -EINVAL, "key-file",
					    "more than one line: give one OpenSSH public key");
		if (ch < 0x20 || ch == 0x7f)
			return hv_error_set(err, -EINVAL, "key-file",
					    "control character at byte %zu", i);
	}
	if (strncmp(text, "ssh-", 4) != 0 && strncmp(text, "ecdsa-", 6) != 0 &&
	    strncmp(text, "sk-", 3) != 0)
		return hv_error_set(
			err, -EINVAL, "key-file",
			"not an OpenSSH public key (expected ssh-ed25519 AAAA..., is it "
			"the private key?)");
	if (!(*ret = strndup(text, len)))
		return hv_error_set(err, -ENOMEM, "key-file", "out of memory");
	return 0;
}

char *
spec_base64(const unsigned char *data, size_t len)
{
	return hv_base64_encode(data, len);
}
