/*
 * test_verdicts_auth.c - auth.token's verdict and details at their edges
 * (checks/check_verdicts.h): no token (passing and permanent refusals), a
 * token lacking the permission the logins need (roles, scopes, Google), an
 * opaque token, and the details before and after the endpoint answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "checks/check_verdicts.h"
#include "json_path.h"

/* 2026-11-23 14:00:00 UTC */
#define NOW ((time_t)1795442400)

static struct auth_token_summary
token(void)
{
	struct auth_token_summary s = {
	    .flow = "client_credentials",
	    .token_url = "https://login.example.com/token",
	    .scope = "https://outlook.office365.com/.default",
	    .client_id = "cid",
	    .answered = 1,
	    .obtained = 1,
	    .expires_at = NOW + 3600,
	    .lifetime_s = 3599,
	    .now = NOW,
	    .jwt = 1,
	    .roles = "IMAP.AccessAsApp POP.AccessAsApp",
	    .scopes = "",
	    .audience = "https://outlook.office365.com",
	    .in_roles = 1,
	};

	return s;
}

static void
test_no_token(void **state)
{
	struct auth_token_summary s = token();
	struct verdict v = {0};

	(void)state;
	s.obtained = 0;
	s.error_code = "invalid_client";
	s.error = "The client secret is wrong: create a new one.";
	s.permanent = 1;
	auth_token_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_FAIL);
	assert_string_equal(v.summary, "no client_credentials token: invalid_client");
	assert_string_equal(v.advice, "The client secret is wrong: create a new one.");
	verdict_clear(&v);
	/* A passing failure, nothing said: an error, run again. */
	s.permanent = 0;
	s.error_code = s.error = NULL;
	auth_token_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_ERROR);
	assert_string_equal(v.summary, "no client_credentials token: error");
	assert_string_equal(v.advice, "Run it again.");
	verdict_clear(&v);
}

static void
test_permissions(void **state)
{
	struct auth_token_summary s = token();
	const char *want[] = {"IMAP.AccessAsApp", "POP.AccessAsApp"};
	const char *google[] = {"https://mail.google.com/"};
	struct verdict v = {0};

	(void)state;
	s.required = want;
	s.n_required = 2;
	auth_token_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_string_equal(v.summary,
	    "client_credentials token obtained (valid 60 min); IMAP.AccessAsApp POP.AccessAsApp");
	assert_null(v.advice);
	verdict_clear(&v);
	/* Both missing: the first named, "and more", the app permission advised. */
	s.missing = want;
	s.n_missing = 2;
	auth_token_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_WARN);
	assert_string_equal(v.summary,
	    "client_credentials token obtained (valid 60 min) but it "
	    "lacks IMAP.AccessAsApp and more");
	assert_non_null(strstr(v.advice, "application permission IMAP.AccessAsApp"));
	verdict_clear(&v);
	/* A delegated scope: sign in again. */
	s.in_roles = 0;
	s.n_missing = 1;
	s.expires_at = 0;
	auth_token_verdict(&s, &v);
	assert_string_equal(v.summary,
	    "client_credentials token obtained (lifetime unknown) but "
	    "it lacks IMAP.AccessAsApp");
	assert_non_null(strstr(v.advice, "Sign in again with a scope including IMAP.AccessAsApp"));
	verdict_clear(&v);
	/* Google: domain-wide delegation. */
	s.missing = google;
	auth_token_verdict(&s, &v);
	assert_non_null(strstr(v.advice, "domain-wide delegation"));
	verdict_clear(&v);
	/* An opaque token: nothing to read, a pass. */
	s = token();
	s.jwt = 0;
	s.roles = "";
	auth_token_verdict(&s, &v);
	assert_int_equal(v.status, RESULT_PASS);
	assert_non_null(strstr(v.summary, "an opaque token"));
	verdict_clear(&v);
}

static void
test_details(void **state)
{
	struct auth_token_summary s = token();
	const char *want[] = {"IMAP.AccessAsApp"};
	cJSON *d = cJSON_CreateObject();

	(void)state;
	/* Before the answer: the set-up only, the optional keys left out. */
	s.answered = 0;
	s.client_id = NULL;
	s.scope = NULL;
	auth_token_details_json(&s, d);
	assert_string_equal(jstr(d, "flow"), "client_credentials");
	assert_true(jnull(d, "scope"));
	assert_null(jpath(d, "client_id"));
	assert_null(jpath(d, "token_url_from"));
	assert_true(jnull(d, "user"));
	assert_null(jpath(d, "obtained"));
	cJSON_Delete(d);
	/* A token: its lifetime, claims as word lists, what is required and missing. */
	d = cJSON_CreateObject();
	s.answered = 1;
	s.required = s.missing = want;
	s.n_required = s.n_missing = 1;
	auth_token_details_json(&s, d);
	assert_true(cJSON_IsTrue(jpath(d, "obtained")));
	assert_string_equal(jstr(d, "expires_at"), "2026-11-23T15:00:00Z");
	assert_true(jnum(d, "lifetime_s") == 3599);
	assert_string_equal(jstr(d, "roles.1"), "POP.AccessAsApp");
	assert_int_equal(cJSON_GetArraySize(jpath(d, "scopes")), 0);
	assert_string_equal(jstr(d, "audience"), "https://outlook.office365.com");
	assert_string_equal(jstr(d, "missing.0"), "IMAP.AccessAsApp");
	assert_null(jpath(d, "error"));
	cJSON_Delete(d);
	/* Lifetime unknown from the endpoint: from the expiry; no expiry: nulls. */
	d = cJSON_CreateObject();
	s.lifetime_s = -1;
	s.audience = "";
	auth_token_details_json(&s, d);
	assert_true(jnum(d, "lifetime_s") == 3600);
	assert_true(jnull(d, "audience"));
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	s.expires_at = 0;
	auth_token_details_json(&s, d);
	assert_true(jnull(d, "expires_at"));
	assert_true(jnull(d, "lifetime_s"));
	cJSON_Delete(d);
	/* No token: the refusal, no claims. */
	d = cJSON_CreateObject();
	s.obtained = 0;
	s.error_code = "invalid_grant";
	s.error = NULL;
	s.permanent = 1;
	auth_token_details_json(&s, d);
	assert_string_equal(jstr(d, "error_code"), "invalid_grant");
	assert_string_equal(jstr(d, "error"), "no token");
	assert_true(cJSON_IsTrue(jpath(d, "permanent")));
	assert_null(jpath(d, "expires_at"));
	assert_null(jpath(d, "roles"));
	cJSON_Delete(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_token),
	    cmocka_unit_test(test_permissions),
	    cmocka_unit_test(test_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
