/* test_fake.c - the fake driver through its ABI table, as the agent uses it: every action in
 * every reachable state (the table at the top is the expected behaviour, written
 * independently of the driver's own), then the behaviours a test author relies on: frozen
 * CPU time, growing console logs, injected failures, determinism, scale, resources. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <hvagent/driver.h>

const struct hvd_driver *hvagent_driver_entry(uint32_t agent_abi_version);

static const struct hvd_driver *ops;

/* ---- helpers ---- */

#define MAX_EVENTS 64
struct recorder {
	pthread_mutex_t lock;
	size_t n;
	struct {
		char uuid[37];
		enum hvd_event_type type;
		enum hvd_power_state power;
	} ev[MAX_EVENTS];
};

static void
record_event(void *ctx, const char *uuid, enum hvd_event_type type, enum hvd_power_state power)
{
	struct recorder *r = ctx;
	pthread_mutex_lock(&r->lock);
	if (r->n < MAX_EVENTS) {
		snprintf(r->ev[r->n].uuid, sizeof r->ev[r->n].uuid, "%s", uuid ? uuid : "");
		r->ev[r->n].type = type;
		r->ev[r->n].power = power;
	}
	r->n++;
	pthread_mutex_unlock(&r->lock);
}

static struct hvd_host *
open_host(const char *const *kv_pairs)
{
	struct hvd_kv kv[16];
	size_t n = 0;
	for (; kv_pairs && kv_pairs[2 * n]; n++) {
		kv[n].key = kv_pairs[2 * n];
		kv[n].value = kv_pairs[2 * n + 1];
	}
	struct hvd_host *h = NULL;
	struct hv_error err = {0};
	if (ops->open(kv, n, &h, &err) != 0)
		fail_msg("open: %s", err.message);
	return h;
}

static void
make_uuid(char *buf, unsigned n)
{
	snprintf(buf, 37, "00000000-0000-4000-8000-%012x", n);
}

static const struct hvd_kv ga_props[] = {{"hw_qemu_guest_agent", "yes"}};

struct spec_buf {
	struct hvd_instance_spec spec;
	char uuid[37];
};

static void
fill_spec(struct spec_buf *s, unsigned n, uint32_t vcpus, uint64_t ram_mb, bool power_on,
	  bool guest_agent)
{
	memset(s, 0, sizeof *s);
	make_uuid(s->uuid, n);
	s->spec.struct_size = sizeof s->spec;
	s->spec.uuid = s->uuid;
	s->spec.name = "test vm";
	s->spec.hostname = "vm";
	s->spec.flavor.name = "m1.test";
	s->spec.flavor.vcpus = vcpus;
	s->spec.flavor.ram_mb = ram_mb;
	s->spec.flavor.root_gb = 1;
	s->spec.image.id = "cirros";
	s->spec.image.format = "qcow2";
	if (guest_agent) {
		s->spec.image.properties = ga_props;
		s->spec.image.n_properties = 1;
	}
	s->spec.power_on = power_on;
}

static struct hvd_instance_info
get_info(struct hvd_host *h, const char *uuid)
{
	struct hvd_instance_info info = {.struct_size = sizeof info};
	struct hv_error err = {0};
	if (ops->get_instance(h, uuid, &info, &err) != 0)
		fail_msg("get_instance %s: %s", uuid, err.message);
	return info;
}

static char *
console(struct hvd_host *h, const char *uuid, size_t max)
{
	char *text = NULL;
	struct hv_error err = {0};
	if (ops->console_log(h, uuid, max, &text, &err) != 0)
		fail_msg("console_log: %s", err.message);
	return text;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* ---- the table ---- */

enum st {
	RUNNING,
	PAUSED,
	SHUTDOWN,
	SUSPENDED,
	RESCUED,
	RESIZED,
	RESIZED_OFF,
	N_ST
};
static const char *const st_names[N_ST] = {
	"running",
	"paused",
	"shutdown",
	"suspended",
	"rescued",
	"resized",
	"shutdown with a resize pending",
};

enum act {
	A_POWER_OFF,
	A_POWER_ON,
	A_REBOOT_SOFT,
	A_REBOOT_HARD,
	A_PAUSE,
	A_UNPAUSE,
	A_SUSPEND,
	A_RESUME,
	A_RESIZE,
	A_CONFIRM,
	A_REVERT,
	A_REBUILD,
	A_RESCUE,
	A_UNRESCUE,
	A_SNAPSHOT,
	A_CONSOLE,
	A_PASSWORD,
	A_DESTROY,
	N_ACT,
};
static const char *const act_names[N_ACT] = {
	"power_off",
	"power_on",
	"soft reboot",
	"hard reboot",
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
	"get_console",
	"set_admin_password",
	"destroy",
};

#define NO (-1)
#define GONE (-2)
#define E_NONE (-1)
/* expected[action][state] = { state after (NO = refused with -EBUSY), event } */
static const struct {
	int to;
	int event;
} expected[N_ACT][N_ST] = {
	[A_POWER_OFF] = {{SHUTDOWN, HVD_EVENT_STOPPED},
			 {SHUTDOWN, HVD_EVENT_STOPPED},
			 {NO, E_NONE},
			 {NO, E_NONE},
			 {NO, E_NONE},
			 {RESIZED_OFF, HVD_EVENT_STOPPED},
			 {NO, E_NONE}},
	[A_POWER_ON] = {{NO, E_NONE},
			{NO, E_NONE},
			{RUNNING, HVD_EVENT_STARTED},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{RESIZED, HVD_EVENT_STARTED}},
	[A_REBOOT_SOFT] = {{RUNNING, HVD_EVENT_RESTARTED},
			   {NO, E_NONE},
			   {NO, E_NONE},
			   {NO, E_NONE},
			   {NO, E_NONE},
			   {RESIZED, HVD_EVENT_RESTARTED},
			   {NO, E_NONE}},
	[A_REBOOT_HARD] = {{RUNNING, HVD_EVENT_RESTARTED},
			   {RUNNING, HVD_EVENT_RESTARTED},
			   {RUNNING, HVD_EVENT_STARTED},
			   {RUNNING, HVD_EVENT_STARTED},
			   {NO, E_NONE},
			   {RESIZED, HVD_EVENT_RESTARTED},
			   {RESIZED, HVD_EVENT_STARTED}},
	[A_PAUSE] = {{PAUSED, HVD_EVENT_PAUSED},
		     {NO, E_NONE},
		     {NO, E_NONE},
		     {NO, E_NONE},
		     {NO, E_NONE},
		     {NO, E_NONE},
		     {NO, E_NONE}},
	[A_UNPAUSE] = {{NO, E_NONE},
		       {RUNNING, HVD_EVENT_RESUMED},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE}},
	[A_SUSPEND] = {{SUSPENDED, HVD_EVENT_SUSPENDED},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE}},
	[A_RESUME] = {{NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {RUNNING, HVD_EVENT_STARTED},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE}},
	[A_RESIZE] = {{RESIZED, HVD_EVENT_RESTARTED},
		      {NO, E_NONE},
		      {RESIZED_OFF, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE}},
	[A_CONFIRM] = {{NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {RUNNING, E_NONE},
		       {SHUTDOWN, E_NONE}},
	[A_REVERT] = {{NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {RUNNING, HVD_EVENT_RESTARTED},
		      {SHUTDOWN, E_NONE}},
	[A_REBUILD] = {{RUNNING, HVD_EVENT_RESTARTED},
		       {NO, E_NONE},
		       {SHUTDOWN, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE}},
	[A_RESCUE] = {{RESCUED, HVD_EVENT_RESTARTED},
		      {NO, E_NONE},
		      {RESCUED, HVD_EVENT_STARTED},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE},
		      {NO, E_NONE}},
	[A_UNRESCUE] = {{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{RUNNING, HVD_EVENT_RESTARTED},
			{NO, E_NONE},
			{NO, E_NONE}},
	[A_SNAPSHOT] = {{RUNNING, E_NONE},
			{PAUSED, E_NONE},
			{SHUTDOWN, E_NONE},
			{SUSPENDED, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE}},
	[A_CONSOLE] = {{RUNNING, E_NONE},
		       {PAUSED, E_NONE},
		       {NO, E_NONE},
		       {NO, E_NONE},
		       {RESCUED, E_NONE},
		       {RESIZED, E_NONE},
		       {NO, E_NONE}},
	[A_PASSWORD] = {{RUNNING, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE},
			{NO, E_NONE}},
	[A_DESTROY] = {{GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED},
		       {GONE, HVD_EVENT_DELETED}},
};

static int
observed_state(struct hvd_host *h, const char *uuid)
{
	struct hvd_instance_info i = get_info(h, uuid);
	if (i.rescued)
		return i.power_state == HVD_POWER_RUNNING ? RESCUED : -10;
	if (i.resize_pending)
		return i.power_state == HVD_POWER_RUNNING    ? RESIZED
		       : i.power_state == HVD_POWER_SHUTDOWN ? RESIZED_OFF
							     : -11;
	switch (i.power_state) {
	case HVD_POWER_RUNNING: return RUNNING;
	case HVD_POWER_PAUSED: return PAUSED;
	case HVD_POWER_SHUTDOWN: return SHUTDOWN;
	case HVD_POWER_SUSPENDED: return SUSPENDED;
	default: return -12;
	}
}

static char snap_dir[64];

static int
do_action(struct hvd_host *h, struct spec_buf *s, int a, struct hv_error *err)
{
	const char *u = s->uuid;
	static const struct hvd_image rescue_img = {.id = "rescue-image", .format = "raw"};
	static unsigned snaps;
	switch (a) {
	case A_POWER_OFF: return ops->power_off(h, u, 0, err);
	case A_POWER_ON: return ops->power_on(h, u, err);
	case A_REBOOT_SOFT: return ops->reboot(h, u, HVD_REBOOT_SOFT, 0, err);
	case A_REBOOT_HARD: return ops->reboot(h, u, HVD_REBOOT_HARD, 0, err);
	case A_PAUSE: return ops->pause(h, u, err);
	case A_UNPAUSE: return ops->unpause(h, u, err);
	case A_SUSPEND: return ops->suspend(h, u, err);
	case A_RESUME: return ops->resume(h, u, err);
	case A_RESIZE: {
		struct spec_buf bigger = *s;
		bigger.spec.uuid = bigger.uuid;
		bigger.spec.flavor.vcpus = 2;
		bigger.spec.flavor.ram_mb = 1024;
		return ops->resize(h, &bigger.spec, err);
	}
	case A_CONFIRM: return ops->confirm_resize(h, u, err);
	case A_REVERT: return ops->revert_resize(h, u, err);
	case A_REBUILD: {
		struct spec_buf other = *s;
		other.spec.uuid = other.uuid;
		other.spec.image.id = "debian-12";
		return ops->rebuild(h, &other.spec, err);
	}
	case A_RESCUE: return ops->rescue(h, u, &rescue_img, err);
	case A_UNRESCUE: return ops->unrescue(h, u, err);
	case A_SNAPSHOT: {
		char path[128];
		snprintf(path, sizeof path, "%s/snap-%u", snap_dir, snaps++);
		return ops->snapshot(h, u, path, "qcow2", err);
	}
	case A_CONSOLE: {
		struct hvd_console c = {.struct_size = sizeof c};
		return ops->get_console(h, u, HVD_CONSOLE_VNC, &c, err);
	}
	case A_PASSWORD: return ops->set_admin_password(h, u, "root", "s3cret-pw", err);
	case A_DESTROY: return ops->destroy(h, u, true, err);
	}
	return -99;
}

/* How each state is reached from a fresh running instance. */
static const int path_to[N_ST][3] = {
	[RUNNING] = {-1},
	[PAUSED] = {A_PAUSE, -1},
	[SHUTDOWN] = {A_POWER_OFF, -1},
	[SUSPENDED] = {A_SUSPEND, -1},
	[RESCUED] = {A_RESCUE, -1},
	[RESIZED] = {A_RESIZE, -1},
	[RESIZED_OFF] = {A_POWER_OFF, A_RESIZE, -1},
};

static void
every_action_in_every_state_moves_or_refuses_as_a_hypervisor_would(void **state)
{
	snprintf(snap_dir, sizeof snap_dir, "/tmp/hv-fake-snap-XXXXXX");
	assert_non_null(mkdtemp(snap_dir));
	struct hvd_host *h = open_host(NULL);
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct hv_error err = {0};
	assert_int_equal(ops->set_event_callback(h, record_event, &rec, &err), 0);
	unsigned n = 0;
	int checked = 0;
	for (int a = 0; a < N_ACT; a++) {
		for (int s = 0; s < N_ST; s++) {
			struct spec_buf sb;
			fill_spec(&sb, ++n, 1, 512, true, true);
			assert_int_equal(ops->spawn(h, &sb.spec, &err), 0);
			for (int k = 0; path_to[s][k] >= 0; k++)
				if (do_action(h, &sb, path_to[s][k], &err) != 0)
					fail_msg("reaching %s: %s", st_names[s], err.message);
			if (observed_state(h, sb.uuid) != s)
				fail_msg("could not reach %s", st_names[s]);
			rec.n = 0;
			hv_error_clear(&err);
			int r = do_action(h, &sb, a, &err);
			int to = expected[a][s].to;
			if (to == NO) {
				if (r != -EBUSY)
					fail_msg("%s when %s: want -EBUSY, got %d (%s)",
						 act_names[a], st_names[s], r, err.message);
				char want[128];
				snprintf(want, sizeof want, "instance %s: it is %s", sb.uuid,
					 st_names[s]);
				if (!strstr(err.message, want) ||
				    strncmp(err.message, "cannot ", 7) != 0)
					fail_msg("%s when %s: message '%s'", act_names[a],
						 st_names[s], err.message);
				assert_int_equal(observed_state(h, sb.uuid), s);
				assert_int_equal(rec.n, 0);
			} else {
				if (r != 0)
					fail_msg("%s when %s: %d %s", act_names[a], st_names[s], r,
						 err.message);
				if (to == GONE) {
					struct hvd_instance_info i = {.struct_size = sizeof i};
					assert_int_equal(ops->get_instance(h, sb.uuid, &i, &err),
							 -ENOENT);
				} else if (observed_state(h, sb.uuid) != to) {
					fail_msg("%s when %s: ended %d, want %s", act_names[a],
						 st_names[s], observed_state(h, sb.uuid),
						 st_names[to]);
				}
				if (expected[a][s].event == E_NONE) {
					if (rec.n != 0)
						fail_msg("%s when %s: unexpected event %d",
							 act_names[a], st_names[s], rec.ev[0].type);
				} else {
					if (rec.n != 1 ||
					    (int)rec.ev[0].type != expected[a][s].event ||
					    strcmp(rec.ev[0].uuid, sb.uuid) != 0)
						fail_msg(
							"%s when %s: %zu events, first %d, want %d",
							act_names[a], st_names[s], rec.n,
							rec.n ? (int)rec.ev[0].type : -1,
							expected[a][s].event);
					if (to >= 0)
						assert_int_equal(rec.ev[0].power,
								 get_info(h, sb.uuid).power_state);
				}
			}
			if (to != GONE)
				assert_int_equal(ops->destroy(h, sb.uuid, true, &err), 0);
			checked++;
		}
	}
	assert_int_equal(checked, N_ACT * N_ST);
	ops->close(h);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", snap_dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- behaviours ---- */

static void
pause_freezes_cpu_time_and_keeps_the_memory(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct spec_buf s;
	struct hv_error err;
	fill_spec(&s, 1, 2, 1024, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	sleep_ms(20);
	struct hvd_host_stats st = {.struct_size = sizeof st};
	assert_int_equal(ops->pause(h, s.uuid, &err), 0);
	uint64_t t1 = get_info(h, s.uuid).cpu_time_ns;
	assert_true(t1 > 0);
	sleep_ms(30);
	assert_int_equal(get_info(h, s.uuid).cpu_time_ns, t1);
	assert_int_equal(ops->host_stats(h, &st, &err), 0);
	assert_int_equal(st.memory_free_mb, 65536 - 1024); /* paused memory stays resident */
	assert_int_equal(ops->unpause(h, s.uuid, &err), 0);
	sleep_ms(10);
	assert_true(get_info(h, s.uuid).cpu_time_ns > t1);
	assert_int_equal(ops->suspend(h, s.uuid, &err), 0);
	assert_int_equal(ops->host_stats(h, &st, &err), 0);
	assert_int_equal(st.memory_free_mb, 65536); /* suspended: memory saved to disk */
	assert_int_equal(get_info(h, s.uuid).power_state, HVD_POWER_SUSPENDED);
	ops->close(h);
}

static void
host_cpu_counters_advance_with_load(void **state)
{
	struct hvd_host *h = open_host((const char *const[]){"vcpus", "4", NULL});
	struct hv_error err;
	struct hvd_host_stats a = {.struct_size = sizeof a}, b = a, c = a;
	assert_int_equal(ops->host_stats(h, &a, &err), 0);
	sleep_ms(10);
	assert_int_equal(ops->host_stats(h, &b, &err), 0);
	assert_int_equal(b.cpu_user_ns, 0); /* nothing runs: all idle */
	assert_true(b.cpu_idle_ns > a.cpu_idle_ns);
	struct spec_buf s;
	fill_spec(&s, 1, 4, 512, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->host_stats(h, &b, &err), 0);
	sleep_ms(10);
	assert_int_equal(ops->host_stats(h, &c, &err), 0);
	assert_true(c.cpu_user_ns > b.cpu_user_ns);
	assert_true(c.cpu_kernel_ns > b.cpu_kernel_ns);
	assert_int_equal(c.cpu_idle_ns, b.cpu_idle_ns); /* 4 of 4 vCPUs busy */
	assert_int_equal(c.running_vms, 1);
	assert_int_equal(c.cpu_mhz, 2400);
	ops->close(h);
}

static void
the_console_log_grows_and_returns_its_tail(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct spec_buf s;
	struct hv_error err;
	fill_spec(&s, 7, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	char *boot = console(h, s.uuid, 65536);
	assert_non_null(strstr(boot, "fake: op spawn #1\n"));
	assert_non_null(strstr(boot, "vm login:\n"));
	assert_null(strstr(boot, "uptime: 1 s"));
	sleep_ms(1100);
	assert_int_equal(ops->pause(h, s.uuid, &err), 0);
	char *later = console(h, s.uuid, 65536);
	assert_true(strlen(later) > strlen(boot));
	assert_non_null(strstr(later, "uptime: 1 s\n"));
	assert_non_null(strstr(later, "fake: op pause #1\n"));
	assert_non_null(strstr(later, "vCPUs paused\n"));
	char *tail = console(h, s.uuid, 16);
	assert_int_equal(strlen(tail), 16);
	assert_string_equal(tail, later + strlen(later) - 16);
	free(boot);
	free(later);
	free(tail);
	ops->close(h);
}

static void
fail_op_fails_exactly_n_times_and_changes_nothing(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct spec_buf s;
	struct hv_error err;
	fill_spec(&s, 1, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->set_option(h, "fail.pause", "2", &err), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(ops->pause(h, s.uuid, &err), -EIO);
		assert_non_null(strstr(err.message, "injected failure (fail.pause"));
		assert_int_equal(get_info(h, s.uuid).power_state, HVD_POWER_RUNNING);
	}
	assert_int_equal(ops->pause(h, s.uuid, &err), 0);
	assert_int_equal(get_info(h, s.uuid).power_state, HVD_POWER_PAUSED);
	assert_int_equal(ops->set_option(h, "fail.no_such_op", "1", &err), -EINVAL);
	assert_string_equal(err.field, "fail.no_such_op");
	assert_int_equal(ops->set_option(h, "fail.spawn", "-1", &err), -EINVAL);
	ops->close(h);
}

/* The failure pattern of 200 spawn attempts. */
static void
failure_pattern(const char *seed, char *pattern)
{
	struct hvd_host *h = open_host((const char *const[]){"fail_probability", "0.3", "seed",
							     seed, "vcpus", "4096", NULL});
	for (unsigned k = 0; k < 200; k++) {
		struct spec_buf s;
		struct hv_error err;
		fill_spec(&s, k, 1, 64, false, false);
		int r = ops->spawn(h, &s.spec, &err);
		assert_true(r == 0 || r == -EIO);
		pattern[k] = r == 0 ? '.' : 'x';
		if (r == 0)
			assert_int_equal(
				ops->get_instance(
					h, s.uuid,
					&(struct hvd_instance_info){
						.struct_size = sizeof(struct hvd_instance_info)},
					&err),
				0);
	}
	pattern[200] = '\0';
	ops->close(h);
}

static void
fail_probability_is_deterministic_for_a_seed(void **state)
{
	char a[201], b[201], c[201];
	failure_pattern("42", a);
	failure_pattern("42", b);
	failure_pattern("43", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	size_t fails = 0;
	for (size_t k = 0; k < 200; k++)
		fails += a[k] == 'x';
	assert_in_range(fails, 30, 90); /* p = 0.3 of 200 draws */
}

static void
a_thousand_hosts_of_ten_instances_live_in_one_process(void **state)
{
	enum {
		HOSTS = 1000,
		PER = 10
	};
	struct hvd_host **hosts = calloc(HOSTS, sizeof *hosts);
	struct hv_error err;
	for (unsigned k = 0; k < HOSTS; k++) {
		hosts[k] =
			open_host((const char *const[]){"vcpus", "16", "memory_mb", "32768", NULL});
		for (unsigned j = 0; j < PER; j++) {
			struct spec_buf s;
			fill_spec(&s, k * PER + j, 1, 1024, true, false);
			assert_int_equal(ops->spawn(hosts[k], &s.spec, &err), 0);
		}
	}
	for (unsigned k = 0; k < HOSTS; k += 97) {
		struct hvd_host_stats st = {.struct_size = sizeof st};
		assert_int_equal(ops->host_stats(hosts[k], &st, &err), 0);
		assert_int_equal(st.running_vms, PER);
		assert_int_equal(st.memory_free_mb, 32768 - PER * 1024);
		/* hosts are independent: host k knows only its own instances */
		char u[37];
		make_uuid(u, (k + 1) % HOSTS * PER);
		struct hvd_instance_info i = {.struct_size = sizeof i};
		assert_int_equal(ops->get_instance(hosts[k], u, &i, &err), -ENOENT);
	}
	for (unsigned k = 0; k < HOSTS; k++)
		ops->close(hosts[k]);
	free(hosts);
}

static void
a_spawn_that_does_not_fit_is_refused_naming_the_resource(void **state)
{
	struct hvd_host *h = open_host(
		(const char *const[]){"vcpus", "4", "memory_mb", "2048", "local_gb", "10", NULL});
	struct hv_error err;
	struct spec_buf a, b;
	fill_spec(&a, 1, 4, 1024, true, false);
	assert_int_equal(ops->spawn(h, &a.spec, &err), 0);
	fill_spec(&b, 2, 1, 512, true, false);
	assert_int_equal(ops->spawn(h, &b.spec, &err), -ENOSPC);
	assert_string_equal(err.field, "flavor.vcpus");
	assert_non_null(strstr(err.message, "needs 1 vcpus, host has 0 of 4 free"));
	/* a shut-off instance still holds its claim */
	assert_int_equal(ops->power_off(h, a.uuid, 0, &err), 0);
	assert_int_equal(ops->spawn(h, &b.spec, &err), -ENOSPC);
	assert_int_equal(ops->destroy(h, a.uuid, true, &err), 0);
	b.spec.flavor.ram_mb = 4096;
	assert_int_equal(ops->spawn(h, &b.spec, &err), -ENOSPC);
	assert_string_equal(err.field, "flavor.ram_mb");
	b.spec.flavor.ram_mb = 512;
	b.spec.flavor.root_gb = 11;
	assert_int_equal(ops->spawn(h, &b.spec, &err), -ENOSPC);
	assert_string_equal(err.field, "flavor.root_gb");
	b.spec.flavor.root_gb = 1;
	assert_int_equal(ops->spawn(h, &b.spec, &err), 0);
	/* nothing was left behind by the refusals: exactly one instance */
	struct hvd_host_stats st = {.struct_size = sizeof st};
	assert_int_equal(ops->host_stats(h, &st, &err), 0);
	assert_int_equal(st.running_vms, 1);
	ops->close(h);
}

static void
a_bad_spawn_request_is_refused_naming_the_field(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 1, 1, 256, true, false);
	s.spec.uuid = "not-a-uuid";
	assert_int_equal(ops->spawn(h, &s.spec, &err), -EINVAL);
	assert_string_equal(err.field, "uuid");
	fill_spec(&s, 1, 0, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), -EINVAL);
	assert_string_equal(err.field, "flavor.vcpus");
	fill_spec(&s, 1, 1, 256, true, false);
	struct hvd_kv specs[] = {{"hw:cpu_policy", "exclusive"}};
	s.spec.flavor.extra_specs = specs;
	s.spec.flavor.n_extra_specs = 1;
	assert_int_equal(ops->spawn(h, &s.spec, &err), -EINVAL);
	assert_string_equal(err.field, "flavor.extra_specs.hw:cpu_policy");
	fill_spec(&s, 1, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->spawn(h, &s.spec, &err), -EEXIST);
	ops->close(h);
}

static void
a_spawn_without_power_on_only_defines_the_instance(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 3, 2, 512, false, false);
	assert_int_equal(ops->set_event_callback(h, record_event, &rec, &err), 0);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(rec.n, 0);
	struct hvd_instance_info i = get_info(h, s.uuid);
	assert_int_equal(i.power_state, HVD_POWER_SHUTDOWN);
	assert_int_equal(i.cpu_time_ns, 0);
	char *log = console(h, s.uuid, 65536);
	assert_non_null(strstr(log, "defined: flavor m1.test, image cirros"));
	assert_null(strstr(log, "login:"));
	free(log);
	assert_int_equal(ops->power_on(h, s.uuid, &err), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ev[0].type, HVD_EVENT_STARTED);
	assert_int_equal(rec.ev[0].power, HVD_POWER_RUNNING);
	ops->close(h);
}

struct reboot_arg {
	struct hvd_host *h;
	const char *uuid;
	int rc;
};

static void *
do_soft_reboot(void *p)
{
	struct reboot_arg *a = p;
	struct hv_error err;
	a->rc = ops->reboot(a->h, a->uuid, HVD_REBOOT_SOFT, 60, &err);
	return NULL;
}

static void
a_soft_reboot_passes_through_shutdown(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 1, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->set_option(h, "latency.reboot", "1500", &err), 0);
	struct reboot_arg arg = {h, s.uuid, -1};
	pthread_t t;
	pthread_create(&t, NULL, do_soft_reboot, &arg);
	bool saw_shutdown = false;
	for (int k = 0; k < 1000 && !saw_shutdown; k++) {
		saw_shutdown = get_info(h, s.uuid).power_state == HVD_POWER_SHUTDOWN;
		sleep_ms(2);
	}
	pthread_join(t, NULL);
	assert_true(saw_shutdown);
	assert_int_equal(arg.rc, 0);
	assert_int_equal(get_info(h, s.uuid).power_state, HVD_POWER_RUNNING);
	/* while it restarts, other actions wait their turn */
	ops->close(h);
}

static void
a_guest_ignoring_acpi_is_forced_after_the_timeout(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 1, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->set_option(h, "acpi", "off", &err), 0);
	assert_int_equal(ops->set_event_callback(h, record_event, &rec, &err), 0);
	assert_int_equal(ops->reboot(h, s.uuid, HVD_REBOOT_SOFT, 1, &err), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ev[0].type, HVD_EVENT_RESTARTED);
	char *log = console(h, s.uuid, 65536);
	assert_non_null(strstr(log, "ACPI: event ignored by the guest\n"));
	assert_non_null(strstr(log, "forced off\n"));
	assert_non_null(strstr(log, "hard reset\n"));
	free(log);
	assert_int_equal(ops->power_off(h, s.uuid, 0, &err), 0);
	assert_int_equal(get_info(h, s.uuid).power_state, HVD_POWER_SHUTDOWN);
	assert_int_equal(ops->set_option(h, "acpi", "maybe", &err), -EINVAL);
	ops->close(h);
}

static void
a_resize_keeps_the_old_flavor_until_confirmed_or_reverted(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct hv_error err;
	struct spec_buf s, big;
	fill_spec(&s, 1, 2, 2048, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	big = s;
	big.spec.uuid = big.uuid;
	big.spec.flavor.vcpus = 4;
	big.spec.flavor.ram_mb = 4096;
	assert_int_equal(ops->resize(h, &big.spec, &err), 0);
	struct hvd_instance_info i = get_info(h, s.uuid);
	assert_int_equal(i.vcpus, 4);
	assert_true(i.resize_pending);
	assert_int_equal(ops->revert_resize(h, s.uuid, &err), 0);
	i = get_info(h, s.uuid);
	assert_int_equal(i.vcpus, 2);
	assert_int_equal(i.memory_mb, 2048);
	assert_false(i.resize_pending);
	assert_int_equal(ops->resize(h, &big.spec, &err), 0);
	assert_int_equal(ops->confirm_resize(h, s.uuid, &err), 0);
	i = get_info(h, s.uuid);
	assert_int_equal(i.vcpus, 4);
	assert_false(i.resize_pending);
	ops->close(h);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = calloc(1, 4096);
	fread(buf, 1, 4095, f);
	fclose(f);
	return buf;
}

static void
snapshot_rebuild_and_rescue_use_the_images_asked_for(void **state)
{
	char dir[64] = "/tmp/hv-fake-XXXXXX", path[128], path2[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/snap.qcow2", dir);
	snprintf(path2, sizeof path2, "%s/snap2.qcow2", dir);
	struct hvd_host *h = open_host(NULL);
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 5, 1, 256, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->snapshot(h, s.uuid, path, "qcow2", &err), 0);
	char *text = read_file(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "instance_uuid=00000000-0000-4000-8000-000000000005\n"));
	assert_non_null(strstr(text, "base_image_ref=cirros\n"));
	free(text);
	assert_int_equal(ops->snapshot(h, s.uuid, path, "qcow2", &err),
			 -EEXIST); /* never overwrites */
	assert_int_equal(ops->snapshot(h, s.uuid, path2, "vmdk", &err), -EINVAL);
	assert_string_equal(err.field, "dest_format");
	assert_int_equal(ops->snapshot(h, s.uuid, "relative/path", "raw", &err), -EINVAL);

	struct spec_buf r = s;
	r.spec.uuid = r.uuid;
	r.spec.image.id = "debian-12";
	assert_int_equal(ops->rebuild(h, &r.spec, &err), 0);
	assert_int_equal(ops->snapshot(h, s.uuid, path2, "raw", &err), 0);
	text = read_file(path2);
	assert_non_null(strstr(text, "base_image_ref=debian-12\n"));
	free(text);

	struct hvd_image rescue = {.id = "rescue-img"};
	assert_int_equal(ops->rescue(h, s.uuid, &rescue, &err), 0);
	assert_true(get_info(h, s.uuid).rescued);
	char *log = console(h, s.uuid, 65536);
	assert_non_null(strstr(log, "image=rescue-img\n"));
	free(log);
	assert_int_equal(ops->unrescue(h, s.uuid, &err), 0);
	assert_false(get_info(h, s.uuid).rescued);
	log = console(h, s.uuid, 400);
	assert_non_null(strstr(log, "image=debian-12\n"));
	free(log);
	ops->close(h);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
set_admin_password_needs_a_guest_agent_and_is_never_echoed(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct hv_error err;
	struct spec_buf plain, ga;
	fill_spec(&plain, 1, 1, 256, true, false);
	fill_spec(&ga, 2, 1, 256, true, true);
	assert_int_equal(ops->spawn(h, &plain.spec, &err), 0);
	assert_int_equal(ops->spawn(h, &ga.spec, &err), 0);
	assert_int_equal(ops->set_admin_password(h, plain.uuid, "root", "Hunter2-secret", &err),
			 -EOPNOTSUPP);
	assert_string_equal(err.field, "image.properties.hw_qemu_guest_agent");
	assert_int_equal(ops->set_admin_password(h, ga.uuid, "root", "Hunter2-secret", &err), 0);
	assert_int_equal(ops->set_admin_password(h, ga.uuid, "", "x", &err), -EINVAL);
	assert_int_equal(ops->set_admin_password(h, ga.uuid, "root", "", &err), -EINVAL);
	assert_null(strstr(err.message, "Hunter2"));
	char *log = console(h, ga.uuid, 65536);
	assert_non_null(strstr(log, "password set for user root"));
	assert_null(strstr(log, "Hunter2"));
	free(log);
	assert_int_equal(ops->power_off(h, ga.uuid, 0, &err), 0);
	assert_int_equal(ops->set_admin_password(h, ga.uuid, "root", "Hunter2-secret", &err),
			 -EBUSY);
	ops->close(h);
}

static void
host_info_splits_cpus_and_memory_across_cells(void **state)
{
	struct hvd_host *h = open_host((const char *const[]){
		"vcpus", "5", "memory_mb", "1001", "numa_cells", "2", "cpu_mhz", "3000", NULL});
	struct hv_error err;
	struct hvd_host_info info = {.struct_size = sizeof info};
	assert_int_equal(ops->host_info(h, &info, &err), 0);
	assert_int_equal(info.n_cells, 2);
	assert_string_equal(info.cells[0].cpuset, "0-2");
	assert_string_equal(info.cells[1].cpuset, "3-4");
	assert_int_equal(info.cells[0].memory_mb + info.cells[1].memory_mb, 1001);
	struct spec_buf s;
	fill_spec(&s, 1, 1, 100, true, false);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(ops->host_info(h, &info, &err), 0);
	assert_int_equal(info.cells[0].memory_used_mb + info.cells[1].memory_used_mb, 100);

	/* a caller that knows a shorter struct gets only what fits */
	struct hvd_host_info small;
	memset(&small, 0xAA, sizeof small);
	small.struct_size = offsetof(struct hvd_host_info, vcpus);
	assert_int_equal(ops->host_info(h, &small, &err), 0);
	assert_string_equal(small.hypervisor_type, "fake");
	assert_int_equal(small.struct_size, offsetof(struct hvd_host_info, vcpus));
	assert_int_equal(small.vcpus, 0xAAAAAAAAu);
	ops->close(h);
}

static void
bad_host_config_is_refused_naming_the_key(void **state)
{
	struct hvd_host *h = NULL;
	struct hv_error err;
	struct hvd_kv bad[] = {{"report_interval", "10"}, {"vcpus", "0"}};
	assert_int_equal(ops->open(bad, 2, &h, &err), -EINVAL);
	assert_null(h);
	assert_string_equal(err.field, "vcpus");
	struct hvd_kv bad2[] = {{"fail_probability", "1.5"}};
	assert_int_equal(ops->open(bad2, 1, &h, &err), -EINVAL);
	assert_string_equal(err.field, "fail_probability");
	h = open_host((const char *const[]){"driver_dir", "/x", NULL}); /* agent keys are ignored */
	assert_int_equal(ops->set_option(h, "vcpus", "8", &err), -EINVAL);
	assert_int_equal(ops->set_option(h, "bogus", "1", &err), -EINVAL);
	assert_int_equal(ops->set_option(h, "latency_ms", "abc", &err), -EINVAL);
	assert_int_equal(ops->set_option(h, "latency_ms", "0", &err), 0);
	ops->close(h);
	ops->close(NULL);
}

static void
an_unregistered_callback_hears_nothing(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct hv_error err;
	struct spec_buf s;
	fill_spec(&s, 1, 1, 256, true, false);
	assert_int_equal(ops->set_event_callback(h, record_event, &rec, &err), 0);
	assert_int_equal(ops->spawn(h, &s.spec, &err), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ev[0].type, HVD_EVENT_STARTED);
	assert_int_equal(ops->set_event_callback(h, NULL, NULL, &err), 0);
	assert_int_equal(ops->pause(h, s.uuid, &err), 0);
	assert_int_equal(rec.n, 1);
	ops->close(h);
}

struct churn_arg {
	struct hvd_host *h;
	unsigned base;
};

static void *
churn(void *p)
{
	struct churn_arg *a = p;
	for (unsigned k = 0; k < 200; k++) {
		struct spec_buf s;
		struct hv_error err;
		fill_spec(&s, a->base + k, 1, 64, true, false);
		if (ops->spawn(a->h, &s.spec, &err) != 0 || ops->pause(a->h, s.uuid, &err) != 0 ||
		    ops->destroy(a->h, s.uuid, true, &err) != 0)
			return (void *)1;
	}
	return NULL;
}

static size_t count_calls;
static void
count_instance(void *ctx, const struct hvd_instance_info *info)
{
	count_calls++;
}

static void
concurrent_callers_on_one_host_stay_consistent(void **state)
{
	struct hvd_host *h = open_host(NULL);
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct hv_error err;
	assert_int_equal(ops->set_event_callback(h, record_event, &rec, &err), 0);
	pthread_t t[4];
	struct churn_arg args[4];
	for (unsigned k = 0; k < 4; k++) {
		args[k] = (struct churn_arg){h, k * 1000};
		pthread_create(&t[k], NULL, churn, &args[k]);
	}
	for (unsigned k = 0; k < 4; k++) {
		void *rv;
		pthread_join(t[k], &rv);
		assert_null(rv);
	}
	assert_int_equal(rec.n, 4 * 200 * 3); /* started, paused, deleted */
	count_calls = 0;
	assert_int_equal(ops->list_instances(h, count_instance, NULL, &err), 0);
	assert_int_equal(count_calls, 0);
	struct hvd_host_stats st = {.struct_size = sizeof st};
	assert_int_equal(ops->host_stats(h, &st, &err), 0);
	assert_int_equal(st.memory_free_mb, 65536);
	ops->close(h);
}

/* A state file in a fresh directory: path into buf. */
static void
state_file(char *dir, char *buf, size_t size)
{
	strcpy(dir, "/tmp/fake-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(buf, size, "%s/fake.state", dir);
}

static void
remove_state(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

static void
a_state_file_keeps_guests_and_call_counters_across_a_restart(void **state)
{
	char dir[32], path[64];
	struct spec_buf a, b, c;
	struct hv_error err;

	state_file(dir, path, sizeof path);
	const char *const cfg[] = {"state_file", path, "vcpus", "8", NULL};
	struct hvd_host *h = open_host(cfg);
	fill_spec(&a, 1, 2, 512, true, true);
	fill_spec(&b, 2, 1, 256, true, false);
	fill_spec(&c, 3, 1, 256, false, false);
	a.spec.flavor.name = "name with spaces, commas and %";
	assert_int_equal(ops->spawn(h, &a.spec, &err), 0);
	assert_int_equal(ops->spawn(h, &b.spec, &err), 0);
	assert_int_equal(ops->spawn(h, &c.spec, &err), 0);
	assert_int_equal(ops->pause(h, b.uuid, &err), 0);
	b.spec.flavor.vcpus = 2;
	assert_int_equal(ops->resize(h, &b.spec, &err), -EBUSY); /* paused: refused, counted */
	assert_int_equal(ops->destroy(h, c.uuid, true, &err), 0);
	/* no close: the process dies with the state as the last op left it */
	struct hvd_host *h2 = open_host(cfg);
	count_calls = 0;
	assert_int_equal(ops->list_instances(h2, count_instance, NULL, &err), 0);
	assert_int_equal(count_calls, 2);
	struct hvd_instance_info ia = get_info(h2, a.uuid), ib = get_info(h2, b.uuid);
	assert_int_equal(ia.power_state, HVD_POWER_RUNNING);
	assert_int_equal(ia.vcpus, 2);
	assert_int_equal(ib.power_state, HVD_POWER_PAUSED);
	assert_int_equal(ops->get_instance(h2, c.uuid, &ia, &err), -ENOENT);
	/* the guest agent came back with the guest: only then can a password be set */
	assert_int_equal(ops->set_admin_password(h2, a.uuid, "root", "pw", &err), 0);
	/* the counters go on: this is the fourth spawn and the second resize the host saw */
	fill_spec(&c, 4, 1, 256, false, false);
	assert_int_equal(ops->spawn(h2, &c.spec, &err), 0);
	char *log = console(h2, c.uuid, 4096);
	assert_non_null(strstr(log, "fake: op spawn #4\n"));
	free(log);
	/* resources are claimed again: 2 + 1 + 1 of 8 vCPUs */
	fill_spec(&c, 5, 5, 256, false, false);
	assert_int_equal(ops->spawn(h2, &c.spec, &err), -ENOSPC);
	ops->close(h2);
	ops->close(h);
	remove_state(dir, path);
}

static void
a_damaged_state_file_stops_open_naming_it(void **state)
{
	char dir[32], path[64], tmp[80];
	struct hvd_host *h = NULL;
	struct hv_error err = {0};
	FILE *f;

	state_file(dir, path, sizeof path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("HVFAKE-STATE 1\nnext_index 1\ninstance not-a-uuid 0 - - - 0 0 0 0 0 0 - 1 1 1 - 0 "
	      "0 0\n",
	      f);
	fclose(f);
	struct hvd_kv kv[] = {{"state_file", path}};
	assert_int_equal(ops->open(kv, 1, &h, &err), -EINVAL);
	assert_null(h);
	assert_string_equal(err.field, "state_file");
	assert_non_null(strstr(err.message, "line 3"));
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	remove_state(dir, path);
}

int
main(void)
{
	ops = hvagent_driver_entry(HVD_ABI_VERSION);
	if (!ops || hvagent_driver_entry(0) != NULL) {
		fprintf(stderr, "fake driver entry misbehaves\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			every_action_in_every_state_moves_or_refuses_as_a_hypervisor_would),
		cmocka_unit_test(pause_freezes_cpu_time_and_keeps_the_memory),
		cmocka_unit_test(host_cpu_counters_advance_with_load),
		cmocka_unit_test(the_console_log_grows_and_returns_its_tail),
		cmocka_unit_test(fail_op_fails_exactly_n_times_and_changes_nothing),
		cmocka_unit_test(fail_probability_is_deterministic_for_a_seed),
		cmocka_unit_test(a_thousand_hosts_of_ten_instances_live_in_one_process),
		cmocka_unit_test(a_spawn_that_does_not_fit_is_refused_naming_the_resource),
		cmocka_unit_test(a_bad_spawn_request_is_refused_naming_the_field),
		cmocka_unit_test(a_spawn_without_power_on_only_defines_the_instance),
		cmocka_unit_test(a_soft_reboot_passes_through_shutdown),
		cmocka_unit_test(a_guest_ignoring_acpi_is_forced_after_the_timeout),
		cmocka_unit_test(a_resize_keeps_the_old_flavor_until_confirmed_or_reverted),
		cmocka_unit_test(snapshot_rebuild_and_rescue_use_the_images_asked_for),
		cmocka_unit_test(set_admin_password_needs_a_guest_agent_and_is_never_echoed),
		cmocka_unit_test(host_info_splits_cpus_and_memory_across_cells),
		cmocka_unit_test(bad_host_config_is_refused_naming_the_key),
		cmocka_unit_test(an_unregistered_callback_hears_nothing),
		cmocka_unit_test(concurrent_callers_on_one_host_stay_consistent),
		cmocka_unit_test(a_state_file_keeps_guests_and_call_counters_across_a_restart),
		cmocka_unit_test(a_damaged_state_file_stops_open_naming_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
