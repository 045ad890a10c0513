/* notify.c - sd_notify for the daemons (see notify.h). Must never block the loop nor fail a
 * daemon: a manager that does not listen loses the message, nothing more. */
#include "notify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "hv-features.h"

#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define STATUS_MAX 256

static uint64_t watchdog_usec;
static int64_t next_ping_ms;
static bool ready_sent;
static char last_status[STATUS_MAX];

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
send_state(const char *state)
{
#if HAVE_SYSTEMD
	/* unset_environment 0: a reload or a child must still find the manager */
	sd_notify(0, state);
#else
	(void)state;
#endif
}

void
hv_notify_init(void)
{
	watchdog_usec = 0;
#if HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_usec = usec;
#endif
	next_ping_ms = mono_ms();
	ready_sent = false;
	last_status[0] = '\0';
}

uint64_t
hv_notify_watchdog_usec(void)
{
	return watchdog_usec;
}

/* Formats STATUS=...; false when it is the status already sent. Newlines would start a
 * new assignment in the datagram: they become spaces. */
static bool
format_status(char out[STATUS_MAX + 8], const char *fmt, va_list ap)
{
	char text[STATUS_MAX];

	vsnprintf(text, sizeof text, fmt, ap);
	for (char *c = text; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (strcmp(text, last_status) == 0)
		return false;
	memcpy(last_status, text, sizeof text);
	snprintf(out, STATUS_MAX + 8, "STATUS=%s", text);
	return true;
}

void
hv_notify_ready(const char *fmt, ...)
{
	char status[STATUS_MAX + 8], msg[STATUS_MAX + 24];
	va_list ap;
	bool changed;

	va_start(ap, fmt);
	changed = format_status(status, fmt, ap);
	va_end(ap);
	if (ready_sent) {
		if (changed)
			send_state(status);
		return;
	}
	ready_sent = true;
	snprintf(msg, sizeof msg, "READY=1\n%s", changed ? status : "");
	send_state(msg);
}

void
hv_notify_status(const char *fmt, ...)
{
	char status[STATUS_MAX + 8];
	va_list ap;
	bool changed;

	va_start(ap, fmt);
	changed = format_status(status, fmt, ap);
	va_end(ap);
	if (changed)
		send_state(status);
}

void
hv_notify_reloading(void)
{
	send_state("RELOADING=1");
}

void
hv_notify_reloaded(void)
{
	send_state("READY=1");
}

int64_t
hv_notify_watchdog(void)
{
	int64_t now = mono_ms(), half = (int64_t)(watchdog_usec / 2000);

	if (!watchdog_usec)
		return -1;
	if (half < 1)
		half = 1;
	if (now >= next_ping_ms) {
		if (hv_fault_hit("loop_stall"))
			pause();
		send_state("WATCHDOG=1");
		now = mono_ms();
		next_ping_ms = now + half;
	}
	return next_ping_ms - now;
}
