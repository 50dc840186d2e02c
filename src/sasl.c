/*
 * sasl.c - SASL messages for IMAP AUTHENTICATE and POP3 AUTH. See sasl.h.
 *
 * Why hand-written: Cyrus SASL and GNU SASL (both in Debian) are built
 * around a blocking client/server exchange with their own plugin loading
 * and callbacks for secrets; the three mechanisms cutover sends are one
 * formatted string each and the error challenge one small JSON object, so
 * the messages are built here (as curl's lib/vauth/ does) and the JSON is
 * read with cJSON.
 */
#include "sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"

const char *
sasl_mech_name(enum sasl_mech m)
{
	switch (m) {
	case SASL_PLAIN: return "PLAIN";
	case SASL_XOAUTH2: return "XOAUTH2";
	case SASL_OAUTHBEARER: return "OAUTHBEARER";
	case SASL_NONE: break;
	}
	return "none";
}

void
sasl_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Base64 of N bytes of IN, wiping IN afterwards. */
static char *
sasl_b64_wipe(unsigned char *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	OPENSSL_cleanse(in, n);
	free(in);
	return out;
}

/* 1 when S holds a byte below 0x20 or DEL (SASL fields are single lines). */
static int
sasl_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

char *
sasl_plain(const char *authzid, const char *authcid, const char *password)
{
	size_t nz, nc, np, n;
	unsigned char *msg;

	if (authcid == NULL || password == NULL || *authcid == '\0')
		return NULL;
	if (authzid == NULL)
		authzid = "";
	nz = strlen(authzid);
	nc = strlen(authcid);
	np = strlen(password);
	n = nz + 1 + nc + 1 + np;
	msg = xmalloc(n);
	memcpy(msg, authzid, nz);
	msg[nz] = '\0';
	memcpy(msg + nz + 1, authcid, nc);
	msg[nz + 1 + nc] = '\0';
	memcpy(msg + nz + 1 + nc + 1, password, np);
	return sasl_b64_wipe(msg, n);
}

char *
sasl_xoauth2(const char *user, const char *token)
{
	char *msg;

	if (user == NULL || token == NULL || *user == '\0' || *token == '\0' ||
	    sasl_has_ctl(user) || sasl_has_ctl(token))
		return NULL;
	msg = xasprintf("user=%s\001auth=Bearer %s\001\001", user, token);
	return sasl_b64_wipe((unsigned char *)msg, strlen(msg));
}

/* U with ',' and '=' written =2C and =3D (RFC 5801 saslname). */
static char *
sasl_saslname(const char *u)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = u; *p != '\0'; p++)
		n += (*p == ',' || *p == '=') ? 3 : 1;
	out = o = xmalloc(n + 1);
	for (const char *p = u; *p != '\0'; p++) {
		if (*p == ',' || *p == '=') {
			memcpy(o, *p == ',' ? "=2C" : "=3D", 3);
			o += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

char *
sasl_oauthbearer(const char *user, const char *host, int port, const char *token)
{
	char *name, *msg, portpart[24] = "";

	if (user == NULL || token == NULL || *user == '\0' || *token == '\0' ||
	    sasl_has_ctl(user) || sasl_has_ctl(token) || (host != NULL && sasl_has_ctl(host)))
		return NULL;
	if (port > 0)
		snprintf(portpart, sizeof(portpart), "port=%d\001", port);
	name = sasl_saslname(user);
	msg = xasprintf("n,a=%s,\001%s%s%s%sauth=Bearer %s\001\001", name,
	    host != NULL ? "host=" : "", host != NULL ? host : "", host != NULL ? "\001" : "",
	    portpart, token);
	free(name);
	return sasl_b64_wipe((unsigned char *)msg, strlen(msg));
}

const char *
sasl_oauth_error_reply(enum sasl_mech m)
{
	return m == SASL_OAUTHBEARER ? "AQ==" : "";
}

/* Copy the printable ASCII of JSON string member KEY of O into OUT. */
static void
sasl_copy_member(const cJSON *o, const char *key, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	const char *s;
	size_t n = 0;
	char num[32];

	out[0] = '\0';
	if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.0f", v->valuedouble);
		s = num;
	} else if (cJSON_IsString(v) && v->valuestring != NULL) {
		s = v->valuestring;
	} else {
		return;
	}
	for (; *s != '\0' && n + 1 < len; s++)
		if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			out[n++] = *s;
	out[n] = '\0';
}

/* The most a challenge may be: a few hundred bytes in practice. */
#define SASL_MAX_CHALLENGE 8192

int
sasl_oauth_error_parse(const char *b64, size_t len, struct sasl_oauth_error *out)
{
	unsigned char *raw;
	size_t n, pad = 0;
	int got;
	cJSON *o;

	memset(out, 0, sizeof(*out));
	while (len > 0 && (b64[len - 1] == '\r' || b64[len - 1] == '\n' || b64[len - 1] == ' '))
		len--;
	if (len == 0 || len % 4 != 0 || len > SASL_MAX_CHALLENGE)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char ch = b64[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		        (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		        (ch == '=' && i >= len - 2)))
			return -1;
	}
	pad = (b64[len - 1] == '=') + (b64[len - 2] == '=');
	if (pad == 1 && b64[len - 2] == '=')
		return -1;
	raw = xmalloc(len / 4 * 3 + 1);
	got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (got < 0 || (size_t)got < pad) {
		free(raw);
		return -1;
	}
	n = (size_t)got - pad;
	raw[n] = '\0';
	o = cJSON_ParseWithLength((const char *)raw, n);
	free(raw);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	sasl_copy_member(o, "status", out->status, sizeof(out->status));
	sasl_copy_member(o, "scope", out->scope, sizeof(out->scope));
	sasl_copy_member(o, "schemes", out->schemes, sizeof(out->schemes));
	cJSON_Delete(o);
	return 0;
}
