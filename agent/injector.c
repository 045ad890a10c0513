/* injector.c - batches offline injections from concurrent spawns (see inject.h). The first
 * waiting spawn leads: it waits window_ms for others, takes every waiting job of its own
 * project and runs them in one guest_inject_batch(); the rest wait for the leader of their
 * own batch. Must never batch two projects, nor hold the lock while an appliance runs. */
#include "injector.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if AGENT_WITH_INJECT
#include "inject.h" /* guest/: guest_inject_batch */
#endif

#define INJECT_BATCH_MAX 16

#if AGENT_WITH_INJECT

struct waiter {
	struct waiter *next;
	const char *project; /* "" = alone */
	struct guest_job job;
	struct guest_result res;
	bool taken, done;
};

struct injector {
	struct injector_opts o;
	char image_store[4096];
	char module[4096];
	void *handle; /* the module, once loaded; kept until injector_free */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct waiter *head;
	bool running;
};

int
injector_new(const struct injector_opts *o, struct injector **ret, struct hv_error *err)
{
	struct injector *ij = calloc(1, sizeof *ij);

	*ret = NULL;
	if (!ij)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	ij->o = *o;
	if (o->image_store) {
		snprintf(ij->image_store, sizeof ij->image_store, "%s", o->image_store);
		ij->o.image_store = ij->image_store;
	}
	if (!o->batch) {
		const char *m = getenv(INJECTOR_MODULE_ENV);

		snprintf(ij->module, sizeof ij->module, "%s", m && *m ? m : HV_INJECT_MODULE);
		/* found missing at start, not at the first spawn that asks for an injection */
		if (access(ij->module, R_OK) < 0) {
			int e = errno;

			free(ij);
			return hv_error_set(err, -e, "guest",
					    "[guest] inject_key/inject_password: the injection "
					    "module %s: %s",
					    m && *m ? m : HV_INJECT_MODULE, strerror(e));
		}
	}
	pthread_mutex_init(&ij->mu, NULL);
	pthread_cond_init(&ij->cv, NULL);
	*ret = ij;
	return 0;
}

/* The batch function, loading the module the first time. Called by the leader alone (one
 * batch runs at a time), so no lock of its own. NULL with why in msg when it cannot load. */
static injector_batch_fn
batch_fn(struct injector *ij, char *msg, size_t len)
{
	injector_batch_fn fn;

	if (ij->o.batch)
		return ij->o.batch;
	/* NODELETE: libguestfs and the libraries it pulls in keep what their constructors
	 * allocated for the life of the process; unmapping them would orphan it */
	if (!ij->handle &&
	    !(ij->handle = dlopen(ij->module, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))) {
		snprintf(msg, len, "cannot load the injection module: %s", dlerror());
		return NULL;
	}
	*(void **)&fn = dlsym(ij->handle, "guest_inject_batch");
	if (!fn)
		snprintf(msg, len, "%.300s has no guest_inject_batch", ij->module);
	return fn;
}

void
injector_free(struct injector *ij)
{
	if (!ij)
		return;
	if (ij->handle)
		dlclose(ij->handle);
	pthread_mutex_destroy(&ij->mu);
	pthread_cond_destroy(&ij->cv);
	free(ij);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Leads one batch: me and the waiting jobs of my project. Called and returns with mu held. */
static void
lead(struct injector *ij, struct waiter *me)
{
	struct waiter *batch[INJECT_BATCH_MAX], **pp;
	struct guest_job jobs[INJECT_BATCH_MAX];
	struct guest_result res[INJECT_BATCH_MAX];
	struct guest_inject_opts go = {
		.timeout_s = ij->o.timeout_s,
		.force_tcg = ij->o.force_tcg,
		.image_store = ij->o.image_store,
	};
	size_t n = 0;

	ij->running = true;
	if (me->project[0] && ij->o.window_ms) {
		pthread_mutex_unlock(&ij->mu);
		sleep_ms(ij->o.window_ms); /* spawns finishing their define right now join */
		pthread_mutex_lock(&ij->mu);
	}
	for (pp = &ij->head; *pp && n < INJECT_BATCH_MAX;) {
		struct waiter *w = *pp;

		if (w == me || (me->project[0] && strcmp(w->project, me->project) == 0)) {
			*pp = w->next;
			w->taken = true;
			batch[n] = w;
			jobs[n] = w->job;
			n++;
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&ij->mu);
	memset(res, 0, sizeof res);
	char why[sizeof res[0].err.message] = "";
	injector_batch_fn fn = batch_fn(ij, why, sizeof why);
	if (fn) {
		fn(jobs, n, &go, res);
	} else {
		for (size_t i = 0; i < n; i++) {
			res[i].code = -ELIBACC;
			snprintf(res[i].err.message, sizeof res[i].err.message, "%s", why);
		}
	}
	pthread_mutex_lock(&ij->mu);
	for (size_t i = 0; i < n; i++) {
		batch[i]->res = res[i];
		batch[i]->done = true;
	}
	explicit_bzero(res, sizeof res);
	ij->running = false;
	pthread_cond_broadcast(&ij->cv);
}

int
injector_run(struct injector *ij, const char *project, const char *disk, const char *format,
	     const char *ssh_key, const char *password, struct hv_error *err)
{
	struct waiter me = {
		.project = project ? project : "",
		.job = {.disk_path = disk,
			.format = format,
			.partition = GUEST_PARTITION_AUTO,
			.ssh_key = ssh_key,
			.password = password},
	};
	struct waiter **pp;
	int r;

	pthread_mutex_lock(&ij->mu);
	for (pp = &ij->head; *pp; pp = &(*pp)->next)
		;
	*pp = &me;
	while (!me.done) {
		if (!ij->running && !me.taken)
			lead(ij, &me);
		else
			pthread_cond_wait(&ij->cv, &ij->mu);
	}
	pthread_mutex_unlock(&ij->mu);
	r = me.res.code;
	if (r < 0)
		hv_error_set(err, r, "injection", "injection failed: %s",
			     me.res.err.message[0] ? me.res.err.message : strerror(-r));
	explicit_bzero(&me.res, sizeof me.res);
	return r;
}

#else /* !AGENT_WITH_INJECT */

int
injector_new(const struct injector_opts *o, struct injector **ret, struct hv_error *err)
{
	(void)o;
	*ret = NULL;
	return hv_error_set(
		err, -ENOTSUP, "guest",
		"[guest] inject_key/inject_password: this hvagent was built without libguestfs");
}

void
injector_free(struct injector *ij)
{
	(void)ij;
}

int
injector_run(struct injector *ij, const char *project, const char *disk, const char *format,
	     const char *ssh_key, const char *password, struct hv_error *err)
{
	(void)ij;
	(void)project;
	(void)disk;
	(void)format;
	(void)ssh_key;
	(void)password;
	return hv_error_set(err, -ENOTSUP, "guest", "built without libguestfs");
}

#endif
