/*
 * oauth2.h - OAuth2 access tokens for IMAP/POP3 logins (Microsoft 365,
 * Google Workspace), fetched through libcurl on the runner's loop.
 *
 * The plan's per-side "auth" object is parsed by plan.c into a struct
 * oauth2_config (below); this module turns it into access tokens:
 *
 *   client_credentials  POST grant_type=client_credentials to token_url with
 *                       client_secret, or with an RFC 7523 client assertion
 *                       (JWT RS256 signed with client_key, header x5t#S256 =
 *                       SHA-256 thumbprint of client_certificate). One token
 *                       serves every mailbox (subject NULL).
 *   service_account     Google: JWT bearer grant (RFC 7523 2.1) signed with the
 *                       key from the service account's JSON key file, sub = the
 *                       mailbox user, one token per subject.
 *   device_code         RFC 8628: `cutover auth login` asks once; the refresh
 *                       token lives in <state_dir>/oauth2-<side>[-user].token
 *                       (0600); runs redeem it (grant_type=refresh_token).
 *   access_token        a token the user got elsewhere; never renewed.
 *
 * The cache: tokens are keyed by (token_url, client_id, scope, subject). A
 * request for a key already being fetched waits for that fetch (one HTTP
 * request however many connections wait). A cached token is handed out until
 * it is within 5 minutes of expiry (or half its lifetime, if shorter); then
 * it is fetched anew. oauth2_invalidate() drops one (a login refused it as
 * expired) so the next get fetches afresh, once.
 *
 * Secrets (client_secret, key, assertion, tokens, refresh tokens) never reach
 * an error message, a log or a report; freed memory holding them is wiped.
 */
#ifndef CUTOVER_OAUTH2_H
#define CUTOVER_OAUTH2_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

enum oauth2_flow {
	OAUTH2_FLOW_NONE = 0,
	OAUTH2_FLOW_CLIENT_CREDENTIALS,
	OAUTH2_FLOW_SERVICE_ACCOUNT,
	OAUTH2_FLOW_DEVICE_CODE,
	OAUTH2_FLOW_ACCESS_TOKEN,
};

/* "client_credentials", ... as written in the plan. */
const char *oauth2_flow_name(enum oauth2_flow f);

/*
 * A side's "auth" object after plan parsing. Secret fields hold the
 * reference ("env:NAME", "file:PATH") before plan_resolve_secrets() and the
 * value after (file: paths already joined with the plan's folder). Every
 * string is owned by the plan; NULL when absent. token_url and scope are
 * filled from the side's profile when the plan leaves them out
 * (microsoft365: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
 * and https://outlook.office365.com/.default; google:
 * https://oauth2.googleapis.com/token and https://mail.google.com/).
 */
struct oauth2_config {
	enum oauth2_flow flow;
	char *tenant; /* microsoft365; required there for the default token_url */
	char *client_id;
	char *client_secret;      /* secret */
	char *client_certificate; /* PEM file path (file: reference) */
	char *client_key;         /* secret: PEM private key (file: reference) */
	char *key_file;           /* service_account: JSON key file (file: reference), secret */
	char *access_token;       /* access_token flow: secret */
	char *token_url;
	char *device_url; /* device_code: the device authorization endpoint */
	char *scope;
	const char *token_url_from; /* "plan" or the profile name (static) */
	const char *scope_from;
};

struct http_client;
struct oauth2_cache;

/* What a token request produced. */
struct oauth2_token {
	const char *access_token; /* secret; valid during the callback only */
	time_t expires_at;        /* 0 = unknown (access_token flow without a JWT exp) */
	int64_t lifetime_s;       /* as granted (expires_in), -1 unknown */
	/* Token-endpoint failure: a short code ("invalid_client",
	 * "AADSTS7000215", "unauthorized_client", "http", "transfer", ...) and the
	 * advice an admin can act on; both NULL on success. Never holds a secret. */
	const char *error_code;
	const char *error;
	int permanent; /* 1: retrying will not help (bad secret, no consent) */
};

typedef void (*oauth2_cb)(void *arg, const struct oauth2_token *tok);

struct oauth2_cache_opts {
	const char *ca_file; /* extra CA bundle for the token endpoint, or NULL */
	int insecure;
	int timeout_ms;        /* per token request; 0 = 15000 */
	const char *state_dir; /* device_code refresh tokens; may be NULL otherwise */
	const char *side;      /* "source"/"destination": names the refresh-token file */
};

struct oauth2_cache *oauth2_cache_new(
    struct event_base *base, struct http_client *http, const struct oauth2_cache_opts *o);
/* Free the cache, wiping tokens; waiting requests are dropped without callbacks. */
void oauth2_cache_free(struct oauth2_cache *c);

struct oauth2_wait;
/*
 * A token for CFG and SUBJECT (the mailbox user for service_account and
 * device_code per-mailbox tokens; ignored by client_credentials). CB runs
 * exactly once from the loop (never inside this call) unless cancelled.
 */
struct oauth2_wait *oauth2_get(struct oauth2_cache *c, const struct oauth2_config *cfg,
    const char *subject, oauth2_cb cb, void *arg);
void oauth2_cancel(struct oauth2_wait *w);
/* The token handed out for (CFG, SUBJECT) was refused as expired: forget it. */
void oauth2_invalidate(
    struct oauth2_cache *c, const struct oauth2_config *cfg, const char *subject);

/* ---- pure helpers (unit-tested, fuzzed) ------------------------------------ */

/* A parsed token-endpoint answer (RFC 6749 5.1 / 5.2, RFC 8628 3.2). */
struct oauth2_response {
	char *access_token;  /* secret */
	char *refresh_token; /* secret */
	int64_t expires_in;  /* -1 when absent */
	char *error;         /* "invalid_client", ... */
	char *error_description;
	long aadsts; /* Entra ID's AADSTSnnnn from the description, 0 none */
	/* device authorization answer */
	char *device_code; /* secret */
	char *user_code;
	char *verification_uri;
	int64_t interval; /* -1 when absent */
};

/* Parse BODY (LEN bytes, untrusted). Returns 0, or -1 when it is not a JSON
 * object (then *OUT is empty). Free with oauth2_response_clear(). */
int oauth2_response_parse(const char *body, size_t len, struct oauth2_response *out);
void oauth2_response_clear(struct oauth2_response *r);

/* The advice for a token-endpoint error (error code, AADSTS number): a
 * static sentence, never NULL; *PERMANENT set when retrying will not help. */
const char *oauth2_error_advice(const char *error, long aadsts, int *permanent);

/* What a JWT access token says about itself (payload decoded, NOT verified:
 * for the report only). Returns 0, -1 when TOKEN is not a JWT. */
struct oauth2_claims {
	time_t exp;      /* 0 absent */
	char roles[512]; /* "roles" joined by ' ' (app-only) */
	char scp[512];   /* "scp" (delegated) or "scope" */
	char aud[256];
};
int oauth2_claims_parse(const char *token, struct oauth2_claims *out);

/* ---- token core additions (h-oauth) ------------------------------------------ */

/* When a token granted for LIFETIME_S seconds (-1 unknown) that expires at
 * EXPIRES_AT is fetched anew: 5 minutes ahead, or half its lifetime when
 * that is shorter. 0 when EXPIRES_AT is 0 (never: nothing to renew). */
time_t oauth2_renew_at(time_t expires_at, int64_t lifetime_s);

/* 1 when space-separated LIST holds WORD ("IMAP.AccessAsApp"). */
int oauth2_has_word(const char *list, const char *word);

/* application/x-www-form-urlencoded body of KV (name, value, ..., NULL); a
 * pair whose value is NULL is left out. Caller frees (util_free_secret when
 * a value is a secret). */
char *oauth2_form(const char *const *kv);

/* RFC 7523 client assertion for Entra ID: header {alg RS256, typ JWT,
 * x5t#S256 of CERT_PEM}, claims aud=TOKEN_URL, iss=sub=CLIENT_ID, jti,
 * nbf=iat=NOW, exp=NOW+300. Returns the JWT (util_free_secret) or NULL
 * with *ERR (caller frees; never quotes the key). */
char *oauth2_client_assertion(const char *client_id, const char *token_url, const char *cert_pem,
    size_t cert_len, const char *key_pem, size_t key_len, time_t now, char **err);
/* Google JWT bearer grant (RFC 7523 2.1): header kid=KID (the key file's
 * private_key_id; left out when NULL), claims iss=CLIENT_EMAIL, sub=SUBJECT
 * (left out when NULL), scope, aud, iat=NOW, exp=NOW+3600. */
char *oauth2_google_assertion(const char *client_email, const char *subject, const char *scope,
    const char *aud, const char *kid, const char *key_pem, size_t key_len, time_t now, char **err);

/* The device authorization endpoint of CFG: device_url, else derived from
 * an Entra ID-shaped (.../oauth2/v2.0/token) or Google token_url; when the
 * plan names token_url and device_url is on another host (the profile's
 * public default), the one derived from token_url. NULL when unknown.
 * Caller frees. */
char *oauth2_device_url(const struct oauth2_config *cfg);
/* The scope a device sign-in asks: CFG's, plus offline_access at Entra ID
 * (without it no refresh token is issued). Caller frees. */
char *oauth2_device_scope(const struct oauth2_config *cfg);

/* <STATE_DIR>/oauth2-<SIDE>[-<USER>].token (USER's unusual bytes as '_').
 * Caller frees. */
char *oauth2_token_file(const char *state_dir, const char *side, const char *user);
/* Write REFRESH_TOKEN to PATH atomically with mode 0600 (temporary file,
 * fsync, rename). 0, or -1 with *ERR (caller frees; never the token). */
int oauth2_token_file_write(const char *path, const char *refresh_token, char **err);

/* The run's cache for SIDE ("source"/"destination"), made on first use on
 * R's loop and HTTP client (--ca-file, --insecure, --timeout), freed with R.
 * STATE_DIR: the plan's (device_code refresh tokens). */
struct runner;
struct oauth2_cache *oauth2_runner_cache(struct runner *r, const char *side, const char *state_dir);

#endif
