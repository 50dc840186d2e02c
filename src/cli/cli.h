/*
 * cli.h - the command line: subcommands, options, exit codes (DESIGN.md).
 *
 * cli.c owns the common options (--json, --resolver, --timeout, ...), the
 * dispatch and the run of a set of checks; each subcommand lives in its own
 * src/cmd_*.c as a `const struct cli_command` listed in cli.c. A command
 * adds its own long options (values from CLI_OPT_COMMAND up) and keeps their
 * values in its own file.
 */
#ifndef CUTOVER_CLI_H
#define CUTOVER_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: a contract (DESIGN.md, README.md, reports/SCHEMA.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,        /* every check pass or skip */
	CLI_EXIT_WARN = 1,      /* worst is warn */
	CLI_EXIT_FAIL = 2,      /* worst is fail or error */
	CLI_EXIT_USAGE = 64,    /* bad command line */
	CLI_EXIT_DATAERR = 65,  /* bad input data: plan, CSV, option values */
	CLI_EXIT_SOFTWARE = 70, /* internal error */
	CLI_EXIT_IOERR = 74,    /* cannot write a report or state */
};

/* A parse step that went fine and should go on (not an exit code). */
#define CLI_CONTINUE (-1)
/* First option value a command may use for its own options. */
#define CLI_OPT_COMMAND 512
#define CLI_MAX_RESOLVERS 16 /* servers a command's own lookups use */

struct cli_command;
struct check_input;
struct report;

/* The common options, filled before the command runs. */
struct cli {
	const struct cli_command *cmd;
	const char *command;    /* cmd->name */
	const char *json_path;  /* --json, NULL when absent, "-" = stdout */
	const char *html_path;  /* --html, NULL when absent, "-" = stdout */
	const char *csv_path;   /* --csv, NULL when absent, "-" = stdout */
	const char **resolvers; /* --resolver, any number (cli_main frees the array) */
	size_t n_resolvers;
	const char *ca_file;
	int insecure, allow_plaintext, quiet, verbose, no_progress;
	int allow_old_tls; /* --allow-old-tls: passwords over TLS 1.0/1.1 */
	long concurrency, per_host;
	double timeout_s;
	char **args; /* positional arguments after the command */
	int n_args;
};

struct cli_command {
	const char *name;     /* "dns" */
	const char *synopsis; /* "DOMAIN": the positional arguments */
	const char *summary;  /* one line for `cutover --help` */
	/* Print usage, what the command does, its own options and examples;
	 * the common options and exit codes are appended by cli.c. */
	void (*help)(FILE *out);
	const struct option *options; /* own long options or NULL; {0} terminated */
	/* Take one of its own options; returns CLI_CONTINUE or an exit code. */
	int (*option)(struct cli *c, int opt, const char *arg);
	/* Run; returns the exit code. NULL: not available in this version. */
	int (*run)(struct cli *c);
};

/* Run cutover with ARGC/ARGV; returns the process exit code. */
int cli_main(int argc, char **argv);

/* Print "cutover CMD: MESSAGE" and a hint to --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "cutover CMD: OPTION "VALUE": WANT"; returns CLI_EXIT_DATAERR. */
int cli_value_error(const struct cli *c, const char *option, const char *value, const char *want);
/* Parse a whole number of seconds in [MIN, MAX] for OPTION. Returns
 * CLI_CONTINUE and *OUT, or the exit code after printing the error. */
int cli_parse_long(
    const struct cli *c, const char *option, const char *arg, long min, long max, long *out);

/*
 * Schedule every check of COMMAND_BIT (CHECK_CMD_*) whose group ONLY selects
 * (NULL = all), run them on one runner, write the report (--json) and the
 * console summary. RESOLVERS/CA_FILE override the common options when the
 * command has its own (a plan's). Returns the exit code.
 */
int cli_run_checks(const struct cli *c, unsigned command_bit, const char *only,
    const struct check_input *in, const char *target, const char *const *resolvers,
    size_t n_resolvers, const char *ca_file);

/*
 * The pieces of a run every command shares (cli_run_checks, sync,
 * propagation).
 *
 * cli_runner_opts: RO from the common options (concurrency, per-host cap,
 * timeout, TLS and plaintext switches, verbosity) with RESOLVERS and
 * CA_FILE as the command chose them. cli_runner_new: the runner, or NULL
 * after printing why ("cutover CMD: ..."). cli_report_new: an empty report
 * for TARGET, started now, with the run's options.
 */
struct event;
struct runner;
struct runner_opts;
void cli_runner_opts(const struct cli *c, struct runner_opts *ro, const char *const *resolvers,
    size_t n_resolvers, const char *ca_file);
struct runner *cli_runner_new(const struct cli *c, const struct runner_opts *ro);
struct report *cli_report_new(const struct cli *c, const char *target);

/* A timer on the run's loop: FN(ARG) every MS milliseconds (0: off). A
 * tick that draws a live line on stderr points DRAWN at its flag: the line
 * is erased after the loop when the flag is set. */
struct cli_tick {
	long ms;
	void (*fn)(void *arg);
	void *arg;
	const int *drawn;
	struct event *ev; /* cli_run_loop's */
};

/*
 * The run loop: run R into REP until every task finished or SIGINT/SIGTERM
 * (Ctrl-C, Kubernetes, systemd, timeout(1)) stopped it: ON_STOP(STOP_ARG)
 * first when not NULL, then runner_stop, and REP holds what finished. The
 * N_TICKS TICKS run meanwhile (a timer that cannot be made is left out; the
 * run goes on). Afterwards REP->duration_ms is set from T0 (util_now_ms).
 * Returns 0, or -1 after printing "cutover CMD: the event loop failed".
 */
int cli_run_loop(const struct cli *c, struct runner *r, struct report *rep, int64_t t0,
    void (*on_stop)(void *arg), void *stop_arg, struct cli_tick *ticks, size_t n_ticks);

/* Print LINES ('\n'-separated) on stderr, each as "cutover CMD: warning: LINE". */
void cli_warnings(const struct cli *c, const char *lines);

/*
 * Hand a finished report to the user: write --json and --html (each "-" =
 * stdout), then the console summary unless -q (on stderr when a report went
 * to stdout). Returns the exit code: the report's status (0, 1, 2), or 74
 * when a report could not be written (the error is printed).
 */
int cli_output(const struct cli *c, const struct report *rep);

extern const struct cli_command cli_cmd_audit;
extern const struct cli_command cli_cmd_dns;
extern const struct cli_command cli_cmd_report;
extern const struct cli_command cli_cmd_propagation;
extern const struct cli_command cli_cmd_sync;
extern const struct cli_command cli_cmd_smtp;
extern const struct cli_command cli_cmd_auth;

#endif
