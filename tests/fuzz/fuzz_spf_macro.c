/*
 * fuzz_spf_macro.c - libFuzzer target for spf_macro_expand(): the first byte
 * picks the mode (exp text or domain-spec, IPv4 or IPv6 client), the next
 * bytes up to a NUL are the sender, the rest the macro-string. Expansion
 * must stay within its bound and domain names within 253 characters.
 * Seeds: tests/fuzz/corpus/fuzz_spf_macro/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_ctx ctx;
	struct spf_error err;
	const uint8_t *nul;
	char *sender, *out = NULL;
	size_t slen;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	nul = memchr(data, 0, size);
	slen = nul != NULL ? (size_t)(nul - data) : 0;
	sender = malloc(slen + 1);
	memcpy(sender, data, slen);
	sender[slen] = '\0';
	if (nul != NULL) {
		data += slen + 1;
		size -= slen + 1;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.sender = sender;
	ctx.domain = "example.com";
	ctx.helo = (mode & 4) ? NULL : "mx.example.org";
	ctx.validated = (mode & 8) ? "mail.example.com" : NULL;
	ctx.family = (mode & 2) ? 6 : 4;
	memset(ctx.ip, mode, sizeof(ctx.ip));
	ctx.now = 1700000000;
	if (spf_macro_expand((const char *)data, size, &ctx, mode & 1, !(mode & 1), &out, &err) ==
	    0) {
		size_t n = strlen(out);

		if (n > 4096)
			abort();
		if (!(mode & 1) && n > 253 && memchr(out, '.', n) != NULL)
			abort();
		free(out);
	} else if (err.pos > size) {
		abort();
	}
	(void)spf_macro_uses_client(sender);
	free(sender);
	return 0;
}
