/*
 * check.h - the check-module interface.
 *
 * A check module is small and declarative: an id (as in the report), a group
 * for `--only`, the commands it belongs to, and a schedule function that
 * turns the input into tasks on the runner (runner_add). Each task ends by
 * handing exactly one result to the runner (task_done). A check never prints
 * and never writes files.
 */
#ifndef CUTOVER_CHECK_H
#define CUTOVER_CHECK_H

#include <stddef.h>

#include "src/runner.h"

struct plan;

#define CHECK_CMD_AUDIT 0x1
#define CHECK_CMD_DNS 0x2
#define CHECK_CMD_SMTP 0x4 /* cutover smtp */

/* What a run asks of its checks. Everything is borrowed for the run. */
struct sync_run;

struct check_input {
	const char *domain;
	const struct plan *plan;      /* NULL for `cutover dns` */
	const char *expect_profile;   /* --expect, or the plan's destination profile */
	const char *const *expect_mx; /* MX patterns expected after cutover, NULL-terminated */
	const char *expect_mx_origin; /* "plan" or a profile name */
	long mx_ttl_max;              /* dns.mx_ttl: recommended maximum TTL, seconds */
	/* dns.spf: include domains the destination needs (NULL-terminated or NULL),
	 * where they came from ("plan" or a profile name), and --ip/--sender for a
	 * check_host() evaluation (NULL: none). */
	const char *const *expect_spf_include;
	const char *expect_spf_include_origin;
	const char *spf_ip;
	const char *spf_sender; /* "" = the null reverse-path: the HELO identity is checked */
	const char *spf_helo;   /* --helo: %{h}, and the identity when spf_sender is "" */
	/* smtp.mx: recipients to try (NULL-terminated; NULL = postmaster@domain), the
	 * port (25), the EHLO name (NULL = this machine's name). */
	const char *const *smtp_rcpts;
	int smtp_port;
	const char *smtp_helo;
	/* smtp.mx: probe these hosts (NULL-terminated) instead of the domain's MX:
	 * the destination's MX before the flip (--mx, the plan's expect.mx names). */
	const char *const *smtp_hosts;
	/* dns.m365_verification: the plan's expect.verification ("MS=ms12345678"), or NULL */
	const char *expect_verification;
	/* dns.mx: the plan's expect.go_live ("YYYY-MM-DD", UTC): after that day an MX that
	 * is not the expected one fails */
	const char *expect_go_live;
	/* web.*: curl-style "HOST:PORT:HOST2:PORT2" redirections (--connect-to),
	 * NULL-terminated or NULL. */
	const char *const *connect_to;
	/* web.autodiscover: log in as this plan mailbox user (--autodiscover-user), or NULL. */
	const char *autodiscover_user;
	/*
	 * `audit --shard K/N` (src/shard.h): plan->mailboxes is already only this
	 * shard's slice, so mailbox checks iterate it as usual. shard_n is 0 when
	 * the run is not sharded; mailboxes_total is the plan's full count.
	 */
	unsigned shard_k, shard_n;
	size_t mailboxes_total;
	/* mailbox.compare run by `cutover sync` after its pass (NULL otherwise):
	 * a folder the run synced whose destination holds fewer messages than its
	 * source, beyond the too-large ones, fails instead of warning. */
	const struct sync_run *after_sync;
};

/*
 * Where a check runs when an audit is sharded (`--shard K/N`):
 *   CHECK_SCOPE_AUTO     (0, the default) decided by the group: "dns" and
 *                        "web" are about the domain and run in shard 1 only;
 *                        any other group runs in every shard.
 *   CHECK_SCOPE_ONCE     about the domain or its servers (e.g. imap.tls):
 *                        shard 1 only.
 *   CHECK_SCOPE_MAILBOX  one result per mailbox of plan->mailboxes: every
 *                        shard, over its slice.
 * A once-per-run check left at AUTO in another group runs in every shard;
 * `report merge` then keeps one copy (same id, subject, side), so the merged
 * report is still right, only the work is repeated.
 */
enum check_scope { CHECK_SCOPE_AUTO = 0, CHECK_SCOPE_ONCE, CHECK_SCOPE_MAILBOX };

struct check {
	const char *id;    /* "dns.mx" */
	const char *group; /* "dns": what --only selects */
	const char *title; /* one line for --help */
	unsigned commands; /* CHECK_CMD_* the check runs in */
	void (*schedule)(struct runner *r, const struct check_input *in);
	enum check_scope scope; /* see above; 0 = CHECK_SCOPE_AUTO */
	/*
	 * Optional: extra lines the console prints under this check's summary
	 * (e.g. dns.spf's include tree), computed from the finished result only.
	 * Returns a string of '\n'-separated lines the caller frees, or NULL.
	 */
	char *(*console_lines)(const struct result *res);
	/* 1: runs only when --only names its group (e.g. "compare", which is
	 * for after a sync and would only list differences before one). */
	int on_request;
};

/* Every check module, NULL-terminated, in report order. */
const struct check *const *check_registry(void);

/* 1 when CK runs in shard K of N (N <= 1: not sharded, always 1). */
int check_in_shard(const struct check *ck, unsigned k, unsigned n);

#endif
