/* base64.h - the one base64 rule of the tree, over libsodium (header only, like vec.h, so
 * the agent, the CLI and the guest module share it without another library; each links
 * libsodium). Must never accept a text another copy of the rule would refuse, and never
 * decode past the caller's buffer.
 *
 * The rule: RFC 4648 section 4 (the standard alphabet A-Z a-z 0-9 + /), '=' padding
 * required so the length is a multiple of 4, the unused bits of the last group zero, and
 * no whitespace or any other character anywhere. Whitespace is refused because every
 * base64 text we accept arrives as one JSON string or one token of an authorized_keys
 * line: a space or newline inside it is a malformed value, never a line break to skip.
 * The empty text is valid and decodes to zero bytes. */
#ifndef HV_BASE64_H
#define HV_BASE64_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Decodes len characters of s into out (room for out_size bytes). Returns 0 and the decoded
 * length in *ret_len; -EINVAL when s breaks the rule, -ENOSPC when out is too small. */
static inline int
hv_base64_decode_to(const char *s, size_t len, unsigned char *out, size_t out_size, size_t *ret_len)
{
	const char *end = NULL;
	size_t n = 0;

	if (len % 4)
		return -EINVAL;
	if (len == 0) {
		*ret_len = 0;
		return 0;
	}
	errno = 0;
	if (sodium_base642bin(out, out_size, s, len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return errno == ERANGE ? -ENOSPC : -EINVAL;
	if (end != s + len)
		return -EINVAL;
	*ret_len = n;
	return 0;
}

/* Decodes len characters of s into a new buffer (*ret, free() it; never NULL on success,
 * even for zero bytes). -EINVAL when s breaks the rule, -ENOMEM. */
static inline int
hv_base64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_len)
{
	unsigned char *out = malloc(len / 4 * 3 + 1);
	int r;

	if (!out)
		return -ENOMEM;
	if ((r = hv_base64_decode_to(s, len, out, len / 4 * 3 + 1, ret_len)) < 0) {
		free(out);
		return r == -ENOSPC ? -EINVAL : r;
	}
	*ret = out;
	return 0;
}

/* The padded standard encoding of len bytes as a new NUL-terminated string (free() it), or
 * NULL when out of memory. No line breaks: a caller that needs MIME lines wraps the text. */
static inline char *
hv_base64_encode(const unsigned char *in, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	if (!out)
		return NULL;
	sodium_bin2base64(out, n, in ? in : (const unsigned char *)"", len,
			  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

#endif
