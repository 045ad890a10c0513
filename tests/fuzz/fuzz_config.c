/* fuzz_config.c - libFuzzer target for config files (common/config.c with the agent's
 * schema, agent/agent_config.c's checks that span keys). Input: the main hvagent.conf,
 * optionally followed by drop-ins, each introduced by a form feed byte ('\f'); they are
 * written as <dir>/hvagent.conf and <dir>/hvagent.conf.d/NN.conf in a directory the target
 * makes under $TMPDIR and removes at exit, then loaded as the agent loads them. The driver
 * directory is pinned to that (empty) directory, so no input can make it load a plugin.
 * Beyond never crashing, leaking or reading out of bounds: a config that loads prints as a
 * config that loads again and prints the same (cfg_print's promise), and a refused one says
 * why. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_config.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_DROPINS 3

static char dir[4096], main_path[4200], dropin_dir[4200];

static void
cleanup(void)
{
	char p[4300];

	for (int i = 0; i < MAX_DROPINS; i++) {
		snprintf(p, sizeof p, "%s/%02d.conf", dropin_dir, i);
		unlink(p);
	}
	rmdir(dropin_dir);
	unlink(main_path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/hv-fuzz-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(main_path, sizeof main_path, "%s/hvagent.conf", dir);
	snprintf(dropin_dir, sizeof dropin_dir, "%s/hvagent.conf.d", dir);
	if (mkdir(dropin_dir, 0700) < 0)
		abort();
	setenv(HV_DRIVER_DIR_ENV, dir, 1);
	atexit(cleanup);
	return 0;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "we");

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
}

static char *
printed(const struct cfg *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		abort();
	cfg_print(cfg, m);
	fclose(m);
	return text;
}

/* A loaded config printed, parsed again and printed again reads the same. */
static void
check_round_trip(const struct cfg_key *schema, const struct cfg *cfg)
{
	struct cfg_diags d;
	struct cfg *again = NULL;
	char *first = printed(cfg), *second;

	if (cfg_load_string(schema, "printed.conf", first, &again, &d) < 0)
		__builtin_trap(); /* what cfg_print wrote does not load */
	second = printed(again);
	if (strcmp(first, second) != 0)
		__builtin_trap(); /* printing is not a fixed point */
	free(second);
	free(first);
	cfg_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[1 + MAX_DROPINS];
	size_t len[1 + MAX_DROPINS], n = 1;
	struct cfg_diags d;
	struct cfg *cfg = NULL;
	struct agent_config *ac = NULL;
	char p[4300], *text;
	int r;

	/* the main file alone, parsed from memory with the agent's schema */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = cfg_load_string(agent_config_schema(), "fuzz.conf", text, &cfg, &d);
	free(text);
	if (r == 0)
		check_round_trip(agent_config_schema(), cfg);
	else if (d.n == 0)
		__builtin_trap(); /* refused without saying why */
	cfg_free(cfg);

	/* then as files: main + drop-ins, with the checks that span keys */
	part[0] = data;
	len[0] = size;
	for (size_t i = 0; i < size && n < 1 + MAX_DROPINS; i++) {
		if (data[i] != '\f')
			continue;
		len[n - 1] = (size_t)(data + i - part[n - 1]);
		part[n] = data + i + 1;
		len[n] = size - i - 1;
		n++;
	}
	write_file(main_path, part[0], len[0]);
	for (size_t i = 1; i < n; i++) {
		snprintf(p, sizeof p, "%s/%02zu.conf", dropin_dir, i - 1);
		write_file(p, part[i], len[i]);
	}
	r = agent_config_load(main_path, &ac, &d);
	if (r == 0)
		check_round_trip(ac->schema, ac->cfg);
	else if (r == -EINVAL && d.n == 0)
		__builtin_trap(); /* refused without saying why */
	agent_config_free(ac);
	for (size_t i = 1; i < n; i++) {
		snprintf(p, sizeof p, "%s/%02zu.conf", dropin_dir, i - 1);
		unlink(p);
	}
	return 0;
}
