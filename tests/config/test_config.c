/* test_config.c - the config parser and the agent's config schema, as an operator meets
 * them: defaults, normalization, every error with FILE:LINE, drop-ins, --check-config
 * golden files (tests/data/config/{good,bad,dropin}).
 * HV_REGENERATE=1 rewrites the golden outputs instead of comparing (review the diff). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvagent/driver.h>

#include "agent_config.h"
#include "central_config.h"
#include "config.h"

static const char *data_dir;
/* Where the fixture, fake and libvirt driver plugins were built; NULL when not given. */
static const char *fixture_dir, *fake_dir, *libvirt_dir;

static const struct cfg_key schema[] = {
	{"DEFAULT", "name", CFG_STRING, "anon", NULL, 0, 0, "a name"},
	{"DEFAULT", "count", CFG_INT, "4", NULL, 1, 64, "a count"},
	{"DEFAULT", "flag", CFG_BOOL, "false", NULL, 0, 0, "a flag"},
	{"DEFAULT", "mode", CFG_ENUM, "kvm", "kvm|qemu", 0, 0, "a mode"},
	{"DEFAULT", "dir", CFG_PATH, "/var/lib/x", NULL, 0, 0, "a dir"},
	{"DEFAULT", "nodef", CFG_STRING, NULL, NULL, 0, 0, "no default"},
	{"extra", "level", CFG_INT, "0", NULL, -5, 5, "a level"},
	{0},
};

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *
diags_text(const struct cfg_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cfg_diags_print(d, m);
	fclose(m);
	return buf;
}

static void
an_empty_file_gives_every_default(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(schema, "t.conf", "", &cfg, &d), 0);
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "name"), "anon");
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "count"), 4);
	assert_false(cfg_get_bool(cfg, "DEFAULT", "flag"));
	assert_null(cfg_get_str(cfg, "DEFAULT", "nodef"));
	assert_string_equal(cfg_origin(cfg, "DEFAULT", "count"), "default");
	cfg_free(cfg);
}

struct diff_seen {
	char text[512];
};

static void
collect_diff(void *ctx, const char *section, const char *key, const char *value)
{
	struct diff_seen *seen = ctx;
	size_t n = strlen(seen->text);

	snprintf(seen->text + n, sizeof seen->text - n, "[%s] %s=%s;", section, key,
		 value ? value : "(none)");
}

static void
a_reload_diff_names_exactly_the_changed_keys(void **state)
{
	static const struct cfg_key other[] = {
		{"DEFAULT", "name", CFG_STRING, "anon", NULL, 0, 0, "a name"},
		{"other", "size", CFG_INT, "1", NULL, 0, 9, "only here"},
		{0},
	};
	struct cfg *a, *b, *c;
	struct cfg_diags d;
	struct diff_seen seen = {""};

	(void)state;
	assert_int_equal(
		cfg_load_string(schema, "a.conf", "[DEFAULT]\ncount = 4\nflag = no\n", &a, &d), 0);
	/* count set to its default and flag written another way: no change */
	assert_int_equal(
		cfg_load_string(schema, "b.conf",
				"[DEFAULT]\nflag = off\nmode = qemu\n[extra]\nlevel = -2\n", &b,
				&d),
		0);
	cfg_diff(a, b, collect_diff, &seen);
	assert_string_equal(seen.text, "[DEFAULT] mode=qemu;[extra] level=-2;");
	seen.text[0] = '\0';
	cfg_diff(a, a, collect_diff, &seen);
	assert_string_equal(seen.text, "");
	/* another schema (a driver changed): its own keys are new, the old ones are gone */
	assert_int_equal(cfg_load_string(other, "c.conf", "", &c, &d), 0);
	cfg_diff(a, c, collect_diff, &seen);
	assert_non_null(strstr(seen.text, "[other] size=1;"));
	assert_non_null(strstr(seen.text, "[extra] level=(none);"));
	assert_null(strstr(seen.text, "[DEFAULT] name"));
	cfg_free(a);
	cfg_free(b);
	cfg_free(c);
}

static void
values_are_normalized_and_remember_their_line(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	const char *text = "; comment\n# another\n[DEFAULT]\nflag = Yes\ncount=+007\n"
			   "name = two words ; trailing comment\n\n[extra]\nlevel = -5\n";
	assert_int_equal(cfg_load_string(schema, "t.conf", text, &cfg, &d), 0);
	assert_true(cfg_get_bool(cfg, "DEFAULT", "flag"));
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "count"), 7);
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "count"), "7");
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "name"), "two words");
	assert_int_equal(cfg_get_int(cfg, "extra", "level"), -5);
	assert_string_equal(cfg_origin(cfg, "DEFAULT", "count"), "t.conf:5");
	cfg_free(cfg);
}

static void
every_error_is_collected_with_file_and_line(void **state)
{
	struct cfg *cfg = (void *)1;
	struct cfg_diags d;
	const char *text = "[DEFAULT]\n"
			   "count = 65\n"
			   "flag = maybe\n"
			   "mode = xen\n"
			   "dir = relative/path\n"
			   "colour = blue\n"
			   "this line has no equals sign\n";
	assert_int_equal(cfg_load_string(schema, "t.conf", text, &cfg, &d), -EINVAL);
	assert_null(cfg);
	char *out = diags_text(&d);
	assert_string_equal(
		out,
		"t.conf:2: [DEFAULT] count: '65' is out of range (allowed: 1-64)\n"
		"t.conf:3: [DEFAULT] flag: 'maybe' is not a boolean (allowed: true, false, yes, "
		"no, on, off, 1, 0)\n"
		"t.conf:4: [DEFAULT] mode: 'xen' is not a valid choice (allowed: kvm, qemu)\n"
		"t.conf:5: [DEFAULT] dir: 'relative/path' is not an absolute path (allowed: an "
		"absolute path)\n"
		"t.conf:6: [DEFAULT] colour: unknown key (allowed: name, count, flag, mode, dir, "
		"nodef)\n"
		"t.conf:7: 'this line has no equals sign': not a setting (allowed: key = value)\n");
	free(out);
}

static void
a_key_set_twice_in_one_file_is_refused(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(
		cfg_load_string(schema, "t.conf", "[DEFAULT]\ncount = 1\n\ncount = 2\n", &cfg, &d),
		-EINVAL);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 4);
	assert_string_equal(d.items[0].text,
			    "[DEFAULT] count: set twice in one file (first at line 2)");
}

static void
an_unknown_section_is_reported_once_not_per_key(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(schema, "t.conf",
					 "[libvrit]\nuri = a\nvirt_type = b\n[extra]\nlevel = 9\n",
					 &cfg, &d),
			 -EINVAL);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.items[0].line, 1);
	assert_string_equal(d.items[0].text,
			    "[libvrit]: unknown section (allowed: DEFAULT, extra)");
	assert_int_equal(d.items[1].line, 5);
	assert_string_equal(d.items[1].text, "[extra] level: '9' is out of range (allowed: -5-5)");
}

static void
a_setting_before_any_section_is_refused(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(schema, "t.conf", "count = 3\n[DEFAULT]\n", &cfg, &d),
			 -EINVAL);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 1);
	assert_non_null(strstr(d.items[0].text, "before any section"));
}

/* inih's own buffer holds 198 bytes of a line: a longer setting (a long enabled_filters
 * list) is read whole, inline comment and all, and only a line past 64 KiB is refused. */
static void
a_long_line_is_read_whole_not_split(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	static char text[70000];
	int n = snprintf(text, sizeof text, "[DEFAULT]\nname = ");
	memset(text + n, 'x', 1000);
	strcpy(text + n + 1000, "y ; a comment\ncount = 5\n");
	assert_int_equal(cfg_load_string(schema, "t.conf", text, &cfg, &d), 0);
	const char *v = cfg_get_str(cfg, "DEFAULT", "name");
	assert_int_equal(strlen(v), 1001);
	assert_int_equal(v[1000], 'y');
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "count"), 5);
	cfg_free(cfg);

	memset(text + n, 'x', 66000);
	strcpy(text + n + 66000, "\ncount = 5\n");
	assert_int_equal(cfg_load_string(schema, "t.conf", text, &cfg, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 2);
	assert_non_null(strstr(d.items[0].text, "[DEFAULT] name: line too long"));
}

static void
indented_lines_are_settings_not_continuations(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(schema, "t.conf", "[DEFAULT]\nname = a\n   count = 9\r\n",
					 &cfg, &d),
			 0);
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "name"), "a");
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "count"), 9);
	cfg_free(cfg);
}

static void
control_characters_never_reach_a_message(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(
		cfg_load_string(schema, "t.conf", "[DEFAULT]\nmode = a\x1b[31mb\n", &cfg, &d),
		-EINVAL);
	assert_int_equal(d.n, 1);
	assert_null(strchr(d.items[0].text, '\x1b'));
	assert_non_null(strstr(d.items[0].text, "'a?[31mb'"));
}

static void
more_errors_than_kept_are_still_counted(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	fputs("[DEFAULT]\n", m);
	for (int i = 0; i < 40; i++)
		fprintf(m, "bogus%d = 1\n", i);
	fclose(m);
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(schema, "t.conf", text, &cfg, &d), -EINVAL);
	assert_int_equal(d.n, 40);
	char *out = diags_text(&d);
	assert_non_null(strstr(out, "... and 8 more errors\n"));
	free(out);
	free(text);
}

/* Random bytes and mangled good lines: every outcome is a clean success or a clean error
 * (the sanitizer builds catch the rest). Deterministic: a fixed seed. */
static void
hostile_input_never_breaks_the_parser(void **state)
{
	static const char *const pieces[] = {
		"[DEFAULT]",    "[",    "]",       "=",          "count", "flag",    "mode = qemu",
		" ; c",         "# c",  "\n",      "\r\n",       "\t",    "[extra]", "level=-5",
		"\xEF\xBB\xBF", "\x01", "name = ", "[DEFAULT]x",
	};
	uint64_t x = 88172645463325252ull;
	char text[2048];
	int ok = 0, refused = 0;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 0;
		while (len < sizeof text - 64) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (x % 7 == 0)
				break;
			if (x % 3 == 0) {
				text[len++] = (char)(x >> 24 | 1); /* any byte but NUL */
			} else {
				const char *p =
					pieces[(x >> 8) % (sizeof pieces / sizeof pieces[0])];
				size_t n = strlen(p);
				memcpy(text + len, p, n);
				len += n;
			}
		}
		text[len] = '\0';
		struct cfg *cfg = (void *)1;
		struct cfg_diags d;
		int r = cfg_load_string(schema, "fuzz", text, &cfg, &d);
		if (r == 0) {
			assert_int_equal(d.n, 0);
			assert_true(cfg_get_int(cfg, "DEFAULT", "count") >= 1);
			cfg_free(cfg);
			ok++;
		} else {
			refused++;
			assert_int_equal(r, -EINVAL);
			assert_null(cfg);
			assert_true(d.n > 0);
			for (size_t k = 0; k < d.n && k < 32; k++)
				assert_null(strchr(d.items[k].text, '\n'));
		}
	}
	/* the generator reaches both outcomes, or this test proves little */
	assert_true(ok > 100);
	assert_true(refused > 100);
}

static void
the_printed_config_loads_back_the_same(void **state)
{
	struct cfg *a, *b;
	struct cfg_diags d;
	assert_int_equal(
		cfg_load_string(schema, "t.conf",
				"[DEFAULT]\nflag = on\nmode = qemu\nname =\n[extra]\nlevel = 3\n",
				&a, &d),
		0);
	char *first = NULL, *second = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&first, &len);
	cfg_print(a, m);
	fclose(m);
	assert_int_equal(cfg_load_string(schema, "printed", first, &b, &d), 0);
	m = open_memstream(&second, &len);
	cfg_print(b, m);
	fclose(m);
	assert_string_equal(first, second);
	assert_non_null(strstr(first, "flag = true\n"));
	assert_non_null(strstr(first, "name = \n"));
	assert_non_null(strstr(first, "; nodef is unset\n"));
	cfg_free(a);
	cfg_free(b);
	free(first);
	free(second);
}

static void
a_section_is_handed_to_a_driver_as_key_values(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(
		cfg_load_string(agent_config_schema(), "t.conf", "[fake]\nvcpus = 8\n", &cfg, &d),
		0);
	struct hv_kv *kv;
	size_t n;
	assert_int_equal(cfg_section_kv(cfg, "fake", &kv, &n), 0);
	assert_int_equal(n, 12); /* every [fake] key of the schema, defaults included */
	assert_string_equal(kv[0].key, "vcpus");
	assert_string_equal(kv[0].value, "8");
	assert_string_equal(kv[1].key, "memory_mb");
	assert_string_equal(kv[1].value, "65536");
	free(kv);
	cfg_free(cfg);
}

static void
every_agent_default_is_valid(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(agent_config_schema(), "empty", "", &cfg, &d), 0);
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "max_concurrent_builds"), 4);
	assert_string_equal(cfg_get_str(cfg, "libvirt", "virt_type"), "kvm");
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "driver_dir"), HV_DRIVERDIR);
	assert_false(cfg_get_bool(cfg, "netfilter", "enabled"));
	for (const struct cfg_key *k = agent_config_schema(); k->section; k++)
		assert_true(k->help && *k->help);
	cfg_free(cfg);
}

/* A temporary directory with hvagent.conf and hvagent.conf.d/; removed by the caller. */
static char tmp_dir[64];

static void
tmp_make(void)
{
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/hv-config-XXXXXX");
	assert_non_null(mkdtemp(tmp_dir));
}

static void
tmp_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
	assert_int_equal(system(cmd), 0);
}

/* A drop-in that is a symlink to nothing is a file the operator meant to be read: an error
 * naming it, for the agent's directory and hvcentral's alike. */
static void
a_dangling_drop_in_symlink_is_an_error(void **state)
{
	static const char *const mains[] = {"hvagent.conf", "hvcentral.conf"};
	for (size_t i = 0; i < 2; i++) {
		tmp_make();
		char path[160], dir[200], link[260];
		snprintf(path, sizeof path, "%s/%s", tmp_dir, mains[i]);
		snprintf(dir, sizeof dir, "%s.d", path);
		write_file(path, "[DEFAULT]\n");
		assert_int_equal(mkdir(dir, 0755), 0);
		snprintf(link, sizeof link, "%s/60-site.conf", dir);
		assert_int_equal(symlink("/nonexistent/site.conf", link), 0);
		struct cfg_diags d;
		int r;
		if (i == 0) {
			struct agent_config *ac;
			r = agent_config_load(path, &ac, &d);
			assert_null(ac);
		} else {
			struct cfg *cfg;
			r = central_config_load(path, &cfg, &d);
			assert_null(cfg);
		}
		assert_true(r < 0);
		assert_int_equal(d.n, 1);
		assert_string_equal(d.items[0].file, link);
		assert_non_null(strstr(d.items[0].text, "No such file"));
		tmp_remove();
	}
}

/* hvcentral's checks across keys come with the errors of single values, and a value that
 * did not parse is not blamed a second time through a check that reads it. */
static void
central_checks_across_keys_come_with_the_other_errors(void **state)
{
	tmp_make();
	char path[160];
	snprintf(path, sizeof path, "%s/hvcentral.conf", tmp_dir);
	write_file(path, "[agents]\nreport_interval = ten\nsuspect_after = 100\n"
			 "down_after = 50\n");
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(central_config_load(path, &cfg, &d), -EINVAL);
	assert_null(cfg);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[1].line, 3);
	assert_non_null(strstr(d.items[1].text, "suspect_after: larger than down_after"));

	/* down_after does not parse: its default (60) must not make suspect_after wrong */
	write_file(path, "[agents]\nsuspect_after = 100\ndown_after = soon\n");
	assert_int_equal(central_config_load(path, &cfg, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 3);
	tmp_remove();
}

/* The hv API has no authentication: an endpoint beyond loopback is refused, naming the key,
 * unless the operator says so; ipc:// and loopback addresses pass. */
static void
an_api_endpoint_beyond_this_machine_must_be_allowed(void **state)
{
	static const char *const local[] = {"ipc:///run/hvcentral/api.sock", "tcp://127.0.0.1:6000",
					    "tcp://[::1]:6000", "tcp://localhost:6000"};
	tmp_make();
	char path[160], text[256];
	snprintf(path, sizeof path, "%s/hvcentral.conf", tmp_dir);
	struct cfg *cfg;
	struct cfg_diags d;
	write_file(path, "[api]\nendpoint = tcp://0.0.0.0:6000\n");
	assert_int_equal(central_config_load(path, &cfg, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 2);
	assert_non_null(strstr(d.items[0].text, "endpoint: listens beyond this machine"));
	write_file(path, "[api]\nendpoint = tcp://0.0.0.0:6000\nallow_remote = true\n");
	assert_int_equal(central_config_load(path, &cfg, &d), 0);
	cfg_free(cfg);
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		snprintf(text, sizeof text, "[api]\nendpoint = %s\n", local[i]);
		write_file(path, text);
		assert_int_equal(central_config_load(path, &cfg, &d), 0);
		cfg_free(cfg);
	}
	assert_false(central_api_endpoint_local("tcp://*:6000"));
	assert_false(central_api_endpoint_local("tcp://eth0:6000"));
	tmp_remove();
}

static void
a_missing_main_file_is_named(void **state)
{
	tmp_make();
	char path[128];
	snprintf(path, sizeof path, "%s/hvagent.conf", tmp_dir);
	struct agent_config *ac;
	struct cfg *cfg;
	struct cfg_diags d;
	assert_int_equal(agent_config_load(path, &ac, &d), -ENOENT);
	assert_null(ac);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].file, path);
	assert_string_equal(d.items[0].text, "cannot open: No such file or directory");
	/* optional: the defaults apply */
	assert_int_equal(cfg_load(agent_config_schema(), path, true, NULL, &cfg, &d), 0);
	cfg_free(cfg);
	tmp_remove();
}

static void
drop_ins_apply_in_lexical_order_and_the_later_wins(void **state)
{
	tmp_make();
	char path[160], dir[200], f[260];
	snprintf(path, sizeof path, "%s/hvagent.conf", tmp_dir);
	snprintf(dir, sizeof dir, "%s.d", path);
	write_file(path, "[DEFAULT]\nreport_interval = 30\nmax_concurrent_builds = 2\n");
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(f, sizeof f, "%s/20-b.conf", dir);
	write_file(f, "[DEFAULT]\nreport_interval = 50\n");
	snprintf(f, sizeof f, "%s/10-a.conf", dir);
	write_file(f, "[DEFAULT]\nreport_interval = 40\nlog_level = debug\n");
	snprintf(f, sizeof f, "%s/30-c.conf.disabled", dir);
	write_file(f, "[DEFAULT]\nreport_interval = 60\n");
	struct agent_config *ac;
	struct cfg_diags d;
	assert_int_equal(agent_config_load(path, &ac, &d), 0);
	struct cfg *cfg = ac->cfg;
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "report_interval"), 50);
	assert_int_equal(cfg_get_int(cfg, "DEFAULT", "max_concurrent_builds"), 2);
	assert_string_equal(cfg_get_str(cfg, "DEFAULT", "log_level"), "debug");
	snprintf(f, sizeof f, "%s/20-b.conf:2", dir);
	assert_string_equal(cfg_origin(cfg, "DEFAULT", "report_interval"), f);
	agent_config_free(ac);
	tmp_remove();
}

static void
an_error_in_a_drop_in_names_the_drop_in(void **state)
{
	tmp_make();
	char path[160], dir[200], f[260];
	snprintf(path, sizeof path, "%s/hvagent.conf", tmp_dir);
	snprintf(dir, sizeof dir, "%s.d", path);
	write_file(path, "[DEFAULT]\nreport_interval = 30\n");
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(f, sizeof f, "%s/50-site.conf", dir);
	write_file(f, "# site overrides\n[libvirt]\nvirt_type = xen\n");
	struct agent_config *ac;
	struct cfg_diags d;
	assert_int_equal(agent_config_load(path, &ac, &d), -EINVAL);
	assert_null(ac);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].file, f);
	assert_int_equal(d.items[0].line, 3);
	tmp_remove();
}

static void
checks_across_keys_point_at_the_line_that_set_them(void **state)
{
	tmp_make();
	char path[160];
	snprintf(path, sizeof path, "%s/hvagent.conf", tmp_dir);
	write_file(path, "[controller]\nreconnect_min_ms = 5000\nreconnect_max_ms = 1000\n"
			 "server_public_key = tooshort\n[libvirt]\nserial_port_range = 9:2\n"
			 "[fake]\nfail_probability = 1.5\n[DEFAULT]\ndriver = ../evil\n");
	struct agent_config *ac;
	struct cfg_diags d;
	assert_int_equal(agent_config_load(path, &ac, &d), -EINVAL);
	assert_int_equal(d.n, 5);
	unsigned lines[5];
	for (size_t i = 0; i < 5; i++)
		lines[i] = d.items[i].line;
	/* reported in schema order: driver, public key, reconnect, ports, probability */
	assert_int_equal(lines[0], 10);
	assert_int_equal(lines[1], 4);
	assert_int_equal(lines[2], 2);
	assert_int_equal(lines[3], 6);
	assert_int_equal(lines[4], 8);
	assert_non_null(strstr(d.items[2].text, "larger than reconnect_max_ms"));
	tmp_remove();
}

static void
an_empty_host_id_means_the_hostname(void **state)
{
	struct cfg *cfg;
	struct cfg_diags d;
	char got[256], want[256];
	assert_int_equal(cfg_load_string(agent_config_schema(), "t", "", &cfg, &d), 0);
	assert_int_equal(agent_config_host_id(cfg, got, sizeof got), 0);
	assert_int_equal(gethostname(want, sizeof want), 0);
	assert_string_equal(got, want);
	cfg_free(cfg);
	assert_int_equal(cfg_load_string(agent_config_schema(), "t", "[DEFAULT]\nhost_id = cn-7\n",
					 &cfg, &d),
			 0);
	assert_int_equal(agent_config_host_id(cfg, got, sizeof got), 0);
	assert_string_equal(got, "cn-7");
	cfg_free(cfg);
}

/* Runs --check-config on path (relative to the current directory) and compares stdout or
 * stderr with the golden file. */
static void
check_golden(const char *conf, const char *golden, int want_rc)
{
	char *out = NULL, *err = NULL;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
	int rc = agent_config_check(conf, o, e);
	fclose(o);
	fclose(e);
	/* The built-in driver directory depends on the build's prefix. */
	char *got = want_rc == 0 ? out : err;
	for (char *at; (at = strstr(got, HV_DRIVERDIR));) {
		char *fixed;
		assert_true(asprintf(&fixed, "%.*s@DRIVERDIR@%s", (int)(at - got), got,
				     at + strlen(HV_DRIVERDIR)) > 0);
		if (got == out) {
			free(out);
			out = got = fixed;
		} else {
			free(err);
			err = got = fixed;
		}
	}
	if (getenv("HV_REGENERATE")) {
		write_file(golden, got);
	} else {
		char *want = read_all(golden);
		if (!want)
			fail_msg("%s: missing golden file %s", conf, golden);
		if (strcmp(want, got) != 0)
			fail_msg("%s: output differs from %s:\n--- got\n%s--- stderr\n%s", conf,
				 golden, got, err);
		free(want);
	}
	if (rc != want_rc)
		fail_msg("%s: exit %d, expected %d; stderr:\n%s", conf, rc, want_rc, err);
	if (want_rc == 0)
		assert_string_equal(err, "");
	else
		assert_string_equal(out, "");
	free(out);
	free(err);
}

static int
golden_dir(const char *sub, const char *ext, int want_rc)
{
	char dir[PATH_MAX], cwd[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(dir), 0);
	struct dirent **names;
	int n = scandir(".", &names, NULL, alphasort);
	assert_true(n >= 0);
	int cases = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		if (len > 5 && strcmp(name + len - 5, ".conf") == 0) {
			char golden[NAME_MAX + 8];
			snprintf(golden, sizeof golden, "%.*s%s", (int)(len - 5), name, ext);
			check_golden(name, golden, want_rc);
			cases++;
		}
		free(names[i]);
	}
	free(names);
	assert_int_equal(chdir(cwd), 0);
	return cases;
}

static void
good_configs_print_their_normalized_form(void **state)
{
	assert_true(golden_dir("good", ".out", 0) >= 3);
}

static void
bad_configs_print_every_error(void **state)
{
	assert_true(golden_dir("bad", ".err", AGENT_CONFIG_EX_CONFIG) >= 5);
}

/* The sample is documentation an operator edits: it must load, and uncommenting every
 * setting must give exactly the defaults. */
static void
the_sample_config_documents_every_key_and_loads(void **state)
{
	char *sample = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&sample, &len);
	agent_config_sample(m);
	fclose(m);

	char golden[PATH_MAX];
	snprintf(golden, sizeof golden, "%s/sample/hvagent.conf", data_dir);
	char *fixed = NULL;
	size_t flen = 0;
	m = open_memstream(&fixed, &flen);
	for (const char *p = sample; *p;) {
		const char *at = strstr(p, HV_DRIVERDIR);
		size_t n = at ? (size_t)(at - p) : strlen(p);
		fwrite(p, 1, n, m);
		if (!at)
			break;
		fputs("@DRIVERDIR@", m);
		p = at + strlen(HV_DRIVERDIR);
	}
	fclose(m);
	if (getenv("HV_REGENERATE")) {
		write_file(golden, fixed);
	} else {
		char *want = read_all(golden);
		assert_non_null(want);
		assert_string_equal(fixed, want);
		free(want);
	}

	struct cfg *cfg, *def;
	struct cfg_diags d;
	assert_int_equal(cfg_load_string(agent_config_schema(), "sample", sample, &cfg, &d), 0);
	cfg_free(cfg);
	/* uncomment every "#key = value" line */
	for (char *p = sample; (p = strstr(p, "\n#")); p++)
		if (p[2] != ' ')
			p[1] = ' ';
	assert_int_equal(cfg_load_string(agent_config_schema(), "uncommented", sample, &cfg, &d),
			 0);
	assert_int_equal(cfg_load_string(agent_config_schema(), "empty", "", &def, &d), 0);
	for (const struct cfg_key *k = agent_config_schema(); k->section; k++) {
		assert_string_equal(cfg_get_str(cfg, k->section, k->key),
				    cfg_get_str(def, k->section, k->key));
		assert_string_not_equal(cfg_origin(cfg, k->section, k->key), "default");
	}
	cfg_free(cfg);
	cfg_free(def);
	free(sample);
	free(fixed);
}

/* A driver the agent was built without (tests/driver/fixture_driver.c as "thirdparty"):
 * its plugin's declaration is the schema of its section, checked like the agent's own. */
static void
a_third_party_driver_section_is_checked_from_its_plugin(void **state)
{
	if (!fixture_dir)
		skip();
	setenv("HVAGENT_DRIVER_DIR", fixture_dir, 1);
	assert_int_equal(golden_dir("driver/good", ".out", 0), 1);
	assert_int_equal(golden_dir("driver/bad", ".err", AGENT_CONFIG_EX_CONFIG), 2);

	/* the agent hands the driver its whole section, defaults included */
	struct agent_config *ac;
	struct cfg_diags d;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/driver/good/thirdparty.conf", data_dir);
	assert_int_equal(agent_config_load(path, &ac, &d), 0);
	unsetenv("HVAGENT_DRIVER_DIR");
	struct hvd_kv *kv;
	size_t n;
	assert_int_equal(agent_config_driver_kv(ac, &kv, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(kv[1].key, "pool_size");
	assert_string_equal(kv[1].value, "8");
	assert_string_equal(kv[3].value, "true");
	assert_string_equal(kv[4].key, "stop_wait");
	assert_string_equal(kv[4].value, "7");
	free(kv);
	/* its key with the shutdown role is the stop timeout; it declares no reboot timeout:
	 * the first bundled driver's that does ([libvirt]'s) */
	uint32_t reboot_s, shutdown_s;
	agent_config_timeouts(ac, &reboot_s, &shutdown_s);
	assert_int_equal(shutdown_s, 7);
	assert_int_equal(reboot_s, 120);
	agent_config_free(ac);
}

/* The sections of the drivers that come with hvagent are the rows their plugins declare,
 * so a config is checked the same whether or not the plugin is installed. */
static void
the_bundled_driver_sections_are_the_plugins_own(void **state)
{
	static const char *const drivers[][2] = {{"fake", "fake"}, {"libvirt", "libvirt"}};
	static const enum cfg_type types[] = {
		[HVD_CONFIG_STRING] = CFG_STRING, [HVD_CONFIG_INT] = CFG_INT,
		[HVD_CONFIG_BOOL] = CFG_BOOL,     [HVD_CONFIG_ENUM] = CFG_ENUM,
		[HVD_CONFIG_PATH] = CFG_PATH,
	};
	const char *dirs[] = {fake_dir, libvirt_dir};
	for (size_t i = 0; i < 2; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		struct hv_driver *drv;
		struct hv_error err = {0};
		if (hv_driver_load(dirs[i], drivers[i][0], &drv, &err) < 0) {
			if (i == 1 && err.code == -ENOENT)
				continue; /* built without libvirt */
			fail_msg("%s", err.message);
		}
		const struct hvd_driver *ops = hv_driver_ops(drv);
		assert_string_equal(ops->config_section, drivers[i][1]);
		size_t n = 0;
		for (const struct cfg_key *k = agent_config_schema(); k->section; k++) {
			if (strcmp(k->section, ops->config_section) != 0)
				continue;
			const struct hvd_config_key *dk = &ops->config_keys[n++];
			assert_non_null(dk->key);
			assert_string_equal(dk->key, k->key);
			assert_int_equal(types[dk->type], k->type);
			assert_string_equal(dk->def, k->def);
			if (k->allowed)
				assert_string_equal(dk->allowed, k->allowed);
			assert_int_equal(dk->min, k->min);
			assert_int_equal(dk->max, k->max);
			assert_string_equal(dk->help, k->help);
		}
		assert_true(n > 0);
		assert_null(ops->config_keys[n].key);
		hv_driver_unload(&drv);
	}
}

static void
drop_in_golden_shows_the_merged_config(void **state)
{
	/* hvagent.conf + hvagent.conf.d/{10-early,20-late}.conf (+ files that are not drop-ins) */
	assert_int_equal(golden_dir("dropin", ".out", 0), 1);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: %s TESTS_DATA_CONFIG_DIR [FIXTURE_DRIVER_DIR FAKE_DRIVER_DIR "
			"[LIBVIRT_DRIVER_DIR]]\n",
			argv[0]);
		return 2;
	}
	data_dir = argv[1];
	fixture_dir = argc > 2 ? argv[2] : NULL;
	fake_dir = argc > 3 ? argv[3] : NULL;
	libvirt_dir = argc > 4 ? argv[4] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_empty_file_gives_every_default),
		cmocka_unit_test(values_are_normalized_and_remember_their_line),
		cmocka_unit_test(every_error_is_collected_with_file_and_line),
		cmocka_unit_test(a_key_set_twice_in_one_file_is_refused),
		cmocka_unit_test(an_unknown_section_is_reported_once_not_per_key),
		cmocka_unit_test(a_setting_before_any_section_is_refused),
		cmocka_unit_test(a_long_line_is_read_whole_not_split),
		cmocka_unit_test(indented_lines_are_settings_not_continuations),
		cmocka_unit_test(control_characters_never_reach_a_message),
		cmocka_unit_test(more_errors_than_kept_are_still_counted),
		cmocka_unit_test(hostile_input_never_breaks_the_parser),
		cmocka_unit_test(the_printed_config_loads_back_the_same),
		cmocka_unit_test(a_section_is_handed_to_a_driver_as_key_values),
		cmocka_unit_test(every_agent_default_is_valid),
		cmocka_unit_test(a_missing_main_file_is_named),
		cmocka_unit_test(drop_ins_apply_in_lexical_order_and_the_later_wins),
		cmocka_unit_test(an_error_in_a_drop_in_names_the_drop_in),
		cmocka_unit_test(checks_across_keys_point_at_the_line_that_set_them),
		cmocka_unit_test(a_dangling_drop_in_symlink_is_an_error),
		cmocka_unit_test(central_checks_across_keys_come_with_the_other_errors),
		cmocka_unit_test(an_api_endpoint_beyond_this_machine_must_be_allowed),
		cmocka_unit_test(an_empty_host_id_means_the_hostname),
		cmocka_unit_test(good_configs_print_their_normalized_form),
		cmocka_unit_test(bad_configs_print_every_error),
		cmocka_unit_test(drop_in_golden_shows_the_merged_config),
		cmocka_unit_test(a_third_party_driver_section_is_checked_from_its_plugin),
		cmocka_unit_test(the_bundled_driver_sections_are_the_plugins_own),
		cmocka_unit_test(the_sample_config_documents_every_key_and_loads),
		cmocka_unit_test(a_reload_diff_names_exactly_the_changed_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
