/* fake_model.c - the fake hypervisor's state: the action x state table, instances with
 * their resources, CPU time and console log, and the host's knobs. Pure: the time comes in
 * through struct fake_call / now_ns, and nothing here locks, sleeps, logs or does I/O. */
#include "fake_model.h"
#include "fake_model-priv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#include "vec.h"

#define NS UINT64_C(1000000000)
#define FAKE_LOG_MAX ((size_t)64 * 1024)
#define FAKE_UPTIME_BACKLOG 600 /* uptime lines written at most per catch-up */

/* ---- the table ---- */

/* A table, laid out by hand: one row per action, one entry per state it is allowed from. */
/* clang-format off */
#define GO(n, e) { .allowed = true, .next = FAKE_##n, .event = (e) }
#define VIA(n, e, v) { .allowed = true, .next = FAKE_##n, .event = (e), .via = true, .via_state = FAKE_##v }
#define NONE FAKE_NO_EVENT

static const struct fake_transition fake_table[FAKE_N_ACTIONS][FAKE_N_STATES] = {
	[FAKE_POWER_OFF] = {
		[FAKE_RUNNING] = GO(SHUTDOWN, HVD_EVENT_STOPPED),
		[FAKE_PAUSED] = GO(SHUTDOWN, HVD_EVENT_STOPPED),
		[FAKE_RESIZED] = GO(RESIZED_SHUTDOWN, HVD_EVENT_STOPPED),
	},
	[FAKE_POWER_ON] = {
		[FAKE_SHUTDOWN] = GO(RUNNING, HVD_EVENT_STARTED),
		[FAKE_RESIZED_SHUTDOWN] = GO(RESIZED, HVD_EVENT_STARTED),
	},
	[FAKE_REBOOT_SOFT] = {
		[FAKE_RUNNING] = VIA(RUNNING, HVD_EVENT_RESTARTED, SHUTDOWN),
		[FAKE_RESIZED] = VIA(RESIZED, HVD_EVENT_RESTARTED, RESIZED_SHUTDOWN),
	},
	[FAKE_REBOOT_HARD] = {
		[FAKE_RUNNING] = GO(RUNNING, HVD_EVENT_RESTARTED),
		[FAKE_PAUSED] = GO(RUNNING, HVD_EVENT_RESTARTED),
		[FAKE_SHUTDOWN] = GO(RUNNING, HVD_EVENT_STARTED),
		[FAKE_SUSPENDED] = GO(RUNNING, HVD_EVENT_STARTED),
		[FAKE_RESIZED] = GO(RESIZED, HVD_EVENT_RESTARTED),
		[FAKE_RESIZED_SHUTDOWN] = GO(RESIZED, HVD_EVENT_STARTED),
	},
	[FAKE_PAUSE] = { [FAKE_RUNNING] = GO(PAUSED, HVD_EVENT_PAUSED) },
	[FAKE_UNPAUSE] = { [FAKE_PAUSED] = GO(RUNNING, HVD_EVENT_RESUMED) },
	[FAKE_SUSPEND] = { [FAKE_RUNNING] = GO(SUSPENDED, HVD_EVENT_SUSPENDED) },
	/* Restoring a managed save starts a new QEMU: libvirt reports STARTED. */
	[FAKE_RESUME] = { [FAKE_SUSPENDED] = GO(RUNNING, HVD_EVENT_STARTED) },
	[FAKE_RESIZE] = {
		[FAKE_RUNNING] = GO(RESIZED, HVD_EVENT_RESTARTED),
		[FAKE_SHUTDOWN] = GO(RESIZED_SHUTDOWN, NONE),
	},
	[FAKE_CONFIRM_RESIZE] = {
		[FAKE_RESIZED] = GO(RUNNING, NONE),
		[FAKE_RESIZED_SHUTDOWN] = GO(SHUTDOWN, NONE),
	},
	[FAKE_REVERT_RESIZE] = {
		[FAKE_RESIZED] = GO(RUNNING, HVD_EVENT_RESTARTED),
		[FAKE_RESIZED_SHUTDOWN] = GO(SHUTDOWN, NONE),
	},
	[FAKE_REBUILD] = {
		[FAKE_RUNNING] = GO(RUNNING, HVD_EVENT_RESTARTED),
		[FAKE_SHUTDOWN] = GO(SHUTDOWN, NONE),
	},
	[FAKE_RESCUE] = {
		[FAKE_RUNNING] = GO(RESCUED, HVD_EVENT_RESTARTED),
		[FAKE_SHUTDOWN] = GO(RESCUED, HVD_EVENT_STARTED),
	},
	[FAKE_UNRESCUE] = { [FAKE_RESCUED] = GO(RUNNING, HVD_EVENT_RESTARTED) },
	[FAKE_SNAPSHOT] = {
		[FAKE_RUNNING] = GO(RUNNING, NONE),
		[FAKE_PAUSED] = GO(PAUSED, NONE),
		[FAKE_SHUTDOWN] = GO(SHUTDOWN, NONE),
		[FAKE_SUSPENDED] = GO(SUSPENDED, NONE),
	},
	[FAKE_GET_CONSOLE] = {
		[FAKE_RUNNING] = GO(RUNNING, NONE),
		[FAKE_PAUSED] = GO(PAUSED, NONE),
		[FAKE_RESCUED] = GO(RESCUED, NONE),
		[FAKE_RESIZED] = GO(RESIZED, NONE),
	},
	[FAKE_SET_PASSWORD] = { [FAKE_RUNNING] = GO(RUNNING, NONE) },
};
/* clang-format on */

#undef GO
#undef VIA
#undef NONE

static const char *const fake_state_names[FAKE_N_STATES] = {
	[FAKE_RUNNING] = "running",
	[FAKE_PAUSED] = "paused",
	[FAKE_SHUTDOWN] = "shutdown",
	[FAKE_SUSPENDED] = "suspended",
	[FAKE_RESCUED] = "rescued",
	[FAKE_RESIZED] = "resized (confirm or revert first)",
	[FAKE_RESIZED_SHUTDOWN] = "shutdown with a resize pending (confirm or revert first)",
};

static const char *const fake_action_names[FAKE_N_ACTIONS] = {
	[FAKE_POWER_OFF] = "power off",
	[FAKE_POWER_ON] = "power on",
	[FAKE_REBOOT_SOFT] = "soft reboot",
	[FAKE_REBOOT_HARD] = "hard reboot",
	[FAKE_PAUSE] = "pause",
	[FAKE_UNPAUSE] = "unpause",
	[FAKE_SUSPEND] = "suspend",
	[FAKE_RESUME] = "resume",
	[FAKE_RESIZE] = "resize",
	[FAKE_CONFIRM_RESIZE] = "confirm the resize of",
	[FAKE_REVERT_RESIZE] = "revert the resize of",
	[FAKE_REBUILD] = "rebuild",
	[FAKE_RESCUE] = "rescue",
	[FAKE_UNRESCUE] = "unrescue",
	[FAKE_SNAPSHOT] = "snapshot",
	[FAKE_GET_CONSOLE] = "open a console of",
	[FAKE_SET_PASSWORD] = "set the admin password of",
};

/* What the guest's console shows when the action happens. */
static const char *const fake_action_lines[FAKE_N_ACTIONS] = {
	[FAKE_POWER_OFF] = "reboot: Power down",
	[FAKE_POWER_ON] = "power on",
	[FAKE_REBOOT_SOFT] = "reboot: Restarting system",
	[FAKE_REBOOT_HARD] = "hard reset",
	[FAKE_PAUSE] = "vCPUs paused",
	[FAKE_UNPAUSE] = "vCPUs resumed",
	[FAKE_SUSPEND] = "memory saved to the managed save image",
	[FAKE_RESUME] = "memory restored from the managed save image",
	[FAKE_RESIZE] = "resized",
	[FAKE_CONFIRM_RESIZE] = "resize confirmed: old definition dropped",
	[FAKE_REVERT_RESIZE] = "resize reverted: old definition restored",
	[FAKE_REBUILD] = "root disk replaced",
	[FAKE_RESCUE] = "booting the rescue image",
	[FAKE_UNRESCUE] = "rescue ended: booting the root disk",
	[FAKE_SNAPSHOT] = "snapshot taken",
	[FAKE_GET_CONSOLE] = "console opened",
	[FAKE_SET_PASSWORD] = "password set",
};

const struct fake_transition *
fake_transition(enum fake_action action, enum fake_state state)
{
	if ((unsigned)action >= FAKE_N_ACTIONS || (unsigned)state >= FAKE_N_STATES)
		return NULL;
	return &fake_table[action][state];
}

const char *
fake_state_name(enum fake_state state)
{
	return (unsigned)state < FAKE_N_STATES ? fake_state_names[state] : "unknown";
}

const char *
fake_action_name(enum fake_action action)
{
	return (unsigned)action < FAKE_N_ACTIONS ? fake_action_names[action] : "unknown";
}

enum hvd_power_state
fake_state_power(enum fake_state state)
{
	switch (state) {
	case FAKE_RUNNING:
	case FAKE_RESCUED:
	case FAKE_RESIZED: return HVD_POWER_RUNNING;
	case FAKE_PAUSED: return HVD_POWER_PAUSED;
	case FAKE_SHUTDOWN:
	case FAKE_RESIZED_SHUTDOWN: return HVD_POWER_SHUTDOWN;
	case FAKE_SUSPENDED: return HVD_POWER_SUSPENDED;
	default: return HVD_POWER_NOSTATE;
	}
}

static bool
fake_state_runs(enum fake_state s)
{
	return fake_state_power(s) == HVD_POWER_RUNNING;
}

/* Memory resident: running or paused (a paused guest keeps its memory). */
static bool
fake_state_resident(enum fake_state s)
{
	return fake_state_runs(s) || s == FAKE_PAUSED;
}

/* ---- host and instances ---- */

const char *const fake_ops[FAKE_N_OPS] = {
	"host_info",
	"host_stats",
	"list_instances",
	"get_instance",
	"spawn",
	"destroy",
	"power_off",
	"power_on",
	"reboot",
	"pause",
	"unpause",
	"suspend",
	"resume",
	"resize",
	"confirm_resize",
	"revert_resize",
	"rebuild",
	"rescue",
	"unrescue",
	"snapshot",
	"console_log",
	"get_console",
	"set_admin_password",
};

struct fake_host *
fake_host_new(uint64_t now_ns)
{
	struct fake_host *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->vcpus = 16;
	h->memory_mb = 65536;
	h->local_gb = 1000;
	h->numa_cells = 2;
	h->cpu_mhz = 2400;
	h->seed = 1;
	h->rng = 1;
	h->acpi = true;
	h->stats_ns = now_ns;
	for (size_t i = 0; i < FAKE_N_OPS; i++)
		h->op_latency_ms[i] = -1;
	return h;
}

static void
fake_instance_free(struct fake_instance *i)
{
	if (!i)
		return;
	free(i->log);
	free(i);
}

void
fake_host_free(struct fake_host *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_inst; i++)
		fake_instance_free(h->inst[i]);
	free(h->inst);
	free(h);
}

static ssize_t
fake_op_index(const char *op)
{
	for (size_t i = 0; i < FAKE_N_OPS; i++)
		if (strcmp(fake_ops[i], op) == 0)
			return (ssize_t)i;
	return -1;
}

static int
fake_parse_u64(const char *key, const char *value, uint64_t min, uint64_t max, uint64_t *ret,
	       struct hv_error *err)
{
	char *end;
	errno = 0;
	unsigned long long v =
		value && isdigit((unsigned char)*value) ? strtoull(value, &end, 10) : 0;
	if (!value || !isdigit((unsigned char)*value) || *end || errno || v < min || v > max)
		return hv_error_set(err, -EINVAL, key,
				    "fake: %s: '%.32s' is not an integer in %" PRIu64 "-%" PRIu64,
				    key, value ? value : "", min, max);
	*ret = v;
	return 0;
}

static int
fake_parse_bool(const char *s)
{
	static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false",
										    "no", "0"};
	for (size_t i = 0; s && i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* console_addr: "" or HOST:PORT, HOST a name or address without blanks or '/'. */
static int
fake_set_console_addr(struct fake_host *h, const char *value, struct hv_error *err)
{
	const char *colon = value ? strrchr(value, ':') : NULL;
	if (value && !*value) {
		h->console_host[0] = '\0';
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
	size_t n = colon ? (size_t)(colon - value) : 0;
	if (!colon || !n || n >= sizeof h->console_host || errno || *end || port == 0 ||
	    port > 65535 || strcspn(value, " \t/") < n)
		return hv_error_set(err, -EINVAL, "console_addr",
				    "fake: console_addr: '%.64s' is not HOST:PORT",
				    value ? value : "");
	memcpy(h->console_host, value, n);
	h->console_host[n] = '\0';
	h->console_port = (uint32_t)port;
	return 0;
}

int
fake_host_set(struct fake_host *h, const char *key, const char *value, bool at_open,
	      struct hv_error *err)
{
	static const struct {
		const char *key;
		uint64_t min, max;
		size_t offset;
	} sizes[] = {
		{"vcpus", 1, 4096, offsetof(struct fake_host, vcpus)},
		{"memory_mb", 64, 16777216, offsetof(struct fake_host, memory_mb)},
		{"local_gb", 1, 1048576, offsetof(struct fake_host, local_gb)},
		{"numa_cells", 1, HVD_MAX_NUMA_CELLS, offsetof(struct fake_host, numa_cells)},
		{"cpu_mhz", 100, 10000, offsetof(struct fake_host, cpu_mhz)},
	};
	uint64_t v;
	int r;

	if (!key)
		return hv_error_set(err, -EINVAL, "key", "fake: option name is missing");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (strcmp(key, sizes[i].key) != 0)
			continue;
		if (!at_open)
			return hv_error_set(err, -EINVAL, key,
					    "fake: %s is a host size: set it in the host config, "
					    "not at run time",
					    key);
		if ((r = fake_parse_u64(key, value, sizes[i].min, sizes[i].max, &v, err)) < 0)
			return r;
		memcpy((char *)h + sizes[i].offset, &v, sizeof v);
		return 0;
	}
	if (strcmp(key, "latency_ms") == 0) {
		if ((r = fake_parse_u64(key, value, 0, 60000, &v, err)) < 0)
			return r;
		h->latency_ms = (uint32_t)v;
		return 0;
	}
	if (strncmp(key, "latency.", 8) == 0 || strncmp(key, "fail.", 5) == 0) {
		bool fail = key[0] == 'f';
		ssize_t op = fake_op_index(key + (fail ? 5 : 8));
		if (op < 0)
			return hv_error_set(err, -EINVAL, key,
					    "fake: %s: '%.40s' is not an op that can be %s", key,
					    key + (fail ? 5 : 8), fail ? "failed" : "delayed");
		if ((r = fake_parse_u64(key, value, 0, fail ? 1000000000 : 60000, &v, err)) < 0)
			return r;
		if (fail)
			h->fail_next[op] = v;
		else
			h->op_latency_ms[op] = (int64_t)v;
		return 0;
	}
	if (strcmp(key, "fail_probability") == 0) {
		char *end;
		errno = 0;
		double p = value && *value ? strtod(value, &end) : -1;
		if (!value || !*value || *end || errno || !(p >= 0.0 && p <= 1.0))
			return hv_error_set(
				err, -EINVAL, key,
				"fake: fail_probability: '%.32s' is not a number from 0 to 1",
				value ? value : "");
		h->fail_probability = p;
		return 0;
	}
	if (strcmp(key, "seed") == 0) {
		char *end;
		errno = 0;
		long long s = value && *value ? strtoll(value, &end, 10) : 0;
		if (!value || !*value || *end || errno)
			return hv_error_set(err, -EINVAL, key,
					    "fake: seed: '%.32s' is not an integer",
					    value ? value : "");
		h->seed = s;
		h->rng = (uint64_t)s;
		return 0;
	}
	if (strcmp(key, "outside_memory_mb") == 0) {
		if ((r = fake_parse_u64(key, value, 0, 16777216, &v, err)) < 0)
			return r;
		h->outside_memory_mb = v;
		return 0;
	}
	if (strcmp(key, "console_addr") == 0)
		return fake_set_console_addr(h, value, err);
	if (strcmp(key, "acpi") == 0) {
		int b = fake_parse_bool(value);
		if (b < 0)
			return hv_error_set(err, -EINVAL, key,
					    "fake: acpi: '%.32s' is not on or off",
					    value ? value : "");
		h->acpi = b;
		return 0;
	}
	if (at_open)
		return 0;
	return hv_error_set(
		err, -EINVAL, key,
		"fake: unknown option '%.64s' (allowed: latency_ms, latency.<op>, fail.<op>, "
		"fail_probability, seed, acpi, outside_memory_mb)",
		key);
}

/* splitmix64: tiny, and the same seed gives the same draws on every platform. */
static uint64_t
fake_rng_next(struct fake_host *h)
{
	uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int64_t
fake_host_begin(struct fake_host *h, const char *op, bool changes_state, uint32_t *ret_latency_ms,
		struct hv_error *err)
{
	ssize_t i = fake_op_index(op);
	*ret_latency_ms = h->latency_ms;
	if (i < 0)
		return 1;
	uint64_t n = ++h->calls[i];
	if (h->op_latency_ms[i] >= 0)
		*ret_latency_ms = (uint32_t)h->op_latency_ms[i];
	if (h->fail_next[i]) {
		h->fail_next[i]--;
		return hv_error_set(err, -EIO, "",
				    "fake: %s: injected failure (fail.%s, %" PRIu64
				    " more to come)",
				    op, op, h->fail_next[i]);
	}
	/* Only state-changing ops draw, so the agent's polling does not shift the sequence. */
	if (changes_state && h->fail_probability > 0.0) {
		double x = (double)(fake_rng_next(h) >> 11) * 0x1.0p-53;
		if (x < h->fail_probability)
			return hv_error_set(
				err, -EIO, "",
				"fake: %s: injected failure (fail_probability %g, seed %" PRId64
				")",
				op, h->fail_probability, h->seed);
	}
	return (int64_t)n;
}

uint64_t
fake_host_calls(const struct fake_host *h, const char *op)
{
	ssize_t i = fake_op_index(op);
	return i < 0 ? 0 : h->calls[i];
}

bool
fake_host_acpi(const struct fake_host *h)
{
	return h->acpi;
}

/* ---- CPU time ---- */

/* Banks the host counters up to now, at the current load. */
static void
fake_host_advance(struct fake_host *h, uint64_t now)
{
	if (now <= h->stats_ns)
		return;
	uint64_t dt = now - h->stats_ns;
	uint32_t busy = h->busy_vcpus < h->vcpus ? h->busy_vcpus : h->vcpus;
	/* A busy vCPU is mostly guest (user) time with some host kernel work. */
	h->user_ns += dt * busy / 10 * 9;
	h->kernel_ns += dt * busy / 10;
	h->idle_ns += dt * (h->vcpus - busy);
	h->stats_ns = now;
}

static uint64_t
fake_uptime_ns(const struct fake_instance *i, uint64_t now)
{
	uint64_t up = i->up_ns;
	if (fake_state_runs(i->state) && now > i->run_since_ns)
		up += now - i->run_since_ns;
	return up;
}

static uint64_t
fake_cpu_ns(const struct fake_instance *i, uint64_t now)
{
	uint64_t cpu = i->cpu_ns;
	if (fake_state_runs(i->state) && now > i->run_since_ns)
		cpu += (now - i->run_since_ns) * i->flavor.vcpus;
	return cpu;
}

/* ---- console log ---- */

static void
fake_log_raw(struct fake_instance *i, const char *text, size_t n)
{
	if (n >= FAKE_LOG_MAX)
		return;
	if (i->log_len + n > FAKE_LOG_MAX) {
		/* Drop whole lines from the front, like a size-capped log file. */
		size_t drop = i->log_len + n - FAKE_LOG_MAX;
		const char *nl = memchr(i->log + drop, '\n', i->log_len - drop);
		drop = nl ? (size_t)(nl - i->log) + 1 : i->log_len;
		memmove(i->log, i->log + drop, i->log_len - drop);
		i->log_len -= drop;
	}
	/* log_len + n <= FAKE_LOG_MAX here, a power of two, so doubling never passes it */
	if (HV_GROW(i->log, i->log_cap, i->log_len + n) < 0)
		return; /* a lost console line is acceptable, corrupting state is not */
	memcpy(i->log + i->log_len, text, n);
	i->log_len += n;
}

static void __attribute__((format(printf, 3, 4)))
fake_log_at(struct fake_instance *i, uint64_t up_ns, const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof line, "[%5" PRIu64 ".%06" PRIu64 "] ", up_ns / NS,
			 up_ns % NS / 1000);
	size_t avail = sizeof line - (size_t)n - 1; /* one byte kept for the '\n' */
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, avail, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n;
	if (m > 0)
		len += (size_t)m < avail ? (size_t)m : avail - 1; /* truncated: keep what fits */
	line[len++] = '\n';
	fake_log_raw(i, line, len);
}

/* Writes the "uptime" lines a running guest printed since the last look. */
static void
fake_log_catch_up(struct fake_instance *i, uint64_t now)
{
	uint64_t up_s = fake_uptime_ns(i, now) / NS;
	if (up_s <= i->uptime_logged_s)
		return;
	if (up_s - i->uptime_logged_s > FAKE_UPTIME_BACKLOG) {
		fake_log_at(i, (up_s - FAKE_UPTIME_BACKLOG) * NS,
			    "(%" PRIu64 " uptime lines not kept)",
			    up_s - FAKE_UPTIME_BACKLOG - i->uptime_logged_s);
		i->uptime_logged_s = up_s - FAKE_UPTIME_BACKLOG;
	}
	while (i->uptime_logged_s < up_s) {
		i->uptime_logged_s++;
		fake_log_at(i, i->uptime_logged_s * NS, "uptime: %" PRIu64 " s",
			    i->uptime_logged_s);
	}
}

static void __attribute__((format(printf, 3, 4)))
fake_log(struct fake_instance *i, uint64_t now, const char *fmt, ...)
{
	fake_log_catch_up(i, now);
	char text[448];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	fake_log_at(i, fake_uptime_ns(i, now), "%s", text);
}

static void
fake_log_call(struct fake_instance *i, const struct fake_call *call)
{
	if (call && call->op)
		fake_log(i, call->now_ns, "fake: op %s #%" PRIu64, call->op, call->n);
}

/* ---- state changes ---- */

static void
fake_set_state(struct fake_host *h, struct fake_instance *i, enum fake_state st, uint64_t now)
{
	fake_log_catch_up(i, now);
	fake_host_advance(h, now);
	bool was = fake_state_runs(i->state), will = fake_state_runs(st);
	if (was && !will) {
		if (now > i->run_since_ns) {
			i->cpu_ns += (now - i->run_since_ns) * i->flavor.vcpus;
			i->up_ns += now - i->run_since_ns;
		}
		h->busy_vcpus -= i->flavor.vcpus;
	} else if (!was && will) {
		i->run_since_ns = now;
		h->busy_vcpus += i->flavor.vcpus;
	}
	i->state = st;
}

/* A fresh guest kernel: uptime starts again and prints its boot lines. */
static void
fake_boot(struct fake_instance *i, uint64_t now, const char *image)
{
	if (fake_state_runs(i->state)) {
		/* bank CPU time, then restart the uptime clock */
		if (now > i->run_since_ns)
			i->cpu_ns += (now - i->run_since_ns) * i->flavor.vcpus;
		i->run_since_ns = now;
	}
	i->up_ns = 0;
	i->uptime_logged_s = 0;
	fake_log_at(i, 0, "Linux version 6.1.0-fake (hvagent fake driver)");
	fake_log_at(i, 0, "Command line: console=ttyS0 root=/dev/vda1 image=%s", image);
	fake_log_at(i, 0, "smpboot: Allowing %" PRIu32 " CPUs", i->flavor.vcpus);
	fake_log_at(i, 0, "Memory: %" PRIu64 "K available", i->flavor.ram_mb * 1024);
	/* The disks in the order the guest sees them: in rescue the rescue disk is vda (the
	 * first PCI slot, as the libvirt driver lays it out) and the root disk vdb. */
	if (i->rescue_image_id[0]) {
		fake_log_at(i, 0, "fake-init: disk vda: rescue image %s", i->rescue_image_id);
		fake_log_at(i, 0, "fake-init: disk vdb: root disk, image %s", i->image_id);
	} else {
		fake_log_at(i, 0, "fake-init: disk vda: root disk, image %s", i->image_id);
	}
	fake_log_at(i, 0, "fake-init: hostname %s, %zu ports, config drive %s", i->hostname,
		    i->n_ports, i->config_drive ? "attached" : "none");
	fake_log_at(i, 0, "%s login:", i->hostname);
}

static void
fake_event(struct fake_events *ev, const struct fake_instance *i, int type)
{
	if (!ev || type == FAKE_NO_EVENT || ev->n >= sizeof ev->ev / sizeof ev->ev[0])
		return;
	struct fake_event *e = &ev->ev[ev->n++];
	memcpy(e->uuid, i->uuid, sizeof e->uuid);
	e->type = (enum hvd_event_type)type;
	e->power = type == HVD_EVENT_DELETED ? HVD_POWER_NOSTATE : fake_state_power(i->state);
}

static struct fake_instance *
fake_find(const struct fake_host *h, const char *uuid, size_t *ret_idx)
{
	for (size_t k = 0; uuid && k < h->n_inst; k++) {
		if (strcmp(h->inst[k]->uuid, uuid) == 0) {
			if (ret_idx)
				*ret_idx = k;
			return h->inst[k];
		}
	}
	return NULL;
}

static int
fake_lookup(const struct fake_host *h, const char *uuid, struct fake_instance **ret,
	    struct hv_error *err)
{
	*ret = fake_find(h, uuid, NULL);
	if (!*ret)
		return hv_error_set(err, -ENOENT, "uuid", "fake: no instance %.40s on this host",
				    uuid ? uuid : "(null)");
	return 0;
}

/* The table lookup every action goes through: a refusal names the action and the state. */
static int
fake_check(const struct fake_instance *i, enum fake_action a, const struct fake_transition **ret,
	   struct hv_error *err)
{
	if (i->in_transit)
		return hv_error_set(
			err, -EBUSY, "", "cannot %s instance %s: it is in the middle of a %s",
			fake_action_names[a], i->uuid, fake_action_names[i->transit_action]);
	const struct fake_transition *t = &fake_table[a][i->state];
	if (!t->allowed)
		return hv_error_set(err, -EBUSY, "", "cannot %s instance %s: it is %s",
				    fake_action_names[a], i->uuid, fake_state_names[i->state]);
	*ret = t;
	return 0;
}

/* ---- resources ---- */

static void
fake_usage(const struct fake_instance *i, uint32_t *vcpus, uint64_t *ram, uint64_t *disk)
{
	const struct fake_flavor *a = &i->flavor, *b = &i->old_flavor;
	bool pending = i->state == FAKE_RESIZED || i->state == FAKE_RESIZED_SHUTDOWN;
	*vcpus = pending && b->vcpus > a->vcpus ? b->vcpus : a->vcpus;
	*ram = pending && b->ram_mb > a->ram_mb ? b->ram_mb : a->ram_mb;
	*disk = pending && b->disk_gb > a->disk_gb ? b->disk_gb : a->disk_gb;
}

/* Claims: what the flavors of all instances but `skip` hold, plus f, must fit the host. */
static int
fake_fits(const struct fake_host *h, const struct fake_instance *skip, const struct fake_flavor *f,
	  const char *uuid, struct hv_error *err)
{
	uint64_t vcpus = 0, ram = 0, disk = 0;
	for (size_t k = 0; k < h->n_inst; k++) {
		uint32_t v;
		uint64_t m, d;
		if (h->inst[k] == skip)
			continue;
		fake_usage(h->inst[k], &v, &m, &d);
		vcpus += v;
		ram += m;
		disk += d;
	}
	if (vcpus + f->vcpus > h->vcpus)
		return hv_error_set(err, -ENOSPC, "flavor.vcpus",
				    "fake: instance %s needs %" PRIu32 " vcpus, host has %" PRIu64
				    " of %" PRIu64 " free",
				    uuid, f->vcpus, h->vcpus - vcpus, h->vcpus);
	if (ram + f->ram_mb > h->memory_mb)
		return hv_error_set(err, -ENOSPC, "flavor.ram_mb",
				    "fake: instance %s needs %" PRIu64
				    " MB of memory, host has %" PRIu64 " of %" PRIu64 " MB free",
				    uuid, f->ram_mb, h->memory_mb - ram, h->memory_mb);
	if (disk + f->disk_gb > h->local_gb)
		return hv_error_set(err, -ENOSPC, "flavor.root_gb",
				    "fake: instance %s needs %" PRIu64
				    " GB of disk, host has %" PRIu64 " of %" PRIu64 " GB free",
				    uuid, f->disk_gb, h->local_gb - disk, h->local_gb);
	return 0;
}

static uint32_t
fake_cells(const struct fake_host *h)
{
	return (uint32_t)(h->numa_cells < h->vcpus ? h->numa_cells : h->vcpus);
}

static uint64_t
fake_cell_memory(const struct fake_host *h, uint32_t c)
{
	uint32_t n = fake_cells(h);
	return h->memory_mb / n + (c < h->memory_mb % n ? 1 : 0);
}

/* ---- request validation ---- */

static bool
fake_is_printable(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
			return false;
	return true;
}

static bool
fake_kv_true(const struct hvd_kv *kv, size_t n, const char *key)
{
	for (size_t k = 0; kv && k < n; k++)
		if (kv[k].key && strcmp(kv[k].key, key) == 0)
			return fake_parse_bool(kv[k].value) == 1;
	return false;
}

static bool
fake_is_one_of(const char *value, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(value, *allowed) == 0)
			return true;
	return false;
}

static int
fake_check_int_spec(const char *key, const char *value, long min, long max, struct hv_error *err)
{
	char field[64], *end;
	snprintf(field, sizeof field, "flavor.extra_specs.%s", key);
	errno = 0;
	long v = value && *value ? strtol(value, &end, 10) : 0;
	if (!value || !*value || *end || errno || v < min || v > max)
		return hv_error_set(err, -EINVAL, field,
				    "fake: extra spec %s: '%.32s' is not an integer in %ld-%ld",
				    key, value ? value : "", min, max);
	return 0;
}

static int
fake_check_image(const struct hvd_image *img, const char *field, struct hv_error *err)
{
	if (!img->id || !*img->id || !fake_is_printable(img->id, 63))
		return hv_error_set(err, -EINVAL, field,
				    "fake: %s is missing or not 1-63 printable characters", field);
	if (img->format && strcmp(img->format, "raw") != 0 && strcmp(img->format, "qcow2") != 0)
		return hv_error_set(err, -EINVAL, "image.format",
				    "fake: image format '%.16s' is not raw or qcow2", img->format);
	if (img->n_properties && !img->properties)
		return hv_error_set(err, -EINVAL, "image.properties",
				    "fake: image properties missing");
	return 0;
}

/* Copies the caller's spec into a full v1 struct (a shorter caller struct reads as zeros)
 * and checks everything the fake would otherwise have to trust. */
static int
fake_check_spec(const struct hvd_instance_spec *in, struct hvd_instance_spec *spec,
		struct fake_flavor *flavor, struct hv_error *err)
{
	if (!in || in->struct_size < offsetof(struct hvd_instance_spec, flavor))
		return hv_error_set(err, -EINVAL, "struct_size",
				    "fake: instance spec is missing or too short");
	memset(spec, 0, sizeof *spec);
	memcpy(spec, in, in->struct_size < sizeof *spec ? in->struct_size : sizeof *spec);

	if (!hv_uuid_valid(spec->uuid))
		return hv_error_set(err, -EINVAL, "uuid",
				    "fake: uuid '%.40s' is not 8-4-4-4-12 lower-case hex digits",
				    spec->uuid ? spec->uuid : "");
	if (spec->hostname &&
	    (!fake_is_printable(spec->hostname, 63) || strchr(spec->hostname, ' ')))
		return hv_error_set(
			err, -EINVAL, "hostname",
			"fake: hostname is not 1-63 printable characters without spaces");
	const struct hvd_flavor *f = &spec->flavor;
	if (f->vcpus == 0)
		return hv_error_set(err, -EINVAL, "flavor.vcpus",
				    "fake: flavor.vcpus must be at least 1");
	if (f->ram_mb == 0)
		return hv_error_set(err, -EINVAL, "flavor.ram_mb",
				    "fake: flavor.ram_mb must be at least 1");
	if (f->root_gb > 1048576 || f->ephemeral_gb > 1048576 || f->swap_mb > 1048576ull * 1024)
		return hv_error_set(err, -EINVAL, "flavor.root_gb",
				    "fake: flavor disk sizes are implausibly large");
	if (f->n_extra_specs && !f->extra_specs)
		return hv_error_set(err, -EINVAL, "flavor.extra_specs",
				    "fake: extra specs missing");
	for (size_t k = 0; k < f->n_extra_specs; k++) {
		const char *key = f->extra_specs[k].key, *val = f->extra_specs[k].value;
		int r = 0;
		if (!key || !val)
			return hv_error_set(err, -EINVAL, "flavor.extra_specs",
					    "fake: extra spec %zu has no key or value", k);
		if (strcmp(key, "hw:cpu_policy") == 0) {
			if (!fake_is_one_of(val,
					    (const char *const[]){"shared", "dedicated", NULL}))
				return hv_error_set(err, -EINVAL,
						    "flavor.extra_specs.hw:cpu_policy",
						    "fake: extra spec hw:cpu_policy: '%.32s' is "
						    "not shared or dedicated",
						    val);
		} else if (strcmp(key, "hw:numa_nodes") == 0) {
			r = fake_check_int_spec(key, val, 1, HVD_MAX_NUMA_CELLS, err);
		} else if (strcmp(key, "hw:cpu_sockets") == 0 || strcmp(key, "hw:cpu_cores") == 0 ||
			   strcmp(key, "hw:cpu_threads") == 0) {
			r = fake_check_int_spec(key, val, 1, 4096, err);
		} else if (strcmp(key, "hw:mem_page_size") == 0) {
			if (!fake_is_one_of(val, (const char *const[]){"small", "large", "any", "4",
								       "2048", "1048576", NULL}))
				return hv_error_set(err, -EINVAL,
						    "flavor.extra_specs.hw:mem_page_size",
						    "fake: extra spec hw:mem_page_size: '%.32s' is "
						    "not small, large, any, 4, 2048 or 1048576",
						    val);
		}
		if (r < 0)
			return r;
	}
	int r = fake_check_image(&spec->image, "image.id", err);
	if (r < 0)
		return r;
	if (spec->n_ports && !spec->ports)
		return hv_error_set(err, -EINVAL, "ports", "fake: ports missing");
	for (size_t k = 0; k < spec->n_ports; k++) {
		const struct hvd_port *p = &spec->ports[k];
		if (!hv_mac_valid(p->mac))
			return hv_error_set(
				err, -EINVAL, "ports.mac",
				"fake: port %zu: mac is not lower-case xx:xx:xx:xx:xx:xx", k);
		if (p->ifname && (strlen(p->ifname) > 15 || strchr(p->ifname, '/')))
			return hv_error_set(
				err, -EINVAL, "ports.ifname",
				"fake: port %zu: interface name is longer than 15 or has '/'", k);
	}
	if (spec->config_drive_path && spec->config_drive_path[0] != '/')
		return hv_error_set(err, -EINVAL, "config_drive_path",
				    "fake: config_drive_path must be absolute");

	memset(flavor, 0, sizeof *flavor);
	snprintf(flavor->name, sizeof flavor->name, "%s",
		 f->name && fake_is_printable(f->name, 63) ? f->name : "");
	flavor->vcpus = f->vcpus;
	flavor->ram_mb = f->ram_mb;
	flavor->disk_gb = f->root_gb + f->ephemeral_gb + (f->swap_mb + 1023) / 1024;
	return 0;
}

static void
fake_take_image(struct fake_instance *i, const struct hvd_image *img)
{
	snprintf(i->image_id, sizeof i->image_id, "%s", img->id);
	i->guest_agent = fake_kv_true(img->properties, img->n_properties, "hw_qemu_guest_agent");
	i->require_quiesce = fake_kv_true(img->properties, img->n_properties, "os_require_quiesce");
}

/* ---- ops ---- */

int
fake_spawn(struct fake_host *h, const struct hvd_instance_spec *in, const struct fake_call *call,
	   struct fake_events *ev, struct hv_error *err)
{
	struct hvd_instance_spec spec;
	struct fake_flavor flavor;
	int r = fake_check_spec(in, &spec, &flavor, err);
	if (r < 0)
		return r;
	if (fake_find(h, spec.uuid, NULL))
		return hv_error_set(err, -EEXIST, "uuid", "fake: instance %s already exists",
				    spec.uuid);
	if ((r = fake_fits(h, NULL, &flavor, spec.uuid, err)) < 0)
		return r;
	if (HV_GROW(h->inst, h->cap_inst, h->n_inst + 1) < 0)
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	struct fake_instance *i = calloc(1, sizeof *i);
	if (!i)
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	memcpy(i->uuid, spec.uuid, sizeof i->uuid);
	snprintf(i->hostname, sizeof i->hostname, "%s",
		 spec.hostname && *spec.hostname ? spec.hostname : "localhost");
	i->flavor = flavor;
	fake_take_image(i, &spec.image);
	i->config_drive = spec.config_drive_path != NULL;
	i->n_ports = spec.n_ports;
	i->index = h->next_index++ % 10000;
	i->state = FAKE_SHUTDOWN;

	/* Place the guest on the cell with the most memory not yet claimed. */
	uint64_t best = 0;
	for (uint32_t c = 0; c < fake_cells(h); c++) {
		uint64_t used = 0;
		for (size_t k = 0; k < h->n_inst; k++)
			if (h->inst[k]->cell == c)
				used += h->inst[k]->flavor.ram_mb;
		uint64_t mem = fake_cell_memory(h, c), free_mb = used < mem ? mem - used : 0;
		if (c == 0 || free_mb > best) {
			best = free_mb;
			i->cell = c;
		}
	}
	h->inst[h->n_inst++] = i;

	fake_log_call(i, call);
	fake_log_at(i, 0, "defined: flavor %s, image %s%s", i->flavor.name, i->image_id,
		    spec.existing_disk_path || spec.reuse_disk ? ", existing disk" : "");
	if (spec.power_on) {
		fake_set_state(h, i, FAKE_RUNNING, call->now_ns);
		fake_boot(i, call->now_ns, i->image_id);
		fake_event(ev, i, HVD_EVENT_STARTED);
	}
	return 0;
}

int
fake_destroy(struct fake_host *h, const char *uuid, const struct fake_call *call,
	     struct fake_events *ev, struct hv_error *err)
{
	size_t idx;
	struct fake_instance *i = fake_find(h, uuid, &idx);
	if (!i)
		return hv_error_set(err, -ENOENT, "uuid", "fake: no instance %.40s on this host",
				    uuid ? uuid : "(null)");
	fake_set_state(h, i, FAKE_SHUTDOWN, call->now_ns);
	fake_event(ev, i, HVD_EVENT_DELETED);
	h->inst[idx] = h->inst[--h->n_inst];
	fake_instance_free(i);
	return 0;
}

int
fake_act(struct fake_host *h, const char *uuid, enum fake_action a, unsigned flags,
	 const struct fake_call *call, struct fake_events *ev, struct hv_error *err)
{
	struct fake_instance *i;
	const struct fake_transition *t;
	int r;
	if ((r = fake_lookup(h, uuid, &i, err)) < 0 || (r = fake_check(i, a, &t, err)) < 0)
		return r;
	uint64_t now = call->now_ns;
	if (!(flags & FAKE_FORCE))
		fake_log_call(i, call);

	bool graceful = (a == FAKE_POWER_OFF || a == FAKE_REBOOT_SOFT) && i->state != FAKE_PAUSED;
	if (graceful && !(flags & FAKE_FORCE)) {
		fake_log(i, now, "ACPI: power button pressed");
		if (!h->acpi) {
			fake_log(i, now, "ACPI: event ignored by the guest");
			return FAKE_ACPI_IGNORED;
		}
	}
	if (graceful && (flags & FAKE_FORCE))
		fake_log(i, now, "guest did not shut down in time: forced off");

	if (t->via && !(flags & FAKE_FORCE) && h->acpi) {
		fake_log(i, now, "%s", fake_action_lines[a]);
		i->transit_from = i->state;
		fake_set_state(h, i, t->via_state, now);
		i->in_transit = true;
		i->transit_action = a;
		return FAKE_IN_PROGRESS;
	}

	enum fake_state from = i->state;
	if (a == FAKE_REVERT_RESIZE) {
		fake_set_state(h, i, FAKE_SHUTDOWN, now); /* bank CPU time at the new size */
		i->flavor = i->old_flavor;
	}
	fake_log(i, now, "%s",
		 graceful && (flags & FAKE_FORCE) && a == FAKE_REBOOT_SOFT
			 ? fake_action_lines[FAKE_REBOOT_HARD]
			 : fake_action_lines[a]);
	fake_set_state(h, i, t->next, now);
	if (a == FAKE_CONFIRM_RESIZE || a == FAKE_REVERT_RESIZE)
		memset(&i->old_flavor, 0, sizeof i->old_flavor);
	if (a == FAKE_UNRESCUE)
		i->rescue_image_id[0] = '\0';
	if (a == FAKE_REBOOT_HARD && from == FAKE_SUSPENDED)
		fake_log(i, now, "managed save image discarded");

	/* A new guest kernel runs when the guest was off or is restarted; resume and unpause
	 * continue the same one. */
	bool boots = fake_state_runs(t->next) &&
		     (a == FAKE_POWER_ON || a == FAKE_REBOOT_SOFT || a == FAKE_REBOOT_HARD ||
		      a == FAKE_REVERT_RESIZE || a == FAKE_UNRESCUE);
	if (boots)
		fake_boot(i, now, i->image_id);
	fake_event(ev, i, t->event);
	return 0;
}

int
fake_complete(struct fake_host *h, const char *uuid, const struct fake_call *call,
	      struct fake_events *ev, struct hv_error *err)
{
	struct fake_instance *i;
	int r = fake_lookup(h, uuid, &i, err);
	if (r < 0)
		return r;
	if (!i->in_transit)
		return hv_error_set(err, -EBUSY, "", "fake: instance %s has no action in progress",
				    uuid);
	const struct fake_transition *t = &fake_table[i->transit_action][i->transit_from];
	i->in_transit = false;
	fake_set_state(h, i, t->next, call->now_ns);
	fake_boot(i, call->now_ns, i->image_id);
	fake_event(ev, i, t->event);
	return 0;
}

/* What an action that takes a whole spec (resize, rebuild) starts from. */
struct spec_action {
	struct hvd_instance_spec spec;
	struct fake_flavor flavor;
	struct fake_instance *i;
	const struct fake_transition *t;
};

/* The common start of those actions: the spec is valid, the instance exists, and the action
 * is allowed from its state. */
static int
fake_spec_action(struct fake_host *h, const struct hvd_instance_spec *in, enum fake_action a,
		 struct spec_action *ret, struct hv_error *err)
{
	int r;
	if ((r = fake_check_spec(in, &ret->spec, &ret->flavor, err)) < 0 ||
	    (r = fake_lookup(h, ret->spec.uuid, &ret->i, err)) < 0 ||
	    (r = fake_check(ret->i, a, &ret->t, err)) < 0)
		return r;
	return 0;
}

int
fake_resize(struct fake_host *h, const struct hvd_instance_spec *in, const struct fake_call *call,
	    struct fake_events *ev, struct hv_error *err)
{
	struct spec_action a;
	int r;
	if ((r = fake_spec_action(h, in, FAKE_RESIZE, &a, err)) < 0)
		return r;
	struct fake_instance *i = a.i;
	/* Both definitions are held until confirm/revert: the larger of each must fit. */
	struct fake_flavor need = a.flavor;
	if (i->flavor.vcpus > need.vcpus)
		need.vcpus = i->flavor.vcpus;
	if (i->flavor.ram_mb > need.ram_mb)
		need.ram_mb = i->flavor.ram_mb;
	if (i->flavor.disk_gb > need.disk_gb)
		need.disk_gb = i->flavor.disk_gb;
	if ((r = fake_fits(h, i, &need, i->uuid, err)) < 0)
		return r;
	uint64_t now = call->now_ns;
	fake_log_call(i, call);
	enum fake_state from = i->state;
	fake_set_state(h, i, FAKE_SHUTDOWN, now);
	i->old_flavor = i->flavor;
	i->flavor = a.flavor;
	fake_log(i, now, "resized: %" PRIu32 " -> %" PRIu32 " vcpus, %" PRIu64 " -> %" PRIu64 " MB",
		 i->old_flavor.vcpus, i->flavor.vcpus, i->old_flavor.ram_mb, i->flavor.ram_mb);
	fake_set_state(h, i, a.t->next, now);
	if (fake_state_runs(from))
		fake_boot(i, now, i->image_id);
	fake_event(ev, i, a.t->event);
	return 0;
}

int
fake_rebuild(struct fake_host *h, const struct hvd_instance_spec *in, const struct fake_call *call,
	     struct fake_events *ev, struct hv_error *err)
{
	struct spec_action a;
	int r;
	if ((r = fake_spec_action(h, in, FAKE_REBUILD, &a, err)) < 0)
		return r;
	const struct hvd_instance_spec *spec = &a.spec;
	struct fake_instance *i = a.i;
	uint64_t now = call->now_ns;
	fake_log_call(i, call);
	fake_log(i, now, "rebuild: root disk replaced: image %s -> %s", i->image_id,
		 spec->image.id);
	fake_take_image(i, &spec->image);
	bool was_running = fake_state_runs(i->state);
	fake_set_state(h, i, a.t->next, now);
	if (was_running)
		fake_boot(i, now, i->image_id);
	fake_event(ev, i, a.t->event);
	return 0;
}

int
fake_rescue(struct fake_host *h, const char *uuid, const struct hvd_image *image,
	    const struct fake_call *call, struct fake_events *ev, struct hv_error *err)
{
	struct fake_instance *i;
	const struct fake_transition *t;
	int r;
	if (!image)
		return hv_error_set(err, -EINVAL, "rescue_image", "fake: rescue image missing");
	if ((r = fake_check_image(image, "rescue_image.id", err)) < 0 ||
	    (r = fake_lookup(h, uuid, &i, err)) < 0 ||
	    (r = fake_check(i, FAKE_RESCUE, &t, err)) < 0)
		return r;
	uint64_t now = call->now_ns;
	fake_log_call(i, call);
	snprintf(i->rescue_image_id, sizeof i->rescue_image_id, "%s", image->id);
	fake_log(i, now, "rescue: booting image %s, root disk %s attached second", image->id,
		 i->image_id);
	fake_set_state(h, i, t->next, now);
	fake_boot(i, now, i->rescue_image_id);
	fake_event(ev, i, t->event);
	return 0;
}

int
fake_snapshot(struct fake_host *h, const char *uuid, const char *dest_format,
	      const struct fake_call *call, char **ret_text, struct hv_error *err)
{
	struct fake_instance *i;
	const struct fake_transition *t;
	int r;
	*ret_text = NULL;
	if (!dest_format || (strcmp(dest_format, "raw") != 0 && strcmp(dest_format, "qcow2") != 0))
		return hv_error_set(err, -EINVAL, "dest_format",
				    "fake: snapshot format '%.16s' is not raw or qcow2",
				    dest_format ? dest_format : "");
	if ((r = fake_lookup(h, uuid, &i, err)) < 0 ||
	    (r = fake_check(i, FAKE_SNAPSHOT, &t, err)) < 0)
		return r;
	bool live = fake_state_runs(i->state);
	if (live && i->require_quiesce && !i->guest_agent)
		return hv_error_set(
			err, -EOPNOTSUPP, "image.properties.hw_qemu_guest_agent",
			"cannot snapshot instance %s: its image requires quiescing "
			"(os_require_quiesce) but has no guest agent (hw_qemu_guest_agent)",
			uuid);
	uint64_t now = call->now_ns;
	fake_log_call(i, call);
	if (live && i->guest_agent)
		fake_log(i, now, "guest agent: filesystems frozen");
	if (asprintf(
		    ret_text,
		    "HVFAKE-SNAPSHOT 1\ninstance_uuid=%s\nbase_image_ref=%s\nformat=%s\nflavor=%s\n"
		    "vcpus=%" PRIu32 "\nmemory_mb=%" PRIu64 "\npower_state=%s\n",
		    i->uuid, i->image_id, dest_format, i->flavor.name, i->flavor.vcpus,
		    i->flavor.ram_mb, fake_state_names[i->state]) < 0) {
		*ret_text = NULL;
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	}
	if (live && i->guest_agent)
		fake_log(i, now, "guest agent: filesystems thawed");
	fake_log(i, now, "%s", fake_action_lines[FAKE_SNAPSHOT]);
	return 0;
}

int
fake_console_log(struct fake_host *h, const char *uuid, uint64_t now_ns, size_t max_bytes,
		 char **ret_text, struct hv_error *err)
{
	struct fake_instance *i;
	int r = fake_lookup(h, uuid, &i, err);
	*ret_text = NULL;
	if (r < 0)
		return r;
	fake_log_catch_up(i, now_ns);
	size_t n = i->log_len < max_bytes ? i->log_len : max_bytes;
	char *text = malloc(n + 1);
	if (!text)
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	if (n)
		memcpy(text, i->log + i->log_len - n, n);
	text[n] = '\0';
	*ret_text = text;
	return 0;
}

int
fake_console(struct fake_host *h, const char *uuid, enum hvd_console_type type,
	     const struct fake_call *call, struct hvd_console *ret, struct hv_error *err)
{
	struct fake_instance *i;
	const struct fake_transition *t;
	int r;
	if (type != HVD_CONSOLE_VNC && type != HVD_CONSOLE_SERIAL)
		return hv_error_set(err, -EINVAL, "type",
				    "fake: console type %d is not vnc or serial", (int)type);
	if ((r = fake_lookup(h, uuid, &i, err)) < 0 ||
	    (r = fake_check(i, FAKE_GET_CONSOLE, &t, err)) < 0)
		return r;
	memset(ret, 0, sizeof *ret);
	ret->struct_size = sizeof *ret;
	ret->type = type;
	snprintf(ret->host, sizeof ret->host, "%s",
		 h->console_host[0] ? h->console_host : "127.0.0.1");
	ret->port = h->console_host[0] ? h->console_port
				       : (type == HVD_CONSOLE_VNC ? 5900u : 10000u) + i->index;
	return 0;
}

int
fake_set_password(struct fake_host *h, const char *uuid, const char *user, const char *password,
		  const struct fake_call *call, struct hv_error *err)
{
	struct fake_instance *i;
	const struct fake_transition *t;
	int r;
	if (!user || !*user || !fake_is_printable(user, 32) || strpbrk(user, " :/"))
		return hv_error_set(
			err, -EINVAL, "user",
			"fake: user name is not 1-32 printable characters without ' :/'");
	if (!password || !*password || strlen(password) > 255)
		return hv_error_set(err, -EINVAL, "password", "fake: password must be 1-255 bytes");
	if ((r = fake_lookup(h, uuid, &i, err)) < 0 ||
	    (r = fake_check(i, FAKE_SET_PASSWORD, &t, err)) < 0)
		return r;
	if (!i->guest_agent)
		return hv_error_set(
			err, -EOPNOTSUPP, "image.properties.hw_qemu_guest_agent",
			"cannot set the admin password of instance %s: its image does not "
			"have hw_qemu_guest_agent=yes",
			uuid);
	fake_log_call(i, call);
	fake_log(i, call->now_ns, "guest agent: password set for user %s", user);
	return 0;
}

/* ---- observation ---- */

static void
fake_fill_info(const struct fake_instance *i, uint64_t now, struct hvd_instance_info *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->struct_size = sizeof *ret;
	memcpy(ret->uuid, i->uuid, sizeof ret->uuid);
	ret->power_state = fake_state_power(i->state);
	ret->vcpus = i->flavor.vcpus;
	ret->memory_mb = i->flavor.ram_mb;
	ret->cpu_time_ns = fake_cpu_ns(i, now);
	ret->rescued = i->state == FAKE_RESCUED;
	ret->resize_pending = i->state == FAKE_RESIZED || i->state == FAKE_RESIZED_SHUTDOWN;
}

int
fake_instance_info(struct fake_host *h, const char *uuid, uint64_t now_ns,
		   struct hvd_instance_info *ret, struct hv_error *err)
{
	struct fake_instance *i;
	int r = fake_lookup(h, uuid, &i, err);
	if (r < 0)
		return r;
	fake_fill_info(i, now_ns, ret);
	return 0;
}

size_t
fake_host_count(const struct fake_host *h)
{
	return h->n_inst;
}

int
fake_host_list(struct fake_host *h, uint64_t now_ns, struct hvd_instance_info **ret, size_t *ret_n)
{
	*ret = calloc(h->n_inst ? h->n_inst : 1, sizeof **ret);
	*ret_n = 0;
	if (!*ret)
		return -ENOMEM;
	for (size_t k = 0; k < h->n_inst; k++)
		fake_fill_info(h->inst[k], now_ns, &(*ret)[k]);
	*ret_n = h->n_inst;
	return 0;
}

/* "0-3", or "5" for one CPU. */
static void
fake_cpuset(char *buf, size_t size, uint32_t first, uint32_t n)
{
	if (n == 1)
		snprintf(buf, size, "%" PRIu32, first);
	else
		snprintf(buf, size, "%" PRIu32 "-%" PRIu32, first, first + n - 1);
}

void
fake_host_info(const struct fake_host *h, struct hvd_host_info *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->struct_size = sizeof *ret;
	snprintf(ret->hypervisor_type, sizeof ret->hypervisor_type, "fake");
	ret->hypervisor_version = 1000000;
	snprintf(ret->arch, sizeof ret->arch, "x86_64");
	snprintf(ret->cpu_model, sizeof ret->cpu_model, "fake-cpu");
	ret->vcpus = h->vcpus;
	ret->memory_mb = h->memory_mb;
	ret->local_gb = h->local_gb;
	ret->n_cells = fake_cells(h);
	uint32_t cpu = 0;
	for (uint32_t c = 0; c < ret->n_cells; c++) {
		struct hvd_numa_cell *cell = &ret->cells[c];
		uint32_t n = h->vcpus / ret->n_cells + (c < h->vcpus % ret->n_cells ? 1 : 0);
		cell->id = c;
		fake_cpuset(cell->cpuset, sizeof cell->cpuset, cpu, n);
		cpu += n;
		cell->memory_mb = fake_cell_memory(h, c);
		for (size_t k = 0; k < h->n_inst; k++)
			if (h->inst[k]->cell == c && fake_state_resident(h->inst[k]->state))
				cell->memory_used_mb += h->inst[k]->flavor.ram_mb;
		cell->n_mempages = 1;
		cell->mempages[0].size_kb = 4;
		cell->mempages[0].total = cell->memory_mb * 256;
		cell->mempages[0].used = cell->memory_used_mb * 256;
	}
}

void
fake_host_stats(struct fake_host *h, uint64_t now_ns, struct hvd_host_stats *ret)
{
	fake_host_advance(h, now_ns);
	memset(ret, 0, sizeof *ret);
	ret->struct_size = sizeof *ret;
	ret->cpu_user_ns = h->user_ns;
	ret->cpu_kernel_ns = h->kernel_ns;
	ret->cpu_idle_ns = h->idle_ns;
	ret->cpu_mhz = h->cpu_mhz;
	uint64_t resident = 0, disk = 0;
	for (size_t k = 0; k < h->n_inst; k++) {
		const struct fake_instance *i = h->inst[k];
		uint32_t v;
		uint64_t m, d;
		fake_usage(i, &v, &m, &d);
		disk += d;
		if (fake_state_resident(i->state)) {
			resident += i->flavor.ram_mb;
			ret->running_vms++;
		}
	}
	/* memory the host took for itself is not free either, though no guest claims it */
	resident += h->outside_memory_mb;
	ret->memory_free_mb = resident < h->memory_mb ? h->memory_mb - resident : 0;
	ret->local_gb_used = disk;
	ret->disk_free_gb = disk < h->local_gb ? h->local_gb - disk : 0;
}
