/*
 * plan_sheet.c - the mailbox sheet (mailboxes_csv): columns -> mailboxes;
 * see plan_csv_parse() in plan.h. The bytes are read by csvread.c; this file
 * knows what the columns mean.
 */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "plan_p.h"
#include "secret.h"
#include "util.h"

enum { COL_SOURCE_USER, COL_SOURCE_PASSWORD, COL_DEST_USER, COL_DEST_PASSWORD, COL_N };

struct plan_sheet {
	struct csvread r;
	int ncols;         /* header columns, 0 while reading the header */
	int col_of[COL_N]; /* header position of each known column */
};

/*
 * Header names the sheet may use, case-insensitive: ours, and the Microsoft
 * 365 IMAP migration batch (EmailAddress = the Microsoft 365 mailbox, i.e. our
 * destination; UserName/Password = the login at the source).
 */
static const struct {
	const char *name;
	int col;
} plan_csv_names[] = {
    {"source_user", COL_SOURCE_USER},
    {"source_password", COL_SOURCE_PASSWORD},
    {"dest_user", COL_DEST_USER},
    {"dest_password", COL_DEST_PASSWORD},
    {"EmailAddress", COL_DEST_USER},
    {"UserName", COL_SOURCE_USER},
    {"Password", COL_SOURCE_PASSWORD},
};

/* Name of field K of a record, for messages. Caller frees. */
static char *
plan_csv_colname(const struct plan_sheet *c, size_t k)
{
	int col;

	for (col = 0; col < COL_N && c->ncols > 0; col++)
		if ((size_t)c->col_of[col] == k)
			return xstrdup(plan_mailbox_keys[col]);
	return xasprintf("column %zu", k + 1);
}

static int
plan_csv_fail(struct plan_sheet *c, char **err, size_t line, size_t field, const char *msg)
{
	char *name = plan_csv_colname(c, field);

	*err = xasprintf("%s:%zu: %s: %s", c->r.path, line, name, msg);
	free(name);
	return -1;
}

/* The column a header name stands for, or -1. */
static int
plan_csv_known(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(plan_csv_names) / sizeof(plan_csv_names[0]); i++)
		if (util_strieq(name, plan_csv_names[i].name))
			return plan_csv_names[i].col;
	return -1;
}

/*
 * Map the header record to columns. A name close to a known column that is
 * not there yet is an error (a typo would otherwise drop a column silently);
 * any other unknown column is ignored with one warning naming them all.
 * The user columns are required; a missing password column reads as empty
 * cells (an admin login, or the destination's own migration credentials).
 */
static int
plan_csv_header(struct plan_sheet *c, char **err)
{
	char *ignored = NULL, *next, *echo;
	size_t k, n_ignored = 0;
	int col, known = 0;

	for (col = 0; col < COL_N; col++)
		c->col_of[col] = -1;
	for (k = 0; k < c->r.nf; k++) {
		csvread_trim(c->r.fields[k]);
		if (plan_csv_known(c->r.fields[k]) >= 0)
			known++;
	}
	if (known == 0) {
		*err =
		    xasprintf("%s:%zu: the first line must be the header "
		              "source_user,source_password,dest_user,dest_password (or Microsoft "
		              "365's EmailAddress,UserName,Password)",
		        c->r.path, c->r.rec_line);
		return -1;
	}
	for (k = 0; k < c->r.nf; k++) {
		int hit = plan_csv_known(c->r.fields[k]);

		if (hit < 0)
			continue;
		if (c->col_of[hit] >= 0) {
			*err = xasprintf("%s:%zu: column %s appears twice", c->r.path,
			    c->r.rec_line, plan_mailbox_keys[hit]);
			return -1;
		}
		c->col_of[hit] = (int)k;
	}
	for (k = 0; k < c->r.nf; k++) {
		int s;

		if (plan_csv_known(c->r.fields[k]) >= 0)
			continue;
		s = plan_suggest(c->r.fields[k], plan_mailbox_keys, COL_N);
		echo = plan_echo(c->r.fields[k]);
		if (s >= 0 && c->col_of[s] < 0) {
			*err = xasprintf("%s:%zu: unknown column \"%s\" (did you mean \"%s\"?)",
			    c->r.path, c->r.rec_line, echo, plan_mailbox_keys[s]);
			free(echo);
			free(ignored);
			return -1;
		}
		next = xasprintf("%s%s\"%s\"", ignored ? ignored : "", ignored ? ", " : "", echo);
		free(ignored);
		free(echo);
		ignored = next;
		n_ignored++;
	}
	for (col = 0; col < COL_N; col++) {
		if (c->col_of[col] < 0 && (col == COL_SOURCE_USER || col == COL_DEST_USER)) {
			*err = xasprintf("%s:%zu: missing column %s", c->r.path, c->r.rec_line,
			    plan_mailbox_keys[col]);
			free(ignored);
			return -1;
		}
	}
	if (ignored != NULL)
		csvread_warn(&c->r,
		    xasprintf("%s:%zu: ignoring %s %s (cutover reads source_user, "
		              "source_password, dest_user, dest_password)",
		        c->r.path, c->r.rec_line, n_ignored == 1 ? "column" : "columns", ignored));
	free(ignored);
	c->ncols = (int)c->r.nf;
	return 0;
}

/* Fill MB from the current record (field count already checked). */
static int
plan_csv_row(struct plan_sheet *c, struct plan_mailbox *mb, char **err)
{
	char **user[2] = {&mb->source_user, &mb->dest_user};
	char **pass[2] = {&mb->source_password, &mb->dest_password};
	char **pass_at[2] = {&mb->source_password_at, &mb->dest_password_at};
	const int ucol[2] = {COL_SOURCE_USER, COL_DEST_USER};
	const int pcol[2] = {COL_SOURCE_PASSWORD, COL_DEST_PASSWORD};
	const char *why;
	size_t s;

	mb->origin = xasprintf("%s:%zu", c->r.path, c->r.rec_line);
	for (s = 0; s < 2; s++) {
		size_t uk = (size_t)c->col_of[ucol[s]], pk;

		csvread_trim(c->r.fields[uk]);
		why = plan_user_syntax(c->r.fields[uk]);
		if (why != NULL)
			return plan_csv_fail(c, err, c->r.rec_line, uk, why);
		*user[s] = c->r.fields[uk];
		c->r.fields[uk] = NULL; /* transferred */
		*pass_at[s] =
		    xasprintf("%s:%zu: %s", c->r.path, c->r.rec_line, plan_mailbox_keys[pcol[s]]);
		if (c->col_of[pcol[s]] < 0)
			continue;
		pk = (size_t)c->col_of[pcol[s]];
		if (c->r.fields[pk][0] == '\0')
			continue;
		why = secret_syntax(c->r.fields[pk]);
		if (why != NULL)
			return plan_csv_fail(c, err, c->r.rec_line, pk, why);
		*pass[s] = c->r.fields[pk];
		c->r.fields[pk] = NULL; /* transferred */
	}
	return 0;
}

void
plan_mailbox_clear(struct plan_mailbox *mb)
{
	if (mb == NULL)
		return;
	free(mb->source_user);
	util_free_secret(mb->source_password);
	free(mb->dest_user);
	util_free_secret(mb->dest_password);
	free(mb->origin);
	free(mb->source_password_at);
	free(mb->dest_password_at);
	memset(mb, 0, sizeof(*mb));
}

const char *
plan_mailbox_label(const struct plan_mailbox *mb)
{
	return mb->source_user != NULL ? mb->source_user : "";
}

/* A record that csvread_next() refused: "users.csv:5: dest_user: <why>". */
static int
plan_sheet_record(struct plan_sheet *c, char **err)
{
	int r = csvread_next(&c->r);

	if (r < 0)
		plan_csv_fail(c, err, c->r.err_line, c->r.err_field, c->r.err_msg);
	return r;
}

int
plan_csv_parse(const char *data, size_t len, const char *path, struct plan_mailbox **out, size_t *n,
    char **warn, char **err)
{
	struct plan_sheet c;
	struct plan_mailbox *mbs = NULL;
	size_t count = 0, cap = 0, k;
	int r, rc = -1;

	*out = NULL;
	*n = 0;
	*err = NULL;
	if (warn != NULL)
		*warn = NULL;
	memset(&c, 0, sizeof(c));
	if (csvread_open(&c.r, data, len, path != NULL ? path : "mailboxes.csv", err) != 0)
		goto out;
	r = plan_sheet_record(&c, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		*err = xasprintf("%s: empty file (expected the header "
		                 "source_user,source_password,dest_user,dest_password)",
		    c.r.path);
		goto out;
	}
	if (plan_csv_header(&c, err) != 0)
		goto out;
	for (;;) {
		r = plan_sheet_record(&c, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (c.r.nf != (size_t)c.ncols) {
			if (c.r.nf < (size_t)c.ncols) {
				char *name = plan_csv_colname(&c, c.r.nf);

				*err = xasprintf(
				    "%s:%zu: expected %d fields, found %zu (%s is missing)",
				    c.r.path, c.r.rec_line, c.ncols, c.r.nf, name);
				free(name);
			} else {
				*err = xasprintf("%s:%zu: expected %d fields, found %zu (a %s "
				                 "in a value needs quotes)",
				    c.r.path, c.r.rec_line, c.ncols, c.r.nf,
				    csvread_sepname(c.r.sep));
			}
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			mbs = xrealloc(mbs, cap * sizeof(*mbs));
		}
		memset(&mbs[count], 0, sizeof(*mbs));
		count++;
		if (plan_csv_row(&c, &mbs[count - 1], err) != 0)
			goto out;
	}
	*out = mbs;
	*n = count;
	mbs = NULL; /* transferred */
	if (warn != NULL)
		*warn = csvread_take_warnings(&c.r);
	rc = 0;
out:
	if (rc != 0 && *err != NULL && c.r.sep != ',') {
		/* every message names the separator the sheet was read with */
		char *e = xasprintf("%s (fields separated by %ss)", *err, csvread_sepname(c.r.sep));

		free(*err);
		*err = e;
	}
	if (mbs != NULL) {
		for (k = 0; k < count; k++)
			plan_mailbox_clear(&mbs[k]);
		free(mbs);
	}
	csvread_close(&c.r);
	return rc;
}

int
plan_read_sheet(struct plan *p, char **err)
{
	struct plan_mailbox *rows = NULL;
	char *data = NULL, *warn = NULL;
	size_t len = 0, nrows = 0;
	int r;

	*err = NULL;
	if (p->sheet_read)
		return 0;
	if (p->mailboxes_csv != NULL) {
		const char *at = p->mailboxes_csv_at ? p->mailboxes_csv_at : p->path;

		r = secret_read_file(p->mailboxes_csv, PLAN_MAX_FILE_BYTES, &data, &len);
		if (r == -1) {
			*err = xasprintf(
			    "%s: cannot read %s: %s", at, p->mailboxes_csv, strerror(errno));
			return -1;
		}
		if (r == -2) {
			*err = xasprintf("%s: %s is larger than %u bytes", at, p->mailboxes_csv,
			    PLAN_MAX_FILE_BYTES);
			return -1;
		}
		r = plan_csv_parse(data, len, p->mailboxes_csv, &rows, &nrows, &warn, err);
		secret_wipe_free(data, len + 1);
		if (r != 0)
			return -1;
		p->warnings = warn;
		p->mailboxes =
		    xrealloc(p->mailboxes, (p->n_mailboxes + nrows + 1) * sizeof(*p->mailboxes));
		if (nrows > 0)
			memcpy(p->mailboxes + p->n_mailboxes, rows, nrows * sizeof(*rows));
		p->n_mailboxes += nrows;
		free(rows);
	}
	if (plan_check_duplicates(p->mailboxes, p->n_mailboxes, err) != 0)
		return -1;
	p->sheet_read = 1;
	return 0;
}
