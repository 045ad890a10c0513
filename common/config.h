/* config.h - the one INI config parser of every hvagent binary (inih underneath).
 *
 * A program describes its config as a schema (a static table of sections and keys with
 * type, default, allowed values and range). Loading reads the main file, then every
 * `*.conf` in the drop-in directory in lexical order; a later value wins. Anything the
 * schema does not know, and any value that does not parse, is an error naming FILE:LINE,
 * the section and key, and what is allowed; all errors of a load are collected, not just
 * the first. A loaded config is immutable. */
#ifndef HV_CONFIG_H
#define HV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kv.h"

enum cfg_type {
	CFG_STRING,
	CFG_INT,  /* decimal, within [min, max] */
	CFG_BOOL, /* true/false, yes/no, on/off, 1/0 -> normalized to true/false */
	CFG_ENUM, /* one of `allowed`, a '|'-separated list: "kvm|qemu" */
	CFG_PATH, /* absolute path */
};

struct cfg_key {
	const char *section; /* "DEFAULT", "libvirt", ... */
	const char *key;
	enum cfg_type type;
	const char *def;     /* default as text; NULL = no default (unset) */
	const char *allowed; /* CFG_ENUM only */
	int64_t min, max;    /* CFG_INT only */
	const char *help;    /* one line, shown by --check-config -v and the man page */
};

/* One schema row each, as the agent's and hvcentral's tables write them:
 * CFG_INT("agents", "down_after", "60", 1, 86400, "seconds of silence ..."). */
/* clang-format off */
#define CFG_ROW_STR(s, k, d, h)         { s, k, CFG_STRING, d, NULL, 0, 0, h }
#define CFG_ROW_PATH(s, k, d, h)        { s, k, CFG_PATH, d, NULL, 0, 0, h }
#define CFG_ROW_INT(s, k, d, lo, hi, h) { s, k, CFG_INT, d, NULL, lo, hi, h }
#define CFG_ROW_BOOL(s, k, d, h)        { s, k, CFG_BOOL, d, NULL, 0, 0, h }
#define CFG_ROW_ENUM(s, k, d, a, h)     { s, k, CFG_ENUM, d, a, 0, 0, h }
/* clang-format on */

struct cfg;

/* One error: "FILE:LINE: [section] key: message" when printed. */
struct cfg_diag {
	char file[256];
	unsigned line;
	char text[512];
};

struct cfg_diags {
	size_t n;
	struct cfg_diag items[32]; /* further errors are counted in n but not kept */
};

/* Loads main_path (must exist unless optional_main) then dropin_dir/ *.conf (a missing
 * directory is fine). The schema table ends with an entry whose section is NULL and must
 * outlive the cfg. Returns 0 and *ret_cfg, or -EINVAL with every problem in *diags (and
 * *ret_cfg NULL), or -errno when a file cannot be read (also reported in *diags). */
int cfg_load(const struct cfg_key *schema, const char *main_path, bool optional_main,
	     const char *dropin_dir, struct cfg **ret_cfg, struct cfg_diags *diags);
/* As cfg_load, but a config whose problems are all reported in *diags is returned as well:
 * -EINVAL with *ret_cfg set (the caller frees it), so the program's checks across keys run
 * in the same pass and every error of a file is reported at once. A key whose setting was
 * refused reads as its earlier value or default; cfg_value_ok() tells which. */
int cfg_load_partial(const struct cfg_key *schema, const char *main_path, bool optional_main,
		     const char *dropin_dir, struct cfg **ret_cfg, struct cfg_diags *diags);
/* Parses INI text from memory as if it were file `name` (tests, fuzzing). */
int cfg_load_string(const struct cfg_key *schema, const char *name, const char *text,
		    struct cfg **ret_cfg, struct cfg_diags *diags);
void cfg_free(struct cfg *cfg);
/* The value section/key would have after loading main_path and dropin_dir, every error
 * ignored (a bad value reads as the default): for what a program must know before it has
 * its whole schema (the agent's [DEFAULT] driver, whose plugin declares a section).
 * malloc'd; NULL when unset without a default, or out of memory. */
char *cfg_peek(const struct cfg_key *schema, const char *main_path, const char *dropin_dir,
	       const char *section, const char *key);

/* Getters for keys in the schema (asking for a key not in the schema aborts: a bug).
 * cfg_get_str returns the default when unset, or NULL when it has no default. */
const char *cfg_get_str(const struct cfg *cfg, const char *section, const char *key);
int64_t cfg_get_int(const struct cfg *cfg, const char *section, const char *key);
bool cfg_get_bool(const struct cfg *cfg, const char *section, const char *key);
/* False when the last setting of section/key did not parse (an error already reported):
 * a check across keys skips it rather than blame another key for its consequence. */
bool cfg_value_ok(const struct cfg *cfg, const char *section, const char *key);
/* Where the value came from ("FILE:LINE" or "default"). */
const char *cfg_origin(const struct cfg *cfg, const char *section, const char *key);

/* Every key/value of one section (set or defaulted), in schema order, for handing a
 * driver its section. *ret is malloc'd (caller frees); the strings are borrowed from cfg. */
int cfg_section_kv(const struct cfg *cfg, const char *section, struct hv_kv **ret, size_t *ret_n);

/* Calls fn for each key whose value (set or default) differs between old and new, matched
 * by section and key (the schemas may differ: a key only one of them has counts as changed).
 * value is new's, NULL when unset or gone; every string is borrowed for the call. For a
 * daemon's reload: what it applies live, what needs a restart. */
typedef void (*cfg_diff_fn)(void *ctx, const char *section, const char *key, const char *value);
void cfg_diff(const struct cfg *old, const struct cfg *new, cfg_diff_fn fn, void *ctx);
/* Prints the normalized config (every key, defaults included, one section after another,
 * `key = value`), parseable again by cfg_load. */
void cfg_print(const struct cfg *cfg, FILE *out);
void cfg_diags_print(const struct cfg_diags *diags, FILE *out);
/* How many of diags->items hold an error (n may count more). */
size_t cfg_diags_kept(const struct cfg_diags *diags);
/* One error as cfg_diags_print writes it, "FILE:LINE: [section] key: problem", in buf. */
const char *cfg_diag_format(const struct cfg_diag *d, char *buf, size_t size);
/* Prints a commented sample config of schema: per key its help, type, range or choices, and
 * the default as a commented-out setting (for packaging and the operator guide). */
void cfg_schema_print(const struct cfg_key *schema, FILE *out);
/* Adds an error about a loaded key, placed at the FILE:LINE that set it ("default" when
 * unset): for checks that span keys, made by the program after cfg_load. */
void cfg_diag_key(struct cfg_diags *diags, const struct cfg *cfg, const char *section,
		  const char *key, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
