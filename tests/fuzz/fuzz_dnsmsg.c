/*
 * fuzz_dnsmsg.c - libFuzzer target for dnsmsg_parse(): parse, walk every
 * record with dnsmsg_next() for the types checks ask for, follow the CNAME
 * chain from the question, free. Seeds: tests/fuzz/corpus/fuzz_dnsmsg/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every field a caller may read, so ASan sees any bad pointer. */
static size_t
fuzz_touch(const struct dnsmsg_rr *rr)
{
	size_t n = strlen(rr->name) + strlen(rr->addr), i;

	if (rr->target != NULL)
		n += strlen(rr->target);
	if (rr->mname != NULL)
		n += strlen(rr->mname) + strlen(rr->rname);
	for (i = 0; i < rr->n_strings; i++)
		n += rr->string_lens[i] + (unsigned char)rr->strings[i][rr->string_lens[i]];
	if (rr->text != NULL)
		n += rr->text_len + (unsigned char)rr->text[rr->text_len];
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {DNSMSG_A, DNSMSG_AAAA, DNSMSG_CNAME, DNSMSG_MX, DNSMSG_TXT,
	    DNSMSG_SRV, DNSMSG_SOA, DNSMSG_NS, DNSMSG_PTR, 41};
	static const enum dnsmsg_section sects[] = {
	    DNSMSG_ANSWER, DNSMSG_AUTHORITY, DNSMSG_ADDITIONAL};
	struct dnsmsg *msg = NULL;
	const struct dnsmsg_rr *rr;
	const char *name;
	char *err = NULL, tbuf[16];
	size_t s, t, iter;
	volatile size_t sink = 0;

	if (dnsmsg_parse(data, size, &msg, &err) != 0) {
		if (msg != NULL || err == NULL)
			abort();
		free(err);
		return 0;
	}
	if (err != NULL)
		abort();
	name = msg->qname != NULL ? dnsmsg_resolve_cname(msg, msg->qname) : NULL;
	for (s = 0; s < sizeof(sects) / sizeof(sects[0]); s++) {
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			iter = 0;
			rr = dnsmsg_next(msg, sects[s], types[t], NULL, &iter);
			for (; rr != NULL; rr = dnsmsg_next(msg, sects[s], types[t], NULL, &iter))
				sink += fuzz_touch(rr);
			iter = 0;
			rr = dnsmsg_next(msg, sects[s], types[t], name, &iter);
			for (; rr != NULL; rr = dnsmsg_next(msg, sects[s], types[t], name, &iter))
				sink += fuzz_touch(rr);
		}
	}
	for (iter = 0; iter < msg->n_rr; iter++) {
		sink += strlen(dnsmsg_type_str(msg->rr[iter].type, tbuf, sizeof(tbuf)));
		sink += strlen(dnsmsg_resolve_cname(msg, msg->rr[iter].name));
	}
	(void)sink;
	dnsmsg_free(msg);
	return 0;
}
