/* test_ids.c - the UUID and MAC rule of common/ids.h: the protocol's lower-case form
 * passes, everything else (upper case, wrong lengths, misplaced separators) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ids.h"

static void
a_lower_case_uuid_passes(void **state)
{
	assert_true(hv_uuid_valid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f"));
	assert_true(hv_uuid_valid("00000000-0000-0000-0000-000000000000"));
	assert_true(hv_uuid_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
}

static void
an_upper_case_uuid_is_refused(void **state)
{
	assert_false(hv_uuid_valid("0D2C2AE4-2B52-4C5E-9D7B-0A1B2C3D4E5F"));
	assert_false(hv_uuid_valid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5F"));
}

static void
a_uuid_of_the_wrong_length_or_shape_is_refused(void **state)
{
	assert_false(hv_uuid_valid(NULL));
	assert_false(hv_uuid_valid(""));
	assert_false(hv_uuid_valid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5"));   /* 35 */
	assert_false(hv_uuid_valid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f0")); /* 37 */
	assert_false(hv_uuid_valid("0d2c2ae42b524c5e9d7b0a1b2c3d4e5f"));      /* no dashes */
	assert_false(hv_uuid_valid("0d2c2ae4-2b524-c5e-9d7b-0a1b2c3d4e5f"));  /* dash moved */
	assert_false(hv_uuid_valid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5g"));  /* not hex */
	assert_false(hv_uuid_valid("{d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f}"));
}

static void
a_lower_case_mac_passes(void **state)
{
	assert_true(hv_mac_valid("fa:16:3e:00:00:01"));
	assert_true(hv_mac_valid("00:00:00:00:00:00"));
}

static void
an_upper_case_mac_is_refused(void **state)
{
	assert_false(hv_mac_valid("FA:16:3E:00:00:01"));
	assert_false(hv_mac_valid("fa:16:3e:00:00:0A"));
}

static void
a_mac_of_the_wrong_length_or_shape_is_refused(void **state)
{
	assert_false(hv_mac_valid(NULL));
	assert_false(hv_mac_valid(""));
	assert_false(hv_mac_valid("fa:16:3e:00:00:0"));   /* 16 */
	assert_false(hv_mac_valid("fa:16:3e:00:00:011")); /* 18 */
	assert_false(hv_mac_valid("fa:16:3e:00:00"));     /* five pairs */
	assert_false(hv_mac_valid("fa-16-3e-00-00-01"));  /* other separator */
	assert_false(hv_mac_valid("fa163e:00:00:01:02")); /* separator moved */
	assert_false(hv_mac_valid("fa:16:3e:00:00:0g"));  /* not hex */
	assert_false(hv_mac_valid(" a:16:3e:00:00:01"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_lower_case_uuid_passes),
		cmocka_unit_test(an_upper_case_uuid_is_refused),
		cmocka_unit_test(a_uuid_of_the_wrong_length_or_shape_is_refused),
		cmocka_unit_test(a_lower_case_mac_passes),
		cmocka_unit_test(an_upper_case_mac_is_refused),
		cmocka_unit_test(a_mac_of_the_wrong_length_or_shape_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
