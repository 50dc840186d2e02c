/*
 * fuzz_syncflags.c - libFuzzer target for the flag sets of `cutover sync`
 * (src/syncflags.c): flags as a server sends them (any bytes) normalized,
 * and the three-way merge of four such sets. Checks what the sync relies on:
 * every element of a result may be written into a STORE command as it is
 * (syncflags_ok), sets are sorted and unique, and the merge keeps every flag
 * of the destination unless the source removed it alone.
 * Input: four fields separated by NUL bytes (base_src, src, base_dst, dst),
 * each split on spaces into flags. Seeds: tests/fuzz/corpus/fuzz_syncflags/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/syncflags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The normalized set of the space-separated flags in S (any bytes). */
static char *
norm_field(const char *s)
{
	const char *v[64];
	char *copy = strdup(s), *p = copy, *out;
	size_t n = 0;

	while (p != NULL && *p != '\0' && n < 64) {
		char *e = strchr(p, ' ');

		if (e != NULL)
			*e++ = '\0';
		v[n++] = p;
		p = e;
	}
	out = syncflags_norm(v, n);
	free(copy);
	return out;
}

/* Every element sendable, strictly increasing (sorted, unique). */
static void
check_set(const char *set)
{
	char *copy = strdup(set), *p = copy, *prev = NULL;

	while (*p != '\0') {
		char *e = strchr(p, ' ');

		if (e != NULL)
			*e = '\0';
		if (!syncflags_ok(p) || (prev != NULL && strcmp(prev, p) >= 0))
			abort();
		prev = p;
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 4), *f[4], *set[4], *merged, *gone;
	size_t k = 0;
	int conflict;

	memcpy(buf, data, size);
	memset(buf + size, 0, 4);
	f[0] = buf;
	for (size_t i = 0; i < size && k < 3; i++)
		if (buf[i] == '\0')
			f[++k] = buf + i + 1;
	while (k < 3)
		f[++k] = buf + size;
	for (int i = 0; i < 4; i++) {
		set[i] = norm_field(f[i]);
		check_set(set[i]);
	}
	merged = syncflags_merge(set[0], set[1], set[2], set[3], &conflict);
	check_set(merged);
	/* A flag of the destination leaves only when the source removed it and
	 * the destination did not change: nothing else may drop one. */
	gone = syncflags_minus(set[3], merged);
	if (*gone != '\0' &&
	    (conflict || strcmp(set[1], set[0]) == 0 || strcmp(set[3], set[2]) != 0))
		abort();
	free(gone);
	free(merged);
	for (int i = 0; i < 4; i++)
		free(set[i]);
	free(buf);
	return 0;
}
