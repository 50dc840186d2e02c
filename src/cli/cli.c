/*
 * cli.c - dispatch, common options, the run loop every command shares
 * (cli_run_loop: runner, signals, timers) and the run of a set of checks.
 *
 * Option values are checked here, before any network traffic: a bad value is
 * exit 65 with the option named; an unknown option or command is exit 64 with
 * the closest valid name suggested.
 */
#include "cli.h"

#include <math.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks/check.h"
#include "reports/console.h"
#include "reports/csv.h"
#include "reports/html.h"
#include "reports/json.h"
#include "src/report.h"
#include "src/runner.h"
#include "src/util.h"

enum cli_opt {
	OPT_JSON = 256,
	OPT_HTML,
	OPT_CSV,
	OPT_RESOLVER,
	OPT_CA_FILE,
	OPT_INSECURE,
	OPT_ALLOW_PLAINTEXT,
	OPT_NO_PROGRESS,
	OPT_VERSION,
	OPT_CONCURRENCY,
	OPT_PER_HOST,
	OPT_TIMEOUT,
	OPT_ALLOW_OLD_TLS,
};

static const struct cli_command *const cli_commands[] = {
    &cli_cmd_audit,
    &cli_cmd_dns,
    &cli_cmd_propagation,
    &cli_cmd_sync,
    &cli_cmd_report,
    &cli_cmd_smtp,
    &cli_cmd_auth,
    NULL,
};

static const struct option cli_common_options[] = {
    {"json", required_argument, NULL, OPT_JSON},
    {"html", required_argument, NULL, OPT_HTML},
    {"csv", required_argument, NULL, OPT_CSV},
    {"resolver", required_argument, NULL, OPT_RESOLVER},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"allow-plaintext", no_argument, NULL, OPT_ALLOW_PLAINTEXT},
    {"allow-old-tls", no_argument, NULL, OPT_ALLOW_OLD_TLS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"version", no_argument, NULL, OPT_VERSION},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char cli_common_help[] =
    "Common options:\n"
    "  --json FILE          write the JSON report to FILE (- = stdout); schema:\n"
    "                       reports/SCHEMA.md\n"
    "  --html FILE          write the report as one self-contained HTML page\n"
    "                       (opens offline in any browser; - = stdout)\n"
    "  --csv FILE           write the mailboxes as a spreadsheet: one row per\n"
    "                       mailbox and side (UTF-8 CSV that Excel opens; - = stdout)\n"
    "  --resolver ADDR[:PORT]  ask this DNS server instead of the system's\n"
    "                       (repeatable; [IPv6]:PORT for IPv6 with a port)\n"
    "  --timeout SEC        give up on one check after SEC seconds (default 15)\n"
    "  --concurrency N      connections in flight at once (default 64)\n"
    "  --per-host N         connections to one server at once (default 8)\n"
    "  --ca-file FILE       also trust the CAs in FILE (PEM)\n"
    "  --insecure           do not verify TLS certificates (shown in the report)\n"
    "  --allow-plaintext    permit passwords over unencrypted connections\n"
    "  --allow-old-tls      permit passwords over TLS 1.0/1.1 (otherwise such a\n"
    "                       server is reported, and no password is sent)\n"
    "  -q, --quiet          no summary on stdout (the exit code still tells)\n"
    "  -v, --verbose        also print every check's details\n"
    "  --no-progress        no progress line on stderr\n"
    "  -h, --help           this help;  --version  the version\n"
    "\n"
    "Exit codes: 0 all pass or skip, 1 worst is warn, 2 worst is fail or error,\n"
    "64 usage error, 65 bad input data (plan, CSV, option values), 70 internal\n"
    "error, 74 cannot write a report.\n";

static void
cli_help_main(FILE *out)
{
	fputs("cutover - readiness audit, go-live checks and final sync for email migrations\n"
	      "\n"
	      "Usage: cutover COMMAND [OPTIONS] ...\n"
	      "\n"
	      "Commands:\n",
	    out);
	for (size_t i = 0; cli_commands[i] != NULL; i++) {
		char *head = xasprintf("%s %s", cli_commands[i]->name, cli_commands[i]->synopsis);

		fprintf(out, "  %-26s %s\n", head, cli_commands[i]->summary);
		free(head);
	}
	fputs("\n"
	      "Examples:\n"
	      "  cutover dns example.com\n"
	      "  cutover dns example.com --expect microsoft365 --json report.json\n"
	      "  cutover audit plan.json --json audit.json\n"
	      "\n"
	      "Run 'cutover COMMAND --help' for a command's options.\n",
	    out);
}

int
cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	const char *cmd = c != NULL ? c->command : NULL;
	va_list ap;

	fprintf(stderr, "cutover%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'cutover %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_EXIT_USAGE;
}

int
cli_value_error(const struct cli *c, const char *option, const char *value, const char *want)
{
	fprintf(stderr, "cutover %s: %s \"%s\": %s\n", c->command, option, value, want);
	return CLI_EXIT_DATAERR;
}

int
cli_parse_long(
    const struct cli *c, const char *option, const char *arg, long min, long max, long *out)
{
	long long v;
	char want[96];

	if (util_parse_int(arg, min, max, &v) != 0) {
		snprintf(want, sizeof(want), "expected a whole number from %ld to %ld", min, max);
		return cli_value_error(c, option, arg, want);
	}
	*out = (long)v;
	return CLI_CONTINUE;
}

/* The common options followed by the command's own, for getopt_long. */
static struct option *
cli_merge_options(const struct cli_command *cmd)
{
	size_t n = UTIL_ARRAY_LEN(cli_common_options) - 1, m = 0;
	struct option *all;

	while (cmd->options != NULL && cmd->options[m].name != NULL)
		m++;
	all = xcalloc(n + m + 1, sizeof(*all));
	memcpy(all, cli_common_options, n * sizeof(*all));
	if (m > 0)
		memcpy(all + n, cmd->options, m * sizeof(*all));
	return all;
}

static const char *
cli_closest_option(const struct option *opts, const char *given)
{
	const char *best = NULL;
	size_t best_d = 4;

	while (*given == '-')
		given++;
	for (const struct option *o = opts; o->name != NULL; o++) {
		size_t d = util_edit_distance(given, o->name);

		if (d < best_d) {
			best_d = d;
			best = o->name;
		}
	}
	return best;
}

/* Which command has an option named NAME, for "does not apply" messages. */
static const char *
cli_option_owner(const char *arg)
{
	size_t len;

	if (strncmp(arg, "--", 2) != 0)
		return NULL;
	arg += 2;
	len = strcspn(arg, "=");
	for (size_t i = 0; cli_commands[i] != NULL; i++)
		for (const struct option *o = cli_commands[i]->options; o != NULL && o->name; o++)
			if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
				return cli_commands[i]->name;
	return NULL;
}

static void
cli_help_command(const struct cli_command *cmd)
{
	cmd->help(stdout);
	fputs(cli_common_help, stdout);
}

/* Parse options into C. Returns CLI_CONTINUE to go on, or an exit code. */
static int
cli_parse(struct cli *c, int argc, char **argv)
{
	struct option *opts = cli_merge_options(c->cmd);
	char *end;
	int opt, rc = CLI_CONTINUE;

	opterr = 0;
	optind = 1;
	c->concurrency = 64;
	c->per_host = 8;
	c->timeout_s = 15;
	while (rc == CLI_CONTINUE && (opt = getopt_long(argc, argv, ":qvh", opts, NULL)) != -1) {
		switch (opt) {
		case '?': {
			const char *bad = argv[optind - 1];
			const char *owner = cli_option_owner(bad);
			const char *sugg =
			    strncmp(bad, "--", 2) == 0 ? cli_closest_option(opts, bad) : NULL;

			if (optopt != 0 && strncmp(bad, "--", 2) != 0)
				rc = cli_usage_error(c, "unknown option '-%c'", optopt);
			else if (owner != NULL)
				rc = cli_usage_error(c,
				    "option '%s' does not apply to '%s' (it is an "
				    "option of 'cutover %s')",
				    bad, c->command, owner);
			else if (sugg != NULL)
				rc = cli_usage_error(
				    c, "unknown option '%s' (did you mean '--%s'?)", bad, sugg);
			else
				rc = cli_usage_error(c, "unknown option '%s'", bad);
			break;
		}
		case ':':
			rc = cli_usage_error(c, "option '%s' needs a value", argv[optind - 1]);
			break;
		case 'h':
			cli_help_command(c->cmd);
			rc = CLI_EXIT_OK;
			break;
		case 'q': c->quiet = 1; break;
		case 'v': c->verbose++; break;
		case OPT_VERSION:
			printf("cutover %s\n", CUTOVER_VERSION);
			rc = CLI_EXIT_OK;
			break;
		case OPT_JSON: c->json_path = optarg; break;
		case OPT_HTML: c->html_path = optarg; break;
		case OPT_CSV: c->csv_path = optarg; break;
		case OPT_RESOLVER:
			/* No cap: `propagation` asks any number; at most argc of them. */
			if (c->resolvers == NULL)
				c->resolvers = xcalloc((size_t)argc, sizeof(c->resolvers[0]));
			c->resolvers[c->n_resolvers++] = optarg;
			break;
		case OPT_CA_FILE: c->ca_file = optarg; break;
		case OPT_INSECURE: c->insecure = 1; break;
		case OPT_ALLOW_PLAINTEXT: c->allow_plaintext = 1; break;
		case OPT_ALLOW_OLD_TLS: c->allow_old_tls = 1; break;
		case OPT_NO_PROGRESS: c->no_progress = 1; break;
		case OPT_CONCURRENCY:
			rc = cli_parse_long(c, "--concurrency", optarg, 1, 100000, &c->concurrency);
			break;
		case OPT_PER_HOST:
			rc = cli_parse_long(c, "--per-host", optarg, 1, 10000, &c->per_host);
			break;
		case OPT_TIMEOUT:
			c->timeout_s = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(c->timeout_s >= 0.1 && c->timeout_s <= 3600))
				rc = cli_value_error(
				    c, "--timeout", optarg, "expected seconds from 0.1 to 3600");
			break;
		default:
			if (opt >= CLI_OPT_COMMAND && c->cmd->option != NULL)
				rc = c->cmd->option(c, opt, optarg);
			else
				rc = cli_usage_error(c, "unexpected option");
			break;
		}
	}
	free(opts);
	c->args = argv + optind;
	c->n_args = argc - optind;
	return rc;
}

static int
cli_group_selected(const char *only, const char *group)
{
	size_t gl = strlen(group);
	const char *p = only;

	if (only == NULL)
		return 1;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == gl && strncmp(p, group, n) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * The progress line on stderr: "  37/200 checks  12.4/s  ETA 13 s". Drawn by
 * a libevent timer on the runner's loop (never a sleep), CLI_PROGRESS_MS
 * apart, only while stderr is a terminal and --no-progress was not given;
 * erased before the summary is printed.
 */
#define CLI_PROGRESS_MS 250

struct cli_progress {
	struct runner *r;
	int64_t t0;
	int drawn;
};

static void
cli_progress_draw(void *arg)
{
	struct cli_progress *p = arg;
	size_t done = runner_finished(p->r), total = runner_total(p->r);
	double secs = (util_now_ms() - p->t0) / 1000.0;
	double rate = secs > 0 ? done / secs : 0;

	fprintf(stderr, "\r  %zu/%zu checks  %.1f/s", done, total, rate);
	if (rate > 0 && done < total) {
		double eta = (double)(total - done) / rate;

		if (eta < 60)
			fprintf(stderr, "  ETA %.0f s", eta);
		else
			fprintf(stderr, "  ETA %.0f min %.0f s", floor(eta / 60), fmod(eta, 60));
	}
	fputs("\033[K", stderr);
	fflush(stderr);
	p->drawn = 1;
}

/* ---- the run every command shares ------------------------------------------ */

void
cli_runner_opts(const struct cli *c, struct runner_opts *ro, const char *const *resolvers,
    size_t n_resolvers, const char *ca_file)
{
	memset(ro, 0, sizeof(*ro));
	ro->concurrency = (int)c->concurrency;
	ro->per_host = (int)c->per_host;
	ro->timeout_ms = (int)(c->timeout_s * 1000);
	ro->resolvers = resolvers;
	ro->n_resolvers = n_resolvers;
	ro->ca_file = ca_file;
	ro->insecure = c->insecure;
	ro->allow_plaintext = c->allow_plaintext;
	ro->allow_old_tls = c->allow_old_tls;
	ro->verbose = c->verbose;
}

struct runner *
cli_runner_new(const struct cli *c, const struct runner_opts *ro)
{
	char *err = NULL;
	struct runner *r = runner_new(ro, &err);

	if (r == NULL) {
		fprintf(stderr, "cutover %s: %s\n", c->command, err);
		free(err);
	}
	return r;
}

struct report *
cli_report_new(const struct cli *c, const char *target)
{
	struct report *rep = rpt_new(c->command, target);

	rep->started_at = time(NULL);
	rep->insecure = c->insecure;
	rep->allow_plaintext = c->allow_plaintext;
	rep->allow_old_tls = c->allow_old_tls;
	return rep;
}

struct cli_stop {
	struct runner *r;
	void (*fn)(void *arg);
	void *arg;
};

static void
cli_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cli_stop *s = arg;

	(void)sig;
	(void)what;
	if (s->fn != NULL)
		s->fn(s->arg);
	runner_stop(s->r);
}

static void
cli_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cli_tick *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

int
cli_run_loop(const struct cli *c, struct runner *r, struct report *rep, int64_t t0,
    void (*on_stop)(void *arg), void *stop_arg, struct cli_tick *ticks, size_t n_ticks)
{
	struct cli_stop stop = {r, on_stop, stop_arg};
	struct event *sigs[2];
	int rc;

	sigs[0] = evsignal_new(runner_base(r), SIGINT, cli_on_signal, &stop);
	sigs[1] = evsignal_new(runner_base(r), SIGTERM, cli_on_signal, &stop);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(sigs); i++)
		if (sigs[i] != NULL)
			evsignal_add(sigs[i], NULL);
	for (size_t i = 0; i < n_ticks; i++) {
		struct timeval tv = {ticks[i].ms / 1000, (ticks[i].ms % 1000) * 1000};

		ticks[i].ev = NULL;
		if (ticks[i].ms <= 0)
			continue;
		ticks[i].ev = event_new(runner_base(r), -1, EV_PERSIST, cli_on_tick, &ticks[i]);
		if (ticks[i].ev != NULL && event_add(ticks[i].ev, &tv) != 0) {
			event_free(ticks[i].ev);
			ticks[i].ev = NULL;
		}
	}
	rc = runner_run(r, rep);
	for (size_t i = 0; i < n_ticks; i++) {
		if (ticks[i].ev != NULL)
			event_free(ticks[i].ev);
		ticks[i].ev = NULL;
		if (ticks[i].drawn != NULL && *ticks[i].drawn) {
			fputs("\r\033[K", stderr);
			fflush(stderr);
		}
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(sigs); i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	rep->duration_ms = util_now_ms() - t0;
	if (rc != 0)
		fprintf(stderr, "cutover %s: the event loop failed\n", c->command);
	return rc;
}

void
cli_warnings(const struct cli *c, const char *lines)
{
	for (const char *p = lines; *p != '\0';) {
		size_t n = strcspn(p, "\n");

		fprintf(stderr, "cutover %s: warning: %.*s\n", c->command, (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* A failed login, for cli_rollup_logins. */
struct cli_login {
	char *subject;
	enum result_side side;
};

static int
cli_cmp_login(const void *a, const void *b)
{
	const struct cli_login *x = a, *y = b;
	int c = strcmp(x->subject, y->subject);

	return c != 0 ? c : (int)x->side - (int)y->side;
}

/*
 * A mailbox whose IMAP login failed in this run: its mailbox.* checks could
 * not read it and each says so as an error. The login check already carries
 * the failure, once; the checks that needed the login become skips, "not
 * checked: the source login failed", so that one failure is not counted and
 * printed six times. (Without a login check in the run, --only folders, they
 * stay errors: nothing else would report the failure.) The results wait in
 * the report's spool: only failed ones are read back, one at a time.
 */
static void
cli_rollup_logins(struct report *rep)
{
	struct cli_login *fails = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < rep->n_results; i++) {
		enum result_status st = rpt_status_at(rep, i);
		struct result *res;

		if (st != RESULT_FAIL && st != RESULT_ERROR)
			continue;
		res = rpt_get(rep, i);
		if (strcmp(res->id, "imap.login") == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				fails = xrealloc(fails, cap * sizeof(*fails));
			}
			fails[n].subject = xstrdup(res->subject);
			fails[n].side = res->side;
			n++;
		}
		result_free(res);
	}
	if (n > 0)
		qsort(fails, n, sizeof(*fails), cli_cmp_login);
	for (size_t i = 0; i < rep->n_results && n > 0; i++) {
		struct result *res;
		struct cli_login key;

		if (rpt_status_at(rep, i) != RESULT_ERROR)
			continue;
		res = rpt_get(rep, i);
		key.subject = res->subject;
		key.side = res->side == RESULT_SIDE_NONE ? RESULT_SIDE_SOURCE : res->side;
		if (strncmp(res->id, "mailbox.", 8) != 0 || res->status != RESULT_ERROR ||
		    !cJSON_HasObjectItem(res->details, "error") ||
		    bsearch(&key, fails, n, sizeof(*fails), cli_cmp_login) == NULL) {
			result_free(res);
			continue;
		}
		result_set(res, RESULT_SKIP, "not checked: the %s login failed",
		    result_side_str(key.side));
		free(res->advice);
		res->advice = NULL;
		rpt_replace(rep, i, res);
	}
	for (size_t i = 0; i < n; i++)
		free(fails[i].subject);
	free(fails);
}

int
cli_run_checks(const struct cli *c, unsigned command_bit, const char *only,
    const struct check_input *in, const char *target, const char *const *resolvers,
    size_t n_resolvers, const char *ca_file)
{
	struct runner_opts ro;
	struct runner *r;
	struct report *rep;
	struct cli_progress progress;
	struct cli_tick tick = {0, cli_progress_draw, &progress, &progress.drawn, NULL};
	int64_t t0 = util_now_ms();
	int rc;

	cli_runner_opts(c, &ro, resolvers, n_resolvers, ca_file);
	r = cli_runner_new(c, &ro);
	if (r == NULL)
		return CLI_EXIT_DATAERR;
	rep = cli_report_new(c, target);
	for (const struct check *const *ck = check_registry(); *ck != NULL; ck++)
		if (((*ck)->commands & command_bit) && cli_group_selected(only, (*ck)->group) &&
		    (only != NULL || !(*ck)->on_request) &&
		    (in == NULL || check_in_shard(*ck, in->shard_k, in->shard_n)))
			(*ck)->schedule(r, in);
	memset(&progress, 0, sizeof(progress));
	progress.r = r;
	progress.t0 = t0;
	if (!c->no_progress && isatty(fileno(stderr)))
		tick.ms = CLI_PROGRESS_MS;
	rc = cli_run_loop(c, r, rep, t0, NULL, NULL, &tick, 1);
	runner_free(r);
	if (rc != 0) {
		rpt_free(rep);
		return CLI_EXIT_SOFTWARE;
	}
	cli_rollup_logins(rep);
	rc = cli_output(c, rep);
	rpt_free(rep);
	return rc;
}

int
cli_output(const struct cli *c, const struct report *rep)
{
	enum result_status worst;
	size_t counts[RESULT_STATUS_COUNT];
	char *err = NULL;
	int rc;

	rpt_counts(rep, counts, &worst);
	rc = result_exit_code(worst);
	if (c->json_path != NULL && rpt_write_json(rep, c->json_path, &err) != 0) {
		fprintf(stderr, "cutover %s: cannot write the report: %s\n", c->command, err);
		free(err);
		err = NULL;
		rc = CLI_EXIT_IOERR;
	}
	if (c->html_path != NULL && html_write(rep, c->html_path, &err) != 0) {
		fprintf(stderr, "cutover %s: %s\n", c->command, err);
		free(err);
		rc = CLI_EXIT_IOERR;
	}
	if (c->csv_path != NULL && csv_write(rep, c->csv_path, &err) != 0) {
		fprintf(stderr, "cutover %s: %s\n", c->command, err);
		free(err);
		rc = CLI_EXIT_IOERR;
	}
	if (!c->quiet) {
		int to_stdout = (c->json_path == NULL || strcmp(c->json_path, "-") != 0) &&
		    (c->html_path == NULL || strcmp(c->html_path, "-") != 0) &&
		    (c->csv_path == NULL || strcmp(c->csv_path, "-") != 0);
		FILE *out = to_stdout ? stdout : stderr;

		console_summary(out, rep, console_use_color(out), c->verbose);
	}
	return rc;
}

/*
 * A report that cannot be written would only fail after the whole run (an
 * audit of thousands of mailboxes): check its folder first. Returns
 * CLI_CONTINUE, or CLI_EXIT_IOERR after saying why.
 */
static int
cli_check_output(const struct cli *c, const char *option, const char *path)
{
	struct stat st;
	const char *slash;
	char *dir;
	int ok;

	if (path == NULL || strcmp(path, "-") == 0)
		return CLI_CONTINUE;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cutover %s: %s %s: is a folder; name the report file\n",
		    c->command, option, path);
		return CLI_EXIT_IOERR;
	}
	slash = strrchr(path, '/');
	dir = slash == NULL ? xstrdup(".")
	    : slash == path ? xstrdup("/")
	                    : xstrndup(path, (size_t)(slash - path));
	errno = 0;
	ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
	if (!ok)
		fprintf(stderr, "cutover %s: %s %s: cannot write in %s: %s\n", c->command, option,
		    path, dir, errno != 0 ? strerror(errno) : "not a folder");
	free(dir);
	return ok ? CLI_CONTINUE : CLI_EXIT_IOERR;
}

static const struct cli_command *
cli_find_command(const char *name, const char **suggestion)
{
	size_t best_d = 3;

	*suggestion = NULL;
	for (size_t i = 0; cli_commands[i] != NULL; i++) {
		size_t d = util_edit_distance(name, cli_commands[i]->name);

		if (d == 0)
			return cli_commands[i];
		if (d < best_d) {
			best_d = d;
			*suggestion = cli_commands[i]->name;
		}
	}
	return NULL;
}

int
cli_main(int argc, char **argv)
{
	struct cli c;
	const char *sugg;
	int rc;

	memset(&c, 0, sizeof(c));
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		cli_help_main(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_help_main(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cutover %s\n", CUTOVER_VERSION);
		return CLI_EXIT_OK;
	}
	if (argv[1][0] == '-')
		return cli_usage_error(NULL,
		    "expected a command before '%s' (audit, dns, "
		    "propagation, sync, report)",
		    argv[1]);
	c.cmd = cli_find_command(argv[1], &sugg);
	if (c.cmd == NULL) {
		if (sugg != NULL)
			return cli_usage_error(
			    NULL, "unknown command '%s' (did you mean '%s'?)", argv[1], sugg);
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	}
	c.command = c.cmd->name;
	if (c.cmd->run == NULL) {
		fprintf(stderr,
		    "cutover %s: not available in cutover %s yet; see README.md for "
		    "what this version does\n",
		    c.command, CUTOVER_VERSION);
		return CLI_EXIT_USAGE;
	}
	rc = cli_parse(&c, argc - 1, argv + 1);
	if (rc == CLI_CONTINUE &&
	    (rc = cli_check_output(&c, "--json", c.json_path)) == CLI_CONTINUE &&
	    (rc = cli_check_output(&c, "--html", c.html_path)) == CLI_CONTINUE &&
	    (rc = cli_check_output(&c, "--csv", c.csv_path)) == CLI_CONTINUE)
		rc = c.cmd->run(&c);
	free(c.resolvers);
	return rc;
}
