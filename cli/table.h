/* table.h - hv's output for people: a boxed table with a header row, column widths from
 * the content. Cells are copied; control characters are shown as '?', so a server name
 * can never move the terminal's cursor. Never decides what to print, only how. */
#ifndef HV_TABLE_H
#define HV_TABLE_H

#include <stdio.h>

struct tbl;

struct tbl *tbl_new(size_t n_cols, const char *const *headers);
void tbl_free(struct tbl *t);
/* Adds one row of n_cols cells (NULL prints as ""). */
int tbl_add(struct tbl *t, const char *const *cells);
void tbl_print(const struct tbl *t, FILE *out);

#endif
