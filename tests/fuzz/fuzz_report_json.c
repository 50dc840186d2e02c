/*
 * fuzz_report_json.c - libFuzzer target for reading a saved JSON report
 * (rpt_parse_json -> rpt_from_json, what `cutover report render` and `report
 * merge` do with a file someone sent).
 *
 * Every input must end in a report or in one error message naming the file,
 * never a crash, leak or read outside the input. A report that was read must
 * survive its own round trip: written again (rpt_to_json) it reads back, and
 * that copy writes the very same JSON (what `report merge` relies on when it
 * reads its own output).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "reports/json.h"
#include "src/util.h"

#define FUZZ_NAME "fuzz/r.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_round_trip(const struct report *rep)
{
	cJSON *first = rpt_to_json(rep), *second;
	struct report *again = NULL;
	char *err = NULL, *a, *b;

	if (rpt_from_json(first, &again, &err) != 0) {
		fprintf(stderr, "a written report does not read back: %s\n", err);
		abort();
	}
	if (again->n_results != rep->n_results)
		abort();
	second = rpt_to_json(again);
	/* As text: cJSON_Compare misjudges objects with a duplicate key. */
	a = cJSON_PrintUnformatted(first);
	b = cJSON_PrintUnformatted(second);
	if (a == NULL || b == NULL || strcmp(a, b) != 0) {
		fprintf(stderr, "the round trip changed the report\n");
		abort();
	}
	cJSON_free(a);
	cJSON_free(b);
	cJSON_Delete(second);
	cJSON_Delete(first);
	rpt_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	struct report *rep = NULL;
	char *err = NULL;

	memcpy(text, data, size);
	text[size] = '\0';
	if (rpt_parse_json(text, size, FUZZ_NAME, &rep, &err) == 0) {
		if (rep == NULL || err != NULL)
			abort();
		fuzz_round_trip(rep);
		rpt_free(rep);
	} else {
		if (rep != NULL || err == NULL || strncmp(err, FUZZ_NAME, strlen(FUZZ_NAME)) != 0)
			abort();
		free(err);
	}
	free(text);
	return 0;
}
