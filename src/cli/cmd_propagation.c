/*
 * cmd_propagation.c - `cutover propagation DOMAIN --expect-mx HOST[,HOST...]`:
 * who still sees the old MX, until when, and a trigger when everyone sees
 * the new one.
 *
 * The asking is src/propagation.c's; this file turns options into a
 * watch, prints progress (a live table on a terminal, one line per change
 * otherwise), writes the report, and runs --then through /bin/sh -c when, and
 * only when, propagation is complete.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checks/check.h"
#include "cli.h"
#include "reports/console.h"
#include "src/dnsmsg.h"
#include "reports/json.h"
#include "src/plan.h"
#include "src/propagation.h"
#include "src/report.h"
#include "src/runner.h"
#include "src/strbuf.h"
#include "src/util.h"

enum {
	OPT_EXPECT_MX = CLI_OPT_COMMAND,
	OPT_EXPECT_TXT,
	OPT_EXPECT_CNAME,
	OPT_AUTHORITATIVE,
	OPT_NO_PUBLIC,
	OPT_NS_PORT,
	OPT_WATCH,
	OPT_INTERVAL,
	OPT_DEADLINE,
	OPT_THEN,
	OPT_PLAN,
	OPT_RESOLVERS_FILE,
	OPT_PUBLIC,
	OPT_THEN_REQUIRE,
	OPT_RCPT,
	OPT_SMTP_PORT,
};

#define PROP_MAX_RCPTS 100

extern const struct check check_smtp_mx;

static const struct option propagation_options[] = {
    {"expect-mx", required_argument, NULL, OPT_EXPECT_MX},
    {"expect-txt", required_argument, NULL, OPT_EXPECT_TXT},
    {"expect-cname", required_argument, NULL, OPT_EXPECT_CNAME},
    {"authoritative", required_argument, NULL, OPT_AUTHORITATIVE},
    {"no-public", no_argument, NULL, OPT_NO_PUBLIC},
    {"ns-port", required_argument, NULL, OPT_NS_PORT},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"then", required_argument, NULL, OPT_THEN},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"resolvers-file", required_argument, NULL, OPT_RESOLVERS_FILE},
    {"public", no_argument, NULL, OPT_PUBLIC},
    {"then-require", required_argument, NULL, OPT_THEN_REQUIRE},
    {"rcpt", required_argument, NULL, OPT_RCPT},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {NULL, 0, NULL, 0},
};

/*
 * The curated list of public resolvers (contrib/resolvers/public-resolvers.txt,
 * installed as DATADIR/public-resolvers.txt): asked with --public, and when
 * neither --resolver, --resolvers-file nor a plan's public_resolvers names
 * any. CUTOVER_PUBLIC_RESOLVERS names another file (tests, air-gapped sites).
 */
#ifndef CUTOVER_DATADIR
#define CUTOVER_DATADIR "/usr/local/share/cutover"
#endif
#define PROPAGATION_LIST_NAME "public-resolvers.txt"
#define PROPAGATION_MAX_FILE (16u << 20)

static struct {
	const char *mx_args[PROP_MAX_VALUES];
	size_t n_mx_args;
	const char *txt[PROP_MAX_EXPECT];
	size_t n_txt;
	const char *cname[PROP_MAX_EXPECT];
	size_t n_cname;
	const char **authoritative;
	size_t n_authoritative;
	const char **files; /* --resolvers-file */
	size_t n_files;
	int no_public, public, watch, interval_set, deadline_set;
	long ns_port, interval, deadline;
	const char *then;
	const char *plan;
	int require_smtp; /* --then-require smtp */
	const char *rcpts[PROP_MAX_RCPTS + 1];
	size_t n_rcpts;
	long smtp_port;
} po = {.ns_port = 53, .interval = 30, .smtp_port = 25};

static void
propagation_help(FILE *out)
{
	fputs(
	    "Usage: cutover propagation DOMAIN --expect-mx HOST[,HOST...] [OPTIONS]\n"
	    "\n"
	    "Go-live day: asks every authoritative name server of DOMAIN (recursion off,\n"
	    "with the zone's SOA serial) and every resolver (recursion on) for the MX at\n"
	    "once, and says who has the new answer, who still has the old one and until\n"
	    "when their cache may keep it (\"all caches expire by 14:05 UTC at the latest\").\n"
	    "Status: pass when every server matches, warn while any is stale (or could not\n"
	    "be asked), fail when an authoritative server is stale although resolvers\n"
	    "already have the new answer (a secondary that did not transfer the zone),\n"
	    "error when no server answered.\n"
	    "\n"
	    "What to expect (at least one):\n"
	    "  --expect-mx HOST[,HOST...]   the new MX exchanges; a HOST may be a pattern\n"
	    "                       (*.mail.protection.outlook.com) or a profile name\n"
	    "                       (microsoft365, rackspace, google). Every exchange must\n"
	    "                       match, and every host named must be there.\n"
	    "  --expect-txt NAME=VALUE      a TXT record with exactly VALUE at NAME (@ = DOMAIN),\n"
	    "                       e.g. the new SPF record (repeatable)\n"
	    "  --expect-cname NAME=VALUE    NAME is a CNAME to VALUE (repeatable), e.g. the\n"
	    "                       autodiscover record\n"
	    "\n"
	    "Which servers:\n"
	    "  --authoritative ADDR[:PORT]  ask this name server instead of looking up DOMAIN's\n"
	    "                       NS set (repeatable): split horizon, hidden primaries, labs\n"
	    "  --resolver ADDR[:PORT]       a resolver to ask (repeatable, any number); the\n"
	    "                       resolvers named replace the public list. NS discovery\n"
	    "                       also goes through them.\n"
	    "  --resolvers-file FILE        resolvers to ask, one a line: ADDR[:PORT] [OPERATOR\n"
	    "                       [| COUNTRY [| SOURCE]]], '#' comments (repeatable); the\n"
	    "                       console and the HTML report group them by operator and\n"
	    "                       country. A bad line is an error naming FILE:LINE (exit 65).\n"
	    "  --public             also ask the curated list of public resolvers (about 120:\n"
	    "                       Google, Cloudflare, Quad9, OpenDNS, AdGuard, national\n"
	    "                       operators; IPv6 ones only when this machine has IPv6).\n"
	    "                       Asked anyway when no resolver is named.\n"
	    "  --plan PLAN          take public_resolvers (and expect.mx, the domain) from a\n"
	    "                       plan file\n"
	    "  --no-public          do not ask the public list (authoritative servers only,\n"
	    "                       unless resolvers are named)\n"
	    "  --ns-port PORT       port of discovered name servers (default 53; labs)\n"
	    "The public list is PREFIX/share/cutover/public-resolvers.txt (or the file\n"
	    "named by CUTOVER_PUBLIC_RESOLVERS). All servers are asked at once over a few\n"
	    "shared UDP sockets, however many there are.\n"
	    "\n"
	    "Watch and trigger:\n"
	    "  --watch              repeat until every server matches: exit 0 when it does,\n"
	    "                       2 at the deadline; a live table on a terminal, one line\n"
	    "                       per change otherwise. Ctrl-C stops and writes the report.\n"
	    "  --interval SEC       seconds between rounds (default 30)\n"
	    "  --deadline SEC       give up after SEC seconds (default: never)\n"
	    "  --then COMMAND       when propagation is complete, run COMMAND once with\n"
	    "                       /bin/sh -c; CUTOVER_DOMAIN and CUTOVER_REPORT (the JSON\n"
	    "                       report's path) are in its environment and its exit status\n"
	    "                       becomes cutover's. Never run on deadline or Ctrl-C.\n"
	    "  --then-require smtp  once propagation is complete, probe the domain's MX\n"
	    "                       (smtp.mx, as 'cutover smtp'; in the report) and run\n"
	    "                       --then only when it accepts every recipient\n"
	    "  --rcpt ADDR          a recipient for --then-require smtp (repeatable; default\n"
	    "                       the plan's destination users, else postmaster@DOMAIN)\n"
	    "  --smtp-port N        the MX port for --then-require smtp (default 25; labs)\n"
	    "--timeout SEC bounds one round's queries (default 15).\n"
	    "\n"
	    "Examples:\n"
	    "  cutover propagation example.com --expect-mx microsoft365\n"
	    "  cutover propagation example.com --expect-mx mx1.new.example,mx2.new.example \\\n"
	    "      --expect-txt '@=v=spf1 include:spf.protection.outlook.com -all'\n"
	    "  cutover propagation example.com --expect-mx microsoft365 --watch --interval 60 \\\n"
	    "      --deadline 14400 --json go-live.json --then 'cutover sync plan.json'\n"
	    "  cutover propagation prop.test --expect-mx '*.mail.protection.outlook.com' \\\n"
	    "      --authoritative 127.0.0.21:5340 --resolver 127.0.0.24:5340   (the lab)\n"
	    "\n",
	    out);
}

static int
propagation_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_EXPECT_MX:
		if (po.n_mx_args == PROP_MAX_VALUES)
			return cli_usage_error(c, "too many --expect-mx options");
		po.mx_args[po.n_mx_args++] = arg;
		return CLI_CONTINUE;
	case OPT_EXPECT_TXT:
	case OPT_EXPECT_CNAME:
		if (po.n_txt + po.n_cname + 1 >= PROP_MAX_EXPECT)
			return cli_usage_error(c, "at most %d --expect-txt/--expect-cname options",
			    PROP_MAX_EXPECT - 1);
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			return cli_value_error(c,
			    opt == OPT_EXPECT_TXT ? "--expect-txt" : "--expect-cname", arg,
			    "expected NAME=VALUE (@ = the domain)");
		if (opt == OPT_EXPECT_TXT)
			po.txt[po.n_txt++] = arg;
		else
			po.cname[po.n_cname++] = arg;
		return CLI_CONTINUE;
	case OPT_AUTHORITATIVE:
		po.authoritative = xrealloc(
		    po.authoritative, (po.n_authoritative + 1) * sizeof(po.authoritative[0]));
		po.authoritative[po.n_authoritative++] = arg;
		return CLI_CONTINUE;
	case OPT_RESOLVERS_FILE:
		po.files = xrealloc(po.files, (po.n_files + 1) * sizeof(po.files[0]));
		po.files[po.n_files++] = arg;
		return CLI_CONTINUE;
	case OPT_PUBLIC: po.public = 1; return CLI_CONTINUE;
	case OPT_NO_PUBLIC: po.no_public = 1; return CLI_CONTINUE;
	case OPT_NS_PORT: return cli_parse_long(c, "--ns-port", arg, 1, 65535, &po.ns_port);
	case OPT_WATCH: po.watch = 1; return CLI_CONTINUE;
	case OPT_INTERVAL:
		po.interval_set = 1;
		return cli_parse_long(c, "--interval", arg, 1, 86400, &po.interval);
	case OPT_DEADLINE:
		po.deadline_set = 1;
		return cli_parse_long(c, "--deadline", arg, 1, 30L * 86400, &po.deadline);
	case OPT_THEN: po.then = arg; return CLI_CONTINUE;
	case OPT_PLAN: po.plan = arg; return CLI_CONTINUE;
	case OPT_THEN_REQUIRE:
		if (strcmp(arg, "smtp") != 0)
			return cli_value_error(c, "--then-require", arg,
			    "expected smtp (the new MX "
			    "accepts every recipient)");
		po.require_smtp = 1;
		return CLI_CONTINUE;
	case OPT_RCPT: {
		const char *at = strrchr(arg, '@');

		if (at == NULL || at == arg || !util_hostname_ok(at + 1, 0) ||
		    strpbrk(arg, "<> \t\r\n") != NULL || strlen(arg) > 254)
			return cli_value_error(c, "--rcpt", arg,
			    "expected a mail address "
			    "(local@domain, e.g. alice@example.com)");
		if (po.n_rcpts == PROP_MAX_RCPTS)
			return cli_value_error(c, "--rcpt", arg, "at most 100 recipients");
		po.rcpts[po.n_rcpts++] = arg;
		return CLI_CONTINUE;
	}
	case OPT_SMTP_PORT: return cli_parse_long(c, "--smtp-port", arg, 1, 65535, &po.smtp_port);
	}
	return cli_usage_error(c, "unexpected option");
}

/* 1 when this machine has a route to ADDR (IPv6): a UDP connect() sends nothing. */
static int
propagation_has_route6(const char *addr)
{
	struct sockaddr_in6 sa;
	int fd, ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(53);
	if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1)
		return 0;
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Read PATH whole (at most PROPAGATION_MAX_FILE bytes) into a new *BUF. */
static int
propagation_read(const char *path, char **buf, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	struct strbuf b;

	*buf = NULL;
	*len = 0;
	*err = NULL;
	if (f == NULL) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	strbuf_init(&b, PROPAGATION_MAX_FILE);
	if (strbuf_read(&b, f) != 0)
		*err = xasprintf(
		    "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "larger than 16 MiB");
	fclose(f);
	if (*err != NULL) {
		strbuf_free(&b);
		return -1;
	}
	*len = b.len;
	*buf = strbuf_take(&b);
	return 0;
}

/* Read and parse a resolvers list into L. Returns 0 or -1 with *ERR. */
static int
propagation_load_list(const char *path, struct prop_list *l, char **err)
{
	char *buf;
	size_t len;
	int rc;

	if (propagation_read(path, &buf, &len, err) != 0)
		return -1;
	rc = prop_list_parse(buf, len, path, l, err);
	free(buf);
	return rc;
}

/*
 * Where the curated public list is: $CUTOVER_PUBLIC_RESOLVERS, the installed
 * copy (DATADIR, or share/cutover next to the binary's bin/), or the source
 * tree next to the binary (./cutover, build/cutover).
 * Returns a new string, or NULL when none exists (*TRIED says where it looked).
 */
static char *
propagation_public_path(char **tried)
{
	const char *env = getenv("CUTOVER_PUBLIC_RESOLVERS");
	char exe[4096], *cand[4];
	ssize_t n;
	char *found = NULL;

	*tried = NULL;
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	cand[0] = xstrdup(CUTOVER_DATADIR "/" PROPAGATION_LIST_NAME);
	cand[1] = cand[2] = cand[3] = NULL;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		/* Installed under another PREFIX than the one it was built for. */
		cand[1] = xasprintf("%s/../share/cutover/%s", exe, PROPAGATION_LIST_NAME);
		cand[2] = xasprintf("%s/contrib/resolvers/%s", exe, PROPAGATION_LIST_NAME);
		cand[3] = xasprintf("%s/../contrib/resolvers/%s", exe, PROPAGATION_LIST_NAME);
	}
	for (size_t i = 0; i < 4; i++) {
		if (found == NULL && cand[i] != NULL && access(cand[i], R_OK) == 0) {
			found = cand[i];
			cand[i] = NULL;
		}
	}
	if (found == NULL)
		*tried = xasprintf(
		    "%s%s%s", cand[0], cand[1] != NULL ? ", " : "", cand[1] != NULL ? cand[1] : "");
	for (size_t i = 0; i < 4; i++)
		free(cand[i]);
	return found;
}

/* Is S ("2001:db8::1", "[2001:db8::1]:53") an IPv6 address this machine has
 * no route to? IPv4 addresses never are. */
static int
propagation_v6_unreachable(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *colon = strchr(s, ':');
	size_t n;

	if (colon == NULL || (s[0] != '[' && strchr(colon + 1, ':') == NULL))
		return 0;
	if (s[0] == '[') {
		s++;
		n = strcspn(s, "]");
	} else {
		n = strlen(s);
	}
	if (n >= sizeof(addr))
		return 0;
	memcpy(addr, s, n);
	addr[n] = '\0';
	return !propagation_has_route6(addr);
}

/* Read and parse the plan (no passwords are resolved: none are needed). */
static int
propagation_load_plan(struct cli *c, struct plan **out)
{
	FILE *f = fopen(po.plan, "rb");
	struct strbuf buf;
	char *err = NULL;
	int rc = CLI_CONTINUE;

	*out = NULL;
	if (f == NULL) {
		fprintf(stderr, "cutover %s: cannot read plan %s: %s\n", c->command, po.plan,
		    strerror(errno));
		return CLI_EXIT_DATAERR;
	}
	strbuf_init(&buf, PLAN_MAX_FILE_BYTES);
	if (strbuf_read(&buf, f) != 0) {
		fprintf(stderr, "cutover %s: cannot read plan %s: %s\n", c->command, po.plan,
		    ferror(f) ? strerror(errno) : "larger than 16 MiB");
		rc = CLI_EXIT_DATAERR;
	} else if (plan_parse(strbuf_str(&buf), buf.len, po.plan, out, &err) != 0) {
		fprintf(stderr, "cutover %s: %s\n", c->command, err);
		free(err);
		rc = CLI_EXIT_DATAERR;
	}
	fclose(f);
	strbuf_free(&buf);
	return rc;
}

/* ---- progress ------------------------------------------------------------- */

struct propagation_ui {
	FILE *out;
	int table; /* live table (a terminal) rather than lines */
	int color;
	int lines; /* lines of the table drawn last time */
	int deadline_s;
	time_t started;
};

static const char *
propagation_state_color(enum prop_state st)
{
	switch (st) {
	case PROP_MATCH: return "\033[32m";
	case PROP_STALE: return "\033[33m";
	default: return "\033[35m";
	}
}

static const char *
propagation_state_name(enum prop_state st)
{
	switch (st) {
	case PROP_MATCH: return "match";
	case PROP_STALE: return "stale";
	case PROP_ERROR: return "error";
	default: return "-";
	}
}

static void
propagation_lines(struct propagation_ui *ui, const struct prop *p)
{
	char now[16];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%H:%M:%SZ", &tm);
	for (size_t i = 0; i < prop_n_expect(p); i++) {
		size_t matched;
		enum result_status st = prop_expect_status(p, i, &matched);

		if (prop_expect_done(p, i))
			continue;
		for (size_t k = 0; k < prop_n_servers(p); k++) {
			struct prop_view v;

			prop_view(p, i, k, &v);
			if (!v.changed)
				continue;
			fprintf(ui->out, "%s  %s  %s %s", now, prop_expect_label(p, i),
			    v.role == PROP_AUTHORITATIVE ? "authoritative" : "resolver", v.server);
			if (v.operator!= NULL)
				fprintf(ui->out, " (%s%s%s)", v.operator,
				    v.country != NULL ? ", " : "",
				    v.country != NULL ? v.country : "");
			fputs(": ", ui->out);
			if (v.previous != NULL)
				fprintf(ui->out, "%s -> ", v.previous);
			fputs(propagation_state_name(v.state), ui->out);
			if (v.state == PROP_ERROR)
				fprintf(ui->out, " (%s)\n", v.error);
			else if (v.ttl >= 0)
				fprintf(ui->out, " (%s; ttl %lld)\n",
				    v.answer[0] ? v.answer : "no record", (long long)v.ttl);
			else
				fprintf(ui->out, " (%s)\n", v.answer[0] ? v.answer : "no record");
		}
		if (st == RESULT_PASS)
			fprintf(ui->out,
			    "%s  %s: complete, all %zu servers match (round %u, %.1f s)\n", now,
			    prop_expect_label(p, i), matched, prop_rounds(p),
			    prop_elapsed_ms(p) / 1000.0);
	}
	fflush(ui->out);
}

/* Servers of one operator (or all authoritative servers) in the live table. */
struct propagation_group {
	const char *name;    /* operator, "authoritative servers", "other resolvers" */
	const char *country; /* when every server of the group has the same one */
	int mixed_country;
	int auth;
	size_t n, match, stale, error;
	time_t expires;  /* latest stale cache expiry */
	size_t *members; /* server indexes, in order */
};

static int
propagation_group_cmp(const void *a, const void *b)
{
	const struct propagation_group *x = a, *y = b;

	if (x->auth != y->auth)
		return x->auth ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Group the servers of expectation I; returns the groups (caller frees). */
static struct propagation_group *
propagation_groups(const struct prop *p, size_t i, size_t *n_out)
{
	struct propagation_group *g = NULL;
	size_t n = 0, cap = 0;

	for (size_t k = 0; k < prop_n_servers(p); k++) {
		struct prop_view v;
		const char *name;
		size_t j;

		prop_view(p, i, k, &v);
		name = v.role == PROP_AUTHORITATIVE ? "authoritative servers"
		                                    : v.operator!= NULL
		    ? v.operator: "other resolvers";
		for (j = 0; j < n; j++)
			if (g[j].auth == (v.role == PROP_AUTHORITATIVE) &&
			    strcmp(g[j].name, name) == 0)
				break;
		if (j == n) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				g = xrealloc(g, cap * sizeof(*g));
			}
			memset(&g[n], 0, sizeof(g[0]));
			g[n].name = name;
			g[n].auth = v.role == PROP_AUTHORITATIVE;
			g[n].country = v.country;
			n++;
		}
		if (g[j].country == NULL || v.country == NULL ||
		    strcmp(g[j].country, v.country) != 0)
			g[j].mixed_country = g[j].n > 0 || v.country == NULL;
		g[j].members = xrealloc(g[j].members, (g[j].n + 1) * sizeof(g[j].members[0]));
		g[j].members[g[j].n++] = k;
		if (v.state == PROP_MATCH)
			g[j].match++;
		else if (v.state == PROP_STALE)
			g[j].stale++;
		else
			g[j].error++;
		if (v.expires_at > g[j].expires)
			g[j].expires = v.expires_at;
	}
	qsort(g, n, sizeof(g[0]), propagation_group_cmp);
	*n_out = n;
	return g;
}

static void
propagation_groups_free(struct propagation_group *g, size_t n)
{
	for (size_t j = 0; j < n; j++)
		free(g[j].members);
	free(g);
}

/* "Google Public DNS (US)" into BUF. */
static void
propagation_group_label(const struct propagation_group *g, char *buf, size_t len)
{
	if (g->country != NULL && !g->mixed_country)
		snprintf(buf, len, "%s (%s)", g->name, g->country);
	else
		snprintf(buf, len, "%s", g->name);
}

/*
 * The live table (a terminal): servers grouped by operator, authoritative
 * servers first. When one line per server does not fit the terminal's
 * height, one line per group instead: its counts and when its stale caches
 * expire.
 */
static void
propagation_table(struct propagation_ui *ui, const struct prop *p)
{
	struct winsize ws;
	int width = 100, height = 40, lines = 0, need;
	char when[32] = "";

	if (ioctl(fileno(ui->out), TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_col >= 60)
			width = ws.ws_col;
		if (ws.ws_row >= 10)
			height = ws.ws_row;
	}
	if (ui->lines > 0)
		fprintf(ui->out, "\033[%dA\033[J", ui->lines);
	if (ui->deadline_s > 0) {
		time_t d = ui->started + ui->deadline_s;
		struct tm tm;

		gmtime_r(&d, &tm);
		strftime(when, sizeof(when), ", deadline %H:%M:%S UTC", &tm);
	}
	fprintf(ui->out, "round %u, %.0f s elapsed%s\n", prop_rounds(p),
	    prop_elapsed_ms(p) / 1000.0, when);
	lines++;
	for (size_t i = 0; i < prop_n_expect(p); i++) {
		size_t matched, n_g;
		enum result_status st = prop_expect_status(p, i, &matched);
		struct propagation_group *g = propagation_groups(p, i, &n_g);
		int compact;

		/* What one line per server would take, every expectation included. */
		need = 1 + (int)(prop_n_expect(p) * (2 + n_g + prop_n_servers(p)));
		compact = need > height - 1;
		fprintf(ui->out, "%s: %zu of %zu match%s\n", prop_expect_label(p, i), matched,
		    prop_n_servers(p), st == RESULT_PASS ? " - complete" : "");
		lines++;
		if (compact)
			fprintf(ui->out, "  %-40s %7s %7s %7s %7s  %s\n", "GROUP", "SERVERS",
			    "MATCH", "STALE", "ERROR", "STALE CACHES EXPIRE");
		else
			fprintf(ui->out, "  %-6s %-24s %-6s %7s %11s  %s\n", "ROLE", "SERVER",
			    "STATE", "TTL", "SERIAL", "ANSWER");
		lines++;
		for (size_t j = 0; j < n_g; j++) {
			char label[128], exp[48] = "-";

			propagation_group_label(&g[j], label, sizeof(label));
			if (g[j].expires != 0)
				prop_format_utc(g[j].expires, time(NULL), exp, sizeof(exp));
			if (compact) {
				const char *c0 = "", *c1 = "";

				if (ui->color) {
					c0 = g[j].error > 0  ? "\033[35m"
					    : g[j].stale > 0 ? "\033[33m"
					                     : "\033[32m";
					c1 = "\033[0m";
				}
				fprintf(ui->out, "  %s%-40.40s%s %7zu %7zu %7zu %7zu  %s\n", c0,
				    label, c1, g[j].n, g[j].match, g[j].stale, g[j].error,
				    g[j].stale > 0 ? exp : "-");
				lines++;
				continue;
			}
			fprintf(ui->out, " %s: %zu of %zu match\n", label, g[j].match, g[j].n);
			lines++;
			for (size_t m = 0; m < g[j].n; m++) {
				struct prop_view v;
				char ttl[24] = "-", serial[24] = "-";
				const char *ans;
				int room;

				prop_view(p, i, g[j].members[m], &v);
				if (v.ttl >= 0)
					snprintf(ttl, sizeof(ttl), "%lld", (long long)v.ttl);
				if (v.serial >= 0)
					snprintf(
					    serial, sizeof(serial), "%lld", (long long)v.serial);
				ans = v.state == PROP_ERROR           ? v.error
				    : v.answer != NULL && v.answer[0] ? v.answer
				                                      : "-";
				room = width - 62;
				fprintf(ui->out, "  %-6s %-24.24s %s%-6s%s %7s %11s  %.*s\n",
				    v.role == PROP_AUTHORITATIVE ? "auth" : "res", v.server,
				    ui->color ? propagation_state_color(v.state) : "",
				    propagation_state_name(v.state), ui->color ? "\033[0m" : "",
				    ttl, serial, room > 8 ? room : 8, ans);
				lines++;
			}
		}
		propagation_groups_free(g, n_g);
	}
	ui->lines = lines;
	fflush(ui->out);
}

static void
propagation_on_round(void *arg, const struct prop *p)
{
	struct propagation_ui *ui = arg;

	if (ui->table)
		propagation_table(ui, p);
	else
		propagation_lines(ui, p);
}

/* ---- --then-require smtp ---------------------------------------------------- */

/*
 * Propagation is complete: probe the domain's MX (now the new one) as
 * `cutover smtp` does, on a runner of its own with the TLS options, adding
 * smtp.mx to REP. *OK: it passed (every recipient accepted, over STARTTLS).
 * Returns 0, or -1 when the runner could not be made or run.
 */
static int
propagation_smtp(const struct cli *c, const struct runner_opts *base_ro, const char *domain,
    const struct plan *plan, struct report *rep, int *ok)
{
	struct runner_opts ro = *base_ro;
	struct check_input in;
	const char **rcpts = NULL;
	struct runner *r;
	size_t n = 0, before = rep->n_results;
	int rc;

	*ok = 0;
	ro.ca_file = c->ca_file != NULL ? c->ca_file : plan != NULL ? plan->ca_file : NULL;
	ro.insecure = c->insecure;
	r = cli_runner_new(c, &ro);
	if (r == NULL)
		return -1;
	memset(&in, 0, sizeof(in));
	in.domain = domain;
	in.smtp_port = (int)po.smtp_port;
	if (po.n_rcpts > 0) {
		in.smtp_rcpts = po.rcpts;
	} else if (plan != NULL && plan->n_mailboxes > 0) {
		rcpts = xcalloc(plan->n_mailboxes + 1, sizeof(*rcpts));
		for (size_t i = 0; i < plan->n_mailboxes && n < PROP_MAX_RCPTS; i++)
			if (plan->mailboxes[i].dest_user != NULL &&
			    strchr(plan->mailboxes[i].dest_user, '@') != NULL)
				rcpts[n++] = plan->mailboxes[i].dest_user;
		in.smtp_rcpts = n > 0 ? rcpts : NULL;
	}
	check_smtp_mx.schedule(r, &in);
	rc = runner_run(r, rep);
	runner_free(r);
	free(rcpts);
	for (size_t i = before; i < rep->n_results; i++) {
		struct result *res = rpt_get(rep, i);

		if (strcmp(res->id, "smtp.mx") == 0)
			*ok = res->status == RESULT_PASS;
		result_free(res);
	}
	return rc == 0 ? 0 : -1;
}

/* ---- signals and --then --------------------------------------------------- */

/* SIGINT, SIGTERM: the rounds end as they are, the report says so. */
static void
propagation_on_signal(void *arg)
{
	prop_interrupt(arg);
}

/*
 * Run CMD with /bin/sh -c, CUTOVER_DOMAIN and CUTOVER_REPORT set; wait for
 * it like system(3) (ignoring SIGINT/SIGQUIT meanwhile, so Ctrl-C goes to
 * the command). Returns its exit status, 128+N when killed by signal N, or
 * CLI_EXIT_SOFTWARE when it could not be started.
 */
static int
propagation_then(const char *cmd, const char *domain, const char *report)
{
	struct sigaction ign, old_int, old_quit;
	int status, rc;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (setenv("CUTOVER_DOMAIN", domain, 1) != 0 ||
		    setenv("CUTOVER_REPORT", report, 1) != 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "cutover propagation: cannot run --then: %s\n", strerror(errno));
		rc = CLI_EXIT_SOFTWARE;
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = CLI_EXIT_SOFTWARE;
			goto out;
		}
	}
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = CLI_EXIT_SOFTWARE;
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return rc;
}

/* ---- run ------------------------------------------------------------------ */

/* The servers a watch asks, and where the lists they came from live. */
struct propagation_servers {
	struct prop_list named;       /* --resolvers-file */
	struct prop_list public_list; /* the curated list */
	const char **resolvers;       /* into c, named, the plan, public_list */
	struct prop_meta *meta;       /* operator and country, by resolver */
	size_t n_resolvers;
	const char *lookup[CLI_MAX_RESOLVERS]; /* the runner's own client */
	size_t n_lookup;
};

static void
propagation_servers_free(struct propagation_servers *s)
{
	free(s->resolvers);
	free(s->meta);
	prop_list_free(&s->named);
	prop_list_free(&s->public_list);
}

/*
 * The options that must agree, and the domain: the argument, else the plan's
 * (*PLAN is loaded with --plan, the caller frees it). Returns CLI_CONTINUE or
 * an exit code.
 */
static int
propagation_domain(struct cli *c, struct plan **plan, const char **domain)
{
	int rc;

	*plan = NULL;
	if (po.public && po.no_public)
		return cli_usage_error(c, "--public and --no-public contradict each other");
	if (c->n_args > 1)
		return cli_usage_error(c, "one domain at a time (got %d arguments)", c->n_args);
	if ((po.interval_set || po.deadline_set) && !po.watch)
		return cli_usage_error(c, "--interval and --deadline go with --watch");
	if (po.plan != NULL && (rc = propagation_load_plan(c, plan)) != CLI_CONTINUE)
		return rc;
	*domain = c->n_args == 1 ? c->args[0] : *plan != NULL ? (*plan)->domain : NULL;
	if (*domain == NULL)
		return cli_usage_error(c,
		    "which domain? e.g. 'cutover propagation example.com "
		    "--expect-mx microsoft365'");
	if (!util_hostname_ok(*domain, 0))
		return cli_value_error(c, "DOMAIN", *domain,
		    "not a domain name (letters, digits, '-' and '.'; e.g. example.com)");
	return CLI_CONTINUE;
}

/*
 * Expectations: the MX (all --expect-mx merged, or the plan's), then TXT,
 * CNAME. *N_EXPECT of EXPECT are filled; NAMES and VALUES get the *N_NV parsed
 * NAME=VALUE halves, which the caller frees, as the MX expectation's values,
 * even on error. Returns CLI_CONTINUE or an exit code.
 */
static int
propagation_expectations(struct cli *c, const char *domain, const struct plan *plan,
    struct prop_expect *expect, size_t *n_expect, char **names, char **values, size_t *n_nv)
{
	char *err = NULL;
	int rc = CLI_CONTINUE;

	if (po.n_mx_args > 0 || (plan != NULL && plan->expect.n_mx > 0)) {
		struct prop_expect *e = &expect[(*n_expect)++];

		e->type = DNSMSG_MX;
		e->name = domain;
		for (size_t i = 0; i < po.n_mx_args && rc == CLI_CONTINUE; i++) {
			if (prop_expect_mx_parse(e, po.mx_args[i], &err) != 0) {
				rc = cli_value_error(c, "--expect-mx", po.mx_args[i], err);
				free(err);
			}
		}
		for (size_t i = 0;
		     po.n_mx_args == 0 && i < plan->expect.n_mx && e->n_values < PROP_MAX_VALUES;
		     i++) {
			e->values[e->n_values] = plan->expect.mx[i];
			e->required[e->n_values++] = plan->expect.mx_from != NULL &&
			    strcmp(plan->expect.mx_from, "plan") == 0;
		}
	}
	for (int pass = 0; pass < 2 && rc == CLI_CONTINUE; pass++) {
		size_t n = pass == 0 ? po.n_txt : po.n_cname;

		for (size_t i = 0; i < n && rc == CLI_CONTINUE; i++) {
			const char *arg = pass == 0 ? po.txt[i] : po.cname[i];
			struct prop_expect *e = &expect[(*n_expect)++];

			if (prop_name_value_parse(
			        arg, domain, &names[*n_nv], &values[*n_nv], &err) != 0) {
				rc = cli_value_error(
				    c, pass == 0 ? "--expect-txt" : "--expect-cname", arg, err);
				free(err);
				(*n_expect)--;
				break;
			}
			e->type = pass == 0 ? DNSMSG_TXT : DNSMSG_CNAME;
			e->name = names[*n_nv];
			e->values[0] = values[*n_nv];
			e->n_values = 1;
			(*n_nv)++;
		}
	}
	if (rc == CLI_CONTINUE && *n_expect == 0)
		rc = cli_usage_error(c,
		    "what should the servers answer? Give --expect-mx "
		    "HOST[,HOST...] (or --expect-txt/--expect-cname NAME=VALUE)");
	return rc;
}

/* Load the curated list of public resolvers into L. Returns CLI_CONTINUE or
 * CLI_EXIT_DATAERR, having said why. */
static int
propagation_load_public(const struct cli *c, struct prop_list *l)
{
	char *err = NULL, *tried = NULL, *path = propagation_public_path(&tried);

	if (path == NULL) {
		fprintf(stderr,
		    "cutover %s: the list of public resolvers is not installed "
		    "(looked for %s); name resolvers with --resolver or --resolvers-file, or "
		    "set CUTOVER_PUBLIC_RESOLVERS to the list\n",
		    c->command, tried);
		free(tried);
		return CLI_EXIT_DATAERR;
	}
	if (propagation_load_list(path, l, &err) != 0) {
		fprintf(stderr, "cutover %s: public resolvers list %s\n", c->command, err);
		free(err);
		free(path);
		return CLI_EXIT_DATAERR;
	}
	free(path);
	return CLI_CONTINUE;
}

/*
 * The runner's own client (NS discovery): the first resolvers named, or the
 * plan's "resolvers", or the system's (none in S->lookup).
 */
static void
propagation_lookup(const struct cli *c, const struct plan *plan, struct propagation_servers *s)
{
	if (c->n_resolvers > 0) {
		for (size_t i = 0; i < c->n_resolvers && s->n_lookup < CLI_MAX_RESOLVERS; i++)
			s->lookup[s->n_lookup++] = c->resolvers[i];
	} else if (s->named.n > 0) {
		for (size_t i = 0; i < s->named.n && s->n_lookup < CLI_MAX_RESOLVERS; i++)
			s->lookup[s->n_lookup++] = s->named.v[i].server;
	} else if (plan != NULL) {
		for (size_t i = 0; i < plan->n_resolvers && s->n_lookup < CLI_MAX_RESOLVERS; i++)
			s->lookup[s->n_lookup++] = plan->resolvers[i];
	}
}

/*
 * Resolvers to watch: the ones named (--resolver, --resolvers-file), else
 * the plan's public_resolvers, else the curated list; --public adds the
 * curated list in any case. Fills S (the caller frees it with
 * propagation_servers_free, even on error). Returns CLI_CONTINUE or
 * CLI_EXIT_DATAERR, having said why.
 */
static int
propagation_servers(const struct cli *c, const struct plan *plan, struct propagation_servers *s)
{
	size_t n_plan_public;
	char *err = NULL;
	int use_public, rc;

	for (size_t i = 0; i < po.n_files; i++) {
		if (propagation_load_list(po.files[i], &s->named, &err) != 0) {
			fprintf(stderr, "cutover %s: --resolvers-file %s\n", c->command, err);
			free(err);
			return CLI_EXIT_DATAERR;
		}
	}
	n_plan_public =
	    c->n_resolvers + s->named.n == 0 && plan != NULL ? plan->n_public_resolvers : 0;
	use_public =
	    po.public || (c->n_resolvers + s->named.n + n_plan_public == 0 && !po.no_public);
	if (use_public) {
		rc = propagation_load_public(c, &s->public_list);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	s->n_resolvers = c->n_resolvers + s->named.n + n_plan_public + s->public_list.n;
	s->resolvers = xcalloc(s->n_resolvers + 1, sizeof(s->resolvers[0]));
	s->meta = xcalloc(s->n_resolvers + 1, sizeof(s->meta[0]));
	s->n_resolvers = 0;
	for (size_t i = 0; i < c->n_resolvers; i++)
		s->resolvers[s->n_resolvers++] = c->resolvers[i];
	for (size_t i = 0; i < s->named.n; i++) {
		s->meta[s->n_resolvers] =
		    (struct prop_meta){s->named.v[i].operator, s->named.v[i].country };
		s->resolvers[s->n_resolvers++] = s->named.v[i].server;
	}
	for (size_t i = 0; i < n_plan_public; i++)
		s->resolvers[s->n_resolvers++] = plan->public_resolvers[i];
	/* IPv6 entries of the curated list only when this machine has IPv6. */
	for (size_t i = 0; i < s->public_list.n; i++) {
		if (propagation_v6_unreachable(s->public_list.v[i].server))
			continue;
		s->meta[s->n_resolvers] =
		    (struct prop_meta){s->public_list.v[i].operator, s->public_list.v[i].country };
		s->resolvers[s->n_resolvers++] = s->public_list.v[i].server;
	}
	propagation_lookup(c, plan, s);
	return CLI_CONTINUE;
}

/* Progress goes where the JSON report does not: a live table on a terminal. */
static void
propagation_ui_init(const struct cli *c, struct propagation_ui *ui)
{
	memset(ui, 0, sizeof(*ui));
	ui->out = c->json_path != NULL && strcmp(c->json_path, "-") == 0 ? stderr : stdout;
	ui->table = !c->no_progress && isatty(fileno(ui->out));
	ui->color = console_use_color(ui->out);
	ui->deadline_s = po.watch && po.deadline_set ? (int)po.deadline : 0;
	ui->started = time(NULL);
}

/* The watch's configuration, from the options and what was gathered. */
static void
propagation_config(const struct cli *c, struct prop_config *cfg, const char *domain,
    struct prop_expect *expect, size_t n_expect, const struct propagation_servers *s,
    int timeout_ms, struct propagation_ui *ui)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->domain = domain;
	cfg->expect = expect;
	cfg->n_expect = n_expect;
	cfg->authoritative = po.authoritative;
	cfg->n_authoritative = po.n_authoritative;
	cfg->resolvers = s->resolvers;
	cfg->n_resolvers = s->n_resolvers;
	cfg->resolver_meta = s->meta;
	cfg->then = po.then != NULL;
	cfg->ns_port = (int)po.ns_port;
	cfg->timeout_ms = timeout_ms * 3 / 4;
	cfg->watch = po.watch;
	cfg->interval_ms = (int)po.interval * 1000;
	cfg->deadline_ms = po.watch && po.deadline_set ? (int)po.deadline * 1000 : 0;
	if (po.watch && !c->quiet) {
		cfg->on_round = propagation_on_round;
		cfg->on_round_arg = ui;
	}
}

/*
 * CUTOVER_REPORT always names a file: without --json, write REP to a new
 * temporary one, its name into PATH (LEN bytes; empty again when nothing is
 * left to remove). Returns 0, or -1 having said why.
 */
static int
propagation_tmp_report(const struct cli *c, const struct report *rep, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *err = NULL;
	int fd;

	snprintf(path, len, "%s/cutover-report-XXXXXX.json",
	    dir != NULL && *dir != '\0' && strlen(dir) < 30 ? dir : "/tmp");
	fd = mkstemps(path, 5);
	if (fd >= 0)
		close(fd);
	if (fd < 0 || rpt_write_json(rep, path, &err) != 0) {
		fprintf(stderr, "cutover %s: cannot write the report for --then: %s\n", c->command,
		    err != NULL ? err : strerror(errno));
		free(err);
		path[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Propagation is complete: run --then, unless --then-require smtp found the
 * MX not accepting every recipient yet (exit 2 then, unless the report's
 * status already says otherwise). RC is cli_output's exit code; REPORT_PATH
 * the --json file or NULL; TMP_REPORT (LEN bytes) gets a temporary report's
 * name, for the caller to remove. Returns the exit code.
 */
static int
propagation_trigger(const struct cli *c, const struct report *rep, const char *domain,
    const char *report_path, int smtp_ok, int rc, char *tmp_report, size_t len)
{
	if (po.require_smtp && !smtp_ok) {
		if (!c->quiet)
			fprintf(stderr,
			    "cutover %s: propagation complete, but the MX does not accept "
			    "every recipient yet (smtp.mx): not running --then\n",
			    c->command);
		return rc == CLI_EXIT_OK ? 2 : rc;
	}
	if (report_path == NULL) {
		if (propagation_tmp_report(c, rep, tmp_report, len) != 0)
			return CLI_EXIT_IOERR;
		report_path = tmp_report;
	}
	if (!c->quiet)
		fprintf(
		    stderr, "cutover %s: propagation complete; running: %s\n", c->command, po.then);
	return propagation_then(po.then, domain, report_path);
}

static int
propagation_run(struct cli *c)
{
	struct prop_expect expect[PROP_MAX_EXPECT];
	char *names[PROP_MAX_EXPECT], *values[PROP_MAX_EXPECT];
	size_t n_expect = 0, n_nv = 0;
	struct propagation_servers servers;
	struct prop_config cfg;
	struct runner_opts ro;
	struct runner *r = NULL;
	struct report *rep = NULL;
	struct prop *p = NULL;
	struct plan *plan = NULL;
	struct propagation_ui ui;
	const char *domain = NULL, *report_path = NULL;
	char *err = NULL, tmp_report[64] = "";
	int64_t t0 = util_now_ms();
	int rc, complete = 0, smtp_ok = 0;

	memset(expect, 0, sizeof(expect));
	memset(&servers, 0, sizeof(servers));
	rc = propagation_domain(c, &plan, &domain);
	if (rc != CLI_CONTINUE) {
		plan_free(plan);
		return rc;
	}
	rc = propagation_expectations(c, domain, plan, expect, &n_expect, names, values, &n_nv);
	if (rc == CLI_CONTINUE)
		rc = propagation_servers(c, plan, &servers);
	if (rc != CLI_CONTINUE)
		goto out;

	/* DNS only: the TLS switches are for the smtp.mx probe (propagation_smtp). */
	cli_runner_opts(c, &ro, servers.lookup, servers.n_lookup, NULL);
	ro.insecure = ro.allow_plaintext = ro.allow_old_tls = 0;
	r = cli_runner_new(c, &ro);
	if (r == NULL) {
		rc = CLI_EXIT_DATAERR;
		goto out;
	}
	propagation_ui_init(c, &ui);
	propagation_config(c, &cfg, domain, expect, n_expect, &servers, ro.timeout_ms, &ui);
	p = prop_new(r, &cfg, &err);
	if (p == NULL) {
		fprintf(stderr, "cutover %s: %s\n", c->command, err);
		free(err);
		rc = CLI_EXIT_DATAERR;
		goto out;
	}

	rep = rpt_new(c->command, domain);
	rep->started_at = time(NULL);
	prop_schedule(p);
	rc = cli_run_loop(c, r, rep, t0, propagation_on_signal, p, NULL, 0);
	complete = prop_complete(p);
	prop_free(p);
	p = NULL;
	if (rc == 0 && complete && po.require_smtp) {
		if (propagation_smtp(c, &ro, domain, plan, rep, &smtp_ok) != 0) {
			fprintf(stderr, "cutover %s: the event loop failed\n", c->command);
			rc = -1;
		}
		rep->duration_ms = util_now_ms() - t0; /* smtp.mx counts too */
	}
	if (rc != 0) {
		rc = CLI_EXIT_SOFTWARE;
		goto out;
	}
	report_path = c->json_path != NULL && strcmp(c->json_path, "-") != 0 ? c->json_path : NULL;
	/* --json, --html and the summary, as every command writes them. */
	rc = cli_output(c, rep);
	if (rc != CLI_EXIT_IOERR && po.then != NULL && complete)
		rc = propagation_trigger(
		    c, rep, domain, report_path, smtp_ok, rc, tmp_report, sizeof(tmp_report));
out:
	if (tmp_report[0] != '\0')
		unlink(tmp_report);
	prop_free(p);
	rpt_free(rep);
	runner_free(r);
	for (size_t i = 0; i < n_nv; i++) {
		free(names[i]);
		free(values[i]);
	}
	if (n_expect > 0 && expect[0].type == DNSMSG_MX)
		prop_expect_clear(&expect[0]);
	propagation_servers_free(&servers);
	free(po.authoritative);
	free(po.files);
	plan_free(plan);
	return rc;
}

const struct cli_command cli_cmd_propagation = {
    .name = "propagation",
    .synopsis = "DOMAIN",
    .summary = "go-live day: who still sees the old MX, until when; --watch, --then",
    .help = propagation_help,
    .options = propagation_options,
    .option = propagation_option,
    .run = propagation_run,
};
