/*
 * autodiscover.c - parse autodiscover (POX) and autoconfig XML. See
 * autodiscover.h.
 *
 * Why expat: the XML comes from whatever server a domain's DNS points at,
 * so it is hostile input. A hand-written parser would be a new bug surface;
 * expat is small, long-lived, fuzzed upstream (OSS-Fuzz), streams without
 * building a tree (our bounds apply while it reads), never loads external
 * entities unless given a handler for them, and since 2.4 limits entity
 * amplification ("billion laughs") by itself. libxml2 would do too, but it
 * builds a tree, and its network and entity features must each be switched
 * off; expat has none to switch off. On top of expat we refuse any document
 * type declaration (autodiscover never needs one), so entity tricks end at
 * the first "<!DOCTYPE", and we bound depth, element count and text length.
 *
 * Element names are matched by local name (the namespace URI is split off
 * by XML_ParserCreateNS): servers differ in the namespaces they write.
 */
#include "autodiscover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "util.h"

#define NS_SEP '\x01'

struct ad_parse {
	XML_Parser p;
	enum autodiscover_kind kind;
	struct autodiscover_settings *s;
	const char *stack[AUTODISCOVER_MAX_DEPTH]; /* local names, pointing into NAMES */
	char names[AUTODISCOVER_MAX_DEPTH][64];
	int depth;
	size_t elements;
	char text[AUTODISCOVER_MAX_TEXT + 1];
	size_t text_len;
	struct autodiscover_server *srv; /* the server element we are in, or NULL */
	int srv_depth;
	char *error; /* our own reason to stop, or NULL */
};

static const char *
ad_local(const char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep != NULL ? sep + 1 : name;
}

static void ad_stop(struct ad_parse *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ad_stop(struct ad_parse *a, const char *fmt, ...)
{
	va_list ap;

	if (a->error == NULL) {
		va_start(ap, fmt);
		a->error = xvasprintf(fmt, ap);
		va_end(ap);
	}
	XML_StopParser(a->p, XML_FALSE);
}

static const char *
ad_parent(const struct ad_parse *a, int up)
{
	return a->depth - 1 - up >= 0 ? a->stack[a->depth - 1 - up] : "";
}

static const char *
ad_attr(const char **attrs, const char *local)
{
	for (size_t i = 0; attrs[i] != NULL && attrs[i + 1] != NULL; i += 2)
		if (strcmp(ad_local(attrs[i]), local) == 0)
			return attrs[i + 1];
	return NULL;
}

static char *
ad_bounded_dup(const char *v)
{
	size_t n = strlen(v);

	return xstrndup(v, n < AUTODISCOVER_MAX_TEXT ? n : AUTODISCOVER_MAX_TEXT);
}

static void
ad_start(void *ud, const char *name, const char **attrs)
{
	struct ad_parse *a = ud;
	const char *local = ad_local(name);
	const char *want = a->kind == AUTODISCOVER_POX ? "Autodiscover" : "clientConfig";

	if (a->error != NULL)
		return;
	if (++a->elements > AUTODISCOVER_MAX_ELEMENTS) {
		ad_stop(a, "more than %d elements", AUTODISCOVER_MAX_ELEMENTS);
		return;
	}
	if (a->depth == AUTODISCOVER_MAX_DEPTH) {
		ad_stop(a, "nesting deeper than %d elements", AUTODISCOVER_MAX_DEPTH);
		return;
	}
	if (a->depth == 0 && strcmp(local, want) != 0) {
		ad_stop(a, "root element is <%.64s>, not <%s>", local, want);
		return;
	}
	snprintf(a->names[a->depth], sizeof(a->names[0]), "%s", local);
	a->stack[a->depth] = a->names[a->depth];
	a->depth++;
	a->text_len = 0;
	a->text[0] = '\0';

	if (a->srv == NULL &&
	    ((a->kind == AUTODISCOVER_POX && strcmp(local, "Protocol") == 0 &&
	         strcmp(ad_parent(a, 1), "Account") == 0) ||
	        (a->kind == AUTODISCOVER_AUTOCONFIG &&
	            (strcmp(local, "incomingServer") == 0 ||
	                strcmp(local, "outgoingServer") == 0)))) {
		const char *type = ad_attr(attrs, "type");

		if (type == NULL)
			type = ad_attr(attrs, "Type"); /* newer POX: <Protocol Type="EXHTTP"> */
		if (a->s->n_servers == AUTODISCOVER_MAX_SERVERS) {
			a->s->n_servers_dropped++;
			return;
		}
		a->srv = &a->s->servers[a->s->n_servers++];
		a->srv_depth = a->depth;
		if (type != NULL)
			a->srv->type = ad_bounded_dup(type);
		if (a->kind == AUTODISCOVER_AUTOCONFIG)
			a->srv->direction = xstrdup(local[0] == 'i' ? "incoming" : "outgoing");
	}
	if (a->kind == AUTODISCOVER_AUTOCONFIG && strcmp(local, "emailProvider") == 0 &&
	    a->s->provider_id == NULL) {
		const char *id = ad_attr(attrs, "id");

		if (id != NULL)
			a->s->provider_id = ad_bounded_dup(id);
	}
}

static void
ad_text(void *ud, const char *s, int len)
{
	struct ad_parse *a = ud;

	if (a->error != NULL || len <= 0)
		return;
	if (a->text_len + (size_t)len > AUTODISCOVER_MAX_TEXT) {
		ad_stop(
		    a, "text of <%s> longer than %d bytes", ad_parent(a, 0), AUTODISCOVER_MAX_TEXT);
		return;
	}
	memcpy(a->text + a->text_len, s, (size_t)len);
	a->text_len += (size_t)len;
	a->text[a->text_len] = '\0';
}

/* Set *FIELD to the trimmed text, keeping the first value seen. */
static void
ad_take(char **field, const char *text)
{
	const char *b = text, *e = text + strlen(text);

	if (*field != NULL)
		return;
	while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*field = xstrndup(b, (size_t)(e - b));
}

static long
ad_port(const char *text)
{
	long long v;
	char *t = NULL;

	ad_take(&t, text);
	if (util_parse_int(t, 1, 65535, &v) != 0)
		v = 0;
	free(t);
	return (long)v;
}

static void
ad_end_server_field(struct ad_parse *a, const char *local)
{
	struct autodiscover_server *srv = a->srv;

	if (a->kind == AUTODISCOVER_POX) {
		if (strcmp(local, "Type") == 0)
			ad_take(&srv->type, a->text);
		else if (strcmp(local, "Server") == 0)
			ad_take(&srv->host, a->text);
		else if (strcmp(local, "Port") == 0 && srv->port == 0)
			srv->port = ad_port(a->text);
		else if (strcmp(local, "SSL") == 0)
			ad_take(&srv->security, a->text);
		else if (strcmp(local, "Encryption") == 0) {
			/* more precise than <SSL> (TLS = STARTTLS, SSL = implicit) */
			free(srv->security);
			srv->security = NULL;
			ad_take(&srv->security, a->text);
		} else if (strcmp(local, "EwsUrl") == 0)
			ad_take(&srv->ews_url, a->text);
		else if (strcmp(local, "OWAUrl") == 0)
			ad_take(&srv->owa_url, a->text);
		else if (strcmp(local, "ASUrl") == 0)
			ad_take(&srv->as_url, a->text);
	} else {
		if (strcmp(local, "hostname") == 0)
			ad_take(&srv->host, a->text);
		else if (strcmp(local, "port") == 0 && srv->port == 0)
			srv->port = ad_port(a->text);
		else if (strcmp(local, "socketType") == 0)
			ad_take(&srv->security, a->text);
	}
}

static void
ad_end(void *ud, const char *name)
{
	struct ad_parse *a = ud;
	const char *local = ad_local(name);
	const char *parent;
	struct autodiscover_settings *s = a->s;

	if (a->error != NULL || a->depth == 0)
		return;
	parent = ad_parent(a, 1);
	if (a->srv != NULL && a->depth == a->srv_depth) {
		a->srv = NULL;
	} else if (a->srv != NULL && a->depth == a->srv_depth + 1) {
		ad_end_server_field(a, local);
	} else if (a->kind == AUTODISCOVER_POX) {
		if (strcmp(parent, "User") == 0 && strcmp(local, "DisplayName") == 0)
			ad_take(&s->display_name, a->text);
		else if (strcmp(parent, "User") == 0 &&
		    strcmp(local, "AutoDiscoverSMTPAddress") == 0)
			ad_take(&s->smtp_address, a->text);
		else if (strcmp(parent, "Account") == 0 && strcmp(local, "Action") == 0)
			ad_take(&s->action, a->text);
		else if (strcmp(parent, "Account") == 0 &&
		    (strcmp(local, "RedirectAddr") == 0 || strcmp(local, "RedirectUrl") == 0))
			ad_take(&s->redirect, a->text);
		else if (strcmp(parent, "Error") == 0 && strcmp(local, "ErrorCode") == 0)
			ad_take(&s->error_code, a->text);
		else if (strcmp(parent, "Error") == 0 && strcmp(local, "Message") == 0)
			ad_take(&s->error_message, a->text);
	} else if (strcmp(parent, "emailProvider") == 0 && strcmp(local, "displayName") == 0) {
		ad_take(&s->display_name, a->text);
	}
	a->depth--;
	a->text_len = 0;
	a->text[0] = '\0';
}

static void
ad_doctype(void *ud, const char *name, const char *sysid, const char *pubid, int internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	ad_stop(ud, "document type declarations are not accepted");
}

static void
ad_entity_decl(void *ud, const char *name, int is_param, const char *value, int value_len,
    const char *base, const char *sysid, const char *pubid, const char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	ad_stop(ud, "entity declarations are not accepted");
}

static void
ad_server_free(struct autodiscover_server *srv)
{
	free(srv->type);
	free(srv->direction);
	free(srv->host);
	free(srv->security);
	free(srv->ews_url);
	free(srv->owa_url);
	free(srv->as_url);
}

void
autodiscover_settings_free(struct autodiscover_settings *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_servers; i++)
		ad_server_free(&s->servers[i]);
	free(s->display_name);
	free(s->smtp_address);
	free(s->action);
	free(s->redirect);
	free(s->error_code);
	free(s->error_message);
	free(s->provider_id);
	free(s);
}

int
autodiscover_parse(enum autodiscover_kind kind, const char *buf, size_t len,
    struct autodiscover_settings **out, char **err)
{
	struct ad_parse *a = NULL;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	if (len > AUTODISCOVER_MAX_INPUT) {
		*err = xasprintf("document larger than %d bytes", AUTODISCOVER_MAX_INPUT);
		return -1;
	}
	if (len == 0) {
		*err = xstrdup("empty document");
		return -1;
	}
	a = xcalloc(1, sizeof(*a));
	a->kind = kind;
	a->s = xcalloc(1, sizeof(*a->s));
	a->s->kind = kind;
	a->p = XML_ParserCreateNS(NULL, NS_SEP);
	if (a->p == NULL)
		abort();
	XML_SetUserData(a->p, a);
	XML_SetElementHandler(a->p, ad_start, ad_end);
	XML_SetCharacterDataHandler(a->p, ad_text);
	XML_SetStartDoctypeDeclHandler(a->p, ad_doctype);
	XML_SetEntityDeclHandler(a->p, ad_entity_decl);
	/* Never read external entities or the external DTD subset. */
	XML_SetParamEntityParsing(a->p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(a->p, buf, (int)len, 1) != XML_STATUS_OK) {
		if (a->error != NULL)
			*err = a->error;
		else
			*err = xasprintf("not well-formed XML (%s) at line %lu",
			    XML_ErrorString(XML_GetErrorCode(a->p)),
			    (unsigned long)XML_GetCurrentLineNumber(a->p));
		a->error = NULL;
		goto out;
	}
	if (a->error != NULL) { /* stopped (cannot happen with isFinal), kept for safety */
		*err = a->error;
		a->error = NULL;
		goto out;
	}
	*out = a->s;
	a->s = NULL;
	rc = 0;
out:
	XML_ParserFree(a->p);
	autodiscover_settings_free(a->s);
	free(a->error);
	free(a);
	return rc;
}

/* Append S to B (of *LEN bytes, capacity *CAP) with the five XML escapes. */
static void
ad_escape(char **b, size_t *len, size_t *cap, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		char one[2] = {*s, '\0'};
		size_t n;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: rep = one; break;
		}
		n = strlen(rep);
		if (*len + n + 1 > *cap) {
			*cap = (*len + n + 1) * 2;
			*b = xrealloc(*b, *cap);
		}
		memcpy(*b + *len, rep, n);
		*len += n;
		(*b)[*len] = '\0';
	}
}

char *
autodiscover_request(const char *email)
{
	size_t len = 0, cap = 64;
	char *esc = xmalloc(cap);
	char *out;

	esc[0] = '\0';
	ad_escape(&esc, &len, &cap, email);
	/* [MS-OXDSCLI] section 2.2.3: the request schema and the response
	 * schema Outlook asks for. */
	out = xasprintf(
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
	    "requestschema/2006\">\n"
	    "  <Request>\n"
	    "    <EMailAddress>%s</EMailAddress>\n"
	    "    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/"
	    "outlook/responseschema/2006a</AcceptableResponseSchema>\n"
	    "  </Request>\n"
	    "</Autodiscover>\n",
	    esc);
	free(esc);
	return out;
}
