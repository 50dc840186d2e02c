/* cmd_audit.c - `cutover audit PLAN`: the readiness audit of a plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/check.h"
#include "cli.h"
#include "src/plan.h"
#include "src/shard.h"
#include "src/util.h"

enum {
	OPT_ONLY = CLI_OPT_COMMAND,
	OPT_MX_TTL_MAX,
	OPT_AUTODISCOVER_USER,
	OPT_CONNECT_TO,
	OPT_SHARD,
	OPT_LIST_MAILBOXES,
	OPT_SMTP_PORT
};

#define AUDIT_MAX_CONNECT_TO 16

static const struct option audit_options[] = {
    {"only", required_argument, NULL, OPT_ONLY},
    {"mx-ttl-max", required_argument, NULL, OPT_MX_TTL_MAX},
    {"autodiscover-user", required_argument, NULL, OPT_AUTODISCOVER_USER},
    {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"list-mailboxes", no_argument, NULL, OPT_LIST_MAILBOXES},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {NULL, 0, NULL, 0},
};

/* Groups `--only` knows (DESIGN.md); a group may have no check yet. */
static const char *const audit_groups[] = {
    "dns",
    "imap",
    "pop3",
    "web",
    "folders",
    "quota",
    "compare",
    "smtp",
    "auth",
    NULL,
};

static struct {
	const char *only;
	long mx_ttl_max;
	int mx_ttl_set;
	const char *autodiscover_user;
	const char *connect_to[AUDIT_MAX_CONNECT_TO + 1];
	size_t n_connect_to;
	unsigned shard_k, shard_n; /* --shard K/N; 0 when not sharded */
	int list_mailboxes;
	long smtp_port; /* 0: 25 */
} audit_opts;

static void
audit_help(FILE *out)
{
	fputs("Usage: cutover audit PLAN [OPTIONS]\n"
	      "\n"
	      "Readiness audit of the migration described by the plan file PLAN (JSON; see\n"
	      "README.md and contrib/examples/plan.json). The plan names the domain, the\n"
	      "source and destination servers and the mailboxes (inline or a CSV sheet).\n"
	      "The plan's resolvers and ca_file apply unless --resolver/--ca-file are given.\n"
	      "\n"
	      "Options:\n"
	      "  --only GROUPS        run only these check groups, comma-separated:\n"
	      "                       dns, imap, pop3, web, folders, quota, compare, smtp,\n"
	      "                       auth\n"
	      "  --mx-ttl-max SEC     highest MX TTL that passes (default 3600)\n"
	      "  --autodiscover-user USER\n"
	      "                       web.autodiscover logs in as this mailbox of the plan\n"
	      "                       (its destination password, else its source one) and\n"
	      "                       reports the server settings autodiscover returns\n"
	      "  --connect-to HOST:PORT:HOST2:PORT2\n"
	      "                       web checks: connect to HOST2:PORT2 whenever a URL names\n"
	      "                       HOST:PORT, as curl's --connect-to (an empty field\n"
	      "                       matches any / keeps the original; repeatable). Test a\n"
	      "                       new server before DNS points at it, or a lab on other\n"
	      "                       ports: --connect-to :443::8443\n"
	      "  --shard K/N          audit only shard K of N of the mailboxes (1 <= K <= N),\n"
	      "                       so N machines can share a big audit; merge their\n"
	      "                       reports with 'cutover report merge'. A mailbox's shard\n"
	      "                       is 1 + (first 8 bytes of SHA-256 of its lower-cased\n"
	      "                       source user, big-endian) mod N: stable whatever the\n"
	      "                       plan's order. Domain checks (dns, web) run in shard 1.\n"
	      "  --list-mailboxes     print the source users this run would audit (after\n"
	      "                       --shard), one a line, and exit without checking\n"
	      "  --smtp-port N        smtp group (only with --only smtp): the port of the MX\n"
	      "                       hosts (default 25). It probes the plan's expect.mx host\n"
	      "                       names (the new MX before the flip), else the domain's\n"
	      "                       MX, with RCPT TO for every mailbox's destination user\n"
	      "\n"
	      "Examples:\n"
	      "  cutover audit plan.json --json audit.json\n"
	      "  cutover audit plan.json --only dns\n"
	      "  cutover audit plan.json --only web --autodiscover-user alice@example.com\n"
	      "  cutover audit plan.json --shard 2/8 --json shard-2.json\n"
	      "\n",
	    out);
}

/* Reject unknown names in --only. Returns CLI_CONTINUE or an exit code. */
static int
audit_check_only(struct cli *c, const char *only)
{
	const char *p = only;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		int known = 0;

		for (size_t i = 0; audit_groups[i] != NULL; i++)
			if (strlen(audit_groups[i]) == n && strncmp(p, audit_groups[i], n) == 0)
				known = 1;
		if (!known)
			return cli_usage_error(c,
			    "--only: unknown group \"%.*s\"; groups are dns, "
			    "imap, pop3, web, folders, quota, compare, smtp, auth",
			    (int)n, p);
		p += n;
		if (*p == ',')
			p++;
	}
	return CLI_CONTINUE;
}

static int
audit_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_ONLY: audit_opts.only = arg; return audit_check_only(c, arg);
	case OPT_MX_TTL_MAX:
		audit_opts.mx_ttl_set = 1;
		return cli_parse_long(
		    c, "--mx-ttl-max", arg, 0, 2147483647L, &audit_opts.mx_ttl_max);
	case OPT_SHARD: {
		const char *want;

		if (shard_parse(arg, &audit_opts.shard_k, &audit_opts.shard_n, &want) != 0)
			return cli_value_error(c, "--shard", arg, want);
		return CLI_CONTINUE;
	}
	case OPT_LIST_MAILBOXES: audit_opts.list_mailboxes = 1; return CLI_CONTINUE;
	case OPT_SMTP_PORT:
		return cli_parse_long(c, "--smtp-port", arg, 1, 65535, &audit_opts.smtp_port);
	case OPT_AUTODISCOVER_USER: audit_opts.autodiscover_user = arg; return CLI_CONTINUE;
	case OPT_CONNECT_TO: {
		const char *p = arg;
		int colons = 0;

		for (; *p != '\0'; p++)
			colons += *p == ':';
		if (colons != 3)
			return cli_value_error(c, "--connect-to", arg,
			    "HOST:PORT:HOST2:PORT2 (fields "
			    "may be empty, e.g. :443::8443)");
		if (audit_opts.n_connect_to == AUDIT_MAX_CONNECT_TO)
			return cli_usage_error(c, "--connect-to: at most %d", AUDIT_MAX_CONNECT_TO);
		audit_opts.connect_to[audit_opts.n_connect_to++] = arg;
		return CLI_CONTINUE;
	}
	}
	return cli_usage_error(c, "unexpected option");
}

/* PLAN has a mailbox USER (destination or source side) with a password, or
 * on a side that logs in with OAuth2. */
static int
audit_has_user(const struct plan *plan, const char *user)
{
	for (size_t i = 0; i < plan->n_mailboxes; i++) {
		const struct plan_mailbox *mb = &plan->mailboxes[i];

		if ((mb->dest_user != NULL && util_strieq(mb->dest_user, user) &&
		        (mb->dest_password != NULL || plan->destination.auth != NULL)) ||
		    (mb->source_user != NULL && util_strieq(mb->source_user, user) &&
		        (mb->source_password != NULL || plan->source.auth != NULL)))
			return 1;
	}
	return 0;
}

/*
 * Whether the groups ONLY selects (NULL: all) log in to a mailbox: every group
 * but dns, and web only with --autodiscover-user.
 */
static int
audit_needs_secrets(const char *only)
{
	const char *p = only;

	if (only == NULL)
		return 1;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (!((n == 3 && strncmp(p, "dns", 3) == 0) ||
		        (n == 3 && strncmp(p, "web", 3) == 0 &&
		            audit_opts.autodiscover_user == NULL)))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
audit_run(struct cli *c)
{
	struct check_input in;
	struct plan *plan = NULL, *view = NULL;
	char *err = NULL;
	const char *const *resolvers;
	const char **expect_mx = NULL, **expect_spf = NULL, **smtp_hosts = NULL, **rcpts = NULL;
	size_t n_resolvers, n;
	int rc;

	if (c->n_args != 1)
		return cli_usage_error(c,
		    c->n_args == 0 ? "which plan? e.g. 'cutover audit "
		                     "plan.json'"
		                   : "one plan at a time (got %d arguments)",
		    c->n_args);
	if (plan_open(c->args[0], &plan, &err) != 0) {
		fprintf(stderr, "cutover audit: %s\n", err);
		free(err);
		return CLI_EXIT_DATAERR;
	}
	if (plan->warnings != NULL && !c->quiet)
		cli_warnings(c, plan->warnings);
	/* secrets only when this run logs in somewhere (not --only dns, not a listing) */
	if (!audit_opts.list_mailboxes && audit_needs_secrets(audit_opts.only) &&
	    plan_resolve_secrets(plan, &err) != 0) {
		fprintf(stderr, "cutover audit: %s\n", err);
		free(err);
		plan_free(plan);
		return CLI_EXIT_DATAERR;
	}
	memset(&in, 0, sizeof(in));
	in.plan = plan;
	in.domain = plan->domain;
	in.mx_ttl_max = audit_opts.mx_ttl_set ? audit_opts.mx_ttl_max : 3600;
	in.expect_profile = plan->destination.profile_name;
	in.expect_verification = plan->expect.verification;
	in.expect_go_live = plan->expect.go_live;
	in.connect_to = audit_opts.n_connect_to > 0 ? audit_opts.connect_to : NULL;
	in.autodiscover_user = audit_opts.autodiscover_user;
	if (in.autodiscover_user != NULL && !audit_has_user(plan, in.autodiscover_user)) {
		fprintf(stderr,
		    "cutover audit: --autodiscover-user %s: no mailbox of the plan has "
		    "this user (with a password)\n",
		    in.autodiscover_user);
		plan_free(plan);
		return CLI_EXIT_DATAERR;
	}
	/* --shard: every check sees only this shard's mailboxes (src/shard.h). */
	in.mailboxes_total = plan->n_mailboxes;
	if (audit_opts.shard_n > 0) {
		view = shard_plan(plan, audit_opts.shard_k, audit_opts.shard_n);
		in.plan = view;
		in.shard_k = audit_opts.shard_k;
		in.shard_n = audit_opts.shard_n;
	}
	if (audit_opts.list_mailboxes) {
		for (size_t i = 0; i < in.plan->n_mailboxes; i++)
			printf("%s\n", plan_mailbox_label(&in.plan->mailboxes[i]));
		shard_plan_free(view);
		plan_free(plan);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_IOERR;
	}
	if (view != NULL && !c->quiet)
		fprintf(stderr, "cutover audit: shard %u/%u: %zu of %zu mailboxes%s\n", in.shard_k,
		    in.shard_n, view->n_mailboxes, plan->n_mailboxes,
		    in.shard_k == 1 ? " and the domain checks" : "");
	if (plan->expect.n_mx > 0) {
		expect_mx = xcalloc(plan->expect.n_mx + 1, sizeof(*expect_mx));
		for (size_t i = 0; i < plan->expect.n_mx; i++)
			expect_mx[i] = plan->expect.mx[i];
		in.expect_mx = expect_mx;
		in.expect_mx_origin = plan->expect.mx_from;
	}
	if (plan->expect.n_spf_include > 0) {
		expect_spf = xcalloc(plan->expect.n_spf_include + 1, sizeof(*expect_spf));
		for (size_t i = 0; i < plan->expect.n_spf_include; i++)
			expect_spf[i] = plan->expect.spf_include[i];
		in.expect_spf_include = expect_spf;
		in.expect_spf_include_origin = plan->expect.spf_include_from;
	}
	/* smtp: the plan's expect.mx host names (patterns with '*' are not hosts),
	 * RCPT TO every mailbox's destination address */
	in.smtp_port = audit_opts.smtp_port > 0 ? (int)audit_opts.smtp_port : 25;
	smtp_hosts = xcalloc(plan->expect.n_mx + 1, sizeof(*smtp_hosts));
	for (size_t i = n = 0; i < plan->expect.n_mx; i++)
		if (strchr(plan->expect.mx[i], '*') == NULL)
			smtp_hosts[n++] = plan->expect.mx[i];
	in.smtp_hosts = n > 0 ? smtp_hosts : NULL;
	rcpts = xcalloc(plan->n_mailboxes + 1, sizeof(*rcpts));
	/* every mailbox, not the shard's: smtp.mx runs once, in shard 1 */
	for (size_t i = n = 0; i < plan->n_mailboxes && n < 100; i++)
		if (plan->mailboxes[i].dest_user != NULL &&
		    strchr(plan->mailboxes[i].dest_user, '@') != NULL)
			rcpts[n++] = plan->mailboxes[i].dest_user;
	in.smtp_rcpts = n > 0 ? rcpts : NULL;
	/* --resolver on the command line wins over the plan's resolvers. */
	n_resolvers = c->n_resolvers > 0 ? c->n_resolvers : plan->n_resolvers;
	resolvers = c->n_resolvers > 0 ? c->resolvers : (const char *const *)plan->resolvers;
	rc = cli_run_checks(c, CHECK_CMD_AUDIT, audit_opts.only, &in, c->args[0], resolvers,
	    n_resolvers, c->ca_file != NULL ? c->ca_file : plan->ca_file);
	free(expect_mx);
	free(expect_spf);
	free(smtp_hosts);
	free(rcpts);
	shard_plan_free(view);
	plan_free(plan);
	return rc;
}

const struct cli_command cli_cmd_audit = {
    .name = "audit",
    .synopsis = "PLAN",
    .summary = "readiness audit of a whole migration plan (weeks before go-live)",
    .help = audit_help,
    .options = audit_options,
    .option = audit_option,
    .run = audit_run,
};
