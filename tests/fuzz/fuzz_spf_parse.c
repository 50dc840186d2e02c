/*
 * fuzz_spf_parse.c - libFuzzer target for spf_parse(): any bytes as a TXT
 * record (a record is untrusted data from DNS). On success every term is
 * read; on failure the error position must lie inside the record.
 * Seeds: tests/fuzz/corpus/fuzz_spf_parse/.
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
	struct spf_record *rec = NULL;
	struct spf_error err;
	size_t touch = 0;

	if (spf_parse((const char *)data, size, &rec, &err) != 0) {
		if (err.pos > size || strlen(err.msg) == 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < rec->n_terms; i++) {
		const struct spf_term *t = &rec->terms[i];

		if (t->pos >= size)
			abort();
		touch += strlen(t->text);
		if (t->domain_spec != NULL)
			touch += strlen(t->domain_spec);
		if (t->name != NULL)
			touch += strlen(t->name) + strlen(t->value);
	}
	(void)spf_is_spf_record((const char *)data, size);
	spf_record_free(rec);
	return touch == (size_t)-1;
}
