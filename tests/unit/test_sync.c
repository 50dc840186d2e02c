/*
 * test_sync.c - the pure helpers of the sync engine (src/sync.c): folder
 * name mapping between delimiters, Message-ID extraction, RFC 4315 uid-sets,
 * throttling responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/imap.h"
#include "src/sync.h"
#include "src/sync_p.h"

static void
test_map_name(void **state)
{
	char *s;
	int rw;

	(void)state;
	s = sync_map_name("Archive.2019", '.', '/', &rw);
	assert_string_equal(s, "Archive/2019");
	assert_int_equal(rw, 0);
	free(s);
	s = sync_map_name("Clients/Partners", '.', '/', &rw);
	assert_string_equal(s, "Clients-Partners");
	assert_int_equal(rw, 1);
	free(s);
	/* Modified UTF-7 runs are copied as they are (',' and '+' stay). */
	s = sync_map_name("Entw&APw-rfe.Caf&AOk-", '.', '/', &rw);
	assert_string_equal(s, "Entw&APw-rfe/Caf&AOk-");
	assert_int_equal(rw, 0);
	free(s);
	s = sync_map_name("A/B.C", '/', '.', &rw);
	assert_string_equal(s, "A.B-C");
	assert_int_equal(rw, 1);
	free(s);
	s = sync_map_name("flat", '\0', '/', &rw);
	assert_string_equal(s, "flat");
	free(s);
	s = sync_map_name("&Jjo-/x", '.', '/', &rw);
	assert_string_equal(s, "&Jjo--x");
	assert_int_equal(rw, 1);
	free(s);
}

static void
test_message_id(void **state)
{
	const char *h1 = "Subject: x\r\nMessage-ID: <a@b>\r\n\r\n";
	const char *h2 = "message-id:\r\n  <folded@b>  \r\nX: y\r\n";
	const char *h3 = "Subject: no id\r\n\r\n";
	char *s;

	(void)state;
	s = sync_message_id(h1, strlen(h1));
	assert_string_equal(s, "<a@b>");
	free(s);
	s = sync_message_id(h2, strlen(h2));
	assert_string_equal(s, "<folded@b>");
	free(s);
	assert_null(sync_message_id(h3, strlen(h3)));
	assert_null(sync_message_id("Message-ID:   \r\n", 16));
}

static void
test_uid_set(void **state)
{
	uint32_t u[8];

	(void)state;
	assert_int_equal(sync_uid_set("5:7,9", u, 8), 4);
	assert_int_equal(u[0], 5);
	assert_int_equal(u[2], 7);
	assert_int_equal(u[3], 9);
	assert_int_equal(sync_uid_set("9:7", u, 8), 3); /* either order (RFC 3501 9) */
	assert_int_equal(u[0], 7);
	assert_int_equal(sync_uid_set("1:100", u, 8), -1); /* more than fit */
	assert_int_equal(sync_uid_set("0", u, 8), -1);
	assert_int_equal(sync_uid_set("4294967296", u, 8), -1);
	assert_int_equal(sync_uid_set("3,", u, 8), 1);
	assert_int_equal(sync_uid_set("3 4", u, 8), -1);
	assert_int_equal(sync_uid_set("", u, 8), 0);
}

static void
test_copyuid(void **state)
{
	uint32_t uv = 0, s[8], d[8];

	(void)state;
	assert_int_equal(sync_copyuid("38505 304,319:320 3956:3958", &uv, s, d, 8), 3);
	assert_int_equal(uv, 38505);
	assert_int_equal(s[0], 304);
	assert_int_equal(d[0], 3956);
	assert_int_equal(s[2], 320);
	assert_int_equal(d[2], 3958);
	assert_int_equal(sync_copyuid("7 3,1 10:11", &uv, s, d, 8), 2); /* in the sets' order */
	assert_int_equal(s[0], 3);
	assert_int_equal(d[0], 10);
	assert_int_equal(s[1], 1);
	assert_int_equal(d[1], 11);
	assert_int_equal(sync_copyuid("7 1:3 10:11", &uv, s, d, 8), -1); /* lengths differ */
	assert_int_equal(sync_copyuid("7 1:9 10:18", &uv, s, d, 8), -1); /* more than fit */
	assert_int_equal(sync_copyuid("0 1 2", &uv, s, d, 8), -1);
	assert_int_equal(sync_copyuid("7 1", &uv, s, d, 8), -1);
	assert_int_equal(sync_copyuid("x 1 2", &uv, s, d, 8), -1);
	assert_int_equal(sync_copyuid("12345678901234567890 1 2", &uv, s, d, 8), -1);
	assert_int_equal(sync_copyuid("7 1 2 extra", &uv, s, d, 8), 1);
}

static void
test_throttle(void **state)
{
	(void)state;
	assert_int_equal(sync_throttle_ms(NULL,
	                     "Request is throttled. Suggested Backoff Time: "
	                     "2500 milliseconds"),
	    2500);
	assert_int_equal(sync_throttle_ms("THROTTLED", "slow down"), -1);
	assert_int_equal(sync_throttle_ms("UNAVAILABLE", "try later"), -1);
	assert_int_equal(sync_throttle_ms("TRYCREATE", "no such mailbox"), 0);
	assert_int_equal(sync_throttle_ms(NULL, "Mailbox doesn't exist"), 0);
}

/* STATUS (HIGHESTMODSEQ) answers as a server sends them (RFC 7162 3.1.2). */
static int
status_of(const char *line, const char **name, uint64_t *modseq, char *namebuf, size_t nlen)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used = 0;
	int rc = -2;

	if (imap_parser_feed(p, line, strlen(line), &used) == IMAP_PARSE_DONE) {
		rc = sync_status_modseq(imap_parser_response(p), name, modseq);
		if (rc == 1) {
			snprintf(namebuf, nlen, "%s", *name);
			*name = namebuf;
		}
	}
	imap_parser_free(p);
	return rc;
}

static void
test_status_modseq(void **state)
{
	const char *name = NULL;
	uint64_t ms = 7;
	char buf[64];

	(void)state;
	assert_int_equal(status_of("* STATUS INBOX (HIGHESTMODSEQ 9223372036854775807)\r\n", &name,
	                     &ms, buf, sizeof(buf)),
	    1);
	assert_string_equal(name, "INBOX");
	assert_true(ms == 9223372036854775807ull);
	assert_int_equal(status_of("* STATUS \"Sent Items\" (MESSAGES 3 HIGHESTMODSEQ 12)\r\n",
	                     &name, &ms, buf, sizeof(buf)),
	    1);
	assert_string_equal(name, "Sent Items");
	assert_true(ms == 12);
	/* No HIGHESTMODSEQ (NOMODSEQ mailbox): 0, "not known". */
	assert_int_equal(
	    status_of("* STATUS Work (UIDNEXT 4)\r\n", &name, &ms, buf, sizeof(buf)), 1);
	assert_true(ms == 0);
	/* Out of range, not a number, not a STATUS. */
	assert_int_equal(status_of("* STATUS A (HIGHESTMODSEQ 9223372036854775808)\r\n", &name, &ms,
	                     buf, sizeof(buf)),
	    -1);
	assert_int_equal(
	    status_of("* STATUS A (HIGHESTMODSEQ x1)\r\n", &name, &ms, buf, sizeof(buf)), -1);
	assert_int_equal(
	    status_of("* STATUS A HIGHESTMODSEQ\r\n", &name, &ms, buf, sizeof(buf)), -1);
	assert_int_equal(status_of("* 3 EXISTS\r\n", &name, &ms, buf, sizeof(buf)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_name),
	    cmocka_unit_test(test_message_id),
	    cmocka_unit_test(test_uid_set),
	    cmocka_unit_test(test_copyuid),
	    cmocka_unit_test(test_throttle),
	    cmocka_unit_test(test_status_modseq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
