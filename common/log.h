/* log.h - the one logging path of every hvagent binary: one line per event on stderr,
 * prefixed with the syslog priority ("<3>") so journald files it at the right level.
 * Fields are key=value after the message; instance and command ids go in their own fields
 * so `journalctl | grep instance=<uuid>` finds an instance's whole story.
 * Never pass a secret to these functions. */
#ifndef HV_LOG_H
#define HV_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum hv_log_level {
	HV_LOG_ERR = 3,
	HV_LOG_WARNING = 4,
	HV_LOG_NOTICE = 5,
	HV_LOG_INFO = 6,
	HV_LOG_DEBUG = 7,
};

/* "error", "warning", "notice", "info", "debug" -> level; -EINVAL when unknown. */
int hv_log_level_parse(const char *name);
const char *hv_log_level_name(enum hv_log_level level);
void hv_log_set_level(enum hv_log_level level);
enum hv_log_level hv_log_get_level(void);
/* Program name shown when stderr is not journald-aware ("hvagent"). */
void hv_log_set_ident(const char *ident);
bool hv_log_enabled(enum hv_log_level level);

/* instance and cmd may be NULL. Thread-safe: one write(2) per line. */
void hv_log(enum hv_log_level level, const char *instance, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A rate limit for lines a peer can provoke (refusals, drops): at most `burst` lines per
 * `window_ms`; the ones held back are counted and reported with the next line let through.
 * Zero-initialize, then set burst and window_ms. Not thread-safe: one per loop. */
struct hv_ratelimit {
	unsigned burst;
	int64_t window_ms;
	int64_t window_start;
	unsigned n, held_back;
};
/* Whether a line may be written at now_ms; when it may, *ret_held_back is how many were
 * held back since the last line written (and is reset). */
bool hv_ratelimit_ok(struct hv_ratelimit *rl, int64_t now_ms, unsigned *ret_held_back);

#define log_error(...) hv_log(HV_LOG_ERR, NULL, NULL, __VA_ARGS__)
#define log_warning(...) hv_log(HV_LOG_WARNING, NULL, NULL, __VA_ARGS__)
#define log_notice(...) hv_log(HV_LOG_NOTICE, NULL, NULL, __VA_ARGS__)
#define log_info(...) hv_log(HV_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(...) hv_log(HV_LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif
