/* fuzz_proto.c - libFuzzer target for everything that reads bytes from the controller: the
 * HVA/1 frame decoder, the JSON layer and COMMAND body validation. Input format: one byte
 * for the frame count (mod 7), then each frame as a 2-byte little-endian length and its
 * bytes (the last frame takes what is left). It must never crash, leak or read out of
 * bounds, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_frame frames[7];
	struct proto_msg m;
	struct hv_error err;
	const char *code = NULL;
	size_t n, off = 1;

	if (size < 1)
		return 0;
	n = data[0] % 7;
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (i == n - 1) {
			len = size - off;
		} else {
			if (off + 2 > size)
				return 0;
			len = (size_t)data[off] | ((size_t)data[off + 1] << 8);
			off += 2;
			if (len > size - off)
				len = size - off;
		}
		frames[i].data = data + off;
		frames[i].len = len;
		off += len;
	}
	if (proto_decode(frames, n, &m, &code, &err) == 0) {
		struct req r;
		struct proto_wire w;

		if (req_parse(m.body, &r, &code, &err) == 0) {
			struct req_spec_view v;

			if (r.spec && req_spec_view(r.spec, r.uuid, "/images", &v, &err) == 0)
				req_spec_view_release(&v);
			req_release(&r);
		}
		json_decref(req_redacted(m.body));
		if (m.type == PROTO_COMMAND && !m.hdr.cmd_id[0])
			__builtin_trap(); /* the decoder promised a cmd_id on every COMMAND */
		if (proto_encode(&m, &w, &err) == 0)
			proto_wire_release(&w);
		proto_msg_release(&m);
	} else if (m.body) {
		__builtin_trap(); /* a refused message must not hand out a body */
	}
	return 0;
}
