/* ws.h - the RFC 6455 websocket pieces the console proxy needs: the handshake's accept key
 * and the frame codec. Pure: no I/O, no allocation, never logs. A server's view: frames
 * from the client must be masked, frames to it are not. */
#ifndef HVC_CONSOLE_WS_H
#define HVC_CONSOLE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xA
};

struct ws_frame {
	enum ws_opcode opcode;
	bool fin;
	unsigned char *payload; /* inside the parsed buffer, unmasked in place */
	size_t len;
};

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)). */
void ws_accept(const char *key, char ret[29]);
/* Parses the client frame at the start of buf (len bytes), unmasking its payload in place.
 * Returns the bytes it spans; 0 when buf holds only part of it; -EMSGSIZE when its payload
 * is longer than max (or a control frame's than 125); -EPROTO when it breaks the RFC
 * (unmasked, reserved bits or opcode, a fragmented control frame). */
ssize_t ws_parse(unsigned char *buf, size_t len, size_t max, struct ws_frame *ret);
/* Writes the header of an unmasked final frame carrying len bytes; returns its size (2-10). */
size_t ws_header(unsigned char ret[10], enum ws_opcode opcode, uint64_t len);

#endif
