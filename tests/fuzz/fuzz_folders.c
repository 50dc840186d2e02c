/*
 * fuzz_folders.c - libFuzzer target for how folders.c reads server bytes:
 * the input is server output fed to the IMAP parser; every response goes
 * through folders_parse_list and folders_parse_status (against the last
 * listed folder), and every listed name through the name rules, the case
 * duplicate scan, the suggestion and the modified UTF-7 round trip. Seeds:
 * tests/fuzz/corpus/fuzz_folders/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "folders.h"
#include "imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FOLDERS 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits lim = {4096, 4096, 1 << 20, 1 << 16, 16};
	struct imap_parser *p = imap_parser_new(&lim);
	struct folders_folder f[FUZZ_MAX_FOLDERS];
	struct folders_name_rules rules = {'.', '/', 1};
	const char *names[FUZZ_MAX_FOLDERS];
	size_t dup[FUZZ_MAX_FOLDERS], n = 0, off = 0;

	memset(f, 0, sizeof(f));
	while (off < size) {
		size_t used = 0;
		enum imap_parse pr = imap_parser_feed(p, (const char *)data + off, size - off, &used);
		const struct imap_response *r;

		off += used;
		if (pr != IMAP_PARSE_DONE)
			break;
		r = imap_parser_response(p);
		if (n < FUZZ_MAX_FOLDERS && folders_parse_list(r, &f[n]) == 1) {
			if (f[n].delim != '\0')
				rules.src_delim = f[n].delim;
			n++;
		}
		if (n > 0)
			(void)folders_parse_status(r, NULL, &f[n - 1]);
		if (used == 0)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned pb = folders_name_problems(f[i].name, &rules);
		char *s = folders_name_suggest(f[i].name, pb | FOLDERS_NP_CASE_DUP, &rules);
		char *e = folders_mutf7_encode(f[i].name, strlen(f[i].name));

		(void)folders_special_guess(f[i].name, f[i].delim);
		free(s);
		free(e);
		names[i] = f[i].name;
	}
	folders_name_case_dups(names, n, dup);
	for (size_t i = 0; i < n; i++)
		folders_folder_clear(&f[i]);
	imap_parser_free(p);
	return 0;
}
