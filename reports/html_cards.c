/*
 * html_cards.c - the check cards of the HTML report: each known check id's
 * view of its documented details (reports/SCHEMA.md), tolerant of missing or
 * unexpected fields, and the generic view of any details (see html.h).
 *
 * Everything is written through html_out.h: literals and number formats of
 * this file, and html_text() for every value of the report.
 */
#include "html_p.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "section.h"
#include "src/util.h"

/* Bounds that keep a page readable and its size linear in the report. */
#define HTML_MAX_DEPTH 6        /* nesting shown by the generic details view */
#define HTML_MAX_ROWS 2000      /* rows of one generic table */
#define HTML_MAX_COLUMNS 24     /* columns of one generic table */
#define HTML_MAX_SPF_DEPTH 12   /* levels of the SPF include tree */
#define HTML_FOLDER_LIMIT 10000 /* default per-folder item limit (Microsoft 365) */

/* ---- reading details (tolerant: a missing or mistyped field is NULL) ------ */

static const cJSON *
html_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *
html_str(const cJSON *obj, const char *key)
{
	const cJSON *v = html_get(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 and *OUT when OBJ.KEY is a number. */
static int
html_num(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = html_get(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return 0;
	*out = v->valuedouble;
	return 1;
}

static const cJSON *
html_arr(const cJSON *obj, const char *key)
{
	const cJSON *v = html_get(obj, key);

	return cJSON_IsArray(v) ? v : NULL;
}

/* ---- formatted values ------------------------------------------------------ */

static void
html_int(struct html *h, double v)
{
	char digits[32], out[48];
	size_t n, o = 0;
	int neg = v < 0;

	if (!isfinite(v) || fabs(v) > 9.2e18) {
		html_fmt(h, "%g", v);
		return;
	}
	snprintf(digits, sizeof(digits), "%" PRId64, (int64_t)llround(fabs(v)));
	n = strlen(digits);
	if (neg)
		out[o++] = '-';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	html_lit(h, out);
}

/* A JSON number as written: integers with separators, fractions as %g. */
static void
html_number(struct html *h, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
		html_int(h, v);
	else
		html_fmt(h, "%g", v);
}

static void
html_bytes(struct html *h, double v)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;

	if (v < 1024) {
		html_int(h, v);
		html_lit(h, " bytes");
		return;
	}
	while (v >= 1024 && u + 1 < UTIL_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	html_fmt(h, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void
html_duration(struct html *h, int64_t ms)
{
	if (ms < 1000)
		html_fmt(h, "%" PRId64 " ms", ms);
	else if (ms < 60000)
		html_fmt(h, "%.1f s", ms / 1000.0);
	else if (ms < 3600000)
		html_fmt(h, "%" PRId64 " min %" PRId64 " s", ms / 60000, (ms / 1000) % 60);
	else
		html_fmt(h, "%" PRId64 " h %" PRId64 " min", ms / 3600000, (ms / 60000) % 60);
}

const char *
html_status_label(enum result_status st)
{
	static const char *const labels[RESULT_STATUS_COUNT] = {
	    [RESULT_PASS] = "PASS",
	    [RESULT_SKIP] = "SKIP",
	    [RESULT_WARN] = "WARN",
	    [RESULT_FAIL] = "FAIL",
	    [RESULT_ERROR] = "ERROR",
	};

	return (unsigned)st < RESULT_STATUS_COUNT ? labels[st] : "ERROR";
}

enum result_status
html_status(const struct result *res)
{
	return (unsigned)res->status < RESULT_STATUS_COUNT ? res->status : RESULT_ERROR;
}

void
html_badge(struct html *h, enum result_status st)
{
	html_fmt(h, "<span class=\"badge st-%s\">%s</span>", result_status_str(st),
	    html_status_label(st));
}

/* A present value, or a dash for null / absent. */
static void
html_opt_text(struct html *h, const char *s)
{
	if (s != NULL)
		html_text(h, s);
	else
		html_lit(h, "<span class=\"none\">&mdash;</span>");
}

static void
html_opt_num(struct html *h, const cJSON *obj, const char *key)
{
	double v;

	if (html_num(obj, key, &v))
		html_number(h, v);
	else
		html_opt_text(h, NULL);
}

/* An integer without separators (ports, serials), or a dash. */
static void
html_plain_int(struct html *h, const cJSON *obj, const char *key)
{
	double v;

	if (html_num(obj, key, &v) && fabs(v) < 1e15)
		html_fmt(h, "%.0f", v);
	else
		html_opt_text(h, NULL);
}

static void
html_yes_no(struct html *h, const cJSON *v)
{
	if (cJSON_IsTrue(v))
		html_lit(h, "<span class=\"yes\">yes</span>");
	else if (cJSON_IsFalse(v))
		html_lit(h, "<span class=\"no\">no</span>");
	else
		html_opt_text(h, NULL);
}

/*
 * A bar for RATIO (0 = empty, 1 = full; clamped) with a mark at MARK (< 0:
 * none), in the colour of ST. Only numbers computed here reach the style.
 */
static void
html_bar(struct html *h, double ratio, double mark, enum result_status st)
{
	double w = ratio;

	if (!isfinite(w) || w < 0)
		w = 0;
	if (w > 1)
		w = 1;
	html_fmt(h,
	    "<span class=\"bar\"><span class=\"fill st-%s\" style=\"width:%.1f%%\">"
	    "</span>",
	    result_status_str(st), w * 100);
	if (mark >= 0 && mark <= 1)
		html_fmt(h, "<span class=\"mark\" style=\"left:%.1f%%\"></span>", mark * 100);
	html_lit(h, "</span>");
}

/* ---- the generic view of any JSON value --------------------------------------- */

static void html_value(struct html *h, const cJSON *v, int depth);

static int
html_all_objects(const cJSON *arr)
{
	const cJSON *e;

	if (cJSON_GetArraySize(arr) == 0)
		return 0;
	cJSON_ArrayForEach(e, arr) if (!cJSON_IsObject(e)) return 0;
	return 1;
}

static int
html_all_scalars(const cJSON *arr)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, arr) if (cJSON_IsObject(e) || cJSON_IsArray(e)) return 0;
	return 1;
}

/* Column names of an array of objects: the union of keys, first-seen order. */
static size_t
html_columns(const cJSON *arr, const char **cols, size_t max)
{
	const cJSON *e, *kv;
	size_t n = 0;

	cJSON_ArrayForEach(e, arr)
	{
		cJSON_ArrayForEach(kv, e)
		{
			size_t i;

			for (i = 0; i < n; i++)
				if (strcmp(cols[i], kv->string) == 0)
					break;
			if (i == n && n < max)
				cols[n++] = kv->string;
		}
	}
	return n;
}

static void
html_more_rows(struct html *h, int total, int shown, int colspan)
{
	if (total > shown) {
		html_fmt(h, "<tr><td colspan=\"%d\" class=\"more\">", colspan);
		html_int(h, total - shown);
		html_lit(h, " more rows are in the JSON report</td></tr>");
	}
}

static void
html_table_of_objects(struct html *h, const cJSON *arr, int depth)
{
	const char *cols[HTML_MAX_COLUMNS];
	size_t n = html_columns(arr, cols, HTML_MAX_COLUMNS);
	const cJSON *e;
	int rows = 0;

	html_lit(h, "<div class=\"scroll\"><table class=\"generic\"><thead><tr>");
	for (size_t i = 0; i < n; i++) {
		html_lit(h, "<th>");
		html_text(h, cols[i]);
		html_lit(h, "</th>");
	}
	html_lit(h, "</tr></thead><tbody>");
	cJSON_ArrayForEach(e, arr)
	{
		if (rows == HTML_MAX_ROWS)
			break;
		html_lit(h, "<tr>");
		for (size_t i = 0; i < n; i++) {
			const cJSON *cell = cJSON_GetObjectItemCaseSensitive(e, cols[i]);

			html_lit(h, "<td>");
			if (cell != NULL)
				html_value(h, cell, depth + 1);
			html_lit(h, "</td>");
		}
		html_lit(h, "</tr>");
		rows++;
	}
	html_more_rows(h, cJSON_GetArraySize(arr), rows, (int)(n > 0 ? n : 1));
	html_lit(h, "</tbody></table></div>");
}

static void
html_value(struct html *h, const cJSON *v, int depth)
{
	const cJSON *e;
	int i = 0;

	if (depth > HTML_MAX_DEPTH) {
		html_lit(h, "<span class=\"none\">&hellip; (see the JSON report)</span>");
		return;
	}
	if (cJSON_IsString(v)) {
		html_text_wrap(h, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		html_number(h, v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		html_yes_no(h, v);
	} else if (cJSON_IsArray(v)) {
		if (cJSON_GetArraySize(v) == 0) {
			html_lit(h, "<span class=\"none\">none</span>");
		} else if (html_all_objects(v)) {
			html_table_of_objects(h, v, depth);
		} else if (html_all_scalars(v)) {
			cJSON_ArrayForEach(e, v)
			{
				if (i == HTML_MAX_ROWS) {
					html_lit(h, ", &hellip;");
					break;
				}
				if (i++ > 0)
					html_lit(h, ", ");
				html_value(h, e, depth + 1);
			}
		} else {
			html_lit(h, "<ul class=\"plain\">");
			cJSON_ArrayForEach(e, v)
			{
				if (i++ == HTML_MAX_ROWS)
					break;
				html_lit(h, "<li>");
				html_value(h, e, depth + 1);
				html_lit(h, "</li>");
			}
			html_lit(h, "</ul>");
		}
	} else if (cJSON_IsObject(v)) {
		if (v->child == NULL) {
			html_lit(h, "<span class=\"none\">(empty)</span>");
			return;
		}
		html_lit(h, "<dl class=\"kv\">");
		cJSON_ArrayForEach(e, v)
		{
			html_lit(h, "<dt>");
			html_text(h, e->string);
			html_lit(h, "</dt><dd>");
			html_value(h, e, depth + 1);
			html_lit(h, "</dd>");
		}
		html_lit(h, "</dl>");
	} else {
		html_opt_text(h, NULL);
	}
}

/* The raw details of a check, collapsed. */
static void
html_raw_details(struct html *h, const struct result *res)
{
	if (!cJSON_IsObject(res->details) || res->details->child == NULL)
		return;
	html_lit(h, "<details class=\"raw\"><summary>All details</summary>");
	html_value(h, res->details, 0);
	html_lit(h, "</details>");
}

/* ---- check cards ------------------------------------------------------------ */

static void
html_subject(struct html *h, const struct result *res)
{
	const char *side = result_side_str(res->side);

	html_lit(h, "<span class=\"subject\">");
	html_text_wrap(h, res->subject);
	html_lit(h, "</span>");
	if (side != NULL) {
		html_lit(h, " <span class=\"side\">");
		html_text(h, side);
		html_lit(h, "</span>");
	}
}

void
html_card_open(struct html *h, const struct html_item *it)
{
	const struct result *res = it->res;
	enum result_status st = html_status(res);

	html_fmt(h,
	    "<article class=\"check st-%s\" id=\"c-%zu\" data-status=\"%s\">"
	    "<div class=\"head\">",
	    result_status_str(st), it->idx, result_status_str(st));
	html_badge(h, st);
	html_lit(h, " <code class=\"id\">");
	html_text(h, res->id);
	html_lit(h, "</code> ");
	html_subject(h, res);
	html_lit(h, "</div><p class=\"summary\">");
	html_text_wrap(h, res->summary);
	html_lit(h, "</p>");
	if (res->advice != NULL && st != RESULT_PASS) {
		html_lit(h, "<p class=\"advice\">");
		html_text_wrap(h, res->advice);
		html_lit(h, "</p>");
	}
}

void
html_card_close(struct html *h, const struct html_item *it)
{
	html_raw_details(h, it->res);
	html_lit(h, "</article>\n");
}

/* A "label: value" fact line opener/closer. */
static void
html_fact(struct html *h, const char *label)
{
	html_lit(h, "<div class=\"fact\"><span class=\"label\">");
	html_lit(h, label);
	html_lit(h, "</span> ");
}

/* ---- DNS ------------------------------------------------------------------ */

static void
html_dns_mx(struct html *h, const cJSON *d)
{
	const cJSON *recs = html_arr(d, "records"), *r;

	html_fact(h, "Provider");
	html_opt_text(h, html_str(d, "provider"));
	html_lit(h, "</div>");
	if (recs == NULL || cJSON_GetArraySize(recs) == 0)
		return;
	html_lit(h,
	    "<table class=\"facts\"><thead><tr><th>Preference</th><th>Exchange</th>"
	    "<th>TTL (s)</th></tr></thead><tbody>");
	cJSON_ArrayForEach(r, recs)
	{
		html_lit(h, "<tr><td class=\"num\">");
		html_opt_num(h, r, "preference");
		html_lit(h, "</td><td><code>");
		html_opt_text(h, html_str(r, "exchange"));
		html_lit(h, "</code></td><td class=\"num\">");
		html_opt_num(h, r, "ttl");
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table>");
}

static void
html_dns_mx_ttl(struct html *h, const cJSON *d, enum result_status st)
{
	double ttl, max;

	if (!html_num(d, "ttl", &ttl) || !html_num(d, "recommended_max", &max) || max <= 0)
		return;
	html_fact(h, "MX TTL");
	html_int(h, ttl);
	html_lit(h, " s, recommended at most ");
	html_int(h, max);
	html_lit(h, " s ");
	html_bar(h, ttl / max, -1, st);
	html_lit(h, "</div>");
}

/* One node of the SPF include tree (dns.spf details.include_tree: {domain,
 * via, record, lookups, total_lookups, error, children}) and its children. */
static void
html_spf_node(struct html *h, const cJSON *n, int depth)
{
	const cJSON *kids = html_arr(n, "children"), *k;
	const char *via = html_str(n, "via"), *err = html_str(n, "error");
	double v;

	html_lit(h, "<li><code>");
	html_opt_text(h, html_str(n, "domain"));
	html_lit(h, "</code>");
	if (via != NULL) {
		html_lit(h, " <span class=\"muted\">");
		html_text(h, via);
		html_lit(h, "</span>");
	}
	if (html_num(n, "total_lookups", &v) || html_num(n, "lookups", &v)) {
		html_lit(h, " <span class=\"pill\">");
		html_int(h, v);
		html_lit(h, v == 1 ? " lookup</span>" : " lookups</span>");
	}
	if (html_str(n, "record") != NULL) {
		html_lit(h, "<div class=\"record\"><code>");
		html_text(h, html_str(n, "record"));
		html_lit(h, "</code></div>");
	}
	if (err != NULL) {
		html_lit(h, "<div class=\"err\">");
		html_text(h, err);
		html_lit(h, "</div>");
	}
	if (kids != NULL && cJSON_GetArraySize(kids) > 0) {
		if (depth >= HTML_MAX_SPF_DEPTH) {
			html_lit(h, "<div class=\"none\">&hellip;</div>");
		} else {
			html_lit(h, "<ul class=\"tree\">");
			cJSON_ArrayForEach(k, kids) html_spf_node(h, k, depth + 1);
			html_lit(h, "</ul>");
		}
	}
	html_lit(h, "</li>");
}

static void
html_dns_spf(struct html *h, const cJSON *d, const struct result *res)
{
	const cJSON *tree = html_get(d, "include_tree"), *inc = html_arr(d, "includes"), *e;
	double lookups, voids;

	html_fact(h, "Record");
	html_lit(h, "<code>");
	html_opt_text(h, html_str(d, "record"));
	html_lit(h, "</code></div>");
	if (html_num(d, "dns_lookups", &lookups)) {
		enum result_status st = lookups > 10 ? RESULT_FAIL
		    : lookups > 8                    ? RESULT_WARN
		                                     : RESULT_PASS;

		html_fact(h, "DNS lookups");
		html_int(h, lookups);
		html_lit(h, " of 10 allowed (RFC 7208 &sect;4.6.4) ");
		html_bar(h, lookups / 10, -1, st);
		html_lit(h, "</div>");
	}
	if (html_num(d, "void_lookups", &voids)) {
		html_fact(h, "Void lookups");
		html_int(h, voids);
		html_lit(h, " of 2 allowed</div>");
	}
	if (html_get(d, "authorizes_destination") != NULL) {
		html_fact(h, "Authorizes the destination");
		html_yes_no(h, html_get(d, "authorizes_destination"));
		html_lit(h, "</div>");
	}
	if (html_str(d, "record_to_publish") != NULL) {
		html_fact(h, "Record to publish");
		html_lit(h, "<code>");
		html_text(h, html_str(d, "record_to_publish"));
		html_lit(h, "</code></div>");
	}
	if (html_str(d, "result") != NULL) {
		html_fact(h, "Result for the given IP");
		html_text(h, html_str(d, "result"));
		html_lit(h, "</div>");
	}
	if (cJSON_IsObject(tree)) {
		html_lit(h, "<div class=\"label\">Include tree</div><ul class=\"tree root\">");
		html_spf_node(h, tree, 0);
		html_lit(h, "</ul>");
	} else if (inc != NULL && cJSON_GetArraySize(inc) > 0) {
		html_lit(
		    h, "<div class=\"label\">Includes</div><ul class=\"tree root\"><li><code>");
		html_text(h, res->subject);
		html_lit(h, "</code><ul class=\"tree\">");
		cJSON_ArrayForEach(e, inc)
		{
			html_lit(h, "<li><code>");
			html_opt_text(h, cJSON_IsString(e) ? e->valuestring : NULL);
			html_lit(h, "</code></li>");
		}
		html_lit(h, "</ul></li></ul>");
	}
}

static void
html_dns_autodiscover(struct html *h, const cJSON *d)
{
	const cJSON *srv = html_arr(d, "srv");

	html_fact(h, "CNAME");
	html_lit(h, "<code>");
	html_opt_text(h, html_str(d, "cname"));
	html_lit(h, "</code></div>");
	html_fact(h, "Matches the plan");
	html_yes_no(h, html_get(d, "matches_expected"));
	html_lit(h, "</div>");
	if (srv != NULL && cJSON_GetArraySize(srv) > 0) {
		html_lit(h, "<div class=\"label\">SRV</div>");
		html_value(h, srv, 0);
	}
}

static void
html_dns_dmarc(struct html *h, const cJSON *d)
{
	html_fact(h, "Record");
	html_lit(h, "<code>");
	html_opt_text(h, html_str(d, "record"));
	html_lit(h, "</code></div>");
	html_fact(h, "Policy");
	html_opt_text(h, html_str(d, "policy"));
	html_lit(h, "</div>");
}

void
html_card_dns(struct html *h, const struct html_item *it)
{
	const struct result *res = it->res;
	const cJSON *d = res->details;

	html_card_open(h, it);
	if (strcmp(res->id, "dns.mx") == 0)
		html_dns_mx(h, d);
	else if (strcmp(res->id, "dns.mx_ttl") == 0)
		html_dns_mx_ttl(h, d, html_status(res));
	else if (strcmp(res->id, "dns.spf") == 0)
		html_dns_spf(h, d, res);
	else if (strcmp(res->id, "dns.autodiscover") == 0)
		html_dns_autodiscover(h, d);
	else if (strcmp(res->id, "dns.dmarc") == 0)
		html_dns_dmarc(h, d);
	html_card_close(h, it);
}

/* ---- propagation ---------------------------------------------------------- */

static enum result_status
html_state_status(const char *state)
{
	if (state == NULL)
		return RESULT_SKIP;
	if (strcmp(state, "match") == 0)
		return RESULT_PASS;
	if (strcmp(state, "stale") == 0)
		return RESULT_WARN;
	return RESULT_ERROR;
}

/* ISO time "2026-11-23T14:05:10Z" shown as "14:05 UTC" (report data, escaped). */
static void
html_expiry(struct html *h, const char *iso)
{
	if (iso == NULL || strlen(iso) < 16) {
		html_opt_text(h, iso);
		return;
	}
	{
		char hm[6];

		memcpy(hm, iso + 11, 5);
		hm[5] = '\0';
		html_text(h, hm);
		html_lit(h, " UTC");
	}
}

/* One resolver group: servers of one country and operator. */
struct html_group {
	const char *country; /* "" when unknown */
	const char *op;      /* "" when unknown */
	const cJSON **srv;
	size_t n, match, stale, error;
};

static int
html_group_cmp(const void *a, const void *b)
{
	const struct html_group *x = a, *y = b;
	int c;

	/* Unknown country last. */
	if ((x->country[0] == '\0') != (y->country[0] == '\0'))
		return x->country[0] == '\0' ? 1 : -1;
	c = strcmp(x->country, y->country);
	return c != 0 ? c : strcmp(x->op, y->op);
}

/*
 * The resolvers grouped by country, then operator: one row per group with
 * its counts and every server as a chip coloured by state; a stale chip
 * says when that cache expires.
 */
static void
html_prop_groups(struct html *h, const cJSON *servers)
{
	struct html_group *g = NULL;
	size_t n_g = 0, cap = 0, n_res = 0;
	const cJSON *s;

	cJSON_ArrayForEach(s, servers)
	{
		const char *role = html_str(s, "role"), *country = html_str(s, "country"),
		           *op = html_str(s, "operator"), *st = html_str(s, "state");
		size_t i;

		if (role == NULL || strcmp(role, "resolver") != 0)
			continue;
		n_res++;
		country = country != NULL ? country : "";
		op = op != NULL ? op : "";
		for (i = 0; i < n_g; i++)
			if (strcmp(g[i].country, country) == 0 && strcmp(g[i].op, op) == 0)
				break;
		if (i == n_g) {
			if (n_g == cap) {
				cap = cap ? cap * 2 : 16;
				g = xrealloc(g, cap * sizeof(*g));
			}
			memset(&g[n_g], 0, sizeof(g[0]));
			g[n_g].country = country;
			g[n_g].op = op;
			n_g++;
		}
		g[i].srv = xrealloc(g[i].srv, (g[i].n + 1) * sizeof(g[i].srv[0]));
		g[i].srv[g[i].n++] = s;
		if (st != NULL && strcmp(st, "match") == 0)
			g[i].match++;
		else if (st != NULL && strcmp(st, "stale") == 0)
			g[i].stale++;
		else
			g[i].error++;
	}
	if (n_res == 0) {
		free(g);
		return;
	}
	qsort(g, n_g, sizeof(g[0]), html_group_cmp);
	html_lit(h,
	    "<h3>Resolvers by country and operator</h3>"
	    "<div class=\"scroll\"><table class=\"groups\"><thead><tr><th>Country</th>"
	    "<th>Operator</th><th class=\"num\">New</th><th class=\"num\">Stale</th>"
	    "<th class=\"num\">Error</th><th>Servers (stale: cache "
	    "expires)</th></tr></thead><tbody>");
	for (size_t i = 0; i < n_g; i++) {
		enum result_status gst = g[i].error > 0 && g[i].match + g[i].stale == 0
		    ? RESULT_ERROR
		    : g[i].stale + g[i].error > 0 ? RESULT_WARN
		                                  : RESULT_PASS;

		html_fmt(h,
		    "<tr class=\"group st-%s\" data-match=\"%zu\" data-stale=\"%zu\" "
		    "data-error=\"%zu\" data-country=\"",
		    result_status_str(gst), g[i].match, g[i].stale, g[i].error);
		html_text(h, g[i].country);
		html_lit(h, "\" data-operator=\"");
		html_text(h, g[i].op);
		html_lit(h, "\"><td>");
		if (g[i].country[0] != '\0')
			html_text(h, g[i].country);
		else
			html_lit(h, "<span class=\"none\">unknown</span>");
		html_lit(h, "</td><td>");
		if (g[i].op[0] != '\0')
			html_text(h, g[i].op);
		else
			html_lit(h, "<span class=\"none\">unknown</span>");
		html_fmt(h,
		    "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
		    "<td class=\"num\">%zu</td><td>",
		    g[i].match, g[i].stale, g[i].error);
		for (size_t k = 0; k < g[i].n; k++) {
			const cJSON *v = g[i].srv[k];
			const char *st = html_str(v, "state"), *err = html_str(v, "error");
			const cJSON *ans = html_get(v, "answer");

			html_fmt(h, "<span class=\"srv st-%s\" title=\"",
			    result_status_str(html_state_status(st)));
			if (err != NULL) {
				html_text(h, err);
			} else if (cJSON_IsArray(ans)) {
				const cJSON *a;
				int first = 1;

				cJSON_ArrayForEach(a, ans)
				{
					if (!cJSON_IsString(a))
						continue;
					if (!first)
						html_lit(h, ", ");
					html_text(h, a->valuestring);
					first = 0;
				}
				if (first)
					html_lit(h, "no record");
			}
			html_lit(h, "\">");
			html_opt_text(h, html_str(v, "server"));
			if (st != NULL && strcmp(st, "stale") == 0 &&
			    html_str(v, "expires_at") != NULL) {
				html_lit(h, " <small>until ");
				html_expiry(h, html_str(v, "expires_at"));
				html_lit(h, "</small>");
			}
			html_lit(h, "</span> ");
		}
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></div>");
	for (size_t i = 0; i < n_g; i++)
		free(g[i].srv);
	free(g);
}

struct html_srvkey {
	const char *server, *role;
};

static int
html_srvkey_cmp(const void *a, const void *b)
{
	const struct html_srvkey *x = a, *y = b;
	int c = strcmp(x->server, y->server);

	return c != 0 ? c : strcmp(x->role, y->role);
}

/*
 * The --watch chart: the share of servers with the new answer after each
 * round, replayed from the timeline (a round's point is at its last change),
 * as inline SVG (no script). The moment propagation completed (when --then
 * ran) is marked. Every point carries its numbers in data- attributes and a
 * <title> tooltip.
 */
static void
html_prop_chart(struct html *h, const cJSON *d)
{
	const cJSON *servers = html_arr(d, "servers"), *timeline = html_arr(d, "timeline");
	const cJSON *watch = html_get(d, "watch"), *ev, *s;
	struct html_srvkey *keys = NULL;
	unsigned char *state = NULL; /* 0 unknown, 1 match, 2 other */
	size_t n = 0, matched = 0, n_pts = 0;
	double *px = NULL, *py = NULL, *pr = NULL, max_ms = 1, done_ms = -1, total;
	const double W = 640, H = 220, L = 44, R = 12, T = 12, B = 30;
	const char *outcome = html_str(watch, "outcome");
	int then = cJSON_IsTrue(html_get(watch, "then"));

	if (!cJSON_IsObject(watch) || servers == NULL || timeline == NULL)
		return;
	total = cJSON_GetArraySize(servers);
	if (total <= 0)
		return;
	keys = xcalloc((size_t)total, sizeof(*keys));
	cJSON_ArrayForEach(s, servers)
	{
		const char *srv = html_str(s, "server"), *role = html_str(s, "role");

		if (srv != NULL && role != NULL)
			keys[n++] = (struct html_srvkey){srv, role};
	}
	qsort(keys, n, sizeof(keys[0]), html_srvkey_cmp);
	state = xcalloc(n + 1, 1);
	px = xcalloc((size_t)cJSON_GetArraySize(timeline) + 2, sizeof(double));
	py = xcalloc((size_t)cJSON_GetArraySize(timeline) + 2, sizeof(double));
	pr = xcalloc((size_t)cJSON_GetArraySize(timeline) + 2, sizeof(double));
	for (ev = timeline->child; ev != NULL; ev = ev->next) {
		struct html_srvkey key = {html_str(ev, "server"), html_str(ev, "role")}, *hit;
		const char *st = html_str(ev, "state");
		double round = 0, ms = 0;

		if (key.server == NULL || key.role == NULL || st == NULL ||
		    !html_num(ev, "round", &round) || !html_num(ev, "elapsed_ms", &ms))
			continue;
		hit = bsearch(&key, keys, n, sizeof(keys[0]), html_srvkey_cmp);
		if (hit != NULL) {
			size_t k = (size_t)(hit - keys);
			unsigned char now = strcmp(st, "match") == 0 ? 1 : 2;

			if (state[k] == 1)
				matched--;
			state[k] = now;
			if (now == 1)
				matched++;
		}
		/* The last event of its round gives the round's point. */
		if (ev->next == NULL || !html_num(ev->next, "round", &ms) || ms != round) {
			html_num(ev, "elapsed_ms", &ms);
			px[n_pts] = ms;
			py[n_pts] = (double)matched;
			pr[n_pts] = round;
			n_pts++;
			if (ms > max_ms)
				max_ms = ms;
		}
	}
	if (outcome != NULL && strcmp(outcome, "complete") == 0 &&
	    html_num(watch, "elapsed_ms", &done_ms) && done_ms > max_ms)
		max_ms = done_ms;
	if (n_pts == 0)
		goto out;
	html_lit(h, "<h3>New answer over time</h3>");
	html_fmt(h,
	    "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
	    "height=\"%.0f\" data-total=\"%.0f\">",
	    W, H, W, H, total);
	html_lit(h, "<title>Share of servers with the new answer after each round</title>");
	/* Axes and grid: 0, 50, 100 %. */
	for (int pct = 0; pct <= 100; pct += 50) {
		double y = T + (H - T - B) * (1 - pct / 100.0);

		html_fmt(h,
		    "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		    "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>",
		    L, y, W - R, y, L - 6, y + 4, pct);
	}
	html_fmt(h,
	    "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\">0 s</text>"
	    "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f s</text>",
	    L, H - 8, W - R, H - 8, max_ms / 1000.0);
	if (done_ms >= 0) {
		double x = L + (W - L - R) * done_ms / max_ms;

		html_fmt(h,
		    "<line class=\"then\" data-ms=\"%.0f\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"><title>%s at %.1f s</title></line><text class=\"axis then\" "
		    "x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
		    done_ms, x, T, x, H - B, then ? "complete: --then ran" : "complete",
		    done_ms / 1000.0, x - 4, T + 24, then ? "--then" : "complete");
	}
	html_lit(h, "<polyline class=\"line\" points=\"");
	for (size_t i = 0; i < n_pts; i++)
		html_fmt(h, "%.1f,%.1f ", L + (W - L - R) * px[i] / max_ms,
		    T + (H - T - B) * (1 - py[i] / total));
	html_lit(h, "\"/>");
	for (size_t i = 0; i < n_pts; i++)
		html_fmt(h,
		    "<circle class=\"pt\" r=\"3\" cx=\"%.1f\" cy=\"%.1f\" data-round=\"%.0f\" "
		    "data-ms=\"%.0f\" data-matched=\"%.0f\"><title>round %.0f, %.1f s: %.0f of "
		    "%.0f "
		    "(%.0f%%)</title></circle>",
		    L + (W - L - R) * px[i] / max_ms, T + (H - T - B) * (1 - py[i] / total), pr[i],
		    px[i], py[i], pr[i], px[i] / 1000.0, py[i], total, 100.0 * py[i] / total);
	html_lit(h, "</svg>");
	if (cJSON_IsTrue(html_get(d, "timeline_truncated")))
		html_lit(h,
		    "<p class=\"muted small\">The timeline was cut short: later rounds are "
		    "not in the chart.</p>");
out:
	free(keys);
	free(state);
	free(px);
	free(py);
	free(pr);
}

void
html_card_propagation(struct html *h, const struct html_item *it)
{
	const struct result *res = it->res;
	static const char *const roles[] = {"authoritative", "resolver"};
	static const char *const states[] = {"match", "stale", "error"};
	const cJSON *d = res->details, *servers = html_arr(d, "servers"), *s;
	const cJSON *timeline = html_arr(d, "timeline"), *exp = html_arr(d, "expected");
	double matched, total;

	html_card_open(h, it);
	if (exp != NULL) {
		html_fact(h, "Expected MX");
		html_value(h, exp, 1);
		html_lit(h, "</div>");
	}
	if (html_num(d, "matched", &matched) && html_num(d, "total", &total) && total > 0) {
		html_fact(h, "Servers showing the new answer");
		html_int(h, matched);
		html_lit(h, " of ");
		html_int(h, total);
		html_lit(h, " ");
		html_bar(h, matched / total, -1, matched == total ? RESULT_PASS : RESULT_WARN);
		html_lit(h, "</div>");
	}
	if (servers != NULL && cJSON_GetArraySize(servers) > 0) {
		/* The role x state matrix, then one row per server. */
		html_lit(h, "<table class=\"matrix\"><thead><tr><th></th>");
		for (size_t j = 0; j < UTIL_ARRAY_LEN(states); j++)
			html_fmt(h, "<th class=\"st-%s\">%s</th>",
			    result_status_str(html_state_status(states[j])), states[j]);
		html_lit(h, "</tr></thead><tbody>");
		for (size_t i = 0; i < UTIL_ARRAY_LEN(roles); i++) {
			html_fmt(h, "<tr><th>%s</th>", roles[i]);
			for (size_t j = 0; j < UTIL_ARRAY_LEN(states); j++) {
				int n = 0;

				cJSON_ArrayForEach(s, servers)
				{
					const char *r = html_str(s, "role"),
					           *st = html_str(s, "state");

					if (r != NULL && st != NULL && strcmp(r, roles[i]) == 0 &&
					    strcmp(st, states[j]) == 0)
						n++;
				}
				html_fmt(h, "<td class=\"num%s\">%d</td>", n > 0 ? " hit" : "", n);
			}
			html_lit(h, "</tr>");
		}
		html_lit(h, "</tbody></table>");
		html_prop_chart(h, d);
		html_prop_groups(h, servers);
		/* Every server, folded away when there are many. */
		if (cJSON_GetArraySize(servers) > 40)
			html_fmt(h, "<details class=\"servers\"><summary>All %d servers</summary>",
			    cJSON_GetArraySize(servers));
		html_lit(h,
		    "<div class=\"scroll\"><table class=\"facts\"><thead><tr><th>Server</th>"
		    "<th>Role</th><th>Operator</th><th>State</th><th>Answer</th><th>TTL (s)</th>"
		    "<th>Cache expires</th><th>Serial</th><th>Error</th></tr></thead><tbody>");
		cJSON_ArrayForEach(s, servers)
		{
			const char *state = html_str(s, "state");
			const cJSON *ans = html_get(s, "answer");

			html_lit(h, "<tr><td><code>");
			html_opt_text(h, html_str(s, "server"));
			html_lit(h, "</code></td><td>");
			html_opt_text(h, html_str(s, "role"));
			html_lit(h, "</td><td>");
			if (html_str(s, "operator") != NULL || html_str(s, "country") != NULL) {
				html_opt_text(h, html_str(s, "operator"));
				if (html_str(s, "country") != NULL) {
					html_lit(h, " (");
					html_text(h, html_str(s, "country"));
					html_lit(h, ")");
				}
			}
			html_fmt(h, "</td><td class=\"state st-%s\">",
			    result_status_str(html_state_status(state)));
			html_opt_text(h, state);
			html_lit(h, "</td><td>");
			if (cJSON_IsArray(ans))
				html_value(h, ans, 1);
			else
				html_opt_text(h, cJSON_IsString(ans) ? ans->valuestring : NULL);
			html_lit(h, "</td><td class=\"num\">");
			html_opt_num(h, s, "ttl");
			html_lit(h, "</td><td>");
			if (html_str(s, "expires_at") != NULL)
				html_expiry(h, html_str(s, "expires_at"));
			html_lit(h, "</td><td class=\"num\">");
			html_plain_int(h, s, "serial");
			html_lit(h, "</td><td>");
			html_opt_text(h, html_str(s, "error"));
			html_lit(h, "</td></tr>");
		}
		html_lit(h, "</tbody></table></div>");
		if (cJSON_GetArraySize(servers) > 40)
			html_lit(h, "</details>");
	}
	if (timeline != NULL && cJSON_GetArraySize(timeline) > 0) {
		html_lit(h, "<div class=\"label\">Timeline</div>");
		html_value(h, timeline, 0);
	}
	html_card_close(h, it);
}

/* ---- connectivity ----------------------------------------------------------- */

static void
html_tls_cells(struct html *h, const cJSON *tls)
{
	double days;

	html_lit(h, "<td>");
	html_opt_text(h, html_str(tls, "version"));
	html_lit(h, "</td><td><code>");
	html_opt_text(h, html_str(tls, "cipher"));
	html_lit(h, "</code></td><td>");
	html_opt_text(h, html_str(tls, "cert_subject"));
	html_lit(h, "</td><td>");
	html_opt_text(h, html_str(tls, "cert_issuer"));
	html_lit(h, "</td><td>");
	html_opt_text(h, html_str(tls, "cert_expires"));
	if (html_num(tls, "days_left", &days)) {
		html_fmt(h, " <span class=\"pill%s\">",
		    days < 14       ? " bad"
		        : days < 30 ? " meh"
		                    : "");
		html_int(h, days);
		html_lit(h, " days</span>");
	}
	html_lit(h, "</td><td>");
	html_yes_no(h, html_get(tls, "verified"));
	if (html_str(tls, "verify_error") != NULL) {
		html_lit(h, " <span class=\"err\">");
		html_text(h, html_str(tls, "verify_error"));
		html_lit(h, "</span>");
	}
	html_lit(h, "</td>");
}

static int
html_is_tls_check(const struct result *res)
{
	size_t l = strlen(res->id);

	return l >= 4 && strcmp(res->id + l - 4, ".tls") == 0;
}

void
html_section_connectivity(struct html *h, const struct html_item *list, size_t n)
{
	size_t n_tls = 0;

	for (size_t i = 0; i < n; i++)
		n_tls += html_is_tls_check(list[i].res);
	if (n_tls > 0) {
		html_lit(h,
		    "<div class=\"scroll\"><table class=\"facts sortable\"><thead><tr>"
		    "<th>Status</th><th>Check</th><th>Side</th><th>Server</th>"
		    "<th data-type=\"num\">Port</th><th>Mode</th><th>Result</th><th>TLS</th>"
		    "<th>Cipher</th><th>Certificate</th><th>Issuer</th><th>Expires</th>"
		    "<th>Verified</th></tr></thead><tbody>");
		for (size_t i = 0; i < n; i++) {
			const struct result *res = list[i].res;
			const cJSON *d = res->details;
			enum result_status st = html_status(res);

			if (!html_is_tls_check(res))
				continue;
			html_fmt(h, "<tr id=\"c-%zu\" data-status=\"%s\"><td data-v=\"%d\">",
			    list[i].idx, result_status_str(st), (int)st);
			html_badge(h, st);
			html_lit(h, "</td><td><code>");
			html_text(h, res->id);
			html_lit(h, "</code></td><td>");
			html_opt_text(h, result_side_str(res->side));
			html_lit(h, "</td><td title=\"");
			html_text(h, res->summary);
			html_lit(h, "\"><code>");
			html_opt_text(h,
			    html_str(d, "server") != NULL ? html_str(d, "server") : res->subject);
			html_lit(h, "</code></td><td class=\"num\">");
			html_plain_int(h, d, "port");
			html_lit(h, "</td><td>");
			html_opt_text(h, html_str(d, "mode"));
			html_lit(h, "</td><td>");
			html_opt_text(h, html_str(d, "result"));
			html_lit(h, "</td>");
			html_tls_cells(h, html_get(d, "tls"));
			html_lit(h, "</tr>");
		}
		html_lit(h, "</tbody></table></div>");
	}
	/* Other connectivity checks, and the TLS checks that need attention. */
	for (size_t i = 0; i < n; i++) {
		const struct result *res = list[i].res;

		if (html_is_tls_check(res) &&
		    (html_status(res) == RESULT_PASS || html_status(res) == RESULT_SKIP))
			continue;
		if (html_is_tls_check(res)) {
			/* Anchor already on the row; the card repeats the advice. */
			html_fmt(h, "<article class=\"check st-%s\">",
			    result_status_str(html_status(res)));
			html_lit(h, "<div class=\"head\">");
			html_badge(h, html_status(res));
			html_lit(h, " <code class=\"id\">");
			html_text(h, res->id);
			html_lit(h, "</code> ");
			html_subject(h, res);
			html_lit(h, "</div><p class=\"summary\">");
			html_text_wrap(h, res->summary);
			html_lit(h, "</p>");
			if (res->advice != NULL) {
				html_lit(h, "<p class=\"advice\">");
				html_text_wrap(h, res->advice);
				html_lit(h, "</p>");
			}
			html_lit(h, "</article>\n");
			continue;
		}
		html_card_open(h, &list[i]);
		html_card_close(h, &list[i]);
	}
}

/* ---- mailboxes -------------------------------------------------------------- */

/* The checks of one mailbox user, in report order. */
struct html_mbox {
	const char *user;
	const struct html_item *items; /* into the subject-sorted copy */
	size_t n;
};

static int
html_cmp_subject(const void *a, const void *b)
{
	const struct html_item *x = a, *y = b;
	int c = strcmp(x->res->subject, y->res->subject);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
html_cmp_first(const void *a, const void *b)
{
	const struct html_mbox *x = a, *y = b;

	return x->items[0].idx < y->items[0].idx ? -1 : x->items[0].idx > y->items[0].idx;
}

/*
 * Group LIST (the mailbox section's checks, in report order) by subject, in
 * the order each user first appears. *SORTED gets the copy the groups point
 * into (caller frees it and the returned array).
 */
static struct html_mbox *
html_group_mailboxes(
    const struct html_item *list, size_t n, struct html_item **sorted, size_t *n_out)
{
	struct html_item *s = xcalloc(n > 0 ? n : 1, sizeof(*s));
	struct html_mbox *mb = xcalloc(n > 0 ? n : 1, sizeof(*mb));
	size_t m = 0;

	memcpy(s, list, n * sizeof(*s));
	qsort(s, n, sizeof(*s), html_cmp_subject);
	for (size_t i = 0; i < n; i++) {
		if (m == 0 || strcmp(mb[m - 1].user, s[i].res->subject) != 0) {
			mb[m].user = s[i].res->subject;
			mb[m].items = s + i;
			m++;
		}
		mb[m - 1].n++;
	}
	qsort(mb, m, sizeof(*mb), html_cmp_first);
	*sorted = s;
	*n_out = m;
	return mb;
}

static const struct html_item *
html_find_item(const struct html_mbox *mb, const char *id, int side)
{
	for (size_t i = 0; i < mb->n; i++)
		if (strcmp(mb->items[i].res->id, id) == 0 &&
		    (side < 0 || (int)mb->items[i].res->side == side))
			return &mb->items[i];
	return NULL;
}

static const struct result *
html_find(const struct html_mbox *mb, const char *id, int side)
{
	const struct html_item *it = html_find_item(mb, id, side);

	return it != NULL ? it->res : NULL;
}

/* The login cell of one side: "IMAP ok · POP3 auth_failed". */
static void
html_login_cell(struct html *h, const struct html_mbox *mb, enum result_side side)
{
	enum result_status worst = RESULT_PASS;
	int any = 0;

	for (size_t i = 0; i < mb->n; i++) {
		const struct result *res = mb->items[i].res;
		size_t l = strlen(res->id);

		if (res->side == side && l > 6 && strcmp(res->id + l - 6, ".login") == 0)
			worst = any++ ? result_worse(worst, html_status(res)) : html_status(res);
	}
	if (!any) {
		html_lit(h, "<td data-v=\"-1\"><span class=\"none\">&mdash;</span></td>");
		return;
	}
	html_fmt(h, "<td data-v=\"%d\">", (int)worst);
	any = 0;
	for (size_t i = 0; i < mb->n; i++) {
		const struct result *res = mb->items[i].res;
		size_t l = strlen(res->id);
		const char *what = html_str(res->details, "result");

		if (res->side != side || l <= 6 || strcmp(res->id + l - 6, ".login") != 0)
			continue;
		if (any++)
			html_lit(h, "<br>");
		html_fmt(
		    h, "<span class=\"login st-%s\" title=\"", result_status_str(html_status(res)));
		html_text(h, res->summary);
		html_lit(h, "\">");
		for (size_t j = 0; j < l - 6; j++) {
			char up[2] = {res->id[j], '\0'};

			if (up[0] >= 'a' && up[0] <= 'z')
				up[0] = (char)(up[0] - 'a' + 'A');
			html_text(h, up);
		}
		html_lit(h, " ");
		html_text(h, what != NULL ? what : result_status_str(html_status(res)));
		html_lit(h, "</span>");
	}
	html_lit(h, "</td>");
}

/* The largest folder of a mailbox.folders result: messages, and its name. */
static int
html_largest_folder(const cJSON *folders, double *messages, const char **name)
{
	const cJSON *f;
	int found = 0;

	*messages = 0;
	*name = NULL;
	cJSON_ArrayForEach(f, folders)
	{
		double m;

		if (html_num(f, "messages", &m) && (!found || m > *messages)) {
			*messages = m;
			*name = html_str(f, "name");
			found = 1;
		}
	}
	return found;
}

static double
html_folder_limit(const struct html_mbox *mb)
{
	const struct result *fi = html_find(mb, "mailbox.folder_items", -1);
	double limit;

	if (fi != NULL && html_num(fi->details, "limit", &limit) && limit > 0)
		return limit;
	return HTML_FOLDER_LIMIT;
}

/* A mailbox table cell with nothing to show: OPEN (the <td ...> tag), then
 * "unknown" when a check could not read the mailbox, else a dash. */
static void
html_empty_cell(struct html *h, const char *open, int unknown)
{
	html_lit(h, open);
	html_lit(h,
	    unknown ? "<span class=\"none\">unknown</span></td>"
	            : "<span class=\"none\">&mdash;</span></td>");
}

/* The size cells: folders, messages (FL and FOLDERS' totals), bytes (else
 * the quota's source usage). */
static void
html_mailbox_size_cells(struct html *h, const struct result *folders, const cJSON *fl,
    const struct result *quota, int unknown, int quota_unknown)
{
	double v;

	if (fl != NULL)
		html_fmt(h, "<td class=\"num\" data-v=\"%d\">%d</td>", cJSON_GetArraySize(fl),
		    cJSON_GetArraySize(fl));
	else
		html_empty_cell(h, "<td class=\"num\" data-v=\"-1\">", unknown);
	if (folders != NULL && html_num(folders->details, "total_messages", &v)) {
		html_fmt(h, "<td class=\"num\" data-v=\"%.0f\">", v);
		html_int(h, v);
		html_lit(h, "</td>");
	} else {
		html_empty_cell(h, "<td class=\"num\" data-v=\"-1\">", unknown);
	}
	if (folders != NULL && html_num(folders->details, "total_bytes", &v)) {
		html_fmt(h, "<td class=\"num\" data-v=\"%.0f\">", v);
		html_bytes(h, v);
		html_lit(h, "</td>");
	} else if (quota != NULL && html_num(quota->details, "source_usage_bytes", &v)) {
		html_fmt(h, "<td class=\"num\" data-v=\"%.0f\">", v);
		html_bytes(h, v);
		html_lit(h, "</td>");
	} else {
		html_empty_cell(h, "<td class=\"num\" data-v=\"-1\">", unknown || quota_unknown);
	}
}

/* Quota fit: usage against the destination limit, headroom marked. */
static void
html_quota_fit_cell(struct html *h, const struct result *quota, int unknown)
{
	double v, ratio, headroom;

	if (quota == NULL || !html_num(quota->details, "ratio", &ratio)) {
		html_empty_cell(h, "<td data-v=\"-1\">", unknown);
		return;
	}
	if (!html_num(quota->details, "headroom", &headroom))
		headroom = -1;
	html_fmt(h, "<td data-v=\"%.4f\">", ratio);
	html_bar(h, ratio, headroom, html_status(quota));
	html_fmt(h, " %.0f%%", ratio * 100);
	if (html_num(quota->details, "destination_limit_bytes", &v)) {
		html_lit(h, " <span class=\"muted\">of ");
		html_bytes(h, v);
		html_lit(h, "</span>");
	}
	html_lit(h, "</td>");
}

/* Largest folder of FL against the per-folder item LIMIT. */
static void
html_largest_folder_cell(struct html *h, const cJSON *fl, double limit, int unknown)
{
	const char *largest;
	double v;

	if (fl == NULL || !html_largest_folder(fl, &v, &largest)) {
		html_empty_cell(h, "<td data-v=\"-1\">", unknown);
		return;
	}
	html_fmt(h, "<td data-v=\"%.0f\">", v);
	html_bar(h, v / limit, -1,
	    v > limit             ? RESULT_FAIL
	        : v > limit * 0.8 ? RESULT_WARN
	                          : RESULT_PASS);
	html_lit(h, " ");
	html_int(h, v);
	html_lit(h, " <span class=\"muted\">of ");
	html_int(h, limit);
	html_lit(h, "</span><div class=\"muted small\">");
	html_opt_text(h, largest);
	html_lit(h, "</div></td>");
}

/* Every check of this mailbox as a small badge (unknown ids included). */
static void
html_mailbox_checks_cell(struct html *h, const struct html_mbox *mb)
{
	html_lit(h, "<td class=\"checks\">");
	for (size_t i = 0; i < mb->n; i++) {
		const struct result *res = mb->items[i].res;
		const char *side = result_side_str(res->side);

		html_fmt(
		    h, "<span class=\"mini st-%s\" title=\"", result_status_str(html_status(res)));
		html_text(h, res->id);
		if (side != NULL) {
			html_lit(h, " (");
			html_text(h, side);
			html_lit(h, ")");
		}
		html_lit(h, ": ");
		html_text(h, res->summary);
		html_lit(h, "\">");
		html_text(h, strncmp(res->id, "mailbox.", 8) == 0 ? res->id + 8 : res->id);
		if (res->side == RESULT_SIDE_SOURCE)
			html_lit(h, " &larr;");
		else if (res->side == RESULT_SIDE_DESTINATION)
			html_lit(h, " &rarr;");
		html_lit(h, "</span> ");
	}
	html_lit(h, "</td>");
}

static void
html_mailbox_row(struct html *h, const struct html_mbox *mb)
{
	const struct result *folders = html_find(mb, "mailbox.folders", RESULT_SIDE_SOURCE);
	const struct result *quota = html_find(mb, "mailbox.quota", -1);
	const cJSON *fl;
	enum result_status worst = RESULT_PASS;
	int unknown = 0, quota_unknown = 0;

	if (folders == NULL)
		folders = html_find(mb, "mailbox.folders", -1);
	/* A check that could not read the mailbox (error, or skipped because its
	 * login failed) knows nothing: "unknown", never its empty placeholders. */
	if (folders != NULL &&
	    (html_status(folders) == RESULT_ERROR || html_status(folders) == RESULT_SKIP)) {
		unknown = 1;
		folders = NULL;
	}
	if (quota != NULL &&
	    (html_status(quota) == RESULT_ERROR || html_status(quota) == RESULT_SKIP)) {
		quota_unknown = 1;
		quota = NULL;
	}
	for (size_t i = 0; i < mb->n; i++)
		worst = result_worse(worst, html_status(mb->items[i].res));
	html_fmt(h, "<tr data-status=\"%s\"><td data-v=\"", result_status_str(worst));
	html_text(h, mb->user);
	html_lit(h, "\">");
	html_text_wrap(h, mb->user);
	html_fmt(h, "</td><td data-v=\"%d\">", (int)worst);
	html_badge(h, worst);
	html_lit(h, "</td>");
	html_login_cell(h, mb, RESULT_SIDE_SOURCE);
	html_login_cell(h, mb, RESULT_SIDE_DESTINATION);

	fl = folders != NULL ? html_arr(folders->details, "folders") : NULL;
	html_mailbox_size_cells(h, folders, fl, quota, unknown, quota_unknown);
	html_quota_fit_cell(h, quota, quota_unknown || unknown);
	html_largest_folder_cell(h, fl, html_folder_limit(mb), unknown);
	html_mailbox_checks_cell(h, mb);
	html_lit(h, "</tr>\n");
}

static void
html_folder_detail(struct html *h, const struct html_item *it, double limit)
{
	const struct result *res = it->res;
	const cJSON *d = res->details, *fl = html_arr(d, "folders"), *f;
	const char *side = result_side_str(res->side);
	double v;
	int rows = 0;

	html_fmt(h, "<details class=\"folders\" id=\"c-%zu\"><summary>", it->idx);
	html_badge(h, html_status(res));
	html_lit(h, " <code class=\"id\">");
	html_text(h, res->id);
	html_lit(h, "</code> <span class=\"subject\">");
	html_text_wrap(h, res->subject);
	html_lit(h, "</span>");
	if (side != NULL) {
		html_lit(h, " <span class=\"side\">");
		html_text(h, side);
		html_lit(h, "</span>");
	}
	html_fmt(h, " <span class=\"muted\">%d folders", fl != NULL ? cJSON_GetArraySize(fl) : 0);
	if (html_num(d, "total_messages", &v)) {
		html_lit(h, ", ");
		html_int(h, v);
		html_lit(h, " messages");
	}
	if (html_num(d, "total_bytes", &v)) {
		html_lit(h, ", ");
		html_bytes(h, v);
	}
	html_lit(h, "</span></summary>");
	if (fl == NULL || cJSON_GetArraySize(fl) == 0) {
		html_lit(h, "<p class=\"summary\">");
		html_text_wrap(h, res->summary);
		html_lit(h, "</p></details>\n");
		return;
	}
	html_lit(h,
	    "<div class=\"scroll\"><table class=\"facts sortable\"><thead><tr>"
	    "<th>Folder</th><th data-type=\"num\">Messages</th><th data-type=\"num\">Size</th>"
	    "<th>Special use</th></tr></thead><tbody>");
	cJSON_ArrayForEach(f, fl)
	{
		const char *name = html_str(f, "name"), *raw = html_str(f, "raw_name");
		double m = 0;

		if (rows++ == HTML_MAX_ROWS)
			break;
		html_lit(h, "<tr><td class=\"folder\"");
		if (raw != NULL && (name == NULL || strcmp(raw, name) != 0)) {
			html_lit(h, " title=\"as sent by the server: ");
			html_text(h, raw);
			html_lit(h, "\"");
		}
		html_lit(h, ">");
		html_opt_text(h, name != NULL ? name : raw);
		if (html_num(f, "messages", &m)) {
			html_fmt(h, "</td><td class=\"num\" data-v=\"%.0f\">", m);
			html_bar(h, m / limit, -1,
			    m > limit             ? RESULT_FAIL
			        : m > limit * 0.8 ? RESULT_WARN
			                          : RESULT_PASS);
			html_lit(h, " ");
			html_int(h, m);
		} else {
			html_lit(h, "</td><td class=\"num\" data-v=\"-1\">");
			html_opt_text(h, NULL);
		}
		if (html_num(f, "bytes", &v)) {
			html_fmt(h, "</td><td class=\"num\" data-v=\"%.0f\">", v);
			html_bytes(h, v);
		} else {
			html_lit(h, "</td><td class=\"num\" data-v=\"-1\">");
			html_opt_text(h, NULL);
		}
		html_lit(h, "</td><td>");
		html_opt_text(h, html_str(f, "special_use"));
		html_lit(h, "</td></tr>");
	}
	html_more_rows(h, cJSON_GetArraySize(fl), rows > HTML_MAX_ROWS ? HTML_MAX_ROWS : rows, 4);
	html_lit(h, "</tbody></table></div></details>\n");
}

void
html_section_mailboxes(struct html *h, const struct html_item *list, size_t n)
{
	struct html_mbox *mb;
	struct html_item *sorted;
	size_t m, n_folders = 0, n_attention = 0;

	mb = html_group_mailboxes(list, n, &sorted, &m);
	html_fmt(h,
	    "<p class=\"muted\">%zu mailbox%s. Click a column heading to sort. Under "
	    "Checks, &larr; marks the source side, &rarr; the destination.</p>",
	    m, m == 1 ? "" : "es");
	html_lit(h,
	    "<div class=\"scroll\"><table class=\"facts sortable\" id=\"mailbox-table\">"
	    "<thead><tr><th>User</th><th data-type=\"num\">Status</th>"
	    "<th data-type=\"num\">Login (source)</th><th data-type=\"num\">Login "
	    "(destination)</th><th data-type=\"num\">Folders</th>"
	    "<th data-type=\"num\">Items</th><th data-type=\"num\">Size</th>"
	    "<th data-type=\"num\">Quota fit</th><th data-type=\"num\">Largest folder</th>"
	    "<th>Checks</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < m; i++)
		html_mailbox_row(h, &mb[i]);
	html_lit(h, "</tbody></table></div>\n");

	for (size_t i = 0; i < n; i++)
		if (html_status(list[i].res) != RESULT_PASS &&
		    html_status(list[i].res) != RESULT_SKIP &&
		    strcmp(list[i].res->id, "mailbox.folders") != 0)
			n_attention++;
	if (n_attention > 0) {
		html_lit(h, "<h3>Mailbox checks that need attention</h3>\n");
		for (size_t i = 0; i < n; i++)
			if (html_status(list[i].res) != RESULT_PASS &&
			    html_status(list[i].res) != RESULT_SKIP &&
			    strcmp(list[i].res->id, "mailbox.folders") != 0) {
				html_card_open(h, &list[i]);
				html_card_close(h, &list[i]);
			}
	}
	for (size_t i = 0; i < n; i++)
		n_folders += strcmp(list[i].res->id, "mailbox.folders") == 0;
	if (n_folders > 0) {
		html_lit(h, "<h3>Folders per mailbox</h3>\n");
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < mb[i].n; j++)
				if (strcmp(mb[i].items[j].res->id, "mailbox.folders") == 0)
					html_folder_detail(
					    h, &mb[i].items[j], html_folder_limit(&mb[i]));
	}
	free(sorted);
	free(mb);
}

/* ---- web ------------------------------------------------------------------ */

void
html_card_web(struct html *h, const struct html_item *it)
{
	const struct result *res = it->res;
	static const char *const phases[] = {"dns", "connect", "tls", "first_byte", "total"};
	const cJSON *d = res->details, *tls = html_get(d, "tls"), *tm = html_get(d, "timings_ms");
	double v;

	html_card_open(h, it);
	if (html_str(d, "url") != NULL) {
		html_fact(h, "URL");
		html_lit(h, "<code>");
		html_text(h, html_str(d, "url"));
		html_lit(h, "</code></div>");
	}
	if (html_get(d, "http_status") != NULL) {
		html_fact(h, "HTTP status");
		html_opt_num(h, d, "http_status");
		if (html_num(d, "redirects", &v)) {
			html_lit(h, " after ");
			html_int(h, v);
			html_lit(h, v == 1 ? " redirect" : " redirects");
		}
		html_lit(h, "</div>");
	}
	if (html_str(d, "final_url") != NULL) {
		html_fact(h, "Final URL");
		html_lit(h, "<code>");
		html_text(h, html_str(d, "final_url"));
		html_lit(h, "</code></div>");
	}
	if (cJSON_IsObject(tls)) {
		html_lit(h,
		    "<div class=\"scroll\"><table class=\"facts\"><thead><tr><th>TLS</th>"
		    "<th>Cipher</th><th>Certificate</th><th>Issuer</th><th>Expires</th>"
		    "<th>Verified</th></tr></thead><tbody><tr>");
		html_tls_cells(h, tls);
		html_lit(h, "</tr></tbody></table></div>");
	}
	if (cJSON_IsObject(tm)) {
		html_fact(h, "Timings");
		for (size_t i = 0; i < UTIL_ARRAY_LEN(phases); i++) {
			if (!html_num(tm, phases[i], &v))
				continue;
			html_fmt(h, "<span class=\"pill\">%s %.0f ms</span> ", phases[i], v);
		}
		html_lit(h, "</div>");
	}
	html_card_close(h, it);
}
