/*
 * plan_auth.c - a side's "auth" object (issue 13: OAuth2 logins) into a
 * struct oauth2_config (oauth2.h).
 *
 *   "auth": {"type": "oauth2", "flow": "client_credentials",
 *            "tenant": "contoso.onmicrosoft.com", "client_id": "...",
 *            "client_secret": "env:M365_CLIENT_SECRET"}
 *
 * Parsing (pure, from plan_parse) checks the keys with the plan's walk
 * (plan_p.h), then what one key alone cannot say: the keys each flow needs,
 * and the token_url, device_url and scope the side's profile gives when the
 * plan leaves them out (token_url_from / scope_from say which). Messages name
 * the field ("plan.json:14: destination.auth.tenant: missing ..."), never a
 * value.
 *
 * The references (client_secret, client_certificate, client_key, key_file,
 * access_token) follow the password rules (secret.h): they stay as written
 * until plan_resolve_secrets(), which turns each into its value: the first
 * line of a file: for client_secret and access_token, the whole file for the
 * PEM certificate and key and the JSON key file. client_certificate, client_key
 * and key_file must be references (env: or file:): a key is not written into
 * the plan. plan_free() wipes them all.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "plan_p.h"
#include "secret.h"
#include "util.h"

/* The object while it is walked: the config and what only parsing needs. */
struct plan_auth_parse {
	struct oauth2_config c;
	char *type;
	char *at[PLAN_AUTH_NREFS];
};

/* The references, in the order of plan_side.auth_at, and what each resolves to. */
static const struct {
	size_t off; /* in struct oauth2_config */
	enum secret_form form;
} plan_auth_refs[PLAN_AUTH_NREFS] = {
    {offsetof(struct oauth2_config, client_secret), SECRET_LINE},
    {offsetof(struct oauth2_config, client_certificate), SECRET_WHOLE},
    {offsetof(struct oauth2_config, client_key), SECRET_WHOLE},
    {offsetof(struct oauth2_config, key_file), SECRET_WHOLE},
    {offsetof(struct oauth2_config, access_token), SECRET_LINE},
};

/* Flow names as written in the plan, indexed by enum oauth2_flow. */
static const char *const plan_auth_flows[] = {
    "client_credentials",
    "service_account",
    "device_code",
    "access_token",
};

/*
 * What a profile gives when the plan leaves the endpoints or the scope out.
 * With tenant set the URLs are BASE + the tenant + PATH, else BASE + PATH.
 */
static const struct {
	const char *profile;
	int tenant;
	const char *base;
	const char *token_path;
	const char *device_path;
	const char *scope;
} plan_auth_defaults[] = {
    {"microsoft365", 1, "https://login.microsoftonline.com/", "/oauth2/v2.0/token",
        "/oauth2/v2.0/devicecode", "https://outlook.office365.com/.default"},
    {"google", 0, "https://oauth2.googleapis.com/", "token", "device/code",
        "https://mail.google.com/"},
};

/* ---- single keys ---------------------------------------------------------------- */

static int
plan_auth_type(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	struct plan_auth_parse *a = base;
	char *echo;

	(void)k;
	if (plan_string(ctx, item, &a->type) != 0)
		return -1;
	if (strcmp(a->type, "oauth2") == 0)
		return 0;
	echo = plan_echo(a->type);
	plan_fail(ctx, 0, "unknown type \"%s\" (the only type is \"oauth2\")", echo);
	free(echo);
	return -1;
}

static int
plan_auth_flow(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	struct plan_auth_parse *a = base;
	size_t n = UTIL_ARRAY_LEN(plan_auth_flows), i;
	char *s = NULL;

	(void)k;
	if (plan_string(ctx, item, &s) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(s, plan_auth_flows[i]) == 0) {
			a->c.flow = (enum oauth2_flow)(i + 1);
			free(s);
			return 0;
		}
	}
	plan_fail_unknown(ctx, "flow", s, plan_auth_flows, n);
	free(s);
	return -1;
}

/* An https:// URL (a token or device endpoint: the request carries a secret). */
static int
plan_auth_url(struct plan_ctx *ctx, const cJSON *item, void *base, const struct plan_key *k)
{
	struct plan_url u;
	char *s = NULL, *uerr = NULL;
	int tls;

	if (plan_string(ctx, item, &s) != 0)
		return -1;
	if (plan_url_parse(s, "webmail", &u, &uerr) != 0) {
		plan_fail(ctx, 0, "%s", uerr);
		free(uerr);
		free(s);
		return -1;
	}
	tls = u.tls;
	plan_url_clear(&u);
	if (tls == PLAN_TLS_NONE) {
		free(s);
		return plan_fail(ctx, 0, "expected an https:// URL (the request carries a secret)");
	}
	*(char **)(void *)((char *)base + k->off) = s;
	return 0;
}

/* A tenant goes into a URL path: its domain or its ID (a GUID). */
static int
plan_auth_tenant_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= 128 &&
	    strspn(s,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789.-_") == n &&
	    s[0] != '.';
}

/* A client ID or a scope: printable, no control characters. */
static int
plan_auth_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
plan_auth_is_ref(const char *s)
{
	return strncmp(s, "file:", 5) == 0 || strncmp(s, "env:", 4) == 0;
}

#define AU(f) offsetof(struct plan_auth_parse, f)
static const struct plan_key plan_auth_keys[] = {
    {.name = "type", .type = PT_FN, .fn = plan_auth_type, .missing = "missing (\"oauth2\")"},
    {.name = "flow",
        .type = PT_FN,
        .fn = plan_auth_flow,
        .missing = "missing (client_credentials, service_account, device_code or "
                   "access_token)"},
    {.name = "tenant",
        .type = PT_STRING,
        .off = AU(c.tenant),
        .check = plan_auth_tenant_ok,
        .what = "expected the tenant's domain (contoso.onmicrosoft.com) or its ID"},
    {.name = "client_id",
        .type = PT_STRING,
        .off = AU(c.client_id),
        .check = plan_auth_text_ok,
        .what = "contains a control character"},
    {.name = "client_secret", .type = PT_SECRET, .off = AU(c.client_secret), .aux = AU(at[0])},
    {.name = "client_certificate",
        .type = PT_SECRET,
        .off = AU(c.client_certificate),
        .aux = AU(at[1]),
        .check = plan_auth_is_ref,
        .what = "expected file:PATH (the PEM certificate) or env:NAME"},
    {.name = "client_key",
        .type = PT_SECRET,
        .off = AU(c.client_key),
        .aux = AU(at[2]),
        .check = plan_auth_is_ref,
        .what = "expected file:PATH (the PEM private key) or env:NAME: a key is not "
                "written into the plan"},
    {.name = "key_file",
        .type = PT_SECRET,
        .off = AU(c.key_file),
        .aux = AU(at[3]),
        .check = plan_auth_is_ref,
        .what = "expected file:PATH (the service account's JSON key file) or env:NAME"},
    {.name = "access_token", .type = PT_SECRET, .off = AU(c.access_token), .aux = AU(at[4])},
    {.name = "token_url", .type = PT_FN, .off = AU(c.token_url), .fn = plan_auth_url},
    {.name = "device_url", .type = PT_FN, .off = AU(c.device_url), .fn = plan_auth_url},
    {.name = "scope",
        .type = PT_STRING,
        .off = AU(c.scope),
        .check = plan_auth_text_ok,
        .what = "contains a control character"},
};
#undef AU

/* ---- the object as a whole ------------------------------------------------------- */

/* Fail at auth.KEY (the line of "auth": the key is missing or in question). */
static int
plan_auth_fail(struct plan_ctx *ctx, const char *key, int present, const char *msg)
{
	plan_push_key(ctx, key);
	return plan_fail(ctx, !present, "%s", msg);
}

/* The keys FLOW needs. */
static int
plan_auth_flow_keys(struct plan_ctx *ctx, const struct oauth2_config *c)
{
	int cert = c->client_certificate != NULL, key = c->client_key != NULL;

	switch (c->flow) {
	case OAUTH2_FLOW_CLIENT_CREDENTIALS:
		if (c->client_id == NULL)
			return plan_auth_fail(ctx, "client_id", 0,
			    "missing (client_credentials needs the application's ID)");
		if (c->client_secret != NULL && (cert || key))
			return plan_auth_fail(ctx, "client_secret", 1,
			    "client_credentials takes client_secret or client_certificate and "
			    "client_key, not both");
		if (c->client_secret == NULL && !cert && !key)
			return plan_auth_fail(ctx, "client_secret", 0,
			    "missing (client_credentials needs client_secret, or "
			    "client_certificate and client_key)");
		if (cert != key)
			return plan_auth_fail(ctx, cert ? "client_key" : "client_certificate", 0,
			    "missing (client_certificate and client_key go together)");
		break;
	case OAUTH2_FLOW_SERVICE_ACCOUNT:
		if (c->key_file == NULL)
			return plan_auth_fail(ctx, "key_file", 0,
			    "missing (service_account needs the service account's JSON key file, "
			    "\"file:key.json\")");
		break;
	case OAUTH2_FLOW_DEVICE_CODE:
		if (c->client_id == NULL)
			return plan_auth_fail(ctx, "client_id", 0,
			    "missing (device_code needs the application's ID)");
		break;
	case OAUTH2_FLOW_ACCESS_TOKEN:
		if (c->access_token == NULL)
			return plan_auth_fail(ctx, "access_token", 0,
			    "missing (access_token needs the token: \"env:NAME\" or "
			    "\"file:PATH\")");
		break;
	case OAUTH2_FLOW_NONE: break;
	}
	return 0;
}

/*
 * KEY ("token_url" or "device_url") into *OUT from the profile's default DI
 * (-1: none) and PATH, unless the plan set it. Returns 0 (set, or nothing to
 * derive it from), or -1 when NEEDED and the profile's URL takes a tenant the
 * plan does not give.
 */
static int
plan_auth_derive(struct plan_ctx *ctx, const struct oauth2_config *c, int di, const char *key,
    const char *path, int needed, char **out)
{
	char *msg;

	if (*out != NULL || di < 0)
		return 0;
	if (!plan_auth_defaults[di].tenant || c->tenant != NULL) {
		*out = xasprintf("%s%s%s", plan_auth_defaults[di].base,
		    plan_auth_defaults[di].tenant ? c->tenant : "", path);
		return 0;
	}
	if (!needed)
		return 0;
	msg = xasprintf("missing (the %s %s is derived from it: set tenant, or %s)",
	    plan_auth_defaults[di].profile, key, key);
	plan_auth_fail(ctx, "tenant", 0, msg);
	free(msg);
	return -1;
}

/* The device authorization endpoint beside TOKEN_URL: Entra ID's
 * ".../oauth2/v2.0/devicecode" for ".../oauth2/v2.0/token", Google's
 * ".../device/code" for ".../token"; NULL for another shape. */
static char *
plan_auth_device_beside(const char *token_url)
{
	static const char entra[] = "/oauth2/v2.0/token", plain[] = "/token";
	size_t n = strlen(token_url);

	if (n > sizeof(entra) - 1 && strcmp(token_url + n - (sizeof(entra) - 1), entra) == 0)
		return xasprintf("%.*sdevicecode", (int)(n - 5), token_url);
	if (n > sizeof(plain) - 1 && strcmp(token_url + n - (sizeof(plain) - 1), plain) == 0)
		return xasprintf("%.*s/device/code", (int)(n - 6), token_url);
	return NULL;
}

/* token_url, device_url and scope from the side's profile when the plan has none. */
static int
plan_auth_defaults_fill(struct plan_ctx *ctx, const struct plan_side *side, struct oauth2_config *c)
{
	const char *prof = side->profile != NULL ? side->profile->name : NULL;
	int di = -1, needs_token = c->flow != OAUTH2_FLOW_ACCESS_TOKEN;
	int needs_device = c->flow == OAUTH2_FLOW_DEVICE_CODE;
	size_t i;

	for (i = 0; prof != NULL && i < UTIL_ARRAY_LEN(plan_auth_defaults); i++)
		if (strcmp(prof, plan_auth_defaults[i].profile) == 0)
			di = (int)i;
	c->token_url_from = c->token_url != NULL ? "plan" : NULL;
	c->scope_from = c->scope != NULL ? "plan" : NULL;
	if (plan_auth_derive(ctx, c, di, "token_url",
	        di >= 0 ? plan_auth_defaults[di].token_path : NULL, needs_token,
	        &c->token_url) != 0)
		return -1;
	if (c->token_url_from == NULL && c->token_url != NULL)
		c->token_url_from = plan_auth_defaults[di].profile;
	/* A plan that names its own token endpoint (a lab, a sovereign cloud)
	 * gets the device endpoint beside it, never the profile's public one. */
	if (needs_device && c->device_url == NULL && c->token_url_from != NULL &&
	    strcmp(c->token_url_from, "plan") == 0)
		c->device_url = plan_auth_device_beside(c->token_url);
	if (needs_device && c->device_url == NULL &&
	    (c->token_url_from == NULL || strcmp(c->token_url_from, "plan") != 0) &&
	    plan_auth_derive(ctx, c, di, "device_url",
	        di >= 0 ? plan_auth_defaults[di].device_path : NULL, 1, &c->device_url) != 0)
		return -1;
	if (c->scope == NULL && di >= 0) {
		c->scope = xstrdup(plan_auth_defaults[di].scope);
		c->scope_from = plan_auth_defaults[di].profile;
	}
	if (needs_token && c->token_url == NULL)
		return plan_auth_fail(ctx, "token_url", 0,
		    prof != NULL ? "missing (this side's profile has no OAuth2 token endpoint)"
		                 : "missing (or a \"profile\" that has one: microsoft365, google)");
	if (needs_device && c->device_url == NULL && c->token_url_from != NULL &&
	    strcmp(c->token_url_from, "plan") == 0)
		return plan_auth_fail(ctx, "device_url", 0,
		    "missing (and not to be derived from this token_url: set it)");
	if (needs_device && c->device_url == NULL)
		return plan_auth_fail(ctx, "device_url", 0,
		    prof != NULL
		        ? "missing (this side's profile has no device authorization endpoint)"
		        : "missing (or a \"profile\" that has one: microsoft365, google)");
	return 0;
}

static void
plan_auth_clear(struct oauth2_config *c)
{
	size_t i;

	for (i = 0; i < PLAN_AUTH_NREFS; i++)
		util_free_secret(*(char **)(void *)((char *)c + plan_auth_refs[i].off));
	free(c->tenant);
	free(c->client_id);
	free(c->token_url);
	free(c->device_url);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

int
plan_auth_parse(struct plan_ctx *ctx, const cJSON *item, struct plan_side *side)
{
	struct plan_auth_parse a;
	size_t i;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	if (plan_walk(ctx, item, plan_auth_keys, UTIL_ARRAY_LEN(plan_auth_keys), &a) != 0)
		goto out;
	if (side->admin != NULL) {
		plan_fail(ctx, 0, "a side logs in with \"admin\" or with \"auth\", not both");
		goto out;
	}
	if (plan_auth_flow_keys(ctx, &a.c) != 0 || plan_auth_defaults_fill(ctx, side, &a.c) != 0)
		goto out;
	side->auth = xmalloc(sizeof(*side->auth));
	*side->auth = a.c;
	memset(&a.c, 0, sizeof(a.c)); /* transferred */
	for (i = 0; i < PLAN_AUTH_NREFS; i++) {
		side->auth_at[i] = a.at[i];
		a.at[i] = NULL; /* transferred */
	}
	rc = 0;
out:
	plan_auth_clear(&a.c);
	free(a.type);
	for (i = 0; i < PLAN_AUTH_NREFS; i++)
		free(a.at[i]);
	return rc;
}

int
plan_auth_resolve(struct plan_side *side, const char *dir, char **err)
{
	size_t i;

	if (side->auth == NULL)
		return 0;
	for (i = 0; i < PLAN_AUTH_NREFS; i++) {
		char **ref = (char **)(void *)((char *)side->auth + plan_auth_refs[i].off);

		if (secret_resolve(ref, plan_auth_refs[i].form, side->auth_at[i], dir, err) != 0)
			return -1;
	}
	return 0;
}

void
plan_auth_free(struct plan_side *side)
{
	size_t i;

	if (side->auth != NULL) {
		plan_auth_clear(side->auth);
		free(side->auth);
		side->auth = NULL;
	}
	for (i = 0; i < PLAN_AUTH_NREFS; i++) {
		free(side->auth_at[i]);
		side->auth_at[i] = NULL;
	}
}
