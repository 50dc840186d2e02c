/*
 * fuzz_csv.c - libFuzzer target for plan_csv_parse (pure: password
 * references stay unresolved), plus plan_url_parse on the first line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/plan.h"
#include "src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = {"imap", "pop3", "webmail"};
	struct plan_mailbox *mbs = NULL;
	struct plan_url url;
	size_t n = 0, i, line;
	char *err = NULL, *warn = NULL, *s;

	if (plan_csv_parse((const char *)data, size, "users.csv", &mbs, &n, &warn, &err) == 0) {
		if (err != NULL || (n > 0 && mbs == NULL))
			abort();
		for (i = 0; i < n; i++) {
			if (mbs[i].source_user == NULL || mbs[i].dest_user == NULL ||
			    mbs[i].origin == NULL)
				abort();
			plan_mailbox_clear(&mbs[i]);
		}
		free(mbs);
		if (warn != NULL && strncmp(warn, "users.csv", 9) != 0)
			abort();
		free(warn);
	} else {
		if (mbs != NULL || n != 0 || err == NULL || warn != NULL ||
		    strncmp(err, "users.csv", 9) != 0)
			abort();
		free(err);
	}

	line = 0;
	while (line < size && data[line] != '\n' && data[line] != '\0')
		line++;
	s = xstrndup((const char *)data, line);
	for (i = 0; i < UTIL_ARRAY_LEN(kinds); i++) {
		if (plan_url_parse(s, kinds[i], &url, &err) == 0) {
			if (url.host == NULL || url.port < 1 || url.port > 65535)
				abort();
			plan_url_clear(&url);
		} else {
			free(err);
		}
	}
	free(s);
	return 0;
}
