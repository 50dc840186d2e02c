/*
 * dnschase.c - follow CNAME chains across zones (see dnschase.h).
 *
 * Each answer is read from the name that was asked: its CNAME links inside
 * the answer section are followed (RFC 1034 section 4.3.2 step 3a: a server
 * restarts the lookup at the target, and adds what it finds in its own zone),
 * then either records of TYPE are there, or the chain left the server's zone
 * and the last target is asked for in a new query.
 */
#include "dnschase.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct dnschase {
	struct dns_client *c;
	int type;
	dnschase_cb cb;
	void *arg;
	char *origin;                    /* the name first asked for */
	char *chain[DNSCHASE_MAX_LINKS]; /* CNAME targets followed */
	size_t n_chain;
	struct dns_query *q;
	int queries;
};

const char *
dnschase_problem_str(enum dnschase_problem p)
{
	switch (p) {
	case DNSCHASE_LOOP: return "loop";
	case DNSCHASE_TOO_LONG: return "too_long";
	case DNSCHASE_FINE: break;
	}
	return NULL;
}

cJSON *
dnschase_json(const char *name, int type, const struct dnschase_reply *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *chain = cJSON_CreateArray();
	char buf[16];

	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "type", dnsmsg_type_str(type, buf, sizeof(buf)));
	cJSON_AddStringToObject(o, "status", dns_status_str(r->status));
	if (r->status == DNS_OK && r->problem == DNSCHASE_FINE)
		cJSON_AddNullToObject(o, "error");
	else
		cJSON_AddStringToObject(o, "error", r->error);
	for (size_t i = 0; i < r->n_chain; i++)
		cJSON_AddItemToArray(chain, cJSON_CreateString(r->chain[i]));
	cJSON_AddItemToObject(o, "cname_chain", chain);
	cJSON_AddNumberToObject(o, "queries", r->queries);
	if (r->problem != DNSCHASE_FINE)
		cJSON_AddStringToObject(o, "problem", dnschase_problem_str(r->problem));
	return o;
}

static void
dnschase_free(struct dnschase *ch)
{
	for (size_t i = 0; i < ch->n_chain; i++)
		free(ch->chain[i]);
	free(ch->origin);
	free(ch);
}

void
dnschase_cancel(struct dnschase *ch)
{
	if (ch == NULL)
		return;
	dns_query_cancel(ch->q);
	dnschase_free(ch);
}

/* The name the chain has reached. */
static const char *
dnschase_current(const struct dnschase *ch)
{
	return ch->n_chain > 0 ? ch->chain[ch->n_chain - 1] : ch->origin;
}

static void
dnschase_finish(struct dnschase *ch, enum dns_status st, const char *error,
    enum dnschase_problem problem, const struct dnsmsg *msg)
{
	struct dnschase_reply r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.error = error;
	r.problem = problem;
	r.owner = dnschase_current(ch);
	r.chain = (const char *const *)ch->chain;
	r.n_chain = ch->n_chain;
	r.msg = msg;
	r.queries = ch->queries;
	ch->cb(ch->arg, &r);
	dnschase_free(ch);
}

static void dnschase_answer(void *arg, const struct dns_reply *reply);

/* Ask for the current name. Returns 0, or -1 when the chase is over (gone). */
static int
dnschase_send(struct dnschase *ch)
{
	struct dns_query *q;

	ch->queries++;
	q = dns_query(ch->c, dnschase_current(ch), ch->type, dnschase_answer, ch);
	if (q == NULL)
		return -1; /* the callback ran at once with an error and finished CH */
	ch->q = q;
	return 0;
}

/* Is NAME already part of the chain (the origin included)? */
static int
dnschase_seen(const struct dnschase *ch, const char *name)
{
	if (util_strieq(ch->origin, name))
		return 1;
	for (size_t i = 0; i < ch->n_chain; i++)
		if (util_strieq(ch->chain[i], name))
			return 1;
	return 0;
}

static void
dnschase_answer(void *arg, const struct dns_reply *reply)
{
	struct dnschase *ch = arg;
	const struct dnsmsg *msg = reply->msg;
	const struct dnsmsg_rr *rr;
	size_t before = ch->n_chain, it;

	ch->q = NULL;
	/* Follow the links this answer carries, from the name we asked for. */
	while (msg != NULL) {
		it = 0;
		rr = dnsmsg_next(msg, DNSMSG_ANSWER, DNSMSG_CNAME, dnschase_current(ch), &it);
		if (rr == NULL || rr->target == NULL || rr->target[0] == '\0' ||
		    ch->type == DNSMSG_CNAME)
			break;
		if (dnschase_seen(ch, rr->target)) {
			dnschase_finish(ch, reply->status, "CNAME loop", DNSCHASE_LOOP, msg);
			return;
		}
		if (ch->n_chain == DNSCHASE_MAX_LINKS) {
			dnschase_finish(
			    ch, reply->status, "CNAME chain too long", DNSCHASE_TOO_LONG, msg);
			return;
		}
		ch->chain[ch->n_chain++] = xstrdup(rr->target);
	}
	if (reply->status != DNS_OK) {
		dnschase_finish(ch, reply->status, reply->error, DNSCHASE_FINE, msg);
		return;
	}
	it = 0;
	if (dnsmsg_next(msg, DNSMSG_ANSWER, ch->type, dnschase_current(ch), &it) != NULL) {
		dnschase_finish(ch, DNS_OK, "ok", DNSCHASE_FINE, msg);
		return;
	}
	if (ch->n_chain == before) {
		/* NOERROR, but nothing for the name asked: as good as NODATA. */
		dnschase_finish(
		    ch, DNS_NODATA, "no record of that type (NODATA)", DNSCHASE_FINE, msg);
		return;
	}
	/* The chain left the server's zone: ask for its end. */
	(void)dnschase_send(ch);
}

struct dnschase *
dnschase_start(struct dns_client *c, const char *name, int type, dnschase_cb cb, void *arg)
{
	struct dnschase *ch = xcalloc(1, sizeof(*ch));

	ch->c = c;
	ch->type = type;
	ch->cb = cb;
	ch->arg = arg;
	ch->origin = xstrdup(name);
	if (dnschase_send(ch) != 0)
		return NULL;
	return ch;
}
