/* csv.c - see csv.h. */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "section.h"
#include "src/strbuf.h"
#include "src/util.h"

/* The most a sheet may hold: far above any plan's mailboxes (the plan file
 * itself is at most 16 MiB), so only a runaway ends here. */
#define CSV_MAX_BYTES (1024u * 1024u * 1024u)
/* The login cell: "imap ok; pop3 auth_failed" (a result word each). */
#define CSV_LOGIN_MAX 4096

/* One cell (after a separator unless FIRST): quoted when needed, formulas defused. */
static void
csv_cell(struct strbuf *b, const char *v, int first)
{
	int quote;

	if (!first)
		strbuf_append(b, ",", 1);
	if (v == NULL)
		v = "";
	quote = strpbrk(v, ",\"\r\n") != NULL;
	if (quote)
		strbuf_append(b, "\"", 1);
	if (strchr("=+-@\t\r", v[0]) != NULL && v[0] != '\0')
		strbuf_append(b, "'", 1);
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '"')
			strbuf_append(b, "\"", 1);
		strbuf_append(b, p, 1);
	}
	if (quote)
		strbuf_append(b, "\"", 1);
}

/* A number cell, or "unknown" when HAVE is 0. */
static void
csv_num(struct strbuf *b, int have, double v)
{
	char buf[48];

	if (!have) {
		csv_cell(b, "unknown", 0);
		return;
	}
	snprintf(buf, sizeof(buf), "%.0f", v);
	csv_cell(b, buf, 0);
}

static int
csv_get_num(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v))
		return 0;
	*out = v->valuedouble;
	return 1;
}

/* A result that was really checked (not an error or a skip standing in). */
static int
csv_read(const struct result *res)
{
	return res != NULL && res->status != RESULT_ERROR && res->status != RESULT_SKIP;
}

/* A mailbox check (read back without its details: owned) with the row
 * side it counts on and its report position. */
struct csv_item {
	struct result *res;
	enum result_side side;
	size_t idx;
};

/* The rows: a (user, side) and its results. */
struct csv_row {
	const char *user;
	enum result_side side;
	const struct csv_item *items; /* its N checks, in the sorted items */
	const struct result **res;    /* the same read back in full, while written */
	size_t n;
	size_t first; /* report position of its first check */
};

static const struct result *
csv_find(const struct csv_row *row, const char *id)
{
	for (size_t i = 0; i < row->n; i++)
		if (strcmp(row->res[i]->id, id) == 0)
			return row->res[i];
	return NULL;
}

static int
csv_mailbox_check(const struct result *res)
{
	enum section s = section_of(res->id);

	return s == SECTION_MAILBOXES || s == SECTION_SYNC;
}

static void
csv_row_out(struct strbuf *b, const struct csv_row *row)
{
	const struct result *folders = csv_find(row, "mailbox.folders");
	const struct result *items = csv_find(row, "mailbox.folder_items");
	const struct result *names = csv_find(row, "mailbox.folder_names");
	const struct result *large = csv_find(row, "mailbox.large_messages");
	const struct result *quota = csv_find(row, "mailbox.quota");
	const struct result *sync = csv_find(row, "sync.mailbox");
	const cJSON *fl = NULL, *f, *arr;
	enum result_status worst = RESULT_PASS;
	struct strbuf login;
	const char *largest = NULL;
	double v = 0, big = -1;
	int have;

	strbuf_init(&login, CSV_LOGIN_MAX);
	for (size_t i = 0; i < row->n; i++) {
		const struct result *res = row->res[i];
		size_t l = strlen(res->id);

		worst = i == 0 ? res->status : result_worse(worst, res->status);
		if (l > 6 && strcmp(res->id + l - 6, ".login") == 0) {
			const cJSON *what =
			    cJSON_GetObjectItemCaseSensitive(res->details, "result");
			strbuf_appendf(&login, "%s%.*s %s", login.len > 0 ? "; " : "", (int)(l - 6),
			    res->id,
			    cJSON_IsString(what) ? what->valuestring
			                         : result_status_str(res->status));
		}
	}
	csv_cell(b, row->user, 1);
	csv_cell(b, result_side_str(row->side) ? result_side_str(row->side) : "", 0);
	csv_cell(b, login.len > 0 ? strbuf_str(&login) : "unknown", 0);
	strbuf_free(&login);
	if (csv_read(folders)) {
		fl = cJSON_GetObjectItemCaseSensitive(folders->details, "folders");
		if (!cJSON_IsArray(fl))
			fl = NULL;
	}
	csv_num(b, fl != NULL, fl != NULL ? cJSON_GetArraySize(fl) : 0);
	have = fl != NULL && csv_get_num(folders->details, "total_messages", &v);
	csv_num(b, have, v);
	have = fl != NULL && csv_get_num(folders->details, "total_bytes", &v);
	csv_num(b, have, v);
	cJSON_ArrayForEach(f, fl)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");

		if (csv_get_num(f, "messages", &v) && v > big && cJSON_IsString(name)) {
			big = v;
			largest = name->valuestring;
		}
	}
	csv_cell(b, largest != NULL ? largest : "unknown", 0);
	csv_num(b, largest != NULL, big);
	arr = csv_read(items) ? cJSON_GetObjectItemCaseSensitive(items->details, "over") : NULL;
	csv_num(b, cJSON_IsArray(arr), cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0);
	arr = csv_read(names) ? cJSON_GetObjectItemCaseSensitive(names->details, "problems") : NULL;
	csv_num(b, cJSON_IsArray(arr), cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0);
	have = csv_read(large) && csv_get_num(large->details, "count", &v);
	csv_num(b, have, v);
	have = csv_read(quota) && csv_get_num(quota->details, "ratio", &v);
	csv_num(b, have, v * 100);
	if (sync != NULL) {
		const char *keys[] = {"copied", "moved", "deleted", "errors"};

		for (size_t k = 0; k < 4; k++) {
			have = csv_get_num(sync->details, keys[k], &v);
			/* moved/deleted are written only by a sync that propagates them */
			if (!have && k > 0 && k < 3 && sync->status != RESULT_ERROR) {
				have = 1;
				v = 0;
			}
			csv_num(b, have, v);
		}
	} else {
		for (size_t k = 0; k < 4; k++)
			csv_cell(b, "", 0);
	}
	csv_cell(b, result_status_str(worst), 0);
	strbuf_append(b, "\r\n", 2);
}

static int
csv_cmp_item(const void *a, const void *b)
{
	const struct csv_item *x = a, *y = b;
	int c = strcmp(x->res->subject, y->res->subject);

	if (c == 0)
		c = (int)x->side - (int)y->side;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/* Rows in the order their first check appears in the report. */
static int
csv_cmp_row(const void *a, const void *b)
{
	const struct csv_row *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Write ROW, its checks read back in full for it only. */
static void
csv_row_write(struct strbuf *b, const struct report *rep, struct csv_row *row)
{
	struct result **full = xcalloc(row->n + 1, sizeof(*full));

	for (size_t i = 0; i < row->n; i++)
		full[i] = rpt_get(rep, row->items[i].idx);
	row->res = (const struct result **)full;
	csv_row_out(b, row);
	for (size_t i = 0; i < row->n; i++)
		result_free(full[i]);
	free(full);
	row->res = NULL;
}

char *
csv_render(const struct report *rep)
{
	static const char header[] =
	    "\xef\xbb\xbfuser,side,login,folders,items,bytes,largest_folder,largest_folder_items,"
	    "folders_over_limit,name_problems,large_messages,quota_percent,sync_copied,"
	    "sync_moved,sync_deleted,sync_errors,status\r\n";
	struct strbuf b;
	struct csv_item *items = xcalloc(rep->n_results + 1, sizeof(*items));
	struct csv_row *rows = xcalloc(rep->n_results + 1, sizeof(*rows));
	size_t n_items = 0, n = 0;

	strbuf_init(&b, CSV_MAX_BYTES);
	strbuf_append(&b, header, sizeof(header) - 1);
	/* The results wait in the report's spool: what sorting needs first. */
	for (size_t i = 0; i < rep->n_results; i++) {
		struct result *res = rpt_get_brief(rep, i);

		if (!csv_mailbox_check(res)) {
			result_free(res);
			continue;
		}
		items[n_items].res = res;
		items[n_items].side =
		    res->side == RESULT_SIDE_NONE ? RESULT_SIDE_SOURCE : res->side;
		items[n_items].idx = i;
		n_items++;
	}
	/* sort by (subject, side, position) so that each row is one run */
	qsort(items, n_items, sizeof(*items), csv_cmp_item);
	for (size_t i = 0; i < n_items; i++) {
		if (n == 0 || rows[n - 1].side != items[i].side ||
		    strcmp(rows[n - 1].user, items[i].res->subject) != 0) {
			rows[n].user = items[i].res->subject;
			rows[n].side = items[i].side;
			rows[n].items = &items[i];
			rows[n].first = items[i].idx;
			n++;
		}
		rows[n - 1].n++;
	}
	qsort(rows, n, sizeof(*rows), csv_cmp_row);
	for (size_t r = 0; r < n && !b.over; r++)
		csv_row_write(&b, rep, &rows[r]);
	free(rows);
	for (size_t i = 0; i < n_items; i++)
		result_free(items[i].res);
	free(items);
	if (b.over) {
		strbuf_free(&b);
		return NULL;
	}
	return strbuf_take(&b);
}

int
csv_write(const struct report *rep, const char *path, char **err)
{
	char *text = csv_render(rep);
	int rc;

	if (text == NULL) {
		*err = xasprintf(
		    "cannot write the CSV report %s: larger than %u bytes", path, CSV_MAX_BYTES);
		return -1;
	}
	rc = util_write_file(path, text, strlen(text), "the CSV report", err);
	free(text);
	return rc;
}
