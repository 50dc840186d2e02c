/*
 * fuzz_folders.c - libFuzzer target for how folders.c reads server bytes:
 * the input is server output fed to the IMAP parser; every response goes
 * through folders_parse_list and folders_parse_status (against the last
 * listed folder), and every listed name through the name rules, the case
 * duplicate scan, the suggestion and the modified UTF-7 round trip; every
 * NAMESPACE response through folders_parse_namespace, and the listed folders
 * (below the namespace it gave, else folders_ns_guess's) through folders_map
 * against a fixed Exchange-like destination with a plan rule. Seeds:
 * tests/fuzz/corpus/fuzz_folders/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/folders.h"
#include "src/imap.h"

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
	struct folders_inventory src, dst;
	struct folders_folder df[3];
	struct folders_mapping map[FUZZ_MAX_FOLDERS];
	const struct folders_rule rule[2] = {{"Old/Name", "New/Name"}, {"Junk", NULL}};
	char *prefix = NULL, pdelim = '\0';

	memset(f, 0, sizeof(f));
	while (off < size) {
		size_t used = 0;
		enum imap_parse pr =
		    imap_parser_feed(p, (const char *)data + off, size - off, &used);
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
		{
			char *pre = NULL, d = '\0', **fo = NULL;
			size_t nf = 0;

			if (folders_parse_namespace(r, &pre, &d, &fo, &nf) == 1) {
				for (size_t k = 0; k < nf; k++)
					free(fo[k]);
				free(fo);
				free(prefix);
				prefix = pre;
				pdelim = d;
			}
		}
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

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	memset(df, 0, sizeof(df));
	for (size_t i = 0; i < n; i++) {
		f[i].has_status = 1;
		if (f[i].delim != '\0')
			src.delim = f[i].delim;
	}
	src.folders = f;
	src.n = n;
	src.ns_delim = pdelim;
	if (prefix == NULL) {
		const char *raw[FUZZ_MAX_FOLDERS];

		for (size_t i = 0; i < n; i++)
			raw[i] = f[i].raw_name;
		prefix = folders_ns_guess(raw, n, src.delim);
	}
	src.ns_prefix = prefix;
	df[0] = (struct folders_folder){
	    .raw_name = "INBOX", .name = "INBOX", .delim = '/', .has_status = 1};
	df[1] = (struct folders_folder){.raw_name = "Sent Items",
	    .name = "Sent Items",
	    .delim = '/',
	    .special = FOLDERS_SPECIAL_SENT,
	    .has_status = 1};
	df[2] = (struct folders_folder){
	    .raw_name = "Drafts", .name = "Drafts", .delim = '/', .has_status = 1};
	dst.folders = df;
	dst.n = 3;
	dst.delim = '/';
	dst.ns_prefix = "";
	folders_map(&src, &dst, rule, 2, map);
	for (size_t i = 0; i < n; i++) {
		free(map[i].dst_raw);
		free(map[i].dst_name);
	}
	free(prefix);
	for (size_t i = 0; i < n; i++)
		folders_folder_clear(&f[i]);
	imap_parser_free(p);
	return 0;
}
