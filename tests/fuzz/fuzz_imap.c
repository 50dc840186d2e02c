/*
 * fuzz_imap.c - libFuzzer target for the IMAP response parser. The first
 * byte picks the split pattern and whether a literal sink is set (with small
 * limits, so the bounds are hit); the rest is fed as server output. Every
 * response is walked so ASan sees any bad pointer. Seeds:
 * tests/fuzz/corpus/fuzz_imap/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "src/imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
fuzz_walk(const struct imap_arg *a, unsigned depth)
{
	size_t n = 0;

	for (; a != NULL; a = a->next) {
		if (a->str != NULL)
			n += a->len + (unsigned char)a->str[a->len];
		if (a->type == IMAP_ARG_LIST)
			n += fuzz_walk(a->list, depth + 1) + a->n;
	}
	return n;
}

static int
fuzz_sink(void *arg, const char *data, size_t len, uint64_t offset, uint64_t total, int first)
{
	size_t *sum = arg;

	(void)first;
	if (len > 0)
		*sum += (unsigned char)data[0] + (unsigned char)data[len - 1];
	*sum += (size_t)(offset + total);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits lim = {0};
	struct imap_parser *p;
	size_t off = 1, sum = 0;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0];
	lim.max_line = (mode & 0x10) ? 256 : 0;
	lim.max_literal = (mode & 0x20) ? 64 : 0;
	lim.max_depth = (mode & 0x40) ? 4 : 0;
	lim.max_response = (mode & 0x80) ? 1024 : 0;
	p = imap_parser_new(&lim);
	if (mode & 0x08)
		imap_parser_set_sink(p, 16, fuzz_sink, &sum);
	while (off < size) {
		size_t chunk = (mode & 7) == 0 ? size - off : (mode & 7);
		size_t used = 0;
		enum imap_parse r;

		if (chunk > size - off)
			chunk = size - off;
		r = imap_parser_feed(p, (const char *)data + off, chunk, &used);
		if (r == IMAP_PARSE_ERROR) {
			sum += strlen(imap_parser_error(p));
			break;
		}
		if (r == IMAP_PARSE_DONE) {
			const struct imap_response *resp = imap_parser_response(p);

			sum += fuzz_walk(resp->args, 0);
			if (resp->tag != NULL)
				sum += strlen(resp->tag);
			if (resp->code != NULL)
				sum += strlen(resp->code);
			if (resp->keyword != NULL)
				sum += strlen(resp->keyword);
			sum += strlen(resp->text != NULL ? resp->text : "");
			if (imap_code_is(resp, "CAPABILITY", NULL))
				sum++;
		}
		off += used;
	}
	imap_parser_free(p);
	return sum == 1 ? 1 : 0;
}
