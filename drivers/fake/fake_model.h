/* fake_model.h - the fake hypervisor's pure core: hosts, instances, the power-state table,
 * resource accounting, CPU counters, console logs and the failure knobs. No locks, no
 * sleeping, no clock: the caller passes the time in, so tests can drive it exactly.
 * fake_driver.c wraps it in the driver ABI (locking, latency, events, files).
 * Must never log, sleep, read a clock or touch a file. */
#ifndef HV_FAKE_MODEL_H
#define HV_FAKE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvagent/driver.h>

/* What the hypervisor holds: a power state plus the rescue/resize modes, as states. */
enum fake_state {
	FAKE_RUNNING,
	FAKE_PAUSED,
	FAKE_SHUTDOWN,
	FAKE_SUSPENDED,        /* managed save: off, memory image on disk */
	FAKE_RESCUED,          /* running from the rescue image */
	FAKE_RESIZED,          /* running the new flavor, old kept until confirm/revert */
	FAKE_RESIZED_SHUTDOWN, /* resized while off: stays off, old kept */
	FAKE_N_STATES,
};

/* Actions whose validity depends on the state (destroy is valid in every state). */
enum fake_action {
	FAKE_POWER_OFF,
	FAKE_POWER_ON,
	FAKE_REBOOT_SOFT,
	FAKE_REBOOT_HARD,
	FAKE_PAUSE,
	FAKE_UNPAUSE,
	FAKE_SUSPEND,
	FAKE_RESUME,
	FAKE_RESIZE,
	FAKE_CONFIRM_RESIZE,
	FAKE_REVERT_RESIZE,
	FAKE_REBUILD,
	FAKE_RESCUE,
	FAKE_UNRESCUE,
	FAKE_SNAPSHOT,
	FAKE_GET_CONSOLE,
	FAKE_SET_PASSWORD,
	FAKE_N_ACTIONS,
};

#define FAKE_NO_EVENT (-1)

/* One cell of the table. */
struct fake_transition {
	bool allowed;
	enum fake_state next;
	int event; /* enum hvd_event_type, or FAKE_NO_EVENT */
	bool via;  /* passes through via_state while the guest shuts down */
	enum fake_state via_state;
};

const struct fake_transition *fake_transition(enum fake_action action, enum fake_state state);
const char *fake_state_name(enum fake_state state);
const char *fake_action_name(enum fake_action action);
enum hvd_power_state fake_state_power(enum fake_state state);

struct fake_event {
	char uuid[37];
	enum hvd_event_type type;
	enum hvd_power_state power;
};

struct fake_events {
	size_t n;
	struct fake_event ev[4];
};

/* One call into the model: which op (for the console log's "fake: op NAME #N" line, written
 * for every state-changing op), its per-host sequence number, and the time. */
struct fake_call {
	const char *op;
	uint64_t n;
	uint64_t now_ns; /* monotonic */
};

struct fake_host;

struct fake_host *fake_host_new(uint64_t now_ns);
void fake_host_free(struct fake_host *h);

/* Applies one knob. Host sizes (vcpus, memory_mb, local_gb, numa_cells, cpu_mhz) only when
 * at_open; latency_ms, latency.<op>, fail.<op>, fail_probability, seed, acpi,
 * outside_memory_mb any time.
 * Unknown keys: ignored when at_open (the agent passes its whole section), -EINVAL
 * otherwise. Bad values: -EINVAL naming the key; nothing changes. */
int fake_host_set(struct fake_host *h, const char *key, const char *value, bool at_open,
		  struct hv_error *err);

/* Counts a call of op and draws its injected failure: fail.<op> first, then (for
 * state-changing ops) fail_probability. Returns the call number (>= 1) or -EIO with the
 * reason. *ret_latency_ms is the delay the op should take. */
int64_t fake_host_begin(struct fake_host *h, const char *op, bool changes_state,
			uint32_t *ret_latency_ms, struct hv_error *err);
uint64_t fake_host_calls(const struct fake_host *h, const char *op);
bool fake_host_acpi(const struct fake_host *h);

/* Out-structs are filled whole; the caller copies what its struct_size allows. */
void fake_host_info(const struct fake_host *h, struct hvd_host_info *ret);
void fake_host_stats(struct fake_host *h, uint64_t now_ns, struct hvd_host_stats *ret);
size_t fake_host_count(const struct fake_host *h);
/* Infos of every instance into *ret (malloc'd array, caller frees), so the caller can
 * call back without holding its lock. */
int
fake_host_list(struct fake_host *h, uint64_t now_ns, struct hvd_instance_info **ret, size_t *ret_n);

int fake_instance_info(struct fake_host *h, const char *uuid, uint64_t now_ns,
		       struct hvd_instance_info *ret, struct hv_error *err);

int fake_spawn(struct fake_host *h, const struct hvd_instance_spec *spec,
	       const struct fake_call *call, struct fake_events *ev, struct hv_error *err);
int fake_destroy(struct fake_host *h, const char *uuid, const struct fake_call *call,
		 struct fake_events *ev, struct hv_error *err);

/* fake_act results besides 0 and -errno: */
#define FAKE_IN_PROGRESS 1  /* the guest is shutting down: call fake_complete later */
#define FAKE_ACPI_IGNORED 2 /* the guest ignored ACPI: wait, then act again with FAKE_FORCE */
#define FAKE_FORCE 1u       /* flag: the ACPI wait is over, act by force */

/* Power off, power on, reboots, pause, unpause, suspend, resume, confirm/revert resize,
 * unrescue. Refusals are -EBUSY "cannot ACTION instance UUID: it is STATE". */
int fake_act(struct fake_host *h, const char *uuid, enum fake_action action, unsigned flags,
	     const struct fake_call *call, struct fake_events *ev, struct hv_error *err);
/* Finishes an action that returned FAKE_IN_PROGRESS. */
int fake_complete(struct fake_host *h, const char *uuid, const struct fake_call *call,
		  struct fake_events *ev, struct hv_error *err);

int fake_resize(struct fake_host *h, const struct hvd_instance_spec *spec,
		const struct fake_call *call, struct fake_events *ev, struct hv_error *err);
int fake_rebuild(struct fake_host *h, const struct hvd_instance_spec *spec,
		 const struct fake_call *call, struct fake_events *ev, struct hv_error *err);
int fake_rescue(struct fake_host *h, const char *uuid, const struct hvd_image *image,
		const struct fake_call *call, struct fake_events *ev, struct hv_error *err);
/* Checks a snapshot may be taken now (quiescing through the guest agent when the image
 * asks) and returns the file's content in *ret_text (malloc'd). */
int fake_snapshot(struct fake_host *h, const char *uuid, const char *dest_format,
		  const struct fake_call *call, char **ret_text, struct hv_error *err);
int fake_console_log(struct fake_host *h, const char *uuid, uint64_t now_ns, size_t max_bytes,
		     char **ret_text, struct hv_error *err);
int fake_console(struct fake_host *h, const char *uuid, enum hvd_console_type type,
		 const struct fake_call *call, struct hvd_console *ret, struct hv_error *err);
/* The password is a secret: checked, counted in the console log, never kept. */
int fake_set_password(struct fake_host *h, const char *uuid, const char *user, const char *password,
		      const struct fake_call *call, struct hv_error *err);

/* The host's guests (each in the state it settles in) and its per-op call counters as
 * text, for [fake] state_file. *ret_text is malloc'd, caller frees. */
int fake_host_save(const struct fake_host *h, char **ret_text);
/* Replaces h's guests and counters with those of text (as fake_host_save wrote it); the
 * running guests' clocks restart at now_ns. A bad text is -EINVAL naming state_file and
 * its line, and h is left as it was. Sizes and knobs stay those of h. */
int fake_host_load(struct fake_host *h, const char *text, uint64_t now_ns, struct hv_error *err);

#endif
