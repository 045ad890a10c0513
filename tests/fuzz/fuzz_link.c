/* fuzz_link.c - libFuzzer target for what hvcentral reads on its agent socket: the HVA/1
 * frames (common/proto.c proto_decode) and then the message's body as the agent link
 * (central/link.c through ctl_on_agent) handles it for host node-1, against a fresh
 * controller (fuzz_central.h) whose two hosts have servers in many states and two commands
 * in flight. Input format as fuzz_proto.c: one byte for the frame count (mod 7), then each
 * frame as a 2-byte little-endian length and its bytes (the last frame takes what is left).
 * As hvcentral's main.c does, a message whose header names another host is dropped before
 * the link sees it. Beyond never crashing, leaking or reading out of bounds: a refused
 * frame set hands out no body, the store still lists the servers afterwards, and the
 * resend/expiry tick runs on whatever state the message left, node-1's message leaves
 * node-2's servers alone, and a failed command reaches the done callback as {code, message}. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_central.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 7

static size_t
split_frames(const uint8_t *data, size_t size, struct proto_frame *frames)
{
	size_t n, off = 1;

	if (size < 1)
		return 0;
	n = data[0] % MAX_FRAMES;
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
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_frame frames[MAX_FRAMES];
	struct proto_msg m = {0};
	struct hv_error err = {0};
	const char *code = NULL;
	struct fzc f;
	json_t *other_before = NULL, *other_after, *list = NULL;
	size_t n = split_frames(data, size, frames);
	bool isolation = true;

	if (n == 0)
		return 0;
	if (proto_decode(frames, n, &m, &code, &err) < 0) {
		if (m.body)
			__builtin_trap(); /* a refused message must not hand out a body */
		return 0;
	}
	if (strcmp(m.hdr.host_id, "node-1") != 0) {
		proto_msg_release(&m); /* main.c: key, routing id and header must agree */
		return 0;
	}
	fzc_open(&f);
	if (isolation)
		other_before = fzc_servers_of(&f, "node-2");
	ctl_on_agent(f.ctl, "node-1", "127.0.0.1", &m, FZC_T0 + 100);
	if (isolation) {
		other_after = fzc_servers_of(&f, "node-2");
		if (!json_equal(other_before, other_after))
			__builtin_trap(); /* node-1 changed a server of node-2 */
		json_decref(other_before);
		json_decref(other_after);
	}
	if (svc_server_list(f.svc, NULL, true, &list, &err) < 0 || !json_is_array(list))
		__builtin_trap(); /* the message left the store unreadable */
	json_decref(list);
	ctl_tick(f.ctl, FZC_T0 + 2000);
	ctl_tick(f.ctl, FZC_T0 + 3600000);
	fzc_close(&f);
	proto_msg_release(&m);
	return 0;
}
