/* password.c - admin password generation and hashing (see password.h).
 * The hashing half is the only code in guest/ that sees a plaintext password; it wipes its
 * own copies and never logs. */
#include "password.h"

#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#if GUEST_HAVE_CRYPT
#include <crypt.h>
#endif

/* Look-alike characters left out so a password read off a screen can be typed back. */
static const char lower[] = "abcdefghijkmnopqrstuvwxyz";
static const char upper[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
static const char digits[] = "23456789";

static int
random_index(size_t n, size_t *ret)
{
	/* Rejection sampling over one byte: every index equally likely. */
	unsigned limit = 256 - 256 % (unsigned)n;
	for (;;) {
		unsigned char b;
		ssize_t r = getrandom(&b, 1, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 1 && b < limit) {
			*ret = b % n;
			return 0;
		}
	}
}

int
guest_password_generate(char *out, size_t size, size_t len, struct hv_error *err)
{
	char alphabet[sizeof lower + sizeof upper + sizeof digits];
	size_t i, n_alpha;
	int r;

	if (len < GUEST_PASSWORD_MIN || len > GUEST_PASSWORD_MAX)
		return hv_error_set(err, -EINVAL, "password_length",
				    "password length must be %d-%d", GUEST_PASSWORD_MIN,
				    GUEST_PASSWORD_MAX);
	if (!out || size <= len)
		return hv_error_set(err, -EINVAL, "password_length", "output buffer too small");
	snprintf(alphabet, sizeof alphabet, "%s%s%s", lower, upper, digits);
	n_alpha = strlen(alphabet);

	for (;;) {
		bool has_l = false, has_u = false, has_d = false;
		for (i = 0; i < len; i++) {
			size_t k = 0;
			r = random_index(n_alpha, &k);
			if (r < 0) {
				explicit_bzero(out, size);
				return hv_error_set(err, r, "password", "getrandom: %s",
						    strerror(-r));
			}
			out[i] = alphabet[k];
			has_l |= strchr(lower, out[i]) != NULL;
			has_u |= strchr(upper, out[i]) != NULL;
			has_d |= strchr(digits, out[i]) != NULL;
		}
		out[len] = '\0';
		/* Redraw instead of forcing positions: forced positions would be guessable. */
		if (has_l && has_u && has_d)
			return 0;
	}
}

int
guest_password_hash_check(const char *hash, const char *field, struct hv_error *err)
{
	if (!hash || (strncmp(hash, "$6$", 3) != 0 && strncmp(hash, "$y$", 3) != 0))
		return hv_error_set(err, -EINVAL, field, "%s: expected a $6$ or $y$ password hash",
				    field);
	size_t n = strnlen(hash, GUEST_HASH_MAX);
	if (n >= GUEST_HASH_MAX || n < 20)
		return hv_error_set(err, -EINVAL, field, "%s: password hash has a bad length",
				    field);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hash[i];
		if (c <= 0x20 || c >= 0x7f || c == ':')
			return hv_error_set(err, -EINVAL, field,
					    "%s: bad character in password hash", field);
	}
	return 0;
}

int
guest_password_hash(const char *plain, enum guest_hash_method method, char *out, size_t size,
		    struct hv_error *err)
{
	if (!plain || !*plain)
		return hv_error_set(err, -EINVAL, "admin_password", "admin_password: empty");
	if (strnlen(plain, GUEST_PASSWORD_MAX + 1) > GUEST_PASSWORD_MAX)
		return hv_error_set(err, -EINVAL, "admin_password",
				    "admin_password: longer than %d bytes", GUEST_PASSWORD_MAX);
	if (!out || size < GUEST_HASH_MAX)
		return hv_error_set(err, -EINVAL, "admin_password", "hash buffer too small");
#if GUEST_HAVE_CRYPT
	const char *prefix = method == GUEST_HASH_YESCRYPT ? "$y$" : "$6$";
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	int ret = 0;

	memset(&cd, 0, sizeof cd);
	/* NULL rbytes: libxcrypt draws the salt from the OS (CRYPT_GENSALT_IMPLEMENTS_AUTO_ENTROPY). */
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof setting) || setting[0] == '*') {
		ret = hv_error_set(err, -EIO, "admin_password", "crypt_gensalt_rn(%s) failed",
				   prefix);
		goto out;
	}
	const char *h = crypt_rn(plain, setting, &cd, sizeof cd);
	if (!h || h[0] == '*' || strlen(h) >= size) {
		ret = hv_error_set(err, -EIO, "admin_password", "crypt_rn(%s) failed", prefix);
		goto out;
	}
	snprintf(out, size, "%s", h);
out:
	explicit_bzero(&cd, sizeof cd);
	return ret;
#else
	(void)method;
	return hv_error_set(err, -ENOTSUP, "admin_password", "built without libxcrypt");
#endif
}

bool
guest_user_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}
