/* console.c - the rule of a remote console's life: a console URL names one server on one
 * host through a single-use, expiring token (central/console/token.c) of hvcentral's proxy,
 * and it ends when the server does: a deleted server, one being deleted, or one whose host
 * changed (evacuated, migrated) has no console, so its unused tokens are refused and its
 * open sessions are closed by the front that carries them. Both fronts (the hv API and the
 * REST API) issue URLs here. Must never log, nor hand out a token but inside its URL. */
#include "service-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "console/token.h"

int
svc_console_serve(struct svc *sv, const char *base_url, int64_t ttl_ms, struct hv_error *err)
{
	struct ctok *t = ctok_new(ttl_ms);
	if (!t)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	ctok_free(sv->consoles);
	sv->consoles = t;
	snprintf(sv->console_base, sizeof sv->console_base, "%s", base_url);
	size_t n = strlen(sv->console_base);
	while (n && sv->console_base[n - 1] == '/')
		sv->console_base[--n] = '\0';
	return 0;
}

void
svc_console_stop(struct svc *sv)
{
	ctok_free(sv->consoles);
	sv->consoles = NULL;
}

bool
svc_console_served(const struct svc *sv)
{
	return sv->consoles != NULL;
}

/* Whether inst (a stored record) still is the server a console of host_id shows. */
static bool
still_there(const json_t *inst, const char *host_id)
{
	return strcmp(field_or(inst, "vm_state", ""), "deleted") != 0 &&
	       strcmp(field_or(inst, "task_state", ""), "deleting") != 0 &&
	       strcmp(field_or(inst, "host", ""), host_id) == 0;
}

int
svc_console_url(struct svc *sv, const char *server, const json_t *endpoint, int64_t now_ms,
		char ret_url[512], char ret_log_id[9], struct hv_error *err)
{
	struct ctok_target to = {0};
	json_t *inst = NULL;
	char tok[CTOK_LEN];
	int r;
	if (!sv->consoles)
		return hv_error_set(err, -ENOTSUP, "",
				    "hvcentral serves no console proxy ([openstack] listen is "
				    "not set)");
	if ((r = store_instance_get(sv->store, server, &inst, err)) < 0)
		return r;
	snprintf(to.server, sizeof to.server, "%s", field_or(inst, "uuid", ""));
	snprintf(to.project, sizeof to.project, "%s", field_or(inst, "project_id", ""));
	snprintf(to.host_id, sizeof to.host_id, "%s", field_or(inst, "host", ""));
	snprintf(to.type, sizeof to.type, "%s", field_or(endpoint, "type", ""));
	snprintf(to.host, sizeof to.host, "%s", field_or(endpoint, "host", ""));
	snprintf(to.password, sizeof to.password, "%s", field_or(endpoint, "password", ""));
	const json_t *port = json_object_get(endpoint, "port");
	to.port = json_is_integer(port) && json_integer_value(port) > 0 &&
				  json_integer_value(port) <= 65535
			  ? (int)json_integer_value(port)
			  : 0;
	if (!still_there(inst, to.host_id))
		r = hv_error_set(err, -ENOENT, "server",
				 "server %s has no console: it is deleted "
				 "or left its host",
				 to.server);
	else if (strcmp(to.type, "vnc") != 0 && strcmp(to.type, "serial") != 0)
		r = hv_error_set(err, -EINVAL, "type", "console: the host answered type '%.16s'",
				 to.type);
	else
		r = ctok_issue(sv->consoles, &to, now_ms, tok, err);
	json_decref(inst);
	sodium_memzero(&to, sizeof to);
	if (r < 0)
		return r;
	ctok_url(sv->console_base, field_or(endpoint, "type", ""), tok, ret_url);
	ctok_log_id(tok, ret_log_id);
	sodium_memzero(tok, sizeof tok);
	return 0;
}

bool
svc_console_alive(struct svc *sv, const struct ctok_target *to)
{
	json_t *inst = NULL;
	if (store_instance_get(sv->store, to->server, &inst, NULL) < 0)
		return false;
	bool alive = still_there(inst, to->host_id);
	json_decref(inst);
	return alive;
}

int
svc_console_use(struct svc *sv, const char *token, int64_t now_ms, struct ctok_target *ret,
		struct hv_error *err)
{
	if (!sv->consoles)
		return hv_error_set(err, -ENOENT, "token", "console: no console proxy");
	int r = ctok_consume(sv->consoles, token, now_ms, ret, err);
	if (r < 0)
		return r;
	if (!svc_console_alive(sv, ret)) {
		ctok_expire(sv->consoles, now_ms, ret->server);
		sodium_memzero(ret, sizeof *ret);
		return hv_error_set(err, -ENOENT, "token",
				    "console: the token's server is deleted or left its host");
	}
	return 0;
}

void
svc_console_expire(struct svc *sv, int64_t now_ms, const char *server)
{
	if (sv->consoles)
		ctok_expire(sv->consoles, now_ms, server);
}
