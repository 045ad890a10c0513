/* hvagent/error.h - the one error type shared by the agent, its modules and its driver
 * plugins. Header-only so a driver needs no agent symbol to fill it.
 *
 * Convention: a fallible function returns int (>= 0 success, -errno failure) and, when it
 * fails, fills a caller-provided struct hv_error with a message naming the object and the
 * field at fault. It never logs; the caller logs once where the error surfaces. A message
 * must never contain a secret (password, private key). */
#ifndef HVAGENT_ERROR_H
#define HVAGENT_ERROR_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct hv_error {
	int code;          /* negative errno, 0 when no error was set */
	char field[64];    /* request field at fault ("flavor.vcpus"), "" when none */
	char message[448]; /* one line, human readable */
};

/* Sets err (when non-NULL) and returns code, so callers can write
 * `return hv_error_set(err, -EINVAL, "vcpus", "must be 1-%d", max);` */
static inline int
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	hv_error_set(struct hv_error *err, int code, const char *field, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		snprintf(err->field, sizeof err->field, "%s", field ? field : "");
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

static inline void
hv_error_clear(struct hv_error *err)
{
	if (err) {
		err->code = 0;
		err->field[0] = '\0';
		err->message[0] = '\0';
	}
}

#endif
