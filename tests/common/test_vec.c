/* test_vec.c - common/vec.h: HV_GROW makes room by doubling, keeps what the array held, and
 * refuses a size that would overflow without touching the caller's pointer or capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vec.h"

static void
growth_doubles_and_keeps_the_elements(void **state)
{
	int *v = NULL;
	size_t n = 0, cap = 0, grows = 0, last_cap = 0;

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(HV_GROW(v, cap, n + 1), 0);
		assert_true(cap >= n + 1);
		if (cap != last_cap) {
			assert_true(last_cap == 0 ? cap == 8 : cap == last_cap * 2);
			last_cap = cap;
			grows++;
		}
		v[n++] = i * 3;
	}
	assert_int_equal(cap, 1024);
	assert_int_equal(grows, 8); /* 8, 16, ..., 1024: not one realloc per element */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i * 3);
	free(v);
}

static void
enough_room_changes_nothing(void **state)
{
	char *v = NULL;
	size_t cap = 0;

	assert_int_equal(HV_GROW(v, cap, 100), 0);
	assert_int_equal(cap, 128); /* one step to the first doubling that fits */
	char *before = v;
	assert_int_equal(HV_GROW(v, cap, 128), 0);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 128);
	assert_int_equal(HV_GROW(v, cap, 0), 0);
	free(v);
}

static void
an_overflowing_size_is_refused_and_nothing_changes(void **state)
{
	uint64_t *v = NULL;
	size_t cap = 0;

	assert_int_equal(HV_GROW(v, cap, 4), 0);
	v[3] = 42;
	uint64_t *before = v;
	/* elements * size would wrap around */
	assert_int_equal(HV_GROW(v, cap, SIZE_MAX / sizeof *v + 1), -ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8);
	/* the doubling itself would wrap around */
	assert_int_equal(HV_GROW(v, cap, SIZE_MAX), -ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8);
	assert_int_equal(v[3], 42);
	free(v);
}

/* The wiping variant keeps the text it moves, and refuses an overflow the same way. */
static void
a_buffer_that_may_hold_a_secret_grows_keeping_its_bytes(void **state)
{
	char *p = NULL;
	size_t cap = 0, len = 0;
	const char *chunk = "admin_pass=s3cret;";
	for (int i = 0; i < 100; i++) {
		size_t n = strlen(chunk);
		assert_int_equal(HV_GROW_WIPE(p, cap, len + n + 1), 0);
		memcpy(p + len, chunk, n + 1);
		len += n;
	}
	assert_true(cap >= len + 1);
	assert_int_equal(strlen(p), 100 * strlen(chunk));
	assert_memory_equal(p + 99 * strlen(chunk), chunk, strlen(chunk));
	assert_int_equal(HV_GROW_WIPE(p, cap, SIZE_MAX), -ENOMEM);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(growth_doubles_and_keeps_the_elements),
		cmocka_unit_test(enough_room_changes_nothing),
		cmocka_unit_test(an_overflowing_size_is_refused_and_nothing_changes),
		cmocka_unit_test(a_buffer_that_may_hold_a_secret_grows_keeping_its_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
