/*
 * shard.h - `cutover audit --shard K/N`: a stable slice of the mailbox list.
 *
 * A big audit can run on N machines (a Kubernetes Indexed Job, N cron hosts)
 * and the N reports merged with `cutover report merge`. Which shard audits a
 * mailbox depends only on its source user and on N, never on the order of
 * the plan or the CSV, on K, or on the machine:
 *
 *     shard(user, N) = 1 + (first 8 bytes of SHA-256(lower(user)), big-endian) mod N
 *
 * lower() folds ASCII A-Z only (mail domains are case-insensitive; local
 * parts in practice are too, and a shard must not change when someone
 * retypes a CSV in another case). SHA-256 (OpenSSL) spreads any naming
 * scheme evenly; the formula is documented in README.md and reports/SCHEMA.md
 * so other tools can predict a shard.
 *
 * Checks about the domain and its servers (dns, web, TLS of a server) are
 * not sliced: they run in shard 1 only (check_in_shard() in check.h), so that
 * the N reports merged hold every check exactly once, like one full run.
 *
 * Everything here is pure (no I/O) and unit-tested in tests/unit/test_shard.c.
 */
#ifndef CUTOVER_SHARD_H
#define CUTOVER_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* The most shards one audit can be split into. */
#define SHARD_MAX 10000

struct plan;

/*
 * Parse "K/N" (1 <= K <= N <= SHARD_MAX, decimal, no spaces). Returns 0 with
 * *K and *N, or -1 with *WANT set to a static explanation for the message.
 */
int shard_parse(const char *s, unsigned *k, unsigned *n, const char **want);

/* The shard (1..N) USER belongs to among N (N >= 1; N == 1 gives 1). */
unsigned shard_of(const char *user, unsigned n);

/*
 * The indexes (into PLAN->mailboxes, ascending) of the mailboxes shard K of N
 * audits, in a new array (caller frees; NULL when the count is 0) with the
 * count in *COUNT.
 */
size_t *shard_select(const struct plan *plan, unsigned k, unsigned n, size_t *count);

/*
 * A view of PLAN whose mailbox list is only shard K of N: a shallow copy of
 * the struct whose `mailboxes` is a new array of shallow copies (the strings
 * still belong to PLAN). Everything that reads plan->mailboxes (every mailbox
 * check) therefore sees the slice without knowing about shards. Free the view
 * with shard_plan_free() (never plan_free), before PLAN.
 */
struct plan *shard_plan(const struct plan *plan, unsigned k, unsigned n);
void shard_plan_free(struct plan *view);

#endif
