/* os_remote.c - nova's remote consoles: POST /servers/{id}/remote-consoles (2.6+) and the
 * 2.1 actions os-getVNCConsole and os-getSerialConsole. The server's host is asked for its
 * console endpoint (get_console, read-only); its answer becomes a single-use token inside
 * a URL of hvcentral's proxy (os_console.c). A front: it checks the request's shape and
 * maps errors; never puts the endpoint's password or a token in a reply's log. */
#include "os-priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "log.h"

static const char *
str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* nova's protocol and type pairs; those hvcentral does not serve are unavailable (400). */
static int
check_kind(struct os_req *q, const char *proto, const char *type)
{
	static const char *const pairs[][2] = {
		{"vnc", "novnc"},     {"vnc", "xvpvnc"},    {"spice", "spice-html5"},
		{"rdp", "rdp-html5"}, {"serial", "serial"}, {"mks", "webmks"},
	};
	size_t i = 0;
	while (i < sizeof pairs / sizeof pairs[0] &&
	       (strcmp(pairs[i][0], proto) != 0 || strcmp(pairs[i][1], type) != 0))
		i++;
	if (i == sizeof pairs / sizeof pairs[0]) {
		os_error(q, 400,
			 "Invalid input for field/attribute type. Value: %.32s (with "
			 "protocol %.32s)",
			 type, proto);
		return -1;
	}
	if (strcmp(type, "novnc") != 0 && strcmp(type, "serial") != 0) {
		os_error(q, 400, "Unavailable console type %.32s.", type);
		return -1;
	}
	return 0;
}

/* Asks the server's host for the console; the request waits for os_console_done. */
static void
ask(struct os_front *f, struct os_req *q, const json_t *s, const char *key, const char *proto,
    const char *type)
{
	struct hv_error err = {0};
	json_t *inst = NULL, *args = json_pack("{s:s}", "type", proto);
	char cmd[PROTO_MAX_ID + 1];
	if (!args)
		return os_error(q, 503, "out of memory");
	int r = svc_server_command(f->svc, str(s, "uuid"), "get_console", false, args, f->now,
				   &inst, cmd, &err);
	json_decref(inst);
	json_decref(args);
	if (r == -EPERM)
		return os_error(q, 409, "Instance %s is not ready (vm_state %s).", str(s, "uuid"),
				str(s, "vm_state"));
	if (r < 0)
		return os_svc_error(q, r, &err);
	snprintf(q->console_key, sizeof q->console_key, "%s", key);
	snprintf(q->console_proto, sizeof q->console_proto, "%s", proto);
	snprintf(q->console_type, sizeof q->console_type, "%s", type);
	snprintf(q->console_server, sizeof q->console_server, "%s", str(s, "uuid"));
	snprintf(q->console_project, sizeof q->console_project, "%s", str(s, "project_id"));
	if (os_wait(f, q, cmd, 0) < 0)
		q->console_key[0] = '\0';
}

void
os_remote_consoles(struct os_front *f, struct os_req *q, const char *id)
{
	json_t *doc = NULL, *body = NULL, *s = NULL;
	if (!os_mv(q, 6)) {
		os_error(q, 404, "The resource could not be found (remote-consoles needs 2.6).");
		return;
	}
	if (os_reader_refused(q) || !(s = os_server_find(f, q, id)) ||
	    os_body(q, "remote_console", &doc, &body) < 0)
		goto out;
	const char *proto = json_string_value(json_object_get(body, "protocol"));
	const char *type = json_string_value(json_object_get(body, "type"));
	if (!proto || !type) {
		os_error(q, 400,
			 "Invalid input for field/attribute remote_console: protocol and "
			 "type are required strings");
		goto out;
	}
	if (check_kind(q, proto, type) == 0)
		ask(f, q, s, "remote_console", proto, type);
out:
	json_decref(doc);
	json_decref(s);
}

bool
os_console_action(struct os_front *f, struct os_req *q, const json_t *s, const char *key,
		  const json_t *body)
{
	const char *proto;
	if (strcmp(key, "os-getVNCConsole") == 0)
		proto = "vnc";
	else if (strcmp(key, "os-getSerialConsole") == 0)
		proto = "serial";
	else
		return false;
	const char *type = json_string_value(json_object_get(body, "type"));
	if (!json_is_object(body) || !type)
		os_error(q, 400, "Invalid input for field/attribute %s.type: a required string",
			 key);
	else if (check_kind(q, proto, type) == 0)
		ask(f, q, s, "console", proto, type);
	return true;
}

void
os_console_done(struct os_req *q, bool ok, json_t *result)
{
	json_t *d = json_object_get(result, "data");
	struct hv_error err = {0};
	char url[512], id[9];
	if (!ok) {
		const char *msg = str(result, "message");
		return os_error(q, 400, "Unavailable console type %s: %s", q->console_type,
				*msg ? msg : "the host has none");
	}
	if (json_is_object(d)) /* the kind asked is the kind the URL serves */
		json_object_set_new(d, "type", json_string(q->console_proto));
	int r = svc_console_url(q->front->svc, q->console_server, d, q->front->now, url, id, &err);
	hj_wipe_string(json_object_get(d, "password"));
	if (r == -ENOENT)
		return os_error(q, 404, "Instance %s could not be found.", q->console_server);
	if (r < 0)
		return os_error(q, r == -ENOMEM ? 503 : 400, "Unavailable console type %s: %s",
				q->console_type, err.message);
	log_info("console: %s token %s for server %s", q->console_proto, id, q->console_server);
	json_t *c = json_pack("{s:s, s:s}", "type", q->console_type, "url", url);
	if (c && strcmp(q->console_key, "remote_console") == 0)
		json_object_set_new(c, "protocol", json_string(q->console_proto));
	sodium_memzero(url, sizeof url);
	os_reply(q, 200, json_pack("{s:o}", q->console_key, c));
}
