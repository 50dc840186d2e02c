/*
 * test_spf.c - the SPF parser (positions of syntax errors), the macro
 * expander (RFC 7208 section 7.4 examples) and check_host() over an
 * in-memory DNS table: pure logic, answered synchronously or, for one test,
 * after the fact (as c-ares does), to exercise both callback paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "src/spf.h"

/* ---- parser --------------------------------------------------------------- */

static struct spf_record *
parse_ok(const char *text)
{
	struct spf_record *rec = NULL;
	struct spf_error err;

	if (spf_parse(text, strlen(text), &rec, &err) != 0)
		fail_msg("\"%s\": %s at %zu", text, err.msg, err.pos);
	return rec;
}

static size_t
parse_err(const char *text)
{
	struct spf_record *rec = NULL;
	struct spf_error err;

	if (spf_parse(text, strlen(text), &rec, &err) == 0) {
		spf_record_free(rec);
		fail_msg("\"%s\" parsed, expected an error", text);
	}
	assert_null(rec);
	assert_true(err.msg[0] != '\0');
	return err.pos;
}

static void
test_parse_mechanisms(void **state)
{
	struct spf_record *r = parse_ok(
	    "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24 "
	    "mx/24//64 mx:example.org//48 ptr ptr:example.net ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "exists:%{ir}.%{l1r+-}._spf.%{d} exp=explain._spf.%{d} moo.cow-1=%{d}");

	(void)state;
	assert_int_equal(r->n_terms, 13);
	assert_int_equal(r->terms[0].mech, SPF_MECH_ALL);
	assert_int_equal(r->terms[0].qualifier, SPF_PASS);
	assert_int_equal(r->terms[1].mech, SPF_MECH_INCLUDE);
	assert_int_equal(r->terms[1].qualifier, SPF_FAIL);
	assert_string_equal(r->terms[1].domain_spec, "_spf.example.com");
	assert_int_equal(r->terms[2].qualifier, SPF_SOFTFAIL);
	assert_null(r->terms[2].domain_spec);
	assert_int_equal(r->terms[3].qualifier, SPF_NEUTRAL);
	assert_int_equal(r->terms[3].cidr4, 24);
	assert_int_equal(r->terms[3].cidr6, -1);
	assert_int_equal(r->terms[4].cidr4, 24);
	assert_int_equal(r->terms[4].cidr6, 64);
	assert_null(r->terms[4].domain_spec);
	assert_int_equal(r->terms[5].cidr4, -1);
	assert_int_equal(r->terms[5].cidr6, 48);
	assert_string_equal(r->terms[5].domain_spec, "example.org");
	assert_int_equal(r->terms[6].mech, SPF_MECH_PTR);
	assert_int_equal(r->terms[8].family, 4);
	assert_int_equal(r->terms[8].addr[0], 192);
	assert_int_equal(r->terms[8].cidr4, 24);
	assert_int_equal(r->terms[9].family, 6);
	assert_int_equal(r->terms[9].cidr6, 32);
	assert_int_equal(r->terms[10].mech, SPF_MECH_EXISTS);
	assert_int_equal(r->terms[11].kind, SPF_TERM_EXP);
	assert_int_equal(r->terms[12].kind, SPF_TERM_UNKNOWN_MOD);
	assert_true(r->has_all);
	assert_non_null(r->exp);
	/* include a a mx mx ptr ptr exists */
	assert_int_equal(r->dns_terms, 8);
	spf_record_free(r);

	r = parse_ok("V=SPF1   IP4:10.0.0.1   REDIRECT=_spf.example.com  ");
	assert_int_equal(r->n_terms, 2);
	assert_non_null(r->redirect);
	assert_int_equal(r->terms[1].pos, 24);
	assert_int_equal(r->dns_terms, 1);
	spf_record_free(r);

	r = parse_ok("v=spf1");
	assert_int_equal(r->n_terms, 0);
	spf_record_free(r);
	/* a CIDR of 0 and the full lengths are valid */
	spf_record_free(
	    parse_ok("v=spf1 a/0//0 ip4:0.0.0.0/0 ip6:::/0 ip4:1.2.3.4/32 ip6:::1/128"));
	/* macros ending the domain, %% %_ %- */
	spf_record_free(parse_ok("v=spf1 include:%{d} exists:%%%_%-.%{o}.example.com. a:%{H}"));
}

static void
test_parse_errors(void **state)
{
	(void)state;
	assert_int_equal(parse_err("v=spf1 -all foo"), 12);         /* unknown mechanism */
	assert_int_equal(parse_err("v=spf1 ip4:192.0.2.300"), 11);  /* bad address */
	assert_int_equal(parse_err("v=spf1 ip4:192.0.02.1"), 11);   /* leading zero */
	assert_int_equal(parse_err("v=spf1 ip4:192.0.2.0/33"), 21); /* CIDR too long */
	assert_int_equal(parse_err("v=spf1 ip6:2001:db8::/129"), 22);
	assert_int_equal(parse_err("v=spf1 a/24//129"), 13);
	assert_int_equal(parse_err("v=spf1 a/024"), 9);
	assert_int_equal(parse_err("v=spf1 ip4:1.2.3.4//64"), 19);
	assert_int_equal(parse_err("v=spf1 include"), 14); /* needs :domain */
	assert_int_equal(parse_err("v=spf1 include:"), 15);
	assert_int_equal(parse_err("v=spf1 include:localhost"), 15); /* no dot + toplabel */
	assert_int_equal(parse_err("v=spf1 a:example.123"), 17);     /* numeric toplabel */
	assert_int_equal(parse_err("v=spf1 -all:x"), 11);
	assert_int_equal(parse_err("v=spf1 ptr/24"), 10);
	assert_int_equal(parse_err("v=spf1 exists:%{x}.example.com"), 14); /* unknown letter */
	assert_int_equal(parse_err("v=spf1 exists:%{c}.example.com"), 14); /* exp only */
	assert_int_equal(parse_err("v=spf1 exists:%{d0}.example.com"), 17);
	assert_int_equal(parse_err("v=spf1 a:%x.example.com"), 9);
	assert_int_equal(parse_err("v=spf1 a:example.com%"), 20);
	assert_int_equal(parse_err("v=spf1 redirect=a.example redirect=b.example"), 26);
	assert_int_equal(parse_err("v=spf1 exp=a.example exp=b.example"), 21);
	assert_int_equal(parse_err("v=spf1 redirect="), 16);
	assert_int_equal(parse_err("v=spf1 - all"), 7);
	assert_int_equal(parse_err("v=spf1 -all\tmx"), 11); /* tab: not a separator */
	assert_int_equal(parse_err("v=spf1 =a"), 7);
	assert_int_equal(parse_err("v=spf10 -all"), 0);
	assert_int_equal(parse_err("spf1 -all"), 0);
	assert_int_equal(parse_err("v=spf1 ip4:"), 11);
	assert_int_equal(parse_err("v=spf1 a:foo.example.com,"), 21);
	assert_int_equal(parse_err("v=spf1 moo=%"), 11);
}

/* ---- macros (RFC 7208 section 7.4) ------------------------------------------ */

static void
expand_is(const struct spf_macro_ctx *ctx, const char *spec, int is_exp, const char *want)
{
	struct spf_error err;
	char *out = NULL;

	if (spf_macro_expand(spec, strlen(spec), ctx, is_exp, !is_exp, &out, &err) != 0)
		fail_msg("%s: %s", spec, err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("%s gave \"%s\", want \"%s\"", spec, out, want);
	free(out);
}

static void
test_macro_rfc_examples(void **state)
{
	struct spf_macro_ctx c = {
	    .sender = "strong-bad@email.example.com",
	    .domain = "email.example.com",
	    .helo = "mx.example.org",
	    .family = 4,
	    .ip = {192, 0, 2, 3},
	    .validated = "mx.example.org",
	    .receiver = "mx.example.net",
	    .now = 1700000000,
	};
	struct spf_error err;
	char *out;

	(void)state;
	expand_is(&c, "%{s}", 0, "strong-bad@email.example.com");
	expand_is(&c, "%{o}", 0, "email.example.com");
	expand_is(&c, "%{d}", 0, "email.example.com");
	expand_is(&c, "%{d4}", 0, "email.example.com");
	expand_is(&c, "%{d3}", 0, "email.example.com");
	expand_is(&c, "%{d2}", 0, "example.com");
	expand_is(&c, "%{d1}", 0, "com");
	expand_is(&c, "%{dr}", 0, "com.example.email");
	expand_is(&c, "%{d2r}", 0, "example.email");
	expand_is(&c, "%{l}", 0, "strong-bad");
	expand_is(&c, "%{l-}", 0, "strong.bad");
	expand_is(&c, "%{lr}", 0, "strong-bad");
	expand_is(&c, "%{lr-}", 0, "bad.strong");
	expand_is(&c, "%{l1r-}", 0, "strong");
	expand_is(&c, "%{ir}.%{v}._spf.%{d2}", 0, "3.2.0.192.in-addr._spf.example.com");
	expand_is(&c, "%{lr-}.lp._spf.%{d2}", 0, "bad.strong.lp._spf.example.com");
	expand_is(&c, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", 0,
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand_is(&c, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", 0,
	    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand_is(
	    &c, "%{d2}.trusted-domains.example.net", 0, "example.com.trusted-domains.example.net");
	expand_is(&c, "%{p}", 0, "mx.example.org");
	expand_is(&c, "%{p2}", 0, "example.org");
	/* exp-only letters, %% %_ %-, uppercase URL-escapes (section 7.3) */
	expand_is(&c, "%{c} %{r} %{t}", 1, "192.0.2.3 mx.example.net 1700000000");
	expand_is(&c, "100%% %_%-", 1, "100%  %20");
	expand_is(&c, "%{S}", 1, "strong-bad%40email.example.com");
	expand_is(&c, "%{L}", 1, "strong-bad");
	/* a trailing dot is dropped from domain names */
	expand_is(&c, "%{d}.", 0, "email.example.com");

	c.family = 6;
	memcpy(c.ip, (unsigned char[16]){0x20, 0x01, 0x0d, 0xb8, [14] = 0xcb, [15] = 0x01}, 16);
	/* RFC 7208 7.4's example, in upper case: the OpenSPF suite's explanations
	 * (v-macro-ip6) want upper-case nibbles; DNS lookups do not care */
	expand_is(&c, "%{ir}.%{v}._spf.%{d2}", 0,
	    "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "8.B.D.0.1.0.0.2.ip6._spf.example.com");
	expand_is(&c, "%{c}", 1, "2001:db8::cb01");
	/* an empty local part is "postmaster" (section 4.3) */
	c.sender = "@email.example.com";
	expand_is(&c, "%{l}", 0, "postmaster");

	/* errors carry the offset of the bad macro */
	assert_int_equal(spf_macro_expand("ab%{x}", 6, &c, 0, 1, &out, &err), -1);
	assert_int_equal(err.pos, 2);
	assert_int_equal(spf_macro_expand("%{c}", 4, &c, 0, 1, &out, &err), -1);
	assert_null(out);
	/* left labels go until the name fits 253 characters */
	{
		char spec[400];

		memset(spec, 'a', sizeof(spec));
		for (size_t i = 60; i < 380; i += 61)
			spec[i] = '.';
		memcpy(spec + 380, ".example.com", 13);
		assert_int_equal(spf_macro_expand(spec, strlen(spec), &c, 0, 1, &out, &err), 0);
		assert_true(strlen(out) <= 253);
		assert_true(strlen(out) > 200);
		free(out);
	}
	assert_int_equal(spf_macro_uses_client("%{i}.example.com"), 1);
	assert_int_equal(spf_macro_uses_client("%{d}.example.com"), 0);
	assert_int_equal(spf_macro_uses_client("%%{i}.example.com"), 0);
}

/* ---- check_host() over an in-memory table --------------------------------- */

struct fake_rr {
	const char *name;
	enum spf_qtype type;
	const char *data; /* TXT text, MX/PTR target, A/AAAA address; NULL = NXDOMAIN */
};

struct fake {
	const struct fake_rr *rr;
	int async; /* hold the answers until fake_flush */
	struct pending {
		char *name;
		enum spf_qtype type;
		spf_dns_cb cb;
		void *arg;
		int live;
	} pend[64];
	size_t n_pend;
	int queries;
};

static void
fake_answer(struct fake *f, const char *name, enum spf_qtype type, spf_dns_cb cb, void *arg)
{
	struct spf_dns_rr rrs[32];
	struct spf_dns_answer a = {.status = SPF_DNS_NXDOMAIN, .rr = rrs};

	f->queries++;
	for (const struct fake_rr *r = f->rr; r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		if (strcmp(r->data ? r->data : "", "SERVFAIL") == 0) {
			a.status = SPF_DNS_TEMPFAIL;
			a.error = "SERVFAIL";
			break;
		}
		if (a.status == SPF_DNS_NXDOMAIN)
			a.status = SPF_DNS_NODATA;
		if (r->type != type || a.n_rr == 32)
			continue;
		a.status = SPF_DNS_OK;
		memset(&rrs[a.n_rr], 0, sizeof(rrs[0]));
		if (type == SPF_QT_A || type == SPF_QT_AAAA) {
			spf_parse_ip(r->data, rrs[a.n_rr].addr);
		} else {
			rrs[a.n_rr].text = r->data;
			rrs[a.n_rr].text_len = strlen(r->data);
			rrs[a.n_rr].n_strings = 1;
		}
		a.n_rr++;
	}
	cb(arg, &a);
}

static void *
fake_query(void *ctx, const char *name, enum spf_qtype type, spf_dns_cb cb, void *arg)
{
	struct fake *f = ctx;

	if (!f->async) {
		fake_answer(f, name, type, cb, arg);
		return NULL;
	}
	assert_true(f->n_pend < 64);
	f->pend[f->n_pend] = (struct pending){strdup(name), type, cb, arg, 1};
	return &f->pend[f->n_pend++];
}

static void
fake_cancel(void *ctx, void *h)
{
	(void)ctx;
	((struct pending *)h)->live = 0;
}

struct got {
	int done;
	enum spf_result result;
	int lookups, voids;
	char reason[400];
	int tree_total;
	size_t tree_children;
	char explanation[400];
	char source[16];
	char matched_in[100];
};

static void
got_cb(void *arg, const struct spf_outcome *o)
{
	struct got *g = arg;

	g->done++;
	g->result = o->result;
	g->lookups = o->lookups;
	g->voids = o->void_lookups;
	snprintf(g->reason, sizeof(g->reason), "%s", o->reason);
	g->tree_total = o->tree != NULL ? o->tree->total_lookups : -1;
	g->tree_children = o->tree != NULL ? o->tree->n_children : 0;
	snprintf(g->explanation, sizeof(g->explanation), "%s",
	    o->explanation != NULL ? o->explanation : "");
	snprintf(g->source, sizeof(g->source), "%s",
	    o->explanation_source != NULL ? o->explanation_source : "");
	snprintf(
	    g->matched_in, sizeof(g->matched_in), "%s", o->matched_in != NULL ? o->matched_in : "");
}

static struct got
run(const struct fake_rr *table, const char *domain, const char *ip, const char *sender)
{
	struct fake f = {.rr = table};
	struct spf_dns dns = {fake_query, fake_cancel, &f};
	struct spf_eval_params p = {.domain = domain, .ip = ip, .sender = sender, .now = 1};
	struct got g = {0};
	struct spf_eval *e = spf_eval_start(&p, &dns, got_cb, &g);

	assert_non_null(e);
	spf_eval_run(e);
	assert_int_equal(g.done, 1);
	spf_eval_free(e);
	return g;
}

static const struct fake_rr table[] = {
    {"t.example", SPF_QT_TXT, "v=spf1 ip4:192.0.2.0/24 include:inc.example -all"},
    {"t.example", SPF_QT_TXT, "google-site-verification=abc"},
    {"inc.example", SPF_QT_TXT, "v=spf1 ip4:198.51.100.7 ip6:2001:db8::/32 ~all"},
    {"soft.example", SPF_QT_TXT, "v=spf1 a mx/30 -all"},
    {"soft.example", SPF_QT_A, "203.0.113.1"},
    {"soft.example", SPF_QT_MX, "mx1.soft.example"},
    {"soft.example", SPF_QT_MX, "mx2.soft.example"},
    {"mx1.soft.example", SPF_QT_A, "203.0.113.10"},
    {"mx2.soft.example", SPF_QT_A, "203.0.113.20"},
    {"red.example", SPF_QT_TXT, "v=spf1 ip4:192.0.2.99 redirect=t.example"},
    {"redall.example", SPF_QT_TXT, "v=spf1 ?all redirect=t.example"},
    {"two.example", SPF_QT_TXT, "v=spf1 -all"},
    {"two.example", SPF_QT_TXT, "v=spf1 +all"},
    {"syntax.example", SPF_QT_TXT, "v=spf1 ip4:192.0.2.1 -al"},
    {"loop1.example", SPF_QT_TXT, "v=spf1 include:loop2.example -all"},
    {"loop2.example", SPF_QT_TXT, "v=spf1 include:loop1.example -all"},
    {"void.example", SPF_QT_TXT,
        "v=spf1 a:n1.void.example a:n2.void.example a:n3.void.example -all"},
    {"incnone.example", SPF_QT_TXT, "v=spf1 include:nothing.example -all"},
    {"tmp.example", SPF_QT_TXT, "v=spf1 include:broken.example -all"},
    {"broken.example", SPF_QT_TXT, "SERVFAIL"},
    {"exists.example", SPF_QT_TXT, "v=spf1 exists:%{ir}.%{l}._spf.%{d} -all"},
    {"1.2.0.192.bob._spf.exists.example", SPF_QT_A, "127.0.0.2"},
    {"ptr.example", SPF_QT_TXT, "v=spf1 ptr -all"},
    {"5.2.0.192.in-addr.arpa", SPF_QT_PTR, "host.ptr.example"},
    {"5.2.0.192.in-addr.arpa", SPF_QT_PTR, "liar.other.example"},
    {"host.ptr.example", SPF_QT_A, "192.0.2.5"},
    {"pmac.example", SPF_QT_TXT, "v=spf1 exists:%{p}.allow.pmac.example -all"},
    {"host.ptr.example.allow.pmac.example", SPF_QT_A, "127.0.0.2"},
    {NULL, 0, NULL},
};

static const char *const eleven_table_names[] = {
    "l0.example",
    "l1.example",
    "l2.example",
    "l3.example",
    "l4.example",
    "l5.example",
};

static void
test_eval_basic(void **state)
{
	struct got g;

	(void)state;
	g = run(table, "t.example", "192.0.2.10", "a@t.example");
	assert_int_equal(g.result, SPF_PASS);
	assert_int_equal(g.lookups, 0);
	g = run(table, "t.example", "198.51.100.7", NULL);
	assert_int_equal(g.result, SPF_PASS);
	assert_int_equal(g.lookups, 1);
	assert_non_null(strstr(g.reason, "include:inc.example"));
	g = run(table, "t.example", "2001:db8::1", NULL);
	assert_int_equal(g.result, SPF_PASS);
	g = run(table, "t.example", "203.0.113.9", NULL);
	assert_int_equal(g.result, SPF_FAIL);
	/* IPv4-mapped IPv6 is IPv4 (section 5) */
	g = run(table, "t.example", "::ffff:192.0.2.10", NULL);
	assert_int_equal(g.result, SPF_PASS);
	g = run(table, "soft.example", "203.0.113.1", NULL);
	assert_int_equal(g.result, SPF_PASS);
	assert_int_equal(g.lookups, 1);
	g = run(table, "soft.example", "203.0.113.22", NULL); /* mx/30 */
	assert_int_equal(g.result, SPF_PASS);
	assert_int_equal(g.lookups, 2);
	g = run(table, "soft.example", "203.0.113.30", NULL);
	assert_int_equal(g.result, SPF_FAIL);
	g = run(table, "red.example", "192.0.2.10", NULL);
	assert_int_equal(g.result, SPF_PASS);
	assert_int_equal(g.lookups, 1);
	g = run(table, "red.example", "203.0.113.9", NULL);
	assert_int_equal(g.result, SPF_FAIL);
	assert_int_equal(g.lookups, 2);
	g = run(table, "redall.example", "192.0.2.10", NULL); /* redirect ignored with all */
	assert_int_equal(g.result, SPF_NEUTRAL);
	g = run(table, "nope.example", "192.0.2.10", NULL);
	assert_int_equal(g.result, SPF_NONE);
	g = run(table, "two.example", "192.0.2.10", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	g = run(table, "syntax.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	assert_non_null(strstr(g.reason, "position 23"));
	g = run(table, "loop1.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	assert_non_null(strstr(g.reason, "loop"));
	g = run(table, "void.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	assert_int_equal(g.voids, 3);
	g = run(table, "incnone.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	g = run(table, "tmp.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_TEMPERROR);
	g = run(table, "exists.example", "192.0.2.1", "bob@exists.example");
	assert_int_equal(g.result, SPF_PASS);
	g = run(table, "exists.example", "192.0.2.1", "alice@exists.example");
	assert_int_equal(g.result, SPF_FAIL);
	g = run(table, "ptr.example", "192.0.2.5", NULL);
	assert_int_equal(g.result, SPF_PASS);
	g = run(table, "ptr.example", "192.0.2.6", NULL);
	assert_int_equal(g.result, SPF_FAIL);
	g = run(table, "pmac.example", "192.0.2.5", NULL);
	assert_int_equal(g.result, SPF_PASS);
	g = run(table, "bad..example", "192.0.2.5", NULL);
	assert_int_equal(g.result, SPF_NONE);
	(void)eleven_table_names;
}

/* A chain of includes with N DNS terms in all. */
static void
test_eval_limits(void **state)
{
	static const struct fake_rr ten[] = {
	    {"ten.example", SPF_QT_TXT,
	        "v=spf1 include:i1.example a:h.example a:h.example "
	        "a:h.example a:h.example -all"},
	    {"i1.example", SPF_QT_TXT,
	        "v=spf1 mx:m.example mx:m.example a:h.example "
	        "a:h.example a:h.example ?all"},
	    {"eleven.example", SPF_QT_TXT,
	        "v=spf1 include:i1.example a:h.example a:h.example "
	        "a:h.example a:h.example a:h.example -all"},
	    {"h.example", SPF_QT_A, "203.0.113.1"},
	    {"m.example", SPF_QT_MX, "h.example"},
	    {NULL, 0, NULL},
	};
	struct fake f = {.rr = ten};
	struct spf_dns dns = {fake_query, fake_cancel, &f};
	struct spf_eval_params p = {.domain = "eleven.example"};
	struct got g;
	struct spf_eval *e;

	(void)state;
	g = run(ten, "ten.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_FAIL);
	assert_int_equal(g.lookups, 10);
	g = run(ten, "eleven.example", "192.0.2.1", NULL);
	assert_int_equal(g.result, SPF_PERMERROR);
	assert_int_equal(g.lookups, 11);
	/* the walk goes on past the limit and says so */
	memset(&g, 0, sizeof(g));
	e = spf_eval_start(&p, &dns, got_cb, &g);
	spf_eval_run(e);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.lookups, 11);
	assert_int_equal(g.tree_total, 11);
	assert_int_equal(g.tree_children, 1);
	spf_eval_free(e);
}

/* check_host() with a HELO name, the answers synchronous or held until the
 * end of spf_eval_run (ASYNC), as from c-ares. */
static struct got
run_helo(const struct fake_rr *tbl, const char *domain, const char *ip, const char *sender,
    const char *helo, int async)
{
	struct fake f = {.rr = tbl, .async = async};
	struct spf_dns dns = {fake_query, fake_cancel, &f};
	struct spf_eval_params p = {
	    .domain = domain, .ip = ip, .sender = sender, .helo = helo, .now = 1};
	struct got g = {0};
	struct spf_eval *e = spf_eval_start(&p, &dns, got_cb, &g);
	size_t i = 0;

	assert_non_null(e);
	spf_eval_run(e);
	while (g.done == 0 && i < f.n_pend) {
		struct pending *q = &f.pend[i++];

		if (q->live)
			fake_answer(&f, q->name, q->type, q->cb, q->arg);
	}
	assert_int_equal(g.done, 1);
	spf_eval_free(e);
	for (i = 0; i < f.n_pend; i++)
		free(f.pend[i].name);
	return g;
}

static const struct fake_rr exp_table[] = {
    {"exp.example", SPF_QT_TXT, "v=spf1 ip4:192.0.2.1 -all exp=why.%{d}"},
    {"why.exp.example", SPF_QT_TXT, "%{i} may not send for %{d} (HELO %{h})"},
    /* redirect: the target's exp= counts, not the redirecting record's (6.2) */
    {"rd.example", SPF_QT_TXT, "v=spf1 redirect=rdt.example exp=why.exp.example"},
    {"rdt.example", SPF_QT_TXT, "v=spf1 ip4:192.0.2.7 -all exp=rdwhy.example"},
    {"rdwhy.example", SPF_QT_TXT, "see %{d}"},
    /* include: the include's exp= never counts */
    {"inc.example", SPF_QT_TXT, "v=spf1 -include:ix.example ?all exp=incwhy.example"},
    {"ix.example", SPF_QT_TXT, "v=spf1 +all exp=why.exp.example"},
    {"incwhy.example", SPF_QT_TXT, "the parent's"},
    {"plain.example", SPF_QT_TXT, "v=spf1 -all"},
    {"gone.example", SPF_QT_TXT, "v=spf1 -all exp=nothing.example"},
    {"twice.example", SPF_QT_TXT, "v=spf1 -all exp=two.example"},
    {"two.example", SPF_QT_TXT, "one"},
    {"two.example", SPF_QT_TXT, "two"},
    {"badmacro.example", SPF_QT_TXT, "v=spf1 -all exp=bad.example"},
    {"bad.example", SPF_QT_TXT, "broken %{z}"},
    /* %{p} in the explanation: the PTR name whose address is the client */
    {"p.example", SPF_QT_TXT, "v=spf1 -all exp=pwhy.example"},
    {"pwhy.example", SPF_QT_TXT, "connect from %{p}"},
    {"5.2.0.192.in-addr.arpa", SPF_QT_PTR, "liar.other.example"},
    {"5.2.0.192.in-addr.arpa", SPF_QT_PTR, "host.p.example"},
    {"host.p.example", SPF_QT_A, "192.0.2.5"},
    {"mail.helo.example", SPF_QT_TXT, "v=spf1 a -all"},
    {"mail.helo.example", SPF_QT_A, "192.0.2.25"},
    {NULL, 0, NULL},
};

/* exp= fetched and expanded (RFC 7208 section 6.2), the deciding record named,
 * %{h}, and the malformed identities of section 4.3. */
static void
test_eval_explanation(void **state)
{
	struct got g;

	(void)state;
	for (int async = 0; async <= 1; async++) {
		g = run_helo(exp_table, "exp.example", "192.0.2.9", NULL, "mta.example.net", async);
		assert_int_equal(g.result, SPF_FAIL);
		assert_string_equal(g.source, "exp");
		assert_string_equal(
		    g.explanation, "192.0.2.9 may not send for exp.example (HELO mta.example.net)");
		assert_string_equal(g.matched_in, "exp.example");

		g = run_helo(exp_table, "rd.example", "192.0.2.9", NULL, NULL, async);
		assert_int_equal(g.result, SPF_FAIL);
		assert_string_equal(g.explanation, "see rdt.example");
		assert_string_equal(g.matched_in, "rdt.example");
		assert_non_null(strstr(g.reason, "in rdt.example"));
		g = run_helo(exp_table, "rd.example", "192.0.2.7", NULL, NULL, async);
		assert_int_equal(g.result, SPF_PASS);
		assert_string_equal(g.source, ""); /* only a fail has an explanation */
		assert_string_equal(g.matched_in, "rdt.example");

		g = run_helo(exp_table, "inc.example", "192.0.2.9", NULL, NULL, async);
		assert_int_equal(g.result, SPF_FAIL);
		assert_string_equal(g.explanation, "the parent's");
		assert_string_equal(g.matched_in, "inc.example");

		g = run_helo(exp_table, "p.example", "192.0.2.5", NULL, NULL, async);
		assert_string_equal(g.explanation, "connect from host.p.example");

		/* no exp=, or one that cannot be used: the default, never an error */
		static const char *const dflt[] = {
		    "plain.example", "gone.example", "twice.example", "badmacro.example"};
		for (size_t i = 0; i < 4; i++) {
			g = run_helo(exp_table, dflt[i], "192.0.2.9", "bob@x.example", NULL, async);
			assert_int_equal(g.result, SPF_FAIL);
			assert_string_equal(g.source, "default");
			assert_string_equal(g.explanation,
			    "192.0.2.9 is not allowed to send mail as bob@x.example (SPF fail)");
		}
	}
	/* the HELO identity: <domain> is the HELO name */
	g = run_helo(exp_table, "mail.helo.example", "192.0.2.25", NULL, "mail.helo.example", 0);
	assert_int_equal(g.result, SPF_PASS);
	/* section 4.3: malformed names give none, without a lookup */
	static const char *const bad[] = {"[192.0.2.1]", "A2345678", "a..b.example",
	    "x.a1234567890123456789012345678901234567890123456789012345678901234.example"};
	for (size_t i = 0; i < 4; i++) {
		g = run_helo(exp_table, bad[i], "192.0.2.9", NULL, NULL, 0);
		assert_int_equal(g.result, SPF_NONE);
		assert_non_null(strstr(g.reason, "section 4.3"));
	}
}

/* Answers arrive later, one by one, as from c-ares; and a cancel midway. */
static void
test_eval_async(void **state)
{
	struct fake f = {.rr = table, .async = 1};
	struct spf_dns dns = {fake_query, fake_cancel, &f};
	struct spf_eval_params p = {.domain = "soft.example", .ip = "203.0.113.20"};
	struct got g = {0};
	struct spf_eval *e = spf_eval_start(&p, &dns, got_cb, &g);
	size_t i = 0;

	(void)state;
	spf_eval_run(e);
	while (g.done == 0 && i < f.n_pend) {
		struct pending *q = &f.pend[i++];

		if (q->live)
			fake_answer(&f, q->name, q->type, q->cb, q->arg);
	}
	assert_int_equal(g.done, 1);
	assert_int_equal(g.result, SPF_PASS);
	spf_eval_free(e);
	for (i = 0; i < f.n_pend; i++)
		free(f.pend[i].name);

	/* freed with a query in flight: no callback afterwards */
	memset(&f, 0, sizeof(f));
	f.rr = table;
	f.async = 1;
	memset(&g, 0, sizeof(g));
	e = spf_eval_start(&p, &dns, got_cb, &g);
	spf_eval_run(e);
	assert_int_equal(f.n_pend, 1);
	spf_eval_free(e);
	assert_int_equal(f.pend[0].live, 0);
	assert_int_equal(g.done, 0);
	free(f.pend[0].name);
	assert_null(spf_eval_start(
	    &(struct spf_eval_params){.domain = "x.example", .ip = "300.1.1.1"}, &dns, got_cb, &g));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_mechanisms),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_macro_rfc_examples),
	    cmocka_unit_test(test_eval_basic),
	    cmocka_unit_test(test_eval_limits),
	    cmocka_unit_test(test_eval_async),
	    cmocka_unit_test(test_eval_explanation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
