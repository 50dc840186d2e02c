/* console.c - see console.h. */
#include "console.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks/check.h"
#include "section.h"
#include "src/strbuf.h"
#include "src/util.h"

static const char *const console_colors[RESULT_STATUS_COUNT] = {
    [RESULT_PASS] = "\033[32m",
    [RESULT_SKIP] = "\033[2m",
    [RESULT_WARN] = "\033[33m",
    [RESULT_FAIL] = "\033[31m",
    [RESULT_ERROR] = "\033[35m",
};

int
console_use_color(FILE *out)
{
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && *nc != '\0')
		return 0;
	return isatty(fileno(out));
}

/* Lines a check module adds under its result (struct check.console_lines). */
static void
console_extra(FILE *out, const struct result *res, int indent)
{
	const struct check *const *reg = check_registry();
	char *text = NULL;

	for (size_t i = 0; reg[i] != NULL; i++)
		if (strcmp(reg[i]->id, res->id) == 0 && reg[i]->console_lines != NULL)
			text = reg[i]->console_lines(res);
	for (const char *p = text; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "\n");

		fprintf(out, "  %*s     %.*s\n", indent, "", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
	free(text);
}

static void
console_status(FILE *out, enum result_status st, int color)
{
	char label[8];
	size_t i;

	for (i = 0; result_status_str(st)[i] != '\0' && i < sizeof(label) - 1; i++)
		label[i] = (char)(result_status_str(st)[i] - 'a' + 'A');
	label[i] = '\0';
	if (color)
		fprintf(out, "%s%-5s\033[0m", console_colors[st], label);
	else
		fprintf(out, "%-5s", label);
}

/* S with control characters (a server's ESC sequences, CR) as '?'. Caller frees. */
static char *
console_clean(const char *s)
{
	char *c = xstrdup(s != NULL ? s : "");

	for (unsigned char *p = (unsigned char *)c; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

static void
console_check(FILE *out, const struct report *rep, size_t idx, int color, int verbose, int w_id,
    int w_subject)
{
	/* Read back with its details for this line only. */
	struct result *res = rpt_get(rep, idx);
	const char *side = result_side_str(res->side);
	char *subject =
	    side != NULL ? xasprintf("%s (%s)", res->subject, side) : xstrdup(res->subject);
	char *csubject = console_clean(subject), *csummary = console_clean(res->summary);

	fputs("  ", out);
	console_status(out, res->status, color);
	fprintf(out, "  %-*s  %-*s  %s\n", w_id, res->id, w_subject, csubject, csummary);
	if (res->advice != NULL && res->status != RESULT_PASS) {
		char *cadvice = console_clean(res->advice);

		fprintf(out, "  %*s  -> %s\n", 5 + w_id + 2, "", cadvice);
		free(cadvice);
	}
	console_extra(out, res, 5 + w_id + 2);
	if (verbose) {
		char *d = cJSON_PrintUnformatted(res->details);

		fprintf(out, "  %*s     %s\n", 5 + w_id + 2, "", d != NULL ? d : "{}");
		free(d);
	}
	free(csubject);
	free(csummary);
	free(subject);
	result_free(res);
}

/*
 * Grouping: results of one section with the same status, side and summary
 * (a "not tried: same cause as N others: " prefix left out) are one line when
 * there are several of them and they did not pass: 200 mailboxes behind one
 * dead server, or the checks of one mailbox skipped because its login failed,
 * each say what happened once, like the HTML report's grouped causes.
 */
/* The ids a group line names (at most 6 check ids, ", " between). */
#define CONSOLE_IDS_MAX 1024
#define CONSOLE_NOT_TRIED "not tried: same cause as "

struct console_item {
	struct result *res; /* read back without its details (owned) */
	const char *cause;  /* the summary without the not-tried part */
	char *own;          /* CAUSE when allocated */
	size_t idx;         /* report position */
	size_t group;       /* report position of the group's first item */
	size_t n;           /* in the first item: the group's size */
};

/*
 * SUMMARY without a "not tried: same cause as N others: " part (N differs
 * from one result to the next). Returns SUMMARY itself when there is none,
 * else a new string in *FREE_ME (caller frees).
 */
static const char *
console_cause(const char *summary, char **free_me)
{
	const char *p = strstr(summary, CONSOLE_NOT_TRIED), *q;

	*free_me = NULL;
	if (p == NULL)
		return summary;
	q = strstr(p, " others: ");
	if (q == NULL)
		return summary;
	*free_me = xasprintf("%.*s%s", (int)(p - summary), summary, q + 9);
	return *free_me;
}

static int
console_cmp_item(const void *a, const void *b)
{
	const struct console_item *x = a, *y = b;
	enum section sx = section_of(x->res->id), sy = section_of(y->res->id);
	int c;

	if (sx != sy)
		return (int)sx - (int)sy;
	if (x->res->status != y->res->status)
		return (int)x->res->status - (int)y->res->status;
	if (x->res->side != y->res->side)
		return (int)x->res->side - (int)y->res->side;
	c = strcmp(x->cause, y->cause);
	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
console_cmp_idx(const void *a, const void *b)
{
	const struct console_item *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Only a result that did not pass, of a per-mailbox section, may share a
 * line with others: a domain's checks stay one a line. */
static int
console_groupable(enum section sec, enum result_status st)
{
	return st != RESULT_PASS && (sec == SECTION_MAILBOXES || sec == SECTION_SYNC);
}

/* Give the N items IT (in report order, see console_groupable) their groups
 * (see above); they are in report order again after. */
static void
console_group(struct console_item *it, size_t n)
{
	if (n == 0)
		return; /* IT may be NULL, which qsort must not get */
	for (size_t i = 0; i < n; i++)
		it[i].cause = console_cause(it[i].res->summary, &it[i].own);
	qsort(it, n, sizeof(*it), console_cmp_item);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		/* a run of equal (section, status, side, cause) */
		while (j < n && section_of(it[j].res->id) == section_of(it[i].res->id) &&
		    it[j].res->status == it[i].res->status && it[j].res->side == it[i].res->side &&
		    strcmp(it[j].cause, it[i].cause) == 0)
			j++;
		/* sorted by position within the run: it[i] comes first in the report */
		for (size_t k = i; k < j; k++)
			it[k].group = it[i].idx;
		it[i].n = j - i;
		i = j;
	}
	qsort(it, n, sizeof(*it), console_cmp_idx);
}

/* The item of report position IDX among the N of IT (report order), or NULL. */
static struct console_item *
console_item_at(struct console_item *it, size_t n, size_t idx)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (it[mid].idx == idx)
			return &it[mid];
		if (it[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
console_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One line for the N results of the group whose first item is IT[FIRST]
 * (IT: N_ITEMS in report order). */
static void
console_group_line(FILE *out, const struct console_item *it, size_t n_items, size_t first, size_t n,
    int color, int w_id, int w_subject)
{
	size_t group = it[first].idx;
	const struct result *res = it[first].res;
	const char *side = result_side_str(res->side);
	struct strbuf ids;
	char *subject, *csubject, *ccause;
	size_t subjects = 0, not_tried = 0, n_ids = 0, m = 0;
	char family[64] = "";
	const char **names = xcalloc(n + 1, sizeof(*names));

	strbuf_init(&ids, CONSOLE_IDS_MAX);
	for (size_t i = first; i < n_items; i++) {
		const struct result *r = it[i].res;

		if (it[i].group != group)
			continue;
		names[m++] = r->subject;
		not_tried += it[i].cause != r->summary;
		if (strstr(strbuf_str(&ids), r->id) == NULL && n_ids < 6 &&
		    strbuf_appendf(&ids, "%s%s", ids.len > 0 ? ", " : "", r->id) == 0)
			n_ids++;
	}
	/* several ids: "mailbox.*" when they share their first part */
	if (n_ids > 1) {
		size_t dot = strcspn(res->id, ".");

		snprintf(family, sizeof(family), "%.*s.*", (int)dot, res->id);
		for (size_t i = first; i < n_items; i++)
			if (it[i].group == group && strncmp(it[i].res->id, res->id, dot + 1) != 0)
				snprintf(family, sizeof(family), "(several)");
	}
	qsort(names, m, sizeof(*names), console_cmp_str);
	for (size_t i = 0; i < m; i++)
		subjects += i == 0 || strcmp(names[i], names[i - 1]) != 0;
	free(names);
	if (subjects <= 1)
		subject =
		    side != NULL ? xasprintf("%s (%s)", res->subject, side) : xstrdup(res->subject);
	else {
		enum section sec = section_of(res->id);
		const char *what =
		    sec == SECTION_MAILBOXES || sec == SECTION_SYNC ? "mailboxes" : "subjects";

		subject = side != NULL ? xasprintf("%zu %s (%s)", subjects, what, side)
		                       : xasprintf("%zu %s", subjects, what);
	}
	csubject = console_clean(subject);
	ccause = console_clean(it[first].cause);
	fputs("  ", out);
	console_status(out, res->status, color);
	fprintf(out, "  %-*s  %-*s  %s", w_id, n_ids > 1 ? family : res->id, w_subject, csubject,
	    ccause);
	fprintf(out, " (%zu results", n);
	if (not_tried > 0)
		fprintf(out, ", %zu not tried: same cause", not_tried);
	fputs(")\n", out);
	if (n_ids > 1)
		fprintf(out, "  %*s     ids: %s\n", 5 + w_id + 2, "", strbuf_str(&ids));
	if (subjects > 1) {
		char *cfirst = console_clean(res->subject);

		fprintf(out, "  %*s     first: %s\n", 5 + w_id + 2, "", cfirst);
		free(cfirst);
	}
	if (res->advice != NULL) {
		char *cadvice = console_clean(res->advice);

		fprintf(out, "  %*s  -> %s\n", 5 + w_id + 2, "", cadvice);
		free(cadvice);
	}
	strbuf_free(&ids);
	free(subject);
	free(csubject);
	free(ccause);
}

/* What the summary needs before its first line, in one pass over the
 * results (read back one at a time). */
struct console_scan {
	int w_id, w_subject;
	unsigned char *sec;          /* per result: its section */
	size_t n_sec[SECTION_COUNT]; /* results per section */
	struct console_item *items;  /* those that may share a line (kept) */
	size_t n_items;
};

static void
console_scan(const struct report *rep, int verbose, struct console_scan *sc)
{
	size_t cap = 0;

	memset(sc, 0, sizeof(*sc));
	sc->w_id = 2;
	sc->w_subject = 7;
	sc->sec = xmalloc(rep->n_results + 1);
	for (size_t i = 0; i < rep->n_results; i++) {
		struct result *res = rpt_get_brief(rep, i);
		const char *side = result_side_str(res->side);
		int ls = (int)strlen(res->subject) + (side != NULL ? (int)strlen(side) + 3 : 0);
		enum section sec = section_of(res->id);

		if ((int)strlen(res->id) > sc->w_id)
			sc->w_id = (int)strlen(res->id);
		if (ls > sc->w_subject)
			sc->w_subject = ls < 40 ? ls : 40;
		sc->sec[i] = (unsigned char)sec;
		sc->n_sec[sec]++;
		if (verbose || !console_groupable(sec, res->status)) {
			result_free(res);
			continue;
		}
		if (sc->n_items == cap) {
			cap = cap ? cap * 2 : 64;
			sc->items = xrealloc(sc->items, cap * sizeof(*sc->items));
		}
		memset(&sc->items[sc->n_items], 0, sizeof(*sc->items));
		sc->items[sc->n_items].res = res;
		sc->items[sc->n_items].idx = i;
		sc->n_items++;
	}
	console_group(sc->items, sc->n_items);
}

void
console_summary(FILE *out, const struct report *rep, int color, int verbose)
{
	struct console_scan sc;
	size_t counts[RESULT_STATUS_COUNT];
	enum result_status worst;
	int first = 1;

	console_scan(rep, verbose, &sc);
	/* Grouped like the HTML report (reports/section.h), report order within. */
	for (int s = 0; s < SECTION_COUNT; s++) {
		if (sc.n_sec[s] == 0)
			continue;
		fprintf(out, "%s%s%s%s\n", first ? "" : "\n", color ? "\033[1m" : "",
		    section_title((enum section)s), color ? "\033[0m" : "");
		first = 0;
		for (size_t i = 0; i < rep->n_results; i++) {
			struct console_item *ci = console_item_at(sc.items, sc.n_items, i);

			if (sc.sec[i] != (unsigned char)s)
				continue;
			if (ci == NULL || console_item_at(sc.items, sc.n_items, ci->group)->n <= 1)
				console_check(out, rep, i, color, verbose, sc.w_id, sc.w_subject);
			else if (ci->group == i)
				console_group_line(out, sc.items, sc.n_items,
				    (size_t)(ci - sc.items), ci->n, color, sc.w_id, sc.w_subject);
		}
	}
	for (size_t i = 0; i < sc.n_items; i++) {
		free(sc.items[i].own);
		result_free(sc.items[i].res);
	}
	free(sc.items);
	free(sc.sec);
	rpt_counts(rep, counts, &worst);
	fputs("\n  ", out);
	console_status(out, worst, color);
	fprintf(out, "  %zu check%s: %zu pass, %zu warn, %zu fail, %zu error, %zu skip (%.1f s)\n",
	    rep->n_results, rep->n_results == 1 ? "" : "s", counts[RESULT_PASS],
	    counts[RESULT_WARN], counts[RESULT_FAIL], counts[RESULT_ERROR], counts[RESULT_SKIP],
	    rep->duration_ms / 1000.0);
	if (rep->insecure)
		fputs("  note: --insecure was given: TLS certificates were not verified\n", out);
	if (rep->allow_plaintext)
		fputs("  note: --allow-plaintext was given: passwords may have crossed the network "
		      "unencrypted\n",
		    out);
	if (rep->allow_old_tls)
		fputs("  note: --allow-old-tls was given: passwords may have crossed the network "
		      "over TLS 1.0/1.1\n",
		    out);
}
