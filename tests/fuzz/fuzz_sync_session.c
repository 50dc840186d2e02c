/*
 * fuzz_sync_session.c - libFuzzer target for a whole server session as the
 * sync engine reads it (issue 14): greeting, CAPABILITY, LIST, SELECT and
 * FETCH responses, fed to the IMAP parser in chunks (the first byte picks
 * the chunk sizes) with a literal sink as for message bodies, and every
 * FETCH response handed to sync_meta_parse, the sync's response handling.
 *
 * The invariants are the issue's: whatever the server sends, what would go
 * into the destination's APPEND is well formed (a flag list of valid flags,
 * a date that re-parses to itself: no quote, no literal marker, no line
 * break can get through), the parser's bounds hold, and nothing crashes.
 * Seeds: tests/fuzz/corpus/fuzz_sync_session/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "src/imap.h"
#include "src/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count_sink(void *arg, const char *d, size_t len, uint64_t off, uint64_t total, int first)
{
	uint64_t *got = arg;

	(void)d;
	if (first && off != 0)
		abort();
	if (off + len > total)
		abort();
	*got += len;
	return 0;
}

/* A flag list as APPEND would carry it: "(" flags separated by one space ")". */
static void
check_flags(const char *s)
{
	size_t n = strlen(s), start = 1;

	if (n < 2 || s[0] != '(' || s[n - 1] != ')')
		abort();
	for (size_t i = 1; i < n; i++) {
		if (s[i] == ' ' || i == n - 1) {
			if (i > start && !imap_flag_valid(s + start, i - start))
				abort();
			start = i + 1;
		}
	}
}

static void
check_date(const char *s)
{
	struct imap_date d;
	char again[IMAP_DATE_LEN];

	if (strlen(s) != IMAP_DATE_LEN - 1 || strpbrk(s, "\"{}\r\n\\") != NULL)
		abort();
	if (imap_date_parse(s, strlen(s), &d) != 0)
		abort();
	imap_date_format(&d, again);
	if (strcmp(again, s) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits lim = {0};
	struct imap_parser *p;
	uint64_t streamed = 0;
	size_t off = 1, used;
	unsigned step;

	if (size < 1)
		return 0;
	step = (unsigned)data[0] % 64 + 1;
	lim.max_line = 4096;
	lim.max_literal = 4096;
	p = imap_parser_new(&lim);
	imap_parser_set_sink(p, 512, count_sink, &streamed);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		enum imap_parse r = imap_parser_feed(p, (const char *)data + off, n, &used);
		uint64_t got, total;

		if (used > n)
			abort();
		if (imap_parser_in_literal(p, &got, &total) && got > total)
			abort();
		off += used;
		if (r == IMAP_PARSE_ERROR)
			break;
		if (r == IMAP_PARSE_DONE) {
			const struct imap_response *resp = imap_parser_response(p);
			struct sync_meta m;

			if (resp == NULL)
				abort();
			if (resp->keyword != NULL && strcasecmp(resp->keyword, "FETCH") == 0) {
				sync_meta_parse(resp, &m, NULL, NULL);
				if (m.flags != NULL)
					check_flags(m.flags);
				if ((m.have & SYNC_HAVE_DATE) && m.date == NULL)
					abort();
				if (m.date != NULL)
					check_date(m.date);
				free(m.flags);
				free(m.date);
				free(m.msgid);
			}
		} else if (used < n) {
			abort(); /* MORE takes every byte */
		}
	}
	imap_parser_free(p);
	return 0;
}
