/* cmd_dns.c - `cutover dns DOMAIN`: the DNS checks for one domain. */
#include <stdlib.h>
#include <string.h>

#include "checks/check.h"
#include "cli.h"
#include "src/profile.h"
#include "src/util.h"
#include "src/spf.h"

enum { OPT_EXPECT = CLI_OPT_COMMAND, OPT_MX_TTL_MAX, OPT_IP, OPT_SENDER, OPT_HELO };

static const struct option dns_options[] = {
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"mx-ttl-max", required_argument, NULL, OPT_MX_TTL_MAX},
    {"ip", required_argument, NULL, OPT_IP},
    {"sender", required_argument, NULL, OPT_SENDER},
    {"helo", required_argument, NULL, OPT_HELO},
    {NULL, 0, NULL, 0},
};

static struct {
	const char *expect;
	long mx_ttl_max;
	int mx_ttl_set;
	const char *ip, *sender, *helo; /* dns.spf: check_host() for this client */
} dns_opts;

static void
dns_help(FILE *out)
{
	fputs("Usage: cutover dns DOMAIN [OPTIONS]\n"
	      "\n"
	      "Checks what mail senders and mail clients see for DOMAIN: the MX records\n"
	      "with their TTLs and the provider they point to (dns.mx), that every\n"
	      "exchange has an address, whether the MX TTL is low enough for a quick\n"
	      "switch (dns.mx_ttl), SPF (dns.spf), autodiscover.DOMAIN and its SRV record\n"
	      "(dns.autodiscover), the DMARC record (dns.dmarc) and the provider's DKIM\n"
	      "selectors (dns.dkim).\n"
	      "\n"
	      "Options:\n"
	      "  --expect PROFILE     the provider you are moving to: microsoft365,\n"
	      "                       rackspace, google or generic; the report says whether\n"
	      "                       the MX already points there\n"
	      "  --mx-ttl-max SEC     highest MX TTL that passes (default 3600)\n"
	      "  --ip ADDR            evaluate SPF (RFC 7208 check_host) for mail from this\n"
	      "                       IPv4/IPv6 address, as a receiver would: pass, fail,\n"
	      "                       softfail, neutral, none, permerror or temperror\n"
	      "  --sender ADDR        the MAIL FROM address for --ip: SPF is evaluated for\n"
	      "                       its domain (default postmaster@DOMAIN); '' is the\n"
	      "                       empty MAIL FROM of a bounce: the --helo name is checked\n"
	      "  --helo NAME          the HELO/EHLO name of the client (%{h} in SPF macros)\n"
	      "                       postmaster@DOMAIN)\n"
	      "\n"
	      "dns.spf walks the SPF policy: every include and redirect with its own count\n"
	      "of DNS lookups (limit 10) and void lookups (limit 2), syntax errors with their\n"
	      "position, and whether the destination's include (from --expect) is in it.\n"
	      "dns.mta_sts fetches the MTA-STS policy and fails when it is in mode enforce\n"
	      "and does not allow the --expect provider's MX (with the policy to publish).\n"
	      "\n"
	      "Examples:\n"
	      "  cutover dns example.com\n"
	      "  cutover dns example.com --expect microsoft365 --json report.json\n"
	      "  cutover dns example.com --ip 203.0.113.5 --sender alice@example.com\n"
	      "  cutover dns example.com --ip 203.0.113.5 --sender '' --helo mail.example.com\n"
	      "  cutover dns example.com --resolver 127.0.0.1:5300 --json -\n"
	      "\n",
	    out);
}

/* 1 when S holds a control character (CR, LF, NUL-free C0, DEL). */
static int
dns_has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int
dns_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_EXPECT:
		if (profile_find(arg) == NULL)
			return cli_value_error(c, "--expect", arg,
			    "unknown profile; known: microsoft365, rackspace, google, generic");
		dns_opts.expect = arg;
		return CLI_CONTINUE;
	case OPT_MX_TTL_MAX:
		dns_opts.mx_ttl_set = 1;
		return cli_parse_long(c, "--mx-ttl-max", arg, 0, 2147483647L, &dns_opts.mx_ttl_max);
	case OPT_IP: {
		unsigned char ip[16];

		if (spf_parse_ip(arg, ip) == 0)
			return cli_value_error(c, "--ip", arg,
			    "not an IPv4 or IPv6 address "
			    "(e.g. 203.0.113.5 or 2001:db8::25)");
		dns_opts.ip = arg;
		return CLI_CONTINUE;
	}
	case OPT_SENDER:
		if (strcmp(arg, "<>") == 0)
			arg = "";
		if (arg[0] != '\0' && strchr(arg, '@') == NULL)
			return cli_value_error(c, "--sender", arg,
			    "expected a mail address "
			    "(local@domain), or '' for the empty MAIL FROM of a bounce");
		dns_opts.sender = arg;
		return CLI_CONTINUE;
	case OPT_HELO:
		/* as the client sent it: any printable text (RFC 7208 section 7.3
		 * expands a HELO that is not a domain name too) */
		if (arg[0] == '\0' || strlen(arg) > 255 || dns_has_ctrl(arg))
			return cli_value_error(c, "--helo", arg,
			    "expected the name a client "
			    "gives in HELO/EHLO (e.g. mail.example.com)");
		dns_opts.helo = arg;
		return CLI_CONTINUE;
	}
	return cli_usage_error(c, "unexpected option");
}

static int
dns_run(struct cli *c)
{
	struct check_input in;
	const struct profile *p;
	static const char *spf_include[2];

	if (c->n_args != 1)
		return cli_usage_error(c,
		    c->n_args == 0 ? "which domain? e.g. 'cutover dns "
		                     "example.com'"
		                   : "one domain at a time (got %d arguments)",
		    c->n_args);
	if (!util_hostname_ok(c->args[0], 0))
		return cli_value_error(c, "DOMAIN", c->args[0],
		    "not a domain name (letters, digits, '-' and '.'; e.g. example.com)");
	memset(&in, 0, sizeof(in));
	in.domain = c->args[0];
	in.mx_ttl_max = dns_opts.mx_ttl_set ? dns_opts.mx_ttl_max : 3600;
	in.expect_profile = dns_opts.expect;
	p = dns_opts.expect != NULL ? profile_find(dns_opts.expect) : NULL;
	if (p != NULL && p->mx[0] != NULL) {
		in.expect_mx = p->mx;
		in.expect_mx_origin = p->name;
	}
	if (dns_opts.sender != NULL && dns_opts.ip == NULL)
		return cli_usage_error(c, "--sender needs --ip (the address the mail comes from)");
	if (dns_opts.helo != NULL && dns_opts.ip == NULL)
		return cli_usage_error(c, "--helo needs --ip (the address the mail comes from)");
	if (dns_opts.sender != NULL && dns_opts.sender[0] == '\0' && dns_opts.helo == NULL)
		return cli_usage_error(c,
		    "--sender '' (a bounce) checks the HELO name: "
		    "give it with --helo NAME");
	if (p != NULL && p->spf_include != NULL) {
		spf_include[0] = p->spf_include;
		in.expect_spf_include = spf_include;
		in.expect_spf_include_origin = p->name;
	}
	in.spf_ip = dns_opts.ip;
	in.spf_sender = dns_opts.sender;
	in.spf_helo = dns_opts.helo;
	return cli_run_checks(
	    c, CHECK_CMD_DNS, NULL, &in, in.domain, c->resolvers, c->n_resolvers, c->ca_file);
}

const struct cli_command cli_cmd_dns = {
    .name = "dns",
    .synopsis = "DOMAIN",
    .summary = "MX, MX TTL, SPF, autodiscover, DMARC, DKIM for one domain",
    .help = dns_help,
    .options = dns_options,
    .option = dns_option,
    .run = dns_run,
};
