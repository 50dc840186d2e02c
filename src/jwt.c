/*
 * jwt.c - JWT building, RS256 signing and payload reading (see jwt.h).
 *
 * Why hand-written: no JWT library in Debian that we link already; OpenSSL
 * EVP (EVP_DigestSign with SHA-256 over RSA, PKCS#1 v1.5 padding: RFC 7518
 * 3.3) does the cryptography and cJSON the JSON.
 */
#include "jwt.h"

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util.h"

char *
jwt_b64url(const unsigned char *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *p = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];

		*p++ = tab[v >> 18 & 63];
		*p++ = tab[v >> 12 & 63];
		*p++ = tab[v >> 6 & 63];
		*p++ = tab[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)data[i] << 16;

		*p++ = tab[v >> 18 & 63];
		*p++ = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;

		*p++ = tab[v >> 18 & 63];
		*p++ = tab[v >> 12 & 63];
		*p++ = tab[v >> 6 & 63];
	}
	*p = '\0';
	return out;
}

static int
jwt_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

unsigned char *
jwt_b64url_decode(const char *s, size_t len, size_t *out_len)
{
	unsigned char *out;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return NULL;
	out = xmalloc(len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = jwt_b64_value((unsigned char)s[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

/* OpenSSL's first queued reason, for messages (never key material). */
static const char *
jwt_ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown reason";
}

/* A read-only BIO over PEM text, or NULL with *ERR naming WHAT. */
static BIO *
jwt_pem_bio(const char *pem, size_t len, const char *what, char **err)
{
	BIO *bio;

	*err = NULL;
	if (len > INT32_MAX) {
		*err = xasprintf("the %s is too large", what);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		abort();
	return bio;
}

EVP_PKEY *
jwt_key_from_pem(const char *pem, size_t len, char **err)
{
	BIO *bio = jwt_pem_bio(pem, len, "private key", err);
	EVP_PKEY *key;

	if (bio == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		*err = xasprintf("not a PEM private key (%s)", jwt_ssl_reason());
		return NULL;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		*err = xstrdup("the private key is not an RSA key (RS256 needs one)");
		return NULL;
	}
	return key;
}

/* b64url of the compact JSON of J. Caller frees (with util_free_secret when
 * it is a secret's). */
static char *
jwt_b64_json(const cJSON *j)
{
	char *txt = cJSON_PrintUnformatted(j), *out;

	if (txt == NULL)
		abort();
	out = jwt_b64url((const unsigned char *)txt, strlen(txt));
	OPENSSL_cleanse(txt, strlen(txt));
	cJSON_free(txt);
	return out;
}

char *
jwt_sign_rs256(cJSON *header, const cJSON *claims, EVP_PKEY *key, char **err)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *h = NULL, *c = NULL, *input = NULL, *s = NULL, *out = NULL;

	*err = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(header, "alg");
	cJSON_AddStringToObject(header, "alg", "RS256");
	h = jwt_b64_json(header);
	c = jwt_b64_json(claims);
	input = xasprintf("%s.%s", h, c);
	md = EVP_MD_CTX_new();
	if (md == NULL)
		abort();
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
		*err = xasprintf("cannot sign the assertion (%s)", jwt_ssl_reason());
		goto out;
	}
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
		*err = xasprintf("cannot sign the assertion (%s)", jwt_ssl_reason());
		goto out;
	}
	s = jwt_b64url(sig, siglen);
	out = xasprintf("%s.%s", input, s);
out:
	EVP_MD_CTX_free(md);
	free(sig);
	free(h);
	util_free_secret(c);
	util_free_secret(input);
	free(s);
	return out;
}

char *
jwt_x5t_s256(const char *pem, size_t len, char **err)
{
	BIO *bio = jwt_pem_bio(pem, len, "certificate", err);
	X509 *x;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int n;
	char *out = NULL;

	if (bio == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		*err = xasprintf("not a PEM certificate (%s)", jwt_ssl_reason());
		return NULL;
	}
	n = i2d_X509(x, &der);
	if (n <= 0 || EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1)
		*err = xasprintf("cannot hash the certificate (%s)", jwt_ssl_reason());
	else
		out = jwt_b64url(md, mdlen);
	OPENSSL_free(der);
	X509_free(x);
	return out;
}

cJSON *
jwt_payload(const char *token)
{
	const char *a, *b;
	unsigned char *raw;
	size_t n, tlen = strnlen(token, JWT_MAX_LEN + 1);
	cJSON *j;

	if (tlen > JWT_MAX_LEN)
		return NULL;
	a = memchr(token, '.', tlen);
	if (a == NULL)
		return NULL;
	b = memchr(a + 1, '.', tlen - (size_t)(a + 1 - token));
	if (b == NULL || memchr(b + 1, '.', tlen - (size_t)(b + 1 - token)) != NULL || b == a + 1)
		return NULL;
	raw = jwt_b64url_decode(a + 1, (size_t)(b - a - 1), &n);
	if (raw == NULL)
		return NULL;
	j = cJSON_ParseWithLength((const char *)raw, n);
	OPENSSL_cleanse(raw, n);
	free(raw);
	if (j != NULL && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}
