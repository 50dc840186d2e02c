/*
 * fuzz_pop3.c - libFuzzer target for the POP3 reply parser. The first byte
 * picks the split size and small bounds; the second gives, bit by bit,
 * which replies are expected to be multi-line. Seeds:
 * tests/fuzz/corpus/fuzz_pop3/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "src/pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_parser *p;
	size_t off = 2, sum = 0, nreply = 0;
	unsigned mode, multi;

	if (size < 2)
		return 0;
	mode = data[0];
	multi = data[1];
	p = pop3_parser_new((mode & 0x10) ? 64 : 0, (mode & 0x20) ? 256 : 0);
	pop3_parser_expect(p, multi & 1);
	while (off < size) {
		size_t chunk = (mode & 7) == 0 ? size - off : (mode & 7);
		size_t used = 0;
		enum pop3_parse r;

		if (chunk > size - off)
			chunk = size - off;
		r = pop3_parser_feed(p, (const char *)data + off, chunk, &used);
		if (r == POP3_PARSE_ERROR) {
			sum += strlen(pop3_parser_error(p));
			break;
		}
		if (r == POP3_PARSE_DONE) {
			const struct pop3_reply *rp = pop3_parser_reply(p);

			sum += strlen(rp->text) + (rp->code != NULL ? strlen(rp->code) : 0);
			for (size_t i = 0; i < rp->n_lines; i++)
				sum += strlen(rp->lines[i]);
			nreply++;
			pop3_parser_expect(p, (multi >> (nreply % 8)) & 1);
		}
		off += used;
	}
	pop3_parser_free(p);
	return sum == 1 ? 1 : 0;
}
