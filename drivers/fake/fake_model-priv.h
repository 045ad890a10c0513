/* fake_model-priv.h - the fake model's structs, shared by fake_model.c (the state machine)
 * and fake_state.c (its text form for state_file) alone. */
#ifndef HV_FAKE_MODEL_PRIV_H
#define HV_FAKE_MODEL_PRIV_H

#include "fake_model.h"

#define FAKE_N_OPS 23

/* The ops a knob can name (open, close and the setters cannot fail or be slowed). */
extern const char *const fake_ops[FAKE_N_OPS];

struct fake_flavor {
	char name[64];
	uint32_t vcpus;
	uint64_t ram_mb;
	uint64_t disk_gb;
};

struct fake_instance {
	char uuid[37];
	char hostname[64];
	enum fake_state state;
	bool in_transit; /* between fake_act() == FAKE_IN_PROGRESS and fake_complete() */
	enum fake_action transit_action;
	enum fake_state transit_from;
	struct fake_flavor flavor;
	struct fake_flavor old_flavor; /* valid while a resize is pending */
	char image_id[64];
	char rescue_image_id[64];
	bool guest_agent;     /* hw_qemu_guest_agent=yes */
	bool require_quiesce; /* os_require_quiesce=yes */
	bool config_drive;
	size_t n_ports;
	uint32_t cell;
	uint32_t index;           /* console ports */
	uint64_t cpu_ns;          /* banked CPU time */
	uint64_t up_ns;           /* banked guest uptime since its last boot */
	uint64_t run_since_ns;    /* valid while running */
	uint64_t uptime_logged_s; /* last "uptime" line written */
	char *log;
	size_t log_len, log_cap;
};

struct fake_host {
	/* sizes, all uint64_t so one table in fake_host_set() parses them */
	uint64_t vcpus;
	uint64_t memory_mb;
	uint64_t local_gb;
	uint64_t numa_cells;
	uint64_t cpu_mhz;

	uint32_t latency_ms;
	int64_t op_latency_ms[FAKE_N_OPS]; /* -1: latency_ms */
	uint64_t fail_next[FAKE_N_OPS];
	uint64_t calls[FAKE_N_OPS];
	double fail_probability;
	int64_t seed;
	uint64_t rng;
	bool acpi;
	uint64_t outside_memory_mb; /* taken by the host itself, not by a guest */
	char console_host[64];      /* console_addr: "" for the per-guest ports */
	uint32_t console_port;

	struct fake_instance **inst;
	size_t n_inst, cap_inst;
	uint32_t next_index;

	uint32_t busy_vcpus; /* sum over running instances */
	uint64_t stats_ns;   /* counters below are banked up to here */
	uint64_t user_ns, kernel_ns, idle_ns;
};

#endif
