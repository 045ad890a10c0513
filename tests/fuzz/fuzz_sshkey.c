/* fuzz_sshkey.c - libFuzzer target for the SSH public key line check (common/sshkey.c), the
 * last gate before a user's key is written into a guest's authorized_keys. Input: the line's
 * bytes. Beyond never crashing, leaking or reading out of bounds, an accepted line must hold
 * what sshkey.h promises: no line break or other control character, within HV_SSHKEY_MAX, and
 * starting with a known key type (so no authorized_keys option can ride along). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
	"ssh-rsa ",
	"ssh-ed25519 ",
	"ecdsa-sha2-nistp256 ",
	"ecdsa-sha2-nistp384 ",
	"ecdsa-sha2-nistp521 ",
	"sk-ecdsa-sha2-nistp256@openssh.com ",
	"sk-ssh-ed25519@openssh.com ",
};

static void
check_accepted(const char *line, size_t size)
{
	bool known = false;

	if (size > HV_SSHKEY_MAX)
		__builtin_trap(); /* an overlong line got through */
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			__builtin_trap(); /* a control character (a line break) got through */
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		known = known || strncmp(line, types[i], strlen(types[i])) == 0;
	if (!known)
		__builtin_trap(); /* something other than a key type leads the line */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_error err = {0};
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (hv_sshkey_validate(line, "body.key_data", &err) == 0)
		check_accepted(line, strlen(line)); /* a C string: it ends at a NUL */
	else if (!err.field[0] || !err.message[0])
		__builtin_trap(); /* a refusal must name the field and say why */
	free(line);
	return 0;
}
