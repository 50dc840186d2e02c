/*
 * fuzz_autodiscover_xml.c - libFuzzer target for autodiscover_parse(): the
 * same bytes as an Outlook POX response and as a Thunderbird autoconfig
 * document; every field of a parsed result is read, then freed. The first
 * byte chooses the kind first, so both orders are exercised.
 * Seeds: tests/fuzz/corpus/fuzz_autodiscover_xml/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/autodiscover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern volatile size_t fuzz_autodiscover_sink;

/* Where the touched lengths go, so the reads cannot be optimised away. */
volatile size_t fuzz_autodiscover_sink;

static size_t
fuzz_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Touch every string, so ASan sees any bad pointer. */
static size_t
fuzz_touch(const struct autodiscover_settings *s)
{
	size_t n = fuzz_len(s->display_name) + fuzz_len(s->smtp_address) + fuzz_len(s->action) +
	    fuzz_len(s->redirect) + fuzz_len(s->error_code) + fuzz_len(s->error_message) +
	    fuzz_len(s->provider_id) + s->n_servers_dropped;

	for (size_t i = 0; i < s->n_servers; i++) {
		const struct autodiscover_server *v = &s->servers[i];

		n += fuzz_len(v->type) + fuzz_len(v->direction) + fuzz_len(v->host) +
		    fuzz_len(v->security) + fuzz_len(v->ews_url) + fuzz_len(v->owa_url) +
		    fuzz_len(v->as_url) + (size_t)v->port;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum autodiscover_kind kinds[2] = {AUTODISCOVER_POX, AUTODISCOVER_AUTOCONFIG};

	if (size > 0 && (data[0] & 1)) {
		kinds[0] = AUTODISCOVER_AUTOCONFIG;
		kinds[1] = AUTODISCOVER_POX;
	}
	for (int k = 0; k < 2; k++) {
		struct autodiscover_settings *s = NULL;
		char *err = NULL;

		if (autodiscover_parse(kinds[k], (const char *)data, size, &s, &err) == 0) {
			fuzz_autodiscover_sink += fuzz_touch(s);
			autodiscover_settings_free(s);
		} else {
			if (err == NULL || s != NULL)
				abort(); /* the contract: an error message and no result */
			fuzz_autodiscover_sink += strlen(err);
			free(err);
		}
	}
	return 0;
}
