/* hv-nf - security groups and floating IPs of the current network namespace, from the
 * command line: for operators, the real-packet tests and the benchmark. Keeps the last
 * committed state in a file (--state) the way the agent keeps it in its journal, so each
 * invocation is a restarted process: it adopts that state and sends only the difference.
 * Must never touch a table other than the module's own. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "netfilter.h"
#include "nf-internal.h"

static const char usage[] =
	"usage: hv-nf [--state FILE] [--external IFNAME] COMMAND [ARG...]\n"
	"  apply STATE.json          make STATE.json the desired state (one transaction)\n"
	"  resync                    rewrite our tables from the state file (repairs tampering)\n"
	"  show [--json]             the committed state as nft commands (or JSON)\n"
	"  plug PORT.json            plug or update a port\n"
	"  unplug PORT_ID\n"
	"  set-groups PORT_ID GROUPS.json\n"
	"  group GROUP.json          create or replace a security group\n"
	"  group-delete GROUP_ID\n"
	"  fip FIP.json              associate a floating IP\n"
	"  fip-delete FIP_ID         disassociate (cuts the NATed connections)\n"
	"  claim IFNAME | release IFNAME   a tap with no port yet drops everything\n"
	"  watch SECONDS             plumb the taps of plugged ports as they come up, for a while\n"
	"  replay FILE.jsonl         one {\"op\":..,\"arg\":..} per line; prints each commit time "
	"(us)\n"
	"  render STATE.json         print the nft commands for a state (no kernel access)\n"
	"  diff OLD.json NEW.json    print the change between two states (no kernel access)\n"
	"Reading a file named '-' reads standard input.\n";

static json_t *
load(const char *path, struct hv_error *err)
{
	json_error_t je;
	json_t *v = !strcmp(path, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
				       : json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!v)
		hv_error_set(err, -EINVAL, path, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	return v;
}

static int
save(const struct nf_ctx *nf, const char *path)
{
	char tmp[4096];
	json_t *s = nf_state_json(nf);
	int r;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	r = json_dump_file(s, tmp, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(s);
	if (r < 0 || rename(tmp, path) < 0)
		return -EIO;
	return 0;
}

static int
print_render(const struct nf_model *from, const struct nf_model *to)
{
	struct hv_text t = {0};
	int r = from ? nf_diff(from, to, nf_render_op, &t) : nf_full(to, false, nf_render_op, &t);

	if (r == 0 && t.len)
		fwrite(t.buf, 1, t.len, stdout);
	hv_text_release(&t);
	return r;
}

static int
model_file(const char *path, const struct nf_model *prev, struct nf_model **ret,
	   struct hv_error *err)
{
	json_t *v = load(path, err);
	int r;

	if (!v)
		return -EINVAL;
	r = nf_model_from_json(v, "state", ret, err);
	json_decref(v);
	if (r == 0 && (r = nf_model_check(*ret, prev, err)) < 0)
		nf_model_free(*ret);
	return r;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* What the agent's loop does with the link watcher, for a bounded time. */
static int
watch(struct nf_ctx *nf, const char *seconds, struct hv_error *err)
{
	char *end;
	long s = strtol(seconds, &end, 10);
	double until = now_us() + (double)s * 1e6;

	if (*end || s < 1 || s > 3600)
		return hv_error_set(err, -EINVAL, "SECONDS", "watch: SECONDS must be 1-3600");
	for (double now = now_us(); now < until; now = now_us()) {
		struct pollfd p = {.fd = nf_watch_fd(nf), .events = POLLIN};
		struct hv_error e;

		if (poll(&p, 1, (int)((until - now) / 1e3) + 1) > 0)
			nf_watch_dispatch(nf);
		if (nf_host_error(nf, &e))
			log_warning("%s", e.message);
	}
	return 0;
}

static int run_op(struct nf_ctx *nf, const char *op, const json_t *arg, const char *arg2,
		  struct hv_error *err);

static int
replay(struct nf_ctx *nf, const char *path, struct hv_error *err)
{
	FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0, lineno = 0;

	if (!f)
		return hv_error_set(err, -errno, path, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t je;
		json_t *cmd;
		double t0;

		lineno++;
		if (n <= 1)
			continue;
		cmd = json_loads(line, JSON_REJECT_DUPLICATES, &je);
		if (!cmd || !json_is_string(json_object_get(cmd, "op"))) {
			json_decref(cmd);
			r = hv_error_set(err, -EINVAL, path,
					 "%s:%d: expected {\"op\": ..., \"arg\": ...}", path,
					 lineno);
			break;
		}
		t0 = now_us();
		r = run_op(nf, json_string_value(json_object_get(cmd, "op")),
			   json_object_get(cmd, "arg"),
			   json_string_value(json_object_get(cmd, "arg2")), err);
		printf("%s %.1f\n", json_string_value(json_object_get(cmd, "op")), now_us() - t0);
		json_decref(cmd);
		if (r < 0)
			break;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

/* arg is the JSON body, or a string holding an id. */
static int
run_op(struct nf_ctx *nf, const char *op, const json_t *arg, const char *arg2, struct hv_error *err)
{
	const char *id = json_is_string(arg) ? json_string_value(arg) : "";

	if (!strcmp(op, "apply"))
		return nf_apply(nf, arg, err);
	if (!strcmp(op, "plug"))
		return nf_port_plug(nf, arg, err);
	if (!strcmp(op, "unplug"))
		return nf_port_unplug(nf, id, err);
	if (!strcmp(op, "group"))
		return nf_group_put(nf, arg, err);
	if (!strcmp(op, "group-delete"))
		return nf_group_delete(nf, id, err);
	if (!strcmp(op, "fip"))
		return nf_fip_associate(nf, arg, err);
	if (!strcmp(op, "fip-delete"))
		return nf_fip_disassociate(nf, id, err);
	if (!strcmp(op, "claim"))
		return nf_tap_claim(nf, id, err);
	if (!strcmp(op, "release"))
		return nf_tap_release(nf, id, err);
	if (!strcmp(op, "resync"))
		return nf_resync(nf, err);
	if (!strcmp(op, "set-groups")) {
		/* replay form: {"op":"set-groups","arg":[groups],"arg2":"port"} */
		return nf_port_set_groups(nf, arg2 ? arg2 : "", arg, err);
	}
	return hv_error_set(err, -EINVAL, "op", "unknown command '%.32s'", op);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},
		{"external", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *state_path = NULL, *ext = NULL, *cmd;
	struct hv_error err = {0};
	struct nf_ctx *nf = NULL;
	json_t *state = NULL, *arg = NULL;
	int c, r = 0;

	hv_log_set_ident("hv-nf");
	while ((c = getopt_long(argc, argv, "+s:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state_path = optarg; break;
		case 'e': ext = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[optind++];

	/* Pure commands: no netlink. */
	if (!strcmp(cmd, "render") || !strcmp(cmd, "diff")) {
		struct nf_model *a = NULL, *b = NULL;

		if (optind + (!strcmp(cmd, "diff") ? 2 : 1) != argc) {
			fputs(usage, stderr);
			return 2;
		}
		r = model_file(argv[optind], NULL, &a, &err);
		if (r == 0 && !strcmp(cmd, "diff"))
			r = model_file(argv[optind + 1], a, &b, &err);
		if (r == 0)
			r = b ? print_render(a, b) : print_render(NULL, a);
		nf_model_free(a);
		nf_model_free(b);
		goto out;
	}

	/* Without the committed state, a single change would replace everything else. */
	if (!state_path && strcmp(cmd, "apply")) {
		fprintf(stderr, "hv-nf: %s needs --state FILE (the committed state to change)\n",
			cmd);
		return 2;
	}
	if (state_path && access(state_path, F_OK) == 0) {
		if (!(state = load(state_path, &err))) {
			r = -EINVAL;
			goto out;
		}
		if (!ext && json_is_string(json_object_get(state, "external_ifname")))
			ext = json_string_value(json_object_get(state, "external_ifname"));
	}
	if ((r = nf_open(&nf, ext, &err)) < 0)
		goto out;
	if (state && (r = nf_adopt(nf, state, &err)) < 0)
		goto out;

	if (!strcmp(cmd, "show")) {
		if (optind < argc && !strcmp(argv[optind], "--json")) {
			json_t *s = nf_state_json(nf);
			json_dumpf(s, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(s);
		} else {
			char *text;
			if ((r = nf_state_text(nf, &text)) == 0) {
				fputs(text, stdout);
				free(text);
			}
		}
		goto out;
	}
	if (!strcmp(cmd, "replay")) {
		if (optind >= argc) {
			fputs(usage, stderr);
			r = -EINVAL;
			goto out;
		}
		r = replay(nf, argv[optind], &err);
	} else if (!strcmp(cmd, "resync")) {
		r = nf_resync(nf, &err);
	} else if (!strcmp(cmd, "watch")) {
		r = optind < argc ? watch(nf, argv[optind], &err) : -EINVAL;
		if (optind >= argc)
			fputs(usage, stderr);
	} else if (!strcmp(cmd, "apply") || !strcmp(cmd, "plug") || !strcmp(cmd, "group") ||
		   !strcmp(cmd, "fip") || !strcmp(cmd, "set-groups")) {
		const char *file = !strcmp(cmd, "set-groups")
					   ? (optind + 1 < argc ? argv[optind + 1] : NULL)
					   : (optind < argc ? argv[optind] : NULL);
		if (!file) {
			fputs(usage, stderr);
			r = -EINVAL;
			goto out;
		}
		if (!(arg = load(file, &err))) {
			r = -EINVAL;
			goto out;
		}
		r = run_op(nf, cmd, arg, !strcmp(cmd, "set-groups") ? argv[optind] : NULL, &err);
	} else {
		if (optind >= argc) {
			fputs(usage, stderr);
			r = -EINVAL;
			goto out;
		}
		arg = json_string(argv[optind]);
		r = run_op(nf, cmd, arg, NULL, &err);
	}
	if (r == 0 && state_path && save(nf, state_path) < 0) {
		r = hv_error_set(&err, -EIO, state_path, "cannot write state file %s", state_path);
	}
out:
	if (nf) {
		struct hv_error e;

		if (nf_host_error(nf, &e))
			log_warning("host side of the taps: %s", e.message);
	}
	if (r < 0)
		log_error("%s: %s", cmd, err.message[0] ? err.message : strerror(-r));
	json_decref(arg);
	json_decref(state);
	nf_close(&nf);
	return r < 0 ? 1 : 0;
}
