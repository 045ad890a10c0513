/* main.c - hvcentral: flags and config, the sockets, and the one loop that owns them.
 * The ZAP handler is bound before the CURVE ROUTER (or libzmq would let every key in);
 * every agent message is dropped unless ZAP User-Id == header host_id, and a host's
 * messages go only to the connection last authenticated as that host (route.h), never to
 * whatever connection chose its name as routing id.
 * Each loop turn runs in one store transaction, and API replies leave only after it
 * commits, so an "ok" is never lost by a crash. Never logs a secret key. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "api/api.h"
#include "central_config.h"
#include "central_metrics.h"
#include "api/os.h"
#include "endpoint.h"
#include "fault.h"
#include "imgdata.h"
#include "ctl.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "proto.h"
#include "route.h"
#include "store/store.h"
#include "vec.h"
#include "zap.h"

#define BATCH 512

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* zmq.h hides it behind ZMQ_BUILD_DRAFT_API */
#endif

#define STATUS_EVERY_MS 5000 /* how often `systemctl status` learns the hosts up */

static volatile sig_atomic_t stopping, reload_requested;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stopping = 1;
}

struct outmsg {
	struct api_client cl;
	char *text;
};

/* A message to an agent, encoded, waiting for the turn's transaction to commit. */
struct outwire {
	struct proto_peer peer;
	struct proto_wire w;
	char cmd_id[PROTO_MAX_ID + 1];
	char what[16];
};

/* Where a turn's (or one request's) outputs begin: what to take back if its changes
 * cannot be stored. */
struct marks {
	size_t out, wires;
	uint64_t parked, os;
};

/* After a failed commit, each request and message is its own transaction for this long,
 * so that one write that cannot be stored takes back only its own request (reads go on). */
#define DEGRADED_MS 10000

struct central {
	void *zctx, *zap, *agents, *api_sock;
	struct store *store;
	struct allow *allow;
	struct ctl *ctl;
	struct svc *svc;
	struct api *api;
	struct imgdata *images;
	/* nothing leaves before the transaction that recorded it commits: API replies and
	 * agent messages wait here */
	struct outmsg *out;
	size_t n_out, cap_out;
	struct outwire *wires;
	size_t n_wires, cap_wires;
	int64_t degraded_until; /* see DEGRADED_MS */
	int64_t next_tick;
	const char *db_path;
	int64_t now;
	unsigned long n_dropped;
	struct route_table *routes;
	struct cmx *mx;      /* NULL unless [metrics] listen */
	struct os_front *os; /* NULL unless [openstack] listen */
	/* claims of another host already logged (hash of key host, claimed host, routing id):
	 * each is logged once, not once per message */
	uint64_t claims[64];
	size_t n_claims;
	struct hv_ratelimit refusal_log, pending_log, db_log; /* bounded: repeated causes */
};

static const char help_text[] =
	"Usage: hvcentral [-c FILE] [--state-dir DIR] [--listen ENDPOINT] [--api ENDPOINT]\n"
	"       hvcentral --init DIR\n"
	"       hvcentral --show-public-key [--state-dir DIR]\n"
	"       hvcentral --check-config [-c FILE]\n"
	"\n"
	"The hvagent controller: agents connect to it over CURVE-authenticated ZeroMQ (HVA/1,\n"
	"docs/protocol.md); hv talks to it on a local API socket (docs/api.md).\n"
	"\n"
	"  -c, --config FILE      config file (default " CENTRAL_CONFIG_DEFAULT_PATH ", optional)\n"
	"  --state-dir DIR        database, keypair and allowlist (config [DEFAULT] state_dir)\n"
	"  --listen ENDPOINT      where agents connect (config [agents] endpoint)\n"
	"  --api ENDPOINT         the API socket for hv (config [api] endpoint)\n"
	"  --init DIR             create DIR's keypair, allowlist directory and database, print "
	"the\n"
	"                         public key agents pin as [controller] server_public_key; "
	"idempotent\n"
	"  --show-public-key      print the controller's public key and exit\n"
	"  --check-config         print the effective config, or every error in it, and exit\n"
	"  -h, --help, --version\n"
	"\n"
	"Agents are allowed by key: <state_dir>/agents/<host_id>.pub holds the host's public key\n"
	"(`hvagent --show-public-key`). An unknown key is refused and listed as pending by\n"
	"`hv host list`; `hv host accept KEY --name HOST` allows it.\n"
	"\n"
	"Example:\n"
	"  hvcentral --init /var/lib/hvcentral\n"
	"  hvcentral --state-dir /var/lib/hvcentral --listen tcp://0.0.0.0:5555 &\n"
	"  hv host list\n";

static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct paths {
	char state[3072], keys[4096], allow[4096], db[4096], listen[512], api[512], images[3600];
};

static void
resolve_paths(const struct cfg *cfg, const char *state_dir, const char *listen, const char *api,
	      struct paths *p)
{
	snprintf(p->state, sizeof p->state, "%s",
		 state_dir ? state_dir : cfg_get_str(cfg, "DEFAULT", "state_dir"));
	snprintf(p->keys, sizeof p->keys, "%s/keys", p->state);
	const char *al = cfg_get_str(cfg, "agents", "allowlist_dir");
	if (al && *al)
		snprintf(p->allow, sizeof p->allow, "%s", al);
	else
		snprintf(p->allow, sizeof p->allow, "%s/agents", p->state);
	snprintf(p->db, sizeof p->db, "%s/hvcentral.db", p->state);
	const char *im = cfg_get_str(cfg, "images", "dir");
	if (im && *im)
		snprintf(p->images, sizeof p->images, "%s", im);
	else
		snprintf(p->images, sizeof p->images, "%s/images", p->state);
	snprintf(p->listen, sizeof p->listen, "%s",
		 listen ? listen : cfg_get_str(cfg, "agents", "endpoint"));
	const char *a = api ? api : cfg_get_str(cfg, "api", "endpoint");
	if (a && *a)
		snprintf(p->api, sizeof p->api, "%s", a);
	else
		endpoint_default(p->api, sizeof p->api);
}

static int
do_init(const struct paths *p)
{
	struct hv_error err = {0};
	struct keys_pair kp;
	bool created = false;
	struct store *s = NULL;
	struct allow *al = NULL;
	int r = mkdir_p(p->state, 0700);
	if (r < 0) {
		fprintf(stderr, "hvcentral: --init: cannot create %s: %s\n", p->state,
			strerror(-r));
		return 1;
	}
	if (keys_load_or_create(p->keys, "server", &kp, &created, &err) < 0 ||
	    allow_open(p->allow, &al, &err) < 0 || store_open(p->db, &s, &err) < 0) {
		fprintf(stderr, "hvcentral: --init: %s\n", err.message);
		keys_pair_wipe(&kp);
		allow_free(al);
		return 1;
	}
	printf("%s\n", kp.public_z85);
	fprintf(stderr, "hvcentral: %s keypair in %s, allowlist %s, database %s\n",
		created ? "created" : "kept existing", p->keys, p->allow, p->db);
	keys_pair_wipe(&kp);
	store_free(s);
	allow_free(al);
	return 0;
}

/* ---- callbacks ------------------------------------------------------------------------ */

/* Queues msg for host_id's connection, sent once the turn commits (flush_wires). */
static int
send_to_agent(void *ctx, const char *host_id, const struct proto_msg *msg)
{
	struct central *c = ctx;
	struct hv_error err = {0};
	const uint8_t *rid;
	size_t n;
	/* not connected since hvcentral started: the command waits, as for a host that is down */
	if (!route_find(c->routes, host_id, &rid, &n))
		return -EHOSTUNREACH;
	if (HV_GROW(c->wires, c->cap_wires, c->n_wires + 1) < 0)
		return -ENOMEM;
	struct outwire *o = &c->wires[c->n_wires];
	memset(o, 0, sizeof *o);
	int r = proto_encode(msg, &o->w, &err);
	if (r < 0) {
		hv_log(HV_LOG_WARNING, NULL, msg->hdr.cmd_id[0] ? msg->hdr.cmd_id : NULL,
		       "cannot encode %s for host=%s: %s", proto_type_name(msg->type), host_id,
		       err.message);
		return r;
	}
	memcpy(o->peer.routing_id, rid, n);
	o->peer.routing_id_len = n;
	snprintf(o->cmd_id, sizeof o->cmd_id, "%s", msg->hdr.cmd_id);
	snprintf(o->what, sizeof o->what, "%s", proto_type_name(msg->type));
	snprintf(o->peer.user_id, sizeof o->peer.user_id, "%s", host_id);
	c->n_wires++;
	return 0;
}

/* A send that fails here is a connection gone since the turn began: the journal resends a
 * command at its next try, an agent resends what was not acknowledged. */
static void
flush_wires(struct central *c)
{
	for (size_t i = 0; i < c->n_wires; i++) {
		struct outwire *o = &c->wires[i];
		struct hv_error err = {0};
		int r = proto_send_wire(c->agents, &o->peer, &o->w, ZMQ_DONTWAIT, o->what, &err);
		if (r < 0 && r != -EHOSTUNREACH && r != -EAGAIN)
			hv_log(HV_LOG_WARNING, NULL, o->cmd_id[0] ? o->cmd_id : NULL,
			       "send %s to host=%s failed: %s", o->what, o->peer.user_id,
			       err.message);
	}
	c->n_wires = 0;
}

static void
queue_reply(void *ctx, const struct api_client *cl, const char *text)
{
	struct central *c = ctx;
	if (HV_GROW(c->out, c->cap_out, c->n_out + 1) < 0)
		return;
	char *copy = strdup(text);
	if (!copy)
		return;
	c->out[c->n_out].cl = *cl;
	c->out[c->n_out].text = copy;
	c->n_out++;
}

/* The instance and the command an agent's message is about, for its log line: the peer
 * wrote them, so only well-formed ids are shown. */
static const char *
valid_id(const char *s)
{
	return s && proto_id_valid(s) ? s : NULL;
}

static const char *
msg_instance(const struct proto_msg *m)
{
	const char *u = json_string_value(json_object_get(m->body, "uuid"));

	if (!u)
		u = json_string_value(
			json_object_get(json_object_get(m->body, "instance"), "uuid"));
	return valid_id(u);
}

static const char *
msg_cmd(const struct proto_msg *m)
{
	const char *id = json_string_value(json_object_get(m->body, "cmd_id"));

	return valid_id(id ? id : m->hdr.cmd_id[0] ? m->hdr.cmd_id : NULL);
}

static void
on_done(void *ctx, const char *cmd_id, bool ok, json_t *result)
{
	struct central *c = ctx;
	struct store_cmd sc = {0};
	bool known = store_cmd_get(c->store, cmd_id, &sc, NULL, NULL) >= 0;

	if (!ok) {
		const char *code = "?", *msg = "";
		hj_str(result, "error", "code", HJ_OPTIONAL, 0, &code, NULL);
		hj_str(result, "error", "message", HJ_OPTIONAL, 0, &msg, NULL);
		hv_log(HV_LOG_NOTICE, known && sc.uuid[0] ? sc.uuid : NULL, cmd_id,
		       "command %s failed: %s: %s", known ? sc.action : "?", code, msg);
	} else if (known) {
		hv_log(HV_LOG_INFO, sc.uuid[0] ? sc.uuid : NULL, cmd_id, "%s done host=%s",
		       sc.action, sc.host_id);
		struct hv_error err = {0};
		/* deadline 0: an evacuated server's leftover, whose ports went with it */
		if (strcmp(sc.action, "destroy") == 0 && sc.deadline_ms && sc.uuid[0] &&
		    svc_server_destroyed(c->svc, sc.host_id, sc.uuid, c->now, &err) < 0)
			hv_log(HV_LOG_ERR, sc.uuid, cmd_id, "cannot free the ports of %s: %s",
			       sc.uuid, err.message);
	}
	if (known)
		cmx_command(c->mx, sc.action, sc.created_ms, c->now);
	store_cmd_clear(&sc);
	api_on_done(c->api, cmd_id, ok, result, c->now);
	if (c->os)
		os_on_done(c->os, cmd_id, ok, result);
}

static void
flush_replies(struct central *c)
{
	for (size_t i = 0; i < c->n_out; i++) {
		struct outmsg *o = &c->out[i];
		/* the client may be gone (hv interrupted): ROUTER_MANDATORY tells us, we drop */
		if (zmq_send(c->api_sock, o->cl.id, o->cl.id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >=
		    0) {
			if (o->cl.delim)
				zmq_send(c->api_sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(c->api_sock, o->text, strlen(o->text), ZMQ_DONTWAIT);
		}
		explicit_bzero(o->text, strlen(o->text)); /* a console password travels here */
		free(o->text);
	}
	c->n_out = 0;
}

static struct marks
marks_now(const struct central *c)
{
	return (struct marks){c->n_out, c->n_wires, api_mark(c->api), c->os ? os_mark(c->os) : 0};
}

/* The changes since m could not be stored (the transaction rolled back): nothing they
 * caused may leave. Agent messages are dropped (agents resend what is not acknowledged,
 * the journal has no command to resend), and every request answered or parked since m is
 * refused instead, so no client is told of a change that was not kept. */
static void
take_back(struct central *c, const struct marks *m, const struct hv_error *why)
{
	char msg[8192];
	unsigned held;
	snprintf(msg, sizeof msg,
		 "hvcentral could not store this change in its database %s (%s): nothing was "
		 "changed; try again once the disk has room",
		 c->db_path, why->message);
	if (hv_ratelimit_ok(&c->db_log, c->now, &held))
		log_error("cannot write the database %s: %s; %zu replies and %zu agent "
			  "messages taken back (%u such lines held back before this one)",
			  c->db_path, why->message, c->n_out - m->out, c->n_wires - m->wires, held);
	for (size_t i = m->wires; i < c->n_wires; i++)
		proto_wire_release(&c->wires[i].w);
	c->n_wires = m->wires;
	for (size_t i = m->out; i < c->n_out; i++) {
		char *instead = api_error_instead(c->out[i].text, "busy", msg);
		explicit_bzero(c->out[i].text, strlen(c->out[i].text));
		free(c->out[i].text);
		c->out[i].text = instead ? instead : strdup("{\"id\":null,\"ok\":false}");
	}
	api_abort_since(c->api, m->parked, "busy", msg);
	if (c->os)
		os_take_back(c->os, m->os, msg);
	svc_place_forget(c->svc);
	c->degraded_until = c->now + DEGRADED_MS;
}

static bool
readable(void *sock)
{
	int ev = 0;
	size_t sz = sizeof ev;
	return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

/* The timers: commands due again, waits timed out. */
static void
tick(struct central *c)
{
	int64_t in = ctl_tick(c->ctl, c->now);
	api_tick(c->api, c->now);
	if (c->os)
		os_tick(c->os, c->now);
	c->next_tick = c->now + in;
}

/* Runs one handler as a unit: inside the turn's transaction normally (begin/commit nest),
 * in a transaction of its own while degraded. */
static void
unit(struct central *c, void (*fn)(struct central *))
{
	struct hv_error err = {0};
	struct marks m = marks_now(c);
	store_begin(c->store, &err);
	fn(c);
	if (store_commit(c->store, &err) < 0)
		take_back(c, &m, &err);
}

/* ---- socket handlers ------------------------------------------------------------------ */

static void
handle_os(struct central *c)
{
	os_run(c->os, c->now);
}

/* [openstack] policy_file into the REST front; the rules it names that hvcentral does not
 * enforce are logged, once per reading. */
static int
read_policy(struct central *c, const struct cfg *cfg, struct hv_error *err)
{
	json_t *ignored = NULL, *name;
	size_t i;
	const char *path = cfg_get_str(cfg, "openstack", "policy_file");
	int r = os_set_policy(c->os, path, &ignored, err);
	if (r < 0)
		snprintf(err->field, sizeof err->field, "openstack.policy_file");
	json_array_foreach (ignored, i, name)
		log_warning("[openstack] policy_file %s: rule %s is not one hvcentral enforces; "
			    "ignored",
			    path, json_string_value(name));
	json_decref(ignored);
	return r;
}

/* The REST front, when [openstack] listen is set. */
static int
open_os(struct central *c, const struct cfg *cfg, struct hv_error *err)
{
	const char *listen = cfg_get_str(cfg, "openstack", "listen");
	if (!*listen)
		return 0;
	struct os_config oc = {
		.listen = listen,
		.public_url = cfg_get_str(cfg, "openstack", "public_url"),
		.max_body = (size_t)cfg_get_int(cfg, "openstack", "max_body_kb") * 1024,
		.max_image = (int64_t)cfg_get_int(cfg, "openstack", "max_image_mb") * 1048576,
		.tls_cert_file = cfg_get_str(cfg, "openstack", "tls_cert_file"),
		.tls_key_file = cfg_get_str(cfg, "openstack", "tls_key_file"),
		.console_base_url = cfg_get_str(cfg, "openstack", "console_base_url"),
		.console_token_ttl = (int64_t)cfg_get_int(cfg, "openstack", "console_token_ttl"),
		.novnc_dir = cfg_get_str(cfg, "openstack", "novnc_dir"),
	};
	int r = os_new(c->svc, &oc, &c->os, err);
	if (r == 0)
		log_notice("OpenStack-compatible API on %s://%s",
			   *oc.tls_cert_file ? "https" : "http", listen);
	return r < 0 ? r : read_policy(c, cfg, err);
}

static void
handle_zap(struct central *c)
{
	struct hv_error err = {0};
	struct zap_outcome o;
	allow_refresh(c->allow, &err);
	int r = zap_handle(c->zap, c->allow, &o, &err);
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		log_warning("ZAP: %s", err.message);
		return;
	}
	if (o.allowed) {
		hv_log(HV_LOG_INFO, NULL, NULL, "agent key accepted host=%s address=%s", o.host_id,
		       o.address);
	} else if (o.key[0]) {
		unsigned held;
		if (hv_ratelimit_ok(&c->pending_log, c->now, &held))
			hv_log(HV_LOG_NOTICE, NULL, NULL,
			       "agent key refused, recorded as pending key=%s address=%s (hv host "
			       "accept; %u such lines held back before this one)",
			       o.key, o.address, held);
		store_pending_record(c->store, o.key, o.address, c->now, &err);
	}
}

/* Receives one agent message. proto_recv takes the ZAP User-Id from the first part, which
 * on a ROUTER is the locally made routing-id part and carries no metadata; here it is read
 * from the first part the peer sent. Decoding is proto_decode's. */
#define AGENT_MAX_PARTS (PROTO_N_FRAMES + 2)
static int
recv_agent(void *sock, struct proto_peer *peer, char address[64], struct proto_msg *m,
	   const char **code, struct hv_error *err)
{
	zmq_msg_t parts[AGENT_MAX_PARTS];
	size_t n = 0, total = 0;
	int more = 1, r = 0;

	memset(peer, 0, sizeof *peer);
	memset(m, 0, sizeof *m);
	while (more) {
		zmq_msg_t part;
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			r = -zmq_errno();
			zmq_msg_close(&part);
			break;
		}
		more = zmq_msg_more(&part);
		if (total == 1) {
			const char *uid = zmq_msg_gets(&part, "User-Id");
			const char *addr = zmq_msg_gets(&part, "Peer-Address");
			if (uid)
				snprintf(peer->user_id, sizeof peer->user_id, "%s", uid);
			if (addr && address)
				snprintf(address, 64, "%s", addr);
		}
		if (total == 0) {
			size_t len = zmq_msg_size(&part);
			if (len <= sizeof peer->routing_id) {
				memcpy(peer->routing_id, zmq_msg_data(&part), len);
				peer->routing_id_len = len;
			}
			zmq_msg_close(&part);
		} else if (n < AGENT_MAX_PARTS) {
			parts[n++] = part;
		} else {
			zmq_msg_close(&part);
		}
		total++;
	}
	if (total == 0)
		return r;
	struct proto_frame frames[AGENT_MAX_PARTS];
	for (size_t i = 0; i < n; i++) {
		frames[i].data = zmq_msg_data(&parts[i]);
		frames[i].len = zmq_msg_size(&parts[i]);
	}
	/* more parts than kept still reads as a wrong frame count */
	r = proto_decode(frames, total - 1 > n ? n : total - 1, m, code, err);
	for (size_t i = 0; i < n; i++) {
		if (i == 3) /* COMMAND-like bodies may carry secrets */
			explicit_bzero(zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]));
		zmq_msg_close(&parts[i]);
	}
	return r;
}

/* A routing id for a log line: as text when it is printable, else as hex. */
static void
rid_text(const struct proto_peer *peer, char *buf, size_t size)
{
	bool printable = peer->routing_id_len > 0;
	for (size_t i = 0; i < peer->routing_id_len; i++)
		printable = printable && peer->routing_id[i] >= 0x21 && peer->routing_id[i] < 0x7f;
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < peer->routing_id_len && o + 3 < size; i++)
		o += (size_t)snprintf(buf + o, size - o, printable ? "%c" : "%02x",
				      peer->routing_id[i]);
}

/* Whether this (key, claimed host, connection) was logged already; remembers it if not. */
static bool
claim_logged(struct central *c, const char *user, const char *claimed,
	     const struct proto_peer *peer)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *s = user; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *s = claimed; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	for (size_t i = 0; i < peer->routing_id_len; i++)
		h = (h ^ peer->routing_id[i]) * 1099511628211ull;
	size_t n = sizeof c->claims / sizeof c->claims[0];
	for (size_t i = 0; i < n && i < c->n_claims; i++)
		if (c->claims[i] == h)
			return true;
	c->claims[c->n_claims++ % n] = h;
	return false;
}

static void
handle_agent(struct central *c)
{
	struct proto_peer peer;
	struct proto_msg m = {0};
	struct hv_error err = {0};
	const char *code = NULL;
	char address[64] = "";
	int r = recv_agent(c->agents, &peer, address, &m, &code, &err);
	if (r == -EAGAIN)
		return;
	/* identity: the key's host (ZAP) must be the header's host; the routing id is the
	 * peer's choice and proves nothing */
	const char *host = peer.user_id;
	bool same = host[0] && strcmp(host, m.hdr.host_id) == 0;
	if (r < 0) {
		if (host[0]) { /* answered on the connection it came from */
			struct proto_msg e = {.type = PROTO_ERROR,
					      .body = proto_error_body(code, &err)};
			proto_header_init(&e.hdr, peer.user_id, NULL);
			snprintf(e.hdr.corr_id, sizeof e.hdr.corr_id, "%s", m.hdr.msg_id);
			proto_send(c->agents, &peer, &e, ZMQ_DONTWAIT, NULL);
			json_decref(e.body);
		}
		hv_log(HV_LOG_WARNING, NULL, NULL, "refused message from host=%s: %s",
		       peer.user_id[0] ? peer.user_id : "?", err.message);
		proto_msg_release(&m);
		return;
	}
	if (!same) {
		c->n_dropped++;
		char rid[2 * ROUTE_MAX_RID + 1];
		rid_text(&peer, rid, sizeof rid);
		if (!claim_logged(c, host, m.hdr.host_id, &peer))
			hv_log(HV_LOG_WARNING, NULL, NULL,
			       "dropped %s: the key of host=%s claims host_id=%s (routing id %s); "
			       "this connection gets nothing until it speaks as its own host",
			       proto_type_name(m.type), host[0] ? host : "(none)", m.hdr.host_id,
			       rid);
		proto_msg_release(&m);
		return;
	}
	int learned = route_learn(c->routes, host, peer.routing_id, peer.routing_id_len);
	if (learned < 0)
		hv_log(HV_LOG_WARNING, NULL, NULL, "host=%s: cannot record its route: %s", host,
		       strerror(-learned));
	if (m.type == PROTO_HELLO)
		hv_log(HV_LOG_INFO, NULL, NULL, "agent connected host=%s boot_id=%s", host,
		       m.hdr.boot_id);
	else if (m.type == PROTO_ERROR) {
		const char *ecode = "?", *emsg = "";
		hj_str(m.body, "body", "code", HJ_OPTIONAL, 64, &ecode, NULL);
		hj_str(m.body, "body", "message", HJ_OPTIONAL, 0, &emsg, NULL);
		hv_log(HV_LOG_WARNING, NULL, NULL, "host=%s refused our message %s: %s: %s", host,
		       m.hdr.corr_id, ecode, emsg);
	} else if (hv_log_enabled(HV_LOG_DEBUG))
		hv_log(HV_LOG_DEBUG, msg_instance(&m), msg_cmd(&m), "received %s host=%s seq=%llu",
		       proto_type_name(m.type), host, (unsigned long long)m.hdr.seq);
	ctl_on_agent(c->ctl, host, address[0] ? address : NULL, &m, c->now);
	struct hv_error why;
	unsigned refused = ctl_take_refused(c->ctl, &why), held;
	if (refused && hv_ratelimit_ok(&c->refusal_log, c->now, &held))
		hv_log(HV_LOG_WARNING, NULL, NULL,
		       "refused %u part(s) of a %s from host=%s, nothing changed: %s (%u such "
		       "lines held back before this one)",
		       refused, proto_type_name(m.type), host, why.message, held);
	proto_msg_release(&m);
}

static void
handle_api(struct central *c)
{
	zmq_msg_t parts[4];
	int n = 0, more = 1;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, c->api_sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (n < 4)
			parts[n++] = m;
		else
			zmq_msg_close(&m);
	}
	if (n == 0)
		return;
	struct api_client cl = {0};
	size_t idlen = zmq_msg_size(&parts[0]);
	if (idlen <= sizeof cl.id && n >= 2) {
		memcpy(cl.id, zmq_msg_data(&parts[0]), idlen);
		cl.id_len = idlen;
		int body = 1;
		if (n >= 3 && zmq_msg_size(&parts[1]) == 0) {
			cl.delim = true;
			body = 2;
		}
		api_on_request(c->api, &cl, zmq_msg_data(&parts[body]), zmq_msg_size(&parts[body]),
			       c->now);
		/* a request may carry a password or user data (protocol §10.3) */
		explicit_bzero(zmq_msg_data(&parts[body]), zmq_msg_size(&parts[body]));
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
}

/* ---- setup ---------------------------------------------------------------------------- */

/* Each host is one connection, so one descriptor: the soft limit a service starts with
 * (1024 under systemd) would stop hvcentral near a thousand hosts. The hard limit is the
 * operator's ceiling (LimitNOFILE=); up to it is ours to take. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning("cannot raise the open-file limit from %llu: %s",
			    (unsigned long long)was, strerror(errno));
}

/* Hosts heard from recently (registry.h), for the service manager's status line. */
static unsigned
hosts_up(struct central *c, const struct reg_intervals *iv)
{
	struct hv_error err = {0};
	json_t *hosts = NULL, *h;
	unsigned n = 0;
	size_t i;

	if (store_host_list(c->store, &hosts, &err) < 0)
		return 0;
	json_array_foreach (hosts, i, h)
		if (reg_state_at(json_integer_value(json_object_get(h, "last_seen_ms")),
				 proto_now_ms(), iv) == REG_UP)
			n++;
	json_decref(hosts);
	return n;
}

/* The link's intervals and timeouts from the config. */
static void
ctl_config_from(const struct cfg *cfg, struct ctl_config *cc)
{
	ctl_config_default(cc);
	cc->liveness.report_ms = cfg_get_int(cfg, "agents", "report_interval") * 1000;
	cc->liveness.suspect_ms = cfg_get_int(cfg, "agents", "suspect_after") * 1000;
	cc->liveness.down_ms = cfg_get_int(cfg, "agents", "down_after") * 1000;
	cc->cmd_timeout_ms = cfg_get_int(cfg, "commands", "timeout") * 1000;
	cc->retry_ms = cfg_get_int(cfg, "commands", "retry_interval_ms");
	cc->host_cmd_max_age_ms = cfg_get_int(cfg, "commands", "firewall_max_age") * 1000;
}

/* What SIGHUP applies while hvcentral serves; every other key waits for a restart. */
static const struct hv_live_key live_keys[] = {
	{"DEFAULT", "log_level"},
	{"agents", "report_interval"},
	{"agents", "suspect_after"},
	{"agents", "down_after"},
	{"commands", "timeout"},
	{"commands", "retry_interval_ms"},
	{"commands", "firewall_max_age"},
	{"scheduler", "enabled_filters"},
	{"scheduler", "default_availability_zone"},
	{"scheduler", "host_subset_size"},
	{"scheduler", "max_attempts"},
	{"scheduler", "cpu_allocation_ratio"},
	{"scheduler", "ram_allocation_ratio"},
	{"scheduler", "disk_allocation_ratio"},
	{"scheduler", "ram_weight_multiplier"},
	{"scheduler", "metrics_weight_multiplier"},
	{"scheduler", "cpu_weight_multiplier"},
	{"scheduler", "disk_weight_multiplier"},
	{"scheduler", "io_ops_weight_multiplier"},
	{"scheduler", "soft_affinity_weight_multiplier"},
	{"scheduler", "soft_anti_affinity_weight_multiplier"},
	{"metrics", "weight_setting"},
	{"metrics", "weight_multiplier"},
	{"metrics", "required"},
	{"metrics", "weight_of_unavailable"},
};

/* SIGHUP: re-reads the config file and the allowlist. A config that does not load, or
 * whose intervals do not check, leaves the running one in force. */
static void
reload(struct central *c, const char *path, const struct cfg *running, struct ctl_config *cc)
{
	struct cfg *cfg = NULL;
	struct cfg_diags diags = {0};
	struct ctl_config next;
	struct hv_error err = {0};

	hv_notify_reloading();
	if (central_config_load(path, &cfg, &diags) < 0) {
		hv_reload_log_refused(&diags);
		goto out;
	}
	ctl_config_from(cfg, &next);
	if (reg_intervals_check(&next.liveness, &err) < 0) {
		log_error("reload refused, the running config stays: [agents] %s: %s", err.field,
			  err.message);
		goto out;
	}
	if (svc_set_scheduler(c->svc, cfg, &err) < 0) { /* applied only when it checks out */
		log_error("reload refused, the running config stays: %s", err.message);
		goto out;
	}
	hv_reload_log_changes(running, cfg, live_keys, sizeof live_keys / sizeof live_keys[0]);
	hv_log_set_level(
		(enum hv_log_level)hv_log_level_parse(cfg_get_str(cfg, "DEFAULT", "log_level")));
	*cc = next;
	ctl_set_config(c->ctl, cc);
	svc_set_liveness(c->svc, &cc->liveness);
	if (c->os && read_policy(c, cfg, &err) < 0) /* the policy in force stays */
		log_error("reload: [openstack] policy_file: %s", err.message);
	log_notice("reload: done");
out:
	/* the allowlist is re-read in any case: revoking a key must not wait for a good config */
	if (allow_reload(c->allow, &err) < 0)
		log_error("reload: allowlist: %s", err.message);
	cfg_free(cfg);
	hv_notify_reloaded();
}

static int
setopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof v);
}

/* The API is not authenticated: who may connect to its socket may drive hvcentral, and who
 * may write its directory may put another socket in its place. The directory is made 0700
 * when new; an existing one must be ours, and others lose read and write on it (search
 * stays: a directory may also lead qemu's user to guest files; the socket itself refuses
 * them). A group of operators may keep theirs. -1 when it cannot be made safe. */
static int
api_dir_private(const char *sock_path)
{
	char dir[4096];
	struct stat st;
	snprintf(dir, sizeof dir, "%s", sock_path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir_p(dir, 0700) < 0 || stat(dir, &st) < 0) {
		log_error("API socket directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_error("API socket directory %s belongs to uid %u, not to hvcentral (uid %u): "
			  "another user could replace the socket",
			  dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 0006) {
		if (chmod(dir, st.st_mode & 07771) < 0) {
			log_error(
				"API socket directory %s is mode %04o and cannot be restricted: %s",
				dir, (unsigned)(st.st_mode & 07777), strerror(errno));
			return -1;
		}
		log_notice("API socket directory %s was mode %04o, open to every user: now %04o",
			   dir, (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 07771));
	}
	return 0;
}

static int
open_sockets(struct central *c, const struct paths *p, const struct cfg *cfg,
	     const struct keys_pair *kp)
{
	c->zctx = zmq_ctx_new();
	/* ZAP first: a CURVE server without a handler accepts every client key */
	c->zap = zmq_socket(c->zctx, ZMQ_REP);
	if (!c->zap || zmq_bind(c->zap, ZAP_ENDPOINT) < 0) {
		log_error("cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
		return -1;
	}
	setopt_int(c->zap, ZMQ_LINGER, 0);

	c->agents = zmq_socket(c->zctx, ZMQ_ROUTER);
	int64_t maxmsg = cfg_get_int(cfg, "agents", "max_message_kb") * 1024;
	/* no ZMQ_ROUTER_HANDOVER: a routing id is the peer's choice, and with handover any
	 * allowlisted key could take over another host's connection by choosing its id */
	if (setopt_int(c->agents, ZMQ_ROUTER_MANDATORY, 1) < 0 ||
	    setopt_int(c->agents, ZMQ_LINGER, 0) < 0 ||
	    setopt_int(c->agents, ZMQ_SNDHWM, 10000) < 0 ||
	    setopt_int(c->agents, ZMQ_RCVHWM, 10000) < 0 ||
	    /* after a restart of hvcentral every agent dials again within seconds: the
	     * kernel's accept queue must hold them (it caps this at net.core.somaxconn) */
	    setopt_int(c->agents, ZMQ_BACKLOG, 4096) < 0 ||
	    zmq_setsockopt(c->agents, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
	    setopt_int(c->agents, ZMQ_CURVE_SERVER, 1) < 0 ||
	    zmq_setsockopt(c->agents, ZMQ_CURVE_SECRETKEY, kp->secret_z85, KEYS_Z85_LEN) < 0 ||
	    zmq_setsockopt(c->agents, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) < 0) {
		log_error("cannot configure the agent socket: %s", zmq_strerror(errno));
		return -1;
	}
	/* a draft option in libzmq 4.3 builds: refused there, where the bound handler is asked
	 * for every handshake anyway (the unit test of a refused key proves it) */
	setopt_int(c->agents, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
	/* libzmq unlinks an existing ipc:// path when it binds, which would silently steal
	 * the socket of a running hvcentral */
	if (endpoint_ipc_state(p->listen) == 1) {
		log_error("%s is in use by another process (another hvcentral?)", p->listen);
		return -1;
	}
	if (zmq_bind(c->agents, p->listen) < 0) {
		log_error("cannot listen for agents on %s: %s", p->listen, zmq_strerror(errno));
		return -1;
	}

	c->api_sock = zmq_socket(c->zctx, ZMQ_ROUTER);
	setopt_int(c->api_sock, ZMQ_LINGER, 0);
	setopt_int(c->api_sock, ZMQ_ROUTER_MANDATORY, 1);
	setopt_int(c->api_sock, ZMQ_SNDHWM, 100000);
	setopt_int(c->api_sock, ZMQ_RCVHWM, 100000);
	int64_t api_max = 1024 * 1024;
	zmq_setsockopt(c->api_sock, ZMQ_MAXMSGSIZE, &api_max, sizeof api_max);
	/* --api skips the config file's check: the effective endpoint is checked here */
	if (!central_api_endpoint_local(p->api) && !cfg_get_bool(cfg, "api", "allow_remote")) {
		log_error("[api] endpoint %s listens beyond this machine, and the API has no "
			  "authentication: use ipc:// or a loopback address, or set [api] "
			  "allow_remote = true",
			  p->api);
		return -1;
	}
	bool ipc = strncmp(p->api, "ipc://", 6) == 0;
	if (ipc && api_dir_private(p->api + 6) < 0)
		return -1;
	if (endpoint_ipc_state(p->api) == 1) {
		log_error("%s is in use by another process (another hvcentral?)", p->api);
		return -1;
	}
	if (zmq_bind(c->api_sock, p->api) < 0) {
		log_error("cannot bind the API socket %s: %s", p->api, zmq_strerror(errno));
		return -1;
	}
	/* whatever the umask: only the owner and its group may connect */
	struct stat st;
	if (ipc && stat(p->api + 6, &st) == 0 && (st.st_mode & 0007) &&
	    chmod(p->api + 6, st.st_mode & 0770) < 0) {
		log_error("cannot restrict the API socket %s: %s", p->api + 6, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"state-dir", required_argument, NULL, 'S'},
		{"listen", required_argument, NULL, 'L'},
		{"api", required_argument, NULL, 'A'},
		{"init", required_argument, NULL, 'I'},
		{"show-public-key", no_argument, NULL, 'P'},
		{"check-config", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *config = NULL, *state_dir = NULL, *listen = NULL, *api = NULL, *init = NULL;
	bool show_key = false, check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'L': listen = optarg; break;
		case 'A': api = optarg; break;
		case 'I': init = optarg; break;
		case 'P': show_key = true; break;
		case 'C': check = true; break;
		case 'h': fputs(help_text, stdout); return 0;
		case 'V': printf("hvcentral %s\n", HV_VERSION); return 0;
		default: fputs(help_text, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hvcentral: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	hv_log_set_ident("hvcentral");
	if (hv_fault_init() < 0) {
		fprintf(stderr, "hvcentral: HV_FAULT does not parse (name[@N][,name[@N]...])\n");
		return 2;
	}

	struct cfg *cfg = NULL;
	struct cfg_diags diags = {0};
	if (central_config_load(config, &cfg, &diags) < 0) {
		cfg_diags_print(&diags, stderr);
		return 78;
	}
	if (check) {
		cfg_print(cfg, stdout);
		cfg_free(cfg);
		return 0;
	}
	hv_log_set_level(
		(enum hv_log_level)hv_log_level_parse(cfg_get_str(cfg, "DEFAULT", "log_level")));
	struct paths p;
	resolve_paths(cfg, init ? init : state_dir, listen, api, &p);
	if (init) {
		int r = do_init(&p);
		cfg_free(cfg);
		return r;
	}

	struct hv_error err = {0};
	struct keys_pair kp;
	if (keys_load(p.keys, "server", &kp, &err) < 0) {
		fprintf(stderr, "hvcentral: %s (run hvcentral --init %s first)\n", err.message,
			p.state);
		cfg_free(cfg);
		return 1;
	}
	if (show_key) {
		printf("%s\n", kp.public_z85);
		keys_pair_wipe(&kp);
		cfg_free(cfg);
		return 0;
	}

	struct central c = {0};
	struct ctl_config cc;
	ctl_config_from(cfg, &cc);
	int rc = 1;
	if (reg_intervals_check(&cc.liveness, &err) < 0) { /* the config check's backstop */
		log_error("[agents] %s: %s", err.field, err.message);
		keys_pair_wipe(&kp);
		cfg_free(cfg);
		return 78;
	}
	c.refusal_log = (struct hv_ratelimit){.burst = 10, .window_ms = 10000};
	c.pending_log = c.refusal_log;
	c.db_log = c.refusal_log;
	c.db_path = p.db;
	if (!(c.routes = route_new())) {
		log_error("out of memory");
		goto out;
	}
	if (store_open(p.db, &c.store, &err) < 0 || allow_open(p.allow, &c.allow, &err) < 0 ||
	    ctl_new(c.store, &cc, send_to_agent, on_done, &c, &c.ctl, &err) < 0 ||
	    svc_new(c.store, c.ctl, c.allow, &cc.liveness, &c.svc, &err) < 0 ||
	    svc_set_scheduler(c.svc, cfg, &err) < 0 ||
	    imgdata_open(p.images, &c.images, &err) < 0 ||
	    api_new(c.svc, queue_reply, &c, &c.api, &err) < 0) {
		log_error("%s", err.message);
		goto out;
	}
	if (svc_network_external(c.svc, cfg_get_str(cfg, "network", "external_name"),
				 cfg_get_str(cfg, "network", "external_cidr"), proto_now_ms(),
				 &err) < 0) {
		log_error("[network] %s", err.message); /* the message names the key */
		rc = 78;
		goto out;
	}
	raise_fd_limit();
	svc_set_token_ttl(c.svc, (int64_t)cfg_get_int(cfg, "openstack", "token_ttl") * 1000);
	svc_set_images(c.svc, c.images);
	ctl_set_images(c.ctl, c.images);
	if (open_sockets(&c, &p, cfg, &kp) < 0)
		goto out;
	if (cmx_new(cfg_get_str(cfg, "metrics", "listen"), &c.mx, &err) < 0) {
		log_error("%s", err.message);
		goto out;
	}
	if (open_os(&c, cfg, &err) < 0) {
		log_error("%s", err.message);
		if (err.code != -EADDRNOTAVAIL && err.code != -ENOMEM)
			rc = 78; /* the config is at fault: its message names the key */
		goto out;
	}
	keys_pair_wipe(&kp);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_notice("listening for agents on %s, API on %s, state in %s", p.listen, p.api, p.state);
	/* scripts wait for this line on stdout before they start agents or hv */
	printf("ready api=%s\n", p.api);
	fflush(stdout);
	hv_notify_init();
	hv_notify_ready("listening on %s; %u hosts up", p.listen, hosts_up(&c, &cc.liveness));

	int64_t next_status = 0;
	while (!stopping) {
		zmq_pollitem_t items[] = {
			{.socket = c.zap, .events = ZMQ_POLLIN},
			{.socket = c.agents, .events = ZMQ_POLLIN},
			{.socket = c.api_sock, .events = ZMQ_POLLIN},
			{.fd = c.os ? os_fd(c.os) : -1, .events = ZMQ_POLLIN},
		};
		int64_t wait = c.next_tick - proto_now_ms();
		if (wait < 0)
			wait = 0;
		if (wait > 200)
			wait = 200;
		int64_t ping = hv_notify_watchdog();
		if (ping >= 0 && wait > ping)
			wait = ping;
		if (c.os && wait > os_timeout_ms(c.os))
			wait = os_timeout_ms(c.os);
		if (zmq_poll(items, c.os ? 4 : 3, (long)wait) < 0 && errno != EINTR)
			break;
		c.now = proto_now_ms();
		if (reload_requested) {
			reload_requested = 0;
			reload(&c, config, cfg, &cc);
		}
		/* one transaction per turn; while degraded, one per request or message */
		bool whole = c.now >= c.degraded_until;
		struct marks turn = marks_now(&c);
		if (whole)
			store_begin(c.store, &err);
		for (int i = 0; i < BATCH && (items[0].revents & ZMQ_POLLIN); i++) {
			unit(&c, handle_zap);
			if (!readable(c.zap))
				break;
		}
		for (int i = 0; i < BATCH && readable(c.agents); i++)
			unit(&c, handle_agent);
		for (int i = 0; i < BATCH && readable(c.api_sock); i++)
			unit(&c, handle_api);
		if (c.os) /* cheap when idle; a kept-alive connection's next request may be
			   * buffered without the descriptor turning readable again */
			unit(&c, handle_os);
		if (c.now >= c.next_tick)
			unit(&c, tick);
		if (c.now >= next_status) {
			hv_notify_status("listening on %s; %u hosts up", p.listen,
					 hosts_up(&c, &cc.liveness));
			next_status = c.now + STATUS_EVERY_MS;
		}
		cmx_refresh(c.mx, c.store, &cc.liveness, c.now);
		if (whole && store_commit(c.store, &err) < 0)
			take_back(&c, &turn, &err);
		flush_wires(&c);
		flush_replies(&c);
		if (c.os)
			os_flush(c.os);
	}
	log_notice("stopping (%zu requests were waiting)", api_waiting(c.api));
	rc = 0;
out:
	keys_pair_wipe(&kp);
	for (size_t i = 0; i < c.n_out; i++)
		free(c.out[i].text);
	free(c.out);
	for (size_t i = 0; i < c.n_wires; i++)
		proto_wire_release(&c.wires[i].w);
	free(c.wires);
	if (c.api_sock)
		zmq_close(c.api_sock);
	if (c.agents)
		zmq_close(c.agents);
	if (c.zap)
		zmq_close(c.zap);
	if (c.zctx)
		zmq_ctx_term(c.zctx);
	cmx_free(c.mx); /* first: its thread may be answering */
	os_free(c.os);
	api_free(c.api);
	svc_free(c.svc);
	ctl_free(c.ctl);
	imgdata_free(c.images);
	route_free(c.routes);
	allow_free(c.allow);
	store_free(c.store);
	cfg_free(cfg);
	return rc;
}
