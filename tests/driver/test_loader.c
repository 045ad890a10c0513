/* test_loader.c - the driver loader against real plugins: tiny fixture .so files built next
 * to this test (one per way a plugin can be wrong) and the fake driver itself.
 * argv: FIXTURE_DIR FAKE_DRIVER_DIR */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader.h"

static const char *fixture_dir, *fake_dir;

static void
fixture_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/hvagent-driver-%s.so", fixture_dir, name);
}

/* Loads a fixture that must be refused; checks the code, that nothing stays mapped and that
 * the message is exactly the expected one (with %s for the file). */
static void __attribute__((format(printf, 4, 5)))
assert_refused(const char *name, int code, const char *field, const char *fmt, ...)
{
	struct hv_driver *d = (void *)1;
	struct hv_error err = {0};
	char path[512], want[600];
	fixture_path(path, sizeof path, name);
	assert_int_equal(hv_driver_load(fixture_dir, name, &d, &err), code);
	assert_null(d);
	assert_int_equal(err.code, code);
	assert_string_equal(err.field, field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	assert_string_equal(err.message, want);
	/* rolled back: the library is no longer mapped */
	assert_null(dlopen(path, RTLD_NOW | RTLD_NOLOAD));
}

static void
a_good_driver_loads_and_reports_its_ops(void **state)
{
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	char path[512];
	fixture_path(path, sizeof path, "good");
	assert_int_equal(hv_driver_load(fixture_dir, "good", &d, &err), 0);
	assert_non_null(d);
	assert_string_equal(hv_driver_path(d), path);
	const struct hvd_driver *ops = hv_driver_ops(d);
	assert_string_equal(ops->name, "good");
	assert_true(hv_driver_supports(d, "spawn"));
	assert_true(hv_driver_supports(d, "power_on"));
	assert_false(hv_driver_supports(d, "pause"));
	assert_false(hv_driver_supports(d, "no_such_op"));
	struct hvd_host *host = NULL;
	assert_int_equal(ops->open(NULL, 0, &host, &err), 0);
	ops->close(host);
	hv_driver_unload(&d);
	assert_null(d);
	hv_driver_unload(&d); /* NULL-safe */
	hv_driver_unload(NULL);
}

static void
a_driver_of_another_abi_version_is_refused_naming_both(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "abi2");
	assert_refused("abi2", -ENOEXEC, "abi_version", "%s: ABI version 2, agent supports 1",
		       path);
}

static void
a_struct_shorter_than_v1_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "short");
	assert_refused("short", -ENOEXEC, "struct_size",
		       "%s: driver struct is %zu bytes, ABI version 1 needs at least %zu", path,
		       offsetof(struct hvd_driver, reboot),
		       /* v1 ends with set_option; ops appended later do not raise the minimum */
		       offsetof(struct hvd_driver, set_option) + sizeof(void *));
}

static void
a_library_without_the_entry_symbol_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "noentry");
	assert_refused("noentry", -ENOEXEC, "hvagent_driver_entry",
		       "%s: no hvagent_driver_entry symbol: not an hvagent driver", path);
}

static void
a_driver_missing_a_required_op_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "noop");
	assert_refused("noop", -ENOEXEC, "power_on", "%s: driver 'noop' lacks required op power_on",
		       path);
}

static void
an_entry_returning_null_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "null");
	assert_refused(
		"null", -ENOEXEC, "hvagent_driver_entry",
		"%s: hvagent_driver_entry() returned NULL: the driver refuses agent ABI version 1",
		path);
}

static void
a_driver_calling_itself_another_name_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "misnamed");
	assert_refused("misnamed", -ENOEXEC, "name",
		       "%s: driver calls itself 'good', expected 'misnamed'", path);
}

static void
a_longer_struct_of_the_same_abi_is_accepted(void **state)
{
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load(fixture_dir, "longer", &d, &err), 0);
	assert_int_equal(hv_driver_ops(d)->struct_size, sizeof(struct hvd_driver) + 16);
	assert_true(hv_driver_supports(d, "power_on"));
	hv_driver_unload(&d);
}

static void
a_driver_declares_its_config_section_and_needs(void **state)
{
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load(fixture_dir, "thirdparty", &d, &err), 0);
	const struct hvd_driver *ops = hv_driver_ops(d);
	assert_string_equal(ops->config_section, "thirdparty");
	assert_string_equal(ops->config_keys[0].key, "endpoint");
	assert_int_equal(ops->config_keys[1].type, HVD_CONFIG_INT);
	assert_int_equal(ops->config_keys[4].flags, HVD_KEY_SHUTDOWN_TIMEOUT);
	assert_null(ops->config_keys[5].key);
	assert_int_equal(ops->needs, 0); /* boots without an image file */
	assert_true(hv_driver_supports(d, "check_config"));
	struct hvd_kv bad[] = {{"endpoint", "tcp://x"}};
	assert_int_equal(ops->check_config(bad, 1, &err), -EINVAL);
	assert_string_equal(err.field, "endpoint");
	hv_driver_unload(&d);
}

static void
a_driver_built_before_the_config_fields_keeps_the_old_assumptions(void **state)
{
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load(fixture_dir, "oldv1", &d, &err), 0);
	const struct hvd_driver *ops = hv_driver_ops(d);
	/* no section of its own, and an image file as every driver but the fake needed */
	assert_null(ops->config_section);
	assert_null(ops->config_keys);
	assert_int_equal(ops->needs, HVD_NEED_IMAGE_FILE);
	assert_false(hv_driver_supports(d, "check_config"));
	hv_driver_unload(&d);
}

static void
a_config_key_table_that_cannot_be_a_schema_is_refused(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "badkeys");
	assert_refused(
		"badkeys", -ENOEXEC, "config_keys",
		"%s: driver 'badkeys': config key [badkeys] pool_size: min is larger than max",
		path);
}

static void
a_missing_driver_names_the_file(void **state)
{
	char path[512];
	fixture_path(path, sizeof path, "absent");
	assert_refused("absent", -ENOENT, "driver", "%s: No such file or directory", path);
}

static void
a_file_that_is_not_a_library_is_refused(void **state)
{
	struct hv_driver *d = (void *)1;
	struct hv_error err = {0};
	char text_dir[64] = "/tmp/hv-loader-XXXXXX", path[512];
	assert_non_null(mkdtemp(text_dir));
	snprintf(path, sizeof path, "%s/hvagent-driver-text.so", text_dir);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs("a text file named like a driver\n", f);
	assert_int_equal(fclose(f), 0);
	int r = hv_driver_load(text_dir, "text", &d, &err);
	unlink(path);
	rmdir(text_dir);
	assert_int_equal(r, -ENOEXEC);
	assert_null(d);
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s: cannot load: ", path);
	assert_memory_equal(err.message, prefix, strlen(prefix));
}

static void
driver_names_cannot_reach_outside_the_directory(void **state)
{
	static const char *const bad[] = {
		"../fake",
		"fake/../../x",
		"Fake",
		"",
		"fake.so",
		"a b",
		"fake\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct hv_driver *d = (void *)1;
		struct hv_error err = {0};
		assert_false(hv_driver_name_valid(bad[k]));
		assert_int_equal(hv_driver_load(fixture_dir, bad[k], &d, &err), -EINVAL);
		assert_null(d);
		assert_string_equal(err.field, "driver");
		assert_non_null(strstr(err.message, "is invalid (allowed: 1-64 of [a-z0-9_])"));
	}
	struct hv_driver *d = (void *)1;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load(fixture_dir, NULL, &d, &err), -EINVAL);
	assert_true(hv_driver_name_valid("libvirt"));
	assert_true(hv_driver_name_valid("fake_2"));
}

static void
the_environment_overrides_the_configured_directory(void **state)
{
	unsetenv(HV_DRIVER_DIR_ENV);
	assert_string_equal(hv_driver_dir("/opt/drivers"), "/opt/drivers");
	assert_string_equal(hv_driver_dir(NULL), HV_DRIVERDIR);
	assert_string_equal(hv_driver_dir(""), HV_DRIVERDIR);
	setenv(HV_DRIVER_DIR_ENV, "/tmp/build/drivers", 1);
	assert_string_equal(hv_driver_dir("/opt/drivers"), "/tmp/build/drivers");
	setenv(HV_DRIVER_DIR_ENV, "", 1);
	assert_string_equal(hv_driver_dir("/opt/drivers"), "/opt/drivers");
	unsetenv(HV_DRIVER_DIR_ENV);
}

static void
the_fake_driver_loads_from_the_build_tree(void **state)
{
	setenv(HV_DRIVER_DIR_ENV, fake_dir, 1);
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load(hv_driver_dir("/nonexistent"), "fake", &d, &err), 0);
	unsetenv(HV_DRIVER_DIR_ENV);
	const struct hvd_driver *ops = hv_driver_ops(d);
	/* the fake implements every op of the ABI */
	for (const char *const *op = hv_driver_op_names(); *op; op++)
		assert_true(hv_driver_supports(d, *op));
	/* it declares [fake] and needs no image file */
	assert_string_equal(ops->config_section, "fake");
	assert_string_equal(ops->config_keys[0].key, "vcpus");
	assert_int_equal(ops->needs, 0);
	struct hvd_kv cfg[] = {{"vcpus", "8"}, {"memory_mb", "4096"}};
	struct hvd_host *host;
	assert_int_equal(ops->open(cfg, 2, &host, &err), 0);
	struct hvd_host_info info = {.struct_size = sizeof info};
	assert_int_equal(ops->host_info(host, &info, &err), 0);
	assert_string_equal(info.hypervisor_type, "fake");
	assert_int_equal(info.vcpus, 8);
	assert_int_equal(info.memory_mb, 4096);
	ops->close(host);
	hv_driver_unload(&d);
}

static void
a_driver_loads_by_explicit_path(void **state)
{
	char path[512];
	snprintf(path, sizeof path, "%s/hvagent-driver-fake.so", fake_dir);
	struct hv_driver *d = NULL;
	struct hv_error err = {0};
	assert_int_equal(hv_driver_load_path(path, &d, &err), 0);
	assert_string_equal(hv_driver_ops(d)->name, "fake");
	hv_driver_unload(&d);
	fixture_path(path, sizeof path, "abi2");
	assert_int_equal(hv_driver_load_path(path, &d, &err), -ENOEXEC);
	assert_null(d);
	assert_non_null(strstr(err.message, "ABI version 2, agent supports 1"));
	/* a bare file name is a file here, never a search of the system library path */
	assert_int_equal(hv_driver_load_path("libc.so.6", &d, &err), -ENOENT);
	assert_string_equal(err.message, "./libc.so.6: No such file or directory");
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s FIXTURE_DIR FAKE_DRIVER_DIR\n", argv[0]);
		return 2;
	}
	fixture_dir = argv[1];
	fake_dir = argv[2];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_good_driver_loads_and_reports_its_ops),
		cmocka_unit_test(a_driver_of_another_abi_version_is_refused_naming_both),
		cmocka_unit_test(a_struct_shorter_than_v1_is_refused),
		cmocka_unit_test(a_library_without_the_entry_symbol_is_refused),
		cmocka_unit_test(a_driver_missing_a_required_op_is_refused),
		cmocka_unit_test(an_entry_returning_null_is_refused),
		cmocka_unit_test(a_driver_calling_itself_another_name_is_refused),
		cmocka_unit_test(a_longer_struct_of_the_same_abi_is_accepted),
		cmocka_unit_test(a_driver_declares_its_config_section_and_needs),
		cmocka_unit_test(a_driver_built_before_the_config_fields_keeps_the_old_assumptions),
		cmocka_unit_test(a_config_key_table_that_cannot_be_a_schema_is_refused),
		cmocka_unit_test(a_missing_driver_names_the_file),
		cmocka_unit_test(a_file_that_is_not_a_library_is_refused),
		cmocka_unit_test(driver_names_cannot_reach_outside_the_directory),
		cmocka_unit_test(the_environment_overrides_the_configured_directory),
		cmocka_unit_test(the_fake_driver_loads_from_the_build_tree),
		cmocka_unit_test(a_driver_loads_by_explicit_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
