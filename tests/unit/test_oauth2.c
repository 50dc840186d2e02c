/*
 * test_oauth2.c - the OAuth2 token core (src/oauth2.h, src/jwt.h): the token
 * answer parser (success, Entra ID error bodies, garbage), the advice table,
 * JWTs built and signed with RS256 and verified here with OpenSSL (a key and
 * a certificate made in the test), x5t#S256, the claims reader, the renewal
 * arithmetic, and the cache on a real loop against libevent's HTTP server on
 * 127.0.0.1 (one request for many waiters, renewal, invalidate, a permanent
 * error asked once, a device_code refresh token rotated into its 0600 file),
 * and the auth.token check run on the runner against that server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/check.h"
#include "src/http.h"
#include "src/jwt.h"
#include "src/oauth2.h"
#include "src/plan.h"
#include "src/report.h"
#include "src/runner.h"
#include "src/util.h"
#include "loopback_http.h"

static int
parse(const char *body, struct oauth2_response *r)
{
	return oauth2_response_parse(body, strlen(body), r);
}

static void
test_response_success(void **state)
{
	struct oauth2_response r;

	(void)state;
	assert_int_equal(parse("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":"
	                       "3599,\"access_token\":\"eyJ0.eyJ1.sig\"}",
	                     &r),
	    0);
	assert_string_equal(r.access_token, "eyJ0.eyJ1.sig");
	assert_int_equal(r.expires_in, 3599);
	assert_null(r.error);
	assert_null(r.refresh_token);
	assert_int_equal(r.aadsts, 0);
	oauth2_response_clear(&r);
	/* Entra's v1 endpoint sends the lifetime as a string; a rotated refresh token */
	assert_int_equal(parse("{\"access_token\":\"a\",\"expires_in\":\"3600\","
	                       "\"refresh_token\":\"r2\"}",
	                     &r),
	    0);
	assert_int_equal(r.expires_in, 3600);
	assert_string_equal(r.refresh_token, "r2");
	oauth2_response_clear(&r);
	/* RFC 8628 3.2 device authorization answer (its example) */
	assert_int_equal(
	    parse(
	        "{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\","
	        "\"user_code\":\"WDJB-MJHT\",\"verification_uri\":\"https://example.com/device\","
	        "\"verification_uri_complete\":\"https://example.com/device?user_code=WDJB-MJHT\","
	        "\"expires_in\":1800,\"interval\":5}",
	        &r),
	    0);
	assert_string_equal(r.user_code, "WDJB-MJHT");
	assert_string_equal(r.verification_uri, "https://example.com/device");
	assert_int_equal(r.interval, 5);
	assert_int_equal(r.expires_in, 1800);
	assert_non_null(r.device_code);
	oauth2_response_clear(&r);
	/* Google's older name */
	assert_int_equal(parse("{\"verification_url\":\"https://www.google.com/device\"}", &r), 0);
	assert_string_equal(r.verification_uri, "https://www.google.com/device");
	oauth2_response_clear(&r);
}

static void
test_response_errors(void **state)
{
	struct oauth2_response r;

	(void)state;
	/* Entra ID's shape: error_codes and the AADSTS number in the text */
	assert_int_equal(
	    parse("{\"error\":\"invalid_client\",\"error_description\":"
	          "\"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
	          "in the "
	          "request is the client secret value, not the client secret ID\\r\\nTrace ID: x\","
	          "\"error_codes\":[7000215],\"timestamp\":\"2026-12-06 10:00:00Z\"}",
	        &r),
	    0);
	assert_string_equal(r.error, "invalid_client");
	assert_int_equal(r.aadsts, 7000215);
	assert_null(r.access_token);
	oauth2_response_clear(&r);
	/* only in the text */
	assert_int_equal(parse("{\"error\":\"invalid_request\",\"error_description\":"
	                       "\"AADSTS90002: Tenant 'x' not found.\"}",
	                     &r),
	    0);
	assert_int_equal(r.aadsts, 90002);
	oauth2_response_clear(&r);
	assert_int_equal(
	    parse(
	        "{\"error\":\"invalid_grant\",\"error_description\":"
	        "\"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
	        "timeframe. Check your iat and exp values\"}",
	        &r),
	    0);
	assert_string_equal(r.error, "invalid_grant");
	assert_int_equal(r.aadsts, 0);
	oauth2_response_clear(&r);
}

static void
test_response_garbage(void **state)
{
	struct oauth2_response r;
	char *big;

	(void)state;
	assert_int_equal(parse("", &r), -1);
	assert_int_equal(parse("<html>502 Bad Gateway</html>", &r), -1);
	assert_null(r.access_token);
	assert_int_equal(parse("[\"access_token\"]", &r), -1);
	assert_int_equal(parse("{\"access_token\":", &r), -1);
	/* wrong types are left out, not trusted */
	assert_int_equal(parse("{\"access_token\":42,\"expires_in\":-5,\"error\":[1],"
	                       "\"error_codes\":\"x\",\"interval\":\"soon\"}",
	                     &r),
	    0);
	assert_null(r.access_token);
	assert_int_equal(r.expires_in, -1);
	assert_int_equal(r.interval, -1);
	assert_null(r.error);
	oauth2_response_clear(&r);
	/* an oversized field is dropped; an oversized body refused */
	big = malloc(40000 + 64);
	strcpy(big, "{\"access_token\":\"");
	memset(big + strlen(big), 'a', 40000);
	strcpy(big + 17 + 40000, "\"}");
	assert_int_equal(parse(big, &r), 0);
	assert_null(r.access_token);
	oauth2_response_clear(&r);
	free(big);
	assert_int_equal(oauth2_response_parse("{}", 300 * 1024, &r), -1);
	/* NULs inside */
	assert_int_equal(oauth2_response_parse("{\"error\":\"a\0b\"}", 15, &r), -1);
}

static void
test_advice(void **state)
{
	static const struct {
		const char *error;
		long aadsts;
		const char *says;
		int permanent;
	} cases[] = {
	    {"invalid_client", 7000215, "Certificates & secrets", 1},
	    {"invalid_client", 7000222, "expired", 1},
	    {"unauthorized_client", 700016, "auth.client_id", 1},
	    {"invalid_request", 90002, "auth.tenant", 1},
	    {"invalid_grant", 65001, "Grant admin consent", 1},
	    {"invalid_scope", 0, "https://outlook.office365.com/.default", 1},
	    {"unauthorized_client", 0, "domain-wide delegation", 1},
	    {"invalid_grant.clock_skew", 0, "clock", 1},
	    {"invalid_grant.delegation", 0, "Domain-wide delegation", 1},
	    {"invalid_grant", 0, "clock", 1},
	    {"temporarily_unavailable", 0, "again", 0},
	    {"server_error", 0, "again", 0},
	    {"authorization_declined", 70000, "declined", 1},
	    {"no_such_error", 0, "does not know", 1},
	    {NULL, 0, "does not know", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int perm = -1;
		const char *a = oauth2_error_advice(cases[i].error, cases[i].aadsts, &perm);

		assert_non_null(a);
		if (strstr(a, cases[i].says) == NULL)
			fail_msg("advice for %s/%ld lacks '%s': %s",
			    cases[i].error ? cases[i].error : "(null)", cases[i].aadsts,
			    cases[i].says, a);
		assert_int_equal(perm, cases[i].permanent);
	}
	assert_non_null(oauth2_error_advice("x", 0, NULL));
}

/* A 2048-bit RSA key and a self-signed certificate for it. */
static EVP_PKEY *
make_key(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	assert_non_null(k);
	return k;
}

static char *
key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	/* The BIO's bytes are not NUL-terminated: copy, never strndup (ASan). */
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return out;
}

static char *
cert_pem(EVP_PKEY *k, unsigned char der_sha256[32])
{
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char *p, *out;
	long n;
	int dl;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_ASC, (const unsigned char *)"cutover-test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	dl = i2d_X509(x, &der);
	SHA256(der, (size_t)dl, der_sha256);
	OPENSSL_free(der);
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	/* The BIO's bytes are not NUL-terminated: copy, never strndup (ASan). */
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	X509_free(x);
	return out;
}

/* Verify compact JWS TOKEN with KEY (RS256); returns the header and payload. */
static void
verify_jwt(const char *token, EVP_PKEY *key, cJSON **header, cJSON **payload)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char *sig, *h;
	size_t siglen, hl;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_non_null(d2);
	sig = jwt_b64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)token, (size_t)(d2 - token)),
	    1);
	/* a changed byte no longer verifies */
	sig[0] ^= 1;
	EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key);
	assert_int_not_equal(
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)token, (size_t)(d2 - token)),
	    1);
	EVP_MD_CTX_free(md);
	free(sig);
	h = jwt_b64url_decode(token, (size_t)(d1 - token), &hl);
	assert_non_null(h);
	*header = cJSON_Parse((const char *)h);
	free(h);
	*payload = jwt_payload(token);
	assert_non_null(*header);
	assert_non_null(*payload);
}

static void
test_b64url(void **state)
{
	unsigned char *d;
	size_t n;
	char *s;

	(void)state;
	/* RFC 4648 10 vectors, URL alphabet, no padding */
	s = jwt_b64url((const unsigned char *)"foob", 4);
	assert_string_equal(s, "Zm9vYg");
	free(s);
	s = jwt_b64url((const unsigned char *)"fooba", 5);
	assert_string_equal(s, "Zm9vYmE");
	free(s);
	s = jwt_b64url((const unsigned char *)"\xfb\xff", 2);
	assert_string_equal(s, "-_8");
	free(s);
	d = jwt_b64url_decode("-_8", 3, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(d, "\xfb\xff", 2);
	free(d);
	d = jwt_b64url_decode("Zm9vYmE=", 8, &n);
	assert_int_equal(n, 5);
	free(d);
	assert_null(jwt_b64url_decode("Zm9v!", 5, &n));
	assert_null(jwt_b64url_decode("Z", 1, &n));
}

static void
test_client_assertion(void **state)
{
	EVP_PKEY *k = make_key();
	unsigned char digest[32];
	char *kp = key_pem(k), *cp = cert_pem(k, digest), *err = NULL, *x5t, *want, *jwt;
	cJSON *h, *p;
	time_t now = 1765000000;

	(void)state;
	x5t = jwt_x5t_s256(cp, strlen(cp), &err);
	assert_non_null(x5t);
	want = jwt_b64url(digest, 32);
	assert_string_equal(x5t, want);
	assert_int_equal(strlen(x5t), 43);
	jwt = oauth2_client_assertion("cid-1", "https://idp.test/t/oauth2/v2.0/token", cp,
	    strlen(cp), kp, strlen(kp), now, &err);
	assert_non_null(jwt);
	verify_jwt(jwt, k, &h, &p);
	assert_string_equal(cJSON_GetObjectItem(h, "alg")->valuestring, "RS256");
	assert_string_equal(cJSON_GetObjectItem(h, "x5t#S256")->valuestring, want);
	assert_string_equal(
	    cJSON_GetObjectItem(p, "aud")->valuestring, "https://idp.test/t/oauth2/v2.0/token");
	assert_string_equal(cJSON_GetObjectItem(p, "iss")->valuestring, "cid-1");
	assert_string_equal(cJSON_GetObjectItem(p, "sub")->valuestring, "cid-1");
	assert_true(strlen(cJSON_GetObjectItem(p, "jti")->valuestring) >= 16);
	assert_int_equal((long)cJSON_GetObjectItem(p, "nbf")->valuedouble, (long)now);
	assert_int_equal((long)cJSON_GetObjectItem(p, "exp")->valuedouble, (long)now + 300);
	cJSON_Delete(h);
	cJSON_Delete(p);
	util_free_secret(jwt);
	/* errors name the problem, never the key */
	assert_null(oauth2_client_assertion("c", "u", cp, strlen(cp), "not a key", 9, now, &err));
	assert_non_null(err);
	assert_null(strstr(err, "not a key"));
	free(err);
	err = NULL;
	assert_null(jwt_x5t_s256(kp, strlen(kp), &err));
	assert_non_null(err);
	assert_null(strstr(err, "PRIVATE"));
	free(err);
	free(x5t);
	free(want);
	free(kp);
	free(cp);
	EVP_PKEY_free(k);
}

static void
test_google_assertion(void **state)
{
	EVP_PKEY *k = make_key();
	char *kp = key_pem(k), *err = NULL, *jwt;
	cJSON *h, *p;

	(void)state;
	jwt = oauth2_google_assertion("sa@proj.iam.gserviceaccount.com", "alice@example.com",
	    "https://mail.google.com/", "https://oauth2.googleapis.com/token", "kid-1", kp,
	    strlen(kp), 1765000000, &err);
	assert_non_null(jwt);
	verify_jwt(jwt, k, &h, &p);
	assert_string_equal(cJSON_GetObjectItem(h, "kid")->valuestring, "kid-1");
	assert_string_equal(
	    cJSON_GetObjectItem(p, "iss")->valuestring, "sa@proj.iam.gserviceaccount.com");
	assert_string_equal(cJSON_GetObjectItem(p, "sub")->valuestring, "alice@example.com");
	assert_string_equal(
	    cJSON_GetObjectItem(p, "scope")->valuestring, "https://mail.google.com/");
	assert_string_equal(
	    cJSON_GetObjectItem(p, "aud")->valuestring, "https://oauth2.googleapis.com/token");
	assert_int_equal((long)cJSON_GetObjectItem(p, "exp")->valuedouble, 1765003600L);
	cJSON_Delete(h);
	cJSON_Delete(p);
	util_free_secret(jwt);
	free(kp);
	EVP_PKEY_free(k);
}

/* An unsigned JWT with PAYLOAD, for the claims reader. */
static char *
fake_jwt(const char *payload)
{
	char *h = jwt_b64url((const unsigned char *)"{\"alg\":\"none\"}", 14);
	char *p = jwt_b64url((const unsigned char *)payload, strlen(payload));
	char *out = xasprintf("%s.%s.c2ln", h, p);

	free(h);
	free(p);
	return out;
}

static void
test_claims(void **state)
{
	struct oauth2_claims cl;
	char *t;

	(void)state;
	t = fake_jwt("{\"aud\":\"https://outlook.office365.com\",\"exp\":1765003600,"
	             "\"roles\":[\"IMAP.AccessAsApp\",\"POP.AccessAsApp\"],\"tid\":\"x\"}");
	assert_int_equal(oauth2_claims_parse(t, &cl), 0);
	assert_int_equal((long)cl.exp, 1765003600L);
	assert_string_equal(cl.roles, "IMAP.AccessAsApp POP.AccessAsApp");
	assert_string_equal(cl.aud, "https://outlook.office365.com");
	assert_true(oauth2_has_word(cl.roles, "POP.AccessAsApp"));
	assert_false(oauth2_has_word(cl.roles, "POP.Access"));
	free(t);
	t = fake_jwt("{\"scp\":\"IMAP.AccessAsUser.All offline_access\",\"aud\":[\"a\",\"b\"],"
	             "\"roles\":\"\\u0001x\"}");
	assert_int_equal(oauth2_claims_parse(t, &cl), 0);
	assert_string_equal(cl.scp, "IMAP.AccessAsUser.All offline_access");
	assert_string_equal(cl.aud, "a");
	assert_string_equal(cl.roles, "?x"); /* control bytes never reach a report */
	assert_int_equal((long)cl.exp, 0);
	free(t);
	/* not JWTs: opaque Google tokens, two parts, four parts, bad base64, not an object */
	assert_int_equal(oauth2_claims_parse("ya29.a0AfH6SMB", &cl), -1);
	assert_int_equal(oauth2_claims_parse("a.b.c.d", &cl), -1);
	assert_int_equal(oauth2_claims_parse("a.!!!.c", &cl), -1);
	t = fake_jwt("[1,2]");
	assert_int_equal(oauth2_claims_parse(t, &cl), -1);
	free(t);
	assert_int_equal(oauth2_claims_parse("", &cl), -1);
}

static void
test_renew_at(void **state)
{
	(void)state;
	/* one hour: 5 minutes ahead */
	assert_int_equal((long)oauth2_renew_at(10000, 3600), 10000 - 300);
	/* 30 s: half of it */
	assert_int_equal((long)oauth2_renew_at(10000, 30), 10000 - 15);
	/* unknown lifetime: 5 minutes; no expiry: never */
	assert_int_equal((long)oauth2_renew_at(10000, -1), 10000 - 300);
	assert_int_equal((long)oauth2_renew_at(0, 3600), 0);
	assert_int_equal((long)oauth2_renew_at(10000, 0), 10000);
}

static void
test_form_and_paths(void **state)
{
	const char *kv[] = {"grant_type", "client_credentials", "scope",
	    "https://outlook.office365.com/.default", "skip", NULL, "s", "a+b &=c", NULL};
	char *f = oauth2_form(kv), *p;
	struct oauth2_config cfg;

	(void)state;
	assert_string_equal(f,
	    "grant_type=client_credentials&scope=https%3A%2F%2Foutlook."
	    "office365.com%2F.default&s=a%2Bb+%26%3Dc");
	free(f);
	p = oauth2_token_file("/st", "destination", NULL);
	assert_string_equal(p, "/st/oauth2-destination.token");
	free(p);
	p = oauth2_token_file("/st", "source", "al/ice@x.example");
	assert_string_equal(p, "/st/oauth2-source-al_ice@x.example.token");
	free(p);
	memset(&cfg, 0, sizeof(cfg));
	cfg.token_url =
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
	cfg.scope = "https://outlook.office365.com/.default";
	p = oauth2_device_url(&cfg);
	assert_string_equal(p,
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/"
	    "v2.0/devicecode");
	free(p);
	p = oauth2_device_scope(&cfg);
	assert_string_equal(p, "https://outlook.office365.com/.default offline_access");
	free(p);
	cfg.token_url = "https://oauth2.googleapis.com/token";
	p = oauth2_device_url(&cfg);
	assert_string_equal(p, "https://oauth2.googleapis.com/device/code");
	free(p);
	/* the plan's token_url wins over the profile's public device_url */
	cfg.token_url = "https://127.0.0.1:1/lab.test/oauth2/v2.0/token";
	cfg.token_url_from = "plan";
	cfg.device_url = "https://login.microsoftonline.com/lab.test/oauth2/v2.0/devicecode";
	p = oauth2_device_url(&cfg);
	assert_string_equal(p, "https://127.0.0.1:1/lab.test/oauth2/v2.0/devicecode");
	free(p);
	cfg.device_url = NULL;
	cfg.token_url = "https://127.0.0.1:1/token";
	assert_null(oauth2_device_url(&cfg));
	cfg.device_url = "https://127.0.0.1:1/device";
	p = oauth2_device_url(&cfg);
	assert_string_equal(p, "https://127.0.0.1:1/device");
	free(p);
}

/* ---- the cache against a real HTTP server on the loop ------------------------- */

struct idp {
	struct loopback_http lb; /* the token endpoint, served by idp_serve */
	int requests;
	const char *answer_status; /* "ok", "aadsts", "rotate" */
	int lifetime;
	char last_body[8192];
	char dir[64];
};

static void
idp_serve(struct evhttp_request *req, void *arg)
{
	struct idp *f = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req), *out = evbuffer_new();
	size_t n = evbuffer_get_length(in);

	if (n >= sizeof(f->last_body))
		n = sizeof(f->last_body) - 1;
	evbuffer_remove(in, f->last_body, n);
	f->last_body[n] = '\0';
	f->requests++;
	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (strcmp(f->answer_status, "aadsts") == 0) {
		evbuffer_add_printf(out,
		    "{\"error\":\"invalid_client\",\"error_description\":"
		    "\"AADSTS7000215: Invalid client secret "
		    "provided.\",\"error_codes\":[7000215]}");
		evhttp_send_reply(req, 401, "Unauthorized", out);
	} else if (strcmp(f->answer_status, "busy") == 0) {
		evbuffer_add_printf(out, "{\"error\":\"temporarily_unavailable\"}");
		evhttp_send_reply(req, 503, "Busy", out);
	} else {
		evbuffer_add_printf(out, "{\"access_token\":\"tok-%d\",\"expires_in\":%d%s}",
		    f->requests, f->lifetime,
		    strcmp(f->answer_status, "rotate") == 0 ? ",\"refresh_token\":\"rt-new\"" : "");
		evhttp_send_reply(req, 200, "OK", out);
	}
	evbuffer_free(out);
}

static int
idp_setup(void **state)
{
	struct idp *f = calloc(1, sizeof(*f));

	loopback_http_start(&f->lb, idp_serve, f);
	f->answer_status = "ok";
	f->lifetime = 3600;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_oauth2.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
idp_teardown(void **state)
{
	struct idp *f = *state;
	char cmd[128];

	loopback_http_stop(&f->lb);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

struct got {
	struct event_base *base;
	int *outstanding;
	int called;
	char token[64];
	char code[64];
	char error[512];
	int permanent;
	int64_t lifetime;
};

static void
on_token(void *arg, const struct oauth2_token *tok)
{
	struct got *g = arg;

	g->called++;
	snprintf(g->token, sizeof(g->token), "%s", tok->access_token ? tok->access_token : "");
	snprintf(g->code, sizeof(g->code), "%s", tok->error_code ? tok->error_code : "");
	snprintf(g->error, sizeof(g->error), "%s", tok->error ? tok->error : "");
	g->permanent = tok->permanent;
	g->lifetime = tok->lifetime_s;
	if (--*g->outstanding == 0)
		event_base_loopbreak(g->base);
}

/* Ask N tokens at once and run the loop until all are answered. */
static void
get_n(struct idp *f, struct oauth2_cache *c, const struct oauth2_config *cfg, const char *subject,
    struct got *g, int n)
{
	int outstanding = n;

	for (int i = 0; i < n; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].base = f->lb.base;
		g[i].outstanding = &outstanding;
		assert_non_null(oauth2_get(c, cfg, subject, on_token, &g[i]));
		assert_int_equal(g[i].called, 0); /* never inside oauth2_get */
	}
	event_base_dispatch(f->lb.base);
	for (int i = 0; i < n; i++)
		assert_int_equal(g[i].called, 1);
}

static struct oauth2_cache *
idp_cache(struct idp *f, struct oauth2_config *cfg, char *url, size_t len)
{
	struct oauth2_cache_opts o;

	snprintf(url, len, "http://127.0.0.1:%d/tenant/oauth2/v2.0/token", f->lb.port);
	memset(cfg, 0, sizeof(*cfg));
	cfg->flow = OAUTH2_FLOW_CLIENT_CREDENTIALS;
	cfg->client_id = "cid";
	cfg->client_secret = "s3cret-value";
	cfg->token_url = url;
	cfg->scope = "https://outlook.office365.com/.default";
	memset(&o, 0, sizeof(o));
	o.state_dir = f->dir;
	o.side = "destination";
	o.timeout_ms = 5000;
	return oauth2_cache_new(f->lb.base, f->lb.client, &o);
}

static void
test_cache_one_request(void **state)
{
	struct idp *f = *state;
	struct oauth2_config cfg;
	char url[128];
	struct oauth2_cache *c = idp_cache(f, &cfg, url, sizeof(url));
	struct got g[5];

	get_n(f, c, &cfg, NULL, g, 5);
	assert_int_equal(f->requests, 1);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(g[i].token, "tok-1");
		assert_int_equal(g[i].lifetime, 3600);
	}
	assert_non_null(strstr(f->last_body, "grant_type=client_credentials"));
	assert_non_null(strstr(f->last_body, "client_secret=s3cret-value"));
	assert_non_null(
	    strstr(f->last_body, "scope=https%3A%2F%2Foutlook.office365.com%2F.default"));
	/* cached: another mailbox's get asks nothing */
	get_n(f, c, &cfg, "bob@example.com", g, 1);
	assert_int_equal(f->requests, 1);
	assert_string_equal(g[0].token, "tok-1");
	/* a login refused it: fetched anew, once */
	oauth2_invalidate(c, &cfg, "bob@example.com");
	get_n(f, c, &cfg, NULL, g, 3);
	assert_int_equal(f->requests, 2);
	assert_string_equal(g[2].token, "tok-2");
	oauth2_cache_free(c);
}

static void
test_cache_renews_short_tokens(void **state)
{
	struct idp *f = *state;
	struct oauth2_config cfg;
	char url[128];
	struct oauth2_cache *c = idp_cache(f, &cfg, url, sizeof(url));
	struct got g[1];

	/* a token granted for 0 s is due at once: every get renews it */
	f->lifetime = 0;
	get_n(f, c, &cfg, NULL, g, 1);
	get_n(f, c, &cfg, NULL, g, 1);
	assert_int_equal(f->requests, 2);
	assert_string_equal(g[0].token, "tok-2");
	/* a passing failure is said so (not permanent) and not kept */
	oauth2_invalidate(c, &cfg, NULL);
	f->answer_status = "busy";
	get_n(f, c, &cfg, NULL, g, 1);
	assert_string_equal(g[0].code, "temporarily_unavailable");
	assert_int_equal(g[0].permanent, 0);
	f->answer_status = "ok";
	get_n(f, c, &cfg, NULL, g, 1);
	assert_string_equal(g[0].token, "tok-4");
	oauth2_cache_free(c);
}

static void
test_cache_permanent_error(void **state)
{
	struct idp *f = *state;
	struct oauth2_config cfg;
	char url[128];
	struct oauth2_cache *c = idp_cache(f, &cfg, url, sizeof(url));
	struct got g[4];

	f->answer_status = "aadsts";
	get_n(f, c, &cfg, NULL, g, 4);
	assert_int_equal(f->requests, 1);
	assert_string_equal(g[3].code, "AADSTS7000215");
	assert_int_equal(g[3].permanent, 1);
	assert_non_null(strstr(g[3].error, "Certificates & secrets"));
	assert_null(strstr(g[3].error, "s3cret-value")); /* never the secret */
	/* asked once for the run: no lockout loop */
	get_n(f, c, &cfg, NULL, g, 2);
	assert_int_equal(f->requests, 1);
	/* a cancelled wait is never called back */
	{
		int outstanding = 1;
		struct got x = {.base = f->lb.base, .outstanding = &outstanding};

		oauth2_cancel(oauth2_get(c, &cfg, NULL, on_token, &x));
		event_base_loop(f->lb.base, EVLOOP_NONBLOCK);
		assert_int_equal(x.called, 0);
	}
	/* a get still waiting when the cache is freed is dropped */
	oauth2_invalidate(c, &cfg, NULL);
	f->answer_status = "ok";
	{
		int outstanding = 1;
		struct got x = {.base = f->lb.base, .outstanding = &outstanding};

		assert_non_null(oauth2_get(c, &cfg, NULL, on_token, &x));
		oauth2_cache_free(c);
		event_base_loop(f->lb.base, EVLOOP_NONBLOCK);
		assert_int_equal(x.called, 0);
	}
}

static void
test_cache_device_refresh(void **state)
{
	struct idp *f = *state;
	struct oauth2_config cfg;
	char url[128], *path, *err = NULL, buf[64];
	struct oauth2_cache *c = idp_cache(f, &cfg, url, sizeof(url));
	struct got g[2];
	struct stat st;
	FILE *fp;

	cfg.flow = OAUTH2_FLOW_DEVICE_CODE;
	cfg.client_secret = NULL;
	/* no sign-in yet: says what to run */
	get_n(f, c, &cfg, NULL, g, 1);
	assert_int_equal(f->requests, 0);
	assert_non_null(strstr(g[0].error, "cutover auth login PLAN --side destination"));
	oauth2_invalidate(c, &cfg, NULL);
	path = oauth2_token_file(f->dir, "destination", NULL);
	assert_int_equal(oauth2_token_file_write(path, "rt-old", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f->answer_status = "rotate";
	get_n(f, c, &cfg, "alice@example.com", g, 2);
	assert_int_equal(f->requests, 1);
	assert_string_equal(g[1].token, "tok-1");
	assert_non_null(strstr(f->last_body, "grant_type=refresh_token"));
	assert_non_null(strstr(f->last_body, "refresh_token=rt-old"));
	/* the rotated refresh token replaced the file, still 0600 */
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "rt-new\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	oauth2_cache_free(c);
}

static void
test_access_token_flow(void **state)
{
	struct idp *f = *state;
	struct oauth2_config cfg;
	char url[128], *expired, *valid, payload[128];
	struct oauth2_cache *c = idp_cache(f, &cfg, url, sizeof(url));
	struct got g[1];

	snprintf(payload, sizeof(payload), "{\"exp\":%ld}", (long)time(NULL) - 120);
	expired = fake_jwt(payload);
	snprintf(payload, sizeof(payload), "{\"exp\":%ld}", (long)time(NULL) + 600);
	valid = fake_jwt(payload);
	cfg.flow = OAUTH2_FLOW_ACCESS_TOKEN;
	cfg.access_token = valid;
	get_n(f, c, &cfg, NULL, g, 1);
	assert_string_equal(g[0].token, valid);
	assert_true(g[0].lifetime > 500 && g[0].lifetime <= 600);
	cfg.access_token = expired;
	get_n(f, c, &cfg, NULL, g, 1);
	assert_string_equal(g[0].code, "expired");
	assert_int_equal(g[0].permanent, 1);
	assert_non_null(strstr(g[0].error, "expired at"));
	assert_null(strstr(g[0].error, expired));
	/* an opaque token: handed out, lifetime unknown */
	cfg.access_token = "opaque-token";
	get_n(f, c, &cfg, NULL, g, 1);
	assert_string_equal(g[0].token, "opaque-token");
	assert_int_equal(g[0].lifetime, -1);
	assert_int_equal(f->requests, 0);
	free(expired);
	free(valid);
	oauth2_cache_free(c);
}

/* ---- the auth.token check on a runner ------------------------------------------ */

static const char *check_answer; /* the token endpoint's JSON for the check test */
static int check_status;

static void
check_serve(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evbuffer_new();

	(void)arg;
	evbuffer_add_printf(out, "%s", check_answer);
	evhttp_send_reply(req, check_status, "X", out);
	evbuffer_free(out);
}

/* Run auth.token for a microsoft365 destination; returns its result (in REP). */
static struct result *
run_auth_check(struct report *rep, struct oauth2_config *cfg)
{
	static const char plan_text[] =
	    "{\"domain\": \"example.com\", \"destination\": "
	    "{\"profile\": \"microsoft365\", \"imap\": \"imaps://127.0.0.1:1\"}, "
	    "\"mailboxes\": [{\"source_user\": \"a@example.com\", \"dest_user\": "
	    "\"a@example.com\", \"dest_password\": \"x\", "
	    "\"source_password\": \"y\"}]}";
	struct runner_opts ro;
	struct runner *r;
	struct plan *plan = NULL;
	struct evhttp *srv;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct check_input in;
	char *err = NULL, url[128];
	const struct check *const *ck;
	struct result *res;

	memset(&ro, 0, sizeof(ro));
	ro.timeout_ms = 5000;
	r = runner_new(&ro, &err);
	assert_non_null(r);
	srv = evhttp_new(runner_base(r));
	evhttp_set_gencb(srv, check_serve, NULL);
	bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0);
	assert_non_null(bs);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/t/oauth2/v2.0/token", ntohs(sin.sin_port));
	cfg->token_url = url;
	assert_int_equal(plan_parse(plan_text, strlen(plan_text), NULL, &plan, &err), 0);
	plan->destination.auth = cfg;
	memset(&in, 0, sizeof(in));
	in.plan = plan;
	in.domain = plan->domain;
	for (ck = check_registry(); *ck != NULL; ck++)
		if (strcmp((*ck)->id, "auth.token") == 0)
			(*ck)->schedule(r, &in);
	assert_int_equal(runner_run(r, rep), 0);
	evhttp_free(srv);
	runner_free(r);
	plan->destination.auth = NULL; /* ours, not the plan's */
	plan_free(plan);
	assert_int_equal(rep->n_results, 1);
	res = rpt_at(rep, 0, 1); /* kept until rpt_free */
	cfg->token_url = NULL;
	return res;
}

static void
test_check_auth_token(void **state)
{
	struct oauth2_config cfg;
	struct report *rep;
	struct result *res;
	char *tok, *body, *json;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.flow = OAUTH2_FLOW_CLIENT_CREDENTIALS;
	cfg.client_id = "cid";
	cfg.client_secret = "s3cret-value";
	cfg.scope = "https://outlook.office365.com/.default";
	/* a token with POP but not IMAP: warn, naming the missing role */
	tok =
	    fake_jwt("{\"aud\":\"https://outlook.office365.com\",\"roles\":[\"POP.AccessAsApp\"]}");
	body = xasprintf("{\"access_token\":\"%s\",\"expires_in\":3599}", tok);
	check_answer = body;
	check_status = 200;
	rep = rpt_new("audit", NULL);
	res = run_auth_check(rep, &cfg);
	assert_string_equal(res->id, "auth.token");
	assert_int_equal(res->side, RESULT_SIDE_DESTINATION);
	assert_int_equal(res->status, RESULT_WARN);
	assert_non_null(strstr(res->summary, "IMAP.AccessAsApp"));
	assert_non_null(strstr(res->advice, "API permissions"));
	json = cJSON_PrintUnformatted(res->details);
	assert_non_null(strstr(json, "\"missing\":[\"IMAP.AccessAsApp\"]"));
	assert_non_null(strstr(json, "\"lifetime_s\":3599"));
	assert_null(strstr(json, tok));            /* never the token */
	assert_null(strstr(json, "s3cret-value")); /* nor the secret */
	free(json);
	rpt_free(rep);
	free(body);
	free(tok);
	/* with the role: pass, listing it */
	tok = fake_jwt("{\"roles\":[\"IMAP.AccessAsApp\"]}");
	body = xasprintf("{\"access_token\":\"%s\",\"expires_in\":3599}", tok);
	check_answer = body;
	rep = rpt_new("audit", NULL);
	res = run_auth_check(rep, &cfg);
	assert_int_equal(res->status, RESULT_PASS);
	assert_non_null(strstr(res->summary, "IMAP.AccessAsApp"));
	rpt_free(rep);
	free(body);
	free(tok);
	/* Entra's answer to a secret ID given as the secret: fail with the advice */
	check_answer = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
	               "Invalid client secret provided.\",\"error_codes\":[7000215]}";
	check_status = 401;
	rep = rpt_new("audit", NULL);
	res = run_auth_check(rep, &cfg);
	assert_int_equal(res->status, RESULT_FAIL);
	assert_non_null(strstr(res->summary, "AADSTS7000215"));
	assert_non_null(strstr(res->advice, "instead of its Value"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(res->details, "obtained")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res->details, "permanent")));
	rpt_free(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_response_success),
	    cmocka_unit_test(test_response_errors),
	    cmocka_unit_test(test_response_garbage),
	    cmocka_unit_test(test_advice),
	    cmocka_unit_test(test_b64url),
	    cmocka_unit_test(test_client_assertion),
	    cmocka_unit_test(test_google_assertion),
	    cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_renew_at),
	    cmocka_unit_test(test_form_and_paths),
	    cmocka_unit_test_setup_teardown(test_cache_one_request, idp_setup, idp_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cache_renews_short_tokens, idp_setup, idp_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_permanent_error, idp_setup, idp_teardown),
	    cmocka_unit_test_setup_teardown(test_cache_device_refresh, idp_setup, idp_teardown),
	    cmocka_unit_test_setup_teardown(test_access_token_flow, idp_setup, idp_teardown),
	    cmocka_unit_test(test_check_auth_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
