/* cmd_smtp.c - `cutover smtp DOMAIN`: will the domain's MX hosts take the mail? */
#include <stdlib.h>
#include <string.h>

#include "checks/check.h"
#include "cli.h"
#include "src/util.h"

enum { OPT_RCPT = CLI_OPT_COMMAND, OPT_SMTP_PORT, OPT_HELO_NAME, OPT_MX };

#define SMTP_MAX_RCPTS 100
#define SMTP_MAX_HOSTS 10

static const struct option smtp_options[] = {
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {"helo-name", required_argument, NULL, OPT_HELO_NAME},
    {"mx", required_argument, NULL, OPT_MX},
    {NULL, 0, NULL, 0},
};

static struct {
	const char *rcpts[SMTP_MAX_RCPTS + 1];
	size_t n_rcpts;
	long port;
	int port_set;
	const char *helo;
	const char *hosts[SMTP_MAX_HOSTS + 1];
	size_t n_hosts;
} smtp_opts;

static void
smtp_help(FILE *out)
{
	fputs("Usage: cutover smtp DOMAIN [OPTIONS]\n"
	      "\n"
	      "Asks every MX host of DOMAIN whether it would take mail for the\n"
	      "recipients, the way a sending server does, without sending any: banner,\n"
	      "EHLO, STARTTLS (certificate checked against the MX host name), MAIL\n"
	      "FROM:<>, RCPT TO for each recipient, RSET, QUIT. Never DATA. Each\n"
	      "recipient is accepted, rejected (with the enhanced status code and what\n"
	      "it means: 5.4.1 on Microsoft 365 = domain not accepted in the tenant or\n"
	      "user unknown, 5.1.1 = no such user) or deferred (4xx: greylisting,\n"
	      "throttling); each MX host may fail to connect (many networks block\n"
	      "outbound port 25), fail TLS, or offer no STARTTLS (smtp.mx).\n"
	      "\n"
	      "Options:\n"
	      "  --rcpt ADDR          a recipient to try (repeatable, up to 100; default\n"
	      "                       postmaster@DOMAIN)\n"
	      "  --smtp-port N        the port of the MX hosts (default 25; for labs)\n"
	      "  --helo-name NAME     the EHLO name (default this machine's host name)\n"
	      "  --mx HOST            probe HOST instead of DOMAIN's MX (repeatable, up to\n"
	      "                       10): the new provider's MX before the flip, e.g.\n"
	      "                       example-com.mail.protection.outlook.com\n"
	      "\n"
	      "Examples:\n"
	      "  cutover smtp example.com --rcpt alice@example.com --rcpt bob@example.com\n"
	      "  cutover smtp example.com --rcpt alice@example.com --json smtp.json\n"
	      "  cutover smtp example.com --mx example-com.mail.protection.outlook.com \\\n"
	      "      --rcpt alice@example.com\n"
	      "\n",
	    out);
}

static int
smtp_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_RCPT: {
		const char *at = strrchr(arg, '@');

		if (at == NULL || at == arg || !util_hostname_ok(at + 1, 0) ||
		    strpbrk(arg, "<> \t\r\n") != NULL || strlen(arg) > 254)
			return cli_value_error(c, "--rcpt", arg,
			    "expected a mail address "
			    "(local@domain, e.g. alice@example.com)");
		if (smtp_opts.n_rcpts == SMTP_MAX_RCPTS)
			return cli_value_error(c, "--rcpt", arg, "at most 100 recipients");
		smtp_opts.rcpts[smtp_opts.n_rcpts++] = arg;
		return CLI_CONTINUE;
	}
	case OPT_SMTP_PORT:
		smtp_opts.port_set = 1;
		return cli_parse_long(c, "--smtp-port", arg, 1, 65535, &smtp_opts.port);
	case OPT_HELO_NAME:
		if (!util_hostname_ok(arg, 0))
			return cli_value_error(c, "--helo-name", arg,
			    "expected a host name "
			    "(e.g. mail.example.com)");
		smtp_opts.helo = arg;
		return CLI_CONTINUE;
	case OPT_MX:
		if (!util_hostname_ok(arg, 0))
			return cli_value_error(c, "--mx", arg,
			    "expected a host name "
			    "(e.g. example-com.mail.protection.outlook.com)");
		if (smtp_opts.n_hosts == SMTP_MAX_HOSTS)
			return cli_value_error(c, "--mx", arg, "at most 10 hosts");
		smtp_opts.hosts[smtp_opts.n_hosts++] = arg;
		return CLI_CONTINUE;
	}
	return cli_usage_error(c, "unexpected option");
}

static int
smtp_run(struct cli *c)
{
	struct check_input in;

	if (c->n_args != 1)
		return cli_usage_error(c,
		    c->n_args == 0 ? "which domain? e.g. 'cutover smtp "
		                     "example.com --rcpt alice@example.com'"
		                   : "one domain at a time (got %d "
		                     "arguments)",
		    c->n_args);
	if (!util_hostname_ok(c->args[0], 0))
		return cli_value_error(c, "DOMAIN", c->args[0],
		    "not a domain name (letters, digits, '-' and '.'; e.g. example.com)");
	memset(&in, 0, sizeof(in));
	in.domain = c->args[0];
	in.smtp_rcpts = smtp_opts.n_rcpts > 0 ? smtp_opts.rcpts : NULL;
	in.smtp_port = smtp_opts.port_set ? (int)smtp_opts.port : 25;
	in.smtp_helo = smtp_opts.helo;
	in.smtp_hosts = smtp_opts.n_hosts > 0 ? smtp_opts.hosts : NULL;
	return cli_run_checks(
	    c, CHECK_CMD_SMTP, "smtp", &in, in.domain, c->resolvers, c->n_resolvers, c->ca_file);
}

const struct cli_command cli_cmd_smtp = {
    .name = "smtp",
    .synopsis = "DOMAIN",
    .summary = "will the MX hosts take mail for these recipients (RCPT TO probe)",
    .help = smtp_help,
    .options = smtp_options,
    .option = smtp_option,
    .run = smtp_run,
};
