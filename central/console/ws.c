/* ws.c - websocket handshake key and frame codec (see ws.h), SHA-1 written from FIPS 180-4
 * for the handshake alone (never a security check: RFC 6455 fixes the hash). Must stay
 * pure. */
#include "ws.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static uint32_t
rol(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static void
sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = rol(b, 30), b = a, a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* SHA-1 of a short message (the key and GUID: under 200 bytes). */
static void
sha1_short(const unsigned char *m, size_t len, unsigned char ret[20])
{
	uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	unsigned char buf[256] = {0};
	size_t padded = (len + 8) / 64 * 64 + 64;
	memcpy(buf, m, len);
	buf[len] = 0x80;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		buf[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (size_t off = 0; off < padded; off += 64)
		sha1_block(h, buf + off);
	for (int i = 0; i < 20; i++)
		ret[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

void
ws_accept(const char *key, char ret[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char m[200], d[20];
	size_t n = strnlen(key, 128);
	memcpy(m, key, n);
	memcpy(m + n, guid, sizeof guid - 1);
	sha1_short(m, n + sizeof guid - 1, d);
	sodium_bin2base64(ret, 29, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
}

ssize_t
ws_parse(unsigned char *buf, size_t len, size_t max, struct ws_frame *ret)
{
	if (len < 2)
		return 0;
	unsigned op = buf[0] & 0x0f;
	bool control = op & 0x8;
	if ((buf[0] & 0x70) || !(buf[1] & 0x80) || (op > WS_BINARY && op < WS_CLOSE) ||
	    op > WS_PONG || (control && !(buf[0] & 0x80)))
		return -EPROTO;
	uint64_t n = buf[1] & 0x7f;
	size_t head = 2;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (uint64_t)buf[2] << 8 | buf[3];
		head = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		head = 10;
	}
	if (n > max || (control && n > 125))
		return -EMSGSIZE;
	if (len < head + 4 + n)
		return 0;
	unsigned char *mask = buf + head, *p = buf + head + 4;
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[i % 4];
	ret->opcode = (enum ws_opcode)op;
	ret->fin = buf[0] & 0x80;
	ret->payload = p;
	ret->len = (size_t)n;
	return (ssize_t)(head + 4 + n);
}

size_t
ws_header(unsigned char ret[10], enum ws_opcode opcode, uint64_t len)
{
	ret[0] = 0x80 | (unsigned char)opcode;
	if (len < 126) {
		ret[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		ret[1] = 126;
		ret[2] = (unsigned char)(len >> 8);
		ret[3] = (unsigned char)len;
		return 4;
	}
	ret[1] = 127;
	for (int i = 0; i < 8; i++)
		ret[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	return 10;
}
