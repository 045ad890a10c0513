/* os_actions.c - nova's os-instance-actions over the commands hvcentral sent a server (the
 * command journal is its history): GET /servers/{id}/os-instance-actions and .../{id}, in
 * nova's shapes, the request id being the command's id. Reads through the service layer
 * only; read-only commands (console log, console URL) are no actions in nova's sense. */
#include "os-priv.h"

#include <stdio.h>
#include <string.h>

/* The protocol's command names as nova's action names; NULL: not an action. */
static const char *
nova_action(const char *command)
{
	static const char *const map[][2] = {
		{"spawn", "create"},
		{"destroy", "delete"},
		{"confirm_resize", "confirmResize"},
		{"revert_resize", "revertResize"},
		{"snapshot", "createImage"},
		{"set_admin_password", "changePassword"},
		{"console_log", NULL},
		{"get_console", NULL},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i][0], command) == 0)
			return map[i][1];
	return command;
}

static const char *
text(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* One action; events adds the command's one event (nova shows them from 2.51 to all). */
static void
jw_action(struct os_jw *w, const char *key, const json_t *server, const json_t *cmd,
	  const char *action, bool events)
{
	char at[32];
	const char *state = text(cmd, "state");
	bool failed = strcmp(state, "failed") == 0, over = failed || strcmp(state, "done") == 0;
	os_time(json_integer_value(json_object_get(cmd, "created_ms")), at);
	os_jw_open(w, key, '{');
	os_jw_str(w, "action", action);
	os_jw_str(w, "instance_uuid", text(server, "uuid"));
	os_jw_str(w, "request_id", text(cmd, "cmd_id"));
	os_jw_str(w, "user_id", "");
	os_jw_str(w, "project_id", text(server, "project_id"));
	os_jw_str(w, "start_time", at);
	os_jw_str(w, "updated_at", at);
	os_jw_str(w, "message", failed ? "Error" : NULL);
	if (events) {
		char name[80];
		snprintf(name, sizeof name, "compute_%s", text(cmd, "action"));
		os_jw_open(w, "events", '[');
		os_jw_open(w, NULL, '{');
		os_jw_str(w, "event", name);
		os_jw_str(w, "start_time", at);
		os_jw_str(w, "finish_time", over ? at : NULL);
		os_jw_str(w, "result", !over ? NULL : failed ? "Error" : "Success");
		os_jw_str(w, "traceback",
			  failed ? text(json_object_get(cmd, "error"), "message") : NULL);
		os_jw_close(w, '}');
		os_jw_close(w, ']');
	}
	os_jw_close(w, '}');
}

void
os_instance_actions(struct os_front *f, struct os_req *q, const char *server,
		    const char *request_id)
{
	struct hv_error err = {0};
	struct os_jw w = {0};
	json_t *s = os_server_find(f, q, server), *cmds = NULL, *c;
	size_t i;
	if (!s)
		return;
	int r = svc_server_actions(f->svc, text(s, "uuid"), &cmds, &err);
	if (r < 0) {
		json_decref(s);
		return os_svc_error(q, r, &err);
	}
	os_jw_open(&w, NULL, '{');
	if (!request_id)
		os_jw_open(&w, "instanceActions", '[');
	json_array_foreach (cmds, i, c) {
		const char *action = nova_action(text(c, "action"));
		if (!action || (request_id && strcmp(text(c, "cmd_id"), request_id) != 0))
			continue;
		jw_action(&w, request_id ? "instanceAction" : NULL, s, c, action, request_id);
		if (request_id)
			break;
	}
	if (!request_id) {
		os_jw_close(&w, ']');
	} else if (i == json_array_size(cmds)) {
		hv_text_release(&w.t);
		os_error(q, 404, "Action %.64s for instance %s could not be found.", request_id,
			 text(s, "uuid"));
		goto out;
	}
	os_jw_close(&w, '}');
	os_reply_jw(q, 200, &w);
out:
	json_decref(cmds);
	json_decref(s);
}
