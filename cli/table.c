/* table.c - fixed-width table rendering in the style operators know from the openstack
 * client. */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

struct tbl {
	size_t n_cols, n_rows, cap;
	char **cells; /* n_rows + 1 rows (row 0 = headers) of n_cols */
	size_t *width;
};

static char *
clean_copy(const char *s)
{
	char *c = strdup(s ? s : "");
	if (c)
		for (char *p = c; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return c;
}

static size_t
display_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80) /* count UTF-8 lead bytes only */
			w++;
	return w;
}

static int
append(struct tbl *t, const char *const *cells)
{
	/* t->cap counts rows: one element is a row of n_cols cells */
	if (hv_grow(&t->cells, &t->cap, t->n_rows + 1, t->n_cols * sizeof *t->cells) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_cols; i++) {
		char *c = clean_copy(cells[i]);
		if (!c)
			return -ENOMEM;
		t->cells[t->n_rows * t->n_cols + i] = c;
		size_t w = display_width(c);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->n_rows++;
	return 0;
}

struct tbl *
tbl_new(size_t n_cols, const char *const *headers)
{
	struct tbl *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->n_cols = n_cols;
	t->width = calloc(n_cols, sizeof *t->width);
	if (!t->width || append(t, headers) < 0) {
		tbl_free(t);
		return NULL;
	}
	return t;
}

void
tbl_free(struct tbl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

int
tbl_add(struct tbl *t, const char *const *cells)
{
	return append(t, cells);
}

static void
rule(const struct tbl *t, FILE *out)
{
	for (size_t i = 0; i < t->n_cols; i++) {
		fputc('+', out);
		for (size_t k = 0; k < t->width[i] + 2; k++)
			fputc('-', out);
	}
	fputs("+\n", out);
}

static void
row(const struct tbl *t, size_t r, FILE *out)
{
	for (size_t i = 0; i < t->n_cols; i++) {
		const char *c = t->cells[r * t->n_cols + i];
		fprintf(out, "| %s%*s ", c, (int)(t->width[i] - display_width(c)), "");
	}
	fputs("|\n", out);
}

void
tbl_print(const struct tbl *t, FILE *out)
{
	rule(t, out);
	row(t, 0, out);
	rule(t, out);
	for (size_t r = 1; r < t->n_rows; r++)
		row(t, r, out);
	rule(t, out);
}
