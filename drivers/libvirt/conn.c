/* conn.c - the libvirt connection of one host: events, debounce, reconnect.
 *
 * Threads: libvirt's default event loop runs on one process-wide thread started once; every
 * callback below (lifecycle, close, debounce timer) runs there. Each host has a reconnect
 * thread that sleeps until the connection is lost. Operations take a reference on the
 * current connection under the lock and use it without the lock. The agent's callback is
 * always called with no lock held. */
#include "conn.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#define MAX_PENDING 1024
#define MAX_HELD 64
#define TIMER_MS 100

struct pending_stop {
	char uuid[VIR_UUID_STRING_BUFLEN];
	uint64_t due_ms;
};

struct conn {
	int refs; /* the owner, plus one per callback libvirt may still call */
	char *uri;
	uint32_t debounce_ms;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	virConnectPtr vc; /* NULL while disconnected */
	int lifecycle_id; /* -1 when not registered */
	bool lost;        /* the reconnect thread has work */
	bool closing;
	int timer_id;
	hvd_event_fn fn;
	void *ctx;
	struct pending_stop pending[MAX_PENDING];
	size_t n_pending;
	/* domains the driver itself is restarting: their STOPPED waits for conn_release */
	char held[MAX_HELD][VIR_UUID_STRING_BUFLEN];
	size_t n_held;
	pthread_t thread;
};

static void
conn_ref(struct conn *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
}

/* Also libvirt's free callback: the struct outlives every callback registered with it. */
static void
conn_unref(void *opaque)
{
	struct conn *c = opaque;

	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->uri);
	free(c);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
silent_error(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

static void *
event_thread(void *arg)
{
	(void)arg;
	for (;;)
		virEventRunDefaultImpl();
	return NULL;
}

static int global_rc;

static void
global_once(void)
{
	pthread_t t;
	Dl_info info;

	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		global_rc = -EIO;
		return;
	}
	virSetErrorFunc(NULL, silent_error);
	/* The event thread lives as long as the process, so this object must never be unloaded
	 * under it. */
	if (dladdr((void *)global_once, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
	if (pthread_create(&t, NULL, event_thread, NULL) != 0) {
		global_rc = -EAGAIN;
		return;
	}
	pthread_detach(t);
}

int
conn_global_init(struct hv_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, global_once);
	if (global_rc < 0)
		return hv_error_set(err, global_rc, "uri", "cannot start the libvirt event loop");
	return 0;
}

static void
emit(struct conn *c, const char *uuid, enum hvd_event_type ev, enum hvd_power_state ps)
{
	hvd_event_fn fn;
	void *ctx;

	pthread_mutex_lock(&c->lock);
	fn = c->fn;
	ctx = c->ctx;
	pthread_mutex_unlock(&c->lock);
	if (fn)
		fn(ctx, uuid, ev, ps);
}

/* Removes a pending STOPPED for uuid; true when there was one. */
static bool
take_pending(struct conn *c, const char *uuid)
{
	for (size_t i = 0; i < c->n_pending; i++) {
		if (strcmp(c->pending[i].uuid, uuid) == 0) {
			c->pending[i] = c->pending[--c->n_pending];
			return true;
		}
	}
	return false;
}

static bool
is_held(const struct conn *c, const char *uuid)
{
	for (size_t i = 0; i < c->n_held; i++)
		if (strcmp(c->held[i], uuid) == 0)
			return true;
	return false;
}

void
conn_hold(struct conn *c, const char *uuid)
{
	pthread_mutex_lock(&c->lock);
	if (c->n_held < MAX_HELD && !is_held(c, uuid))
		snprintf(c->held[c->n_held++], VIR_UUID_STRING_BUFLEN, "%s", uuid);
	pthread_mutex_unlock(&c->lock);
}

void
conn_release(struct conn *c, const char *uuid)
{
	uint64_t due = now_ms() + c->debounce_ms;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_held; i++)
		if (strcmp(c->held[i], uuid) == 0) {
			memcpy(c->held[i], c->held[--c->n_held], VIR_UUID_STRING_BUFLEN);
			break;
		}
	/* the STARTED of the restart that just returned is still on its way */
	for (size_t i = 0; i < c->n_pending; i++)
		if (strcmp(c->pending[i].uuid, uuid) == 0 && c->pending[i].due_ms < due)
			c->pending[i].due_ms = due;
	pthread_mutex_unlock(&c->lock);
}

static void
debounce_timer(int timer, void *opaque)
{
	struct conn *c = opaque;
	char due[MAX_PENDING][VIR_UUID_STRING_BUFLEN];
	size_t n_due = 0;
	uint64_t now = now_ms();

	(void)timer;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_pending;) {
		if (c->pending[i].due_ms <= now && !is_held(c, c->pending[i].uuid)) {
			memcpy(due[n_due++], c->pending[i].uuid, VIR_UUID_STRING_BUFLEN);
			c->pending[i] = c->pending[--c->n_pending];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n_due; i++)
		emit(c, due[i], HVD_EVENT_STOPPED, HVD_POWER_SHUTDOWN);
}

static int
lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct conn *c = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];
	bool restarted = false;

	(void)vc;
	if (virDomainGetUUIDString(dom, uuid) < 0)
		return 0;
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		pthread_mutex_lock(&c->lock);
		restarted = take_pending(c, uuid);
		pthread_mutex_unlock(&c->lock);
		emit(c, uuid, restarted ? HVD_EVENT_RESTARTED : HVD_EVENT_STARTED,
		     HVD_POWER_RUNNING);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (detail == VIR_DOMAIN_EVENT_STOPPED_SAVED) {
			emit(c, uuid, HVD_EVENT_SUSPENDED, HVD_POWER_SUSPENDED);
		} else if (detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED) {
			emit(c, uuid, HVD_EVENT_CRASHED, HVD_POWER_CRASHED);
		} else {
			/* Held back: a STARTED soon after makes the pair one RESTARTED. */
			bool queued = false;
			pthread_mutex_lock(&c->lock);
			take_pending(c, uuid);
			if (c->n_pending < MAX_PENDING) {
				memcpy(c->pending[c->n_pending].uuid, uuid, sizeof uuid);
				c->pending[c->n_pending].due_ms = now_ms() + c->debounce_ms;
				c->n_pending++;
				queued = true;
			}
			pthread_mutex_unlock(&c->lock);
			if (!queued)
				emit(c, uuid, HVD_EVENT_STOPPED, HVD_POWER_SHUTDOWN);
		}
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED: emit(c, uuid, HVD_EVENT_PAUSED, HVD_POWER_PAUSED); break;
	case VIR_DOMAIN_EVENT_RESUMED: emit(c, uuid, HVD_EVENT_RESUMED, HVD_POWER_RUNNING); break;
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		emit(c, uuid, HVD_EVENT_SUSPENDED, HVD_POWER_SUSPENDED);
		break;
	case VIR_DOMAIN_EVENT_CRASHED: emit(c, uuid, HVD_EVENT_CRASHED, HVD_POWER_CRASHED); break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		pthread_mutex_lock(&c->lock);
		take_pending(c, uuid);
		pthread_mutex_unlock(&c->lock);
		emit(c, uuid, HVD_EVENT_DELETED, HVD_POWER_NOSTATE);
		break;
	default: break;
	}
	return 0;
}

static void
mark_lost(struct conn *c, virConnectPtr vc)
{
	bool was_up;

	pthread_mutex_lock(&c->lock);
	was_up = c->vc == vc && !c->lost && !c->closing;
	if (was_up) {
		c->lost = true;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	if (was_up)
		emit(c, NULL, HVD_EVENT_HOST_DOWN, HVD_POWER_NOSTATE);
}

static void
close_cb(virConnectPtr vc, int reason, void *opaque)
{
	(void)reason;
	mark_lost(opaque, vc);
}

/* Opens uri and registers the callbacks; on success the new connection is current. */
static int
attach(struct conn *c, struct hv_error *err)
{
	virConnectPtr vc = virConnectOpen(c->uri);
	int id;

	if (!vc) {
		virErrorPtr e = virGetLastError();
		return hv_error_set(err, -ENOTCONN, "uri", "cannot connect to %s: %s", c->uri,
				    e && e->message ? e->message : "unknown error");
	}
	/* Remote connections notice a dead peer through keepalive; local ones ignore it. */
	virConnectSetKeepAlive(vc, 2, 3);
	conn_ref(c);
	id = virConnectDomainEventRegisterAny(vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					      VIR_DOMAIN_EVENT_CALLBACK(lifecycle), c, conn_unref);
	if (id < 0) {
		conn_unref(c);
		virConnectClose(vc);
		return hv_error_set(err, -ENOTCONN, "uri", "cannot register lifecycle events on %s",
				    c->uri);
	}
	/* No reference for this one: libvirt calls it under a lock that unregistering takes,
	 * and local drivers accept it without ever calling (or freeing) it. */
	virConnectRegisterCloseCallback(vc, close_cb, c, NULL);
	pthread_mutex_lock(&c->lock);
	c->vc = vc;
	c->lifecycle_id = id;
	c->lost = false;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void
detach(struct conn *c)
{
	virConnectPtr vc;
	int id;

	pthread_mutex_lock(&c->lock);
	vc = c->vc;
	id = c->lifecycle_id;
	c->vc = NULL;
	c->lifecycle_id = -1;
	pthread_mutex_unlock(&c->lock);
	if (!vc)
		return;
	if (id >= 0)
		virConnectDomainEventDeregisterAny(vc, id);
	virConnectUnregisterCloseCallback(vc, close_cb);
	virConnectClose(vc);
}

static void *
reconnect_thread(void *arg)
{
	struct conn *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->closing) {
		uint32_t backoff_ms = 100;

		while (!c->lost && !c->closing)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->closing)
			break;
		pthread_mutex_unlock(&c->lock);
		detach(c);
		pthread_mutex_lock(&c->lock);
		while (!c->closing) {
			struct timespec ts;
			int r;

			pthread_mutex_unlock(&c->lock);
			r = attach(c, NULL);
			pthread_mutex_lock(&c->lock);
			if (r == 0) {
				pthread_mutex_unlock(&c->lock);
				emit(c, NULL, HVD_EVENT_HOST_UP, HVD_POWER_NOSTATE);
				pthread_mutex_lock(&c->lock);
				break;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += backoff_ms / 1000;
			ts.tv_nsec += (long)(backoff_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
conn_new(const char *uri, uint32_t debounce_ms, struct conn **ret, struct hv_error *err)
{
	struct conn *c;
	int r;

	if ((r = conn_global_init(err)) < 0)
		return r;
	c = calloc(1, sizeof *c);
	if (!c || !(c->uri = strdup(uri))) {
		free(c);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	c->refs = 1;
	c->debounce_ms = debounce_ms;
	c->lifecycle_id = -1;
	c->timer_id = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if ((r = attach(c, err)) < 0)
		goto fail;
	conn_ref(c);
	c->timer_id = virEventAddTimeout(TIMER_MS, debounce_timer, c, conn_unref);
	if (c->timer_id < 0)
		conn_unref(c);
	if (pthread_create(&c->thread, NULL, reconnect_thread, c) != 0) {
		r = hv_error_set(err, -EAGAIN, "", "cannot start the reconnect thread");
		detach(c);
		if (c->timer_id >= 0)
			virEventRemoveTimeout(c->timer_id);
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	conn_unref(c);
	return r;
}

void
conn_free(struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = true;
	c->fn = NULL;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	detach(c);
	if (c->timer_id >= 0)
		virEventRemoveTimeout(c->timer_id);
	/* libvirt releases the callbacks from its event thread; give it a moment so close()
	 * usually frees everything before returning. A callback never released (a dead remote
	 * connection) only keeps this struct alive. */
	for (int i = 0; i < 200 && __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE) > 1; i++) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	conn_unref(c);
}

void
conn_set_event_callback(struct conn *c, hvd_event_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->fn = fn;
	c->ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

virConnectPtr
conn_get(struct conn *c, struct hv_error *err)
{
	virConnectPtr vc;

	pthread_mutex_lock(&c->lock);
	vc = c->lost ? NULL : c->vc;
	if (vc)
		virConnectRef(vc);
	pthread_mutex_unlock(&c->lock);
	if (!vc)
		hv_error_set(err, -ENOTCONN, "uri", "the connection to %s is lost; reconnecting",
			     c->uri);
	return vc;
}

int
conn_error(struct conn *c, virConnectPtr vc, struct hv_error *err, const char *field,
	   const char *what)
{
	virErrorPtr e = virGetLastError();
	int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
	int from = e ? e->domain : 0;
	char msg[384];
	int r;

	/* Copied now: any further libvirt call (virConnectIsAlive) resets the last error. */
	snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unknown libvirt error");

	switch (code) {
	case VIR_ERR_NO_DOMAIN: r = -ENOENT; break;
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_OPERATION_FAILED:
	case VIR_ERR_AGENT_UNRESPONSIVE: r = -EBUSY; break;
	case VIR_ERR_OPERATION_TIMEOUT: r = -ETIMEDOUT; break;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_ARGUMENT_UNSUPPORTED: r = -EOPNOTSUPP; break;
	case VIR_ERR_DOM_EXIST: r = -EEXIST; break;
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_CONFIG_UNSUPPORTED:
	case VIR_ERR_INVALID_ARG: r = -EINVAL; break;
	default: r = -EIO; break;
	}
	/* libvirtd going away surfaces as RPC or system errors, not always as a close event. */
	if (code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_RPC || code == VIR_ERR_NO_CONNECT ||
	    code == VIR_ERR_INVALID_CONN || from == VIR_FROM_RPC ||
	    (vc && virConnectIsAlive(vc) == 0)) {
		if (vc && virConnectIsAlive(vc) != 1) {
			mark_lost(c, vc);
			r = -ENOTCONN;
		}
	}
	return hv_error_set(err, r, field, "%s: %s", what, msg);
}
