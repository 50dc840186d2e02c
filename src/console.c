/* console.c - see console.h. */
#include "console.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "section.h"
#include "util.h"

static const char *const console_colors[RESULT_STATUS_COUNT] = {
	[RESULT_PASS] = "\033[32m", [RESULT_SKIP] = "\033[2m", [RESULT_WARN] = "\033[33m",
	[RESULT_FAIL] = "\033[31m", [RESULT_ERROR] = "\033[35m",
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
console_check(FILE *out, const struct result *res, int color, int verbose, int w_id,
    int w_subject)
{
	const char *side = result_side_str(res->side);
	char *subject = side != NULL ? xasprintf("%s (%s)", res->subject, side) :
	    xstrdup(res->subject);
	char *csubject = console_clean(subject), *csummary = console_clean(res->summary);

	fputs("  ", out);
	console_status(out, res->status, color);
	fprintf(out, "  %-*s  %-*s  %s\n", w_id, res->id, w_subject, csubject, csummary);
	if (res->advice != NULL && res->status != RESULT_PASS) {
		char *cadvice = console_clean(res->advice);

		fprintf(out, "  %*s  -> %s\n", 5 + w_id + 2, "", cadvice);
		free(cadvice);
	}
	/* Spooled details (src/spool.h) come back for this line only. */
	result_unspool((struct result *)(uintptr_t)res);
	console_extra(out, res, 5 + w_id + 2);
	if (verbose) {
		char *d = cJSON_PrintUnformatted(res->details);

		fprintf(out, "  %*s     %s\n", 5 + w_id + 2, "", d != NULL ? d : "{}");
		free(d);
	}
	result_drop_details((struct result *)(uintptr_t)res);
	free(csubject);
	free(csummary);
	free(subject);
}

void
console_summary(FILE *out, const struct report *rep, int color, int verbose)
{
	size_t counts[RESULT_STATUS_COUNT];
	enum result_status worst;
	int w_id = 2, w_subject = 7, first = 1;

	for (size_t i = 0; i < rep->n_results; i++) {
		const struct result *res = rep->results[i];
		const char *side = result_side_str(res->side);
		int ls = (int)strlen(res->subject) + (side != NULL ? (int)strlen(side) + 3 : 0);

		if ((int)strlen(res->id) > w_id)
			w_id = (int)strlen(res->id);
		if (ls > w_subject)
			w_subject = ls < 40 ? ls : 40;
	}
	/* Grouped like the HTML report (reports/section.h), report order within. */
	for (int s = 0; s < SECTION_COUNT; s++) {
		size_t n = 0;

		for (size_t i = 0; i < rep->n_results; i++)
			n += section_of(rep->results[i]->id) == (enum section)s;
		if (n == 0)
			continue;
		fprintf(out, "%s%s%s%s\n", first ? "" : "\n", color ? "\033[1m" : "",
		    section_title((enum section)s), color ? "\033[0m" : "");
		first = 0;
		for (size_t i = 0; i < rep->n_results; i++) {
			const struct result *res = rep->results[i];

			if (section_of(res->id) == (enum section)s)
				console_check(out, res, color, verbose, w_id, w_subject);
		}
	}
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
		      "unencrypted\n", out);
	if (rep->allow_old_tls)
		fputs("  note: --allow-old-tls was given: passwords may have crossed the network "
		      "over TLS 1.0/1.1\n", out);
}
