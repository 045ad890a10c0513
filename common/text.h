/* text.h - a growable NUL-terminated text written with printf formats: the one way the
 * tree builds text of unknown length (nft listings, /metrics pages). Header-only, so a
 * library-like module uses it without linking common/. An append that cannot allocate
 * sets oom and every later append is a no-op: check oom once, at the end. */
#ifndef HV_TEXT_H
#define HV_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

struct hv_text {
	char *buf; /* NULL until the first append; caller frees (hv_text_release) */
	size_t len, cap;
	bool oom;
};

static inline void
hv_text_vprintf(struct hv_text *t, const char *fmt, va_list ap)
{
	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_list again;
		int n;

		va_copy(again, ap);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, again);
		va_end(again);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (HV_GROW(t->buf, t->cap, t->len + (size_t)n + 1) < 0) {
			t->oom = true;
			return;
		}
	}
}

static inline void __attribute__((format(printf, 2, 3)))
hv_text_printf(struct hv_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hv_text_vprintf(t, fmt, ap);
	va_end(ap);
}

/* Appends the n bytes at s as they are: what printf("%s") would write, without parsing a
 * format (the JSON writers put their brackets and commas this way). */
static inline void
hv_text_append(struct hv_text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (HV_GROW(t->buf, t->cap, t->len + n + 1) < 0) {
		t->oom = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* Frees the text and empties t. */
static inline void
hv_text_release(struct hv_text *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
	t->oom = false;
}

#endif
