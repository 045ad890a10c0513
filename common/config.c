/* config.c - the INI config parser behind config.h: schema-checked values, drop-in files,
 * every error collected with FILE:LINE.
 *
 * inih reads the stream; a line reader in front of it counts physical lines (inih's
 * handler gets no line number in Debian's build), rejects what inih would silently accept
 * or misread (lines without '=', indented continuation lines), hides unknown sections so
 * one typo yields one error, and splits each setting itself, as inih would, so that a
 * setting is not held to inih's fixed line buffer (200 bytes in Debian's build: a long
 * enabled_filters list would not fit).
 * This module must never log and never exit: it reports through struct cfg_diags. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vec.h"

struct cfg_value {
	char *value; /* normalized; NULL = unset (the schema default applies) */
	char file[256];
	unsigned line;
	char origin[280]; /* "FILE:LINE" */
	bool refused;     /* the last setting of the key did not parse (cfg_value_ok) */
};

struct cfg {
	const struct cfg_key *schema;
	size_t n_keys;
	struct cfg_value *vals;
};

/* One file (or string) being parsed. */
struct cfg_parse {
	struct cfg *cfg;
	struct cfg_diags *diags;
	const char *file;
	unsigned line;
	unsigned *set_line; /* per schema key: line it was set at in THIS file, 0 = not yet */
	char section[64];   /* "" before the first section header */
	bool section_bad;   /* unknown or malformed section: its keys are skipped */
	FILE *fp;           /* source: a file ... */
	const char *text;   /* ... or a string cursor */
	char *buf;
	size_t cap;
	int read_errno;
};

#define CFG_QUOTE_MAX 48

static void __attribute__((format(printf, 4, 0)))
cfg_diag_vadd(struct cfg_diags *diags, const char *file, unsigned line, const char *fmt, va_list ap)
{
	if (!diags)
		return;
	size_t slots = sizeof diags->items / sizeof diags->items[0];
	if (diags->n < slots) {
		struct cfg_diag *d = &diags->items[diags->n];
		snprintf(d->file, sizeof d->file, "%s", file ? file : "");
		d->line = line;
		vsnprintf(d->text, sizeof d->text, fmt, ap);
	}
	diags->n++;
}

static void __attribute__((format(printf, 4, 5)))
cfg_diag_add(struct cfg_diags *diags, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_diag_vadd(diags, file, line, fmt, ap);
	va_end(ap);
}

/* Quotes user text for a message: bounded, control bytes shown as '?', so a hostile file
 * cannot forge extra diagnostic lines. */
static const char *
cfg_quote(const char *s, char *buf, size_t size)
{
	size_t i = 0, j = 0;
	for (; s[i] && j + 4 < size && i < CFG_QUOTE_MAX; i++)
		buf[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] && j + 4 < size) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

static ssize_t
cfg_schema_find(const struct cfg_key *schema, size_t n, const char *section, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

static bool
cfg_schema_has_section(const struct cfg_key *schema, size_t n, const char *section)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(schema[i].section, section) == 0)
			return true;
	return false;
}

/* Appends "a, b, c" (each distinct value of the chosen column once) to buf. */
static void
cfg_list_names(const struct cfg_key *schema, size_t n, const char *section, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *name;
		if (section) {
			if (strcmp(schema[i].section, section) != 0)
				continue;
			name = schema[i].key;
		} else {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = strcmp(schema[j].section, schema[i].section) == 0;
			if (seen)
				continue;
			name = schema[i].section;
		}
		int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
		if (w < 0 || (size_t)w >= size - len) {
			buf[size - 1] = '\0';
			return;
		}
		len += (size_t)w;
	}
}

static bool
cfg_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
cfg_enum_has(const char *allowed, const char *value)
{
	size_t vlen = strlen(value);
	for (const char *p = allowed; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == vlen && strncmp(p, value, len) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static int
cfg_parse_int(const char *s, int64_t *ret)
{
	if (!*s || isspace((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int
cfg_parse_bool(const char *s)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

/* Checks value against k; on success *ret is the malloc'd normalized text. On failure
 * writes "message (allowed: ...)" into why. */
static int
cfg_normalize(const struct cfg_key *k, const char *value, char **ret, char *why, size_t why_size)
{
	char q[CFG_QUOTE_MAX + 8];
	char *out = NULL;

	/* ';' and '#' start a comment where a line begins or after a space: a value that
	 * starts with one, or holds one after a space, would not read back as written */
	if (value[0] == ';' || value[0] == '#' || strstr(value, " ;") || strstr(value, " #")) {
		snprintf(why, why_size,
			 "'%s' holds a comment character (allowed: ';' and '#' only inside a word)",
			 cfg_quote(value, q, sizeof q));
		return -EINVAL;
	}
	switch (k->type) {
	case CFG_STRING:
		if (cfg_has_control(value)) {
			snprintf(why, why_size,
				 "contains a control character (allowed: printable text)");
			return -EINVAL;
		}
		out = strdup(value);
		break;
	case CFG_PATH:
		if (value[0] != '/' || cfg_has_control(value)) {
			snprintf(why, why_size,
				 "'%s' is not an absolute path (allowed: an absolute path)",
				 cfg_quote(value, q, sizeof q));
			return -EINVAL;
		}
		out = strdup(value);
		break;
	case CFG_INT: {
		int64_t v;
		int r = cfg_parse_int(value, &v);
		if (r < 0 || v < k->min || v > k->max) {
			snprintf(why, why_size, "'%s' is %s (allowed: %" PRId64 "-%" PRId64 ")",
				 cfg_quote(value, q, sizeof q),
				 r == -EINVAL ? "not an integer" : "out of range", k->min, k->max);
			return -EINVAL;
		}
		if (asprintf(&out, "%" PRId64, v) < 0)
			out = NULL;
		break;
	}
	case CFG_BOOL: {
		int b = cfg_parse_bool(value);
		if (b < 0) {
			snprintf(why, why_size,
				 "'%s' is not a boolean (allowed: true, false, yes, no, on, off, "
				 "1, 0)",
				 cfg_quote(value, q, sizeof q));
			return -EINVAL;
		}
		out = strdup(b ? "true" : "false");
		break;
	}
	case CFG_ENUM:
		if (!cfg_enum_has(k->allowed, value)) {
			char allowed[256];
			size_t j = 0;
			for (const char *p = k->allowed ? k->allowed : "";
			     *p && j + 3 < sizeof allowed; p++) {
				if (*p == '|') {
					allowed[j++] = ',';
					allowed[j++] = ' ';
				} else {
					allowed[j++] = *p;
				}
			}
			allowed[j] = '\0';
			snprintf(why, why_size, "'%s' is not a valid choice (allowed: %s)",
				 cfg_quote(value, q, sizeof q), allowed);
			return -EINVAL;
		}
		out = strdup(value);
		break;
	default: snprintf(why, why_size, "schema has an unknown type"); return -EINVAL;
	}
	if (!out) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

static int
cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parse *p = user;
	struct cfg *cfg = p->cfg;
	char why[400];

	ssize_t idx = cfg_schema_find(cfg->schema, cfg->n_keys, section, name);
	if (idx < 0) {
		char allowed[320];
		cfg_list_names(cfg->schema, cfg->n_keys, section, allowed, sizeof allowed);
		cfg_diag_add(p->diags, p->file, p->line, "[%s] %s: unknown key (allowed: %s)",
			     section, name, allowed);
		return 1;
	}
	if (p->set_line[idx]) {
		cfg_diag_add(p->diags, p->file, p->line,
			     "[%s] %s: set twice in one file (first at line %u)", section, name,
			     p->set_line[idx]);
		return 1;
	}
	p->set_line[idx] = p->line;

	char *norm;
	struct cfg_value *v = &cfg->vals[idx];
	if (cfg_normalize(&cfg->schema[idx], value, &norm, why, sizeof why) < 0) {
		cfg_diag_add(p->diags, p->file, p->line, "[%s] %s: %s", section, name, why);
		v->refused = true;
		return 1;
	}
	v->refused = false;
	free(v->value);
	v->value = norm;
	snprintf(v->file, sizeof v->file, "%s", p->file);
	v->line = p->line;
	snprintf(v->origin, sizeof v->origin, "%s:%u", p->file, p->line);
	return 1;
}

/* Reads one physical line into p->buf without its line end; NULL at the end. */
static char *
cfg_next_line(struct cfg_parse *p)
{
	if (p->fp) {
		ssize_t n = getline(&p->buf, &p->cap, p->fp);
		if (n < 0) {
			if (ferror(p->fp))
				p->read_errno = errno ? errno : EIO;
			return NULL;
		}
		/* A NUL inside a line would hide the rest of it from every check below. */
		if (memchr(p->buf, '\0', (size_t)n))
			p->buf[0] = '\x01';
	} else {
		if (!p->text || !*p->text)
			return NULL;
		size_t n = strcspn(p->text, "\n");
		if (HV_GROW(p->buf, p->cap, n + 1) < 0) {
			p->read_errno = ENOMEM;
			return NULL;
		}
		memcpy(p->buf, p->text, n);
		p->buf[n] = '\0';
		p->text += n + (p->text[n] == '\n');
	}
	p->buf[strcspn(p->buf, "\r\n")] = '\0';
	return p->buf;
}

static bool
cfg_is_name(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* The longest line a setting may take: a config file is not a place for megabytes. */
#define CFG_MAX_LINE 65536

/* A setting's value as inih reads it: leading space skipped, cut at an inline comment
 * (';' after a space), trailing space dropped. Modifies s. */
static const char *
cfg_value_of(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	bool was_space = false;
	char *e = s;
	for (; *e && !(was_space && *e == ';'); e++)
		was_space = isspace((unsigned char)*e);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* The ini_reader: hands inih each checked section line, or "\n" in place of a line that
 * was reported, must be skipped, or is a setting (handed to cfg_handler here). */
static char *
cfg_reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	char q[CFG_QUOTE_MAX + 8];
	char *line = cfg_next_line(p);
	if (!line)
		return NULL;
	p->line++;
	snprintf(str, (size_t)num, "\n");

	if (p->line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	/* Leading whitespace is ignored: inih would otherwise take an indented line as the
	 * continuation of the previous value, a surprise nobody wants in a service config. */
	while (isspace((unsigned char)*line))
		line++;
	size_t len = strlen(line);
	while (len && isspace((unsigned char)line[len - 1]))
		line[--len] = '\0';
	if (len == 0 || line[0] == ';' || line[0] == '#')
		return str;

	if (line[0] == '[') {
		char *end = strchr(line, ']');
		const char *rest = end ? end + 1 : "";
		while (isspace((unsigned char)*rest))
			rest++;
		p->section_bad = true;
		if (!end || (*rest && *rest != ';' && *rest != '#')) {
			cfg_diag_add(p->diags, p->file, p->line,
				     "'%s': malformed section header (allowed: [name])",
				     cfg_quote(line, q, sizeof q));
			return str;
		}
		*end = '\0';
		const char *name = line + 1;
		if (!cfg_is_name(name, strlen(name)) || strlen(name) >= sizeof p->section ||
		    !cfg_schema_has_section(p->cfg->schema, p->cfg->n_keys, name)) {
			char allowed[320];
			cfg_list_names(p->cfg->schema, p->cfg->n_keys, NULL, allowed,
				       sizeof allowed);
			cfg_diag_add(p->diags, p->file, p->line,
				     "[%s]: unknown section (allowed: %s)",
				     cfg_quote(name, q, sizeof q), allowed);
			return str;
		}
		p->section_bad = false;
		snprintf(p->section, sizeof p->section, "%s", name);
		snprintf(str, (size_t)num, "[%s]\n", name);
		return str;
	}

	char *eq = strchr(line, '=');
	if (!eq) {
		cfg_diag_add(p->diags, p->file, p->line,
			     "'%s': not a setting (allowed: key = value)",
			     cfg_quote(line, q, sizeof q));
		return str;
	}
	size_t klen = (size_t)(eq - line);
	while (klen && isspace((unsigned char)line[klen - 1]))
		klen--;
	if (!cfg_is_name(line, klen)) {
		line[klen] = '\0';
		cfg_diag_add(p->diags, p->file, p->line,
			     "'%s': invalid key name (allowed: letters, digits, '_', '-', '.')",
			     cfg_quote(line, q, sizeof q));
		return str;
	}
	if (p->section_bad)
		return str;
	if (!p->section[0]) {
		line[klen] = '\0';
		cfg_diag_add(p->diags, p->file, p->line,
			     "%s: setting before any section (allowed: put it under [DEFAULT] or "
			     "another section)",
			     cfg_quote(line, q, sizeof q));
		return str;
	}
	if (len > CFG_MAX_LINE) {
		line[klen] = '\0';
		cfg_diag_add(p->diags, p->file, p->line,
			     "[%s] %s: line too long (allowed: up to %d bytes)", p->section,
			     cfg_quote(line, q, sizeof q), CFG_MAX_LINE);
		return str;
	}
	line[klen] = '\0';
	cfg_handler(p, p->section, line, cfg_value_of(eq + 1));
	return str;
}

/* Parses one source into cfg. Returns 0 or -errno when the source could not be read. */
static int
cfg_parse_source(struct cfg *cfg, const char *file, FILE *fp, const char *text,
		 struct cfg_diags *diags)
{
	struct cfg_parse p = {
		.cfg = cfg,
		.diags = diags,
		.file = file,
		.fp = fp,
		.text = text,
	};
	p.set_line = calloc(cfg->n_keys ? cfg->n_keys : 1, sizeof *p.set_line);
	if (!p.set_line) {
		cfg_diag_add(diags, file, 0, "out of memory");
		return -ENOMEM;
	}
	ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
	free(p.set_line);
	free(p.buf);
	if (p.read_errno) {
		cfg_diag_add(diags, file, p.line + 1, "read error: %s", strerror(p.read_errno));
		return -p.read_errno;
	}
	return 0;
}

static struct cfg *
cfg_new(const struct cfg_key *schema, struct cfg_diags *diags)
{
	struct cfg *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return NULL;
	cfg->schema = schema;
	while (schema[cfg->n_keys].section)
		cfg->n_keys++;
	cfg->vals = calloc(cfg->n_keys ? cfg->n_keys : 1, sizeof *cfg->vals);
	if (!cfg->vals) {
		free(cfg);
		return NULL;
	}
	/* A default that its own key would reject is a bug in the program, reported like any
	 * other config error so a test catches it. */
	for (size_t i = 0; i < cfg->n_keys; i++) {
		char why[400], *norm;
		if (!schema[i].def)
			continue;
		if (cfg_normalize(&schema[i], schema[i].def, &norm, why, sizeof why) < 0)
			cfg_diag_add(diags, "schema", 0, "[%s] %s: default %s", schema[i].section,
				     schema[i].key, why);
		else
			free(norm);
	}
	return cfg;
}

void
cfg_free(struct cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_keys; i++)
		free(cfg->vals[i].value);
	free(cfg->vals);
	free(cfg);
}

static int
cfg_parse_file(struct cfg *cfg, const char *path, bool optional, struct cfg_diags *diags)
{
	FILE *fp = fopen(path, "re");
	if (!fp) {
		int e = errno;
		if (e == ENOENT && optional)
			return 0;
		cfg_diag_add(diags, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) == 0 && !S_ISREG(st.st_mode)) {
		fclose(fp);
		cfg_diag_add(diags, path, 0, "not a regular file");
		return -EINVAL;
	}
	int r = cfg_parse_source(cfg, path, fp, NULL, diags);
	fclose(fp);
	return r;
}

static int
cfg_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
cfg_is_dropin_name(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".conf") == 0;
}

static int
cfg_parse_dropins(struct cfg *cfg, const char *dir, struct cfg_diags *diags)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		cfg_diag_add(diags, dir, 0, "cannot open drop-in directory: %s", strerror(e));
		return -e;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!cfg_is_dropin_name(de->d_name))
			continue;
		if (HV_GROW(names, cap, n + 1) < 0) {
			r = -ENOMEM;
			break;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0)
		cfg_diag_add(diags, dir, 0, "out of memory");
	else if (n)
		qsort(names, n, sizeof *names, cfg_name_cmp);

	for (size_t i = 0; r == 0 && i < n; i++) {
		char *path;
		struct stat st;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		/* A directory or socket named *.conf is not a drop-in; a name that cannot be
		 * followed (a symlink to nothing) is one the operator meant to be read. */
		if (stat(path, &st) < 0) {
			cfg_diag_add(diags, path, 0, "cannot open: %s", strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			int pr = cfg_parse_file(cfg, path, false, diags);
			if (pr < 0)
				r = pr;
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* The start and the end every load shares: an empty config whose errors go to diags (a
 * local list when the caller passed none), and the verdict - the config handed out when it
 * loaded, or when keep asks for it despite value errors (-EINVAL), freed otherwise. */
static struct cfg *
load_begin(const struct cfg_key *schema, const char *name, struct cfg_diags **diags,
	   struct cfg_diags *local, struct cfg **ret_cfg)
{
	if (!*diags)
		*diags = local;
	(*diags)->n = 0;
	*ret_cfg = NULL;
	struct cfg *cfg = cfg_new(schema, *diags);
	if (!cfg)
		cfg_diag_add(*diags, name, 0, "out of memory");
	return cfg;
}

static int
load_end(struct cfg *cfg, int r, bool keep, const struct cfg_diags *diags, struct cfg **ret_cfg)
{
	if (r == 0 && diags->n)
		r = -EINVAL;
	if (r < 0 && !(r == -EINVAL && keep)) {
		cfg_free(cfg);
		return r;
	}
	*ret_cfg = cfg;
	return r;
}

static int
cfg_load_files(const struct cfg_key *schema, const char *main_path, bool optional_main,
	       const char *dropin_dir, bool keep, struct cfg **ret_cfg, struct cfg_diags *diags)
{
	struct cfg_diags local;
	struct cfg *cfg = load_begin(schema, main_path, &diags, &local, ret_cfg);
	if (!cfg)
		return -ENOMEM;
	int r = 0;
	if (main_path)
		r = cfg_parse_file(cfg, main_path, optional_main, diags);
	if (dropin_dir) {
		int dr = cfg_parse_dropins(cfg, dropin_dir, diags);
		if (r == 0)
			r = dr;
	}
	return load_end(cfg, r, keep, diags, ret_cfg);
}

int
cfg_load(const struct cfg_key *schema, const char *main_path, bool optional_main,
	 const char *dropin_dir, struct cfg **ret_cfg, struct cfg_diags *diags)
{
	return cfg_load_files(schema, main_path, optional_main, dropin_dir, false, ret_cfg, diags);
}

int
cfg_load_partial(const struct cfg_key *schema, const char *main_path, bool optional_main,
		 const char *dropin_dir, struct cfg **ret_cfg, struct cfg_diags *diags)
{
	return cfg_load_files(schema, main_path, optional_main, dropin_dir, true, ret_cfg, diags);
}

char *
cfg_peek(const struct cfg_key *schema, const char *main_path, const char *dropin_dir,
	 const char *section, const char *key)
{
	struct cfg_diags ignored = {0};
	struct cfg *cfg = cfg_new(schema, &ignored);
	char *v = NULL;
	if (!cfg)
		return NULL;
	if (main_path)
		cfg_parse_file(cfg, main_path, true, &ignored);
	if (dropin_dir)
		cfg_parse_dropins(cfg, dropin_dir, &ignored);
	const char *s = cfg_get_str(cfg, section, key);
	if (s)
		v = strdup(s);
	cfg_free(cfg);
	return v;
}

int
cfg_load_string(const struct cfg_key *schema, const char *name, const char *text,
		struct cfg **ret_cfg, struct cfg_diags *diags)
{
	struct cfg_diags local;
	struct cfg *cfg = load_begin(schema, name, &diags, &local, ret_cfg);
	if (!cfg)
		return -ENOMEM;
	int r = cfg_parse_source(cfg, name, NULL, text ? text : "", diags);
	return load_end(cfg, r, false, diags, ret_cfg);
}

static size_t
cfg_index(const struct cfg *cfg, const char *section, const char *key)
{
	ssize_t i = cfg_schema_find(cfg->schema, cfg->n_keys, section, key);
	/* Asking for a key the schema does not have is a programming error. */
	if (i < 0)
		abort();
	return (size_t)i;
}

static const char *
cfg_value_at(const struct cfg *cfg, size_t i)
{
	return cfg->vals[i].value ? cfg->vals[i].value : cfg->schema[i].def;
}

static bool
cfg_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void
cfg_diff(const struct cfg *old, const struct cfg *new, cfg_diff_fn fn, void *ctx)
{
	for (size_t i = 0; i < new->n_keys; i++) {
		const struct cfg_key *k = &new->schema[i];
		ssize_t j = cfg_schema_find(old->schema, old->n_keys, k->section, k->key);

		if (j < 0 || !cfg_same(cfg_value_at(old, (size_t)j), cfg_value_at(new, i)))
			fn(ctx, k->section, k->key, cfg_value_at(new, i));
	}
	/* keys only the old schema had (a driver section that went away) */
	for (size_t j = 0; j < old->n_keys; j++) {
		const struct cfg_key *k = &old->schema[j];

		if (cfg_schema_find(new->schema, new->n_keys, k->section, k->key) < 0)
			fn(ctx, k->section, k->key, NULL);
	}
}

const char *
cfg_get_str(const struct cfg *cfg, const char *section, const char *key)
{
	size_t i = cfg_index(cfg, section, key);
	return cfg->vals[i].value ? cfg->vals[i].value : cfg->schema[i].def;
}

int64_t
cfg_get_int(const struct cfg *cfg, const char *section, const char *key)
{
	const char *s = cfg_get_str(cfg, section, key);
	int64_t v = 0;
	if (s)
		cfg_parse_int(s, &v);
	return v;
}

bool
cfg_get_bool(const struct cfg *cfg, const char *section, const char *key)
{
	const char *s = cfg_get_str(cfg, section, key);
	return s && cfg_parse_bool(s) == 1;
}

bool
cfg_value_ok(const struct cfg *cfg, const char *section, const char *key)
{
	return !cfg->vals[cfg_index(cfg, section, key)].refused;
}

const char *
cfg_origin(const struct cfg *cfg, const char *section, const char *key)
{
	size_t i = cfg_index(cfg, section, key);
	return cfg->vals[i].value ? cfg->vals[i].origin : "default";
}

int
cfg_section_kv(const struct cfg *cfg, const char *section, struct hv_kv **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	struct hv_kv *kv = calloc(cfg->n_keys ? cfg->n_keys : 1, sizeof *kv);
	if (!kv)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_keys; i++) {
		if (strcmp(cfg->schema[i].section, section) != 0)
			continue;
		const char *v = cfg->vals[i].value ? cfg->vals[i].value : cfg->schema[i].def;
		if (!v)
			continue;
		kv[n].key = cfg->schema[i].key;
		kv[n].value = v;
		n++;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

void
cfg_print(const struct cfg *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n_keys; i++) {
		const char *section = cfg->schema[i].section;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(cfg->schema[j].section, section) == 0;
		if (seen)
			continue;
		fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
		for (size_t k = i; k < cfg->n_keys; k++) {
			if (strcmp(cfg->schema[k].section, section) != 0)
				continue;
			const char *v =
				cfg->vals[k].value ? cfg->vals[k].value : cfg->schema[k].def;
			if (v)
				fprintf(out, "%s = %s\n", cfg->schema[k].key, v);
			else
				fprintf(out, "; %s is unset\n", cfg->schema[k].key);
		}
	}
}

void
cfg_diag_key(struct cfg_diags *diags, const struct cfg *cfg, const char *section, const char *key,
	     const char *fmt, ...)
{
	size_t i = cfg_index(cfg, section, key);
	const struct cfg_value *v = &cfg->vals[i];
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (v->value)
		cfg_diag_add(diags, v->file, v->line, "[%s] %s: %s", section, key, text);
	else
		cfg_diag_add(diags, "default", 0, "[%s] %s: %s", section, key, text);
}

void
cfg_schema_print(const struct cfg_key *schema, FILE *out)
{
	static const char *const type_names[] = {
		[CFG_STRING] = "string", [CFG_INT] = "integer",        [CFG_BOOL] = "boolean",
		[CFG_ENUM] = "one of: ", [CFG_PATH] = "absolute path",
	};
	for (size_t i = 0; schema[i].section; i++) {
		const struct cfg_key *k = &schema[i];
		if (i == 0 || strcmp(schema[i - 1].section, k->section) != 0)
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
		fprintf(out, "\n# %s\n# %s", k->help ? k->help : "", type_names[k->type]);
		if (k->type == CFG_INT) {
			fprintf(out, ", %" PRId64 "-%" PRId64, k->min, k->max);
		} else if (k->type == CFG_ENUM) {
			for (const char *p = k->allowed ? k->allowed : ""; *p; p++) {
				if (*p == '|')
					fputs(", ", out);
				else
					fputc(*p, out);
			}
		}
		fprintf(out, "\n#%s =%s%s\n", k->key, k->def && *k->def ? " " : "",
			k->def ? k->def : "");
	}
}

size_t
cfg_diags_kept(const struct cfg_diags *diags)
{
	size_t slots = sizeof diags->items / sizeof diags->items[0];
	return diags->n < slots ? diags->n : slots;
}

const char *
cfg_diag_format(const struct cfg_diag *d, char *buf, size_t size)
{
	if (d->line)
		snprintf(buf, size, "%s:%u: %s", d->file, d->line, d->text);
	else
		snprintf(buf, size, "%s: %s", d->file, d->text);
	return buf;
}

void
cfg_diags_print(const struct cfg_diags *diags, FILE *out)
{
	size_t kept = cfg_diags_kept(diags);
	char text[sizeof(struct cfg_diag) + 16];
	for (size_t i = 0; i < kept; i++)
		fprintf(out, "%s\n", cfg_diag_format(&diags->items[i], text, sizeof text));
	if (diags->n > kept)
		fprintf(out, "... and %zu more errors\n", diags->n - kept);
}
