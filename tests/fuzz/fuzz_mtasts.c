/*
 * fuzz_mtasts.c - libFuzzer target for the MTA-STS parsers (src/mtasts.h):
 * the first byte chooses the TXT record parser, the policy parser, the
 * MX pattern matcher (the rest split at the first NUL into pattern and host)
 * or the TLS-RPT record parser.
 * Seeds: tests/fuzz/corpus/fuzz_mtasts/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	char err[200], id[33];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (mtasts_txt_parse(s, n, id, err, sizeof(err)) == 1 &&
		    (strlen(id) == 0 || strlen(id) > 32))
			abort();
		break;
	case 1: {
		struct mtasts_policy p;

		if (mtasts_policy_parse(s, n, &p, err, sizeof(err)) == 0) {
			if (p.max_age < 0 || p.max_age > MTASTS_MAX_AGE || p.n_mx > MTASTS_MAX_MX)
				abort();
			mtasts_policy_free(&p);
		}
		break;
	}
	case 3: {
		char *uris[4];
		size_t nu = 0;

		if (mtasts_tlsrpt_parse(s, n, uris, 4, &nu, err, sizeof(err)) == 1 && nu == 0)
			abort();
		while (nu > 0)
			free(uris[--nu]);
		break;
	}
	default: {
		char *buf = malloc(n + 2);
		const char *host;

		memcpy(buf, s, n);
		buf[n] = '\0';
		buf[n + 1] = '\0';
		host = buf + strlen(buf) + 1;
		(void)mtasts_mx_match(buf, host <= buf + n ? host : "");
		free(buf);
		break;
	}
	}
	return 0;
}
