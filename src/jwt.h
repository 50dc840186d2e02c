/*
 * jwt.h - JSON Web Tokens as an OAuth2 client needs them (RFC 7519, RFC 7515
 * compact form): base64url, an RS256 signature over header.claims, the
 * x5t#S256 certificate thumbprint (RFC 7515 4.1.8) and reading a payload.
 *
 * Why hand-written: Debian packages no C JWT library we already link, and
 * a client signs only RS256; OpenSSL's EVP does the cryptography, cJSON the
 * JSON, this file only the glue (about 200 lines).
 *
 * Secrets: a private key is loaded from PEM text the caller owns; messages
 * name what failed, never the key or the signed token.
 */
#ifndef CUTOVER_JWT_H
#define CUTOVER_JWT_H

#include <stddef.h>

#include <cJSON.h>
#include <openssl/evp.h>

/* Base64url without padding (RFC 4648 5) of LEN bytes. Caller frees. */
char *jwt_b64url(const unsigned char *data, size_t len);

/*
 * Decode base64url S (LEN bytes, padding optional). Returns a new buffer
 * (NUL-terminated for convenience) with its length in *OUT_LEN, or NULL when
 * S holds anything else. Caller frees.
 */
unsigned char *jwt_b64url_decode(const char *s, size_t len, size_t *out_len);

/*
 * A private key from PEM text (PKCS#8 "BEGIN PRIVATE KEY" or "BEGIN RSA
 * PRIVATE KEY"). Returns the key (free with EVP_PKEY_free) or NULL with
 * *ERR set (caller frees; never quotes the PEM). Only RSA keys are accepted.
 */
EVP_PKEY *jwt_key_from_pem(const char *pem, size_t len, char **err);

/*
 * The compact JWS of CLAIMS with the protected HEADER (its "alg" is set to
 * "RS256" here), signed with KEY: b64url(header) "." b64url(claims) "."
 * b64url(RSASSA-PKCS1-v1_5 SHA-256 signature). Returns a new string
 * (a secret: free with util_free_secret) or NULL with *ERR set.
 */
char *jwt_sign_rs256(cJSON *header, const cJSON *claims, EVP_PKEY *key, char **err);

/*
 * The x5t#S256 value of the first certificate in PEM text: base64url of the
 * SHA-256 of its DER encoding. Returns a new string or NULL with *ERR set.
 */
char *jwt_x5t_s256(const char *pem, size_t len, char **err);

/*
 * The payload of compact JWT TOKEN parsed as a JSON object, NOT verified
 * (three dot-separated parts, the middle base64url JSON object). Tokens
 * longer than JWT_MAX_LEN are refused. Returns the object (cJSON_Delete) or
 * NULL.
 */
#define JWT_MAX_LEN (64 * 1024)
cJSON *jwt_payload(const char *token);

#endif
