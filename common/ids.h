/* ids.h - the one rule for instance UUIDs and port MACs, shared by the agent, its
 * modules and its driver plugins. Header-only so a driver needs no agent symbol to check an
 * id. Pure: never allocates, never logs.
 *
 * The rule is the protocol's canonical form, lower-case hex only:
 *   UUID  8-4-4-4-12 hex digits with '-' between the groups (36 characters),
 *         e.g. 0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f; any version or variant.
 *   MAC   six pairs of hex digits separated by ':' (17 characters), e.g. fa:16:3e:00:00:01.
 * Upper case is refused: an id is used as a file name, a libvirt domain UUID and a map key,
 * where "ABC" and "abc" would otherwise name two things that are one. */
#ifndef HV_IDS_H
#define HV_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool
hv_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* True when s (NULL-safe) is a lower-case 8-4-4-4-12 UUID. */
static inline bool
hv_uuid_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !hv_lower_hex(s[i]))
			return false;
	}
	return true;
}

/* True when s (NULL-safe) is a lower-case xx:xx:xx:xx:xx:xx MAC address. */
static inline bool
hv_mac_valid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != 17)
		return false;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !hv_lower_hex(s[i]))
			return false;
	}
	return true;
}

#endif
