/*
 * test_tlsfacts.c - the one TLS-facts builder and writer (src/tlsfacts.h)
 * on certificates made here with OpenSSL: names printed the same way
 * (RFC 2253, UTF-8 kept), notAfter and days left at the edges, the
 * host-mismatch wording, long names cut on a character boundary, version
 * and cipher from a real in-memory handshake, and the report object's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "src/tlsfacts.h"

#define NOW ((time_t)1800000000) /* 2027-01-15T08:00:00Z */

/* A self-signed certificate (when ISSUER is NULL) or one signed by
 * ISSUER/IKEY, with the subject CN (and N_O times O when O is not NULL),
 * valid until NOT_AFTER. *KEY gets the new key. */
static X509 *
make_cert_n(const char *cn, const char *o, int n_o, time_t not_after, X509 *issuer, EVP_PKEY *ikey,
    EVP_PKEY **key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(*key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	for (int i = 0; o != NULL && i < n_o; i++)
		assert_int_equal(X509_NAME_add_entry_by_txt(
		                     name, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1, 0),
		    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(
	                     name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0),
	    1);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	ASN1_TIME_set(X509_getm_notBefore(x), NOW - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), not_after);
	X509_set_pubkey(x, *key);
	assert_true(X509_sign(x, issuer != NULL ? ikey : *key, EVP_sha256()) > 0);
	return x;
}

static X509 *
make_cert(
    const char *cn, const char *o, time_t not_after, X509 *issuer, EVP_PKEY *ikey, EVP_PKEY **key)
{
	return make_cert_n(cn, o, 1, not_after, issuer, ikey, key);
}

static void
test_cert_names_and_expiry(void **state)
{
	EVP_PKEY *cakey, *key;
	X509 *ca = make_cert("cutover test CA", NULL, NOW + 400 * 86400, NULL, NULL, &cakey);
	X509 *leaf = make_cert(
	    "mail.example", "Soci\xc3\xa9t\xc3\xa9, Inc", NOW + 3 * 86400 + 5, ca, cakey, &key);
	struct tls_facts f;

	(void)state;
	memset(&f, 0, sizeof(f));
	tls_facts_build(&f, NULL, leaf);
	assert_int_equal(f.present, 1);
	assert_int_equal(f.done, 0);
	/* RFC 2253: most specific first, ',' escaped, UTF-8 as it is. */
	assert_string_equal(f.subject, "CN=mail.example,O=Soci\xc3\xa9t\xc3\xa9\\, Inc");
	assert_string_equal(f.issuer, "CN=cutover test CA");
	assert_int_equal(f.has_expiry, 1);
	assert_int_equal((long)f.not_after, (long)(NOW + 3 * 86400 + 5));
	assert_string_equal(f.expires, "2027-01-18T08:00:05Z");
	assert_int_equal(tls_facts_days_left(&f, NOW), 3);
	assert_int_equal(tls_facts_days_left(&f, NOW + 3 * 86400 + 5), 0);
	assert_int_equal(tls_facts_days_left(&f, NOW + 3 * 86400 + 6), -1);
	assert_int_equal(tls_facts_days_left(&f, NOW + 5 * 86400 + 6), -3);
	/* The builder does not judge. */
	assert_int_equal(f.verified, 0);
	assert_string_equal(f.verify_error, "");
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

static void
test_no_expiry_days_left_zero(void **state)
{
	struct tls_facts f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(tls_facts_days_left(&f, NOW), 0);
	assert_int_equal(tls_facts_days_left(NULL, NOW), 0);
}

static void
test_long_name_cut_on_character(void **state)
{
	/* 30 times O=<32 two-byte characters>: over 2000 bytes printed, more
	 * than the buffer holds. */
	char o[65];
	EVP_PKEY *key;
	X509 *x;
	struct tls_facts f;
	size_t n;

	(void)state;
	for (int i = 0; i < 32; i++)
		memcpy(o + 2 * i, "\xc3\xa9", 2);
	o[64] = '\0';
	x = make_cert_n("x", o, 30, NOW, NULL, NULL, &key);
	memset(&f, 0, sizeof(f));
	tls_facts_build(&f, NULL, x);
	n = strlen(f.subject);
	assert_true(n < sizeof(f.subject));
	assert_true(n >= sizeof(f.subject) - 2);
	assert_memory_equal(f.subject, "CN=x,O=", 7);
	/* Ends after a whole "é", never between its two bytes. */
	assert_int_equal((unsigned char)f.subject[n - 1], 0xa9);
	assert_int_equal((unsigned char)f.subject[n - 2], 0xc3);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
test_host_mismatch_wording(void **state)
{
	struct tls_facts f;
	char host[300];

	(void)state;
	memset(&f, 0, sizeof(f));
	tls_facts_host_mismatch(&f, "127.0.0.3");
	assert_string_equal(f.verify_error, "certificate does not name 127.0.0.3");
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	tls_facts_host_mismatch(&f, host);
	assert_int_equal(strlen(f.verify_error), sizeof(f.verify_error) - 1);
	assert_memory_equal(f.verify_error, "certificate does not name aaa", 29);
}

/* Run a TLS handshake between two SSLs in memory; returns 1 when both finished. */
static int
handshake(SSL *client, SSL *server)
{
	for (int i = 0; i < 100; i++) {
		int c = SSL_do_handshake(client), s = SSL_do_handshake(server);

		if (c == 1 && s == 1)
			return 1;
		if (c <= 0 && SSL_get_error(client, c) != SSL_ERROR_WANT_READ)
			return 0;
		if (s <= 0 && SSL_get_error(server, s) != SSL_ERROR_WANT_READ)
			return 0;
	}
	return 0;
}

static void
test_version_and_cipher_from_handshake(void **state)
{
	EVP_PKEY *key;
	X509 *x = make_cert("localhost", NULL, NOW + 86400, NULL, NULL, &key);
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	SSL *server, *client;
	BIO *cb, *sb;
	X509 *peer;
	struct tls_facts f;

	(void)state;
	assert_int_equal(SSL_CTX_use_certificate(sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, key), 1);
	server = SSL_new(sctx);
	client = SSL_new(cctx);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(client, cb, cb);
	SSL_set_bio(server, sb, sb);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	assert_int_equal(handshake(client, server), 1);

	memset(&f, 0, sizeof(f));
	peer = SSL_get1_peer_certificate(client);
	tls_facts_build(&f, client, peer);
	assert_string_equal(f.version, SSL_get_version(client));
	assert_true(strncmp(f.version, "TLSv1.", 6) == 0);
	assert_string_equal(f.cipher, SSL_get_cipher_name(client));
	assert_true(f.cipher[0] != '\0');
	assert_string_equal(f.subject, "CN=localhost");
	assert_int_equal(f.present, 1);

	X509_free(peer);
	SSL_free(client);
	SSL_free(server);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(x);
	EVP_PKEY_free(key);
}

static const char *
json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(v);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
test_json_writer(void **state)
{
	static const char *const keys[] = {"version", "cipher", "cert_subject", "cert_issuer",
	    "cert_expires", "days_left", "verified", "verify_error"};
	struct tls_facts f;
	cJSON *o, *it;
	size_t i = 0;

	(void)state;
	/* Nothing seen: null. */
	memset(&f, 0, sizeof(f));
	o = tls_facts_json(&f, NOW);
	assert_true(cJSON_IsNull(o));
	cJSON_Delete(o);
	o = tls_facts_json(NULL, NOW);
	assert_true(cJSON_IsNull(o));
	cJSON_Delete(o);

	/* A certificate that did not verify: every key, in the schema's order. */
	f.present = 1;
	snprintf(f.version, sizeof(f.version), "TLSv1.3");
	snprintf(f.subject, sizeof(f.subject), "CN=localhost");
	f.has_expiry = 1;
	f.not_after = NOW - 10;
	snprintf(f.expires, sizeof(f.expires), "2027-01-15T07:59:50Z");
	tls_facts_host_mismatch(&f, "wrong.test");
	o = tls_facts_json(&f, NOW);
	cJSON_ArrayForEach(it, o)
	{
		assert_true(i < sizeof(keys) / sizeof(keys[0]));
		assert_string_equal(it->string, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(json_str(o, "version"), "TLSv1.3");
	assert_null(json_str(o, "cipher"));
	assert_null(json_str(o, "cert_issuer"));
	assert_string_equal(json_str(o, "cert_subject"), "CN=localhost");
	assert_string_equal(json_str(o, "cert_expires"), "2027-01-15T07:59:50Z");
	assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(o, "days_left")->valuedouble, -1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "verified")));
	assert_string_equal(json_str(o, "verify_error"), "certificate does not name wrong.test");
	cJSON_Delete(o);

	/* Verified, no expiry known, a stale error text: verify_error null, days_left null. */
	f.verified = 1;
	f.has_expiry = 0;
	f.done = 1;
	o = tls_facts_json(&f, NOW);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "verified")));
	assert_null(json_str(o, "verify_error"));
	assert_null(json_str(o, "cert_expires"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "days_left")));
	cJSON_Delete(o);

	/* A completed handshake without a certificate is still described. */
	memset(&f, 0, sizeof(f));
	f.done = 1;
	o = tls_facts_json(&f, NOW);
	assert_true(cJSON_IsObject(o));
	assert_null(json_str(o, "cert_subject"));
	cJSON_Delete(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cert_names_and_expiry),
	    cmocka_unit_test(test_no_expiry_days_left_zero),
	    cmocka_unit_test(test_long_name_cut_on_character),
	    cmocka_unit_test(test_host_mismatch_wording),
	    cmocka_unit_test(test_version_and_cipher_from_handshake),
	    cmocka_unit_test(test_json_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
