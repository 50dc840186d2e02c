/*
 * propagation.c - the propagation engine behind dns.propagation (`cutover
 * propagation`). See propagation.h.
 *
 * Data flow of one round: every server gets every query at once (through
 * one dnsprobe: a few shared UDP sockets however many servers); each answer is turned into a state
 * (match, stale, error) the moment it arrives, and compared with that server's previous state so
 * that changes go to the timeline; when the last query of the round is in,
 * every expectation gets its status, the progress hook runs, and finished
 * expectations hand their result to the runner.
 *
 * Protocol notes. Authoritative servers are asked with RD=0 (RFC 1035
 * section 4.1.1) and must answer with AA set: a NOERROR answer without AA
 * from a listed name server is a lame delegation and counts as an error, not
 * as "stale". A resolver's TTL on a cached answer counts down (RFC 1035
 * section 3.2.1, RFC 2181 section 8): answer time plus TTL is when its cache
 * drops the old record. Negative answers are cached for the smaller of the
 * SOA's TTL and its MINIMUM field (RFC 2308 section 5).
 */
#include "propagation.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "dns.h"
#include "dnsmsg.h"
#include "dnsprobe.h"
#include "profile.h"
#include "util.h"

struct prop_server;

/* What a query callback needs: the server and which query (n_items = SOA). */
struct prop_ref {
	struct prop_server *s;
	size_t i;
};

/* What one server said about one expectation, the last time it answered. */
struct prop_ans {
	enum prop_state state;
	char *answer[PROP_MAX_ANSWER];
	size_t n_answer;
	char *joined;           /* answer joined with ", ", for display and changes */
	int64_t ttl;            /* -1 = none */
	const char *error_code; /* dns_status_str() or "not_authoritative" */
	char *error;
	const char *negative;  /* "nodata", "nxdomain" or NULL */
	time_t at;             /* wall clock of the answer */
	time_t first_match_at; /* 0 = never matched */
	int64_t first_match_ms;
	int changed; /* changed in the current round */
	enum prop_state previous;
};

struct prop_server {
	struct prop *p;
	char *cares;    /* "127.0.0.1:5300", "[::1]:53" */
	char *label;    /* "127.0.0.1:5300", "192.0.2.1" */
	char *ns_name;  /* discovered NS host, or NULL */
	char *operator; /* from a resolvers list, or NULL */
	char *country;
	enum prop_role role;
	struct sockaddr_storage sa;
	socklen_t salen;
	int64_t serial; /* -1 = unknown */
	struct prop_ans ans[PROP_MAX_EXPECT];
	struct dnsprobe_query *q[PROP_MAX_EXPECT + 1];
	struct prop_ref ref[PROP_MAX_EXPECT + 1];
};

struct prop_item {
	struct prop *p;
	const struct prop_expect *e;
	char *label; /* "MX example.com" */
	struct task *t;
	int done;
	enum result_status status;
	struct prop_counts counts;
	cJSON *timeline;
	size_t n_timeline;
	int timeline_truncated;
	time_t completed_at;
};

/* A discovery address query: which NS name, A or AAAA. */
struct prop_nsref {
	struct prop *p;
	size_t idx;
	int v6;
};

struct prop {
	struct runner *r;
	struct prop_config cfg;
	struct dnsprobe *probe;
	struct prop_server **srv;
	size_t n_srv, cap_srv;
	struct prop_item items[PROP_MAX_EXPECT];
	size_t n_items, n_started, n_done;
	/* discovery */
	int discovered;
	char *discovery_error;
	char *ns_names[PROP_MAX_NS];
	size_t n_ns;
	struct dns_query *nsq;
	struct dns_query *addrq[PROP_MAX_NS][2];
	struct prop_nsref nsref[PROP_MAX_NS][2];
	size_t disc_pending;
	char *addr_error; /* first failed address lookup of an NS name */
	/* rounds */
	size_t pending;
	unsigned rounds;
	int64_t t0_ms, round_started_ms;
	time_t t0;
	struct event *timer;
	int interrupted, quiet;
};

static void prop_round_start(struct prop *p);
static void prop_round_send(struct prop *p);

/* ---- pure helpers ---------------------------------------------------------- */

int
prop_match(const struct prop_expect *e, const char *const *answer, size_t n)
{
	if (n == 0)
		return 0;
	switch (e->type) {
	case DNSMSG_MX:
		for (size_t a = 0; a < n; a++) {
			int ok = 0;

			for (size_t v = 0; v < e->n_values && !ok; v++)
				ok = util_domain_match(e->values[v], answer[a]);
			if (!ok)
				return 0;
		}
		for (size_t v = 0; v < e->n_values; v++) {
			int seen = !e->required[v];

			for (size_t a = 0; a < n && !seen; a++)
				seen = util_domain_match(e->values[v], answer[a]);
			if (!seen)
				return 0;
		}
		return 1;
	case DNSMSG_TXT:
		for (size_t a = 0; a < n; a++)
			for (size_t v = 0; v < e->n_values; v++)
				if (strcmp(answer[a], e->values[v]) == 0)
					return 1;
		return 0;
	default: /* CNAME: one target */
		for (size_t v = 0; v < e->n_values; v++)
			if (util_domain_match(e->values[v], answer[0]))
				return 1;
		return 0;
	}
}

int
prop_expect_mx_parse(struct prop_expect *e, const char *arg, char **err)
{
	const char *p = arg;

	*err = NULL;
	e->type = DNSMSG_MX;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		char *tok = xstrndup(p, n);
		const struct profile *prof = strchr(tok, '.') == NULL ? profile_find(tok) : NULL;

		p += n;
		if (*p == ',')
			p++;
		if (tok[0] == '\0') {
			free(tok);
			continue;
		}
		if (prof != NULL) {
			if (prof->mx[0] == NULL) {
				*err = xasprintf(
				    "profile %s has no MX hosts; name the hosts instead", tok);
				free(tok);
				return -1;
			}
			for (size_t i = 0; prof->mx[i] != NULL; i++) {
				if (e->n_values == PROP_MAX_VALUES)
					goto toomany;
				e->values[e->n_values] = prof->mx[i];
				e->owned[e->n_values] = 0;
				e->required[e->n_values++] = 0;
			}
			free(tok);
			continue;
		}
		if (strchr(tok, '.') == NULL ||
		    strspn(tok,
		        "abcdefghijklmnopqrstuvwxyz"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*_") != strlen(tok)) {
			*err = xasprintf("\"%s\" is neither a host name (mx1.example.com, "
			                 "*.mail.protection.outlook.com) nor a profile "
			                 "(microsoft365, rackspace, "
			                 "google)",
			    tok);
			free(tok);
			return -1;
		}
		if (e->n_values == PROP_MAX_VALUES) {
			free(tok);
			goto toomany;
		}
		e->values[e->n_values] = tok;
		e->owned[e->n_values] = 1;
		e->required[e->n_values++] = 1;
	}
	if (e->n_values == 0) {
		*err = xstrdup("no MX host given");
		return -1;
	}
	return 0;
toomany:
	*err = xasprintf("at most %d MX hosts", PROP_MAX_VALUES);
	return -1;
}

void
prop_expect_clear(struct prop_expect *e)
{
	for (size_t v = 0; v < e->n_values; v++)
		if (e->owned[v])
			free((char *)e->values[v]);
	memset(e, 0, sizeof(*e));
}

int
prop_name_value_parse(const char *arg, const char *domain, char **name, char **value, char **err)
{
	const char *eq = strchr(arg, '=');

	*name = *value = *err = NULL;
	if (eq == NULL || eq == arg || eq[1] == '\0') {
		*err = xstrdup(
		    "expected NAME=VALUE, e.g. @=\"v=spf1 include:spf.protection."
		    "outlook.com -all\" or autodiscover.example.com=autodiscover.outlook.com");
		return -1;
	}
	if (eq - arg == 1 && arg[0] == '@')
		*name = xstrdup(domain);
	else
		*name = xstrndup(arg, (size_t)(eq - arg));
	*value = xstrdup(eq + 1);
	return 0;
}

enum result_status
prop_status(const struct prop_counts *c)
{
	size_t match = c->auth_match + c->res_match;
	size_t stale = c->auth_stale + c->res_stale;
	size_t errors = c->auth_error + c->res_error;

	if (match + stale == 0)
		return RESULT_ERROR;
	if (c->auth_stale > 0 && c->res_match > 0)
		return RESULT_FAIL;
	if (stale > 0 || errors > 0)
		return RESULT_WARN;
	return RESULT_PASS;
}

int
prop_server_parse(
    const char *s, int default_port, char *cares, size_t cares_len, char *label, size_t label_len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *port_s = NULL;
	long long port = default_port;
	int v6;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return -1;
		n = (size_t)(close - s - 1);
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1] != '\0')
			return -1;
		s++;
		v6 = 1;
	} else {
		const char *colon = strchr(s, ':');

		v6 = colon != NULL && strchr(colon + 1, ':') != NULL;
		n = v6 || colon == NULL ? strlen(s) : (size_t)(colon - s);
		if (!v6 && colon != NULL)
			port_s = colon + 1;
	}
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
		return -1;
	if (port_s != NULL && util_parse_int(port_s, 1, 65535, &port) != 0)
		return -1;
	/* Canonical text: "::0001" and "::1" are the same server. */
	inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, sizeof(addr));
	if (v6) {
		snprintf(cares, cares_len, "[%s]:%lld", addr, port);
		if (port == 53)
			snprintf(label, label_len, "%s", addr);
		else
			snprintf(label, label_len, "[%s]:%lld", addr, port);
	} else {
		snprintf(cares, cares_len, "%s:%lld", addr, port);
		if (port == 53)
			snprintf(label, label_len, "%s", addr);
		else
			snprintf(label, label_len, "%s:%lld", addr, port);
	}
	return 0;
}

/* Index of the first byte of S[0..N) that is in REJECT, or N (S need not
 * be NUL-terminated). */
static size_t
prop_span(const char *s, size_t n, const char *reject)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\0' && strchr(reject, s[i]) != NULL)
			return i;
	return n;
}

/* Trim spaces and tabs at both ends of [*S, *S + *N). */
static void
prop_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

static int
prop_list_line(const char *line, size_t len, const char *path, unsigned lineno, struct prop_list *l,
    size_t first, char **err)
{
	const char *field[3] = {NULL, NULL, NULL};
	size_t flen[3] = {0, 0, 0}, nf = 0, alen;
	char addr[PROP_MAX_LIST_LINE + 1], cares[80], label[80];
	struct prop_list_entry *e;
	const char *rest;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 && ch != '\t' && ch != '\r') {
			*err = xasprintf("%s:%u: control character (byte 0x%02x) in column %zu",
			    path, lineno, ch, i + 1);
			return -1;
		}
	}
	prop_trim(&line, &len);
	if (len == 0)
		return 0;
	alen = prop_span(line, len, " \t");
	memcpy(addr, line, alen);
	addr[alen] = '\0';
	if (prop_server_parse(addr, 53, cares, sizeof(cares), label, sizeof(label)) != 0) {
		*err = xasprintf("%s:%u: \"%.60s\" is not an IP address (ADDR, ADDR:PORT or "
		                 "[IPv6]:PORT)",
		    path, lineno, addr);
		return -1;
	}
	/* The rest: OPERATOR | COUNTRY | SOURCE, each optional. */
	rest = line + alen;
	len -= alen;
	while (len > 0) {
		size_t n = prop_span(rest, len, "|");

		if (nf == 3) {
			*err = xasprintf("%s:%u: more than three fields after the address "
			                 "(OPERATOR | COUNTRY | SOURCE)",
			    path, lineno);
			return -1;
		}
		field[nf] = rest;
		flen[nf] = n;
		prop_trim(&field[nf], &flen[nf]);
		nf++;
		if (n == len)
			break;
		rest += n + 1; /* past the '|' */
		len -= n + 1;
	}
	if (flen[1] > 0 &&
	    (flen[1] != 2 || field[1][0] < 'A' || field[1][0] > 'Z' || field[1][1] < 'A' ||
	        field[1][1] > 'Z')) {
		*err = xasprintf("%s:%u: country \"%.*s\" is not an ISO 3166 code of two "
		                 "capital letters (US, DE, JP)",
		    path, lineno, (int)(flen[1] > 40 ? 40 : flen[1]), field[1]);
		return -1;
	}
	/* The same server twice (in any spelling): say where it was first. */
	for (size_t i = first; i < l->n; i++) {
		if (strcmp(cares, l->v[i].canonical) == 0) {
			*err = xasprintf("%s:%u: %s is listed already (line %u)", path, lineno,
			    addr, l->v[i].line);
			return -1;
		}
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(l->v[0]));
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->server = xstrdup(addr);
	e->canonical = xstrdup(cares);
	e->operator= flen[0]> 0 ? xstrndup(field[0], flen[0]) : NULL;
	e->country = flen[1] > 0 ? xstrndup(field[1], flen[1]) : NULL;
	e->source = flen[2] > 0 ? xstrndup(field[2], flen[2]) : NULL;
	e->line = lineno;
	return 0;
}

int
prop_list_parse(const char *buf, size_t len, const char *path, struct prop_list *l, char **err)
{
	size_t pos = 0, first = l->n;
	unsigned lineno = 0;

	*err = NULL;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos, body;

		pos += n + (nl != NULL);
		lineno++;
		if (n > PROP_MAX_LIST_LINE) {
			*err = xasprintf(
			    "%s:%u: line longer than %d bytes", path, lineno, PROP_MAX_LIST_LINE);
			return -1;
		}
		/* '#' starts a comment (addresses and the fields never hold one). */
		body = prop_span(line, n, "#");
		if (prop_list_line(line, body, path, lineno, l, first, err) != 0)
			return -1;
	}
	return 0;
}

void
prop_list_free(struct prop_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].server);
		free(l->v[i].canonical);
		free(l->v[i].operator);
		free(l->v[i].country);
		free(l->v[i].source);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
prop_format_utc(time_t t, time_t now, char *buf, size_t len)
{
	struct tm tm, tn;

	/* "At the latest": round up to the next whole minute. */
	if (t % 60 != 0)
		t += 60 - t % 60;
	gmtime_r(&t, &tm);
	gmtime_r(&now, &tn);
	if (tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday)
		strftime(buf, len, "%H:%M UTC", &tm);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---- servers ------------------------------------------------------------ */

static const char *
prop_state_str(enum prop_state st)
{
	switch (st) {
	case PROP_MATCH: return "match";
	case PROP_STALE: return "stale";
	case PROP_ERROR: return "error";
	case PROP_UNKNOWN: break;
	}
	return "new";
}

static void
prop_ans_clear(struct prop_ans *a)
{
	for (size_t i = 0; i < a->n_answer; i++)
		free(a->answer[i]);
	a->n_answer = 0;
	free(a->joined);
	a->joined = NULL;
	free(a->error);
	a->error = NULL;
}

/* Add a server (CARES/LABEL as prop_server_parse made them). Returns 0, 1
 * when it is there already, or -1 with *ERR. */
static int
prop_add_server(struct prop *p, const char *cares, const char *label, enum prop_role role,
    const char *ns_name, const struct prop_meta *meta, char **err)
{
	struct prop_server *s;

	*err = NULL;
	for (size_t i = 0; i < p->n_srv; i++)
		if (p->srv[i]->role == role && strcmp(p->srv[i]->cares, cares) == 0)
			return 1;
	s = xcalloc(1, sizeof(*s));
	if (dnsprobe_addr(cares, &s->sa, &s->salen) != 0) {
		*err = xasprintf("\"%s\": not an address and port", cares);
		free(s);
		return -1;
	}
	if (p->n_srv == p->cap_srv) {
		p->cap_srv = p->cap_srv ? p->cap_srv * 2 : 16;
		p->srv = xrealloc(p->srv, p->cap_srv * sizeof(p->srv[0]));
	}
	s->p = p;
	if (meta != NULL) {
		s->operator= meta->operator!= NULL ? xstrdup(meta->operator) : NULL;
		s->country = meta->country != NULL ? xstrdup(meta->country) : NULL;
	}
	s->cares = xstrdup(cares);
	s->label = xstrdup(label);
	s->ns_name = xstrdup(ns_name);
	s->role = role;
	s->serial = -1;
	for (size_t i = 0; i < PROP_MAX_EXPECT; i++) {
		s->ans[i].ttl = -1;
		s->ans[i].first_match_ms = -1;
	}
	p->srv[p->n_srv++] = s;
	return 0;
}

static void
prop_server_free(struct prop_server *s)
{
	for (size_t i = 0; i <= PROP_MAX_EXPECT; i++)
		dnsprobe_cancel(s->q[i]);
	for (size_t i = 0; i < PROP_MAX_EXPECT; i++)
		prop_ans_clear(&s->ans[i]);
	free(s->operator);
	free(s->country);
	free(s->cares);
	free(s->label);
	free(s->ns_name);
	free(s);
}

/* Stop every query and the round timer: the watch is over. */
static void
prop_quiesce(struct prop *p)
{
	for (size_t i = 0; i < p->n_srv; i++) {
		for (size_t q = 0; q <= PROP_MAX_EXPECT; q++) {
			dnsprobe_cancel(p->srv[i]->q[q]);
			p->srv[i]->q[q] = NULL;
		}
	}
	dns_query_cancel(p->nsq);
	p->nsq = NULL;
	for (size_t i = 0; i < PROP_MAX_NS; i++) {
		for (int w = 0; w < 2; w++) {
			dns_query_cancel(p->addrq[i][w]);
			p->addrq[i][w] = NULL;
		}
	}
	if (p->timer != NULL)
		evtimer_del(p->timer);
}

/* ---- answers -------------------------------------------------------------- */

/* The negative-caching TTL of a NODATA/NXDOMAIN answer (RFC 2308 section 5). */
static int64_t
prop_negative_ttl(const struct dnsmsg *msg)
{
	const struct dnsmsg_rr *rr;
	size_t it = 0;

	if (msg == NULL)
		return -1;
	rr = dnsmsg_next(msg, DNSMSG_AUTHORITY, DNSMSG_SOA, NULL, &it);
	if (rr == NULL)
		return -1;
	return rr->ttl < rr->minimum ? rr->ttl : rr->minimum;
}

/* TXT text for reports: printable ASCII, anything else as '?'. */
static char *
prop_txt_text(const struct dnsmsg_rr *rr)
{
	char *s = xmalloc(rr->text_len + 1);

	for (size_t i = 0; i < rr->text_len; i++) {
		unsigned char ch = (unsigned char)rr->text[i];

		s[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	s[rr->text_len] = '\0';
	return s;
}

static int
prop_strcmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Fill N (zeroed) from REPLY for expectation E asked of server S. */
static void
prop_read_answer(const struct prop_server *s, const struct prop_expect *e,
    const struct dns_reply *reply, struct prop_ans *n)
{
	const struct dnsmsg *msg = reply->msg;
	const struct dnsmsg_rr *rr;
	const char *owner;
	size_t it = 0;

	n->ttl = -1;
	if (reply->status != DNS_OK && reply->status != DNS_NODATA &&
	    reply->status != DNS_NXDOMAIN) {
		n->state = PROP_ERROR;
		n->error_code = dns_status_str(reply->status);
		n->error = xstrdup(reply->error);
		return;
	}
	if (s->role == PROP_AUTHORITATIVE && msg != NULL && !msg->aa) {
		n->state = PROP_ERROR;
		n->error_code = "not_authoritative";
		n->error = xasprintf("answered without the AA flag: not authoritative for %s "
		                     "(lame delegation)",
		    e->name);
		return;
	}
	if (reply->status == DNS_OK && msg != NULL) {
		owner = e->type == DNSMSG_CNAME ? e->name : dnsmsg_resolve_cname(msg, e->name);
		while ((rr = dnsmsg_next(msg, DNSMSG_ANSWER, e->type, owner, &it)) != NULL) {
			if (n->n_answer == PROP_MAX_ANSWER)
				break;
			if (e->type == DNSMSG_TXT)
				n->answer[n->n_answer] = prop_txt_text(rr);
			else
				n->answer[n->n_answer] = xstrdup(rr->target[0] ? rr->target : ".");
			n->n_answer++;
			if ((int64_t)rr->ttl > n->ttl)
				n->ttl = rr->ttl;
		}
	}
	if (n->n_answer == 0) {
		n->negative = reply->status == DNS_NXDOMAIN ? "nxdomain" : "nodata";
		n->ttl = prop_negative_ttl(msg);
	}
	qsort(n->answer, n->n_answer, sizeof(n->answer[0]), prop_strcmp);
	n->state =
	    prop_match(e, (const char *const *)n->answer, n->n_answer) ? PROP_MATCH : PROP_STALE;
}

static char *
prop_join(const struct prop_ans *a)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < a->n_answer; i++)
		len += strlen(a->answer[i]) + 2;
	s = xcalloc(1, len);
	for (size_t i = 0; i < a->n_answer; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, a->answer[i]);
	}
	return s;
}

static cJSON *
prop_answer_json(const struct prop_ans *a)
{
	cJSON *arr;

	if (a->state != PROP_MATCH && a->state != PROP_STALE)
		return cJSON_CreateNull();
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < a->n_answer; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(a->answer[i]));
	return arr;
}

static void
prop_add_time(cJSON *obj, const char *key, time_t t)
{
	char buf[32];

	if (t == 0) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	util_iso8601(t, buf, sizeof(buf));
	cJSON_AddStringToObject(obj, key, buf);
}

static void
prop_timeline_add(
    struct prop *p, struct prop_item *it, const struct prop_server *s, const struct prop_ans *a)
{
	cJSON *ev;

	/* Room for a few changes of every server, however many there are. */
	if (it->n_timeline >= PROP_MAX_TIMELINE && it->n_timeline >= 8 * p->n_srv) {
		it->timeline_truncated = 1;
		return;
	}
	ev = cJSON_CreateObject();
	prop_add_time(ev, "at", a->at);
	cJSON_AddNumberToObject(ev, "elapsed_ms", (double)(util_now_ms() - p->t0_ms));
	cJSON_AddNumberToObject(ev, "round", p->rounds + 1);
	cJSON_AddStringToObject(ev, "server", s->label);
	cJSON_AddStringToObject(
	    ev, "role", s->role == PROP_AUTHORITATIVE ? "authoritative" : "resolver");
	if (a->previous == PROP_UNKNOWN)
		cJSON_AddNullToObject(ev, "from");
	else
		cJSON_AddStringToObject(ev, "from", prop_state_str(a->previous));
	cJSON_AddStringToObject(ev, "state", prop_state_str(a->state));
	cJSON_AddItemToObject(ev, "answer", prop_answer_json(a));
	if (a->error != NULL)
		cJSON_AddStringToObject(ev, "error", a->error);
	else
		cJSON_AddNullToObject(ev, "error");
	cJSON_AddItemToArray(it->timeline, ev);
	it->n_timeline++;
}

static void
prop_take_answer(struct prop *p, struct prop_server *s, size_t i, const struct dns_reply *reply)
{
	struct prop_item *it = &p->items[i];
	struct prop_ans *old = &s->ans[i], n;

	if (it->done)
		return;
	memset(&n, 0, sizeof(n));
	prop_read_answer(s, it->e, reply, &n);
	n.at = time(NULL);
	n.joined = prop_join(&n);
	n.first_match_at = old->first_match_at;
	n.first_match_ms = old->first_match_ms;
	n.previous = old->state;
	n.changed = old->state != n.state || old->joined == NULL ||
	    strcmp(old->joined, n.joined) != 0 ||
	    (n.state == PROP_ERROR && strcmp(old->error_code, n.error_code) != 0);
	if (n.state == PROP_MATCH && n.first_match_at == 0) {
		n.first_match_at = n.at;
		n.first_match_ms = util_now_ms() - p->t0_ms;
	}
	if (!n.changed)
		n.previous = old->previous;
	prop_ans_clear(old);
	*old = n;
	if (n.changed)
		prop_timeline_add(p, it, s, old);
}

static void
prop_take_soa(struct prop_server *s, const struct dns_reply *reply)
{
	const struct dnsmsg_rr *rr = NULL;
	size_t it = 0;

	s->serial = -1;
	if (reply->msg == NULL || (reply->status != DNS_OK && reply->status != DNS_NODATA))
		return;
	if (s->role == PROP_AUTHORITATIVE && !reply->msg->aa)
		return;
	rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_SOA, NULL, &it);
	if (rr == NULL) {
		/* Not the apex: the zone's SOA comes in the authority section. */
		it = 0;
		rr = dnsmsg_next(reply->msg, DNSMSG_AUTHORITY, DNSMSG_SOA, NULL, &it);
	}
	if (rr != NULL)
		s->serial = rr->serial;
}

/* ---- results ------------------------------------------------------------- */

static void
prop_evaluate(struct prop *p, struct prop_item *it)
{
	size_t i = (size_t)(it - p->items);

	memset(&it->counts, 0, sizeof(it->counts));
	for (size_t k = 0; k < p->n_srv; k++) {
		const struct prop_server *s = p->srv[k];
		int auth = s->role == PROP_AUTHORITATIVE;

		switch (s->ans[i].state) {
		case PROP_MATCH: auth ? it->counts.auth_match++ : it->counts.res_match++; break;
		case PROP_STALE: auth ? it->counts.auth_stale++ : it->counts.res_stale++; break;
		default: auth ? it->counts.auth_error++ : it->counts.res_error++; break;
		}
	}
	it->status = prop_status(&it->counts);
}

static int
prop_int64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* What the details of server S's line say about answer A. */
static void
prop_server_row_fill(const struct prop *p, const struct prop_server *s, const struct prop_ans *a,
    struct prop_server_row *r)
{
	int ok = a->state == PROP_MATCH || a->state == PROP_STALE;

	r->server = s->label;
	r->name = s->ns_name;
	r->operator= s->operator;
	r->country = s->country;
	r->authoritative = s->role == PROP_AUTHORITATIVE;
	r->state = ok ? prop_state_str(a->state) : "error";
	r->answer = (const char *const *)a->answer;
	r->n_answer = a->n_answer;
	r->ttl = ok && a->ttl >= 0 ? a->ttl : -1;
	r->serial = r->authoritative && s->serial >= 0 ? s->serial : -1;
	if (a->state == PROP_ERROR) {
		r->error = a->error;
		r->error_code = a->error_code;
	} else if (!ok) {
		r->error = p->interrupted ? "interrupted before it answered"
		                          : "no answer within the time limit";
		r->error_code = "timeout";
	}
	r->negative = ok ? a->negative : NULL;
	if (a->state == PROP_STALE && !r->authoritative && a->ttl >= 0)
		r->expires_at = a->at + (time_t)a->ttl;
	r->first_match_at = a->first_match_at;
	r->first_match_ms = a->first_match_ms;
}

/* The part of IT's summary only the details use (prop_summarize). */
static void
prop_summarize_details(const struct prop *p, const struct prop_item *it, struct prop_summary *sm)
{
	size_t i = (size_t)(it - p->items);

	sm->record_type = it->e->type == DNSMSG_MX ? "MX"
	    : it->e->type == DNSMSG_TXT            ? "TXT"
	                                           : "CNAME";
	sm->record_name = it->e->name;
	sm->expected = (const char *const *)it->e->values;
	sm->n_expected = it->e->n_values;
	sm->servers = xcalloc(p->n_srv + 1, sizeof(*sm->servers));
	for (size_t k = 0; k < p->n_srv; k++)
		prop_server_row_fill(p, p->srv[k], &p->srv[k]->ans[i], &sm->servers[k]);
	sm->discovered = p->cfg.n_authoritative == 0;
	sm->ns = (const char *const *)p->ns_names;
	sm->n_ns = p->n_ns;
	sm->interval_ms = p->cfg.interval_ms;
	sm->then = p->cfg.then;
	sm->started_at = p->t0;
	sm->timeline = it->timeline;
	sm->timeline_truncated = it->timeline_truncated;
}

/* What the result of IT says as the watch stands now; OUT says why it ends.
 * Free with prop_summary_clear. */
static void
prop_summarize(const struct prop *p, const struct prop_item *it, enum prop_outcome out,
    struct prop_summary *sm)
{
	size_t i = (size_t)(it - p->items);
	const char *auth_joined = NULL;
	int auth_seen = 0;

	memset(sm, 0, sizeof(*sm));
	prop_summarize_details(p, it, sm);
	sm->label = it->label;
	sm->status = it->status;
	sm->counts = it->counts;
	sm->total = p->n_srv;
	sm->serials = xcalloc(p->n_srv + 1, sizeof(*sm->serials));
	sm->answers_agree = 1;
	sm->discovery_error = p->discovery_error;
	sm->outcome = out;
	sm->watch = p->cfg.watch;
	sm->deadline_ms = p->cfg.deadline_ms;
	sm->rounds = p->rounds;
	sm->elapsed_ms = util_now_ms() - p->t0_ms;
	sm->now = time(NULL);
	for (size_t k = 0; k < p->n_srv; k++) {
		const struct prop_server *s = p->srv[k];
		const struct prop_ans *a = &s->ans[i];
		int ok = a->state == PROP_MATCH || a->state == PROP_STALE;

		if (a->state == PROP_STALE && s->role == PROP_RESOLVER && a->ttl >= 0 &&
		    a->at + (time_t)a->ttl > sm->expire_by)
			sm->expire_by = a->at + (time_t)a->ttl;
		if (!ok && sm->first_error == NULL) {
			sm->first_error = a->state == PROP_ERROR ? a->error : "no answer in time";
			sm->first_error_server = s->label;
		}
		if (s->role != PROP_AUTHORITATIVE)
			continue;
		if (s->serial >= 0) {
			size_t j;

			for (j = 0; j < sm->n_serials && sm->serials[j] != s->serial; j++)
				;
			if (j == sm->n_serials)
				sm->serials[sm->n_serials++] = s->serial;
		}
		if (ok) {
			if (auth_seen && strcmp(auth_joined, a->joined) != 0)
				sm->answers_agree = 0;
			auth_seen = 1;
			auth_joined = a->joined;
		}
		if (a->state == PROP_STALE) {
			if (sm->stale_authoritative == NULL)
				sm->stale_authoritative = s->label;
			sm->n_stale_authoritative++;
		}
	}
	qsort(sm->serials, sm->n_serials, sizeof(sm->serials[0]), prop_int64_cmp);
}

void
prop_summary_clear(struct prop_summary *sm)
{
	free(sm->serials);
	sm->serials = NULL;
	sm->n_serials = 0;
	free(sm->servers);
	sm->servers = NULL;
}

static cJSON *
prop_server_row_json(const struct prop_server_row *r)
{
	cJSON *o = cJSON_CreateObject();
	int ok = strcmp(r->state, "error") != 0;

	cJSON_AddStringToObject(o, "server", r->server);
	util_json_add_str_or_null(o, "name", r->name);
	util_json_add_str_or_null(o, "operator", r->operator);
	util_json_add_str_or_null(o, "country", r->country);
	cJSON_AddStringToObject(o, "role", r->authoritative ? "authoritative" : "resolver");
	cJSON_AddStringToObject(o, "state", r->state);
	if (ok) {
		cJSON *arr = cJSON_AddArrayToObject(o, "answer");

		for (size_t i = 0; i < r->n_answer; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(r->answer[i]));
	} else {
		cJSON_AddNullToObject(o, "answer");
	}
	if (r->ttl >= 0)
		cJSON_AddNumberToObject(o, "ttl", (double)r->ttl);
	else
		cJSON_AddNullToObject(o, "ttl");
	if (r->serial >= 0)
		cJSON_AddNumberToObject(o, "serial", (double)r->serial);
	else
		cJSON_AddNullToObject(o, "serial");
	util_json_add_str_or_null(o, "error", r->error);
	util_json_add_str_or_null(o, "error_code", r->error_code);
	if (r->negative != NULL)
		cJSON_AddStringToObject(o, "negative", r->negative);
	prop_add_time(o, "expires_at", r->expires_at);
	prop_add_time(o, "first_match_at", r->first_match_at);
	if (r->first_match_ms >= 0)
		cJSON_AddNumberToObject(o, "first_match_ms", (double)r->first_match_ms);
	else
		cJSON_AddNullToObject(o, "first_match_ms");
	return o;
}

static void
prop_watch_json(const struct prop_summary *sm, cJSON *d)
{
	cJSON *w;

	if (!sm->watch) {
		cJSON_AddNullToObject(d, "watch");
		return;
	}
	w = cJSON_AddObjectToObject(d, "watch");
	cJSON_AddNumberToObject(w, "interval_s", sm->interval_ms / 1000.0);
	if (sm->deadline_ms > 0)
		cJSON_AddNumberToObject(w, "deadline_s", sm->deadline_ms / 1000.0);
	else
		cJSON_AddNullToObject(w, "deadline_s");
	cJSON_AddStringToObject(w, "outcome",
	    sm->outcome == PROP_OUT_DEADLINE          ? "deadline"
	        : sm->outcome == PROP_OUT_INTERRUPTED ? "interrupted"
	                                              : "complete");
	prop_add_time(w, "started_at", sm->started_at);
	prop_add_time(w, "completed_at", sm->outcome == PROP_OUT_COMPLETE ? sm->now : 0);
	cJSON_AddNumberToObject(w, "elapsed_ms", (double)sm->elapsed_ms);
	cJSON_AddBoolToObject(w, "then", sm->then);
}

void
prop_details_json(const struct prop_summary *sm, cJSON *d)
{
	const struct prop_counts *c = &sm->counts;
	cJSON *arr, *rec;

	rec = cJSON_AddObjectToObject(d, "record");
	cJSON_AddStringToObject(rec, "type", sm->record_type);
	cJSON_AddStringToObject(rec, "name", sm->record_name);
	arr = cJSON_AddArrayToObject(d, "expected");
	for (size_t v = 0; v < sm->n_expected; v++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(sm->expected[v]));
	arr = cJSON_AddArrayToObject(d, "servers");
	for (size_t k = 0; k < sm->total; k++)
		cJSON_AddItemToArray(arr, prop_server_row_json(&sm->servers[k]));
	cJSON_AddNumberToObject(d, "matched", (double)(c->auth_match + c->res_match));
	cJSON_AddNumberToObject(d, "stale", (double)(c->auth_stale + c->res_stale));
	cJSON_AddNumberToObject(d, "errors", (double)(c->auth_error + c->res_error));
	cJSON_AddNumberToObject(d, "total", (double)sm->total);
	arr = cJSON_AddArrayToObject(d, "serials");
	for (size_t j = 0; j < sm->n_serials; j++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)sm->serials[j]));
	cJSON_AddBoolToObject(d, "authoritative_agree", sm->answers_agree && sm->n_serials <= 1);
	prop_add_time(d, "expire_by", sm->expire_by);
	if (sm->discovered) {
		cJSON *disc = cJSON_AddObjectToObject(d, "discovery");

		arr = cJSON_AddArrayToObject(disc, "ns");
		for (size_t j = 0; j < sm->n_ns; j++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(sm->ns[j]));
		util_json_add_str_or_null(disc, "error", sm->discovery_error);
	} else {
		cJSON_AddNullToObject(d, "discovery");
	}
	cJSON_AddNumberToObject(d, "rounds", sm->rounds);
	prop_watch_json(sm, d);
	cJSON_AddItemToObject(d, "timeline",
	    sm->timeline != NULL ? cJSON_Duplicate(sm->timeline, 1) : cJSON_CreateArray());
	cJSON_AddBoolToObject(d, "timeline_truncated", sm->timeline_truncated);
}

void
prop_verdict(const struct prop_summary *sm, struct verdict *out)
{
	const struct prop_counts *c = &sm->counts;
	enum result_status st = sm->status;
	char when[48], *text, *prefix = NULL;

	if (sm->expire_by != 0)
		prop_format_utc(sm->expire_by, sm->now, when, sizeof(when));
	if (st == RESULT_ERROR) {
		if (sm->total == 0)
			text = xasprintf("%s: no server to ask (%s)", sm->label,
			    sm->discovery_error ? sm->discovery_error
			                        : "no authoritative server and no resolver");
		else
			text = xasprintf("%s: no server answered (%s: %s)", sm->label,
			    sm->first_error_server, sm->first_error);
		verdict_advise(out,
		    "Check that this machine can reach the DNS servers (firewall, "
		    "IPv6 connectivity) and that the addresses are right; name servers can be "
		    "given "
		    "with --authoritative ADDR[:PORT] and resolvers with --resolver.");
	} else if (st == RESULT_FAIL) {
		text = xasprintf("%s: authoritative server %s%s still serves the old answer while "
		                 "resolvers have the new one",
		    sm->label, sm->stale_authoritative,
		    sm->n_stale_authoritative > 1 ? " (and others)" : "");
		verdict_advise(out,
		    "A name server that did not follow the change: typically a "
		    "secondary that did not transfer the zone (compare the serials in the "
		    "details). "
		    "Fix its zone transfer (NOTIFY, AXFR/IXFR) or remove it from the NS set; until "
		    "then resolvers may fetch the old answer from it and keep it for its TTL.");
	} else if (st == RESULT_WARN) {
		size_t stale = c->auth_stale + c->res_stale, errors = c->auth_error + c->res_error;
		char *tail = sm->expire_by != 0 && sm->stale_authoritative == NULL
		    ? xasprintf("; all caches expire by %s at the latest", when)
		    : xstrdup("");
		char *err_part =
		    errors > 0 ? xasprintf(", %zu could not be asked", errors) : xstrdup("");

		text = xasprintf("%s: %zu of %zu servers have the new answer, %zu stale%s%s",
		    sm->label, c->auth_match + c->res_match, sm->total, stale, err_part, tail);
		free(tail);
		free(err_part);
		if (sm->stale_authoritative != NULL)
			verdict_advise(out,
			    "Authoritative server %s still serves the old answer: "
			    "update the zone there (or wait for its zone transfer); resolvers may "
			    "cache the old answer from it for its full TTL.",
			    sm->stale_authoritative);
		else if (stale > 0 && sm->expire_by != 0)
			verdict_advise(out,
			    "Resolvers keep the old answer until its TTL runs out (by "
			    "%s at the latest). Nothing to fix: run 'cutover propagation ... "
			    "--watch' "
			    "to be told when every server has the new answer.",
			    when);
		else if (stale > 0)
			verdict_advise(out,
			    "Resolvers keep the old answer until its TTL runs out. "
			    "Nothing to fix: run 'cutover propagation ... --watch' to be told when "
			    "every server has the new answer.");
		else
			verdict_advise(out,
			    "%s could not be asked (%s); the run completes only when "
			    "every server answers with the new record. Leave out servers that are "
			    "unreachable from here.",
			    sm->first_error_server, sm->first_error);
	} else {
		text = xasprintf("%s: all %zu servers have the new answer", sm->label, sm->total);
		if (sm->n_serials > 1 || !sm->answers_agree)
			verdict_advise(out,
			    "The authoritative servers answer alike but disagree on "
			    "the zone's serial: one of them may be a secondary that lags behind.");
	}
	if (sm->n_serials > 1 && st != RESULT_ERROR) {
		char *more = xasprintf("%s; authoritative serials differ (%lld vs %lld)", text,
		    (long long)sm->serials[0], (long long)sm->serials[sm->n_serials - 1]);

		free(text);
		text = more;
	}
	if (sm->outcome == PROP_OUT_DEADLINE) {
		prefix = xasprintf("not fully propagated by the deadline (%d s, %u round%s): ",
		    sm->deadline_ms / 1000, sm->rounds, sm->rounds == 1 ? "" : "s");
		if (st != RESULT_ERROR)
			st = RESULT_FAIL;
	} else if (sm->outcome == PROP_OUT_INTERRUPTED) {
		prefix = xasprintf(
		    "interrupted after %u round%s: ", sm->rounds, sm->rounds == 1 ? "" : "s");
		if (st == RESULT_PASS)
			st = RESULT_WARN;
	} else if (sm->outcome == PROP_OUT_COMPLETE && sm->watch) {
		char *more = xasprintf("%s after %u round%s (%.1f s)", text, sm->rounds,
		    sm->rounds == 1 ? "" : "s", sm->elapsed_ms / 1000.0);

		free(text);
		text = more;
	}
	verdict_set(out, st, "%s%s", prefix != NULL ? prefix : "", text);
	free(prefix);
	free(text);
}

/* Write the result of IT as the watch stands now; OUT says why it ends. */
static void
prop_fill(struct prop *p, struct prop_item *it, enum prop_outcome out)
{
	struct result *res = task_result(it->t);
	struct prop_summary sm;
	struct verdict vd = {0};

	prop_summarize(p, it, out, &sm);
	prop_details_json(&sm, res->details);
	prop_verdict(&sm, &vd);
	verdict_apply(&vd, res);
	prop_summary_clear(&sm);
	/* The timeline is in the details now: the item adds no more to it. */
	cJSON_Delete(it->timeline);
	it->timeline = NULL;
}

/* ---- rounds --------------------------------------------------------------- */

static void
prop_finish_item(struct prop *p, struct prop_item *it, enum prop_outcome out)
{
	prop_fill(p, it, out);
	it->done = 1;
	p->n_done++;
	if (p->n_done == p->n_items)
		prop_quiesce(p);
	task_done(it->t); /* IT->t is gone now */
	it->t = NULL;
}

static void
prop_round_end(struct prop *p)
{
	int64_t next;
	struct timeval tv;

	p->rounds++;
	for (size_t i = 0; i < p->n_items; i++)
		if (!p->items[i].done)
			prop_evaluate(p, &p->items[i]);
	if (p->cfg.on_round != NULL)
		p->cfg.on_round(p->cfg.on_round_arg, p);
	for (size_t i = 0; i < p->n_items; i++) {
		struct prop_item *it = &p->items[i];

		if (it->done)
			continue;
		if (!p->cfg.watch)
			prop_finish_item(p, it, PROP_OUT_ROUND);
		else if (it->status == RESULT_PASS)
			prop_finish_item(p, it, PROP_OUT_COMPLETE);
	}
	if (p->n_done == p->n_items)
		return;
	next = p->round_started_ms + p->cfg.interval_ms - util_now_ms();
	if (next < 0)
		next = 0;
	tv.tv_sec = (time_t)(next / 1000);
	tv.tv_usec = (suseconds_t)(next % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

static void
prop_timer_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	prop_round_start(arg);
}

static void
prop_answer_cb(void *arg, const struct dns_reply *reply)
{
	struct prop_ref *ref = arg;
	struct prop_server *s = ref->s;
	struct prop *p = s->p;

	s->q[ref->i] = NULL;
	if (ref->i == p->n_items)
		prop_take_soa(s, reply);
	else
		prop_take_answer(p, s, ref->i, reply);
	if (--p->pending == 0)
		prop_round_end(p);
}

static void
prop_round_send(struct prop *p)
{
	/* One reference for this loop: an answer that comes at once must not end
	 * the round while queries are still being sent. */
	p->pending = 1;
	for (size_t k = 0; k < p->n_srv; k++) {
		struct prop_server *s = p->srv[k];

		for (size_t i = 0; i <= p->n_items; i++) {
			const char *name = i < p->n_items ? p->items[i].e->name : p->cfg.domain;
			int type = i < p->n_items ? p->items[i].e->type : DNSMSG_SOA;

			if (i < p->n_items && p->items[i].done)
				continue;
			if (i == p->n_items && s->role != PROP_AUTHORITATIVE)
				continue;
			if (s->q[i] != NULL) /* still waiting from a cut-off round */
				continue;
			s->ref[i] = (struct prop_ref){s, i};
			p->pending++;
			s->q[i] = dnsprobe_query(p->probe, (const struct sockaddr *)&s->sa,
			    s->salen, name, type,
			    DNS_FLAG_RAW_RCODE |
			        (s->role == PROP_AUTHORITATIVE ? DNS_FLAG_NORECURSE : 0),
			    prop_answer_cb, &s->ref[i]);
		}
	}
	if (--p->pending == 0)
		prop_round_end(p);
}

/* Discovery is over (found servers or not): ask everyone. */
static void
prop_discovered(struct prop *p)
{
	int have = 0;

	for (size_t i = 0; i < p->n_srv; i++)
		if (p->srv[i]->role == PROP_AUTHORITATIVE)
			have = 1;
	if (have) {
		struct prop_server **tmp = xcalloc(p->n_srv, sizeof(*tmp));
		size_t n = 0;

		/* Authoritative servers first, as when they are given. */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < p->n_srv; i++)
				if ((p->srv[i]->role == PROP_AUTHORITATIVE) == (pass == 0))
					tmp[n++] = p->srv[i];
		memcpy(p->srv, tmp, n * sizeof(tmp[0]));
		free(tmp);
		p->discovered = 1;
		free(p->discovery_error);
		p->discovery_error = NULL;
	} else if (p->discovery_error == NULL) {
		p->discovery_error = xasprintf("the name servers of %s have no address%s%s",
		    p->cfg.domain, p->addr_error ? ": " : "", p->addr_error ? p->addr_error : "");
	}
	prop_round_send(p);
}

static void
prop_nsaddr_cb(void *arg, const struct dns_reply *reply)
{
	struct prop_nsref *ref = arg;
	struct prop *p = ref->p;
	const char *name = p->ns_names[ref->idx];

	p->addrq[ref->idx][ref->v6] = NULL;
	if (reply->status == DNS_OK && reply->msg != NULL) {
		const char *owner = dnsmsg_resolve_cname(reply->msg, name);
		const struct dnsmsg_rr *rr;
		size_t it = 0;

		while ((rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER,
		            ref->v6 ? DNSMSG_AAAA : DNSMSG_A, owner, &it)) != NULL) {
			char spec[80], cares[80], label[80], *err = NULL;

			snprintf(spec, sizeof(spec), ref->v6 ? "[%s]:%d" : "%s:%d", rr->addr,
			    p->cfg.ns_port);
			if (prop_server_parse(
			        spec, 53, cares, sizeof(cares), label, sizeof(label)) != 0)
				continue;
			if (prop_add_server(p, cares, label, PROP_AUTHORITATIVE, name, NULL, &err) <
			        0 &&
			    p->addr_error == NULL)
				p->addr_error = err;
			else
				free(err);
		}
	} else if (reply->status != DNS_NODATA && reply->status != DNS_NXDOMAIN &&
	    p->addr_error == NULL) {
		p->addr_error = xasprintf("%s: %s", name, reply->error);
	}
	if (--p->disc_pending == 0)
		prop_discovered(p);
}

static void
prop_ns_cb(void *arg, const struct dns_reply *reply)
{
	struct prop *p = arg;
	struct dns_client *dns = runner_dns(p->r);
	const struct dnsmsg_rr *rr;
	const char *owner;
	size_t it = 0;

	p->nsq = NULL;
	if (reply->status != DNS_OK && reply->status != DNS_NODATA) {
		p->discovery_error = xasprintf("NS lookup for %s failed: %s (asked %s)",
		    p->cfg.domain, reply->error, dns_client_servers(dns));
		prop_discovered(p);
		return;
	}
	for (size_t i = 0; i < p->n_ns; i++)
		free(p->ns_names[i]);
	p->n_ns = 0;
	owner = reply->msg != NULL ? dnsmsg_resolve_cname(reply->msg, p->cfg.domain) : NULL;
	while (reply->msg != NULL && p->n_ns < PROP_MAX_NS &&
	    (rr = dnsmsg_next(reply->msg, DNSMSG_ANSWER, DNSMSG_NS, owner, &it)) != NULL)
		p->ns_names[p->n_ns++] = xstrdup(rr->target);
	if (p->n_ns == 0) {
		p->discovery_error =
		    xasprintf("%s has no NS records (is it the zone's apex?); name "
		              "its servers with --authoritative",
		        p->cfg.domain);
		prop_discovered(p);
		return;
	}
	qsort(p->ns_names, p->n_ns, sizeof(p->ns_names[0]), prop_strcmp);
	free(p->addr_error);
	p->addr_error = NULL;
	p->disc_pending = 1;
	for (size_t i = 0; i < p->n_ns; i++) {
		for (int w = 0; w < 2; w++) {
			p->nsref[i][w] = (struct prop_nsref){p, i, w};
			p->disc_pending++;
			p->addrq[i][w] = dns_query(dns, p->ns_names[i], w ? DNSMSG_AAAA : DNSMSG_A,
			    prop_nsaddr_cb, &p->nsref[i][w]);
		}
	}
	if (--p->disc_pending == 0)
		prop_discovered(p);
}

static void
prop_round_start(struct prop *p)
{
	struct dns_query *q;

	p->round_started_ms = util_now_ms();
	for (size_t k = 0; k < p->n_srv; k++)
		for (size_t i = 0; i < p->n_items; i++)
			p->srv[k]->ans[i].changed = 0;
	if (p->cfg.n_authoritative > 0 || p->discovered) {
		prop_round_send(p);
		return;
	}
	free(p->discovery_error);
	p->discovery_error = NULL;
	q = dns_query(runner_dns(p->r), p->cfg.domain, DNSMSG_NS, prop_ns_cb, p);
	if (q != NULL) /* NULL: prop_ns_cb ran already */
		p->nsq = q;
}

/* ---- tasks ---------------------------------------------------------------- */

static void
prop_start(struct task *t, void *aux)
{
	struct prop_item *it = aux;
	struct prop *p = it->p;

	it->t = t;
	/* The first round starts once every expectation's task has its handle. */
	if (++p->n_started == p->n_items) {
		p->t0_ms = util_now_ms();
		p->t0 = time(NULL);
		prop_round_start(p);
	}
}

static void
prop_cancel(struct task *t, void *aux)
{
	struct prop_item *it = aux;
	struct prop *p = it->p;

	(void)t;
	prop_evaluate(p, it);
	prop_fill(p, it,
	    p->interrupted     ? PROP_OUT_INTERRUPTED
	        : p->cfg.watch ? PROP_OUT_DEADLINE
	                       : PROP_OUT_ROUND);
	it->done = 1;
	it->t = NULL;
	p->n_done++;
	if (p->n_done == p->n_items)
		prop_quiesce(p);
}

void
prop_schedule(struct prop *p)
{
	int timeout;

	if (p->cfg.watch)
		timeout = p->cfg.deadline_ms > 0 ? p->cfg.deadline_ms : INT_MAX;
	else /* discovery takes up to one more query budget */
		timeout =
		    p->cfg.timeout_ms + (p->cfg.n_authoritative == 0 ? p->cfg.timeout_ms : 0) + 500;
	for (size_t i = 0; i < p->n_items; i++) {
		struct prop_item *it = &p->items[i];

		runner_add(p->r, NULL, result_new("dns.propagation", it->e->name, RESULT_SIDE_NONE),
		    prop_start, prop_cancel, it, timeout);
	}
}

struct prop *
prop_new(struct runner *r, const struct prop_config *cfg, char **err)
{
	struct prop *p = xcalloc(1, sizeof(*p));

	*err = NULL;
	p->r = r;
	p->cfg = *cfg;
	p->probe = dnsprobe_new(runner_base(r), cfg->timeout_ms, 2, err);
	if (p->probe == NULL)
		goto fail;
	if (p->cfg.ns_port <= 0)
		p->cfg.ns_port = 53;
	if (p->cfg.interval_ms <= 0)
		p->cfg.interval_ms = 30000;
	if (cfg->n_expect == 0 || cfg->n_expect > PROP_MAX_EXPECT) {
		*err = xasprintf("between 1 and %d expectations (--expect-mx, --expect-txt, "
		                 "--expect-cname)",
		    PROP_MAX_EXPECT);
		goto fail;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *const *list = pass == 0 ? cfg->authoritative : cfg->resolvers;
		size_t n = pass == 0 ? cfg->n_authoritative : cfg->n_resolvers;

		for (size_t i = 0; i < n; i++) {
			char cares[80], label[80];

			if (prop_server_parse(
			        list[i], 53, cares, sizeof(cares), label, sizeof(label)) != 0) {
				*err = xasprintf("%s \"%s\": expected an IP address, ADDR:PORT or "
				                 "[IPv6]:PORT",
				    pass == 0 ? "--authoritative" : "--resolver", list[i]);
				goto fail;
			}
			if (prop_add_server(p, cares, label,
			        pass == 0 ? PROP_AUTHORITATIVE : PROP_RESOLVER, NULL,
			        pass == 1 && cfg->resolver_meta != NULL ? &cfg->resolver_meta[i]
			                                                : NULL,
			        err) < 0)
				goto fail;
		}
	}
	p->n_items = cfg->n_expect;
	for (size_t i = 0; i < p->n_items; i++) {
		const struct prop_expect *e = &cfg->expect[i];

		p->items[i].p = p;
		p->items[i].e = e;
		p->items[i].label = xasprintf("%s %s",
		    e->type == DNSMSG_MX        ? "MX"
		        : e->type == DNSMSG_TXT ? "TXT"
		                                : "CNAME",
		    e->name);
		p->items[i].timeline = cJSON_CreateArray();
	}
	p->timer = evtimer_new(runner_base(r), prop_timer_event, p);
	if (p->timer == NULL)
		abort();
	return p;
fail:
	prop_free(p);
	return NULL;
}

void
prop_interrupt(struct prop *p)
{
	if (p != NULL)
		p->interrupted = 1;
}

int
prop_complete(const struct prop *p)
{
	if (p->interrupted || p->n_items == 0)
		return 0;
	for (size_t i = 0; i < p->n_items; i++)
		if (!p->items[i].done || p->items[i].status != RESULT_PASS)
			return 0;
	return 1;
}

void
prop_free(struct prop *p)
{
	if (p == NULL)
		return;
	prop_quiesce(p);
	for (size_t i = 0; i < p->n_srv; i++)
		prop_server_free(p->srv[i]);
	free(p->srv);
	dnsprobe_free(p->probe);
	for (size_t i = 0; i < p->n_items; i++) {
		free(p->items[i].label);
		cJSON_Delete(p->items[i].timeline);
	}
	for (size_t i = 0; i < p->n_ns; i++)
		free(p->ns_names[i]);
	free(p->discovery_error);
	free(p->addr_error);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

/* ---- view ----------------------------------------------------------------- */

size_t
prop_n_expect(const struct prop *p)
{
	return p->n_items;
}
size_t
prop_n_servers(const struct prop *p)
{
	return p->n_srv;
}
unsigned
prop_rounds(const struct prop *p)
{
	return p->rounds;
}
int64_t
prop_elapsed_ms(const struct prop *p)
{
	return util_now_ms() - p->t0_ms;
}
const char *
prop_expect_label(const struct prop *p, size_t i)
{
	return p->items[i].label;
}
int
prop_expect_done(const struct prop *p, size_t i)
{
	return p->items[i].done;
}

enum result_status
prop_expect_status(const struct prop *p, size_t i, size_t *matched)
{
	if (matched != NULL)
		*matched = p->items[i].counts.auth_match + p->items[i].counts.res_match;
	return p->items[i].status;
}

void
prop_view(const struct prop *p, size_t i, size_t k, struct prop_view *out)
{
	const struct prop_server *s = p->srv[k];
	const struct prop_ans *a = &s->ans[i];

	memset(out, 0, sizeof(*out));
	out->server = s->label;
	out->ns_name = s->ns_name;
	out->operator= s->operator;
	out->country = s->country;
	out->role = s->role;
	out->state = a->state;
	out->answer = a->state == PROP_ERROR ? NULL : a->joined;
	out->ttl = a->state == PROP_ERROR ? -1 : a->ttl;
	out->serial = s->role == PROP_AUTHORITATIVE ? s->serial : -1;
	out->error = a->state == PROP_ERROR ? a->error : NULL;
	out->expires_at = a->state == PROP_STALE && s->role == PROP_RESOLVER && a->ttl >= 0
	    ? a->at + (time_t)a->ttl
	    : 0;
	out->changed = a->changed;
	out->previous = a->previous == PROP_UNKNOWN ? NULL : prop_state_str(a->previous);
}
