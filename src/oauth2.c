/*
 * oauth2.c - OAuth2 access tokens on the runner's loop (see oauth2.h).
 *
 * Why hand-written: no OAuth2 client library in Debian fits an event loop
 * we own. The pieces are small: token requests are form POSTs through the
 * existing libcurl glue (http.h, multi-socket on libevent), answers are
 * parsed with cJSON (bounded, untrusted), assertions are JWTs signed with
 * OpenSSL (jwt.h). RFCs: 6749 (OAuth2), 7523 (JWT client assertion and JWT
 * bearer grant), 8628 (device authorization), 7519 (JWT).
 *
 * The cache is a list of entries keyed by (token_url, client, scope,
 * subject); each entry holds at most one token (a secret, wiped when
 * replaced), at most one HTTP request in flight and the waits for it. A
 * wait is answered through its own zero-delay event, so a callback never
 * runs inside oauth2_get() and each wait carries its own copy of the answer
 * (an invalidate between the answer and the callback changes nothing).
 * A permanent error (bad secret, no consent) sticks to its entry for the
 * run: 200 mailboxes ask once, not 200 times (no lockouts); invalidate
 * clears it.
 */
#include "oauth2.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "http.h"
#include "jwt.h"
#include "runner.h"
#include "util.h"

#define OAUTH2_MAX_BODY (256 * 1024)  /* token answers are a few KB */
#define OAUTH2_MAX_FIELD (32 * 1024)  /* one string of an answer */
#define OAUTH2_MAX_FILE (256 * 1024)  /* key, certificate, refresh token files */
#define OAUTH2_RENEW_AHEAD 300        /* seconds before expiry */
#define OAUTH2_ASSERTION_LIFETIME 300 /* client assertion exp - nbf (Entra: <= 10 min) */
#define OAUTH2_GRANT_LIFETIME 3600    /* Google JWT bearer grant: at most 1 hour */

const char *
oauth2_flow_name(enum oauth2_flow f)
{
	switch (f) {
	case OAUTH2_FLOW_CLIENT_CREDENTIALS: return "client_credentials";
	case OAUTH2_FLOW_SERVICE_ACCOUNT: return "service_account";
	case OAUTH2_FLOW_DEVICE_CODE: return "device_code";
	case OAUTH2_FLOW_ACCESS_TOKEN: return "access_token";
	case OAUTH2_FLOW_NONE: break;
	}
	return "none";
}

/* ---- pure helpers ------------------------------------------------------------ */

time_t
oauth2_renew_at(time_t expires_at, int64_t lifetime_s)
{
	int64_t ahead = OAUTH2_RENEW_AHEAD;

	if (expires_at == 0)
		return 0;
	if (lifetime_s >= 0 && lifetime_s / 2 < ahead)
		ahead = lifetime_s / 2;
	return expires_at - (time_t)ahead;
}

/* A bounded copy of a string member, or NULL when absent, not a string or
 * too long. */
static char *
oauth2_json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    strnlen(v->valuestring, OAUTH2_MAX_FIELD + 1) > OAUTH2_MAX_FIELD)
		return NULL;
	return xstrdup(v->valuestring);
}

/* A number member, also as a decimal string (Entra's v1 endpoint sends
 * "3599"); -1 when absent or not a sane count of seconds. */
static int64_t
oauth2_json_secs(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	long long n;

	if (cJSON_IsNumber(v))
		return v->valuedouble >= 0 && v->valuedouble <= 100000000.0
		    ? (int64_t)v->valuedouble
		    : -1;
	if (cJSON_IsString(v) && v->valuestring != NULL &&
	    util_parse_int(v->valuestring, 0, 100000000, &n) == 0)
		return n;
	return -1;
}

/* The first AADSTSnnnn in S, 0 when none. */
static long
oauth2_find_aadsts(const char *s)
{
	for (const char *p = s; p != NULL && (p = strstr(p, "AADSTS")) != NULL; p += 6) {
		long v = 0;
		int digits = 0;

		for (const char *d = p + 6; *d >= '0' && *d <= '9' && digits < 9; d++, digits++)
			v = v * 10 + (*d - '0');
		if (digits > 0)
			return v;
	}
	return 0;
}

int
oauth2_response_parse(const char *body, size_t len, struct oauth2_response *out)
{
	cJSON *j;
	const cJSON *codes;

	memset(out, 0, sizeof(*out));
	out->expires_in = -1;
	out->interval = -1;
	/* JSON text holds no raw NUL (RFC 8259 7): such a body is not JSON */
	if (body == NULL || len > OAUTH2_MAX_BODY || memchr(body, '\0', len) != NULL)
		return -1;
	j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -1;
	}
	out->access_token = oauth2_json_str(j, "access_token");
	out->refresh_token = oauth2_json_str(j, "refresh_token");
	out->expires_in = oauth2_json_secs(j, "expires_in");
	out->error = oauth2_json_str(j, "error");
	out->error_description = oauth2_json_str(j, "error_description");
	out->device_code = oauth2_json_str(j, "device_code");
	out->user_code = oauth2_json_str(j, "user_code");
	out->verification_uri = oauth2_json_str(j, "verification_uri");
	if (out->verification_uri == NULL) /* Google's older name */
		out->verification_uri = oauth2_json_str(j, "verification_url");
	out->interval = oauth2_json_secs(j, "interval");
	/* Entra: "error_codes":[7000215] besides the text "AADSTS7000215: ..." */
	codes = cJSON_GetObjectItemCaseSensitive(j, "error_codes");
	if (cJSON_IsArray(codes) && cJSON_IsNumber(cJSON_GetArrayItem(codes, 0))) {
		double d = cJSON_GetArrayItem(codes, 0)->valuedouble;

		if (d > 0 && d < 1e9)
			out->aadsts = (long)d;
	}
	if (out->aadsts == 0)
		out->aadsts = oauth2_find_aadsts(out->error_description);
	/* The JSON tree held the secrets too: wipe it before it is freed. */
	if (out->access_token != NULL || out->refresh_token != NULL || out->device_code != NULL) {
		for (cJSON *it = j->child; it != NULL; it = it->next)
			if (cJSON_IsString(it) && it->valuestring != NULL)
				OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
	}
	cJSON_Delete(j);
	return 0;
}

void
oauth2_response_clear(struct oauth2_response *r)
{
	util_free_secret(r->access_token);
	util_free_secret(r->refresh_token);
	util_free_secret(r->device_code);
	free(r->error);
	free(r->error_description);
	free(r->user_code);
	free(r->verification_uri);
	memset(r, 0, sizeof(*r));
	r->expires_in = -1;
	r->interval = -1;
}

struct oauth2_advice {
	const char *error; /* OAuth2 error code, or NULL to match on AADSTS only */
	long aadsts;       /* 0: any */
	int permanent;
	const char *text;
};

/* Most specific first: an AADSTS number wins over the OAuth2 code. */
static const struct oauth2_advice oauth2_advice_table[] = {
    {NULL, 7000215, 1,
        "Entra ID refused the client secret (AADSTS7000215): the value is not a "
        "secret of this app. A secret's ID given instead of its Value is the usual cause. In "
        "the Entra admin center, App registrations > the app > Certificates & secrets, create "
        "a new client secret and put its Value where auth.client_secret points."},
    {NULL, 7000222, 1,
        "The client secret has expired (AADSTS7000222). In the Entra admin "
        "center, App registrations > the app > Certificates & secrets, create a new client "
        "secret and put its Value where auth.client_secret points."},
    {NULL, 700016, 1,
        "Entra ID knows no application with this client_id in the tenant "
        "(AADSTS700016). Check auth.client_id against the app's Application (client) ID and "
        "auth.tenant against the tenant the app is registered (or consented) in."},
    {NULL, 90002, 1,
        "Entra ID found no such tenant (AADSTS90002). Check auth.tenant: the "
        "tenant's primary domain (contoso.onmicrosoft.com) or its Directory (tenant) ID."},
    {NULL, 65001, 1,
        "The app has no admin consent for the permission it asks (AADSTS65001). In "
        "the Entra admin center, App registrations > the app > API permissions, add Office 365 "
        "Exchange Online > Application permissions > IMAP.AccessAsApp (and POP.AccessAsApp for "
        "POP3), then 'Grant admin consent'."},
    {NULL, 700027, 1,
        "Entra ID refused the client assertion (AADSTS700027): the certificate "
        "that signed it is not one of the app's. Upload auth.client_certificate under App "
        "registrations > the app > Certificates & secrets > Certificates."},
    {"invalid_grant.clock_skew", 0, 1,
        "The token endpoint refused the signed grant as outside "
        "its validity window: this machine's clock is probably wrong. Set the time right (NTP, "
        "e.g. 'timedatectl set-ntp true') and run again."},
    {"invalid_grant.delegation", 0, 1,
        "Google refused to act for this user: domain-wide "
        "delegation is not granted, or the user does not exist. In the Google Admin console, "
        "Security > Access and data control > API controls > Domain-wide delegation, add the "
        "service account's client ID with the scope https://mail.google.com/, and check the "
        "mailbox user is a user of the Workspace domain."},
    {"invalid_grant.refresh", 0, 1,
        "The saved refresh token is no longer valid (expired, "
        "revoked or the password changed). Sign in again with 'cutover auth login PLAN --side "
        "SIDE' (and --mailbox USER when the token was per mailbox)."},
    {"invalid_grant", 0, 1,
        "The token endpoint refused the grant (invalid_grant). For a Google "
        "service account: check this machine's clock and that domain-wide delegation for "
        "https://mail.google.com/ is granted to the service account's client ID; for a saved "
        "sign-in, run 'cutover auth login' again."},
    {"invalid_client", 0, 1,
        "The token endpoint did not accept the client's credentials "
        "(invalid_client). Check auth.client_id and the secret or certificate given."},
    {"invalid_scope", 0, 1,
        "The token endpoint refused the scope (invalid_scope). For Microsoft "
        "365 app-only access the scope is https://outlook.office365.com/.default; for Google "
        "https://mail.google.com/. Check auth.scope."},
    {"unauthorized_client", 0, 1,
        "The app is not allowed to use this grant (unauthorized_client). "
        "Microsoft 365 device sign-in needs 'Allow public client flows' under the app's "
        "Authentication settings; a Google service account needs domain-wide delegation for "
        "https://mail.google.com/ in the Admin console."},
    {"invalid_request", 0, 1,
        "The token endpoint called the request malformed "
        "(invalid_request). Check auth.token_url and the flow's settings."},
    {"access_denied", 0, 1,
        "The sign-in was declined (access_denied). Run 'cutover auth login' "
        "again and approve the request."},
    {"authorization_declined", 0, 1,
        "The sign-in was declined. Run 'cutover auth login' again "
        "and approve the request."},
    {"expired_token", 0, 1,
        "The device code expired before the sign-in was completed. Run "
        "'cutover auth login' again and enter the code within its lifetime."},
    {"unsupported_grant_type", 0, 1,
        "The token endpoint does not support this flow "
        "(unsupported_grant_type). Check auth.flow and auth.token_url."},
    {"temporarily_unavailable", 0, 0,
        "The token endpoint is temporarily unavailable. Run it "
        "again later; it continues where it stopped."},
    {"server_error", 0, 0,
        "The token endpoint had an internal error. Run it again later; it "
        "continues where it stopped."},
    {"slow_down", 0, 0, "The token endpoint asks to slow down. Run it again in a minute."},
    {"authorization_pending", 0, 0, "The sign-in has not been completed yet."},
};

const char *
oauth2_error_advice(const char *error, long aadsts, int *permanent)
{
	int dummy;

	if (permanent == NULL)
		permanent = &dummy;
	for (size_t i = 0; aadsts != 0 && i < UTIL_ARRAY_LEN(oauth2_advice_table); i++)
		if (oauth2_advice_table[i].error == NULL &&
		    oauth2_advice_table[i].aadsts == aadsts) {
			*permanent = oauth2_advice_table[i].permanent;
			return oauth2_advice_table[i].text;
		}
	for (size_t i = 0; error != NULL && i < UTIL_ARRAY_LEN(oauth2_advice_table); i++)
		if (oauth2_advice_table[i].error != NULL &&
		    strcmp(oauth2_advice_table[i].error, error) == 0) {
			*permanent = oauth2_advice_table[i].permanent;
			return oauth2_advice_table[i].text;
		}
	*permanent = 1;
	return "The token endpoint refused the request with an error cutover does not know; "
	       "its code is shown. Check the auth settings of this side against the provider's "
	       "documentation.";
}

/* invalid_grant covers several causes; the description tells which. */
static const char *
oauth2_refine_error(const char *error, const char *desc, enum oauth2_flow flow)
{
	if (error == NULL || strcmp(error, "invalid_grant") != 0)
		return error;
	if (flow == OAUTH2_FLOW_DEVICE_CODE)
		return "invalid_grant.refresh";
	if (desc == NULL)
		return error;
	if (strstr(desc, "iat") != NULL || strstr(desc, "timeframe") != NULL ||
	    strstr(desc, "clock") != NULL || strstr(desc, "exp ") != NULL)
		return "invalid_grant.clock_skew";
	if (strstr(desc, "email or User ID") != NULL || strstr(desc, "delegat") != NULL ||
	    strstr(desc, "sub") != NULL)
		return "invalid_grant.delegation";
	return error;
}

/* Copy printable ASCII of S into OUT (size N), other bytes as '?'. */
static void
oauth2_copy_printable(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; s != NULL && *s != '\0' && i + 1 < n; s++)
		out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (n > 0)
		out[i] = '\0';
}

/* Join the strings of ARR (or a single space-separated string) into OUT. */
static void
oauth2_join(char *out, size_t n, const cJSON *v)
{
	const cJSON *it;
	size_t used = 0;

	out[0] = '\0';
	if (cJSON_IsString(v)) {
		oauth2_copy_printable(out, n, v->valuestring);
		return;
	}
	if (!cJSON_IsArray(v))
		return;
	cJSON_ArrayForEach(it, v)
	{
		size_t len;

		if (!cJSON_IsString(it) || it->valuestring == NULL)
			continue;
		len = strlen(it->valuestring);
		if (used + (used > 0) + len + 1 > n)
			break; /* whole names only */
		if (used > 0)
			out[used++] = ' ';
		oauth2_copy_printable(out + used, n - used, it->valuestring);
		used += len;
	}
}

int
oauth2_claims_parse(const char *token, struct oauth2_claims *out)
{
	cJSON *p;
	const cJSON *v;

	memset(out, 0, sizeof(*out));
	if (token == NULL || (p = jwt_payload(token)) == NULL)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(p, "exp");
	if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e11)
		out->exp = (time_t)v->valuedouble;
	oauth2_join(out->roles, sizeof(out->roles), cJSON_GetObjectItemCaseSensitive(p, "roles"));
	v = cJSON_GetObjectItemCaseSensitive(p, "scp");
	if (v == NULL)
		v = cJSON_GetObjectItemCaseSensitive(p, "scope");
	oauth2_join(out->scp, sizeof(out->scp), v);
	v = cJSON_GetObjectItemCaseSensitive(p, "aud");
	if (cJSON_IsArray(v))
		v = cJSON_GetArrayItem(v, 0);
	if (cJSON_IsString(v))
		oauth2_copy_printable(out->aud, sizeof(out->aud), v->valuestring);
	cJSON_Delete(p);
	return 0;
}

int
oauth2_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t m = strcspn(p, " ");

		if (m == n && strncmp(p, word, n) == 0)
			return 1;
		p += m;
		p += strspn(p, " ");
	}
	return 0;
}

/* application/x-www-form-urlencoded (WHATWG URL 5.2): unreserved as is,
 * space as '+', the rest %XX. */
static void
oauth2_form_escape(char **buf, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (*len + 4 > *cap) {
			*cap = *cap * 2 + 64;
			*buf = xrealloc(*buf, *cap);
		}
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '*') {
			(*buf)[(*len)++] = (char)ch;
		} else if (ch == ' ') {
			(*buf)[(*len)++] = '+';
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[ch >> 4];
			(*buf)[(*len)++] = hex[ch & 15];
		}
	}
}

char *
oauth2_form(const char *const *kv)
{
	size_t len = 0, cap = 256;
	char *buf = xmalloc(cap);

	for (size_t i = 0; kv[i] != NULL; i += 2) {
		if (kv[i + 1] == NULL)
			continue;
		if (len > 0)
			buf[len++] = '&';
		oauth2_form_escape(&buf, &len, &cap, kv[i]);
		if (len + 2 > cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		buf[len++] = '=';
		oauth2_form_escape(&buf, &len, &cap, kv[i + 1]);
	}
	if (len + 1 > cap)
		buf = xrealloc(buf, len + 1);
	buf[len] = '\0';
	return buf;
}

char *
oauth2_token_file(const char *state_dir, const char *side, const char *user)
{
	char *safe, *path;

	if (user == NULL)
		return xasprintf("%s/oauth2-%s.token", state_dir, side);
	safe = xstrdup(user);
	for (char *p = safe; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '@' || *p == '.' || *p == '-' ||
		        *p == '_' || *p == '+'))
			*p = '_';
	path = xasprintf("%s/oauth2-%s-%s.token", state_dir, side, safe);
	free(safe);
	return path;
}

int
oauth2_token_file_write(const char *path, const char *refresh_token, char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid()), *dir, *slash;
	size_t len = strlen(refresh_token), off = 0;
	int fd, rc = -1;

	*err = NULL;
	/* 0600 from the start: the token is never readable by others, not even
	 * for a moment (util_write_file keeps the umask's mode). */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*err =
		    xasprintf("cannot write the refresh token file %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, refresh_token + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		*err =
		    xasprintf("cannot write the refresh token file %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		*err =
		    xasprintf("cannot write the refresh token file %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	slash = strrchr(path, '/');
	dir = slash == NULL ? xstrdup(".")
	                    : xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
	rc = 0;
out:
	free(tmp);
	return rc;
}

/*
 * Read PATH (at most OAUTH2_MAX_FILE bytes) into a new NUL-terminated
 * buffer; WHAT names it in *ERR. The content may be a secret: the caller
 * frees it with util_free_secret.
 */
static char *
oauth2_read_file(const char *path, const char *what, size_t *len, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t n = 0;

	if (fd < 0) {
		*err = xasprintf("cannot read %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(OAUTH2_MAX_FILE + 1);
	for (;;) {
		ssize_t r = read(fd, buf + n, OAUTH2_MAX_FILE + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = xasprintf("cannot read %s %s: %s", what, path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > OAUTH2_MAX_FILE) {
			*err = xasprintf(
			    "%s %s is larger than %d KB", what, path, OAUTH2_MAX_FILE / 1024);
			break;
		}
	}
	close(fd);
	if (*err != NULL) {
		OPENSSL_cleanse(buf, n < OAUTH2_MAX_FILE ? n : OAUTH2_MAX_FILE);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/*
 * The content behind a config value. The plan resolves these references to
 * the file's whole content (PEM, JSON); a "file:PATH" still unresolved, or a
 * bare path (one short line without the MARKER), is read here. Content is
 * recognised by MARKER anywhere in it ("-----BEGIN", "{"), or by a line
 * break: PEM exported by other tools starts with "Bag Attributes". A value
 * that is neither content nor a readable file is never quoted (it may be a
 * key). Returns a new buffer (util_free_secret) or NULL with *ERR.
 */
static char *
oauth2_material(const char *v, const char *marker, const char *what, size_t *len, char **err)
{
	char *out;

	*err = NULL;
	if (v == NULL) {
		*err = xasprintf("%s is not set", what);
		return NULL;
	}
	if (strncmp(v, "file:", 5) == 0)
		return oauth2_read_file(v + 5, what, len, err);
	if (strstr(v, marker) != NULL || strchr(v, '\n') != NULL || strlen(v) > PATH_MAX) {
		*len = strlen(v);
		return xstrdup(v);
	}
	out = oauth2_read_file(v, what, len, err);
	if (out == NULL) {
		free(*err);
		*err = xasprintf("%s is neither %s content nor a file that can be read", what,
		    *marker == '{' ? "JSON" : "PEM");
	}
	return out;
}

/* ---- the cache ----------------------------------------------------------------- */

struct oauth2_entry {
	struct oauth2_cache *c;
	struct oauth2_entry *next;
	char *token_url, *client, *scope, *subject; /* the key; subject may be NULL */
	const struct oauth2_config *cfg; /* of the latest get (the plan outlives the cache) */
	char *refresh_path;              /* device_code: the refresh token file */
	char *refresh_token;             /* secret: device_code, as last saved */
	char *token;                     /* secret, NULL when none */
	time_t expires_at;
	int64_t lifetime_s;
	/* a permanent failure, kept for the run */
	char *fail_code, *fail_text;
	struct http_request *req;    /* in flight, or NULL */
	struct oauth2_wait *pending; /* waits for REQ, singly linked */
};

struct oauth2_wait {
	struct oauth2_cache *c;
	struct oauth2_entry *e; /* while waiting for a fetch */
	struct oauth2_wait *next_pending;
	struct oauth2_wait *prev, *next; /* every wait of the cache */
	struct event *ev;
	oauth2_cb cb;
	void *arg;
	/* the answer, own copies */
	char *token; /* secret */
	time_t expires_at;
	int64_t lifetime_s;
	char *code, *error;
	int permanent;
};

struct oauth2_cache {
	struct event_base *base;
	struct http_client *http;
	char *ca_file, *state_dir, *side;
	int insecure, timeout_ms;
	struct oauth2_entry *entries;
	struct oauth2_wait *waits;
};

struct oauth2_cache *
oauth2_cache_new(
    struct event_base *base, struct http_client *http, const struct oauth2_cache_opts *o)
{
	struct oauth2_cache *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->http = http;
	c->ca_file = xstrdup(o != NULL ? o->ca_file : NULL);
	c->state_dir = xstrdup(o != NULL ? o->state_dir : NULL);
	c->side = xstrdup(o != NULL && o->side != NULL ? o->side : "destination");
	c->insecure = o != NULL && o->insecure;
	c->timeout_ms = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : 15000;
	return c;
}

static void
oauth2_wait_free(struct oauth2_wait *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->c->waits = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	if (w->ev != NULL)
		event_free(w->ev);
	util_free_secret(w->token);
	free(w->code);
	free(w->error);
	free(w);
}

static void
oauth2_entry_free(struct oauth2_entry *e)
{
	http_request_cancel(e->req);
	free(e->token_url);
	free(e->client);
	free(e->scope);
	free(e->subject);
	free(e->refresh_path);
	util_free_secret(e->refresh_token);
	util_free_secret(e->token);
	free(e->fail_code);
	free(e->fail_text);
	free(e);
}

void
oauth2_cache_free(struct oauth2_cache *c)
{
	if (c == NULL)
		return;
	while (c->waits != NULL)
		oauth2_wait_free(c->waits);
	while (c->entries != NULL) {
		struct oauth2_entry *e = c->entries;

		c->entries = e->next;
		oauth2_entry_free(e);
	}
	free(c->ca_file);
	free(c->state_dir);
	free(c->side);
	free(c);
}

static void
oauth2_wait_fire(evutil_socket_t fd, short what, void *arg)
{
	struct oauth2_wait *w = arg;
	struct oauth2_token tok;

	(void)fd;
	(void)what;
	memset(&tok, 0, sizeof(tok));
	tok.access_token = w->token;
	tok.expires_at = w->expires_at;
	tok.lifetime_s = w->lifetime_s;
	tok.error_code = w->code;
	tok.error = w->error;
	tok.permanent = w->permanent;
	w->cb(w->arg, &tok);
	oauth2_wait_free(w);
}

/* Give W its answer and schedule its callback. */
static void
oauth2_wait_answer(struct oauth2_wait *w, const char *token, time_t expires_at, int64_t lifetime_s,
    const char *code, const char *error, int permanent)
{
	w->e = NULL;
	w->token = xstrdup(token);
	w->expires_at = expires_at;
	w->lifetime_s = lifetime_s;
	w->code = xstrdup(code);
	w->error = xstrdup(error);
	w->permanent = permanent;
	event_active(w->ev, EV_TIMEOUT, 1);
}

/* Answer every wait of E with its token or with (CODE, ERROR). */
static void
oauth2_entry_settle(struct oauth2_entry *e, const char *code, const char *error, int permanent)
{
	struct oauth2_wait *w;
	time_t now = time(NULL);

	/* A renewal that failed for a passing reason: the old token still
	 * serves while it has a minute left. */
	if (code != NULL && !permanent && e->token != NULL && now + 60 < e->expires_at)
		code = NULL;
	if (code != NULL && permanent) {
		free(e->fail_code);
		free(e->fail_text);
		e->fail_code = xstrdup(code);
		e->fail_text = xstrdup(error);
	}
	while ((w = e->pending) != NULL) {
		e->pending = w->next_pending;
		if (code != NULL)
			oauth2_wait_answer(w, NULL, 0, -1, code, error, permanent);
		else
			oauth2_wait_answer(
			    w, e->token, e->expires_at, e->lifetime_s, NULL, NULL, 0);
	}
}

static void oauth2_fail(struct oauth2_entry *e, const char *code, int permanent, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
oauth2_fail(struct oauth2_entry *e, const char *code, int permanent, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	oauth2_entry_settle(e, code, msg, permanent);
	free(msg);
}

/* Save a rotated refresh token; a failure leaves the old file (still
 * usable until the provider expires it) and keeps the new one in memory. */
static void
oauth2_entry_rotate(struct oauth2_entry *e, const char *refresh_token)
{
	char *err = NULL;

	if (e->refresh_token != NULL && strcmp(e->refresh_token, refresh_token) == 0)
		return;
	util_free_secret(e->refresh_token);
	e->refresh_token = xstrdup(refresh_token);
	if (e->refresh_path != NULL &&
	    oauth2_token_file_write(e->refresh_path, refresh_token, &err) != 0)
		free(err);
}

static void
oauth2_answer(void *arg, const struct http_response *resp)
{
	struct oauth2_entry *e = arg;
	struct oauth2_response r;
	enum oauth2_flow flow = e->cfg != NULL ? e->cfg->flow : OAUTH2_FLOW_NONE;
	time_t now = time(NULL);

	e->req = NULL;
	if (resp->curl_code != 0) {
		oauth2_fail(e, "transfer", 0, "cannot reach the token endpoint %s: %s",
		    e->token_url, resp->error != NULL ? resp->error : "transfer failed");
		return;
	}
	if (oauth2_response_parse(resp->body, resp->body_len, &r) != 0) {
		int transient = resp->status >= 500 || resp->status == 429;

		oauth2_fail(e, "http", !transient,
		    "the token endpoint %s answered HTTP %ld without "
		    "an OAuth2 answer (JSON expected): check auth.token_url",
		    e->token_url, resp->status);
		return;
	}
	if (r.error != NULL || r.access_token == NULL) {
		const char *code = oauth2_refine_error(r.error, r.error_description, flow);
		int permanent;
		const char *advice;
		char shown[64];

		if (code == NULL) {
			int transient = resp->status >= 500 || resp->status == 429;

			oauth2_fail(e, "http", !transient,
			    "the token endpoint %s answered HTTP %ld "
			    "without a token",
			    e->token_url, resp->status);
			oauth2_response_clear(&r);
			return;
		}
		advice = oauth2_error_advice(code, r.aadsts, &permanent);
		if (r.aadsts != 0)
			snprintf(shown, sizeof(shown), "AADSTS%ld", r.aadsts);
		else
			oauth2_copy_printable(shown, sizeof(shown), r.error);
		oauth2_fail(
		    e, shown, permanent, "the token endpoint %s refused: %s", e->token_url, advice);
		oauth2_response_clear(&r);
		return;
	}
	util_free_secret(e->token);
	e->token = r.access_token;
	r.access_token = NULL;
	e->lifetime_s = r.expires_in;
	if (r.expires_in >= 0) {
		e->expires_at = now + (time_t)r.expires_in;
	} else {
		struct oauth2_claims cl;

		e->expires_at = oauth2_claims_parse(e->token, &cl) == 0 ? cl.exp : 0;
		if (e->expires_at != 0)
			e->lifetime_s = e->expires_at > now ? (int64_t)(e->expires_at - now) : 0;
		else /* no word on its lifetime: assume an hour, renew ahead of that */
			e->expires_at = now + 3600, e->lifetime_s = 3600;
	}
	if (r.refresh_token != NULL && flow == OAUTH2_FLOW_DEVICE_CODE)
		oauth2_entry_rotate(e, r.refresh_token);
	oauth2_response_clear(&r);
	oauth2_entry_settle(e, NULL, NULL, 0);
}

/* "<jti>" : 16 random bytes, base64url. */
static char *
oauth2_jti(void)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();
	return jwt_b64url(b, sizeof(b));
}

char *
oauth2_client_assertion(const char *client_id, const char *token_url, const char *cert_pem,
    size_t cert_len, const char *key_pem, size_t key_len, time_t now, char **err)
{
	EVP_PKEY *key;
	cJSON *h, *cl;
	char *x5t, *jti, *out;

	*err = NULL;
	x5t = jwt_x5t_s256(cert_pem, cert_len, err);
	if (x5t == NULL)
		return NULL;
	key = jwt_key_from_pem(key_pem, key_len, err);
	if (key == NULL) {
		free(x5t);
		return NULL;
	}
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "typ", "JWT");
	cJSON_AddStringToObject(h, "x5t#S256", x5t);
	cl = cJSON_CreateObject();
	jti = oauth2_jti();
	cJSON_AddStringToObject(cl, "aud", token_url);
	cJSON_AddStringToObject(cl, "iss", client_id);
	cJSON_AddStringToObject(cl, "sub", client_id);
	cJSON_AddStringToObject(cl, "jti", jti);
	cJSON_AddNumberToObject(cl, "nbf", (double)now);
	cJSON_AddNumberToObject(cl, "iat", (double)now);
	cJSON_AddNumberToObject(cl, "exp", (double)(now + OAUTH2_ASSERTION_LIFETIME));
	out = jwt_sign_rs256(h, cl, key, err);
	cJSON_Delete(h);
	cJSON_Delete(cl);
	EVP_PKEY_free(key);
	free(x5t);
	free(jti);
	return out;
}

char *
oauth2_google_assertion(const char *client_email, const char *subject, const char *scope,
    const char *aud, const char *kid, const char *key_pem, size_t key_len, time_t now, char **err)
{
	EVP_PKEY *key = jwt_key_from_pem(key_pem, key_len, err);
	cJSON *h, *cl;
	char *out;

	if (key == NULL)
		return NULL;
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "typ", "JWT");
	if (kid != NULL) /* Google names the key by the key file's private_key_id */
		cJSON_AddStringToObject(h, "kid", kid);
	cl = cJSON_CreateObject();
	cJSON_AddStringToObject(cl, "iss", client_email);
	if (subject != NULL)
		cJSON_AddStringToObject(cl, "sub", subject);
	cJSON_AddStringToObject(cl, "scope", scope);
	cJSON_AddStringToObject(cl, "aud", aud);
	cJSON_AddNumberToObject(cl, "iat", (double)now);
	cJSON_AddNumberToObject(cl, "exp", (double)(now + OAUTH2_GRANT_LIFETIME));
	out = jwt_sign_rs256(h, cl, key, err);
	cJSON_Delete(h);
	cJSON_Delete(cl);
	EVP_PKEY_free(key);
	return out;
}

/* A service account's key file, the parts we use. */
struct oauth2_sa_key {
	char *private_key; /* secret */
	char *client_email;
	char *token_uri;
	char *private_key_id;
};

static void
oauth2_sa_key_clear(struct oauth2_sa_key *k)
{
	util_free_secret(k->private_key);
	free(k->client_email);
	free(k->token_uri);
	free(k->private_key_id);
	memset(k, 0, sizeof(*k));
}

/* Read and parse the key file of CFG. 0, or -1 with *ERR (names the field
 * or the file, never a value). */
static int
oauth2_sa_key_load(const struct oauth2_config *cfg, struct oauth2_sa_key *k, char **err)
{
	size_t len = 0;
	char *text = oauth2_material(
	    cfg->key_file, "{", "the service account key file (auth.key_file)", &len, err);
	cJSON *j;

	memset(k, 0, sizeof(*k));
	if (text == NULL)
		return -1;
	j = cJSON_ParseWithLength(text, len);
	OPENSSL_cleanse(text, len);
	free(text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*err = xstrdup(
		    "auth.key_file is not a service account JSON key file (download one in "
		    "the Google Cloud console: IAM > Service accounts > the account > Keys)");
		return -1;
	}
	k->private_key = oauth2_json_str(j, "private_key");
	k->client_email = oauth2_json_str(j, "client_email");
	k->token_uri = oauth2_json_str(j, "token_uri");
	k->private_key_id = oauth2_json_str(j, "private_key_id");
	for (cJSON *it = j->child; it != NULL; it = it->next)
		if (cJSON_IsString(it) && it->valuestring != NULL)
			OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
	cJSON_Delete(j);
	if (k->private_key == NULL || k->client_email == NULL) {
		*err = xasprintf("auth.key_file has no %s: is it a service account key file?",
		    k->private_key == NULL ? "private_key" : "client_email");
		oauth2_sa_key_clear(k);
		return -1;
	}
	return 0;
}

/* An Entra ID v2.0 token endpoint (any cloud, the lab): .../oauth2/v2.0/token. */
static int
oauth2_is_entra(const char *url)
{
	static const char tail[] = "/oauth2/v2.0/token";
	size_t n = url != NULL ? strlen(url) : 0;

	return n > sizeof(tail) - 1 && strcmp(url + n - (sizeof(tail) - 1), tail) == 0;
}

char *
oauth2_device_scope(const struct oauth2_config *cfg)
{
	const char *scope = cfg->scope != NULL ? cfg->scope : "";

	/* Entra ID issues a refresh token only with offline_access */
	if (oauth2_is_entra(cfg->token_url) && !oauth2_has_word(scope, "offline_access"))
		return xasprintf("%s%soffline_access", scope, *scope != '\0' ? " " : "");
	return xstrdup(scope);
}

/* 1 when URLs A and B name the same scheme://host[:port]. */
static int
oauth2_same_origin(const char *a, const char *b)
{
	const char *ea = strstr(a, "://"), *eb = strstr(b, "://");

	if (ea == NULL || eb == NULL)
		return 0;
	ea += 3 + strcspn(ea + 3, "/?#");
	eb += 3 + strcspn(eb + 3, "/?#");
	return ea - a == eb - b && strncasecmp(a, b, (size_t)(ea - a)) == 0;
}

char *
oauth2_device_url(const struct oauth2_config *cfg)
{
	const char *t = cfg->token_url;
	char *derived = NULL;
	size_t n = t != NULL ? strlen(t) : 0;

	/* .../oauth2/v2.0/token -> .../oauth2/v2.0/devicecode */
	if (oauth2_is_entra(t))
		derived = xasprintf("%.*s/devicecode", (int)(n - 6), t);
	else if (t != NULL && strncmp(t, "https://oauth2.googleapis.com/", 30) == 0)
		derived = xstrdup("https://oauth2.googleapis.com/device/code");
	if (cfg->device_url == NULL)
		return derived;
	/*
	 * A token_url the plan names (a sovereign cloud, the lab) with a
	 * device_url elsewhere, i.e. the profile's public one: the device
	 * request goes where the token requests go.
	 */
	if (derived != NULL && cfg->token_url_from != NULL &&
	    strcmp(cfg->token_url_from, "plan") == 0 && !oauth2_same_origin(cfg->device_url, t))
		return derived;
	free(derived);
	return xstrdup(cfg->device_url);
}

/* Build the POST body for E's flow, or NULL with *ERR. The body holds
 * secrets: the caller frees it with util_free_secret. */
static char *
oauth2_request_body(struct oauth2_entry *e, char **err)
{
	const struct oauth2_config *cfg = e->cfg;
	time_t now = time(NULL);
	char *body = NULL;

	*err = NULL;
	switch (cfg->flow) {
	case OAUTH2_FLOW_CLIENT_CREDENTIALS:
		if (cfg->client_secret != NULL) {
			const char *kv[] = {"grant_type", "client_credentials", "client_id",
			    cfg->client_id, "scope", cfg->scope, "client_secret",
			    cfg->client_secret, NULL};

			body = oauth2_form(kv);
		} else if (cfg->client_certificate != NULL && cfg->client_key != NULL) {
			size_t clen = 0, klen = 0;
			char *cert = oauth2_material(cfg->client_certificate, "-----BEGIN",
			    "the client certificate (auth.client_certificate)", &clen, err);
			char *key = cert == NULL
			    ? NULL
			    : oauth2_material(cfg->client_key, "-----BEGIN",
			          "the client key (auth.client_key)", &klen, err);
			char *assertion = key == NULL
			    ? NULL
			    : oauth2_client_assertion(
			          cfg->client_id, e->token_url, cert, clen, key, klen, now, err);

			if (assertion != NULL) {
				const char *kv[] = {"grant_type", "client_credentials", "client_id",
				    cfg->client_id, "scope", cfg->scope, "client_assertion_type",
				    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
				    "client_assertion", assertion, NULL};

				body = oauth2_form(kv);
			} else if (*err != NULL && key != NULL) {
				char *e2 = xasprintf(
				    "auth.client_key / auth.client_certificate: %s", *err);

				free(*err);
				*err = e2;
			}
			free(cert);
			util_free_secret(key);
			util_free_secret(assertion);
		} else {
			*err = xstrdup("auth: client_credentials needs client_secret, or "
			               "client_certificate and client_key");
		}
		break;
	case OAUTH2_FLOW_SERVICE_ACCOUNT: {
		struct oauth2_sa_key k;
		char *assertion;

		if (oauth2_sa_key_load(cfg, &k, err) != 0)
			break;
		assertion = oauth2_google_assertion(k.client_email, e->subject, e->scope,
		    e->token_url, k.private_key_id, k.private_key, strlen(k.private_key), now, err);
		if (assertion != NULL) {
			const char *kv[] = {"grant_type",
			    "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", assertion,
			    NULL};

			body = oauth2_form(kv);
		} else {
			char *e2 = xasprintf("auth.key_file: private_key: %s", *err);

			free(*err);
			*err = e2;
		}
		util_free_secret(assertion);
		oauth2_sa_key_clear(&k);
		break;
	}
	case OAUTH2_FLOW_DEVICE_CODE: {
		if (e->refresh_token == NULL) {
			size_t len = 0;
			char *t = e->refresh_path == NULL
			    ? NULL
			    : oauth2_read_file(
			          e->refresh_path, "the refresh token file", &len, err);

			if (t == NULL) {
				free(*err);
				*err = xasprintf(
				    "no saved sign-in for the %s%s%s: run 'cutover auth login "
				    "PLAN --side %s%s%s' first",
				    e->c->side, e->subject ? " mailbox " : "",
				    e->subject ? e->subject : "", e->c->side,
				    e->subject ? " --mailbox " : "", e->subject ? e->subject : "");
				break;
			}
			len = strcspn(t, "\r\n");
			e->refresh_token = xstrndup(t, len);
			util_free_secret(t);
		}
		{
			/* offline_access again: Entra ID then rotates the refresh token */
			char *scope = oauth2_device_scope(cfg);
			const char *kv[] = {"grant_type", "refresh_token", "client_id",
			    cfg->client_id, "scope", *scope != '\0' ? scope : NULL, "refresh_token",
			    e->refresh_token, "client_secret", cfg->client_secret, NULL};

			body = oauth2_form(kv);
			free(scope);
		}
		break;
	}
	case OAUTH2_FLOW_ACCESS_TOKEN:
	case OAUTH2_FLOW_NONE: *err = xstrdup("auth: this flow fetches no token"); break;
	}
	return body;
}

static void
oauth2_fetch(struct oauth2_entry *e)
{
	struct http_request_opts ro;
	char *err = NULL, *body = oauth2_request_body(e, &err);

	if (body == NULL) {
		oauth2_entry_settle(e, "config", err, 1);
		free(err);
		return;
	}
	memset(&ro, 0, sizeof(ro));
	ro.url = e->token_url;
	ro.method = "POST";
	ro.body = body;
	ro.content_type = "application/x-www-form-urlencoded";
	ro.max_body = OAUTH2_MAX_BODY;
	ro.timeout_ms = e->c->timeout_ms;
	ro.ca_file = e->c->ca_file;
	ro.insecure = e->c->insecure;
	ro.fresh = 0;
	e->req = http_request(e->c->http, &ro, oauth2_answer, e);
	util_free_secret(body);
}

static int
oauth2_streq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The access_token flow: no request, the token and what its JWT says. */
static void
oauth2_given_token(struct oauth2_wait *w, const struct oauth2_config *cfg)
{
	struct oauth2_claims cl;
	time_t now = time(NULL);
	char when[32];

	if (cfg->access_token == NULL || *cfg->access_token == '\0') {
		oauth2_wait_answer(w, NULL, 0, -1, "config", "auth.access_token is empty", 1);
		return;
	}
	if (oauth2_claims_parse(cfg->access_token, &cl) != 0 || cl.exp == 0) {
		oauth2_wait_answer(w, cfg->access_token, 0, -1, NULL, NULL, 0);
		return;
	}
	if (cl.exp <= now) {
		char *msg;

		util_iso8601(cl.exp, when, sizeof(when));
		msg =
		    xasprintf("the access token of auth.access_token expired at %s (%lld min ago): "
		              "get a new one and run again",
		        when, (long long)(now - cl.exp) / 60);
		oauth2_wait_answer(w, NULL, cl.exp, 0, "expired", msg, 1);
		free(msg);
		return;
	}
	oauth2_wait_answer(w, cfg->access_token, cl.exp, (int64_t)(cl.exp - now), NULL, NULL, 0);
}

/* Resolve the key of a get: token URL, client and subject as used. Returns
 * 0, or -1 with *ERR (a config problem). */
static int
oauth2_key(struct oauth2_cache *c, const struct oauth2_config *cfg, const char *subject, char **url,
    char **client, char **subj, char **refresh_path, char **err)
{
	*url = *client = *subj = *refresh_path = NULL;
	*err = NULL;
	switch (cfg->flow) {
	case OAUTH2_FLOW_CLIENT_CREDENTIALS: *client = xstrdup(cfg->client_id); break;
	case OAUTH2_FLOW_SERVICE_ACCOUNT: {
		struct oauth2_sa_key k;

		if (oauth2_sa_key_load(cfg, &k, err) != 0)
			return -1;
		*client = xstrdup(k.client_email);
		/* the key file's token_uri unless the plan names one */
		if (k.token_uri != NULL &&
		    (cfg->token_url == NULL ||
		        (cfg->token_url_from != NULL && strcmp(cfg->token_url_from, "plan") != 0)))
			*url = xstrdup(k.token_uri);
		*subj = xstrdup(subject);
		oauth2_sa_key_clear(&k);
		break;
	}
	case OAUTH2_FLOW_DEVICE_CODE: {
		struct stat st;

		*client = xstrdup(cfg->client_id);
		if (c->state_dir == NULL) {
			*err = xstrdup("auth: device_code needs the plan's state_dir");
			return -1;
		}
		/* a per-mailbox sign-in when there is one, else the side's */
		if (subject != NULL) {
			*refresh_path = oauth2_token_file(c->state_dir, c->side, subject);
			if (stat(*refresh_path, &st) == 0)
				*subj = xstrdup(subject);
			else {
				free(*refresh_path);
				*refresh_path = NULL;
			}
		}
		if (*refresh_path == NULL)
			*refresh_path = oauth2_token_file(c->state_dir, c->side, NULL);
		break;
	}
	default: *err = xstrdup("auth: unknown flow"); return -1;
	}
	if (*url == NULL)
		*url = xstrdup(cfg->token_url);
	if (*url == NULL || *client == NULL) {
		*err = xstrdup(
		    *url == NULL ? "auth.token_url is not set" : "auth.client_id is not set");
		free(*url);
		free(*client);
		free(*subj);
		free(*refresh_path);
		*url = *client = *subj = *refresh_path = NULL;
		return -1;
	}
	return 0;
}

struct oauth2_wait *
oauth2_get(struct oauth2_cache *c, const struct oauth2_config *cfg, const char *subject,
    oauth2_cb cb, void *arg)
{
	struct oauth2_wait *w = xcalloc(1, sizeof(*w));
	struct oauth2_entry *e;
	char *url, *client, *subj, *refresh_path, *err;
	time_t now = time(NULL);

	w->c = c;
	w->cb = cb;
	w->arg = arg;
	w->lifetime_s = -1;
	w->ev = event_new(c->base, -1, 0, oauth2_wait_fire, w);
	if (w->ev == NULL)
		abort();
	w->next = c->waits;
	if (c->waits != NULL)
		c->waits->prev = w;
	c->waits = w;
	if (cfg->flow == OAUTH2_FLOW_ACCESS_TOKEN) {
		oauth2_given_token(w, cfg);
		return w;
	}
	if (oauth2_key(c, cfg, subject, &url, &client, &subj, &refresh_path, &err) != 0) {
		oauth2_wait_answer(w, NULL, 0, -1, "config", err, 1);
		free(err);
		return w;
	}
	for (e = c->entries; e != NULL; e = e->next)
		if (strcmp(e->token_url, url) == 0 && strcmp(e->client, client) == 0 &&
		    oauth2_streq(e->scope, cfg->scope) && oauth2_streq(e->subject, subj))
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->c = c;
		e->token_url = url;
		e->client = client;
		e->scope = xstrdup(cfg->scope);
		e->subject = subj;
		e->refresh_path = refresh_path;
		e->lifetime_s = -1;
		e->next = c->entries;
		c->entries = e;
	} else {
		free(url);
		free(client);
		free(subj);
		free(refresh_path);
	}
	e->cfg = cfg;
	if (e->fail_code != NULL) {
		oauth2_wait_answer(w, NULL, 0, -1, e->fail_code, e->fail_text, 1);
		return w;
	}
	if (e->token != NULL && e->req == NULL &&
	    now < oauth2_renew_at(e->expires_at, e->lifetime_s)) {
		oauth2_wait_answer(w, e->token, e->expires_at, e->lifetime_s, NULL, NULL, 0);
		return w;
	}
	w->e = e;
	w->next_pending = e->pending;
	e->pending = w;
	if (e->req == NULL)
		oauth2_fetch(e);
	return w;
}

void
oauth2_cancel(struct oauth2_wait *w)
{
	if (w == NULL)
		return;
	if (w->e != NULL) {
		struct oauth2_wait **pp = &w->e->pending;

		while (*pp != NULL && *pp != w)
			pp = &(*pp)->next_pending;
		if (*pp == w)
			*pp = w->next_pending;
	}
	oauth2_wait_free(w);
}

void
oauth2_invalidate(struct oauth2_cache *c, const struct oauth2_config *cfg, const char *subject)
{
	for (struct oauth2_entry *e = c->entries; e != NULL; e = e->next) {
		if (e->cfg != cfg || !oauth2_streq(e->scope, cfg->scope))
			continue;
		/* client_credentials tokens serve every subject */
		if (cfg->flow != OAUTH2_FLOW_CLIENT_CREDENTIALS && e->subject != NULL &&
		    !oauth2_streq(e->subject, subject))
			continue;
		util_free_secret(e->token);
		e->token = NULL;
		e->expires_at = 0;
		free(e->fail_code);
		free(e->fail_text);
		e->fail_code = e->fail_text = NULL;
	}
}

/* ---- one cache per side and run ------------------------------------------------ */

static const char oauth2_key_source = 's', oauth2_key_destination = 'd';

static void
oauth2_cache_free_void(void *p)
{
	oauth2_cache_free(p);
}

struct oauth2_cache *
oauth2_runner_cache(struct runner *r, const char *side, const char *state_dir)
{
	const void *key =
	    strcmp(side, "source") == 0 ? &oauth2_key_source : &oauth2_key_destination;
	struct oauth2_cache *c = runner_shared(r, key);
	const struct runner_opts *ro = runner_opts(r);
	struct oauth2_cache_opts o;

	if (c != NULL)
		return c;
	memset(&o, 0, sizeof(o));
	o.ca_file = ro->ca_file;
	o.insecure = ro->insecure;
	o.timeout_ms = ro->timeout_ms;
	o.state_dir = state_dir;
	o.side = side;
	c = oauth2_cache_new(runner_base(r), runner_http(r), &o);
	runner_set_shared(r, key, c, oauth2_cache_free_void);
	return c;
}
