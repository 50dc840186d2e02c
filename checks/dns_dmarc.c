/*
 * dns_dmarc.c - dns.dmarc: the DMARC policy at _dmarc.DOMAIN (RFC 7489).
 *
 * The TXT RRset at _dmarc.DOMAIN is fetched (CNAMEs followed, some providers
 * host the record), records that do not start with v=DMARC1 are discarded
 * (section 6.6.3 step 4), and then:
 *   no record           -> warn, with a starter record to publish
 *   more than one       -> fail (section 6.6.3: receivers then apply no DMARC)
 *   a syntax error      -> fail, with the byte position (src/dmarc.c)
 *   unknown tags        -> warn (receivers ignore them, section 6.3: a typo)
 *   otherwise           -> pass, with the policy and the parsed tags.
 * A lookup that fails (SERVFAIL, timeout, REFUSED) is an error, named as such.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/dmarc.h"
#include "src/dnschase.h"
#include "src/util.h"

struct dmarc_task {
	struct task *t;
	char *domain;
	char *name; /* _dmarc.DOMAIN */
	struct dnschase *ch;
};

static void
dmarc_task_free(struct dmarc_task *m)
{
	dnschase_cancel(m->ch);
	free(m->domain);
	free(m->name);
	free(m);
}

static void
dmarc_cancel(struct task *t, void *aux)
{
	struct dmarc_task *m = aux;
	struct result *res = task_result(t);
	struct dmarc_summary s = {.name = m->name, .timed_out = 1};
	struct verdict v = {0};

	dmarc_verdict(&s, &v);
	verdict_apply(&v, res);
	dmarc_details_json(&s, res->details);
	dmarc_task_free(m);
}

static cJSON *
dmarc_uris_json(const struct dmarc_uri *u, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(u[i].uri));
	return a;
}

/* The tags with their effective values (defaults filled in, section 6.3). */
static cJSON *
dmarc_tags_json(const struct dmarc_record *rec)
{
	static const struct {
		const char *name;
		unsigned bit;
	} tags[] = {
	    {"p", DMARC_TAG_P},
	    {"sp", DMARC_TAG_SP},
	    {"pct", DMARC_TAG_PCT},
	    {"rua", DMARC_TAG_RUA},
	    {"ruf", DMARC_TAG_RUF},
	    {"adkim", DMARC_TAG_ADKIM},
	    {"aspf", DMARC_TAG_ASPF},
	    {"fo", DMARC_TAG_FO},
	    {"rf", DMARC_TAG_RF},
	    {"ri", DMARC_TAG_RI},
	};
	cJSON *o = cJSON_CreateObject();
	cJSON *written = cJSON_CreateArray();
	char c[2] = {0, 0};

	cJSON_AddStringToObject(o, "v", "DMARC1");
	cJSON_AddStringToObject(o, "p", dmarc_policy_str(rec->p));
	cJSON_AddStringToObject(o, "sp", dmarc_policy_str(rec->sp));
	cJSON_AddNumberToObject(o, "pct", rec->pct);
	cJSON_AddItemToObject(o, "rua", dmarc_uris_json(rec->rua, rec->n_rua));
	cJSON_AddItemToObject(o, "ruf", dmarc_uris_json(rec->ruf, rec->n_ruf));
	c[0] = rec->adkim;
	cJSON_AddStringToObject(o, "adkim", c);
	c[0] = rec->aspf;
	cJSON_AddStringToObject(o, "aspf", c);
	cJSON_AddStringToObject(o, "fo", rec->fo_text);
	cJSON_AddStringToObject(o, "rf", rec->rf);
	cJSON_AddNumberToObject(o, "ri", rec->ri);
	cJSON_AddItemToArray(written, cJSON_CreateString("v"));
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (rec->written & tags[i].bit)
			cJSON_AddItemToArray(written, cJSON_CreateString(tags[i].name));
	cJSON_AddItemToObject(o, "written", written);
	return o;
}

/* A known tag close to NAME (a typo such as "rue"), or NULL. */
const char *
dmarc_suggest(const char *name)
{
	static const char *const known[] = {
	    "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri", NULL};
	const char *best = NULL;
	size_t best_d = 2;

	for (size_t i = 0; known[i] != NULL; i++) {
		size_t d = util_edit_distance(name, known[i]);

		if (d < best_d || (d == best_d && best == NULL && d <= 1)) {
			best = known[i];
			best_d = d;
		}
	}
	return best_d <= 1 ? best : NULL;
}

void
dmarc_verdict(const struct dmarc_summary *s, struct verdict *v)
{
	const struct dmarc_record *rec = s->rec;

	if (s->timed_out) {
		verdict_set(
		    v, RESULT_ERROR, "timed out waiting for the TXT records of %s", s->name);
		return;
	}
	if (s->n_dmarc == 0) {
		verdict_set(v, RESULT_WARN,
		    "no DMARC record: none of the %zu TXT record%s at %s "
		    "starts with v=DMARC1",
		    s->n_txt, s->n_txt == 1 ? "" : "s", s->owner);
		verdict_advise(v,
		    "Publish a DMARC record to start with: %s TXT \"%s\" (the "
		    "record must begin with v=DMARC1, RFC 7489 section 6.3).",
		    s->name, s->starter);
		return;
	}
	if (s->n_dmarc > 1) {
		verdict_set(v, RESULT_FAIL,
		    "%zu DMARC records at %s: receivers apply no DMARC "
		    "policy when there is more than one (RFC 7489 section 6.6.3)",
		    s->n_dmarc, s->owner);
		verdict_advise(v,
		    "Keep exactly one v=DMARC1 TXT record at %s and delete the "
		    "others.",
		    s->name);
		return;
	}
	if (rec == NULL) {
		verdict_set(v, RESULT_FAIL, "DMARC record syntax error at position %zu: %s",
		    s->err->pos, s->err->msg);
		verdict_advise(v,
		    "Fix the record at %s (position %zu counts from 0 in \"%s\"): "
		    "receivers that cannot parse it apply no DMARC policy (RFC 7489 section "
		    "6.6.3). A minimal valid record: \"v=DMARC1; p=none; rua=mailto:"
		    "dmarc-reports@%s\".",
		    s->name, s->err->pos, s->record, s->domain);
		return;
	}
	if (rec->n_unknown > 0) {
		const char *hint = dmarc_suggest(rec->unknown[0]);

		verdict_set(v, RESULT_WARN,
		    "DMARC policy %s, but the record has %zu unknown "
		    "tag%s (%s%s%s), which receivers ignore",
		    dmarc_policy_str(rec->p), rec->n_unknown, rec->n_unknown == 1 ? "" : "s",
		    rec->unknown[0], hint != NULL ? ": did you mean " : "",
		    hint != NULL ? hint : "");
		verdict_advise(v,
		    "Correct or remove the unknown tag%s in %s; the known tags are "
		    "p, sp, pct, rua, ruf, adkim, aspf, fo, rf and ri (RFC 7489 section 6.3).",
		    rec->n_unknown == 1 ? "" : "s", s->name);
		return;
	}
	if (rec->p == DMARC_POLICY_NONE) {
		verdict_set(v, RESULT_PASS, "DMARC policy none (monitoring only)%s",
		    rec->n_rua > 0 ? ", aggregate reports requested"
		                   : ", no aggregate reports (rua=)");
	} else {
		verdict_set(v, RESULT_PASS, "DMARC policy %s%s%s on %d%% of failing mail",
		    dmarc_policy_str(rec->p), rec->sp != rec->p ? ", subdomains " : "",
		    rec->sp != rec->p ? dmarc_policy_str(rec->sp) : "", rec->pct);
		verdict_advise(v,
		    "With p=%s, mail the new provider sends before its SPF include "
		    "and DKIM keys are published fails DMARC: publish them before go-live.",
		    dmarc_policy_str(rec->p));
	}
}

/* The details of the one DMARC record of S (none when there is not exactly one). */
static void
dmarc_record_json(const struct dmarc_summary *s, cJSON *d)
{
	const struct dmarc_record *rec = s->rec;

	if (s->n_dmarc != 1)
		return;
	cJSON_AddStringToObject(d, "record", s->record);
	if (rec == NULL) {
		cJSON *e = cJSON_AddObjectToObject(d, "error");

		cJSON_AddNullToObject(d, "policy");
		cJSON_AddStringToObject(e, "message", s->err->msg);
		cJSON_AddNumberToObject(e, "position", (double)s->err->pos);
		return;
	}
	cJSON_AddStringToObject(d, "policy", dmarc_policy_str(rec->p));
	cJSON_AddItemToObject(d, "tags", dmarc_tags_json(rec));
	if (rec->n_unknown > 0) {
		cJSON *unk = cJSON_AddArrayToObject(d, "unknown_tags");

		for (size_t i = 0; i < rec->n_unknown; i++)
			cJSON_AddItemToArray(unk, cJSON_CreateString(rec->unknown[i]));
	}
}

void
dmarc_details_json(const struct dmarc_summary *s, cJSON *d)
{
	cJSON *arr = cJSON_AddArrayToObject(d, "lookups");

	if (s->timed_out) {
		cJSON *l = cJSON_CreateObject();

		cJSON_AddStringToObject(l, "name", s->name);
		cJSON_AddStringToObject(l, "type", "TXT");
		cJSON_AddStringToObject(l, "status", "timeout");
		cJSON_AddStringToObject(l, "error", "no answer before the check's deadline");
		cJSON_AddItemToArray(arr, l);
		return;
	}
	if (s->lookup != NULL)
		cJSON_AddItemToArray(arr, cJSON_Duplicate(s->lookup, 1));
	if (s->listed) {
		arr = cJSON_AddArrayToObject(d, "records");
		for (size_t i = 0; i < s->n_dmarc; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(s->dmarc[i]));
		dmarc_record_json(s, d);
	}
	if (cJSON_GetObjectItemCaseSensitive(d, "record") == NULL)
		cJSON_AddNullToObject(d, "record");
	if (cJSON_GetObjectItemCaseSensitive(d, "policy") == NULL)
		cJSON_AddNullToObject(d, "policy");
}

static void
dmarc_answer(void *arg, const struct dnschase_reply *r)
{
	struct dmarc_task *m = arg;
	struct result *res = task_result(m->t);
	const char *servers = dns_client_servers(runner_dns(task_runner(m->t)));
	const struct dnsmsg_rr *rr, *found = NULL;
	cJSON *lookup = dnschase_json(m->name, DNSMSG_TXT, r);
	const char **texts = NULL;
	size_t it = 0;
	char *starter = dmarc_starter_record(m->domain), *record = NULL;
	struct dmarc_record *rec = NULL;
	struct dmarc_error err;
	struct dmarc_summary s = {
	    .name = m->name,
	    .domain = m->domain,
	    .owner = r->owner,
	    .starter = starter,
	    .err = &err,
	    .lookup = lookup,
	};
	struct verdict v = {0};

	m->ch = NULL;
	if (r->problem != DNSCHASE_FINE) {
		result_set(res, RESULT_FAIL, "%s: %s (%zu link%s: %s)", m->name, r->error,
		    r->n_chain, r->n_chain == 1 ? "" : "s", r->owner);
		result_advise(res,
		    "Point %s at a name that holds the TXT record, without a "
		    "CNAME loop or a long chain.",
		    m->name);
		goto out;
	}
	switch (r->status) {
	case DNS_OK: break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		result_set(res, RESULT_WARN, "no DMARC record: %s %s", r->owner,
		    r->status == DNS_NXDOMAIN ? "does not exist (NXDOMAIN)"
		                              : "has no TXT record (NODATA)");
		result_advise(res,
		    "Publish a DMARC record to start with: %s TXT \"%s\". Receivers "
		    "such as Gmail and Outlook expect one from bulk senders; move p= to quarantine "
		    "or reject once the reports show that all your mail passes.",
		    m->name, starter);
		goto out;
	default:
		result_set(res, RESULT_ERROR, "DMARC lookup for %s failed: %s (asked %s)", r->owner,
		    r->error, servers);
		goto out;
	}
	s.listed = 1;
	while ((rr = dnsmsg_next(r->msg, DNSMSG_ANSWER, DNSMSG_TXT, r->owner, &it)) != NULL) {
		s.n_txt++;
		if (rr->text == NULL || !dmarc_is_record(rr->text, rr->text_len))
			continue;
		texts = xrealloc(texts, (s.n_dmarc + 1) * sizeof(*texts));
		texts[s.n_dmarc++] = rr->text;
		found = rr;
	}
	s.dmarc = texts;
	if (s.n_dmarc == 1) {
		record = xstrndup(found->text, found->text_len);
		s.record = record;
		if (dmarc_parse(found->text, found->text_len, &rec, &err) == 0)
			s.rec = rec;
	}
	dmarc_verdict(&s, &v);
	verdict_apply(&v, res);
out:
	dmarc_details_json(&s, res->details);
	dmarc_free(rec);
	free(record);
	free(texts);
	cJSON_Delete(lookup);
	free(starter);
	task_done(m->t);
	dmarc_task_free(m);
}

static void
dmarc_start(struct task *t, void *aux)
{
	struct dmarc_task *m = aux;
	struct dnschase *ch;

	m->t = t;
	ch = dnschase_start(runner_dns(task_runner(t)), m->name, DNSMSG_TXT, dmarc_answer, m);
	if (ch != NULL) /* NULL: answered already, M is gone */
		m->ch = ch;
}

static void
dmarc_schedule(struct runner *r, const struct check_input *in)
{
	struct dmarc_task *m = xcalloc(1, sizeof(*m));

	m->domain = xstrdup(in->domain);
	m->name = xasprintf("_dmarc.%s", in->domain);
	runner_add(r, NULL, result_new("dns.dmarc", in->domain, RESULT_SIDE_NONE), dmarc_start,
	    dmarc_cancel, m, 0);
}

const struct check check_dns_dmarc = {
    .id = "dns.dmarc",
    .group = "dns",
    .title = "DMARC record at _dmarc.DOMAIN: present, one only, valid (RFC 7489)",
    .commands = CHECK_CMD_AUDIT | CHECK_CMD_DNS,
    .schedule = dmarc_schedule,
};
