/*
 * plan.c - the plan file (JSON); see plan.h.
 *
 * The plan's parts live apart, each with its own header as a contract:
 *   jscan.c       the strict JSON syntax scanner (line, column, what was
 *                 expected; where a field is);
 *   secret.c      env:/file: references and wiping file reads;
 *   csvread.c     the RFC 4180 record reader;
 *   plan_sheet.c  the mailbox sheet (columns -> mailboxes);
 *   plan_auth.c   the per-side OAuth2 "auth" object;
 * and this file: the field walk and the plan's tables, loading, freeing.
 *
 * JSON is first checked by jscan so that syntax errors say line, column and
 * what was expected; cJSON then builds the tree. Validation walks the tree
 * with one table of keys per object (plan_walk, see plan_p.h) and a path
 * stack ("mailboxes[2].dest_user") and rejects unknown keys at every level.
 *
 * Secrets: a password value is never put into an error message. Messages
 * only ever quote key names, column names, profile names, user names,
 * environment variable names and file paths, never a string value of a
 * password field or anything from a line the CSV header did not recognise.
 * Buffers that held plan text or secrets are wiped before they are freed.
 */
#include "plan.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>

#include "jscan.h"
#include "plan_p.h"
#include "secret.h"
#include "util.h"

#define PLAN_ECHO_MAX 40 /* longest name quoted back in a message */

static const char plan_from_plan[] = "plan";

/* ---- small helpers --------------------------------------------------------- */

/*
 * A copy of S fit to quote in a message: at most PLAN_ECHO_MAX characters,
 * anything but printable ASCII shown as '?'. Caller frees.
 */
char *
plan_echo(const char *s)
{
	size_t n = strlen(s), i, k = n > PLAN_ECHO_MAX ? PLAN_ECHO_MAX : n;
	char *out = xmalloc(k + 4);

	for (i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (k < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* The folder of PATH: "." when it has none. Caller frees. */
static char *
plan_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Index of the closest name in NAMES to S, or -1 when none is close. */
int
plan_suggest(const char *s, const char *const *names, size_t n)
{
	size_t i, best = (size_t)-1, len = strlen(s);
	int at = -1;

	for (i = 0; i < n; i++) {
		size_t d = util_edit_distance(s, names[i]);

		if (d < best) {
			best = d;
			at = (int)i;
		}
	}
	if (at < 0 || best == (size_t)-1)
		return -1;
	if (best <= 2 || best * 3 <= len)
		return at;
	return -1;
}

/* "a, b, c" of NAMES. Caller frees. */
char *
plan_list(const char *const *names, size_t n)
{
	char *out = xstrdup(""), *next;
	size_t i;

	for (i = 0; i < n; i++) {
		next = xasprintf("%s%s%s", out, i ? ", " : "", names[i]);
		free(out);
		out = next;
	}
	return out;
}

/* "ADDR", "ADDR:PORT", "V6", "[V6]" or "[V6]:PORT" with numeric addresses. */
static int
plan_resolver_ok(const char *s)
{
	unsigned char addr[16];
	const char *colon, *port = NULL;
	char *host = NULL;
	long long pn;
	int ok = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			goto out;
		host = xstrndup(s + 1, (size_t)(close - s - 1));
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			goto out;
		if (inet_pton(AF_INET6, host, addr) != 1)
			goto out;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			ok = inet_pton(AF_INET6, s, addr) == 1;
			goto out;
		}
		host = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		if (colon != NULL)
			port = colon + 1;
		if (inet_pton(AF_INET, host, addr) != 1)
			goto out;
	}
	if (port != NULL && util_parse_int(port, 1, 65535, &pn) != 0)
		goto out;
	ok = 1;
out:
	free(host);
	return ok;
}

/* Problems of a user name (static text), or NULL. */
const char *
plan_user_syntax(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0)
		return "empty";
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return "contains a control character";
	if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
		return "has leading or trailing spaces";
	return NULL;
}

/* ---- URLs ------------------------------------------------------------------ */

struct plan_scheme {
	const char *kind;
	const char *scheme;
	int port;
	enum plan_tls tls;
};

static const struct plan_scheme plan_schemes[] = {
    {"imap", "imaps", 993, PLAN_TLS_IMPLICIT},
    {"imap", "imap", 143, PLAN_TLS_STARTTLS},
    {"pop3", "pop3s", 995, PLAN_TLS_IMPLICIT},
    {"pop3", "pop3", 110, PLAN_TLS_STARTTLS},
    {"webmail", "https", 443, PLAN_TLS_IMPLICIT},
    {"webmail", "http", 80, PLAN_TLS_NONE},
};

const char *
plan_tls_str(enum plan_tls tls)
{
	switch (tls) {
	case PLAN_TLS_IMPLICIT: return "implicit";
	case PLAN_TLS_STARTTLS: return "starttls";
	case PLAN_TLS_NONE: return "none";
	}
	return "none";
}

void
plan_url_clear(struct plan_url *u)
{
	if (u == NULL)
		return;
	free(u->url);
	free(u->scheme);
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/*
 * The scheme of URL, which must be one of KIND's: its entry into *SCH, the
 * scheme lower-cased into *SCHEME (caller frees, even on error). URL must be
 * one word. Returns where the authority starts, or NULL with *REASON (caller
 * frees).
 */
static const char *
plan_url_scheme(
    const char *url, const char *kind, const struct plan_scheme **sch, char **scheme, char **reason)
{
	const struct plan_scheme *first = NULL;
	const char *sep;
	size_t i;

	*sch = NULL;
	for (i = 0; i < UTIL_ARRAY_LEN(plan_schemes); i++) {
		if (strcmp(plan_schemes[i].kind, kind) != 0)
			continue;
		if (first == NULL)
			first = &plan_schemes[i];
	}
	if (first == NULL) {
		*reason = xasprintf("unknown kind of URL \"%s\"", kind);
		return NULL;
	}
	for (i = 0; url[i] != '\0'; i++) {
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			*reason = xstrdup("contains spaces or control characters");
			return NULL;
		}
	}
	sep = strstr(url, "://");
	if (sep == NULL) {
		*reason = xasprintf("expected %s://HOST[:PORT]", first->scheme);
		return NULL;
	}
	*scheme = xstrndup(url, (size_t)(sep - url));
	for (i = 0; (*scheme)[i] != '\0'; i++)
		(*scheme)[i] = (char)tolower((unsigned char)(*scheme)[i]);
	for (i = 0; i < UTIL_ARRAY_LEN(plan_schemes); i++)
		if (strcmp(plan_schemes[i].kind, kind) == 0 &&
		    strcmp(plan_schemes[i].scheme, *scheme) == 0)
			*sch = &plan_schemes[i];
	if (*sch == NULL) {
		*reason = xasprintf(
		    "the scheme must be %s:// or %s://", first[0].scheme, first[1].scheme);
		return NULL;
	}
	return sep + 3;
}

/*
 * The host at the start of the authority AUTH (up to AUTH_END): a host name,
 * or an IPv6 address in brackets, into *HOST (caller frees, even on error),
 * and where it ends into *HOST_END. Returns 0, or -1 with *REASON.
 */
static int
plan_url_host(
    const char *auth, const char *auth_end, char **host, const char **host_end, char **reason)
{
	unsigned char addr[16];

	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', (size_t)(auth_end - auth));

		if (close == NULL) {
			*reason = xstrdup("'[' of an IPv6 address is not closed");
			return -1;
		}
		*host = xstrndup(auth + 1, (size_t)(close - auth - 1));
		if (inet_pton(AF_INET6, *host, addr) != 1) {
			*reason = xstrdup("bad IPv6 address in brackets");
			return -1;
		}
		*host_end = close + 1;
		if (*host_end < auth_end && **host_end != ':') {
			*reason = xstrdup("unexpected text after ']'");
			return -1;
		}
		return 0;
	}
	*host_end = memchr(auth, ':', (size_t)(auth_end - auth));
	if (*host_end == NULL) {
		*host_end = auth_end;
	} else if (memchr(*host_end + 1, ':', (size_t)(auth_end - *host_end - 1)) != NULL) {
		*reason = xstrdup("an IPv6 address needs brackets ([::1]:993)");
		return -1;
	}
	*host = xstrndup(auth, (size_t)(*host_end - auth));
	if (!util_hostname_ok(*host, 0)) {
		*reason = xstrdup("bad host name");
		return -1;
	}
	return 0;
}

/*
 * The port of the authority, after the host (HOST_END, up to AUTH_END):
 * ":993" into *PORT, 0 when there is none. Returns 0, or -1 with *REASON.
 */
static int
plan_url_port(const char *host_end, const char *auth_end, int *port, char **reason)
{
	char *pstr;
	long long pn;
	int bad;

	*port = 0;
	if (host_end == auth_end)
		return 0;
	pstr = xstrndup(host_end + 1, (size_t)(auth_end - host_end - 1));
	bad = util_parse_int(pstr, 1, 65535, &pn) != 0;
	free(pstr);
	if (bad) {
		*reason = xstrdup("the port must be a number from 1 to 65535");
		return -1;
	}
	*port = (int)pn;
	return 0;
}

/* A webmail URL's path from REST (what follows the authority): "/" when
 * there is none, the query kept, the fragment dropped. A new string. */
static char *
plan_url_webmail_path(const char *rest)
{
	size_t plen = strcspn(rest, "#");

	if (plen == 0)
		return xstrdup("/");
	if (rest[0] == '?')
		return xasprintf("/%.*s", (int)plen, rest);
	return xstrndup(rest, plen);
}

int
plan_url_parse(const char *url, const char *kind, struct plan_url *out, char **err)
{
	const struct plan_scheme *sch;
	const char *auth, *auth_end, *host_end, *rest;
	char *host = NULL, *scheme = NULL, *reason = NULL;
	int port, rc = -1;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	auth = plan_url_scheme(url, kind, &sch, &scheme, &reason);
	if (auth == NULL)
		goto out;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
		reason = xstrdup("user names and passwords do not belong in the URL "
		                 "(use \"admin\" or the mailboxes)");
		goto out;
	}
	if (auth == auth_end) {
		reason = xstrdup("missing host");
		goto out;
	}
	if (plan_url_host(auth, auth_end, &host, &host_end, &reason) != 0 ||
	    plan_url_port(host_end, auth_end, &port, &reason) != 0)
		goto out;
	rest = auth_end;
	if (sch->tls != PLAN_TLS_NONE && strcmp(kind, "webmail") != 0) {
		if (!(rest[0] == '\0' || strcmp(rest, "/") == 0)) {
			reason = xasprintf("%s URLs take no path", kind);
			goto out;
		}
	}
	out->url = xstrdup(url);
	out->scheme = scheme;
	scheme = NULL; /* transferred */
	out->host = host;
	host = NULL; /* transferred */
	out->port = port != 0 ? port : sch->port;
	out->tls = sch->tls;
	if (strcmp(kind, "webmail") == 0)
		out->path = plan_url_webmail_path(rest);
	rc = 0;
out:
	if (rc != 0)
		*err = xasprintf("not a valid URL: %s", reason);
	free(reason);
	free(scheme);
	free(host);
	return rc;
}

/* ---- the path stack and messages --------------------------------------------- */

void
plan_push_key(struct plan_ctx *ctx, const char *key)
{
	if (ctx->depth < PLAN_PATH_MAX) {
		ctx->steps[ctx->depth].key = key;
		ctx->steps[ctx->depth].index = 0;
	}
	ctx->depth++;
}

void
plan_push_index(struct plan_ctx *ctx, size_t index)
{
	if (ctx->depth < PLAN_PATH_MAX) {
		ctx->steps[ctx->depth].key = NULL;
		ctx->steps[ctx->depth].index = index;
	}
	ctx->depth++;
}

void
plan_pop(struct plan_ctx *ctx)
{
	ctx->depth--;
}

/* "source.admin.user", "mailboxes[2]" of the first N steps. Caller frees. */
static char *
plan_path_str(const struct plan_ctx *ctx, size_t n)
{
	char *out = xstrdup(""), *next, *echo;
	size_t k;

	if (n > PLAN_PATH_MAX)
		n = PLAN_PATH_MAX;
	for (k = 0; k < n; k++) {
		if (ctx->steps[k].key != NULL) {
			echo = plan_echo(ctx->steps[k].key);
			next = xasprintf("%s%s%s", out, k ? "." : "", echo);
			free(echo);
		} else {
			next = xasprintf("%s[%zu]", out, ctx->steps[k].index);
		}
		free(out);
		out = next;
	}
	return out;
}

/*
 * "plan.json:12: mailboxes[2].dest_user" for the current path; the line is
 * that of the current field, or of its parent when PARENT_LINE (the field
 * is missing). Without a line: "plan.json: mailboxes[2].dest_user".
 */
char *
plan_where(const struct plan_ctx *ctx, int parent_line)
{
	size_t ln = ctx->depth > PLAN_PATH_MAX ? PLAN_PATH_MAX : ctx->depth;
	size_t line, col;
	char *path, *out;
	long pos;

	if (parent_line && ln > 0)
		ln--;
	pos = -1;
	line = 0;
	if (ctx->no_lines) {
		/* no line numbers */
	} else if (ctx->have_anchor && ln >= ctx->anchor_depth) {
		pos = ln == ctx->anchor_depth
		    ? (long)ctx->anchor_pos
		    : jscan_locate(ctx->text, ctx->len, ctx->anchor_pos,
		          ctx->steps + ctx->anchor_depth, ln - ctx->anchor_depth);
		if (pos >= 0)
			line = ctx->anchor_line +
			    jscan_count_lines(
			        ctx->text + ctx->anchor_pos, (size_t)pos - ctx->anchor_pos);
	} else {
		pos = jscan_locate(ctx->text, ctx->len, 0, ctx->steps, ln);
		if (pos >= 0)
			jscan_linecol(ctx->text, ctx->len, (size_t)pos, &line, &col);
	}
	path = plan_path_str(ctx, ctx->depth);
	if (pos >= 0) {
		out = xasprintf("%s:%zu:%s%s", ctx->file, line, path[0] ? " " : "", path);
	} else {
		out = xasprintf("%s%s%s", ctx->file, path[0] ? ": " : "", path);
	}
	free(path);
	return out;
}

/* Record the first error at the current path. Returns -1. */
int
plan_fail(struct plan_ctx *ctx, int parent_line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *where;

	if (ctx->err != NULL)
		return -1;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	where = plan_where(ctx, parent_line);
	ctx->err = xasprintf("%s: %s", where, msg);
	free(where);
	free(msg);
	return -1;
}

/*
 * Check that OBJ (at the current path) is an object whose keys are all in
 * KEYS, each once; FOUND[k] gets the member for KEYS[k] or NULL.
 */
static int
plan_members(struct plan_ctx *ctx, const cJSON *obj, const char *const *keys, size_t nkeys,
    const cJSON **found)
{
	const cJSON *it;
	size_t k;

	for (k = 0; k < nkeys; k++)
		found[k] = NULL;
	if (!cJSON_IsObject(obj))
		return plan_fail(ctx, 0, "expected an object, found %s", util_json_type(obj));
	for (it = obj->child; it != NULL; it = it->next) {
		const char *name = it->string != NULL ? it->string : "";
		int hit = -1;

		for (k = 0; k < nkeys; k++)
			if (strcmp(name, keys[k]) == 0)
				hit = (int)k;
		plan_push_key(ctx, name);
		if (hit < 0) {
			int s = plan_suggest(name, keys, nkeys);
			char *all;

			if (s >= 0)
				return plan_fail(
				    ctx, 0, "unknown key (did you mean \"%s\"?)", keys[s]);
			all = plan_list(keys, nkeys);
			plan_fail(ctx, 0, "unknown key (valid keys: %s)", all);
			free(all);
			return -1;
		}
		if (found[hit] != NULL)
			return plan_fail(ctx, 0, "duplicate key");
		found[hit] = it;
		plan_pop(ctx);
	}
	return 0;
}

int
plan_fail_unknown(
    struct plan_ctx *ctx, const char *what, const char *value, const char *const *names, size_t n)
{
	int s = plan_suggest(value, names, n);
	char *list = plan_list(names, n), *echo = plan_echo(value);

	if (s >= 0)
		plan_fail(ctx, 0, "unknown %s \"%s\" (did you mean \"%s\"? %ss: %s)", what, echo,
		    names[s], what, list);
	else
		plan_fail(ctx, 0, "unknown %s \"%s\" (%ss: %s)", what, echo, what, list);
	free(list);
	free(echo);
	return -1;
}

/* A non-empty string at the current path into *OUT (caller frees). */
int
plan_string(struct plan_ctx *ctx, const cJSON *item, char **out)
{
	*out = NULL;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return plan_fail(ctx, 0, "expected a string, found %s", util_json_type(item));
	if (item->valuestring[0] == '\0')
		return plan_fail(ctx, 0, "empty");
	*out = xstrdup(item->valuestring);
	return 0;
}

/* An array of strings passing CHECK (may be NULL); WHAT names a bad element. */
static int
plan_string_array(struct plan_ctx *ctx, const cJSON *item, int (*check)(const char *),
    const char *what, char ***out, size_t *n)
{
	const cJSON *it;
	size_t i = 0, count;
	char **arr;

	if (!cJSON_IsArray(item))
		return plan_fail(
		    ctx, 0, "expected an array of strings, found %s", util_json_type(item));
	count = (size_t)cJSON_GetArraySize(item);
	arr = xcalloc(count + 1, sizeof(*arr));
	for (it = item->child; it != NULL; it = it->next, i++) {
		plan_push_index(ctx, i);
		if (plan_string(ctx, it, &arr[i]) != 0)
			goto fail;
		if (check != NULL && !check(arr[i])) {
			plan_fail(ctx, 0, "%s", what);
			goto fail;
		}
		plan_pop(ctx);
	}
	*out = arr;
	*n = i;
	return 0;
fail:
	for (i = 0; i < count; i++)
		free(arr[i]);
	free(arr);
	return -1;
}

static void
plan_free_strings(char **arr, size_t n)
{
	size_t i;

	if (arr == NULL)
		return;
	for (i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

/* A count limit: null gives -1, else a whole number >= 0. */
static int
plan_count(struct plan_ctx *ctx, const cJSON *item, int64_t *out)
{
	double v;

	if (cJSON_IsNull(item)) {
		*out = -1;
		return 0;
	}
	if (!cJSON_IsNumber(item))
		return plan_fail(ctx, 0, "expected a number, found %s", util_json_type(item));
	v = item->valuedouble;
	if (!isfinite(v) || v < 0 || v > 9007199254740992.0 || v != (double)(int64_t)v)
		return plan_fail(ctx, 0, "expected a whole number >= 0");
	*out = (int64_t)v;
	return 0;
}

static int
plan_parse_url(struct plan_ctx *ctx, const cJSON *item, const char *kind, struct plan_url **out)
{
	char *s = NULL, *uerr = NULL;
	struct plan_url *u;

	if (plan_string(ctx, item, &s) != 0)
		return -1;
	u = xcalloc(1, sizeof(*u));
	if (plan_url_parse(s, kind, u, &uerr) != 0) {
		plan_fail(ctx, 0, "%s", uerr);
		free(uerr);
		free(u);
		free(s);
		return -1;
	}
	free(s);
	*out = u;
	return 0;
}

/*
 * A secret field (reference syntax only; K's check, when set, must pass too)
 * and, when AT is set, where it is written.
 */
static int
plan_secret(
    struct plan_ctx *ctx, const cJSON *item, const struct plan_key *k, char **out, char **at)
{
	const char *why;

	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return plan_fail(ctx, 0, "expected a string, found %s", util_json_type(item));
	why = secret_syntax(item->valuestring);
	if (why != NULL)
		return plan_fail(ctx, 0, "%s", why);
	if (k->check != NULL && !k->check(item->valuestring))
		return plan_fail(ctx, 0, "%s", k->what);
	util_free_secret(*out);
	*out = xstrdup(item->valuestring);
	if (at != NULL) {
		free(*at);
		*at = plan_where(ctx, 0);
	}
	return 0;
}

/* ---- the field walk ------------------------------------------------------------ */

#define PLAN_AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* Store ITEM (present) by the type of K into BASE. */
static int
plan_store(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	char *s = NULL;
	const char *why;
	int64_t v;

	switch (k->type) {
	case PT_STRING:
		if (plan_string(ctx, item, &s) != 0)
			return -1;
		if (k->check != NULL && !k->check(s)) {
			free(s);
			return plan_fail(ctx, 0, "%s", k->what);
		}
		free(*PLAN_AT(base, k->off, char *));
		*PLAN_AT(base, k->off, char *) = s;
		break;
	case PT_USER:
		if (plan_string(ctx, item, PLAN_AT(base, k->off, char *)) != 0)
			return -1;
		why = plan_user_syntax(*PLAN_AT(base, k->off, char *));
		if (why != NULL)
			return plan_fail(ctx, 0, "%s", why);
		break;
	case PT_SECRET:
		return plan_secret(ctx, item, k, PLAN_AT(base, k->off, char *),
		    k->aux ? PLAN_AT(base, k->aux, char *) : NULL);
	case PT_PATH:
		if (plan_string(ctx, item, &s) != 0)
			return -1;
		*PLAN_AT(base, k->off, char *) = secret_join(ctx->plan->dir, s);
		free(s);
		if (k->aux)
			*PLAN_AT(base, k->aux, char *) = plan_where(ctx, 0);
		break;
	case PT_URL:
		return plan_parse_url(ctx, item, k->kind, PLAN_AT(base, k->off, struct plan_url *));
	case PT_COUNT: return plan_count(ctx, item, PLAN_AT(base, k->off, int64_t));
	case PT_PORT:
		if (plan_count(ctx, item, &v) != 0)
			return -1;
		if (v > 65535)
			return plan_fail(ctx, 0, "expected a port from 1 to 65535, or 0 for none");
		*PLAN_AT(base, k->off, int) = (int)v;
		break;
	case PT_BOOL:
		if (!cJSON_IsBool(item))
			return plan_fail(
			    ctx, 0, "expected true or false, found %s", util_json_type(item));
		*PLAN_AT(base, k->off, int) = cJSON_IsTrue(item);
		if (k->aux)
			*PLAN_AT(base, k->aux, int) = 1;
		break;
	case PT_STRINGS: {
		char **arr = NULL;
		size_t n = 0;

		if (plan_string_array(ctx, item, k->check, k->what, &arr, &n) != 0)
			return -1;
		plan_free_strings(*PLAN_AT(base, k->off, char **), *PLAN_AT(base, k->aux, size_t));
		*PLAN_AT(base, k->off, char **) = arr;
		*PLAN_AT(base, k->aux, size_t) = n;
		break;
	}
	case PT_FN: return k->fn(ctx, item, base, k);
	}
	return 0;
}

int
plan_walk(struct plan_ctx *ctx, const cJSON *obj, const struct plan_key *keys, size_t n, void *base)
{
	const cJSON *f[PLAN_MAX_KEYS];
	const char *names[PLAN_MAX_KEYS];
	size_t k;

	for (k = 0; k < n && k < PLAN_MAX_KEYS; k++)
		names[k] = keys[k].name;
	if (plan_members(ctx, obj, names, k, f) != 0)
		return -1;
	for (k = 0; k < n && k < PLAN_MAX_KEYS; k++) {
		const struct plan_key *key = &keys[k];

		plan_push_key(ctx, key->name);
		if (f[k] == NULL && key->missing != NULL &&
		    (key->needed == NULL || key->needed(ctx, base)))
			return plan_fail(ctx, 1, "%s", key->missing);
		if (f[k] != NULL || (key->type == PT_FN && key->always)) {
			if (plan_store(ctx, f[k], base, key) != 0)
				return -1;
		}
		plan_pop(ctx);
	}
	return 0;
}

/* ---- the plan's objects ---------------------------------------------------------- */

static int
plan_check_host(const char *s)
{
	return util_hostname_ok(s, 0);
}

static int
plan_check_pattern(const char *s)
{
	return util_hostname_ok(s, 1);
}

/* Microsoft 365's domain verification TXT record: MS=ms and digits. */
static int
plan_check_verification(const char *s)
{
	size_t n = strlen(s);

	return n >= 6 && n <= 24 && strncmp(s, "MS=ms", 5) == 0 &&
	    strspn(s + 5, "0123456789") == n - 5;
}

static int
plan_check_go_live(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strlen(s) == 10 ? strptime(s, "%Y-%m-%d", &tm) : NULL;
	return end != NULL && *end == '\0';
}

static void
plan_limits_unset(struct profile_limits *l)
{
	l->folder_items = -1;
	l->message_bytes = -1;
	l->mailbox_bytes = -1;
	l->mailbox_items = -1;
	l->folder_count = -1;
	l->quota_headroom = -1.0;
}

static int
plan_quota_headroom(struct plan_ctx *ctx, const cJSON *q, void *base, const struct plan_key *k)
{
	struct profile_limits *l = base;

	(void)k;
	if (cJSON_IsNull(q))
		l->quota_headroom = -1.0;
	else if (!cJSON_IsNumber(q))
		return plan_fail(ctx, 0, "expected a number, found %s", util_json_type(q));
	else if (!isfinite(q->valuedouble) || q->valuedouble <= 0 || q->valuedouble > 1)
		return plan_fail(
		    ctx, 0, "expected a share of the quota above 0 and at most 1 (0.70 = 70%%)");
	else
		l->quota_headroom = q->valuedouble;
	return 0;
}

#define LIM(f) offsetof(struct profile_limits, f)
static const struct plan_key plan_limit_keys[] = {
    {.name = "folder_items", .type = PT_COUNT, .off = LIM(folder_items)},
    {.name = "message_bytes", .type = PT_COUNT, .off = LIM(message_bytes)},
    {.name = "mailbox_bytes", .type = PT_COUNT, .off = LIM(mailbox_bytes)},
    {.name = "mailbox_items", .type = PT_COUNT, .off = LIM(mailbox_items)},
    {.name = "folder_count", .type = PT_COUNT, .off = LIM(folder_count)},
    {.name = "quota_headroom", .type = PT_FN, .fn = plan_quota_headroom},
};
#undef LIM

#define ADM(f) offsetof(struct plan_admin, f)
static const struct plan_key plan_admin_keys[] = {
    {.name = "user", .type = PT_USER, .off = ADM(user), .missing = "missing"},
    {.name = "password",
        .type = PT_SECRET,
        .off = ADM(password),
        .aux = ADM(password_at),
        .missing = "missing"},
};
#undef ADM

static int
plan_admin(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	struct plan_side *side = base;
	struct plan_admin *a = xcalloc(1, sizeof(*a));

	(void)k;
	if (plan_walk(ctx, obj, plan_admin_keys, UTIL_ARRAY_LEN(plan_admin_keys), a) != 0) {
		free(a->user);
		util_free_secret(a->password);
		free(a->password_at);
		free(a);
		return -1;
	}
	side->admin = a;
	return 0;
}

static int
plan_limits(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	struct plan_side *side = base;

	(void)k;
	return plan_walk(ctx, obj, plan_limit_keys, UTIL_ARRAY_LEN(plan_limit_keys), &side->limits);
}

static int
plan_profile(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	struct plan_side *side = base;
	const struct profile *const *all = profile_all();
	const char *names[16];
	size_t n = 0;

	(void)k;
	if (plan_string(ctx, item, &side->profile_name) != 0)
		return -1;
	side->profile = profile_find(side->profile_name);
	if (side->profile != NULL) {
		side->limits = side->profile->limits;
		return 0;
	}
	while (all[n] != NULL && n < UTIL_ARRAY_LEN(names)) {
		names[n] = all[n]->name;
		n++;
	}
	return plan_fail_unknown(ctx, "profile", side->profile_name, names, n);
}

static int
plan_auth(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	(void)k;
	return plan_auth_parse(ctx, obj, base);
}

#define SIDE(f) offsetof(struct plan_side, f)
static const struct plan_key plan_side_keys[] = {
    {.name = "profile", .type = PT_FN, .fn = plan_profile},
    {.name = "imap", .type = PT_URL, .off = SIDE(imap), .kind = "imap"},
    {.name = "pop3", .type = PT_URL, .off = SIDE(pop3), .kind = "pop3"},
    {.name = "webmail", .type = PT_URL, .off = SIDE(webmail), .kind = "webmail"},
    {.name = "admin", .type = PT_FN, .fn = plan_admin},
    {.name = "limits", .type = PT_FN, .fn = plan_limits},
    {.name = "imap_other_port", .type = PT_PORT, .off = SIDE(imap_other_port)},
    {.name = "pop3_other_port", .type = PT_PORT, .off = SIDE(pop3_other_port)},
    {.name = "auth", .type = PT_FN, .fn = plan_auth},
};
#undef SIDE

static int
plan_side(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	struct plan_side *side = PLAN_AT(base, k->off, struct plan_side);

	if (plan_walk(ctx, obj, plan_side_keys, UTIL_ARRAY_LEN(plan_side_keys), side) != 0)
		return -1;
	side->present = 1;
	return 0;
}

#define EXP(f) offsetof(struct plan_expect, f)
static const struct plan_key plan_expect_keys[] = {
    {.name = "mx",
        .type = PT_STRINGS,
        .off = EXP(mx),
        .aux = EXP(n_mx),
        .check = plan_check_pattern,
        .what = "not a host name or \"*.\" pattern"},
    {.name = "spf_include",
        .type = PT_STRINGS,
        .off = EXP(spf_include),
        .aux = EXP(n_spf_include),
        .check = plan_check_host,
        .what = "not a domain name"},
    {.name = "autodiscover",
        .type = PT_STRING,
        .off = EXP(autodiscover),
        .check = plan_check_host,
        .what = "not a host name"},
    {.name = "verification",
        .type = PT_STRING,
        .off = EXP(verification),
        .check = plan_check_verification,
        .what = "expected the TXT value Microsoft 365 gives, e.g. \"MS=ms12345678\""},
    {.name = "go_live",
        .type = PT_STRING,
        .off = EXP(go_live),
        .check = plan_check_go_live,
        .what = "expected the go-live date as YYYY-MM-DD (UTC)"},
};
#undef EXP

/* Defaults from the destination profile, then the plan's "expect" (OBJ may be NULL). */
static int
plan_expect(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	struct plan *p = base;
	const struct profile *prof = p->destination.profile;
	struct plan_expect *e = &p->expect;
	size_t n;

	(void)k;
	if (prof != NULL) {
		for (n = 0; prof->mx[n] != NULL; n++)
			;
		if (n > 0) {
			e->mx = xcalloc(n + 1, sizeof(*e->mx));
			for (e->n_mx = 0; e->n_mx < n; e->n_mx++)
				e->mx[e->n_mx] = xstrdup(prof->mx[e->n_mx]);
			e->mx_from = prof->name;
		}
		if (prof->spf_include != NULL) {
			e->spf_include = xcalloc(2, sizeof(*e->spf_include));
			e->spf_include[0] = xstrdup(prof->spf_include);
			e->n_spf_include = 1;
			e->spf_include_from = prof->name;
		}
		if (prof->autodiscover != NULL) {
			e->autodiscover = xstrdup(prof->autodiscover);
			e->autodiscover_from = prof->name;
		}
	}
	if (obj == NULL)
		return 0;
	if (plan_walk(ctx, obj, plan_expect_keys, UTIL_ARRAY_LEN(plan_expect_keys), e) != 0)
		return -1;
	/* what the plan wrote wins over the profile */
	if (cJSON_HasObjectItem(obj, "mx"))
		e->mx_from = plan_from_plan;
	if (cJSON_HasObjectItem(obj, "spf_include"))
		e->spf_include_from = plan_from_plan;
	if (cJSON_HasObjectItem(obj, "autodiscover"))
		e->autodiscover_from = plan_from_plan;
	return 0;
}

/* A mailbox may leave out the password of a side that logs in otherwise. */
static int
plan_source_needs_password(const struct plan_ctx *ctx, const void *mb)
{
	(void)mb;
	return ctx->plan->source.admin == NULL && ctx->plan->source.auth == NULL;
}

static int
plan_dest_needs_password(const struct plan_ctx *ctx, const void *mb)
{
	(void)mb;
	return ctx->plan->destination.admin == NULL && ctx->plan->destination.auth == NULL;
}

#define MB(f) offsetof(struct plan_mailbox, f)
static const struct plan_key plan_mailbox_table[] = {
    {.name = "source_user", .type = PT_USER, .off = MB(source_user), .missing = "missing"},
    {.name = "source_password",
        .type = PT_SECRET,
        .off = MB(source_password),
        .aux = MB(source_password_at),
        .missing = "missing (and source has no \"admin\" to log in with)",
        .needed = plan_source_needs_password},
    {.name = "dest_user", .type = PT_USER, .off = MB(dest_user), .missing = "missing"},
    {.name = "dest_password",
        .type = PT_SECRET,
        .off = MB(dest_password),
        .aux = MB(dest_password_at),
        .missing = "missing (and destination has no \"admin\" to log in with)",
        .needed = plan_dest_needs_password},
};
#undef MB

const char *const plan_mailbox_keys[4] = {
    "source_user",
    "source_password",
    "dest_user",
    "dest_password",
};

/*
 * Anchor on element 0 of the array at the current path (one scan from the
 * start of the text). Without it, later messages carry no line numbers.
 */
static void
plan_anchor_first(struct plan_ctx *ctx)
{
	size_t line, col;
	long key = jscan_locate(ctx->text, ctx->len, 0, ctx->steps, ctx->depth), first;

	ctx->have_anchor = 0;
	if (key < 0 || ctx->depth + 1 > PLAN_PATH_MAX) {
		ctx->no_lines = 1;
		return;
	}
	first = jscan_array_first(ctx->text, ctx->len, (size_t)key);
	if (first < 0) {
		ctx->no_lines = 1;
		return;
	}
	jscan_linecol(ctx->text, ctx->len, (size_t)first, &line, &col);
	ctx->have_anchor = 1;
	ctx->anchor_depth = ctx->depth + 1;
	ctx->anchor_pos = (size_t)first;
	ctx->anchor_line = line;
}

/* Move the anchor from element i to element i + 1. */
static void
plan_anchor_next(struct plan_ctx *ctx)
{
	long next;

	if (!ctx->have_anchor)
		return;
	next = jscan_next_element(ctx->text, ctx->len, ctx->anchor_pos);
	if (next < 0) {
		ctx->have_anchor = 0;
		ctx->no_lines = 1;
		return;
	}
	ctx->anchor_line +=
	    jscan_count_lines(ctx->text + ctx->anchor_pos, (size_t)next - ctx->anchor_pos);
	ctx->anchor_pos = (size_t)next;
}

static int
plan_mailboxes(struct plan_ctx *ctx, const cJSON *arr, void *base, const struct plan_key *k)
{
	struct plan *p = base;
	const cJSON *it;
	size_t count, i = 0;

	(void)k;
	if (!cJSON_IsArray(arr))
		return plan_fail(
		    ctx, 0, "expected an array of objects, found %s", util_json_type(arr));
	count = (size_t)cJSON_GetArraySize(arr);
	p->mailboxes = xcalloc(count + 1, sizeof(*p->mailboxes));
	plan_anchor_first(ctx);
	for (it = arr->child; it != NULL; it = it->next, i++) {
		plan_push_index(ctx, i);
		p->n_mailboxes = i + 1; /* so plan_free sees a half-filled entry */
		p->mailboxes[i].origin = xasprintf("%s: mailboxes[%zu]", ctx->file, i);
		if (plan_walk(ctx, it, plan_mailbox_table, UTIL_ARRAY_LEN(plan_mailbox_table),
		        &p->mailboxes[i]) != 0)
			return -1;
		plan_pop(ctx);
		plan_anchor_next(ctx);
	}
	ctx->have_anchor = 0;
	return 0;
}

struct plan_dup {
	const char *user;
	size_t index;
};

static int
plan_dup_cmp(const void *a, const void *b)
{
	const struct plan_dup *x = a, *y = b;
	int c = strcasecmp(x->user, y->user);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Reject a source_user listed twice (case-insensitively); names the earliest repeat. */
int
plan_check_duplicates(const struct plan_mailbox *mbs, size_t n, char **err)
{
	struct plan_dup *d;
	size_t i, first = 0, later = (size_t)-1, group = 0;
	char *echo;

	if (n < 2)
		return 0;
	d = xmalloc(n * sizeof(*d));
	for (i = 0; i < n; i++) {
		d[i].user = mbs[i].source_user != NULL ? mbs[i].source_user : "";
		d[i].index = i;
	}
	qsort(d, n, sizeof(*d), plan_dup_cmp);
	for (i = 1; i < n; i++) {
		if (strcasecmp(d[i].user, d[i - 1].user) != 0) {
			group = i;
			continue;
		}
		if (d[i].index < later) {
			later = d[i].index;
			first = d[group].index;
		}
	}
	free(d);
	if (later == (size_t)-1)
		return 0;
	echo = plan_echo(mbs[later].source_user);
	*err = xasprintf("%s: source_user \"%s\" is listed twice (first at %s)", mbs[later].origin,
	    echo, mbs[first].origin);
	free(echo);
	return -1;
}

/* "folder_map": {"Old/Name": "New/Name", "Junk": null}. */
static int
plan_folder_map(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	struct plan_sync *ps = base;
	size_t n = 0;

	(void)k;
	if (!cJSON_IsObject(obj))
		return plan_fail(ctx, 0,
		    "expected an object (source folder -> destination folder "
		    "or null), found %s",
		    util_json_type(obj));
	for (const cJSON *it = obj->child; it != NULL; it = it->next)
		n++;
	ps->folder_map = xcalloc(n ? n : 1, sizeof(*ps->folder_map));
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		const char *name = it->string != NULL ? it->string : "";
		struct plan_folder_map *e;

		plan_push_key(ctx, name);
		if (name[0] == '\0')
			return plan_fail(ctx, 0, "empty source folder name");
		for (size_t m = 0; m < ps->n_folder_map; m++)
			if (strcmp(ps->folder_map[m].from, name) == 0)
				return plan_fail(ctx, 0, "duplicate key");
		if (!cJSON_IsNull(it) && !cJSON_IsString(it))
			return plan_fail(ctx, 0,
			    "expected a destination folder name or null (leave "
			    "the folder out), found %s",
			    util_json_type(it));
		e = &ps->folder_map[ps->n_folder_map];
		if (cJSON_IsString(it)) {
			const char *v = it->valuestring != NULL ? it->valuestring : "";

			if (v[0] == '\0' || v[0] == '/' || v[strlen(v) - 1] == '/' ||
			    strstr(v, "//") != NULL)
				return plan_fail(ctx, 0,
				    "not a folder name (levels separated by one "
				    "'/', none empty)");
			e->to = xstrdup(v);
		}
		e->from = xstrdup(name);
		e->at = plan_where(ctx, 0);
		ps->n_folder_map++;
		plan_pop(ctx);
	}
	return 0;
}

static int
plan_since(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	struct plan_sync *ps = base;

	(void)k;
	if (plan_string(ctx, item, &ps->since) != 0)
		return -1;
	if (plan_parse_day(ps->since, &ps->since_t) != 0)
		return plan_fail(ctx, 0, "expected a day as YYYY-MM-DD (2019-01-01)");
	return 0;
}

#define SYNC(f) offsetof(struct plan_sync, f)
static const struct plan_key plan_sync_keys[] = {
    {.name = "folder_map", .type = PT_FN, .fn = plan_folder_map},
    {.name = "folders", .type = PT_STRINGS, .off = SYNC(folders), .aux = SYNC(n_folders)},
    {.name = "exclude", .type = PT_STRINGS, .off = SYNC(exclude), .aux = SYNC(n_exclude)},
    {.name = "since", .type = PT_FN, .fn = plan_since},
    {.name = "delete", .type = PT_BOOL, .off = SYNC(delete_vanished), .aux = SYNC(has_delete)},
};
#undef SYNC

static int
plan_sync(struct plan_ctx *ctx, const cJSON *obj, void *base, const struct plan_key *k)
{
	(void)k;
	return plan_walk(
	    ctx, obj, plan_sync_keys, UTIL_ARRAY_LEN(plan_sync_keys), &((struct plan *)base)->sync);
}

int
plan_parse_day(const char *s, int64_t *out)
{
	struct tm tm, back;
	int v[3] = {0, 0, 0};
	static const int width[3] = {4, 2, 2};
	size_t o = 0;
	time_t t;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int k = 0; k < 3; k++, o++) {
		for (int i = 0; i < width[k]; i++, o++) {
			if (!isdigit((unsigned char)s[o]))
				return -1;
			v[k] = v[k] * 10 + (s[o] - '0');
		}
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	t = timegm(&tm);
	/* timegm moves 2019-02-30 to March 2: refuse a day it moved. */
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != v[2] || back.tm_mon != v[1] - 1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

#define TOP(f) offsetof(struct plan, f)
static const struct plan_key plan_top_keys[] = {
    {.name = "domain",
        .type = PT_STRING,
        .off = TOP(domain),
        .missing = "missing (the domain being migrated, \"example.com\")",
        .check = plan_check_host,
        .what = "not a valid domain name (international names: use the xn-- form)"},
    {.name = "resolvers",
        .type = PT_STRINGS,
        .off = TOP(resolvers),
        .aux = TOP(n_resolvers),
        .check = plan_resolver_ok,
        .what = "not an IP address (ADDR, ADDR:PORT or [IPV6]:PORT)"},
    {.name = "public_resolvers",
        .type = PT_STRINGS,
        .off = TOP(public_resolvers),
        .aux = TOP(n_public_resolvers),
        .check = plan_resolver_ok,
        .what = "not an IP address (ADDR, ADDR:PORT or [IPV6]:PORT)"},
    {.name = "ca_file", .type = PT_PATH, .off = TOP(ca_file)},
    {.name = "source", .type = PT_FN, .off = TOP(source), .fn = plan_side},
    {.name = "destination", .type = PT_FN, .off = TOP(destination), .fn = plan_side},
    {.name = "expect", .type = PT_FN, .fn = plan_expect, .always = 1},
    {.name = "mailboxes", .type = PT_FN, .fn = plan_mailboxes},
    {.name = "mailboxes_csv",
        .type = PT_PATH,
        .off = TOP(mailboxes_csv),
        .aux = TOP(mailboxes_csv_at)},
    {.name = "state_dir", .type = PT_PATH, .off = TOP(state_dir)},
    {.name = "sync", .type = PT_FN, .fn = plan_sync},
};
#undef TOP

static int
plan_fill(struct plan_ctx *ctx, const cJSON *root, struct plan *p)
{
	size_t len;

	if (!cJSON_IsObject(root))
		return plan_fail(
		    ctx, 0, "the plan must be a JSON object, found %s", util_json_type(root));
	if (plan_walk(ctx, root, plan_top_keys, UTIL_ARRAY_LEN(plan_top_keys), p) != 0)
		return -1;
	len = strlen(p->domain);
	if (p->domain[len - 1] == '.')
		p->domain[len - 1] = '\0';
	if (p->state_dir == NULL)
		p->state_dir = secret_join(p->dir, ".cutover");
	return plan_check_duplicates(p->mailboxes, p->n_mailboxes, &ctx->err);
}

/* Overwrite every string value of the tree (it held the plan's secrets). */
static void
plan_json_wipe(cJSON *item)
{
	for (; item != NULL; item = item->next) {
		if (item->valuestring != NULL)
			explicit_bzero(item->valuestring, strlen(item->valuestring));
		if (item->child != NULL)
			plan_json_wipe(item->child);
	}
}

static struct plan *
plan_new(const char *path)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	p->path = xstrdup(path != NULL ? path : "plan");
	p->dir = path != NULL ? plan_dirname(path) : xstrdup(".");
	p->source.name = "source";
	p->destination.name = "destination";
	p->source.imap_other_port = p->source.pop3_other_port = -1;
	p->destination.imap_other_port = p->destination.pop3_other_port = -1;
	plan_limits_unset(&p->source.limits);
	plan_limits_unset(&p->destination.limits);
	return p;
}

int
plan_parse(const char *text, size_t len, const char *path, struct plan **out, char **err)
{
	struct plan_ctx ctx;
	struct jscan_error js;
	struct plan *p = NULL;
	cJSON *root = NULL;
	char *buf = NULL;
	const char *end = NULL;
	size_t line, col;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.text = text;
	ctx.len = len;
	ctx.file = path != NULL ? path : "plan";

	if (jscan_document(text, len, &js) != 0) {
		jscan_linecol(text, len, js.pos, &line, &col);
		ctx.err = xasprintf("%s:%zu:%zu: syntax error: %s", ctx.file, line, col, js.msg);
		goto out;
	}
	/* cJSON gets a NUL-terminated copy: it must never read past our buffer. */
	buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		size_t pos = end != NULL && end >= buf ? (size_t)(end - buf) : 0;

		jscan_linecol(text, len, pos, &line, &col);
		ctx.err = xasprintf(
		    "%s:%zu:%zu: syntax error: value cannot be read", ctx.file, line, col);
		goto out;
	}
	p = plan_new(path);
	ctx.plan = p;
	if (plan_fill(&ctx, root, p) != 0)
		goto out;
	*out = p;
	p = NULL; /* transferred */
	rc = 0;
out:
	if (rc != 0) {
		*err = ctx.err != NULL ? ctx.err : xstrdup("plan: invalid");
		ctx.err = NULL;
	}
	free(ctx.err);
	plan_free(p);
	if (root != NULL) {
		plan_json_wipe(root);
		cJSON_Delete(root);
	}
	secret_wipe_free(buf, len + 1);
	return rc;
}

/* ---- resolving, loading, freeing ------------------------------------------------- */

int
plan_resolve_secrets(struct plan *p, char **err)
{
	struct plan_side *sides[2] = {&p->source, &p->destination};
	size_t i, s;

	*err = NULL;
	if (p->resolved)
		return 0;
	for (i = 0; i < p->n_mailboxes; i++) {
		struct plan_mailbox *mb = &p->mailboxes[i];

		if (mb->source_password == NULL && p->source.admin == NULL &&
		    p->source.auth == NULL) {
			*err = xasprintf("%s: source_password: empty (and source has no \"admin\" "
			                 "to log in with)",
			    mb->origin);
			return -1;
		}
		if (mb->dest_password == NULL && p->destination.admin == NULL &&
		    p->destination.auth == NULL) {
			*err = xasprintf("%s: dest_password: empty (and destination has no "
			                 "\"admin\" to log in with)",
			    mb->origin);
			return -1;
		}
	}
	for (s = 0; s < 2; s++) {
		struct plan_admin *a = sides[s]->admin;

		if (a != NULL &&
		    secret_resolve(&a->password, SECRET_LINE, a->password_at, p->dir, err) != 0)
			return -1;
		if (plan_auth_resolve(sides[s], p->dir, err) != 0)
			return -1;
	}
	for (i = 0; i < p->n_mailboxes; i++) {
		struct plan_mailbox *mb = &p->mailboxes[i];

		if (secret_resolve(&mb->source_password, SECRET_LINE, mb->source_password_at,
		        p->dir, err) != 0 ||
		    secret_resolve(
		        &mb->dest_password, SECRET_LINE, mb->dest_password_at, p->dir, err) != 0)
			return -1;
	}
	/* The places served only the errors above: 10,000 mailboxes would keep
	 * two strings each for the whole run (issue 19: flat memory). */
	for (i = 0; i < p->n_mailboxes; i++) {
		free(p->mailboxes[i].source_password_at);
		free(p->mailboxes[i].dest_password_at);
		p->mailboxes[i].source_password_at = p->mailboxes[i].dest_password_at = NULL;
	}
	p->resolved = 1;
	return 0;
}

int
plan_resolve(struct plan *p, char **err)
{
	if (plan_read_sheet(p, err) != 0)
		return -1;
	return plan_resolve_secrets(p, err);
}

int
plan_open(const char *path, struct plan **out, char **err)
{
	struct plan *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int r, rc = -1;

	*out = NULL;
	*err = NULL;
	r = secret_read_file(path, PLAN_MAX_FILE_BYTES, &text, &len);
	if (r == -1) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (r == -2) {
		*err = xasprintf("%s: larger than %u bytes", path, PLAN_MAX_FILE_BYTES);
		goto out;
	}
	if (plan_parse(text, len, path, &p, err) != 0)
		goto out;
	if (plan_read_sheet(p, err) != 0)
		goto out;
	*out = p;
	p = NULL; /* transferred */
	rc = 0;
out:
	plan_free(p);
	secret_wipe_free(text, len + 1);
	return rc;
}

int
plan_load(const char *path, struct plan **out, char **err)
{
	struct plan *p = NULL;

	*out = NULL;
	if (plan_open(path, &p, err) != 0)
		return -1;
	if (plan_resolve_secrets(p, err) != 0) {
		plan_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

static void
plan_side_clear(struct plan_side *side)
{
	free(side->profile_name);
	plan_url_clear(side->imap);
	free(side->imap);
	plan_url_clear(side->pop3);
	free(side->pop3);
	plan_url_clear(side->webmail);
	free(side->webmail);
	if (side->admin != NULL) {
		free(side->admin->user);
		util_free_secret(side->admin->password);
		free(side->admin->password_at);
		free(side->admin);
	}
	plan_auth_free(side);
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->path);
	free(p->dir);
	free(p->domain);
	plan_free_strings(p->resolvers, p->n_resolvers);
	plan_free_strings(p->public_resolvers, p->n_public_resolvers);
	free(p->ca_file);
	plan_side_clear(&p->source);
	plan_side_clear(&p->destination);
	plan_free_strings(p->expect.mx, p->expect.n_mx);
	plan_free_strings(p->expect.spf_include, p->expect.n_spf_include);
	free(p->expect.autodiscover);
	free(p->expect.verification);
	free(p->expect.go_live);
	for (i = 0; i < p->n_mailboxes; i++)
		plan_mailbox_clear(&p->mailboxes[i]);
	free(p->mailboxes);
	free(p->mailboxes_csv);
	free(p->mailboxes_csv_at);
	free(p->state_dir);
	free(p->warnings);
	for (i = 0; i < p->sync.n_folder_map; i++) {
		free(p->sync.folder_map[i].from);
		free(p->sync.folder_map[i].to);
		free(p->sync.folder_map[i].at);
	}
	free(p->sync.folder_map);
	plan_free_strings(p->sync.folders, p->sync.n_folders);
	plan_free_strings(p->sync.exclude, p->sync.n_exclude);
	free(p->sync.since);
	free(p);
}
