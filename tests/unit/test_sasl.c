/*
 * test_sasl.c - the SASL messages against the examples of their
 * specifications (RFC 4616 PLAIN, RFC 7628 OAUTHBEARER, Google's XOAUTH2
 * page) and the OAuth2 error challenge decoder on good, odd and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/sasl.h"

static void
test_plain(void **state)
{
	char *m;

	(void)state;
	/* "\0tim\0tanstaaftanstaaf" (RFC 4616 section 4) */
	m = sasl_plain(NULL, "tim", "tanstaaftanstaaf");
	assert_string_equal(m, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	sasl_free(m);
	/* "Ursel\0Kurt\0xipj3plmq": authorization identity first */
	m = sasl_plain("Ursel", "Kurt", "xipj3plmq");
	assert_string_equal(m, "VXJzZWwAS3VydAB4aXBqM3BsbXE=");
	sasl_free(m);
	assert_null(sasl_plain(NULL, "", "pw"));
	assert_null(sasl_plain(NULL, "u", NULL));
}

static void
test_xoauth2(void **state)
{
	char *m;

	(void)state;
	m = sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	assert_string_equal(m,
	    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
	    "dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	sasl_free(m);
	/* A ^A in a field would end it early: refused, never sent. */
	assert_null(sasl_xoauth2("a\001auth=x", "t"));
	assert_null(sasl_xoauth2("user", "tok\r\nA1 LOGOUT"));
	assert_null(sasl_xoauth2("user", ""));
	assert_string_equal(sasl_oauth_error_reply(SASL_XOAUTH2), "");
}

static void
test_oauthbearer(void **state)
{
	char *m;

	(void)state;
	/* RFC 7628 section 4.1 */
	m = sasl_oauthbearer("user@example.com", "server.example.com", 143,
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	assert_string_equal(m,
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBv"
	    "cnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1s"
	    "emRHRXVZMjl0Q2c9PQEB");
	sasl_free(m);
	/* ',' and '=' in the user are escaped (RFC 5801): "n,a=a=2Cb=3Dc,^Aauth=..." */
	m = sasl_oauthbearer("a,b=c", NULL, 0, "T");
	assert_string_equal(m, "bixhPWE9MkNiPTNEYywBYXV0aD1CZWFyZXIgVAEB");
	sasl_free(m);
	assert_null(sasl_oauthbearer("u", "h\001", 1, "t"));
	assert_string_equal(sasl_oauth_error_reply(SASL_OAUTHBEARER), "AQ==");
	assert_string_equal(sasl_mech_name(SASL_OAUTHBEARER), "OAUTHBEARER");
}

static void
test_error_challenge(void **state)
{
	static const char rfc[] =
	    "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3Blbmlk"
	    "LWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1j"
	    "b25maWd1cmF0aW9uIn0=";
	struct sasl_oauth_error e;

	(void)state;
	/* RFC 7628 section 4.3 */
	assert_int_equal(sasl_oauth_error_parse(rfc, strlen(rfc), &e), 0);
	assert_string_equal(e.status, "invalid_token");
	assert_string_equal(e.scope, "example_scope");
	/* Google's XOAUTH2: {"status":"401","schemes":"bearer
	 * mac","scope":"https://mail.google.com/"} */
	{
		static const char g[] =
		    "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3Bl"
		    "IjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";

		assert_int_equal(sasl_oauth_error_parse(g, strlen(g), &e), 0);
		assert_string_equal(e.status, "401");
		assert_string_equal(e.schemes, "bearer mac");
		assert_string_equal(e.scope, "https://mail.google.com/");
	}
	/* A number for status; a trailing CRLF */
	assert_int_equal(sasl_oauth_error_parse("eyJzdGF0dXMiOjQwMX0=\r\n", 22, &e), 0);
	assert_string_equal(e.status, "401");
	/* Not base64, not JSON, not an object, empty */
	assert_int_equal(sasl_oauth_error_parse("not base64!", 11, &e), -1);
	assert_string_equal(e.status, "");
	assert_int_equal(sasl_oauth_error_parse("aGVsbG8=", 8, &e), -1);
	assert_int_equal(sasl_oauth_error_parse("WzFd", 4, &e), -1);
	assert_int_equal(sasl_oauth_error_parse("", 0, &e), -1);
	/* Control characters in a value are dropped: {"status":"a\u0007\nb"} */
	assert_int_equal(sasl_oauth_error_parse("eyJzdGF0dXMiOiJhXHUwMDA3XG5iIn0=", 32, &e), 0);
	assert_string_equal(e.status, "ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_xoauth2),
	    cmocka_unit_test(test_oauthbearer),
	    cmocka_unit_test(test_error_challenge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
