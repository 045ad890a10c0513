/* central_metrics.c - hvcentral's /metrics (see central_metrics.h). The page is at most a
 * second old; the server thread never sees anything but the rendered text. */
#include "central_metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lifecycle.h"
#include "metrics.h"

#define REFRESH_MS 1000

struct cmx {
	pthread_mutex_t mu;
	struct mx_server *server;
	char *page; /* under mu: what a scrape returns */
	int64_t next_refresh_ms;
	struct mx_histogram cmd[LC_CMD_N]; /* loop-owned */
};

static void
serve(void *ctx, struct hv_text *t)
{
	struct cmx *m = ctx;

	pthread_mutex_lock(&m->mu);
	mx_family(t, "hvcentral_up", "gauge", "1: the page below was rendered by the loop");
	mx_sample(t, "hvcentral_up", NULL, m->page != NULL);
	if (m->page)
		hv_text_printf(t, "%s", m->page);
	pthread_mutex_unlock(&m->mu);
}

int
cmx_new(const char *listen, struct cmx **ret, struct hv_error *err)
{
	struct cmx *m;
	int r;

	*ret = NULL;
	if (!listen || !*listen)
		return 0;
	if (!(m = calloc(1, sizeof *m)))
		return hv_error_set(err, -ENOMEM, "metrics.listen", "out of memory");
	pthread_mutex_init(&m->mu, NULL);
	if ((r = mx_server_start(listen, serve, m, &m->server, err)) < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void
cmx_free(struct cmx *m)
{
	if (!m)
		return;
	mx_server_free(m->server);
	free(m->page);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void
cmx_command(struct cmx *m, const char *action, int64_t created_ms, int64_t now_ms)
{
	int c = action ? lc_cmd_parse(action) : -1;

	if (!m || c < 0 || c >= LC_CMD_N || !created_ms)
		return;
	mx_observe(&m->cmd[c], now_ms > created_ms ? (double)(now_ms - created_ms) / 1000 : 0);
}

static void
render_hosts(struct hv_text *t, struct store *store, const struct reg_intervals *iv, int64_t now_ms)
{
	unsigned n[REG_DOWN + 1] = {0};
	json_t *hosts = NULL, *h;
	struct hv_error err = {0};
	size_t i;

	if (store_host_list(store, &hosts, &err) >= 0)
		json_array_foreach (hosts, i, h)
			n[reg_state_at(json_integer_value(json_object_get(h, "last_seen_ms")),
				       now_ms, iv)]++;
	json_decref(hosts);
	mx_family(t, "hvcentral_hosts", "gauge", "Known hosts by liveness state");
	for (int s = REG_UP; s <= REG_DOWN; s++)
		mx_sample(t, "hvcentral_hosts",
			  (const char *[]){"state", reg_state_name((enum reg_state)s), NULL}, n[s]);
}

static void
render_servers(struct hv_text *t, struct store *store)
{
	unsigned n[LC_VM_N] = {0};
	json_t *list = NULL, *s;
	struct hv_error err = {0};
	size_t i;

	if (store_instance_list(store, NULL, false, &list, &err) >= 0)
		json_array_foreach (list, i, s) {
			int vm = lc_vm_parse(json_string_value(json_object_get(s, "vm_state")));

			if (vm >= 0 && vm < LC_VM_N)
				n[vm]++;
		}
	json_decref(list);
	mx_family(t, "hvcentral_servers", "gauge", "Servers (not deleted) by vm_state");
	for (int vm = 0; vm < LC_VM_N; vm++)
		if (vm != LC_VM_DELETED)
			mx_sample(t, "hvcentral_servers",
				  (const char *[]){"vm_state", lc_vm_name((enum lc_vm)vm), NULL},
				  n[vm]);
}

void
cmx_refresh(struct cmx *m, struct store *store, const struct reg_intervals *liveness,
	    int64_t now_ms)
{
	struct hv_text t = {0};

	if (!m || now_ms < m->next_refresh_ms)
		return;
	m->next_refresh_ms = now_ms + REFRESH_MS;
	render_hosts(&t, store, liveness, now_ms);
	render_servers(&t, store);
	mx_family(&t, "hvcentral_command_duration_seconds", "histogram",
		  "Commands from creation to their result, by action");
	for (int c = 0; c < LC_CMD_N; c++)
		if (m->cmd[c].count)
			mx_histogram_write(
				&t, "hvcentral_command_duration_seconds",
				(const char *[]){"action", lc_cmd_name((enum lc_cmd)c), NULL},
				&m->cmd[c]);
	if (t.oom) {
		hv_text_release(&t);
		return;
	}
	pthread_mutex_lock(&m->mu);
	free(m->page);
	m->page = t.buf;
	pthread_mutex_unlock(&m->mu);
}
