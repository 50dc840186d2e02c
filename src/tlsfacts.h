/*
 * tlsfacts.h - what a TLS handshake showed, in one shape for every client.
 *
 * net.c (IMAP, POP3, SMTP over our own bufferevents) and http.c (libcurl's
 * connections, seen from its verify callback) both describe the server's
 * certificate with a struct tls_facts, filled by the same builder and
 * written to the report by the same writer, so imap.tls and web.webmail say
 * the same thing about the same certificate (as curl's vtls backends all
 * feed Curl_ssl_push_certinfo). The report shape is reports/SCHEMA.md's
 * "tls" object of imap.tls.
 *
 * A tls_facts is a plain value: fixed-size strings, no pointers, so it can
 * be copied (http.c copies it into every hop of a fetch). A name longer than
 * its buffer is cut at a character boundary of the printed form; the host
 * name in a verify error is cut the same way.
 */
#ifndef CUTOVER_TLSFACTS_H
#define CUTOVER_TLSFACTS_H

#include <time.h>

#include <cJSON.h>

/* OpenSSL's X509 and SSL, without OpenSSL's headers here. */
struct x509_st;
struct ssl_st;

#define TLS_FACTS_NAME_MAX 1024

struct tls_facts {
	int done;                         /* the handshake completed (net.c; http.c
	                                     records only what it saw of it) */
	int present;                      /* a server certificate was seen */
	char version[16];                 /* "TLSv1.3", "" when not known */
	char cipher[64];                  /* "TLS_AES_256_GCM_SHA384", "" when not known */
	char subject[TLS_FACTS_NAME_MAX]; /* "CN=localhost" (RFC 2253, UTF-8 kept), or "" */
	char issuer[TLS_FACTS_NAME_MAX];  /* or "" */
	int has_expiry;                   /* not_after and expires are set */
	time_t not_after;
	char expires[24];       /* not_after as "2027-01-15T23:59:59Z", or "" */
	int verified;           /* chain and host name verified */
	char verify_error[160]; /* why not, "" when none was recorded */
};

/*
 * Record what SSL and LEAF show; either may be NULL. From SSL: version and
 * cipher (as negotiated so far). From LEAF: subject, issuer and notAfter,
 * and present = 1. Neither touches done, verified or verify_error: those are
 * the caller's verdict.
 */
void tls_facts_build(struct tls_facts *f, const struct ssl_st *ssl, const struct x509_st *leaf);

/* The one wording for a certificate that does not name HOST (a name or an
 * IP literal): "certificate does not name HOST". Sets verify_error. */
void tls_facts_host_mismatch(struct tls_facts *f, const char *host);

/* Whole days from NOW until notAfter, rounded down (23 hours left is 0,
 * one second past is -1); 0 when there is no expiry. */
long tls_facts_days_left(const struct tls_facts *f, time_t now);

/*
 * The report's "tls" object (reports/SCHEMA.md, imap.tls): version, cipher,
 * cert_subject, cert_issuer, cert_expires, days_left (from NOW), verified,
 * verify_error (null when verified); strings that are not known are null.
 * A JSON null when F is NULL or neither a handshake completed nor a
 * certificate was seen. Caller owns the result.
 */
cJSON *tls_facts_json(const struct tls_facts *f, time_t now);

#endif
