/*
 * fuzz_sasl.c - libFuzzer target for the OAuth2 error challenge a server
 * sends after a refused token (sasl_oauth_error_parse: base64, then JSON),
 * and the message builders on arbitrary user names and tokens (which must
 * refuse control characters, never build a broken message). Seeds:
 * tests/fuzz/corpus/fuzz_sasl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_oauth_error e;
	char *s, *half, *m;

	(void)sasl_oauth_error_parse((const char *)data, size, &e);
	if (strlen(e.status) >= sizeof(e.status) || strlen(e.scope) >= sizeof(e.scope))
		abort();
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	half = s + strlen(s) / 2;
	m = sasl_oauthbearer(half, "imap.example.com", 993, s);
	sasl_free(m);
	m = sasl_xoauth2(s, half);
	sasl_free(m);
	m = sasl_plain(half, s, s);
	sasl_free(m);
	free(s);
	return 0;
}
