/* cmd_throughput.c - commands per second through the whole path: API socket -> hvcentral
 * -> hvagent -> fake driver -> RESULT -> API reply. Runs spawn+delete pairs with a window of
 * pairs in flight, each request waiting for its command's RESULT, and prints throughput and
 * latency percentiles. A benchmark: it prints figures and never fails on them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

struct pair {
	char name[32];
	char uuid[40];
	int stage; /* 0 create sent, 1 delete sent, 2 done */
	uint64_t req_id;
	double sent_at;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
send_create(struct hvc *c, struct pair *p, const char *host, struct hv_error *err)
{
	json_t *args = json_pack("{s:s, s:s, s:{s:i, s:i, s:i}}", "name", p->name, "image",
				 "cirros", "flavor", "vcpus", 1, "ram", 64, "disk", 1);
	if (host) /* else the scheduler places it */
		json_object_set_new(args, "host", json_string(host));
	int r = hvc_send(c, "server.create", args, true, 60000, &p->req_id, err);
	json_decref(args);
	p->sent_at = now_s();
	return r;
}

static int
send_delete(struct hvc *c, struct pair *p, struct hv_error *err)
{
	json_t *args = json_pack("{s:s, s:s}", "server", p->uuid, "action", "delete");
	int r = hvc_send(c, "server.action", args, true, 60000, &p->req_id, err);
	json_decref(args);
	p->sent_at = now_s();
	return r;
}

int
main(int argc, char **argv)
{
	const char *api = NULL, *host = "node-1", *prefix = "bench";
	int pairs = 2000, window = 64, o;
	bool create_only = false;
	static const struct option opts[] = {
		{"api", required_argument, NULL, 'a'},
		{"host", required_argument, NULL, 'H'},
		{"pairs", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"prefix", required_argument, NULL, 'p'},
		{"scheduled", no_argument, NULL, 's'},
		{"create-only", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'a': api = optarg; break;
		case 'H': host = optarg; break;
		case 'n': pairs = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		case 's': host = NULL; break;
		case 'c': create_only = true; break;
		default:
			printf("Usage: cmd_throughput [--api EP] [--host H | --scheduled] [--pairs "
			       "N]"
			       " [--window W] [--create-only]\n"
			       "Spawn+delete pairs through hvcentral's API, W pairs in flight;\n"
			       "prints commands/s and p50/p99 latency of one command (request to\n"
			       "RESULT: a spawn's is its time to active). --scheduled leaves the\n"
			       "host to the scheduler; --create-only creates N servers, no "
			       "delete.\n");
			return o == 'h' ? 0 : 2;
		}
	}
	if (pairs < 1 || window < 1)
		return 2;
	char ep[512];
	struct hv_error err = {0};
	struct hvc *c = NULL;
	hvc_resolve_endpoint(api, ep, sizeof ep);
	if (hvc_open(ep, &c, &err) < 0) {
		fprintf(stderr, "cmd_throughput: %s\n", err.message);
		return 3;
	}
	struct pair *ps = calloc((size_t)pairs, sizeof *ps);
	double *lat = calloc((size_t)pairs * 2, sizeof *lat);
	int n_lat = 0, started = 0, finished = 0, failed = 0, in_flight = 0;
	double t0 = now_s();
	while (finished < pairs) {
		while (in_flight < window && started < pairs) {
			struct pair *p = &ps[started];
			snprintf(p->name, sizeof p->name, "%s-%d", prefix, started);
			if (send_create(c, p, host, &err) < 0) {
				fprintf(stderr, "cmd_throughput: %s\n", err.message);
				return 3;
			}
			started++;
			in_flight++;
		}
		uint64_t id;
		json_t *reply = NULL;
		if (hvc_recv(c, 60000, &id, &reply, &err) < 0) {
			fprintf(stderr, "cmd_throughput: %s\n", err.message);
			return 3;
		}
		struct pair *p = NULL;
		for (int i = 0; i < started; i++)
			if (ps[i].stage < 2 && ps[i].req_id == id) {
				p = &ps[i];
				break;
			}
		if (!p) {
			json_decref(reply);
			continue;
		}
		lat[n_lat++] = now_s() - p->sent_at;
		bool ok = json_is_true(json_object_get(reply, "ok"));
		if (!ok) {
			failed++;
			if (failed <= 3) {
				char *t = json_dumps(reply, JSON_COMPACT);
				fprintf(stderr, "cmd_throughput: %s\n", t);
				free(t);
			}
		}
		if (p->stage == 0 && ok && !create_only) {
			const char *u = json_string_value(
				json_object_get(json_object_get(reply, "result"), "uuid"));
			snprintf(p->uuid, sizeof p->uuid, "%s", u ? u : "");
			p->stage = 1;
			if (send_delete(c, p, &err) < 0) {
				fprintf(stderr, "cmd_throughput: %s\n", err.message);
				return 3;
			}
		} else {
			p->stage = 2;
			finished++;
			in_flight--;
		}
		json_decref(reply);
	}
	double wall = now_s() - t0;
	qsort(lat, (size_t)n_lat, sizeof *lat, cmp_double);
	printf("commands: %d (%d %s, window %d%s), failed: %d\n", n_lat, pairs,
	       create_only ? "spawns" : "spawn+delete pairs", window,
	       host ? "" : ", placed by the scheduler", failed);
	printf("wall: %.3f s, throughput: %.0f commands/s\n", wall, n_lat / wall);
	printf("latency per command: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", lat[n_lat / 2] * 1e3,
	       lat[(int)(n_lat * 0.99)] * 1e3, lat[n_lat - 1] * 1e3);
	if (!create_only && host)
		printf("target: 2000 commands/s on 2 cores -> %s\n",
		       n_lat / wall >= 2000 ? "met" : "not met");
	free(ps);
	free(lat);
	hvc_free(c);
	return failed ? 1 : 0;
}
