/*
 * fuzz_oauth2.c - libFuzzer target for what a token endpoint or a token
 * sends us (src/oauth2.h): the first byte chooses the token answer parser
 * (oauth2_response_parse) or the JWT claims reader (oauth2_claims_parse,
 * the rest as a NUL-terminated token).
 * Seeds: tests/fuzz/corpus/fuzz_oauth2/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/oauth2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A string the parser kept must be terminated within its bound. */
static void
check_str(const char *s, size_t max)
{
	if (s != NULL && strnlen(s, max + 1) > max)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		struct oauth2_response r;

		if (oauth2_response_parse(s, n, &r) == 0) {
			check_str(r.access_token, n);
			check_str(r.error, n);
			check_str(r.error_description, n);
			check_str(r.verification_uri, n);
			if (r.expires_in < -1 || r.interval < -1 || r.aadsts < 0)
				abort();
			(void)oauth2_error_advice(r.error, r.aadsts, NULL);
		}
		oauth2_response_clear(&r);
	} else {
		struct oauth2_claims cl;
		char *tok = malloc(n + 1);

		memcpy(tok, s, n);
		tok[n] = '\0';
		if (oauth2_claims_parse(tok, &cl) == 0) {
			/* only printable ASCII reaches a report */
			for (const char *p = cl.roles; *p != '\0'; p++)
				if (*p < 0x20 || *p > 0x7e)
					abort();
			for (const char *p = cl.scp; *p != '\0'; p++)
				if (*p < 0x20 || *p > 0x7e)
					abort();
			if (strlen(cl.aud) >= sizeof(cl.aud))
				abort();
		}
		free(tok);
	}
	return 0;
}
