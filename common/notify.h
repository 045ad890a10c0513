/* notify.h - the daemons' word to their service manager (sd_notify): READY=1 once they
 * serve, STATUS= lines an operator sees in `systemctl status`, and WATCHDOG=1 from the main
 * loop so that a loop that stops turning gets the daemon restarted. A thin edge: without
 * libsystemd (HAVE_SYSTEMD 0) or outside a notify service (no NOTIFY_SOCKET) every call is
 * a no-op. Only the loop thread calls these. Never put a secret in a status line.
 *
 * The fault point loop_stall (common/fault.h) fires when a watchdog ping is due, counted per
 * ping (loop_stall@3: two pings go out, the third never does); the loop then sleeps until a
 * signal arrives, as a loop stuck in a call would, so a test sees the pings stop. */
#ifndef HV_NOTIFY_H
#define HV_NOTIFY_H

#include <stdint.h>

/* Reads WATCHDOG_USEC (sd_watchdog_enabled); call once at start, before the loop. */
void hv_notify_init(void);
/* Microseconds between the manager's deadlines, 0 when no watchdog is asked for. */
uint64_t hv_notify_watchdog_usec(void);
/* READY=1 with a STATUS= line (printf format). Sent once; later calls send the status only. */
void hv_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STATUS= (printf format); sent only when it differs from the last one sent. */
void hv_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 before a configuration reload; hv_notify_reloaded() says READY=1 after it. */
void hv_notify_reloading(void);
void hv_notify_reloaded(void);
/* Once per loop turn: sends WATCHDOG=1 (with the current STATUS=, so a status a full
 * socket dropped is told again) when half the interval has passed since the last ping.
 * Returns the milliseconds until the next ping is due (the loop's poll must not sleep
 * longer), or -1 without a watchdog. */
int64_t hv_notify_watchdog(void);

#endif
