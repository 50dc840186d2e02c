/*
 * test_shard.c - `audit --shard K/N` (src/shard.c) and where checks run
 * (check_in_shard in checks/registry.c).
 *
 * The shard formula is a contract (README, --help): the expected values
 * below were computed independently with Python's hashlib:
 *   1 + int.from_bytes(sha256(user.lower()).digest()[:8], "big") % n
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checks/check.h"
#include "src/plan.h"
#include "src/shard.h"
#include "src/util.h"

static void
test_parse(void **state)
{
	unsigned k, n;
	const char *want;

	(void)state;
	assert_int_equal(shard_parse("1/1", &k, &n, &want), 0);
	assert_int_equal(k, 1);
	assert_int_equal(n, 1);
	assert_int_equal(shard_parse("3/8", &k, &n, &want), 0);
	assert_int_equal(k, 3);
	assert_int_equal(n, 8);
	assert_int_equal(shard_parse("10000/10000", &k, &n, &want), 0);
	assert_int_equal(shard_parse("9/8", &k, &n, &want), -1);
	assert_non_null(strstr(want, "larger"));
	static const char *const bad[] = {
	    "",
	    "3",
	    "/8",
	    "3/",
	    "0/8",
	    "3/0",
	    "-1/8",
	    "3/8/9",
	    "a/b",
	    " 3/8",
	    "3 /8",
	    "10001/10001",
	    "1/99999999999999999999",
	};
	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
		assert_int_equal(shard_parse(bad[i], &k, &n, &want), -1);
		assert_non_null(want);
	}
}

static void
test_known_values(void **state)
{
	(void)state;
	assert_int_equal(shard_of("alice@lab.test", 4), 3);
	assert_int_equal(shard_of("Alice@Lab.Test", 4), 3); /* ASCII case folded */
	assert_int_equal(shard_of("bob@lab.test", 7), 3);
	assert_int_equal(shard_of("user199@lab.test", 10), 5);
	assert_int_equal(shard_of("anyone", 1), 1);
	assert_int_equal(shard_of("anyone", 0), 1);
}

/* 10,000 users over 8 shards: every shard gets some, none much more than its share. */
static void
test_spread(void **state)
{
	unsigned counts[9] = {0};

	(void)state;
	for (int i = 0; i < 10000; i++) {
		char user[64];
		unsigned s;

		snprintf(user, sizeof(user), "user%d@example.com", i);
		s = shard_of(user, 8);
		assert_in_range(s, 1, 8);
		counts[s]++;
	}
	for (int s = 1; s <= 8; s++)
		assert_in_range(counts[s], 1250 - 200, 1250 + 200);
}

static struct plan *
test_plan(size_t n)
{
	struct plan *p = xcalloc(1, sizeof(*p));

	p->domain = xstrdup("example.com");
	p->mailboxes = xcalloc(n, sizeof(*p->mailboxes));
	p->n_mailboxes = n;
	for (size_t i = 0; i < n; i++) {
		p->mailboxes[i].source_user = xasprintf("user%zu@example.com", i);
		p->mailboxes[i].dest_user = xasprintf("user%zu@example.com", i);
	}
	return p;
}

/* The N slices are disjoint, cover the plan, keep plan order, and the view
 * shares the plan's strings. */
static void
test_select_partition(void **state)
{
	struct plan *p = test_plan(500);
	unsigned *seen = xcalloc(p->n_mailboxes, sizeof(*seen));
	size_t total = 0;

	(void)state;
	for (unsigned k = 1; k <= 5; k++) {
		struct plan *view = shard_plan(p, k, 5);
		size_t m, *idx = shard_select(p, k, 5, &m);

		assert_int_equal(view->n_mailboxes, m);
		assert_ptr_equal(view->domain, p->domain);
		for (size_t i = 0; i < m; i++) {
			assert_ptr_equal(
			    view->mailboxes[i].source_user, p->mailboxes[idx[i]].source_user);
			if (i > 0)
				assert_true(idx[i] > idx[i - 1]);
			assert_int_equal(shard_of(view->mailboxes[i].source_user, 5), k);
			seen[idx[i]]++;
		}
		total += m;
		free(idx);
		shard_plan_free(view);
	}
	assert_int_equal(total, p->n_mailboxes);
	for (size_t i = 0; i < p->n_mailboxes; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	plan_free(p);
}

/* Whatever the plan order, a user stays in its shard. */
static void
test_order_independent(void **state)
{
	struct plan *p = test_plan(50), *q = test_plan(50);

	(void)state;
	for (size_t i = 0; i < 50; i++) { /* q: the same users reversed */
		free(q->mailboxes[i].source_user);
		q->mailboxes[i].source_user = xasprintf("user%zu@example.com", 49 - i);
	}
	for (unsigned k = 1; k <= 3; k++) {
		struct plan *a = shard_plan(p, k, 3), *b = shard_plan(q, k, 3);

		assert_int_equal(a->n_mailboxes, b->n_mailboxes);
		for (size_t i = 0; i < a->n_mailboxes; i++)
			assert_string_equal(a->mailboxes[i].source_user,
			    b->mailboxes[a->n_mailboxes - 1 - i].source_user);
		shard_plan_free(a);
		shard_plan_free(b);
	}
	plan_free(p);
	plan_free(q);
}

static void
test_empty_plan(void **state)
{
	struct plan *p = test_plan(0);
	struct plan *view = shard_plan(p, 2, 4);
	size_t m = 99;

	(void)state;
	assert_null(shard_select(p, 1, 4, &m));
	assert_int_equal(m, 0);
	assert_int_equal(view->n_mailboxes, 0);
	assert_null(view->mailboxes);
	shard_plan_free(view);
	plan_free(p);
}

static void
test_noop_schedule(struct runner *r, const struct check_input *in)
{
	(void)r;
	(void)in;
}

static void
test_check_scope(void **state)
{
	const struct check dns = {.id = "dns.mx", .group = "dns", .schedule = test_noop_schedule};
	const struct check web = {
	    .id = "web.webmail", .group = "web", .schedule = test_noop_schedule};
	const struct check login = {
	    .id = "imap.login", .group = "imap", .schedule = test_noop_schedule};
	const struct check tls = {.id = "imap.tls",
	    .group = "imap",
	    .scope = CHECK_SCOPE_ONCE,
	    .schedule = test_noop_schedule};
	const struct check mbx = {.id = "x.mailbox",
	    .group = "dns",
	    .scope = CHECK_SCOPE_MAILBOX,
	    .schedule = test_noop_schedule};

	(void)state;
	/* Not sharded, or shard 1: everything runs. */
	assert_true(check_in_shard(&dns, 0, 0));
	assert_true(check_in_shard(&tls, 0, 0));
	assert_true(check_in_shard(&dns, 1, 4));
	assert_true(check_in_shard(&tls, 1, 4));
	assert_true(check_in_shard(&dns, 1, 1));
	/* Other shards: domain checks do not, mailbox checks do. */
	assert_false(check_in_shard(&dns, 2, 4));
	assert_false(check_in_shard(&web, 4, 4));
	assert_false(check_in_shard(&tls, 3, 4));
	assert_true(check_in_shard(&login, 2, 4));
	assert_true(check_in_shard(&mbx, 2, 4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_known_values),
	    cmocka_unit_test(test_spread),
	    cmocka_unit_test(test_select_partition),
	    cmocka_unit_test(test_order_independent),
	    cmocka_unit_test(test_empty_plan),
	    cmocka_unit_test(test_check_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
