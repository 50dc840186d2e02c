/* tlsfacts.c - the TLS facts of a handshake and their report shape. See tlsfacts.h. */
#include "tlsfacts.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util.h"

/* Copy LEN bytes of S into BUF (SIZE bytes), cut before a UTF-8 sequence
 * that does not fit whole, and terminate. */
static void
tls_facts_copy(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
}

/*
 * NAME in RFC 2253 form, with UTF-8 kept as it is (a user reads
 * "O=Société", not "O=Soci\C3\A9t\C3\A9"); control characters and the
 * RFC 2253 specials are still escaped.
 */
static void
tls_facts_name(const X509_NAME *name, char *buf, size_t size)
{
	BIO *b;
	char *data = NULL;
	long n;

	buf[0] = '\0';
	if (name == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0 && data != NULL)
			tls_facts_copy(buf, size, data, (size_t)n);
	}
	BIO_free(b);
}

void
tls_facts_build(struct tls_facts *f, const SSL *ssl, const X509 *leaf)
{
	if (ssl != NULL) {
		const char *cipher = SSL_get_cipher_name(ssl);

		snprintf(f->version, sizeof(f->version), "%s", SSL_get_version(ssl));
		snprintf(f->cipher, sizeof(f->cipher), "%s", cipher != NULL ? cipher : "");
	}
	if (leaf != NULL) {
		const ASN1_TIME *na = X509_get0_notAfter(leaf);
		struct tm tm;

		f->present = 1;
		tls_facts_name(X509_get_subject_name(leaf), f->subject, sizeof(f->subject));
		tls_facts_name(X509_get_issuer_name(leaf), f->issuer, sizeof(f->issuer));
		f->has_expiry = 0;
		f->not_after = 0;
		f->expires[0] = '\0';
		memset(&tm, 0, sizeof(tm));
		if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1) {
			f->not_after = timegm(&tm);
			f->has_expiry = 1;
			util_iso8601(f->not_after, f->expires, sizeof(f->expires));
		}
	}
}

void
tls_facts_host_mismatch(struct tls_facts *f, const char *host)
{
	static const char lead[] = "certificate does not name ";
	size_t n = sizeof(lead) - 1;

	memcpy(f->verify_error, lead, n);
	tls_facts_copy(f->verify_error + n, sizeof(f->verify_error) - n, host, strlen(host));
}

long
tls_facts_days_left(const struct tls_facts *f, time_t now)
{
	int64_t diff;

	if (f == NULL || !f->has_expiry)
		return 0;
	diff = (int64_t)f->not_after - (int64_t)now;
	return (long)(diff >= 0 ? diff / 86400 : -((-diff + 86399) / 86400));
}

cJSON *
tls_facts_json(const struct tls_facts *f, time_t now)
{
	cJSON *o;

	if (f == NULL || (!f->done && !f->present))
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	util_json_add_str_or_null(o, "version", util_nonempty(f->version));
	util_json_add_str_or_null(o, "cipher", util_nonempty(f->cipher));
	util_json_add_str_or_null(o, "cert_subject", util_nonempty(f->subject));
	util_json_add_str_or_null(o, "cert_issuer", util_nonempty(f->issuer));
	util_json_add_str_or_null(
	    o, "cert_expires", util_nonempty(f->has_expiry ? f->expires : NULL));
	if (f->has_expiry)
		cJSON_AddNumberToObject(o, "days_left", (double)tls_facts_days_left(f, now));
	else
		cJSON_AddNullToObject(o, "days_left");
	cJSON_AddBoolToObject(o, "verified", f->verified);
	util_json_add_str_or_null(
	    o, "verify_error", util_nonempty(f->verified ? NULL : f->verify_error));
	return o;
}
