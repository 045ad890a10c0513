/* test_metrics.c - the Prometheus text format of common/metrics: escaping, histograms,
 * the listen address rule (the server itself is exercised by e2e_metrics). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void
label_values_are_escaped(void **state)
{
	struct hv_text t = {0};

	(void)state;
	mx_family(&t, "x_total", "counter", "a help");
	mx_sample(&t, "x_total", (const char *[]){"a", "q\"b\\s\nn", "b", "plain", NULL}, 3);
	mx_sample(&t, "x_total", NULL, 0.25);
	assert_false(t.oom);
	assert_string_equal(t.buf, "# HELP x_total a help\n# TYPE x_total counter\n"
				   "x_total{a=\"q\\\"b\\\\s\\nn\",b=\"plain\"} 3\n"
				   "x_total 0.25\n");
	hv_text_release(&t);
}

static void
histogram_buckets_are_cumulative(void **state)
{
	struct mx_histogram h = {0};
	struct hv_text t = {0};

	(void)state;
	mx_observe(&h, 0.0005); /* le 0.001 */
	mx_observe(&h, 0.2);    /* le 0.5 */
	mx_observe(&h, 1000);   /* +Inf only */
	mx_histogram_write(&t, "d_seconds", (const char *[]){"command", "spawn", NULL}, &h);
	assert_false(t.oom);
	assert_non_null(strstr(t.buf, "d_seconds_bucket{command=\"spawn\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(t.buf, "d_seconds_bucket{command=\"spawn\",le=\"0.1\"} 1\n"));
	assert_non_null(strstr(t.buf, "d_seconds_bucket{command=\"spawn\",le=\"0.5\"} 2\n"));
	assert_non_null(strstr(t.buf, "d_seconds_bucket{command=\"spawn\",le=\"300\"} 2\n"));
	assert_non_null(strstr(t.buf, "d_seconds_bucket{command=\"spawn\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(t.buf, "d_seconds_count{command=\"spawn\"} 3\n"));
	assert_non_null(strstr(t.buf, "d_seconds_sum{command=\"spawn\"} 1000.2005\n"));
	hv_text_release(&t);
}

static void
render_nothing(void *ctx, struct hv_text *t)
{
	(void)ctx;
	(void)t;
}

static void
a_bad_listen_address_names_the_key(void **state)
{
	static const char *const bad[] = {
		"", "x", "0", "65536", "127.0.0.1:", "host.example:80", ":80", "127.0.0.1:80x"};
	struct mx_server *s = NULL;
	struct hv_error err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(mx_server_start(bad[i], render_nothing, NULL, &s, &err), -EINVAL);
		assert_string_equal(err.field, "metrics.listen");
		assert_null(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(histogram_buckets_are_cumulative),
		cmocka_unit_test(a_bad_listen_address_names_the_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
