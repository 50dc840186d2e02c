/*
 * fuzz_dmarc.c - libFuzzer target for the DMARC record parser (src/dmarc.c):
 * record selection, then the parse; on success every field is read (so ASan
 * sees a bad pointer) and the invariants checked, on failure the error
 * position must lie inside the input. Seeds: tests/fuzz/corpus/fuzz_dmarc/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	struct dmarc_record *rec = NULL;
	struct dmarc_error err;
	size_t n = 0;

	(void)dmarc_is_record(txt, size);
	if (dmarc_parse(txt, size, &rec, &err) != 0) {
		if (rec != NULL || err.pos > size || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			abort();
		return 0;
	}
	if (rec->p == DMARC_POLICY_UNSET || rec->sp == DMARC_POLICY_UNSET || rec->pct < 0 ||
	    rec->pct > 100 || rec->n_rua > DMARC_MAX_URIS || rec->n_ruf > DMARC_MAX_URIS ||
	    (rec->adkim != 'r' && rec->adkim != 's') || (rec->aspf != 'r' && rec->aspf != 's'))
		abort();
	for (size_t i = 0; i < rec->n_rua; i++)
		n += strlen(rec->rua[i].uri) + (size_t)(rec->rua[i].max_bytes & 1);
	for (size_t i = 0; i < rec->n_ruf; i++)
		n += strlen(rec->ruf[i].uri);
	for (size_t i = 0; i < rec->n_unknown; i++)
		n += strlen(rec->unknown[i]);
	n += strlen(rec->fo_text) + strlen(rec->rf) + strlen(dmarc_policy_str(rec->p));
	if (n > 2 * size + 16)
		abort();
	dmarc_free(rec);
	return 0;
}
