/* conn.h - one libvirt connection per host handle: the process-wide libvirt event thread,
 * lifecycle events (STOPPED debounced so a reboot reads as RESTARTED), and reconnection with
 * backoff after libvirtd goes away (HOST_DOWN ... HOST_UP). Internal to the libvirt driver.
 * Never logs and never calls the event callback with a lock held. */
#ifndef HV_LIBVIRT_CONN_H
#define HV_LIBVIRT_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include <hvagent/driver.h>

struct conn;

/* Connects to uri now (fails with -ENOTCONN when libvirtd cannot be reached). */
int conn_new(const char *uri, uint32_t debounce_ms, struct conn **ret, struct hv_error *err);
/* Stops the reconnect thread, deregisters callbacks, closes (NULL-safe). */
void conn_free(struct conn *c);

void conn_set_event_callback(struct conn *c, hvd_event_fn fn, void *ctx);

/* A referenced connection for one operation (release with virConnectClose), or NULL and
 * -ENOTCONN in err while the host is disconnected. */
virConnectPtr conn_get(struct conn *c, struct hv_error *err);

/* Around a restart the driver makes itself (reboot: a shutdown or destroy, then a start):
 * a STOPPED of uuid in between is held however long the start takes, and after
 * conn_release waits one more debounce for its STARTED, so a reboot on a slow host still
 * reads as one RESTARTED. A failed start leaves the STOPPED to be sent. */
void conn_hold(struct conn *c, const char *uuid);
void conn_release(struct conn *c, const char *uuid);

/* Turns the calling thread's last libvirt error into -errno + err; a lost connection
 * (RPC/system errors, dead socket) starts a reconnect and gives -ENOTCONN. */
int conn_error(struct conn *c, virConnectPtr vc, struct hv_error *err, const char *field,
	       const char *what);

/* Silences libvirt's default stderr error printer and starts the event thread (once). */
int conn_global_init(struct hv_error *err);

#endif
