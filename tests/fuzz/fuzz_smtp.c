/*
 * fuzz_smtp.c - libFuzzer target for the SMTP reply parser (src/smtp.h). The
 * first byte picks the split size the bytes are fed in (0: all at once).
 * Every reply must hold at least one line, a 2xx-5xx code and a NUL-terminated
 * text; the parser must stay within its bounds. Seeds: tests/fuzz/corpus/fuzz_smtp/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_parser *p;
	size_t off = 1, sum = 0;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0];
	p = smtp_parser_new();
	while (off < size) {
		size_t chunk = (mode & 15) == 0 ? size - off : (mode & 15);
		size_t used = 0;
		enum smtp_parse r;

		if (chunk > size - off)
			chunk = size - off;
		r = smtp_parser_feed(p, (const char *)data + off, chunk, &used);
		if (used > chunk)
			abort();
		if (r == SMTP_PARSE_ERROR) {
			sum += strlen(smtp_parser_error(p));
			break;
		}
		if (r == SMTP_PARSE_DONE) {
			const struct smtp_reply *rp = smtp_parser_reply(p);

			if (rp == NULL || rp->n_lines == 0 || rp->n_lines > SMTP_MAX_LINES ||
			    rp->code < 200 || rp->code > 599 || strlen(rp->enhanced) >= 16)
				abort();
			sum += strlen(rp->text);
			for (size_t i = 0; i < rp->n_lines; i++)
				if (strlen(rp->lines[i]) >= SMTP_MAX_LINE)
					abort();
		}
		off += used;
	}
	smtp_parser_free(p);
	return sum == 1 ? 1 : 0;
}
