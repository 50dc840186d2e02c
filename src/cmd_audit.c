/* cmd_audit.c - `cutover audit PLAN`: the readiness audit of a plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "plan.h"
#include "util.h"

enum { OPT_ONLY = CLI_OPT_COMMAND, OPT_MX_TTL_MAX };

static const struct option audit_options[] = {
	{"only", required_argument, NULL, OPT_ONLY},
	{"mx-ttl-max", required_argument, NULL, OPT_MX_TTL_MAX},
	{NULL, 0, NULL, 0},
};

/* Groups `--only` knows (DESIGN.md); a group may have no check yet. */
static const char *const audit_groups[] = {
	"dns", "imap", "pop3", "web", "folders", "quota", "compare", NULL,
};

static struct {
	const char *only;
	long mx_ttl_max;
	int mx_ttl_set;
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
	    "                       dns, imap, pop3, web, folders, quota, compare\n"
	    "  --mx-ttl-max SEC     highest MX TTL that passes (default 3600)\n"
	    "\n"
	    "Examples:\n"
	    "  cutover audit plan.json --json audit.json\n"
	    "  cutover audit plan.json --only dns\n"
	    "\n", out);
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
			return cli_usage_error(c, "--only: unknown group \"%.*s\"; groups are dns, "
			    "imap, pop3, web, folders, quota, compare", (int)n, p);
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
	case OPT_ONLY:
		audit_opts.only = arg;
		return audit_check_only(c, arg);
	case OPT_MX_TTL_MAX:
		audit_opts.mx_ttl_set = 1;
		return cli_parse_long(c, "--mx-ttl-max", arg, 0, 2147483647L, &audit_opts.mx_ttl_max);
	}
	return cli_usage_error(c, "unexpected option");
}

static int
audit_run(struct cli *c)
{
	struct check_input in;
	struct plan *plan = NULL;
	char *err = NULL;
	const char *const *resolvers;
	const char **expect_mx = NULL;
	size_t n_resolvers;
	int rc;

	if (c->n_args != 1)
		return cli_usage_error(c, c->n_args == 0 ? "which plan? e.g. 'cutover audit "
		    "plan.json'" : "one plan at a time (got %d arguments)", c->n_args);
	if (plan_load(c->args[0], &plan, &err) != 0) {
		fprintf(stderr, "cutover audit: %s\n", err);
		free(err);
		return CLI_EXIT_DATAERR;
	}
	memset(&in, 0, sizeof(in));
	in.plan = plan;
	in.domain = plan->domain;
	in.mx_ttl_max = audit_opts.mx_ttl_set ? audit_opts.mx_ttl_max : 3600;
	in.expect_profile = plan->destination.profile_name;
	if (plan->expect.n_mx > 0) {
		expect_mx = xcalloc(plan->expect.n_mx + 1, sizeof(*expect_mx));
		for (size_t i = 0; i < plan->expect.n_mx; i++)
			expect_mx[i] = plan->expect.mx[i];
		in.expect_mx = expect_mx;
		in.expect_mx_origin = plan->expect.mx_from;
	}
	/* --resolver on the command line wins over the plan's resolvers. */
	n_resolvers = c->n_resolvers > 0 ? c->n_resolvers : plan->n_resolvers;
	resolvers = c->n_resolvers > 0 ? c->resolvers : (const char *const *)plan->resolvers;
	rc = cli_run_checks(c, CHECK_CMD_AUDIT, audit_opts.only, &in, c->args[0], resolvers,
	    n_resolvers, c->ca_file != NULL ? c->ca_file : plan->ca_file);
	free(expect_mx);
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
