/* json.c - typed, path-reporting accessors over jansson. Pure: no I/O, no logging, never
 * modifies the tree it reads (except hj_wipe_string, which exists to do exactly that). */
#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "kv.h"
#include "text.h"
#include "vec.h"

const char *
hj_path(char *buf, size_t size, const char *where, const char *key, size_t index)
{
	if (key)
		snprintf(buf, size, "%s%s%s", where ? where : "", where && *where ? "." : "", key);
	else
		snprintf(buf, size, "%s[%zu]", where ? where : "", index);
	return buf;
}

__attribute__((format(printf, 4, 5))) static int
fail(struct hv_error *err, const char *where, const char *key, const char *fmt, ...)
{
	char path[256], problem[320];
	va_list ap;

	if (key)
		hj_path(path, sizeof path, where, key, 0);
	else
		snprintf(path, sizeof path, "%s", where ? where : "");
	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	return hv_error_set(err, -EINVAL, path, "%s: %s", path, problem);
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* Looks key up; returns 1 with *ret set, 0 when absent and optional, -EINVAL otherwise. */
static int
lookup(const json_t *obj, const char *where, const char *key, int flags, json_t **ret,
       struct hv_error *err)
{
	json_t *v = NULL;

	if (!json_is_object(obj))
		return fail(err, where, NULL, "expected object");
	v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (flags & HJ_OPTIONAL)
			return 0;
		return fail(err, where, key, "required field missing");
	}
	*ret = v;
	return 1;
}

static int
wrong_type(struct hv_error *err, const char *where, const char *key, const char *expected,
	   const json_t *v)
{
	char what[96];

	snprintf(what, sizeof what, "expected %s, got %s", expected, type_name(v));
	return fail(err, where, key, "%s", what);
}

#if JANSSON_VERSION_HEX >= 0x020e00
/* A direct parser for the common case: well-formed ASCII JSON whose numbers are integers of
 * at most 18 digits and whose strings use no \u escape. It builds the tree json_loadb would
 * (same types, same key order) in a fraction of the time; on anything else (an error, a
 * duplicate key, non-ASCII text whose UTF-8 jansson checks, reals, \u, very deep nesting)
 * it gives up and jansson parses the whole text, so errors and edge cases are jansson's.
 * A byte that is not UTF-8 stops it with the path of the string it is in, which jansson
 * cannot say ("args.name: not valid UTF-8" rather than a column). */
struct pstate {
	const char *p, *end;
	/* the keys and indexes from the root to the value being read */
	struct {
		const char *key; /* NULL: an array element */
		size_t len, index;
	} path[66];
	char bad[160]; /* the path of a string that is not valid UTF-8 ("" when none) */
	bool bad_key;  /* ... where it is a key of the object at that path */
};

/* Length of the UTF-8 sequence at p as RFC 3629 and jansson allow it (no overlong form, no
 * surrogate, at most U+10FFFF), 0 when it is not one. */
static size_t
putf8(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], v;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	return n;
}

/* Records the path (depth steps) of the string that is not UTF-8, control bytes as '?'. */
static void
pbad(struct pstate *s, int depth, bool key)
{
	size_t n = 0, size = sizeof s->bad;

	for (int i = 0; i < depth && n + 24 < size; i++) {
		if (!s->path[i].key) {
			n += (size_t)snprintf(s->bad + n, size - n, "[%zu]", s->path[i].index);
			continue;
		}
		if (n)
			s->bad[n++] = '.';
		for (size_t j = 0; j < s->path[i].len && n + 2 < size; j++) {
			unsigned char c = (unsigned char)s->path[i].key[j];
			s->bad[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	s->bad[n < size ? n : size - 1] = '\0';
	s->bad_key = key;
}

static void
pws(struct pstate *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* The string at s->p (its opening quote), a value at depth or a key of the object there:
 * *out and *len, in the text or in *heap when it had escapes. -1 to give up (with s->bad
 * set when it is not UTF-8). */
static int
pstr(struct pstate *s, int depth, bool key, const char **out, size_t *len, char **heap)
{
	const char *q = s->p + 1, *r;
	bool esc = false;
	char *b, *o;

	*heap = NULL;
	for (; q < s->end && *q != '"'; q++) {
		unsigned char c = (unsigned char)*q;

		if (c >= 0x80 && !putf8((const unsigned char *)q, (const unsigned char *)s->end))
			pbad(s, depth, key);
		if (c < 0x20 || c >= 0x80)
			return -1;
		if (c == '\\') {
			esc = true;
			q++;
			if (q >= s->end)
				return -1;
		}
	}
	if (q >= s->end)
		return -1;
	if (!esc) {
		*out = s->p + 1;
		*len = (size_t)(q - s->p - 1);
		s->p = q + 1;
		return 0;
	}
	if (!(b = malloc((size_t)(q - s->p))))
		return -1;
	for (r = s->p + 1, o = b; r < q; r++) {
		if (*r != '\\') {
			*o++ = *r;
			continue;
		}
		switch (*++r) {
		case '"':
		case '\\':
		case '/': *o++ = *r; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		default: /* \u and anything else: jansson */ free(b); return -1;
		}
	}
	*out = *heap = b;
	*len = (size_t)(o - b);
	s->p = q + 1;
	return 0;
}

static bool
plit(struct pstate *s, const char *word, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static json_t *
pvalue(struct pstate *s, int depth)
{
	const char *str, *q;
	size_t len, i;
	char *heap;
	json_t *v, *x;
	unsigned long long u = 0;
	bool neg;

	if (s->p >= s->end || depth > 64)
		return NULL;
	switch (*s->p) {
	case '{':
		s->p++;
		v = json_object();
		pws(s);
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return v;
		}
		for (;;) {
			if (s->p >= s->end || *s->p != '"' ||
			    pstr(s, depth, true, &str, &len, &heap) < 0)
				break;
			pws(s);
			if (json_object_getn(v, str, len) || s->p >= s->end || *s->p != ':') {
				free(heap);
				break;
			}
			s->p++;
			pws(s);
			s->path[depth].key = str;
			s->path[depth].len = len;
			x = pvalue(s, depth + 1);
			if (!x || json_object_setn_new_nocheck(v, str, len, x) < 0) {
				free(heap);
				break;
			}
			free(heap);
			pws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				pws(s);
				continue;
			}
			if (s->p < s->end && *s->p == '}') {
				s->p++;
				return v;
			}
			break;
		}
		json_decref(v);
		return NULL;
	case '[':
		s->p++;
		v = json_array();
		pws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return v;
		}
		for (;;) {
			s->path[depth].key = NULL;
			s->path[depth].index = json_array_size(v);
			x = pvalue(s, depth + 1);
			if (!x || json_array_append_new(v, x) < 0)
				break;
			pws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				pws(s);
				continue;
			}
			if (s->p < s->end && *s->p == ']') {
				s->p++;
				return v;
			}
			break;
		}
		json_decref(v);
		return NULL;
	case '"':
		if (pstr(s, depth, false, &str, &len, &heap) < 0)
			return NULL;
		v = json_stringn_nocheck(str, len);
		free(heap);
		return v;
	case 't': return plit(s, "true", 4) ? json_true() : NULL;
	case 'f': return plit(s, "false", 5) ? json_false() : NULL;
	case 'n': return plit(s, "null", 4) ? json_null() : NULL;
	default:
		q = s->p;
		neg = *q == '-';
		if (neg)
			q++;
		for (i = 0; q + i < s->end && q[i] >= '0' && q[i] <= '9'; i++)
			u = u * 10 + (unsigned)(q[i] - '0');
		if (i == 0 || i > 18 || (q[0] == '0' && i > 1))
			return NULL;
		q += i;
		if (q < s->end && (*q == '.' || *q == 'e' || *q == 'E'))
			return NULL; /* a real: jansson's conversion */
		s->p = q;
		return json_integer(neg ? -(json_int_t)u : (json_int_t)u);
	}
}

/* NULL to let jansson parse; *ret_bad names a string that is not UTF-8 (then jansson need
 * not try), with *ret_bad_key when it is a key of the object at that path. */
static json_t *
fast_parse(const char *text, size_t len, char ret_bad[160], bool *ret_bad_key)
{
	struct pstate s = {.p = text, .end = text + len};
	json_t *v;

	ret_bad[0] = '\0';
	s.bad[0] = '\x01'; /* unset */
	pws(&s);
	if (s.p >= s.end || (*s.p != '{' && *s.p != '['))
		return NULL;
	v = pvalue(&s, 0);
	if (!v && s.bad[0] != '\x01') {
		snprintf(ret_bad, 160, "%s", s.bad[0] ? s.bad : "the top object");
		*ret_bad_key = s.bad_key;
	}
	pws(&s);
	if (v && s.p != s.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}
#else
static json_t *
fast_parse(const char *text, size_t len, char ret_bad[160], bool *ret_bad_key)
{
	ret_bad[0] = '\0';
	return NULL;
}
#endif

int
hj_parse(const void *buf, size_t len, const char *what, bool must_be_object, json_t **ret,
	 struct hv_error *err)
{
	json_error_t je;
	json_t *v = NULL;

	*ret = NULL;
	if (memchr(buf, '\0', len))
		return hv_error_set(err, -EINVAL, what, "%s: invalid JSON: NUL byte", what);
	char bad[160];
	bool bad_key = false;
	v = fast_parse(buf, len, bad, &bad_key);
	if (bad[0] && bad_key)
		return hv_error_set(err, -EINVAL, bad, "%s: %s: a key is not valid UTF-8", what,
				    bad);
	if (bad[0])
		return hv_error_set(err, -EINVAL, bad, "%s: %s: not valid UTF-8", what, bad);
	if (!v)
		v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
#if JANSSON_VERSION_HEX >= 0x020b00
	if (!v && json_error_code(&je) == json_error_invalid_utf8)
		return hv_error_set(err, -EINVAL, what,
				    "%s: not valid UTF-8 at line %d column %d (%s)", what, je.line,
				    je.column, je.text);
#endif
	if (!v)
		return hv_error_set(err, -EINVAL, what, "%s: invalid JSON at line %d column %d: %s",
				    what, je.line, je.column, je.text);
	if (must_be_object && !json_is_object(v)) {
		hv_error_set(err, -EINVAL, what, "%s: expected a JSON object, got %s", what,
			     type_name(v));
		json_decref(v);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

#define HJ_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

#if JANSSON_VERSION_HEX >= 0x020e00
/* A direct serializer for the common case, byte for byte what json_dumps(HJ_DUMP_FLAGS)
 * writes (jansson >= 2.14 keeps objects in insertion order), at a fraction of its cost: no
 * callback per token, no printf per integer, strings copied in runs. Anything it does not
 * handle the same way itself (non-ASCII text, whose UTF-8 jansson checks; reals; very deep
 * trees) makes it give up, and jansson writes the whole document. */
struct dbuf {
	char *p;
	size_t len, cap;
	bool fail;
	bool wipe; /* the text may hold a secret (an admin password in a COMMAND): grow with
		    * no copy left behind */
};

static void
dreserve(struct dbuf *b, size_t n)
{
	/* n bytes and the terminating NUL */
	size_t need = b->len + n + 1;

	if (b->fail || need <= b->cap)
		return;
	if ((b->wipe ? HV_GROW_WIPE(b->p, b->cap, need) : HV_GROW(b->p, b->cap, need)) < 0)
		b->fail = true;
}

static void
dput(struct dbuf *b, const char *s, size_t n)
{
	dreserve(b, n);
	if (b->fail)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* 0: written as is; 1: escaped; 2: non-ASCII (jansson's UTF-8 check) */
static const unsigned char dclass[256] = {
	[0 ... 0x1f] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 2,
};

static void
dstr(struct dbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run;

	dreserve(b, n + 2);
	if (b->fail)
		return;
	b->p[b->len++] = '"';
	for (;;) {
		char esc[6] = {'\\', 0};
		size_t el = 2;
		unsigned char c;

		for (run = i; i < n && !dclass[u[i]]; i++)
			;
		dput(b, s + run, i - run);
		if (i == n || b->fail)
			break;
		c = u[i++];
		if (dclass[c] == 2) {
			b->fail = true; /* jansson checks the UTF-8: let it */
			return;
		}
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		dput(b, esc, el);
	}
	dput(b, "\"", 1);
}

static void
dint(struct dbuf *b, json_int_t v)
{
	char t[24], *e = t + sizeof t, *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	dput(b, p, (size_t)(e - p));
}

static void
dvalue(struct dbuf *b, const json_t *v, int depth)
{
	const char *key;
	size_t key_len, i;
	json_t *x;
	bool first = true;

	if (b->fail)
		return;
	if (depth > 64) {
		b->fail = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_NULL: dput(b, "null", 4); break;
	case JSON_TRUE: dput(b, "true", 4); break;
	case JSON_FALSE: dput(b, "false", 5); break;
	case JSON_INTEGER: dint(b, json_integer_value(v)); break;
	case JSON_STRING: dstr(b, json_string_value(v), json_string_length(v)); break;
	case JSON_ARRAY:
		dput(b, "[", 1);
		json_array_foreach (v, i, x) {
			if (i)
				dput(b, ",", 1);
			dvalue(b, x, depth + 1);
		}
		dput(b, "]", 1);
		break;
	case JSON_OBJECT:
		dput(b, "{", 1);
		json_object_keylen_foreach ((json_t *)v, key, key_len, x) {
			if (!first)
				dput(b, ",", 1);
			first = false;
			dstr(b, key, key_len);
			dput(b, ":", 1);
			dvalue(b, x, depth + 1);
		}
		dput(b, "}", 1);
		break;
	default: /* reals: jansson's formatting */ b->fail = true; break;
	}
}

char *
hj_dump(const json_t *v)
{
	struct dbuf b = {.wipe = true};

	if (!v)
		return NULL;
	dvalue(&b, v, 0);
	dput(&b, "", 1);
	if (b.fail) {
		free(b.p);
		return json_dumps(v, HJ_DUMP_FLAGS);
	}
	return b.p;
}
#else
char *
hj_dump(const json_t *v)
{
	return json_dumps(v, HJ_DUMP_FLAGS);
}
#endif

void
hj_text_string(struct hv_text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
#if JANSSON_VERSION_HEX >= 0x020e00
	/* an hv_text grows by realloc (text.h): it is not a secret's buffer */
	struct dbuf b = {t->buf, t->len, t->cap, false, false};
	dstr(&b, s, n);
	t->buf = b.p;
	t->cap = b.cap;
	if (!b.fail) {
		t->len = b.len;
		t->buf[t->len] = '\0';
		return;
	}
#endif
	/* non-ASCII: jansson checks the UTF-8 (a string that is not is written empty) */
	json_t *v = json_stringn(s, n);
	char *lit = v ? json_dumps(v, HJ_DUMP_FLAGS) : NULL;
	hv_text_printf(t, "%s", lit ? lit : "\"\"");
	free(lit);
	json_decref(v);
}

static bool
has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int
hj_str(const json_t *obj, const char *where, const char *key, int flags, size_t max_len,
       const char **ret, struct hv_error *err)
{
	json_t *v = NULL;
	size_t len;
	char detail[64];
	int r = lookup(obj, where, key, flags, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return wrong_type(err, where, key, "string", v);
	len = json_string_length(v);
	if (max_len && len > max_len) {
		snprintf(detail, sizeof detail, "%zu", max_len);
		return fail(err, where, key, "longer than %s bytes", detail);
	}
	if (len != strlen(json_string_value(v)) || has_control(json_string_value(v), len))
		return fail(err, where, key, "control characters not allowed");
	*ret = json_string_value(v);
	return 1;
}

int
hj_int(const json_t *obj, const char *where, const char *key, int flags, int64_t min, int64_t max,
       int64_t *ret, struct hv_error *err)
{
	json_t *v = NULL;
	json_int_t i;
	char detail[96];
	int r = lookup(obj, where, key, flags, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return wrong_type(err, where, key, "integer", v);
	i = json_integer_value(v);
	if (i < min || i > max) {
		snprintf(detail, sizeof detail, "%" PRId64 "-%" PRId64, min, max);
		return fail(err, where, key, "out of range (allowed %s)", detail);
	}
	*ret = i;
	return 1;
}

int
hj_bool(const json_t *obj, const char *where, const char *key, int flags, bool *ret,
	struct hv_error *err)
{
	json_t *v = NULL;
	int r = lookup(obj, where, key, flags, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return wrong_type(err, where, key, "boolean", v);
	*ret = json_is_true(v);
	return 1;
}

int
hj_obj(const json_t *obj, const char *where, const char *key, int flags, json_t **ret,
       struct hv_error *err)
{
	json_t *v = NULL;
	int r = lookup(obj, where, key, flags, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_object(v))
		return wrong_type(err, where, key, "object", v);
	*ret = v;
	return 1;
}

int
hj_arr(const json_t *obj, const char *where, const char *key, int flags, size_t max_items,
       json_t **ret, struct hv_error *err)
{
	json_t *v = NULL;
	char detail[32];
	int r = lookup(obj, where, key, flags, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_array(v))
		return wrong_type(err, where, key, "array", v);
	if (max_items && json_array_size(v) > max_items) {
		snprintf(detail, sizeof detail, "%zu", max_items);
		return fail(err, where, key, "more than %s items", detail);
	}
	*ret = v;
	return 1;
}

static bool
word_in(const char *word, const char *allowed)
{
	size_t wl = strlen(word);
	const char *p = allowed;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == wl && strncmp(p, word, l) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

int
hj_enum(const json_t *obj, const char *where, const char *key, int flags, const char *allowed,
	const char **ret, struct hv_error *err)
{
	const char *s;
	char detail[200];
	int r = hj_str(obj, where, key, flags, 64, &s, err);

	if (r <= 0)
		return r;
	if (!word_in(s, allowed)) {
		snprintf(detail, sizeof detail, "%s", allowed);
		for (char *c = detail; *c; c++)
			if (*c == '|')
				*c = ',';
		return fail(err, where, key, "expected one of %s", detail);
	}
	*ret = s;
	return 1;
}

int
hj_known_keys(const json_t *obj, const char *where, const char *const *known, struct hv_error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(err, where, NULL, "expected object");
	json_object_foreach ((json_t *)obj, key, v) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], key) != 0)
			i++;
		if (known[i])
			continue;
		/* the name comes from the request: bounded and without control bytes */
		char name[64], allowed[256];
		size_t n = 0, len = 0;
		for (; key[n] && n < sizeof name - 1; n++)
			name[n] = (unsigned char)key[n] < 0x20 || key[n] == 0x7f ? '?' : key[n];
		name[n] = '\0';
		allowed[0] = '\0';
		for (i = 0; known[i] && len < sizeof allowed; i++)
			len += (size_t)snprintf(allowed + len, sizeof allowed - len, "%s%s",
						i ? ", " : "", known[i]);
		return fail(err, where, name, "unknown field (allowed: %s)",
			    known[0] ? allowed : "none");
	}
	return 0;
}

bool
hj_is_uuid(const char *s)
{
	return hv_uuid_valid(s);
}

int
hj_uuid(const json_t *obj, const char *where, const char *key, int flags, const char **ret,
	struct hv_error *err)
{
	const char *s;
	int r = hj_str(obj, where, key, flags, 36, &s, err);

	if (r <= 0)
		return r;
	if (!hj_is_uuid(s))
		return fail(err, where, key, "expected a lower-case UUID");
	*ret = s;
	return 1;
}

int
hj_str_map(const json_t *obj, const char *where, const char *key, int flags, size_t max_items,
	   size_t key_max, size_t value_max, struct hv_kv **ret, size_t *ret_n,
	   struct hv_error *err)
{
	json_t *m, *v;
	const char *k;
	struct hv_kv *kv;
	size_t n = 0;
	char path[256], detail[32];
	int r = hj_obj(obj, where, key, flags, &m, err);

	*ret = NULL;
	*ret_n = 0;
	if (r <= 0)
		return r;
	hj_path(path, sizeof path, where, key, 0);
	if (json_object_size(m) > max_items) {
		snprintf(detail, sizeof detail, "%zu", max_items);
		return fail(err, where, key, "more than %s entries", detail);
	}
	kv = calloc(json_object_size(m) + 1, sizeof *kv);
	if (!kv)
		return hv_error_set(err, -ENOMEM, path, "%s: out of memory", path);
	json_object_foreach (m, k, v) {
		if (strlen(k) == 0 || strlen(k) > key_max || has_control(k, strlen(k))) {
			free(kv);
			snprintf(detail, sizeof detail, "%zu", key_max);
			return fail(err, path, NULL, "keys must be 1-%s printable bytes", detail);
		}
		r = hj_str(m, path, k, HJ_REQUIRED, value_max, &kv[n].value, err);
		if (r < 0) {
			free(kv);
			return r;
		}
		kv[n++].key = k;
	}
	*ret = kv;
	*ret_n = n;
	return 1;
}

void
hj_wipe_string(json_t *v)
{
	if (json_is_string(v)) {
		/* jansson owns a private mutable copy of every string value */
		char *s = (char *)json_string_value(v);

		explicit_bzero(s, json_string_length(v));
	}
}
