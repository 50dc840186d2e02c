/*
 * fuzz_plan.c - libFuzzer target for plan_parse (pure: no file or environment
 * access). Every input must end in a plan or in one error message, never a
 * crash, leak or read outside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan *p = NULL;
	char *err = NULL;

	if (plan_parse((const char *)data, size, "fuzz/plan.json", &p, &err) == 0) {
		if (p == NULL || err != NULL || p->domain == NULL || p->state_dir == NULL)
			abort();
		plan_free(p);
	} else {
		if (p != NULL || err == NULL || strncmp(err, "fuzz/plan.json", 14) != 0)
			abort();
		free(err);
	}
	return 0;
}
