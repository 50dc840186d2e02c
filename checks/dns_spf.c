/*
 * dns_spf.c - dns.spf: the domain's SPF policy (RFC 7208) as receivers see it.
 *
 * One task, up to three evaluations (src/spf.h) on the runner's DNS client,
 * one after the other:
 *   1. a walk of the policy from DOMAIN: every include and redirect, the
 *      DNS-querying terms per record (limit 10) and void lookups (limit 2),
 *      loops, syntax errors with their position; then lints.
 *   2. when the destination's include (profile or plan expect.spf_include) is
 *      not reachable: a walk of that include, to say how many lookups the
 *      policy would need once it is added.
 *   3. with --ip: check_host() for that client and --sender, as a receiver.
 * CNAMEs are followed across zones (src/dnschase.h), as a resolver would.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dns.h"
#include "src/dnschase.h"
#include "src/dnsmsg.h"
#include "src/spf.h"
#include "src/util.h"

#define SPF_UDP_LIMIT 512 /* RFC 1035 section 4.2.1; beyond it, TC and TCP */

/* One query from an evaluation, in flight on dnschase. */
struct spfq {
	struct spf_task *st;
	struct dnschase *ch;
	spf_dns_cb cb;
	void *arg;
	int type;
	char *name;
	struct spfq *prev, *next;
	int answered;
};

struct spf_task {
	struct task *t;
	const struct check_input *in;
	char *domain;
	struct spf_dns sdns;
	struct spfq *queries;
	struct spf_eval *ev; /* the evaluation in flight */
	int phase;           /* 1 walk, 2 destination include, 3 --ip */
	const char *missing; /* expected include not reachable */
	int walk_lookups;
	char *record;   /* the domain's own record, or NULL */
	int evaluated;  /* --ip: check_host() ran or was known to give temperror */
	int dns_failed; /* the domain's own TXT lookup failed: no --ip run */
	char *identity; /* --ip: the <domain> check_host() evaluates (RFC 7208 2.3, 2.4) */
	const char *identity_kind; /* "mailfrom" or "helo" */
	/* What the stages found, kept for the details written at the end: */
	struct spf_eval *walk_ev, *ip_ev; /* done; their outcomes and trees live on */
	struct spf_walk_summary walk;     /* set once walk_ev is */
	struct spf_ip_summary ip;
	struct spf_summary sum;
	struct verdict v;
	struct spf_lint *lints;
	size_t n_lints;
};

/* ---- the DNS adapter (struct spf_dns over dnschase) ------------------------ */

static void
spfq_unlink(struct spfq *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->st->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	free(q->name);
	free(q);
}

/* Size of the answer message on the wire, to know whether it needs TCP. */
static size_t
spfq_wire_len(const struct dnsmsg *msg, const char *name)
{
	size_t len = 12 + strlen(name) + 2 + 4;

	for (size_t i = 0; i < msg->n_rr; i++) {
		const struct dnsmsg_rr *rr = &msg->rr[i];
		size_t rdlen = 0;

		if (rr->section != DNSMSG_ANSWER)
			continue;
		if (rr->type == DNSMSG_TXT)
			for (size_t k = 0; k < rr->n_strings; k++)
				rdlen += rr->string_lens[k] + 1;
		else
			rdlen = rr->target != NULL ? strlen(rr->target) + 2 : 16;
		len += 2 + 10 + rdlen; /* compressed owner, fixed fields */
	}
	return len;
}

static void
spfq_answer(void *arg, const struct dnschase_reply *reply)
{
	struct spfq *q = arg;
	struct spf_dns_rr *rrs = NULL;
	struct spf_dns_answer a;
	spf_dns_cb cb = q->cb;
	void *cb_arg = q->arg;
	size_t n = 0, cap = 0;

	memset(&a, 0, sizeof(a));
	switch (reply->status) {
	case DNS_OK: a.status = SPF_DNS_OK; break;
	case DNS_NODATA: a.status = SPF_DNS_NODATA; break;
	case DNS_NXDOMAIN: a.status = SPF_DNS_NXDOMAIN; break;
	default:
		a.status = SPF_DNS_TEMPFAIL;
		a.error = reply->error;
		break;
	}
	if (reply->problem != DNSCHASE_FINE) {
		a.status = SPF_DNS_TEMPFAIL;
		a.error = reply->problem == DNSCHASE_LOOP ? "CNAME loop" : "CNAME chain too long";
	}
	if (a.status == SPF_DNS_OK && reply->msg != NULL) {
		const struct dnsmsg_rr *rr;
		size_t it = 0;

		while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, q->type, reply->owner, &it)) !=
		    NULL) {
			struct spf_dns_rr *o;

			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				rrs = xrealloc(rrs, cap * sizeof(*rrs));
			}
			o = &rrs[n];
			memset(o, 0, sizeof(*o));
			switch (q->type) {
			case DNSMSG_TXT:
				o->text = rr->text != NULL ? rr->text : "";
				o->text_len = rr->text != NULL ? rr->text_len : 0;
				o->n_strings = rr->n_strings;
				for (size_t k = 0; k < rr->n_strings; k++)
					if (rr->string_lens[k] > o->longest_string)
						o->longest_string = rr->string_lens[k];
				break;
			case DNSMSG_MX:
			case DNSMSG_PTR:
				o->text = rr->target != NULL ? rr->target : "";
				o->text_len = strlen(o->text);
				break;
			case DNSMSG_A:
				if (inet_pton(AF_INET, rr->addr, o->addr) != 1)
					continue;
				break;
			case DNSMSG_AAAA:
				if (inet_pton(AF_INET6, rr->addr, o->addr) != 1)
					continue;
				break;
			default: continue;
			}
			n++;
		}
		if (n == 0)
			a.status = SPF_DNS_NODATA;
		a.wire_len = spfq_wire_len(reply->msg, q->name);
	}
	a.rr = rrs;
	a.n_rr = n;
	q->answered = 1;
	if (q->ch != NULL) /* asynchronous: the handle is known, the query is done */
		spfq_unlink(q);
	cb(cb_arg, &a);
	free(rrs);
}

static void *
spfq_query(void *ctx, const char *name, enum spf_qtype type, spf_dns_cb cb, void *arg)
{
	struct spf_task *st = ctx;
	struct spfq *q = xcalloc(1, sizeof(*q));
	struct dnschase *ch;

	q->st = st;
	q->cb = cb;
	q->arg = arg;
	q->type = (int)type;
	q->name = xstrdup(name);
	q->next = st->queries;
	if (st->queries != NULL)
		st->queries->prev = q;
	st->queries = q;
	ch = dnschase_start(runner_dns(task_runner(st->t)), name, (int)type, spfq_answer, q);
	if (ch == NULL || q->answered) {
		/* the callback already ran (synchronously) and kept Q for us */
		spfq_unlink(q);
		return NULL;
	}
	q->ch = ch;
	return q;
}

static void
spfq_cancel(void *ctx, void *handle)
{
	struct spfq *q = handle;

	(void)ctx;
	dnschase_cancel(q->ch);
	spfq_unlink(q);
}

/* ---- JSON ------------------------------------------------------------------ */

static cJSON *
spf_node_json(const struct spf_node *n)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *kids;

	cJSON_AddStringToObject(o, "domain", n->domain);
	cJSON_AddStringToObject(o, "via", n->via);
	if (n->record != NULL)
		cJSON_AddStringToObject(o, "record", n->record);
	else
		cJSON_AddNullToObject(o, "record");
	cJSON_AddNumberToObject(o, "lookups", n->lookups);
	cJSON_AddNumberToObject(o, "total_lookups", n->total_lookups);
	cJSON_AddNumberToObject(o, "void_lookups", n->void_lookups);
	if (n->error != NULL)
		cJSON_AddStringToObject(o, "error", n->error);
	else
		cJSON_AddNullToObject(o, "error");
	kids = cJSON_AddArrayToObject(o, "children");
	for (size_t i = 0; i < n->n_children; i++)
		cJSON_AddItemToArray(kids, spf_node_json(n->children[i]));
	return o;
}

static void spf_lint(struct spf_task *st, const char *code, const char *domain, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* A lint: CODE (stable, for scripts), the record it is about, a sentence. */
static void
spf_lint(struct spf_task *st, const char *code, const char *domain, const char *fmt, ...)
{
	struct spf_lint *l;
	va_list ap;

	st->lints = xrealloc(st->lints, (st->n_lints + 1) * sizeof(*st->lints));
	l = &st->lints[st->n_lints++];
	l->code = code;
	l->domain = xstrdup(domain);
	va_start(ap, fmt);
	l->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Lint the includes of the tree: included twice, or without a record. */
static void
spf_scan(struct spf_task *st, const struct spf_node *n, cJSON *seen)
{
	for (size_t i = 0; i < n->n_children; i++) {
		const struct spf_node *c = n->children[i];

		if (strcmp(c->via, "include") == 0) {
			cJSON *it;
			int dup = 0;

			cJSON_ArrayForEach(it, seen) if (util_strieq(it->valuestring, c->domain))
			    dup = 1;
			if (dup)
				spf_lint(st, "duplicate_include", n->domain,
				    "%s is included more than "
				    "once in the policy: each include costs its lookups again",
				    c->domain);
			else
				cJSON_AddItemToArray(seen, cJSON_CreateString(c->domain));
			if (c->record == NULL && c->error != NULL &&
			    strstr(c->error, "not followed") == NULL &&
			    strstr(c->error, "loop") == NULL &&
			    strstr(c->error, "lookup failed") == NULL)
				spf_lint(st, "include_without_spf", c->domain,
				    "include:%s has no SPF "
				    "record (%s): receivers return permerror when they reach it "
				    "(RFC 7208 "
				    "section 5.2)",
				    c->domain, c->error);
		}
		spf_scan(st, c, seen);
	}
}

static void
spf_lint_node(struct spf_task *st, const struct spf_node *n)
{
	if (n->record != NULL) {
		size_t len = strlen(n->record);

		if (n->has_ptr)
			spf_lint(st, "ptr", n->domain,
			    "%s uses the ptr mechanism, which is deprecated "
			    "(RFC 7208 section 5.5: it SHOULD NOT be published); it is slow and "
			    "some "
			    "receivers skip it",
			    n->domain);
		if (n->has_plus_all)
			spf_lint(st, "plus_all", n->domain,
			    "%s has +all: every host on the internet "
			    "may send mail as this domain",
			    n->domain);
		if (n->has_all && n->has_redirect)
			spf_lint(st, "redirect_with_all", n->domain,
			    "%s has both redirect= and an "
			    "all mechanism: the redirect is never used (RFC 7208 section 6.1)",
			    n->domain);
		if (len > 255)
			spf_lint(st, "long_record", n->domain,
			    "the record of %s is %zu characters in "
			    "%zu strings: one TXT string holds at most 255, receivers join the "
			    "strings "
			    "without spaces (RFC 7208 section 3.3), so each split must fall where "
			    "the "
			    "record reads right when glued",
			    n->domain, len, n->n_strings);
		if (n->wire_len > SPF_UDP_LIMIT)
			spf_lint(st, "needs_tcp", n->domain,
			    "the TXT answer for %s is about %zu bytes, "
			    "over the %d of plain UDP DNS: receivers without EDNS must retry over "
			    "TCP, "
			    "and some do not (RFC 7208 section 3.4)",
			    n->domain, n->wire_len, SPF_UDP_LIMIT);
	}
	if (n->error != NULL && strstr(n->error, "redirect= appears more than once") != NULL)
		spf_lint(st, "multiple_redirect", n->domain,
		    "%s has more than one redirect=", n->domain);
	for (size_t i = 0; i < n->n_children; i++)
		spf_lint_node(st, n->children[i]);
}

/* The first node with a permanent problem below the top (a receiver's permerror). */
static const struct spf_node *
spf_broken(const struct spf_node *n, int top)
{
	if (!top && n->error != NULL && strstr(n->error, "not followed: the name depends") == NULL)
		return n;
	for (size_t i = 0; i < n->n_children; i++) {
		const struct spf_node *b = spf_broken(n->children[i], 0);

		if (b != NULL)
			return b;
	}
	return NULL;
}

/* RECORD with include:WANT before its first all / redirect=, or at the end. */
static char *
spf_with_include(const char *record, const char *want)
{
	const char *p = record;

	while (*p != '\0') {
		const char *t = p, *e;

		while (*t == ' ')
			t++;
		e = t;
		while (*e != '\0' && *e != ' ')
			e++;
		if (e > t) {
			const char *m = t;

			if (*m == '+' || *m == '-' || *m == '~' || *m == '?')
				m++;
			if ((e - m == 3 && strncasecmp(m, "all", 3) == 0) ||
			    strncasecmp(t, "redirect=", 9) == 0)
				return xasprintf(
				    "%.*sinclude:%s %s", (int)(t - record), record, want, t);
		}
		p = e;
	}
	return xasprintf("%s include:%s", record, want);
}

/* Console lines: the include tree with each record's own and total cost. */
static void
spf_tree_lines(const cJSON *node, int depth, char **out)
{
	const cJSON *kids = cJSON_GetObjectItemCaseSensitive(node, "children");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(node, "error");
	const cJSON *via = cJSON_GetObjectItemCaseSensitive(node, "via");
	const cJSON *child;
	char *line, *joined;

	line = xasprintf("%*s%s%s  %d lookup%s here, %d with what it pulls in%s%s", depth * 2, "",
	    cJSON_IsString(via) && strcmp(via->valuestring, "redirect") == 0 ? "redirect="
	        : depth > 0                                                  ? "include:"
	                                                                     : "",
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(node, "domain")),
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(node, "lookups")),
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(node, "lookups")) == 1 ? ""
	                                                                                      : "s",
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(node, "total_lookups")),
	    cJSON_IsString(err) ? "  ! " : "", cJSON_IsString(err) ? err->valuestring : "");
	joined = *out != NULL ? xasprintf("%s\n%s", *out, line) : xstrdup(line);
	free(*out);
	free(line);
	*out = joined;
	cJSON_ArrayForEach(child, kids) spf_tree_lines(child, depth + 1, out);
}

static char *
spf_console_lines(const struct result *res)
{
	const cJSON *tree = cJSON_GetObjectItemCaseSensitive(res->details, "include_tree");
	const cJSON *lookups = cJSON_GetObjectItemCaseSensitive(res->details, "dns_lookups");
	const cJSON *voids = cJSON_GetObjectItemCaseSensitive(res->details, "void_lookups");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(res->details, "evaluation");
	char *out = NULL, *tmp;

	if (!cJSON_IsObject(tree))
		return NULL;
	out = xasprintf("SPF: %d of %d DNS lookups, %d of %d void lookups",
	    (int)cJSON_GetNumberValue(lookups), SPF_MAX_DNS_TERMS, (int)cJSON_GetNumberValue(voids),
	    SPF_MAX_VOID);
	spf_tree_lines(tree, 0, &out);
	if (cJSON_IsObject(ev)) {
		tmp = xasprintf("%s\ncheck_host(%s, %s): %s, %d lookups; %s", out,
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "ip")),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "sender")),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "result")),
		    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "dns_lookups")),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "reason")));
		free(out);
		out = tmp;
	}
	return out;
}

/* ---- the task ------------------------------------------------------------------ */

static void
spf_task_free(struct spf_task *st)
{
	spf_eval_free(st->ev); /* cancels its queries through spfq_cancel */
	spf_eval_free(st->walk_ev);
	spf_eval_free(st->ip_ev);
	while (st->queries != NULL) {
		dnschase_cancel(st->queries->ch);
		spfq_unlink(st->queries);
	}
	for (size_t i = 0; i < st->n_lints; i++) {
		free(st->lints[i].domain);
		free(st->lints[i].message);
	}
	free(st->lints);
	verdict_clear(&st->v);
	free(st->record);
	free(st->domain);
	free(st->identity);
	free(st);
}

static void
spf_cancel(struct task *t, void *aux)
{
	struct spf_task *st = aux;
	struct verdict v = {0};

	spf_timeout_verdict(st->domain, st->phase, &v);
	verdict_apply(&v, task_result(t));
	spf_task_free(st);
}

static void spf_next(struct spf_task *st);

/* Hand the result to the runner. */
static void
spf_complete(struct spf_task *st)
{
	struct result *res = task_result(st->t);

	st->sum.resolver = dns_client_servers(runner_dns(task_runner(st->t)));
	st->sum.walk = st->walk_ev != NULL ? &st->walk : NULL;
	st->sum.ip = st->evaluated ? &st->ip : NULL;
	spf_details_json(&st->sum, res->details);
	if (st->v.summary == NULL)
		verdict_set(&st->v, st->v.status, "SPF checked");
	verdict_apply(&st->v, res);
	task_done(st->t);
	spf_task_free(st);
}

/* 1 when WANT is the domain of N or of any node below it. */
static int
spf_reaches(const struct spf_node *n, const char *want)
{
	if (util_strieq(n->domain, want) && n->record != NULL)
		return 1;
	for (size_t i = 0; i < n->n_children; i++)
		if (spf_reaches(n->children[i], want))
			return 1;
	return 0;
}

/* The child of N that costs the most lookups, for advice. */
static const struct spf_node *
spf_costliest(const struct spf_node *n)
{
	const struct spf_node *best = NULL;

	for (size_t i = 0; i < n->n_children; i++)
		if (best == NULL || n->children[i]->total_lookups > best->total_lookups)
			best = n->children[i];
	return best;
}

/* Every include of the tree below N, in walk order (an include met twice twice). */
static void
spf_includes_json(const struct spf_node *n, cJSON *includes)
{
	for (size_t i = 0; i < n->n_children; i++) {
		const struct spf_node *c = n->children[i];

		if (strcmp(c->via, "include") == 0)
			cJSON_AddItemToArray(includes, cJSON_CreateString(c->domain));
		spf_includes_json(c, includes);
	}
}

void
spf_lints_json(const struct spf_lint *lints, size_t n, cJSON *arr)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "code", lints[i].code);
		cJSON_AddStringToObject(o, "domain", lints[i].domain);
		cJSON_AddStringToObject(o, "message", lints[i].message);
		cJSON_AddItemToArray(arr, o);
	}
}

char *
spf_record_to_publish(const struct spf_walk_summary *s)
{
	if (s->record == NULL && s->result == SPF_TEMPERROR)
		return NULL;
	if (s->record == NULL)
		return xasprintf("v=spf1 %s%s -all", s->missing != NULL ? "include:" : "mx",
		    s->missing != NULL ? s->missing : "");
	if (s->missing != NULL)
		return spf_with_include(s->record, s->missing);
	return NULL;
}

void
spf_walk_details_json(const struct spf_walk_summary *s, cJSON *d)
{
	char *rec;

	util_json_add_str_or_null(d, "record", s->record);
	cJSON_AddNumberToObject(d, "records_found", s->n_records);
	cJSON_AddNumberToObject(d, "dns_lookups", s->lookups);
	cJSON_AddNumberToObject(d, "void_lookups", s->void_lookups);
	cJSON_AddNumberToObject(d, "dns_lookup_limit", SPF_MAX_DNS_TERMS);
	spf_includes_json(s->tree, cJSON_AddArrayToObject(d, "includes"));
	cJSON_AddItemToObject(d, "include_tree", spf_node_json(s->tree));
	cJSON_AddStringToObject(d, "walk_result", spf_result_str(s->result));
	if (s->expected != NULL && s->expected[0] != NULL) {
		cJSON *exp = cJSON_AddObjectToObject(d, "expected");
		cJSON *arr = cJSON_AddArrayToObject(exp, "spf_include");

		for (size_t i = 0; s->expected[i] != NULL; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(s->expected[i]));
		cJSON_AddStringToObject(exp, "origin", s->origin);
		cJSON_AddBoolToObject(d, "authorizes_destination", s->missing == NULL);
	} else {
		cJSON_AddNullToObject(d, "authorizes_destination");
	}
	rec = spf_record_to_publish(s);
	if (rec != NULL)
		cJSON_AddStringToObject(d, "record_to_publish", rec);
	free(rec);
}

void
spf_walk_verdict(const struct spf_walk_summary *s, struct verdict *v)
{
	char *rec = spf_record_to_publish(s);

	/* What a receiver would make of the record itself. */
	if (s->record == NULL && s->result == SPF_TEMPERROR) {
		verdict_raise(v, RESULT_ERROR,
		    xasprintf("SPF lookup for %s failed: %s", s->domain, s->error),
		    xstrdup("Run the check again; if it persists, check the name "
		            "servers of the domain: receivers treat this as temperror and may "
		            "defer mail."));
	} else if (s->record == NULL) {
		verdict_raise(v, RESULT_WARN,
		    s->error != NULL && strstr(s->error, "no SPF record") == NULL
		        ? xasprintf("no SPF record for %s (%s)", s->domain, s->error)
		        : xasprintf("no SPF record for %s", s->domain),
		    xasprintf(
		        "Publish a TXT record at %s: "
		        "\"%s\". Without SPF, receivers cannot tell your servers from forgers and "
		        "DMARC has only DKIM to go on.",
		        s->domain, rec));
	} else if (s->n_records > 1) {
		verdict_raise(v, RESULT_FAIL,
		    xasprintf("%d SPF records for %s: receivers return "
		              "permerror (RFC 7208 section 4.5)",
		        s->n_records, s->domain),
		    xstrdup("Merge them into one v=spf1 TXT record and delete the others."));
	} else if (s->error != NULL) {
		verdict_raise(v, RESULT_FAIL,
		    xasprintf("SPF record of %s: %s; receivers return "
		              "permerror",
		        s->domain, s->error),
		    xasprintf("Fix the record: \"%s\".", s->record));
	}
	if (s->lookups > SPF_MAX_DNS_TERMS) {
		char costliest[320] = "";

		if (s->costliest_via != NULL)
			snprintf(costliest, sizeof(costliest), "; the costliest is %s:%s with %d",
			    s->costliest_via, s->costliest_domain, s->costliest_lookups);
		verdict_raise(v, RESULT_FAIL,
		    xasprintf("SPF needs %d DNS lookups, over the limit of "
		              "%d: receivers return permerror (RFC 7208 section 4.6.4)",
		        s->lookups, SPF_MAX_DNS_TERMS),
		    xasprintf("Remove includes you no longer need or replace "
		              "a/mx terms with ip4:/ip6: ranges%s (see the include tree).",
		        costliest));
	}
	if (s->void_lookups > SPF_MAX_VOID)
		verdict_raise(v, RESULT_FAIL,
		    xasprintf("SPF has %d void lookups (names that do not "
		              "exist or have no address), over the limit of %d: receivers return "
		              "permerror "
		              "(RFC 7208 section 4.6.4)",
		        s->void_lookups, SPF_MAX_VOID),
		    xstrdup("Remove the a:, mx:, include: or exists: terms whose names are gone "
		            "(see include_tree)."));
	if (s->broken_via != NULL) {
		int temp = strstr(s->broken_error, "lookup failed") != NULL;

		verdict_raise(v, temp ? RESULT_WARN : RESULT_FAIL,
		    xasprintf("%s:%s in the SPF policy: %s", s->broken_via, s->broken_domain,
		        s->broken_error),
		    xasprintf("Fix or remove %s:%s; receivers that reach it return "
		              "%s.",
		        s->broken_via, s->broken_domain, temp ? "temperror" : "permerror"));
	}
	for (size_t i = 0; i < s->n_lints; i++) {
		const char *code = s->lints[i].code;

		if (strcmp(code, "long_record") == 0 || strcmp(code, "include_without_spf") == 0)
			continue; /* informational / reported as broken above */
		verdict_raise(v, strcmp(code, "plus_all") == 0 ? RESULT_FAIL : RESULT_WARN,
		    xasprintf("SPF: %s", s->lints[i].message), NULL);
	}
	if (s->missing != NULL && s->record != NULL)
		verdict_raise(v, RESULT_WARN,
		    xasprintf("SPF of %s does not authorize the destination "
		              "yet (include:%s, from %s)",
		        s->domain, s->missing, s->origin),
		    xasprintf("Before the cutover, publish: \"%s\"", rec));
	free(rec);
}

static void
spf_walk_done(struct spf_task *st, const struct spf_outcome *o)
{
	const struct spf_node *top = o->tree, *broken, *costliest;
	const char *const *want = st->in->expect_spf_include;
	cJSON *seen = cJSON_CreateArray();
	struct spf_walk_summary s = {
	    .domain = st->domain,
	    .tree = top,
	    .record = top->record,
	    .n_records = top->n_records,
	    .error = top->error,
	    .result = o->result,
	    .lookups = o->lookups,
	    .void_lookups = o->void_lookups,
	    .expected = want,
	    .origin = st->in->expect_spf_include_origin != NULL ? st->in->expect_spf_include_origin
	                                                        : "plan",
	};

	st->walk_lookups = o->lookups;
	st->record = top->record != NULL ? xstrdup(top->record) : NULL;
	spf_scan(st, top, seen);
	cJSON_Delete(seen);
	spf_lint_node(st, top);
	for (size_t i = 0; want != NULL && want[i] != NULL && st->missing == NULL; i++)
		if (top->record == NULL || !spf_reaches(top, want[i]))
			st->missing = want[i];
	s.missing = st->missing;
	s.lints = st->lints;
	s.n_lints = st->n_lints;
	costliest = spf_costliest(top);
	if (costliest != NULL) {
		s.costliest_via = costliest->via;
		s.costliest_domain = costliest->domain;
		s.costliest_lookups = costliest->total_lookups;
	}
	broken = spf_broken(top, 1);
	if (broken != NULL) {
		s.broken_via = broken->via;
		s.broken_domain = broken->domain;
		s.broken_error = broken->error;
	}
	if (top->record == NULL && o->result == SPF_TEMPERROR)
		st->dns_failed = 1;
	st->walk = s;
	spf_walk_verdict(&s, &st->v);
}

void
spf_dest_verdict(const char *missing, int after, int include_lookups, struct verdict *v)
{
	if (after > SPF_MAX_DNS_TERMS && v->advice != NULL && v->status == RESULT_WARN) {
		/* the "does not authorize yet" advice: say that the record would break */
		char *more = xasprintf("%s But that record needs %d DNS lookups, over the limit "
		                       "of %d: make room first.",
		    v->advice, after, SPF_MAX_DNS_TERMS);

		free(v->advice);
		v->advice = more;
	}
	if (after > SPF_MAX_DNS_TERMS)
		verdict_raise(v, RESULT_WARN,
		    xasprintf("adding include:%s would make SPF need %d DNS "
		              "lookups, over the limit of %d (RFC 7208 section 4.6.4)",
		        missing, after, SPF_MAX_DNS_TERMS),
		    xasprintf(
		        "Make room before adding include:%s (%d lookups "
		        "with what it pulls in): drop includes of services you no longer use, or "
		        "replace a/mx terms with ip4:/ip6: ranges.",
		        missing, include_lookups));
}

static void
spf_dest_done(struct spf_task *st, const struct spf_outcome *o)
{
	int after = (st->record != NULL ? st->walk_lookups : 0) + 1 + o->lookups;

	st->sum.dest_walked = 1;
	st->sum.lookups_after_adding = after;
	spf_dest_verdict(st->missing, after, 1 + o->lookups, &st->v);
}

void
spf_ip_verdict(
    const char *identity, const char *ip, enum spf_result r, const char *reason, struct verdict *v)
{
	enum result_status status;

	switch (r) {
	case SPF_PASS: status = RESULT_PASS; break;
	case SPF_PERMERROR: status = RESULT_FAIL; break;
	case SPF_TEMPERROR: status = RESULT_ERROR; break;
	default: status = RESULT_WARN; break;
	}
	if (status != RESULT_PASS)
		verdict_raise(v, status,
		    xasprintf(
		        "SPF for %s from %s: %s (%s)", identity, ip, spf_result_str(r), reason),
		    xasprintf("Receivers "
		              "would not accept %s as a sender for %s; if it should send, add it "
		              "(ip4:/ip6:) "
		              "or the include of its provider.",
		        ip, identity));
}

void
spf_pass_verdict(
    const char *record, int lookups, int authorizes, const char *ip_passes, struct verdict *v)
{
	if (v->status != RESULT_PASS && v->summary != NULL)
		return;
	verdict_raise(v, RESULT_PASS,
	    xasprintf("\"%s\": %d of %d DNS lookups%s%s%s%s", record, lookups, SPF_MAX_DNS_TERMS,
	        authorizes ? ", authorizes the destination" : "", ip_passes != NULL ? ", " : "",
	        ip_passes != NULL ? ip_passes : "", ip_passes != NULL ? " passes" : ""),
	    NULL);
}

void
spf_timeout_verdict(const char *domain, int phase, struct verdict *v)
{
	verdict_set(v, RESULT_ERROR, "SPF check of %s did not finish in time (%s)", domain,
	    phase == 1       ? "walking the policy"
	        : phase == 2 ? "walking the destination's include"
	                     : "evaluating check_host() for --ip");
}

static void
spf_ip_details_json(const struct spf_ip_summary *s, cJSON *d)
{
	const struct spf_outcome *o = s->outcome;
	cJSON *ev;

	if (o == NULL) { /* the domain's own lookup failed: check_host() stops there */
		cJSON_AddStringToObject(d, "result", "temperror");
		return;
	}
	ev = cJSON_AddObjectToObject(d, "evaluation");
	cJSON_AddStringToObject(d, "result", spf_result_str(o->result));
	cJSON_AddStringToObject(ev, "ip", s->ip);
	if (s->sender != NULL && s->sender[0] != '\0') {
		cJSON_AddStringToObject(ev, "sender", s->sender);
	} else {
		char *pm = xasprintf("postmaster@%s", s->identity); /* RFC 7208 section 4.3 */

		cJSON_AddStringToObject(ev, "sender", pm);
		free(pm);
	}
	cJSON_AddStringToObject(ev, "domain", s->identity);
	cJSON_AddStringToObject(ev, "identity", s->identity_kind);
	if (s->helo != NULL)
		cJSON_AddStringToObject(ev, "helo", s->helo);
	cJSON_AddStringToObject(ev, "result", spf_result_str(o->result));
	cJSON_AddStringToObject(ev, "reason", o->reason);
	if (o->matched_in != NULL)
		cJSON_AddStringToObject(ev, "matched_in", o->matched_in);
	if (o->explanation != NULL) {
		cJSON_AddStringToObject(ev, "explanation", o->explanation);
		cJSON_AddStringToObject(ev, "explanation_source", o->explanation_source);
	}
	util_json_add_str_or_null(ev, "mechanism", o->mechanism);
	cJSON_AddNumberToObject(ev, "dns_lookups", o->lookups);
	cJSON_AddNumberToObject(ev, "void_lookups", o->void_lookups);
	cJSON_AddItemToObject(ev, "include_tree", spf_node_json(o->tree));
}

void
spf_details_json(const struct spf_summary *s, cJSON *d)
{
	cJSON_AddStringToObject(d, "resolver", s->resolver);
	if (s->walk != NULL)
		spf_walk_details_json(s->walk, d);
	if (s->dest_walked)
		cJSON_AddNumberToObject(d, "lookups_after_adding", s->lookups_after_adding);
	if (s->ip != NULL)
		spf_ip_details_json(s->ip, d);
	if (s->walk != NULL)
		spf_lints_json(
		    s->walk->lints, s->walk->n_lints, cJSON_AddArrayToObject(d, "lints"));
	else
		cJSON_AddArrayToObject(d, "lints");
}

static void
spf_ip_done(struct spf_task *st, const struct spf_outcome *o)
{
	st->evaluated = 1;
	st->ip.outcome = o;
	spf_ip_verdict(st->identity, st->in->spf_ip, o->result, o->reason, &st->v);
}

static void
spf_eval_done(void *arg, const struct spf_outcome *o)
{
	struct spf_task *st = arg;
	struct spf_eval *ev = st->ev;

	st->ev = NULL;
	if (st->phase == 1) {
		spf_walk_done(st, o);
		st->walk_ev = ev; /* the details show its tree */
	} else if (st->phase == 2) {
		spf_dest_done(st, o);
		spf_eval_free(ev);
	} else {
		spf_ip_done(st, o);
		st->ip_ev = ev;
	}
	spf_next(st);
}
static void
spf_next(struct spf_task *st)
{
	struct spf_eval_params p;

	memset(&p, 0, sizeof(p));
	p.now = time(NULL);
	if (st->phase == 0) {
		st->phase = 1;
		p.domain = st->domain;
	} else if (st->phase == 1 && st->missing != NULL) {
		st->phase = 2;
		p.domain = st->missing;
	} else if (st->phase <= 2 && st->in->spf_ip != NULL && st->dns_failed &&
	    util_strieq(st->identity, st->domain)) {
		/* check_host() would stop at the same failed lookup (section 4.4) */
		st->phase = 3;
		st->evaluated = 1; /* with no outcome: temperror */
		spf_next(st);
		return;
	} else if (st->phase <= 2 && st->in->spf_ip != NULL) {
		st->phase = 3;
		p.domain = st->identity;
		p.ip = st->in->spf_ip;
		p.sender = st->in->spf_sender;
		p.helo = st->in->spf_helo;
	} else {
		int authorizes = st->walk.expected != NULL && st->walk.expected[0] != NULL &&
		    st->walk.missing == NULL;

		spf_pass_verdict(st->record, st->walk_lookups, authorizes,
		    st->evaluated ? st->in->spf_ip : NULL, &st->v);
		spf_complete(st);
		return;
	}
	st->ev = spf_eval_start(&p, &st->sdns, spf_eval_done, st);
	if (st->ev == NULL) {
		verdict_raise(&st->v, RESULT_ERROR,
		    xasprintf("--ip %s is not an IPv4 or IPv6 address", p.ip != NULL ? p.ip : ""),
		    NULL);
		spf_complete(st);
		return;
	}
	spf_eval_run(st->ev); /* may finish the task: nothing of ST after this */
}

static void
spf_start(struct task *t, void *aux)
{
	struct spf_task *st = aux;

	st->t = t;
	spf_next(st);
}

static void
spf_schedule(struct runner *r, const struct check_input *in)
{
	struct spf_task *st = xcalloc(1, sizeof(*st));

	st->in = in;
	st->domain = xstrdup(in->domain);
	/* check_host()'s <domain>: the MAIL FROM's domain, or with the empty MAIL FROM
	 * of a bounce the HELO name (RFC 7208 sections 2.3, 2.4); without --sender,
	 * DOMAIN as postmaster@DOMAIN would send */
	if (in->spf_sender != NULL && in->spf_sender[0] == '\0' && in->spf_helo != NULL) {
		st->identity = xstrdup(in->spf_helo);
		st->identity_kind = "helo";
	} else if (in->spf_sender != NULL && strrchr(in->spf_sender, '@') != NULL) {
		st->identity = xstrdup(strrchr(in->spf_sender, '@') + 1);
		st->identity_kind = "mailfrom";
	} else {
		st->identity = xstrdup(in->domain);
		st->identity_kind = "mailfrom";
	}
	st->ip.ip = in->spf_ip;
	st->ip.sender = in->spf_sender;
	st->ip.helo = in->spf_helo;
	st->ip.identity = st->identity;
	st->ip.identity_kind = st->identity_kind;
	st->sdns.query = spfq_query;
	st->sdns.cancel = spfq_cancel;
	st->sdns.ctx = st;
	runner_add(r, NULL, result_new("dns.spf", in->domain, RESULT_SIDE_NONE), spf_start,
	    spf_cancel, st, 0);
}

const struct check check_dns_spf = {
    .id = "dns.spf",
    .group = "dns",
    .title = "SPF record: syntax, DNS lookup limits, include tree, destination authorized",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = spf_schedule,
    .console_lines = spf_console_lines,
};
