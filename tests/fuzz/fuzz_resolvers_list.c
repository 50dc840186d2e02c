/*
 * fuzz_resolvers_list.c - libFuzzer target for prop_list_parse(): a
 * resolvers list (--resolvers-file, the public list) as a user or an
 * attacker-controlled download might hand it over. Every field of every
 * entry is read, then freed; an error must come with a message and leave
 * the entries parsed before it intact.
 * Seeds: tests/fuzz/corpus/fuzz_resolvers_list/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/propagation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern volatile size_t fuzz_resolvers_sink;

/* Where the touched lengths go, so the reads cannot be optimised away. */
volatile size_t fuzz_resolvers_sink;

static size_t
fuzz_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prop_list l;
	char *err = NULL;
	int rc;

	memset(&l, 0, sizeof(l));
	rc = prop_list_parse((const char *)data, size, "fuzz.txt", &l, &err);
	if (rc != 0 && err == NULL)
		abort(); /* the contract: an error has a message */
	if (rc == 0 && err != NULL)
		abort();
	for (size_t i = 0; i < l.n; i++) {
		const struct prop_list_entry *e = &l.v[i];

		if (e->server == NULL || e->canonical == NULL || e->line == 0)
			abort();
		if (e->country != NULL && strlen(e->country) != 2)
			abort();
		fuzz_resolvers_sink += fuzz_len(e->server) + fuzz_len(e->operator) +
		    fuzz_len(e->country) + fuzz_len(e->source) + fuzz_len(e->canonical);
	}
	if (err != NULL)
		fuzz_resolvers_sink += strlen(err);
	free(err);
	prop_list_free(&l);
	return 0;
}
