/* Console tokens (single use, expiry, a gone server's tokens) and the websocket codec
 * (handshake key, masking, the three length forms, fragments, oversize and RFC breaks). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "console/token.h"
#include "console/ws.h"

static struct ctok_target
target(const char *server)
{
	struct ctok_target t = {.port = 5901};
	snprintf(t.server, sizeof t.server, "%s", server);
	snprintf(t.type, sizeof t.type, "vnc");
	snprintf(t.host, sizeof t.host, "127.0.0.1");
	return t;
}

static void
token_is_single_use(void **state)
{
	(void)state;
	struct ctok *t = ctok_new(600000);
	struct ctok_target tg = target("s1"), got;
	struct hv_error err = {0};
	char tok[CTOK_LEN], other[CTOK_LEN];
	assert_int_equal(ctok_issue(t, &tg, 1000, tok, &err), 0);
	assert_int_equal(ctok_issue(t, &tg, 1000, other, &err), 0);
	assert_int_equal(strlen(tok), CTOK_LEN - 1);
	assert_int_equal(
		strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		CTOK_LEN - 1);
	assert_string_not_equal(tok, other);
	assert_int_equal(ctok_consume(t, tok, 2000, &got, &err), 0);
	assert_string_equal(got.host, "127.0.0.1");
	assert_int_equal(got.port, 5901);
	assert_int_equal(ctok_consume(t, tok, 2000, &got, &err), -ENOENT);
	assert_string_equal(err.field, "token");
	assert_int_equal(ctok_count(t), 1);
	ctok_free(t);
}

static void
token_expires(void **state)
{
	(void)state;
	struct ctok *t = ctok_new(1000);
	struct ctok_target tg = target("s1"), got;
	struct hv_error err = {0};
	char tok[CTOK_LEN];
	assert_int_equal(ctok_issue(t, &tg, 5000, tok, &err), 0);
	assert_int_equal(ctok_consume(t, tok, 6000, &got, &err), -ENOENT);
	assert_int_equal(ctok_count(t), 0);
	assert_int_equal(ctok_issue(t, &tg, 5000, tok, &err), 0);
	assert_int_equal(ctok_consume(t, tok, 5999, &got, &err), 0);
	ctok_free(t);
}

static void
token_of_a_gone_server_is_dropped(void **state)
{
	(void)state;
	struct ctok *t = ctok_new(600000);
	struct ctok_target a = target("s1"), b = target("s2"), got;
	struct hv_error err = {0};
	char ta[CTOK_LEN], tb[CTOK_LEN];
	assert_int_equal(ctok_issue(t, &a, 0, ta, &err), 0);
	assert_int_equal(ctok_issue(t, &b, 0, tb, &err), 0);
	ctok_expire(t, 1, "s1");
	assert_int_equal(ctok_consume(t, ta, 2, &got, &err), -ENOENT);
	assert_int_equal(ctok_consume(t, tb, 2, &got, &err), 0);
	assert_string_equal(got.server, "s2");
	ctok_free(t);
}

static void
token_refuses_a_bad_target_and_a_bad_token(void **state)
{
	(void)state;
	struct ctok *t = ctok_new(600000);
	struct ctok_target tg = target("s1"), got;
	struct hv_error err = {0};
	char tok[CTOK_LEN];
	tg.port = 0;
	assert_int_equal(ctok_issue(t, &tg, 0, tok, &err), -EINVAL);
	assert_string_equal(err.field, "port");
	tg = target("s1");
	snprintf(tg.host, sizeof tg.host, "a/b");
	assert_int_equal(ctok_issue(t, &tg, 0, tok, &err), -EINVAL);
	assert_string_equal(err.field, "host");
	assert_int_equal(ctok_consume(t, NULL, 0, &got, &err), -ENOENT);
	assert_int_equal(ctok_consume(t, "short", 0, &got, &err), -ENOENT);
	char id[9];
	ctok_log_id("abc", id);
	assert_int_equal(strlen(id), 8);
	ctok_free(t);
}

static void
ws_accept_matches_the_rfc(void **state)
{
	(void)state;
	char acc[29];
	ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* A masked client frame of n payload bytes (fin, opcode op) into buf; its size. */
static size_t
client_frame(unsigned char *buf, unsigned op, bool fin, const unsigned char *p, size_t n)
{
	static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = ws_header(buf, (enum ws_opcode)op, n);
	if (!fin)
		buf[0] &= 0x7f;
	buf[1] |= 0x80;
	memcpy(buf + h, mask, 4);
	for (size_t i = 0; i < n; i++)
		buf[h + 4 + i] = p[i] ^ mask[i % 4];
	return h + 4 + n;
}

static void
ws_rfc_masked_hello(void **state)
{
	(void)state;
	/* RFC 6455 5.7: a masked "Hello" */
	unsigned char b[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct ws_frame fr;
	assert_int_equal(ws_parse(b, sizeof b, 1024, &fr), sizeof b);
	assert_int_equal(fr.opcode, WS_TEXT);
	assert_true(fr.fin);
	assert_int_equal(fr.len, 5);
	assert_memory_equal(fr.payload, "Hello", 5);
	for (size_t n = 0; n < sizeof b; n++) /* every prefix is "more needed" */
		assert_int_equal(ws_parse(b, n, 1024, &fr), 0);
}

static void
ws_lengths_125_126_65536(void **state)
{
	(void)state;
	static unsigned char p[65536], buf[65536 + 14];
	size_t sizes[] = {0, 125, 126, 65535, 65536};
	for (size_t i = 0; i < sizeof p; i++)
		p[i] = (unsigned char)(i * 7);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		size_t total = client_frame(buf, WS_BINARY, true, p, n);
		assert_int_equal(total, n + 4 + (n < 126 ? 2 : n <= 65535 ? 4 : 10));
		struct ws_frame fr;
		assert_int_equal(ws_parse(buf, total - 1, 70000, &fr), 0);
		assert_int_equal(ws_parse(buf, total, 70000, &fr), (ssize_t)total);
		assert_int_equal(fr.len, n);
		assert_memory_equal(fr.payload, p, n);
	}
}

static void
ws_fragments_and_control_frames(void **state)
{
	(void)state;
	unsigned char buf[256];
	struct ws_frame fr;
	size_t n = client_frame(buf, WS_BINARY, false, (const unsigned char *)"RFB ", 4);
	n += client_frame(buf + n, WS_CONT, true, (const unsigned char *)"003", 3);
	ssize_t a = ws_parse(buf, n, 1024, &fr);
	assert_true(a > 0);
	assert_false(fr.fin);
	assert_int_equal(fr.opcode, WS_BINARY);
	assert_int_equal(ws_parse(buf + a, n - (size_t)a, 1024, &fr), (ssize_t)n - a);
	assert_true(fr.fin);
	assert_int_equal(fr.opcode, WS_CONT);
	assert_memory_equal(fr.payload, "003", 3);
	/* a ping between fragments is fine; a fragmented ping is not */
	n = client_frame(buf, WS_PING, true, (const unsigned char *)"x", 1);
	assert_int_equal(ws_parse(buf, n, 1024, &fr), (ssize_t)n);
	assert_int_equal(fr.opcode, WS_PING);
	n = client_frame(buf, WS_PING, false, (const unsigned char *)"x", 1);
	assert_int_equal(ws_parse(buf, n, 1024, &fr), -EPROTO);
}

static void
ws_refuses_oversize_and_unmasked(void **state)
{
	(void)state;
	static unsigned char p[2000], buf[2100];
	struct ws_frame fr;
	size_t n = client_frame(buf, WS_BINARY, true, p, sizeof p);
	assert_int_equal(ws_parse(buf, n, 1999, &fr), -EMSGSIZE);
	/* a length-only header already tells: refused before the payload arrives */
	assert_int_equal(ws_parse(buf, 4, 1999, &fr), -EMSGSIZE);
	n = client_frame(buf, WS_PING, true, p, 126);
	assert_int_equal(ws_parse(buf, n, 1999, &fr), -EMSGSIZE);
	unsigned char unmasked[] = {0x82, 0x01, 'x'};
	assert_int_equal(ws_parse(unmasked, sizeof unmasked, 1024, &fr), -EPROTO);
	unsigned char rsv[] = {0xc2, 0x81, 0, 0, 0, 0, 'x'};
	assert_int_equal(ws_parse(rsv, sizeof rsv, 1024, &fr), -EPROTO);
	unsigned char op3[] = {0x83, 0x81, 0, 0, 0, 0, 'x'};
	assert_int_equal(ws_parse(op3, sizeof op3, 1024, &fr), -EPROTO);
}

static void
ws_header_forms(void **state)
{
	(void)state;
	unsigned char h[10];
	assert_int_equal(ws_header(h, WS_BINARY, 125), 2);
	assert_int_equal(h[0], 0x82);
	assert_int_equal(h[1], 125);
	assert_int_equal(ws_header(h, WS_BINARY, 126), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2] << 8 | h[3], 126);
	assert_int_equal(ws_header(h, WS_CLOSE, 65536), 10);
	assert_int_equal(h[0], 0x88);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[7], 1);
	assert_int_equal(h[8] | h[9], 0);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_is_single_use),
		cmocka_unit_test(token_expires),
		cmocka_unit_test(token_of_a_gone_server_is_dropped),
		cmocka_unit_test(token_refuses_a_bad_target_and_a_bad_token),
		cmocka_unit_test(ws_accept_matches_the_rfc),
		cmocka_unit_test(ws_rfc_masked_hello),
		cmocka_unit_test(ws_lengths_125_126_65536),
		cmocka_unit_test(ws_fragments_and_control_frames),
		cmocka_unit_test(ws_refuses_oversize_and_unmasked),
		cmocka_unit_test(ws_header_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
