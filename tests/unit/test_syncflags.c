/*
 * test_syncflags.c - flag sets and the three-way merge of `cutover sync`
 * (src/syncflags.c): what the final pass does with flags changed on either
 * side since the last pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/syncflags.h"

static void
check_merge(const char *bs, const char *s, const char *bd, const char *d, const char *want,
    int want_conflict)
{
	int conflict = -1;
	char *got = syncflags_merge(bs, s, bd, d, &conflict);

	assert_string_equal(got, want);
	assert_int_equal(conflict, want_conflict);
	free(got);
}

static void
test_norm(void **state)
{
	const char *in[] = {"\\Seen", "$Label1", "\\Recent", "\\seen", "\\Deleted", "bad(flag", "",
	    "\\", "\\Answered", "$Label1", "k\"q", "\xc3\xa9t\xc3\xa9"};
	char *s;

	(void)state;
	s = syncflags_norm(in, sizeof(in) / sizeof(in[0]));
	/* Sorted, unique (system flags without case), nothing unsendable. */
	assert_string_equal(s, "$Label1 \\Answered \\Seen");
	free(s);
	s = syncflags_norm(NULL, 0);
	assert_string_equal(s, "");
	free(s);
	assert_true(syncflags_ok("\\Flagged"));
	assert_true(syncflags_ok("NonJunk"));
	assert_false(syncflags_ok("\\Recent"));
	assert_false(syncflags_ok("a b"));
	assert_false(syncflags_ok("a]"));
	assert_false(syncflags_ok("x\r\nA1 LOGOUT"));
	assert_true(syncflags_has("$Label1 \\Seen", "\\SEEN"));
	assert_false(syncflags_has("$Label1 \\Seen", "$label1"));
	assert_false(syncflags_has("", "\\Seen"));
}

static void
test_merge(void **state)
{
	(void)state;
	/* Nothing changed. */
	check_merge("\\Seen", "\\Seen", "\\Seen", "\\Seen", "\\Seen", 0);
	/* Read at the source: \Seen arrives. */
	check_merge("", "\\Seen", "", "", "\\Seen", 0);
	/* Marked unread at the source. */
	check_merge("\\Seen", "", "\\Seen", "\\Seen", "", 0);
	/* Flagged at the destination only: kept. */
	check_merge("\\Seen", "\\Seen", "\\Seen", "\\Flagged \\Seen", "\\Flagged \\Seen", 0);
	/* Unread at the destination only: kept. */
	check_merge("\\Seen", "\\Seen", "\\Seen", "", "", 0);
	/* A keyword at the source, the destination also changed: union, conflict. */
	check_merge("", "$Label1", "", "\\Flagged", "$Label1 \\Flagged", 1);
	/* Source removed \Seen while the destination added \Flagged: nothing lost. */
	check_merge("\\Seen", "", "\\Seen", "\\Flagged \\Seen", "\\Flagged \\Seen", 1);
	/* Source delta applied over destination-only flags recorded at the last pass. */
	check_merge("\\Seen", "$Label1 \\Seen", "\\Flagged \\Seen", "\\Flagged \\Seen",
	    "$Label1 \\Flagged \\Seen", 0);
}

static void
test_minus(void **state)
{
	char *s;

	(void)state;
	s = syncflags_minus("$Label1 \\Flagged \\Seen", "\\Seen");
	assert_string_equal(s, "$Label1 \\Flagged");
	free(s);
	s = syncflags_minus("\\Seen", "\\Seen");
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_norm),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_minus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
