/* injector.h - the agent's offline injection queue ([guest] inject_key / inject_password):
 * spawns that wait at the same moment share ONE libguestfs appliance (guest/inject.h),
 * but only with spawns of the same project (a hostile filesystem could reach the other
 * disks of its launch). A spawn without a project is injected alone.
 * Never logs; never keeps a secret past the call that received it. */
#ifndef HV_AGENT_INJECTOR_H
#define HV_AGENT_INJECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <hvagent/error.h>

struct injector;
struct guest_job;
struct guest_inject_opts;
struct guest_result;

/* guest_inject_batch()'s type (guest/inject.h). */
typedef int (*injector_batch_fn)(const struct guest_job *jobs, size_t n,
				 const struct guest_inject_opts *opts,
				 struct guest_result *ret_results);

/* libguestfs maps some seventy libraries (libvirt, GLib, GnuTLS, ICU...): the injection lives
 * in a module, loaded at the first injection, so an agent that never injects never maps
 * them. HVAGENT_INJECT_MODULE overrides the installed path (tests use the build tree's). */
#define INJECTOR_MODULE_ENV "HVAGENT_INJECT_MODULE"

struct injector_opts {
	unsigned timeout_s;      /* [guest] injection_timeout */
	bool force_tcg;          /* no usable KVM here */
	const char *image_store; /* qcow2 backing files must resolve inside it */
	unsigned window_ms;      /* how long a batch waits for spawns arriving with it */
	injector_batch_fn batch; /* NULL: guest_inject_batch of the module, loaded when first
				  * needed (tests pass their own) */
};

/* -ENOTSUP when the agent was built without libguestfs; -ENOENT (naming the path) when the
 * module is not installed. */
int injector_new(const struct injector_opts *o, struct injector **ret, struct hv_error *err);
void injector_free(struct injector *ij);

/* Injects key and/or password into disk (format recorded by the driver), blocking until
 * the batch that took it is done. project may be NULL. Thread-safe; called from workers.
 * Returns 0 or -errno with err naming what failed (never the secret). */
int injector_run(struct injector *ij, const char *project, const char *disk, const char *format,
		 const char *ssh_key, const char *password, struct hv_error *err);

#endif
