/*
 * fuzz_sync.c - libFuzzer target for what the sync engine parses from
 * servers (src/sync.c): the Message-ID of a header section, the uid-set of
 * an APPENDUID code (RFC 4315), a throttling response text, and a folder
 * name mapped between delimiters. The first byte picks the delimiters.
 * Seeds: tests/fuzz/corpus/fuzz_sync/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {'.', '/', '\0', '\\'};
	uint32_t uids[64];
	char *s, *id, *mapped;
	int rw, n;

	if (size < 1)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	id = sync_message_id(s, size - 1);
	if (id != NULL && strlen(id) > 998)
		abort();
	free(id);
	n = sync_uid_set(s, uids, 64);
	if (n > 64)
		abort();
	{
		uint32_t uv, dst[64];

		n = sync_copyuid(s, &uv, uids, dst, 64);
		if (n > 64 || (n > 0 && uv == 0))
			abort();
	}
	(void)sync_throttle_ms(s, s);
	mapped = sync_map_name(s, delims[data[0] & 3], delims[(data[0] >> 2) & 3], &rw);
	if (strlen(mapped) != strlen(s))
		abort();
	free(mapped);
	free(s);
	return 0;
}
