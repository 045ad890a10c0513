/* swarm.c - hvswarm: many fake compute hosts in one process, for scale tests of hvcentral.
 * Each host has its own CURVE key pair (written to hvcentral's allowlist directory as
 * config management would), its own DEALER socket, boot id and sequence, and speaks HVA/1
 * as hvagent does (docs/protocol.md): HELLO, SNAPSHOT after WELCOME, a REPORT every
 * report interval (phases spread over the interval), PING when idle, ACK then RESULT for
 * each COMMAND (kept until hvcentral ACKs it, re-sent for a duplicate cmd_id), a DELTA for
 * each change. Its guests exist only in memory and change state at once: it measures the
 * controller, not a hypervisor. Prints "ready N" on stdout once every host is welcomed and
 * a JSON line of counters when it stops (SIGTERM, SIGINT or --duration). Never a verdict.
 * Its loop costs what the hosts send and receive, not how many they are: epoll over the
 * sockets' ZMQ_FDs and a heap of due times. Each host holds two open files (its socket's
 * mailbox and its connection): a swarm larger than the open-file limit allows is split
 * over processes with --part. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "json.h"
#include "proto.h"
#include "vec.h"

struct opts {
	const char *endpoint, *server_key, *allow_dir, *prefix;
	int hosts, vcpus, numa_cells;
	int64_t memory_mb, local_gb;
	int report_s, heartbeat_s, duration_s;
	int connect_rate; /* hosts connected per second; 0: all at once */
	int part, parts;  /* this process runs the hosts i with i % parts == part */
};

struct host {
	char id[PROTO_MAX_ID + 1];
	char boot[37];
	void *sock;
	bool welcomed;
	int64_t seq, state_seq, generation;
	int64_t next_report, last_sent, hello_at;
	json_t *instances; /* uuid -> instance record */
	json_t *results;   /* cmd_id -> RESULT body, until hvcentral ACKs it */
	int64_t vcpus_used, ram_used, disk_used;
	int64_t due; /* when timers() next has work for the host: its key in the timer heap */
	int heap_pos;
};

static struct {
	uint64_t sent[PROTO_N_TYPES], recv[PROTO_N_TYPES], commands, duplicates, bad;
	int welcomed; /* hosts welcomed now */
} stats;

/* Timers run on ticks of 20 ms, as the zmq_poll loop this one replaced did: the messages of
 * a tick reach hvcentral together and share its turns (a turn per message cost it some 40 %
 * more a report), so its ingest figures stay comparable. */
#define TICK_MS 20

/* The connected hosts ordered by due time: a binary min-heap in which each host keeps its
 * position, so a due time that moves is sifted in place rather than searched for. */
static struct {
	struct host **at;
	int len;
} heap;

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
send_msg(struct host *h, enum proto_type type, json_t *body, const char *corr_id, bool seq)
{
	struct proto_msg m = {.type = type, .body = body};
	struct hv_error err = {0};
	proto_header_init(&m.hdr, h->id, h->boot);
	if (corr_id)
		snprintf(m.hdr.corr_id, sizeof m.hdr.corr_id, "%s", corr_id);
	if (seq) {
		m.hdr.has_seq = true;
		m.hdr.seq = (uint64_t)++h->seq;
	}
	int r = proto_send(h->sock, NULL, &m, ZMQ_DONTWAIT, &err);
	json_decref(body);
	if (r >= 0) {
		stats.sent[type]++;
		h->last_sent = proto_now_ms();
	}
	return r;
}

static json_t *
report_body(const struct opts *o, const struct host *h)
{
	json_t *cells = json_array();
	int per = o->vcpus / o->numa_cells;
	for (int i = 0; i < o->numa_cells; i++) {
		char cpuset[32];
		snprintf(cpuset, sizeof cpuset, "%d-%d", i * per, i * per + per - 1);
		json_array_append_new(
			cells, json_pack("{s:i, s:s, s:[], s:I, s:i, s:i, s:[]}", "id", i, "cpuset",
					 cpuset, "siblings", "memory", o->memory_mb / o->numa_cells,
					 "memory_usage", 0, "cpu_usage", 0, "pinned_cpus"));
	}
	int64_t now = proto_now_ms();
	return json_pack(
		"{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i,"
		" s:{s:s, s:s}, s:{s:I, s:I}, s:[{s:s, s:i, s:I, s:s}, {s:s, s:f, s:I, s:s}],"
		" s:{s:o}, s:I, s:s}",
		"hypervisor_hostname", h->id, "hypervisor_type", "fake", "hypervisor_version",
		1000000, "vcpus", o->vcpus, "vcpus_used", h->vcpus_used, "memory_mb", o->memory_mb,
		"memory_mb_used", h->ram_used, "free_ram_mb", o->memory_mb - h->ram_used,
		"local_gb", o->local_gb, "local_gb_used", h->disk_used, "free_disk_gb",
		o->local_gb - h->disk_used, "disk_available_least", o->local_gb - h->disk_used,
		"running_vms", (json_int_t)json_object_size(h->instances), "current_workload", 0,
		"cpu_info", "arch", "x86_64", "model", "swarm", "real", "memory_mb_used",
		h->ram_used / 2, "local_gb_used", h->disk_used / 2, "metrics", "name",
		"cpu.frequency", "value", 2400, "timestamp", now, "source", "hvswarm", "name",
		"cpu.percent", "value", 0.05, "timestamp", now, "source", "hvswarm",
		"numa_topology", "cells", cells, "generation", h->generation, "status", "enabled");
}

static void
send_hello(struct host *h)
{
	json_t *b = json_pack("{s:s, s:[i], s:[i], s:s, s:{s:s, s:s}, s:[s,s,s,s,s,s,s,s,s,s,s,s],"
			      " s:I}",
			      "agent_version", "0.1.0", "protocols", 1, "schemas", 1, "hostname",
			      h->id, "driver", "name", "fake", "version", "0.1.0", "capabilities",
			      "spawn", "destroy", "reboot", "stop", "start", "pause", "unpause",
			      "suspend", "resume", "sg_update", "port_set_groups", "fip_associate",
			      "started_ms", proto_now_ms());
	send_msg(h, PROTO_HELLO, b, NULL, false);
	h->hello_at = proto_now_ms();
}

static void
send_snapshot(const struct opts *o, struct host *h)
{
	json_t *insts = json_array();
	const char *k;
	json_t *v;
	json_object_foreach (h->instances, k, v)
		json_array_append(insts, v);
	send_msg(h, PROTO_SNAPSHOT,
		 json_pack("{s:I, s:o, s:o, s:b}", "generation", h->generation, "host",
			   report_body(o, h), "instances", insts, "more", 0),
		 NULL, true);
	h->state_seq = h->seq;
}

static void
send_delta(struct host *h, const char *uuid)
{
	json_t *rec = json_object_get(h->instances, uuid);
	int64_t prev = h->state_seq;
	json_t *b = json_pack("{s:I, s:I, s:[], s:[]}", "prev_seq", prev, "generation",
			      h->generation, "instances", "removed");
	json_array_append(json_object_get(b, rec ? "instances" : "removed"),
			  rec ? rec : json_string(uuid));
	if (!rec)
		json_decref(json_array_get(json_object_get(b, "removed"), 0));
	send_msg(h, PROTO_DELTA, b, NULL, true);
	h->state_seq = h->seq;
}

static void
account(struct host *h, json_t *rec, int sign)
{
	json_t *f = json_object_get(rec, "flavor");
	h->vcpus_used += sign * json_integer_value(json_object_get(f, "vcpus"));
	h->ram_used += sign * json_integer_value(json_object_get(f, "ram_mb"));
	h->disk_used += sign * (json_integer_value(json_object_get(f, "root_gb")) +
				json_integer_value(json_object_get(f, "ephemeral_gb")));
}

/* The state a simple action leaves: vm_state and power_state, or NULL for "unchanged". */
static void
action_state(const char *cmd, const char **vm, const char **power)
{
	static const char *const map[][3] = {
		{"reboot", "active", "running"},         {"start", "active", "running"},
		{"stop", "stopped", "shutdown"},         {"pause", "paused", "paused"},
		{"unpause", "active", "running"},        {"suspend", "suspended", "suspended"},
		{"resume", "active", "running"},         {"rescue", "rescued", "running"},
		{"unrescue", "active", "running"},       {"shelve", "shelved", "shutdown"},
		{"unshelve", "active", "running"},       {"resize", "resized", "running"},
		{"confirm_resize", "active", "running"}, {"revert_resize", "active", "running"},
		{"rebuild", "active", "running"},
	};
	*vm = *power = NULL;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(cmd, map[i][0]) == 0) {
			*vm = map[i][1];
			*power = map[i][2];
		}
}

static json_t *
spawn_record(const json_t *body, int64_t now)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	json_t *flavor = json_object_get(body, "flavor");
	return json_pack(
		"{s:O, s:s, s:s, s:s, s:n, s:s, s:O, s:n, s:O, s:O, s:{}, s:b, s:I, s:I,"
		" s:n}",
		"uuid", json_object_get(body, "uuid"), "name", name ? name : "", "hostname",
		name ? name : "", "vm_state", "active", "task_state", "power_state", "running",
		"flavor", flavor ? flavor : json_null(), "old_flavor", "image",
		json_object_get(body, "image") ? json_object_get(body, "image") : json_null(),
		"ports",
		json_object_get(body, "ports") ? json_object_get(body, "ports") : json_null(),
		"metadata", "config_drive", 0, "launched_at_ms", now, "updated_ms", now, "fault");
}

static void
on_command(struct host *h, const struct proto_msg *m)
{
	const char *cmd_id = m->hdr.cmd_id;
	json_t *kept = json_object_get(h->results, cmd_id);
	stats.commands++;
	if (kept) {
		stats.duplicates++;
		send_msg(h, PROTO_RESULT, json_incref(kept), m->hdr.msg_id, false);
		return;
	}
	send_msg(h, PROTO_ACK, json_pack("{s:s, s:s}", "cmd_id", cmd_id, "state", "accepted"),
		 m->hdr.msg_id, false);
	const char *cmd = json_string_value(json_object_get(m->body, "command"));
	const char *uuid = json_string_value(json_object_get(m->body, "uuid"));
	int64_t now = proto_now_ms();
	json_t *res = json_pack("{s:s, s:s, s:s, s:n}", "cmd_id", cmd_id, "command", cmd ? cmd : "",
				"status", "ok", "instance");
	if (uuid) {
		json_object_set_new(res, "uuid", json_string(uuid));
		json_t *rec = json_object_get(h->instances, uuid);
		if (strcmp(cmd, "spawn") == 0 && !rec) {
			rec = spawn_record(m->body, now);
			json_object_set_new(h->instances, uuid, rec);
			account(h, rec, 1);
		} else if (strcmp(cmd, "destroy") == 0) {
			if (rec)
				account(h, rec, -1);
			json_object_del(h->instances, uuid);
			rec = NULL;
		} else if (rec) {
			const char *vm, *power;
			action_state(cmd, &vm, &power);
			if (vm) {
				json_object_set_new(rec, "vm_state", json_string(vm));
				json_object_set_new(rec, "power_state", json_string(power));
			}
			json_object_set_new(rec, "updated_ms", json_integer(now));
		} else if (strcmp(cmd, "spawn") != 0) {
			json_object_set_new(res, "status", json_string("error"));
			json_object_set_new(res, "error",
					    json_pack("{s:s, s:s}", "code", "not_found", "message",
						      "instance: not on this host"));
		}
		if (rec)
			json_object_set(res, "instance", rec);
		h->generation++;
	}
	json_object_set(h->results, cmd_id, res);
	send_msg(h, PROTO_RESULT, res, NULL, false);
	if (uuid)
		send_delta(h, uuid);
}

static void
on_message(const struct opts *o, struct host *h, const struct proto_msg *m)
{
	stats.recv[m->type]++;
	switch (m->type) {
	case PROTO_WELCOME:
		stats.welcomed += !h->welcomed;
		h->welcomed = true;
		send_snapshot(o, h);
		break;
	case PROTO_PING: send_msg(h, PROTO_PONG, json_object(), m->hdr.msg_id, false); break;
	case PROTO_RESYNC: send_snapshot(o, h); break;
	case PROTO_COMMAND:
		if (h->welcomed)
			on_command(h, m);
		break;
	case PROTO_ACK: {
		const char *cmd_id = json_string_value(json_object_get(m->body, "cmd_id"));
		if (cmd_id)
			json_object_del(h->results, cmd_id);
		break;
	}
	case PROTO_ERROR: {
		const char *code = json_string_value(json_object_get(m->body, "code"));
		if (code && strcmp(code, "no_session") == 0) {
			stats.welcomed -= h->welcomed;
			h->welcomed = false;
			send_hello(h);
		}
		break;
	}
	default: break;
	}
}

/* A host's identity, key pair and socket; its public key goes to the allowlist directory.
 * main writes every key before any host connects, as config management would have. */
static int
open_host(void *zctx, const struct opts *o, struct host *h, int i)
{
	char pub[41], sec[41], rid[37];
	snprintf(h->id, sizeof h->id, "%s%05d", o->prefix, i);
	proto_uuid4(h->boot);
	h->instances = json_object();
	h->results = json_object();
	if (zmq_curve_keypair(pub, sec) < 0)
		return -errno;
	if (o->allow_dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.pub", o->allow_dir, h->id);
		FILE *f = fopen(path, "w");
		if (!f || fprintf(f, "%s\n", pub) < 0 || fclose(f) != 0) {
			fprintf(stderr, "hvswarm: %s: %s\n", path, strerror(errno));
			return -EIO;
		}
	}
	if (!(h->sock = zmq_socket(zctx, ZMQ_DEALER)))
		return -errno;
	proto_uuid4(rid);
	int zero = 0, hb = o->heartbeat_s * 1000, hbt = 3 * hb;
	int64_t maxmsg = 4 << 20;
	zmq_setsockopt(h->sock, ZMQ_ROUTING_ID, rid, strlen(rid));
	zmq_setsockopt(h->sock, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(h->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	zmq_setsockopt(h->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
	zmq_setsockopt(h->sock, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt);
	int r = 0;
	if (o->server_key[0] &&
	    (zmq_setsockopt(h->sock, ZMQ_CURVE_SERVERKEY, o->server_key, 40) < 0 ||
	     zmq_setsockopt(h->sock, ZMQ_CURVE_PUBLICKEY, pub, 40) < 0 ||
	     zmq_setsockopt(h->sock, ZMQ_CURVE_SECRETKEY, sec, 40) < 0))
		r = -errno;
	sodium_memzero(sec, sizeof sec);
	/* Spread the reports over the interval, as hosts started at different times are. */
	h->next_report = proto_now_ms() + (int64_t)i * o->report_s * 1000 / o->hosts;
	return r;
}

static void
heap_put(int pos, struct host *h)
{
	heap.at[pos] = h;
	h->heap_pos = pos;
}

/* Moves h up or down to where its due time now belongs. */
static void
heap_sift(struct host *h)
{
	int pos = h->heap_pos;
	while (pos > 0 && heap.at[(pos - 1) / 2]->due > h->due) {
		heap_put(pos, heap.at[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	for (int c; (c = 2 * pos + 1) < heap.len; pos = c) {
		if (c + 1 < heap.len && heap.at[c + 1]->due < heap.at[c]->due)
			c++;
		if (heap.at[c]->due >= h->due)
			break;
		heap_put(pos, heap.at[c]);
	}
	heap_put(pos, h);
}

/* When timers() next has something to do for h. */
static int64_t
due_at(const struct opts *o, const struct host *h)
{
	int64_t hb = o->heartbeat_s * 1000LL;
	if (!h->welcomed)
		return h->hello_at + 3 * hb + 1;
	return h->next_report < h->last_sent + hb ? h->next_report : h->last_sent + hb;
}

/* Handles what h's socket holds, then files h under its next due time. ZMQ_FD only says
 * that ZMQ_EVENTS may have changed, and a send on the socket can consume that signal: so
 * this runs after every wake-up and every send, and reads while ZMQ_EVENTS says POLLIN. */
static void
service(const struct opts *o, struct host *h)
{
	int events;
	size_t len = sizeof events;
	while (zmq_getsockopt(h->sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN)) {
		struct proto_msg m = {0};
		struct hv_error err = {0};
		int r = proto_recv(h->sock, false, ZMQ_DONTWAIT, NULL, &m, NULL, &err);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			stats.bad++;
		else
			on_message(o, h, &m);
		proto_msg_release(&m);
	}
	h->due = (due_at(o, h) + TICK_MS - 1) / TICK_MS * TICK_MS;
	heap_sift(h);
}

/* Connects h, watches its socket's ZMQ_FD under the host's index and puts it in the heap. */
static int
connect_host(const struct opts *o, int ep, struct host *h, uint32_t index)
{
	int fd;
	size_t len = sizeof fd;
	if (zmq_connect(h->sock, o->endpoint) < 0 || zmq_getsockopt(h->sock, ZMQ_FD, &fd, &len) < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = index};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	send_hello(h);
	heap_put(heap.len++, h);
	service(o, h);
	return 0;
}

static void
timers(const struct opts *o, struct host *h, int64_t now)
{
	if (!h->welcomed) {
		if (now - h->hello_at > 3 * o->heartbeat_s * 1000)
			send_hello(h);
		return;
	}
	if (now >= h->next_report) {
		send_msg(h, PROTO_REPORT, report_body(o, h), NULL, false);
		h->next_report += o->report_s * 1000;
		if (h->next_report < now)
			h->next_report = now + o->report_s * 1000;
	}
	if (now - h->last_sent >= o->heartbeat_s * 1000)
		send_msg(h, PROTO_PING, json_object(), NULL, false);
}

static void
print_stats(int hosts)
{
	printf("{\"hosts\": %d, \"welcomed\": %d, \"commands\": %" PRIu64
	       ", \"duplicates\": %" PRIu64 ", \"bad\": %" PRIu64 ", \"sent\": {",
	       hosts, stats.welcomed, stats.commands, stats.duplicates, stats.bad);
	const char *sep = "";
	for (int t = 0; t < PROTO_N_TYPES; t++)
		if (stats.sent[t]) {
			printf("%s\"%s\": %" PRIu64, sep, proto_type_name(t), stats.sent[t]);
			sep = ", ";
		}
	printf("}, \"received\": {");
	sep = "";
	for (int t = 0; t < PROTO_N_TYPES; t++)
		if (stats.recv[t]) {
			printf("%s\"%s\": %" PRIu64, sep, proto_type_name(t), stats.recv[t]);
			sep = ", ";
		}
	printf("}}\n");
	fflush(stdout);
}

static const char usage[] =
	"usage: hvswarm --endpoint EP --server-key Z85 [options]\n"
	"Many fake compute hosts in one process, speaking HVA/1 to a real hvcentral.\n"
	"  --endpoint EP          hvcentral's agent endpoint (tcp://... or ipc://...)\n"
	"  --server-key Z85       hvcentral's CURVE public key (\"\" for a plain link)\n"
	"  --allow-dir DIR        write each host's public key to DIR/<host>.pub (hvcentral's\n"
	"                         [agents] allow directory) before connecting\n"
	"  --hosts N              how many hosts (default 10)\n"
	"  --prefix P             host ids are P00000, P00001, ... (default swarm-)\n"
	"  --vcpus N --memory-mb N --local-gb N --numa-cells N   each host's size\n"
	"                         (default 16 vCPUs, 65536 MB, 1000 GB, 2 cells)\n"
	"  --report-interval S    seconds between a host's REPORTs (default 10)\n"
	"  --heartbeat S          heartbeat interval (default 5)\n"
	"  --duration S           stop after S seconds (default: at SIGTERM/SIGINT)\n"
	"  --connect-rate N       connect N hosts a second, as a fleet whose agents reconnect\n"
	"                         with jitter after a restart (default 0: all at once)\n"
	"  --part K/N             run only the hosts i with i % N == K, as one of N processes\n"
	"                         sharing the other options (each host takes two open files)\n"
	"Prints \"ready N\" once all N hosts (of its part) are welcomed, and a JSON line of\n"
	"counters at the end.\n"
	"Example: hvswarm --endpoint tcp://127.0.0.1:5555 --server-key $(cat key.pub) \\\n"
	"             --allow-dir /var/lib/hvcentral/agents --hosts 1000 --vcpus 8\n";

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"endpoint", required_argument, NULL, 'e'},
		{"server-key", required_argument, NULL, 'k'},
		{"allow-dir", required_argument, NULL, 'a'},
		{"hosts", required_argument, NULL, 'n'},
		{"prefix", required_argument, NULL, 'p'},
		{"vcpus", required_argument, NULL, 'c'},
		{"memory-mb", required_argument, NULL, 'm'},
		{"local-gb", required_argument, NULL, 'd'},
		{"numa-cells", required_argument, NULL, 'N'},
		{"report-interval", required_argument, NULL, 'r'},
		{"heartbeat", required_argument, NULL, 'b'},
		{"duration", required_argument, NULL, 't'},
		{"connect-rate", required_argument, NULL, 'R'},
		{"part", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*o = (struct opts){.prefix = "swarm-",
			   .hosts = 10,
			   .vcpus = 16,
			   .numa_cells = 2,
			   .memory_mb = 65536,
			   .local_gb = 1000,
			   .report_s = 10,
			   .heartbeat_s = 5,
			   .parts = 1};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'e': o->endpoint = optarg; break;
		case 'k': o->server_key = optarg; break;
		case 'a': o->allow_dir = optarg; break;
		case 'n': o->hosts = atoi(optarg); break;
		case 'p': o->prefix = optarg; break;
		case 'c': o->vcpus = atoi(optarg); break;
		case 'm': o->memory_mb = atoll(optarg); break;
		case 'd': o->local_gb = atoll(optarg); break;
		case 'N': o->numa_cells = atoi(optarg); break;
		case 'r': o->report_s = atoi(optarg); break;
		case 'b': o->heartbeat_s = atoi(optarg); break;
		case 't': o->duration_s = atoi(optarg); break;
		case 'R': o->connect_rate = atoi(optarg); break;
		case 'P':
			if (sscanf(optarg, "%d/%d%c", &o->part, &o->parts, &(char){0}) != 2)
				o->parts = 0;
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); return -1;
		}
	}
	const char *bad =
		!o->endpoint                                    ? "--endpoint is required"
		: !o->server_key                                ? "--server-key is required"
		: o->hosts < 1 || o->hosts > 100000             ? "--hosts: 1-100000"
		: o->numa_cells < 1 || o->vcpus < o->numa_cells ? "--numa-cells: 1 to --vcpus"
		: o->memory_mb < 1 || o->local_gb < 1           ? "--memory-mb, --local-gb: >= 1"
		: o->report_s < 1 || o->heartbeat_s < 1 ? "--report-interval, --heartbeat: >= 1"
		: o->connect_rate < 0                   ? "--connect-rate: >= 0"
		: o->parts < 1 || o->part < 0 || o->part >= o->parts || o->parts > o->hosts
			? "--part: K/N, 0 <= K < N <= --hosts"
		: strlen(o->prefix) > 40 || !proto_id_valid(o->prefix)
			? "--prefix: up to 40 of A-Z a-z 0-9 . _ : -"
		: o->server_key[0] && strlen(o->server_key) != 40
			? "--server-key: 40 Z85 characters"
			: NULL;
	if (bad) {
		fprintf(stderr, "hvswarm: %s\n%s", bad, usage);
		return -1;
	}
	return 0;
}

/* Connects the hosts as they come due, handles the sockets epoll names, runs the timers that
 * are due, and re-checks a slice of the hosts so that each is seen about once a second. */
static int
run(const struct opts *o, int ep, struct host *hosts, int n)
{
	int64_t start = proto_now_ms(), swept_at = start;
	int64_t end = o->duration_s ? start + o->duration_s * 1000LL : INT64_MAX;
	int connected = 0, sweep = 0;
	bool ready = false;
	for (int64_t now = start; !stopping && now < end; now = proto_now_ms()) {
		/* the hosts due by now connect: all at once, or connect_rate a second (all parts) */
		int64_t due = o->connect_rate
				      ? (now - start) * o->connect_rate / (1000LL * o->parts) + 1
				      : n;
		for (; connected < n && connected < due; connected++) {
			int r = connect_host(o, ep, &hosts[connected], (uint32_t)connected);
			if (r < 0) {
				fprintf(stderr, "hvswarm: %s: %s\n", hosts[connected].id,
					zmq_strerror(-r));
				return r;
			}
		}
		int64_t wake = now + (connected < n ? TICK_MS : 100);
		if (heap.len && heap.at[0]->due < wake)
			wake = heap.at[0]->due;
		if (end < wake)
			wake = end;
		struct epoll_event ev[256];
		int k = epoll_wait(ep, ev, 256, wake > now ? (int)(wake - now) : 0);
		if (k < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < k; i++)
			service(o, &hosts[ev[i].data.u32]);
		now = proto_now_ms();
		while (heap.len && heap.at[0]->due <= now) {
			struct host *h = heap.at[0];
			timers(o, h, now);
			service(o, h);
			if (h->due <= now) { /* a PING its full queue refused: next tick */
				h->due = now + TICK_MS;
				heap_sift(h);
			}
		}
		/* the safety net: each host's ZMQ_EVENTS read again about once a second */
		int64_t slice = (now - swept_at) * connected / 1000;
		if (slice > 0)
			swept_at = now;
		for (; slice > 0; slice--, sweep = (sweep + 1) % connected)
			service(o, &hosts[sweep]);
		if (!ready && stats.welcomed == n) {
			printf("ready %d\n", n);
			fflush(stdout);
			ready = true;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o) < 0)
		return 2;
	int n = (o.hosts - o.part + o.parts - 1) / o.parts; /* this part's hosts */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* past the limit, libzmq would retry the last connections for ever, silently */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    2 * (rlim_t)n + 32 > rl.rlim_cur) {
		fprintf(stderr,
			"hvswarm: %d hosts need %d open files (a socket and a connection each), "
			"the limit is %llu: split them with --part\n",
			n, 2 * n + 32, (unsigned long long)rl.rlim_cur);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	void *zctx = zmq_ctx_new();
	zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, n + 64);
	/* libzmq cancels a connection's heartbeat timer by walking every timer of its I/O
	 * thread: with 5 000 hosts on one thread, that walk took 0.3 core */
	zmq_ctx_set(zctx, ZMQ_IO_THREADS, 1 + n / 500);
	struct host *hosts = calloc((size_t)n, sizeof *hosts);
	heap.at = calloc((size_t)n, sizeof *heap.at);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!zctx || !hosts || !heap.at || ep < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		int r = open_host(zctx, &o, &hosts[i], o.part + i * o.parts);
		if (r < 0) {
			fprintf(stderr, "hvswarm: host %d: %s (raise the open-file limit?)\n",
				o.part + i * o.parts, zmq_strerror(-r));
			return 1;
		}
	}
	int r = run(&o, ep, hosts, n);
	print_stats(n);
	for (int i = 0; i < n; i++) {
		zmq_close(hosts[i].sock);
		json_decref(hosts[i].instances);
		json_decref(hosts[i].results);
	}
	close(ep);
	free(heap.at);
	free(hosts);
	zmq_ctx_term(zctx);
	return r < 0;
}
