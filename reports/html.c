/*
 * html.c - the report as one self-contained HTML page (see html.h).
 *
 * Layout, top to bottom: what was checked (domain, plan, when, command), the
 * overall status and the counts, "Fix first" (fail and error, then warn,
 * each with its advice), then one section per reports/section.h group that
 * has checks: DNS, Propagation, Connectivity, Mailboxes, Web, Sync, Other.
 *
 * The page is put together here; the check cards are in html_cards.c, and
 * every byte of both goes through html_out.h, whose one escaping function
 * every value of the report passes (attributes included). The stylesheet
 * and the script are reports/assets/report.{css,js}, compiled in by the
 * Makefile (assets.h); the Content-Security-Policy admits the script by the
 * SHA-256 of those embedded bytes, computed here.
 */
#include "html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "assets.h"
#include "html_p.h"
#include "section.h"
#include "src/util.h"

#ifndef CUTOVER_VERSION
#define CUTOVER_VERSION "0.0.0"
#endif

#define HTML_MAX_FIX_FIRST 12 /* entries of "Fix first" */

/* ---- page ----------------------------------------------------------------- */

/* 'sha256-BASE64' of the script, for the Content-Security-Policy. */
static void
html_script_hash(char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int mdlen = 0;

	if (EVP_Digest(html_js, html_js_len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		snprintf(out, len, "'none'");
		return;
	}
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, len, "'sha256-%s'", (const char *)b64);
}

static const char *
html_command_title(const char *command)
{
	if (command == NULL)
		return "cutover report";
	if (strcmp(command, "audit") == 0)
		return "Readiness audit";
	if (strcmp(command, "dns") == 0)
		return "DNS check";
	if (strcmp(command, "propagation") == 0)
		return "DNS propagation";
	if (strcmp(command, "sync") == 0)
		return "Sync";
	return "cutover report";
}

/* The domain the run was about: the subject of its first dns.* check. */
static const char *
html_domain(const struct report *rep)
{
	for (size_t i = 0; i < rep->n_results; i++)
		if (strncmp(rpt_at(rep, i, 1)->id, "dns.", 4) == 0 &&
		    rpt_at(rep, i, 1)->subject[0] != '\0')
			return rpt_at(rep, i, 1)->subject;
	if (rep->command != NULL &&
	    (strcmp(rep->command, "dns") == 0 || strcmp(rep->command, "propagation") == 0))
		return rep->target;
	return NULL;
}

static void
html_head(struct html *h, const char *domain, enum result_status worst)
{
	const struct report *rep = h->rep;
	char hash[128];

	html_script_hash(hash, sizeof(hash));
	html_lit(h,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"color-scheme\" content=\"light dark\">\n");
	html_fmt(h,
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "style-src 'unsafe-inline'; script-src %s; base-uri 'none'; form-action 'none'\">\n",
	    hash);
	html_lit(h, "<meta name=\"generator\" content=\"cutover " CUTOVER_VERSION "\">\n<title>");
	html_lit(h, html_command_title(rep->command));
	if (domain != NULL || rep->target != NULL) {
		html_lit(h, ": ");
		html_text(h, domain != NULL ? domain : rep->target);
	}
	html_fmt(h, " (%s)</title>\n<style>\n", html_status_label(worst));
	html_litn(h, html_css, html_css_len);
	html_lit(h, "</style>\n</head>\n<body>\n");
}

static void
html_header(struct html *h, const char *domain, const size_t counts[RESULT_STATUS_COUNT],
    enum result_status worst, const size_t per_section[SECTION_COUNT])
{
	static const enum result_status order[] = {
	    RESULT_PASS,
	    RESULT_WARN,
	    RESULT_FAIL,
	    RESULT_ERROR,
	    RESULT_SKIP,
	};
	const struct report *rep = h->rep;
	char when[32];

	util_iso8601(rep->started_at, when, sizeof(when));
	html_lit(h, "<header>\n<h1>");
	html_lit(h, html_command_title(rep->command));
	if (domain != NULL) {
		html_lit(h, ": <span id=\"domain\">");
		html_text(h, domain);
		html_lit(h, "</span>");
	}
	html_lit(h, "</h1>\n<p class=\"meta\">");
	if (rep->target != NULL && (domain == NULL || strcmp(rep->target, domain) != 0)) {
		html_lit(h,
		    rep->command != NULL &&
		            (strcmp(rep->command, "audit") == 0 ||
		                strcmp(rep->command, "sync") == 0)
		        ? "Plan <b>"
		        : "Target <b>");
		html_text(h, rep->target);
		html_lit(h, "</b> &middot; ");
	}
	html_lit(h, "Command <b>cutover ");
	html_text(h, rep->command);
	html_lit(h, "</b> &middot; Started <b><time datetime=\"");
	html_text(h, when);
	html_lit(h, "\">");
	if (strlen(when) == 20) { /* 2026-11-22T10:00:00Z -> 2026-11-22 10:00 UTC */
		char shown[24];

		snprintf(shown, sizeof(shown), "%.10s %.5s UTC", when, when + 11);
		html_text(h, shown);
	} else {
		html_text(h, when);
	}
	html_lit(h, "</time></b> &middot; Took <b>");
	html_duration(h, rep->duration_ms);
	html_lit(h, "</b> &middot; cutover " CUTOVER_VERSION "</p>\n");
	if (rep->insecure)
		html_lit(h,
		    "<p class=\"banner\">Run with <code>--insecure</code>: TLS certificates "
		    "were not required to verify.</p>\n");
	if (rep->allow_plaintext)
		html_lit(h,
		    "<p class=\"banner\">Run with <code>--allow-plaintext</code>: servers "
		    "were allowed without TLS.</p>\n");
	if (rep->allow_old_tls)
		html_lit(h,
		    "<p class=\"banner\">Run with <code>--allow-old-tls</code>: passwords "
		    "were allowed over TLS 1.0/1.1.</p>\n");
	html_fmt(h,
	    "<div class=\"overall st-%s\" id=\"overall\" data-status=\"%s\">"
	    "<span class=\"big\">%s</span><span>",
	    result_status_str(worst), result_status_str(worst), html_status_label(worst));
	html_fmt(h, "%zu check%s</span><ul class=\"counts\" id=\"counts\">", rep->n_results,
	    rep->n_results == 1 ? "" : "s");
	for (size_t i = 0; i < UTIL_ARRAY_LEN(order); i++)
		html_fmt(h,
		    "<li class=\"st-%s\"><span class=\"n\" data-count=\"%s\">%zu</span> %s"
		    "</li>",
		    result_status_str(order[i]), result_status_str(order[i]), counts[order[i]],
		    result_status_str(order[i]));
	html_lit(h, "</ul></div>\n<nav>");
	for (int s = 0; s < SECTION_COUNT; s++)
		if (per_section[s] > 0)
			html_fmt(h, "<a href=\"#%s\">%s (%zu)</a>", section_slug((enum section)s),
			    section_title((enum section)s), per_section[s]);
	html_lit(h, "</nav>\n</header>\n");
}

static int
html_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Fail and error first, then warn, each with its advice. Mailbox checks with
 * the same id, side, status and advice (one server down makes every login
 * fail alike) are one entry naming how many mailboxes it is about.
 */
static void
html_fix_first(struct html *h)
{
	static const enum result_status order[] = {RESULT_FAIL, RESULT_ERROR, RESULT_WARN};
	const struct report *rep = h->rep;
	unsigned char *used = xcalloc(rep->n_results + 1, 1);
	size_t shown = 0, total = 0, covered = 0;

	for (size_t i = 0; i < rep->n_results; i++) {
		enum result_status st = html_status(rpt_at(rep, i, 1));

		total += st == RESULT_FAIL || st == RESULT_ERROR || st == RESULT_WARN;
	}
	html_lit(h, "<section id=\"fix-first\">\n<h2>Fix first</h2>\n");
	if (total == 0) {
		html_lit(
		    h, "<p>Nothing to fix: every check passed or was skipped.</p>\n</section>\n");
		free(used);
		return;
	}
	html_lit(h, "<ol class=\"fix\">\n");
	for (size_t o = 0; o < UTIL_ARRAY_LEN(order); o++)
		for (size_t i = 0; i < rep->n_results && shown < HTML_MAX_FIX_FIRST; i++) {
			const struct result *res = rpt_at(rep, i, 1);
			size_t same = 0;

			if (html_status(res) != order[o] || used[i])
				continue;
			if (section_of(res->id) == SECTION_MAILBOXES)
				for (size_t j = i + 1; j < rep->n_results; j++) {
					const struct result *o2 = rpt_at(rep, j, 1);

					if (!used[j] && html_status(o2) == order[o] &&
					    o2->side == res->side && strcmp(o2->id, res->id) == 0 &&
					    html_same_str(o2->advice, res->advice)) {
						used[j] = 1;
						same++;
					}
				}
			used[i] = 1;
			covered += same + 1;
			html_fmt(h, "<li class=\"st-%s\">", result_status_str(order[o]));
			html_badge(h, order[o]);
			html_fmt(h, " <a href=\"#c-%zu\">", i);
			html_text_wrap(h, res->summary);
			html_lit(h, "</a> <span class=\"muted\">");
			html_text(h, res->id);
			html_lit(h, " &middot; ");
			html_text_wrap(h, res->subject);
			if (same > 0)
				html_fmt(h, " and %zu more mailbox%s", same, same == 1 ? "" : "es");
			if (result_side_str(res->side) != NULL) {
				html_lit(h, " (");
				html_text(h, result_side_str(res->side));
				html_lit(h, ")");
			}
			html_lit(h, "</span>");
			if (res->advice != NULL) {
				html_lit(h, "<p class=\"advice\">");
				html_text_wrap(h, res->advice);
				html_lit(h, "</p>");
			}
			html_lit(h, "</li>\n");
			shown++;
		}
	html_lit(h, "</ol>\n");
	if (total > covered)
		html_fmt(h, "<p class=\"muted\">and %zu more below.</p>\n", total - covered);
	html_lit(h, "</section>\n");
	free(used);
}

char *
html_render(const struct report *rep)
{
	struct html h;
	struct html_item *by[SECTION_COUNT];
	size_t n[SECTION_COUNT], counts[RESULT_STATUS_COUNT];
	enum result_status worst;
	const char *domain = html_domain(rep);

	memset(&h, 0, sizeof(h));
	h.rep = rep;
	rpt_counts(rep, counts, &worst);
	for (int s = 0; s < SECTION_COUNT; s++) {
		by[s] = xcalloc(rep->n_results + 1, sizeof(*by[s]));
		n[s] = 0;
	}
	for (size_t i = 0; i < rep->n_results; i++) {
		enum section s = section_of(rpt_at(rep, i, 1)->id);

		by[s][n[s]].res = rpt_at(rep, i, 1);
		by[s][n[s]].idx = i;
		n[s]++;
	}

	html_head(&h, domain, worst);
	html_header(&h, domain, counts, worst, n);
	html_lit(&h, "<main>\n");
	html_fix_first(&h);
	for (int s = 0; s < SECTION_COUNT; s++) {
		if (n[s] == 0)
			continue;
		html_fmt(&h, "<section id=\"%s\">\n<h2>%s</h2>\n", section_slug((enum section)s),
		    section_title((enum section)s));
		switch ((enum section)s) {
		case SECTION_DNS:
			for (size_t i = 0; i < n[s]; i++)
				html_card_dns(&h, &by[s][i]);
			break;
		case SECTION_PROPAGATION:
			for (size_t i = 0; i < n[s]; i++)
				html_card_propagation(&h, &by[s][i]);
			break;
		case SECTION_CONNECTIVITY: html_section_connectivity(&h, by[s], n[s]); break;
		case SECTION_MAILBOXES: html_section_mailboxes(&h, by[s], n[s]); break;
		case SECTION_WEB:
			for (size_t i = 0; i < n[s]; i++)
				html_card_web(&h, &by[s][i]);
			break;
		default:
			for (size_t i = 0; i < n[s]; i++) {
				html_card_open(&h, &by[s][i]);
				html_card_close(&h, &by[s][i]);
			}
			break;
		}
		html_lit(&h, "</section>\n");
	}
	html_lit(&h,
	    "</main>\n<footer>Generated by cutover " CUTOVER_VERSION ". The same "
	    "results are in the JSON report (reports/SCHEMA.md); this page needs no network "
	    "and works without JavaScript.</footer>\n<script>");
	html_litn(&h, html_js, html_js_len);
	html_lit(&h, "</script>\n</body>\n</html>\n");
	for (int s = 0; s < SECTION_COUNT; s++)
		free(by[s]);
	rpt_unload(rep); /* the copies rpt_at read back for the page */
	return h.p;
}

/* ---- writing -------------------------------------------------------------- */

int
html_write(const struct report *rep, const char *path, char **err)
{
	char *text = html_render(rep);
	int rc = util_write_file(path, text, strlen(text), "HTML report", err);

	free(text);
	return rc;
}
