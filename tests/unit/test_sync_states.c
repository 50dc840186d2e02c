/*
 * test_sync_states.c - the exactly-once state machine of `cutover sync`
 * (src/sync.c invariants I1-I3) driven through every interleaving of two
 * pipelined MULTIAPPEND batches.
 *
 * Batch 1 holds source UIDs 1-3, batch 2 UIDs 4-6; UID 7 is not copied yet.
 * The events of batch b: C (its intents committed, then the APPEND
 * completed, I1), S (the destination stores it, when its answer is OK) and A
 * (its tagged answer recorded: rows DONE or FAILED and last_uid, I2). Orders
 * allowed: C1 < C2 (one open batch at a time), C < S < A per batch, S1 < S2
 * (one connection). Answers may be recorded in either order: the watermark
 * must not depend on the server answering in order. Each batch's answer is
 * OK or NO. The process may die after any prefix of events; a batch whose
 * APPEND was completed may then still be stored by the server (the dead
 * session) or never arrive. The restart waits for that (I3's settle time),
 * reconciles the intents against what the destination holds, and a pass
 * copies what is left.
 *
 * The real state store (syncstate.c, SQLite) and the real watermark
 * (sync_watermark) are used; the destination is a count of copies per
 * source UID (every message has distinct bytes, so a copy matches exactly
 * one intent). After every event: I2 (every UID at or below last_uid is
 * DONE or FAILED in the state). At the end: every message on the
 * destination exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/sync.h"
#include "src/syncstate.h"
#include "src/util.h"

#define N_MSGS 7
#define PAIR "a@x\tb@y"

enum ev { C1, C2, S1, S2, A1, A2, N_EV };

struct sim {
	struct syncstate *st;
	char *dir;
	int64_t fid;
	int ok[2];           /* answer of each batch: OK (1) or NO (0) */
	int flush[2];        /* after a crash: the dead session's APPEND arrives */
	int did[N_EV];       /* events that happened */
	int mem[N_MSGS + 1]; /* in-memory states: 0 new, 1 in a batch, 2 done, 3 failed */
	size_t cursor;       /* sync_watermark's */
	int dst[N_MSGS + 1]; /* copies on the destination per source UID */
};

static int
mark(const void *ctx, size_t i, uint32_t *uid)
{
	const struct sim *s = ctx;

	*uid = (uint32_t)(i + 1);
	return s->mem[i + 1] >= 2;
}

static struct syncstate_msg
intent(uint32_t uid)
{
	struct syncstate_msg m;

	memset(&m, 0, sizeof(m));
	m.src_uid = uid;
	m.state = SYNCSTATE_INTENT;
	m.size = 100 + uid;
	memset(m.sha256, (int)uid, sizeof(m.sha256));
	m.has_hash = 1;
	m.dst_uidvalidity = 9;
	m.dst_uidnext = 1;
	return m;
}

static uint32_t
last_uid(struct sim *s)
{
	struct syncstate_folder f;
	uint32_t v;

	assert_int_equal(syncstate_folder_get(s->st, PAIR, "INBOX", 1, "INBOX", &f), 0);
	v = f.last_uid;
	s->fid = f.id;
	syncstate_folder_clear(&f);
	return v;
}

/* I2: every UID at or below last_uid is DONE or FAILED in the state. */
static void
check_i2(struct sim *s, const char *when)
{
	uint32_t lu = last_uid(s);
	struct syncstate_msg *rows;
	size_t n;
	int settled[N_MSGS + 1] = {0};

	assert_int_equal(syncstate_msgs(s->st, s->fid, -1, 0, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (rows[i].state == SYNCSTATE_DONE || rows[i].state == SYNCSTATE_FAILED)
			settled[rows[i].src_uid] = 1;
	syncstate_msgs_free(rows, n);
	for (uint32_t u = 1; u <= lu; u++) {
		if (!settled[u])
			fail_msg("I2 broken %s: UID %u <= last_uid %u is not settled", when, u, lu);
	}
}

static void
apply(struct sim *s, enum ev e)
{
	int b = e == C1 || e == S1 || e == A1 ? 0 : 1;
	uint32_t lo = b == 0 ? 1 : 4;

	s->did[e] = 1;
	switch (e) {
	case C1:
	case C2:
		assert_int_equal(syncstate_begin(s->st), 0);
		for (uint32_t u = lo; u < lo + 3; u++) {
			struct syncstate_msg m = intent(u);

			assert_int_equal(syncstate_put(s->st, s->fid, &m), 0);
			s->mem[u] = 1;
		}
		assert_int_equal(syncstate_commit(s->st), 0);
		break;
	case S1:
	case S2:
		if (s->ok[b])
			for (uint32_t u = lo; u < lo + 3; u++)
				s->dst[u]++;
		break;
	case A1:
	case A2: {
		uint32_t wm;

		for (uint32_t u = lo; u < lo + 3; u++)
			s->mem[u] = s->ok[b] ? 2 : 3;
		wm = sync_watermark(s, N_MSGS, mark, &s->cursor);
		assert_int_equal(syncstate_begin(s->st), 0);
		for (uint32_t u = lo; u < lo + 3; u++) {
			if (s->ok[b])
				assert_int_equal(syncstate_done(s->st, s->fid, u, 9, 100 + u), 0);
			else
				assert_int_equal(syncstate_failed(s->st, s->fid, u), 0);
		}
		if (wm > 0)
			assert_int_equal(syncstate_set_last_uid(s->st, s->fid, wm), 0);
		assert_int_equal(syncstate_commit(s->st), 0);
		break;
	}
	default: break;
	}
}

/* The restart: reopen, let the dead session finish, reconcile, copy the rest. */
static void
recover_and_pass(struct sim *s)
{
	struct syncstate_msg *rows;
	size_t n;
	char *err = NULL;
	uint32_t lu;
	int done[N_MSGS + 1] = {0}, failed[N_MSGS + 1] = {0};

	syncstate_close(s->st);
	assert_int_equal(syncstate_open(s->dir, &s->st, &err), 0);
	/* The dead session: a completed APPEND not stored yet may still be. */
	if (s->did[C1] && !s->did[S1] && s->flush[0] && s->ok[0])
		for (uint32_t u = 1; u <= 3; u++)
			s->dst[u]++;
	if (s->did[C2] && !s->did[S2] && s->flush[1] && s->ok[1] && (s->did[S1] || s->flush[0]))
		for (uint32_t u = 4; u <= 6; u++)
			s->dst[u]++;
	/* Reconcile (I3), after the settle time: found -> DONE, else dropped. */
	lu = last_uid(s);
	assert_int_equal(syncstate_msgs(s->st, s->fid, SYNCSTATE_INTENT, 0, &rows, &n), 0);
	assert_int_equal(syncstate_begin(s->st), 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t u = rows[i].src_uid;

		if (s->dst[u] > 0)
			assert_int_equal(syncstate_done(s->st, s->fid, u, 9, 200 + u), 0);
		else
			assert_int_equal(syncstate_drop(s->st, s->fid, u), 0);
	}
	assert_int_equal(syncstate_commit(s->st), 0);
	syncstate_msgs_free(rows, n);
	check_i2(s, "after reconcile");
	/* The next pass: FAILED rows and everything above last_uid not DONE. */
	assert_int_equal(syncstate_msgs(s->st, s->fid, -1, 0, &rows, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (rows[i].state == SYNCSTATE_DONE)
			done[rows[i].src_uid] = 1;
		else if (rows[i].state == SYNCSTATE_FAILED)
			failed[rows[i].src_uid] = 1;
	}
	syncstate_msgs_free(rows, n);
	memset(s->mem, 0, sizeof(s->mem));
	s->cursor = 0;
	for (uint32_t u = 1; u <= N_MSGS; u++) {
		if (failed[u] || (u > lu && !done[u])) {
			s->dst[u]++; /* copied, this time accepted */
			assert_int_equal(syncstate_begin(s->st), 0);
			{
				struct syncstate_msg m = intent(u);

				assert_int_equal(syncstate_put(s->st, s->fid, &m), 0);
				assert_int_equal(syncstate_done(s->st, s->fid, u, 9, 300 + u), 0);
			}
			assert_int_equal(syncstate_commit(s->st), 0);
		}
		s->mem[u] = 2;
	}
	assert_int_equal(
	    syncstate_set_last_uid(s->st, s->fid, sync_watermark(s, N_MSGS, mark, &s->cursor)), 0);
	check_i2(s, "after the next pass");
	for (uint32_t u = 1; u <= N_MSGS; u++)
		if (s->dst[u] != 1)
			fail_msg("source UID %u is on the destination %d times", u, s->dst[u]);
}

static int
allowed(const int *did, enum ev e)
{
	switch (e) {
	case C1: return 1;
	case C2: return did[C1];
	case S1: return did[C1];
	case S2: return did[C2] && did[S1];
	case A1: return did[S1];
	case A2: return did[S2];
	default: return 0;
	}
}

static char *
scratch(void)
{
	char tmpl[] = "/tmp/cutover-states-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return xasprintf("%s/state", d);
}

static size_t scenarios;

/* Replay ORDER[0..K) from a fresh state, crash, recover; then recurse. */
static void
run_prefix(const enum ev *order, size_t k, const int *ok, const int *flush)
{
	struct sim s;
	char *err = NULL, *cmd;

	memset(&s, 0, sizeof(s));
	s.dir = scratch();
	s.ok[0] = ok[0];
	s.ok[1] = ok[1];
	s.flush[0] = flush[0];
	s.flush[1] = flush[1];
	assert_int_equal(syncstate_open(s.dir, &s.st, &err), 0);
	(void)last_uid(&s);
	for (size_t i = 0; i < k; i++) {
		apply(&s, order[i]);
		check_i2(&s, "during the pass");
	}
	recover_and_pass(&s);
	syncstate_close(s.st);
	cmd = xasprintf("rm -rf '%.*s'", (int)(strrchr(s.dir, '/') - s.dir), s.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", s.dir);
	free(cmd);
	free(s.dir);
	scenarios++;
}

static void
walk(enum ev *order, size_t k, int *did, const int *ok, const int *flush)
{
	run_prefix(order, k, ok, flush); /* crash here (k == N_EV: no crash) */
	for (int e = 0; e < N_EV; e++) {
		if (did[e] || !allowed(did, (enum ev)e))
			continue;
		did[e] = 1;
		order[k] = (enum ev)e;
		walk(order, k + 1, did, ok, flush);
		did[e] = 0;
	}
}

static void
test_every_interleaving(void **state)
{
	(void)state;
	scenarios = 0;
	for (int v = 0; v < 16; v++) {
		int ok[2] = {v & 1, (v >> 1) & 1}, flush[2] = {(v >> 2) & 1, (v >> 3) & 1};
		enum ev order[N_EV];
		int did[N_EV] = {0};

		walk(order, 0, did, ok, flush);
	}
	/* 4 answers x 4 arrivals x every prefix of every allowed order (26). */
	print_message("%zu crash scenarios checked\n", scenarios);
	assert_true(scenarios >= 16 * 20);
}

static void
test_watermark(void **state)
{
	struct sim s;
	size_t cur = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	/* Nothing settled: no change. */
	assert_int_equal(sync_watermark(&s, N_MSGS, mark, &cur), 0);
	/* Batch 2 answered before batch 1: still nothing. */
	s.mem[4] = s.mem[5] = s.mem[6] = 2;
	assert_int_equal(sync_watermark(&s, N_MSGS, mark, &cur), 0);
	/* Batch 1 failed (FAILED rows are settled): up to 6. */
	s.mem[1] = s.mem[2] = s.mem[3] = 3;
	assert_int_equal(sync_watermark(&s, N_MSGS, mark, &cur), 6);
	assert_int_equal(cur, 6);
	s.mem[7] = 2;
	assert_int_equal(sync_watermark(&s, N_MSGS, mark, &cur), 7);
	assert_int_equal(sync_watermark(&s, 0, mark, &(size_t){0}), 0);
}

static void
test_settle_wait(void **state)
{
	(void)state;
	/* Written 10 s ago, settle time 15 s: look again after 100 ms, doubling. */
	assert_int_equal(sync_settle_wait(1000, 11000, 15000, 0), 100);
	assert_int_equal(sync_settle_wait(1000, 11000, 15000, 1), 200);
	assert_int_equal(sync_settle_wait(1000, 11000, 15000, 5), 1000);
	/* Never past the end of the settle time. */
	assert_int_equal(sync_settle_wait(1000, 15950, 15000, 5), 50);
	/* Over: drop now. */
	assert_int_equal(sync_settle_wait(1000, 16000, 15000, 0), 0);
	assert_int_equal(sync_settle_wait(1000, 99000, 15000, 3), 0);
	/* A written time in the future (clock step): waits at most the settle time. */
	assert_true(sync_settle_wait(50000, 1000, 15000, 9) <= 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watermark),
	    cmocka_unit_test(test_settle_wait),
	    cmocka_unit_test(test_every_interleaving),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
