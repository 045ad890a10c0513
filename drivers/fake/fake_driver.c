/* fake_driver.c - the fake hypervisor behind the driver ABI: one mutex per host around the
 * pure model (fake_model.c), latency and ACPI waits slept outside that lock, lifecycle
 * events delivered after it is released, snapshot files written for real.
 * Must never log, never call the event callback with the host lock held, and never keep a
 * password. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdio.h>

#include <hvagent/driver.h>

#include "fake_config.h"
#include "fake_model.h"
#include "ids.h"

struct hvd_host {
	pthread_mutex_t lock; /* guards model */
	struct fake_host *model;
	/* Held while the callback runs, so after set_event_callback() returns the old
	 * callback is never called again. */
	pthread_mutex_t cb_lock;
	hvd_event_fn cb;
	void *cb_ctx;
	/* host_down (guarded by lock): the "hypervisor connection" is lost, every op answers
	 * -ENOTCONN until it comes back. The flap thread plays HVAGENT_FAKE_HOST_FLAP. */
	bool down;
	pthread_t flap;
	bool flap_started, flap_stop;
	pthread_cond_t flap_cv;
	uint32_t flap_after_ms, flap_for_ms;
	char instances_path[4000]; /* where root_disk files go; "" = root_disk unsupported */
	/* [fake] state_file ("" = memory only). save_lock orders the saves: each writes a
	 * state taken under it, so a later file never holds an older state. */
	char state_path[4000];
	pthread_mutex_t save_lock;
};

static uint64_t
fake_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
fake_sleep_ms(uint64_t ms)
{
	/* nanosleep(0) still costs a timer-slack wake-up (~50 us): skip it. */
	if (ms == 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
fake_emit(struct hvd_host *host, const struct fake_events *ev)
{
	if (!ev->n)
		return;
	pthread_mutex_lock(&host->cb_lock);
	for (size_t k = 0; host->cb && k < ev->n; k++)
		host->cb(host->cb_ctx, ev->ev[k].uuid, ev->ev[k].type, ev->ev[k].power);
	pthread_mutex_unlock(&host->cb_lock);
}

/* Writes the host's state to state_file (temp file + rename: a reader, or the next open,
 * sees the old state or the new one, never half). The hypervisor has acted already, so a
 * failed save is not the op's failure: the guest then looks missing after a restart, which
 * the agent reports. Durable against a killed process, not a power cut (no fsync). */
static void
fake_persist(struct hvd_host *host)
{
	char tmp[sizeof host->state_path + 8], *text = NULL;
	int fd;

	if (!host->state_path[0])
		return;
	pthread_mutex_lock(&host->save_lock);
	pthread_mutex_lock(&host->lock);
	int r = fake_host_save(host->model, &text);
	pthread_mutex_unlock(&host->lock);
	snprintf(tmp, sizeof tmp, "%s.tmp", host->state_path);
	if (r == 0 &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0) {
		size_t len = strlen(text), off = 0;
		ssize_t w = 0;

		while (off < len && ((w = write(fd, text + off, len - off)) > 0 || errno == EINTR))
			off += w > 0 ? (size_t)w : 0;
		if (close(fd) == 0 && off == len)
			rename(tmp, host->state_path);
		else
			unlink(tmp);
	}
	pthread_mutex_unlock(&host->save_lock);
	free(text);
}

/* Reads state_file at open; a missing file is a host without guests. */
static int
fake_restore(struct hvd_host *host, struct hv_error *err)
{
	FILE *f = fopen(host->state_path, "re");
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!f && errno == ENOENT)
		return 0;
	if (!f)
		return hv_error_set(err, -errno, "state_file", "fake: cannot read %s: %s",
				    host->state_path, strerror(errno));
	FILE *mem = open_memstream(&text, &len);
	char buf[8192];
	size_t n;

	while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, mem);
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!mem || fclose(mem) != 0)
		r = -ENOMEM;
	if (r == 0)
		r = fake_host_load(host->model, text, fake_now(), err);
	else
		hv_error_set(err, r, "state_file", "fake: cannot read %s", host->state_path);
	free(text);
	return r;
}

/* Counts the call, draws its injected failure and returns its latency in call. */
static int
fake_begin(struct hvd_host *host, const char *op, bool changes_state, struct fake_call *call,
	   uint32_t *ret_latency_ms, struct hv_error *err)
{
	if (!host)
		return hv_error_set(err, -EINVAL, "host", "fake: %s: no host handle", op);
	pthread_mutex_lock(&host->lock);
	int64_t n = host->down
			    ? hv_error_set(err, -ENOTCONN, "host",
					   "fake: %s: hypervisor connection lost (host_down)", op)
			    : fake_host_begin(host->model, op, changes_state, ret_latency_ms, err);
	pthread_mutex_unlock(&host->lock);
	if (n < 0 && changes_state)
		fake_persist(host); /* the failed call still counts */
	if (n < 0)
		return (int)n;
	call->op = changes_state ? op : NULL;
	call->n = (uint64_t)n;
	call->now_ns = 0;
	return 0;
}

/* Callers own out-structs of the size they know: fill only what fits. */
static int
fake_copy_out(void *ret, const void *full, size_t full_size, const char *what, struct hv_error *err)
{
	uint32_t size;
	if (!ret)
		return hv_error_set(err, -EINVAL, what, "fake: %s: no result struct", what);
	memcpy(&size, ret, sizeof size);
	if (size < sizeof size)
		return hv_error_set(err, -EINVAL, "struct_size",
				    "fake: %s: struct_size %u is too small", what, size);
	memcpy(ret, full, size < full_size ? size : full_size);
	memcpy(ret, &size, sizeof size);
	return 0;
}

/* Sets host_down and tells the agent (HOST_DOWN / HOST_UP) when it changed. */
static void
fake_set_down(struct hvd_host *host, bool down)
{
	bool changed;

	pthread_mutex_lock(&host->lock);
	changed = host->down != down;
	host->down = down;
	pthread_mutex_unlock(&host->lock);
	if (!changed)
		return;
	pthread_mutex_lock(&host->cb_lock);
	if (host->cb)
		host->cb(host->cb_ctx, NULL, down ? HVD_EVENT_HOST_DOWN : HVD_EVENT_HOST_UP,
			 HVD_POWER_NOSTATE);
	pthread_mutex_unlock(&host->cb_lock);
}

/* Waits ms or until close; false when closing. */
static bool
fake_flap_wait(struct hvd_host *host, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&host->lock);
	while (!host->flap_stop && pthread_cond_timedwait(&host->flap_cv, &host->lock, &ts) == 0)
		;
	bool go_on = !host->flap_stop;
	pthread_mutex_unlock(&host->lock);
	return go_on;
}

static void *
fake_flap_main(void *arg)
{
	struct hvd_host *host = arg;

	if (fake_flap_wait(host, host->flap_after_ms)) {
		fake_set_down(host, true);
		if (fake_flap_wait(host, host->flap_for_ms))
			fake_set_down(host, false);
	}
	return NULL;
}

static void fake_close(struct hvd_host *host);

static int
fake_open(const struct hvd_kv *cfg, size_t n_cfg, struct hvd_host **ret_host, struct hv_error *err)
{
	*ret_host = NULL;
	struct hvd_host *host = calloc(1, sizeof *host);
	if (!host || !(host->model = fake_host_new(fake_now()))) {
		free(host);
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	}
	for (size_t k = 0; k < n_cfg; k++) {
		int r = fake_host_set(host->model, cfg[k].key, cfg[k].value, true, err);
		if (r < 0) {
			fake_host_free(host->model);
			free(host);
			return r;
		}
	}
	pthread_mutex_init(&host->lock, NULL);
	pthread_mutex_init(&host->cb_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&host->flap_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	/* A test hook for whole-agent tests, which cannot reach set_option(): the connection
	 * drops AFTER_MS after open and comes back FOR_MS later. */
	for (size_t k = 0; k < n_cfg; k++)
		if (cfg[k].key && cfg[k].value && strcmp(cfg[k].key, "instances_path") == 0 &&
		    cfg[k].value[0] == '/')
			snprintf(host->instances_path, sizeof host->instances_path, "%s",
				 cfg[k].value);
	pthread_mutex_init(&host->save_lock, NULL);
	for (size_t k = 0; k < n_cfg; k++)
		if (cfg[k].key && cfg[k].value && strcmp(cfg[k].key, "state_file") == 0 &&
		    cfg[k].value[0] == '/')
			snprintf(host->state_path, sizeof host->state_path, "%s", cfg[k].value);
	if (host->state_path[0]) {
		int r = fake_restore(host, err);

		if (r < 0) {
			fake_close(host);
			return r;
		}
	}
	const char *flap = getenv("HVAGENT_FAKE_HOST_FLAP");
	if (flap && sscanf(flap, "%u:%u", &host->flap_after_ms, &host->flap_for_ms) == 2)
		host->flap_started = pthread_create(&host->flap, NULL, fake_flap_main, host) == 0;
	*ret_host = host;
	return 0;
}

static void
fake_close(struct hvd_host *host)
{
	if (!host)
		return;
	if (host->flap_started) {
		pthread_mutex_lock(&host->lock);
		host->flap_stop = true;
		pthread_cond_broadcast(&host->flap_cv);
		pthread_mutex_unlock(&host->lock);
		pthread_join(host->flap, NULL);
	}
	pthread_cond_destroy(&host->flap_cv);
	pthread_mutex_destroy(&host->lock);
	pthread_mutex_destroy(&host->cb_lock);
	pthread_mutex_destroy(&host->save_lock);
	fake_host_free(host->model);
	free(host);
}

static int
fake_host_info_op(struct hvd_host *host, struct hvd_host_info *ret, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	struct hvd_host_info full;
	int r = fake_begin(host, "host_info", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	fake_host_info(host->model, &full);
	pthread_mutex_unlock(&host->lock);
	return fake_copy_out(ret, &full, sizeof full, "host_info", err);
}

static int
fake_host_stats_op(struct hvd_host *host, struct hvd_host_stats *ret, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	struct hvd_host_stats full;
	int r = fake_begin(host, "host_stats", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	fake_host_stats(host->model, fake_now(), &full);
	pthread_mutex_unlock(&host->lock);
	return fake_copy_out(ret, &full, sizeof full, "host_stats", err);
}

static int
fake_list_instances(struct hvd_host *host, hvd_instance_fn fn, void *ctx, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	struct hvd_instance_info *infos;
	size_t n;
	if (!fn)
		return hv_error_set(err, -EINVAL, "fn", "fake: list_instances: no callback");
	int r = fake_begin(host, "list_instances", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	r = fake_host_list(host->model, fake_now(), &infos, &n);
	pthread_mutex_unlock(&host->lock);
	if (r < 0)
		return hv_error_set(err, r, "", "fake: out of memory");
	/* Called without the lock: the callback may take its own locks freely. */
	for (size_t k = 0; k < n; k++)
		fn(ctx, &infos[k]);
	free(infos);
	return 0;
}

static int
fake_get_instance(struct hvd_host *host, const char *uuid, struct hvd_instance_info *ret,
		  struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	struct hvd_instance_info full;
	int r = fake_begin(host, "get_instance", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	r = fake_instance_info(host->model, uuid, fake_now(), &full, err);
	pthread_mutex_unlock(&host->lock);
	if (r < 0)
		return r;
	return fake_copy_out(ret, &full, sizeof full, "get_instance", err);
}

static int
fake_write_file(const char *path, const char *text, struct hv_error *err)
{
	/* O_EXCL: a snapshot never overwrites an image already in the store. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int e = errno;
		return hv_error_set(err, -e, "dest_path", "fake: cannot create snapshot %s: %s",
				    path, strerror(e));
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return hv_error_set(err, -e, "dest_path",
					    "fake: cannot write snapshot %s: %s", path,
					    strerror(e));
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(path);
		return hv_error_set(err, -e, "dest_path", "fake: cannot write snapshot %s: %s",
				    path, strerror(e));
	}
	return 0;
}

static void
fake_root_path(const struct hvd_host *host, const char *uuid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.fake-root", host->instances_path, uuid);
}

/* The instance's root disk stand-in under instances_path (kept when it is there): what
 * root_disk hands the injector, and what an evacuation on shared storage finds. */
static int
fake_root_write(const struct hvd_host *host, const char *uuid, char *path, size_t size,
		struct hv_error *err)
{
	char text[128];

	if (mkdir(host->instances_path, 0755) < 0 && errno != EEXIST)
		return hv_error_set(err, -errno, "instances_path", "fake: cannot create %s: %s",
				    host->instances_path, strerror(errno));
	fake_root_path(host, uuid, path, size);
	snprintf(text, sizeof text, "fake root disk of %s: not a disk image\n", uuid);
	if (access(path, F_OK) != 0)
		return fake_write_file(path, text, err);
	return 0;
}

/* An evacuation on shared storage (reuse_disk) boots the disk the instance's old host
 * wrote under instances_path; checked before anything is defined. */
static bool
fake_reuses_disk(const struct hvd_instance_spec *spec)
{
	return spec &&
	       spec->struct_size >= offsetof(struct hvd_instance_spec, reuse_disk) + sizeof(bool) &&
	       spec->reuse_disk;
}

static int
fake_reused_disk_check(const struct hvd_host *host, const struct hvd_instance_spec *spec,
		       struct hv_error *err)
{
	char path[4096 + 64];

	if (!host->instances_path[0])
		return hv_error_set(err, -ENOENT, "reuse_disk",
				    "fake: no instances_path: no disk to boot");
	fake_root_path(host, spec->uuid, path, sizeof path);
	if (access(path, F_OK) != 0)
		return hv_error_set(err, -ENOENT, "reuse_disk",
				    "fake: no disk %s to boot: instances_path is not on storage "
				    "the instance's old host shared",
				    path);
	return 0;
}

static int
fake_spawn_op(struct hvd_host *host, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, "spawn", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	/* a uuid the model refuses below names no file here */
	if (fake_reuses_disk(spec) && hv_uuid_valid(spec->uuid) &&
	    (r = fake_reused_disk_check(host, spec, err)) < 0)
		return r;
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_spawn(host->model, spec, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);
	if (r >= 0 && host->instances_path[0] && !fake_reuses_disk(spec)) {
		char path[4096 + 64];
		struct hv_error ignored = {0};

		/* best effort, as a real disk's allocation is not the guest's definition */
		(void)fake_root_write(host, spec->uuid, path, sizeof path, &ignored);
	}
	fake_persist(host);
	fake_emit(host, &ev);
	return r;
}

static int
fake_destroy_op(struct hvd_host *host, const char *uuid, bool delete_disks, struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, "destroy", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_destroy(host->model, uuid, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	fake_emit(host, &ev);
	if (r >= 0 && delete_disks && host->instances_path[0]) {
		char path[4096 + 64];

		fake_root_path(host, uuid, path, sizeof path);
		unlink(path);
	}
	return r;
}

/* The shape of every table-driven action: count, wait, act, then (for a guest that takes
 * its time or ignores ACPI) wait outside the lock and finish. */
static int
fake_action(struct hvd_host *host, const char *op, const char *uuid, enum fake_action action,
	    uint32_t timeout_s, struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, op, true, &call, &lat, err);
	if (r < 0)
		return r;
	bool via = fake_transition(action, FAKE_RUNNING)->via;
	if (!via)
		fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_act(host->model, uuid, action, 0, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);

	if (r == FAKE_IN_PROGRESS) {
		/* The guest is observably down while it restarts; a crash now finds it rebooted. */
		fake_persist(host);
		fake_sleep_ms(lat);
		pthread_mutex_lock(&host->lock);
		call.now_ns = fake_now();
		r = fake_complete(host->model, uuid, &call, &ev, err);
		pthread_mutex_unlock(&host->lock);
	} else if (r == FAKE_ACPI_IGNORED) {
		fake_sleep_ms((uint64_t)timeout_s * 1000);
		pthread_mutex_lock(&host->lock);
		call.now_ns = fake_now();
		r = fake_act(host->model, uuid, action, FAKE_FORCE, &call, &ev, err);
		pthread_mutex_unlock(&host->lock);
	}
	fake_persist(host);
	fake_emit(host, &ev);
	return r < 0 ? r : 0;
}

static int
fake_power_off(struct hvd_host *host, const char *uuid, uint32_t timeout_s, struct hv_error *err)
{
	return fake_action(host, "power_off", uuid, FAKE_POWER_OFF, timeout_s, err);
}

static int
fake_power_on(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "power_on", uuid, FAKE_POWER_ON, 0, err);
}

static int
fake_reboot(struct hvd_host *host, const char *uuid, enum hvd_reboot_type type, uint32_t timeout_s,
	    struct hv_error *err)
{
	if (type != HVD_REBOOT_SOFT && type != HVD_REBOOT_HARD)
		return hv_error_set(err, -EINVAL, "type",
				    "fake: reboot type %d is not soft or hard", (int)type);
	return fake_action(host, "reboot", uuid,
			   type == HVD_REBOOT_SOFT ? FAKE_REBOOT_SOFT : FAKE_REBOOT_HARD, timeout_s,
			   err);
}

static int
fake_pause(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "pause", uuid, FAKE_PAUSE, 0, err);
}

static int
fake_unpause(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "unpause", uuid, FAKE_UNPAUSE, 0, err);
}

static int
fake_suspend(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "suspend", uuid, FAKE_SUSPEND, 0, err);
}

static int
fake_resume(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "resume", uuid, FAKE_RESUME, 0, err);
}

static int
fake_confirm_resize(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "confirm_resize", uuid, FAKE_CONFIRM_RESIZE, 0, err);
}

static int
fake_revert_resize(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "revert_resize", uuid, FAKE_REVERT_RESIZE, 0, err);
}

static int
fake_unrescue(struct hvd_host *host, const char *uuid, struct hv_error *err)
{
	return fake_action(host, "unrescue", uuid, FAKE_UNRESCUE, 0, err);
}

static int
fake_resize_op(struct hvd_host *host, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, "resize", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_resize(host->model, spec, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	fake_emit(host, &ev);
	return r;
}

static int
fake_rebuild_op(struct hvd_host *host, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, "rebuild", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_rebuild(host->model, spec, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	fake_emit(host, &ev);
	return r;
}

static int
fake_rescue_op(struct hvd_host *host, const char *uuid, const struct hvd_image *image,
	       struct hv_error *err)
{
	struct fake_call call;
	struct fake_events ev = {0};
	uint32_t lat;
	int r = fake_begin(host, "rescue", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_rescue(host->model, uuid, image, &call, &ev, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	fake_emit(host, &ev);
	return r;
}

static int
fake_snapshot_op(struct hvd_host *host, const char *uuid, const char *dest_path,
		 const char *dest_format, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	char *text;
	if (!dest_path || dest_path[0] != '/')
		return hv_error_set(err, -EINVAL, "dest_path",
				    "fake: snapshot destination must be an absolute path");
	for (const char *p = dest_path; *p; p++)
		if ((unsigned char)*p < 0x20)
			return hv_error_set(err, -EINVAL, "dest_path",
					    "fake: snapshot destination has a control character");
	int r = fake_begin(host, "snapshot", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_snapshot(host->model, uuid, dest_format, &call, &text, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	if (r < 0)
		return r;
	r = fake_write_file(dest_path, text, err);
	free(text);
	return r;
}

static int
fake_console_log_op(struct hvd_host *host, const char *uuid, size_t max_bytes, char **ret_text,
		    struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	if (!ret_text)
		return hv_error_set(err, -EINVAL, "ret_text",
				    "fake: console_log: no result pointer");
	*ret_text = NULL;
	int r = fake_begin(host, "console_log", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	r = fake_console_log(host->model, uuid, fake_now(), max_bytes, ret_text, err);
	pthread_mutex_unlock(&host->lock);
	return r;
}

static int
fake_get_console(struct hvd_host *host, const char *uuid, enum hvd_console_type type,
		 struct hvd_console *ret, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	struct hvd_console full;
	int r = fake_begin(host, "get_console", false, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_console(host->model, uuid, type, &call, &full, err);
	pthread_mutex_unlock(&host->lock);
	if (r < 0)
		return r;
	return fake_copy_out(ret, &full, sizeof full, "get_console", err);
}

static int
fake_set_admin_password(struct hvd_host *host, const char *uuid, const char *user,
			const char *password, struct hv_error *err)
{
	struct fake_call call;
	uint32_t lat;
	int r = fake_begin(host, "set_admin_password", true, &call, &lat, err);
	if (r < 0)
		return r;
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	call.now_ns = fake_now();
	r = fake_set_password(host->model, uuid, user, password, &call, err);
	pthread_mutex_unlock(&host->lock);
	fake_persist(host);
	return r;
}

/* The fake boots no guest, so its root disk is a small file that is no disk image, reported
 * as qcow2 like the libvirt driver's overlays: offline injection into it fails validation
 * ("not a qcow2 image") without launching an appliance - the failure path, on demand. */
static int
fake_root_disk(struct hvd_host *host, const char *uuid, char **ret_path, char **ret_format,
	       struct hv_error *err)
{
	struct fake_call call;
	struct hvd_instance_info info = {.struct_size = sizeof info};
	char path[4096 + 64];
	uint32_t lat;
	int r = fake_begin(host, "root_disk", false, &call, &lat, err);

	*ret_path = *ret_format = NULL;
	if (r < 0)
		return r;
	if (!host->instances_path[0])
		return hv_error_set(err, -EOPNOTSUPP, "instances_path",
				    "fake: root_disk: no instances_path");
	fake_sleep_ms(lat);
	pthread_mutex_lock(&host->lock);
	r = fake_instance_info(host->model, uuid, fake_now(), &info, err);
	pthread_mutex_unlock(&host->lock);
	if (r < 0)
		return r;
	if ((r = fake_root_write(host, uuid, path, sizeof path, err)) < 0)
		return r;
	if (!(*ret_path = strdup(path)) || !(*ret_format = strdup("qcow2"))) {
		free(*ret_path);
		*ret_path = NULL;
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	}
	return 0;
}

static int
fake_set_event_callback(struct hvd_host *host, hvd_event_fn fn, void *ctx, struct hv_error *err)
{
	if (!host)
		return hv_error_set(err, -EINVAL, "host",
				    "fake: set_event_callback: no host handle");
	pthread_mutex_lock(&host->cb_lock);
	host->cb = fn;
	host->cb_ctx = fn ? ctx : NULL;
	pthread_mutex_unlock(&host->cb_lock);
	return 0;
}

static int
fake_set_option(struct hvd_host *host, const char *key, const char *value, struct hv_error *err)
{
	if (!host)
		return hv_error_set(err, -EINVAL, "host", "fake: set_option: no host handle");
	if (key && strcmp(key, "host_down") == 0) {
		if (!value || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0))
			return hv_error_set(err, -EINVAL, "host_down",
					    "fake: host_down: expected on or off");
		fake_set_down(host, strcmp(value, "on") == 0);
		return 0;
	}
	pthread_mutex_lock(&host->lock);
	int r = fake_host_set(host->model, key, value, false, err);
	pthread_mutex_unlock(&host->lock);
	return r;
}

/* The fake runs no guest process: every directory is reachable. */
static int
fake_check_reach(struct hvd_host *host, const char *const *paths, const char *const *fields,
		 size_t n, struct hv_error *err)
{
	return 0;
}

static const struct hvd_driver fake_driver = {
	.abi_version = HVD_ABI_VERSION,
	.struct_size = sizeof(struct hvd_driver),
	.name = "fake",
	.version = HV_VERSION,
	.open = fake_open,
	.close = fake_close,
	.host_info = fake_host_info_op,
	.host_stats = fake_host_stats_op,
	.list_instances = fake_list_instances,
	.get_instance = fake_get_instance,
	.spawn = fake_spawn_op,
	.destroy = fake_destroy_op,
	.power_off = fake_power_off,
	.power_on = fake_power_on,
	.reboot = fake_reboot,
	.pause = fake_pause,
	.unpause = fake_unpause,
	.suspend = fake_suspend,
	.resume = fake_resume,
	.resize = fake_resize_op,
	.confirm_resize = fake_confirm_resize,
	.revert_resize = fake_revert_resize,
	.rebuild = fake_rebuild_op,
	.rescue = fake_rescue_op,
	.unrescue = fake_unrescue,
	.snapshot = fake_snapshot_op,
	.console_log = fake_console_log_op,
	.get_console = fake_get_console,
	.set_admin_password = fake_set_admin_password,
	.set_event_callback = fake_set_event_callback,
	.set_option = fake_set_option,
	.root_disk = fake_root_disk,
	.check_config = fake_check_config,
	.check_reach = fake_check_reach,
	.config_section = FAKE_CONFIG_SECTION,
	.config_keys = fake_config_keys,
	.needs = 0, /* boots any image id: image.path NULL unless the store has the id */
};

HVD_EXPORT const struct hvd_driver *hvagent_driver_entry(uint32_t agent_abi_version);

HVD_EXPORT const struct hvd_driver *
hvagent_driver_entry(uint32_t agent_abi_version)
{
	/* An agent older than the ABI this driver was built for cannot use it. */
	return agent_abi_version >= HVD_ABI_VERSION ? &fake_driver : NULL;
}
