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

#include "runner.h"

struct plan;

#define CHECK_CMD_AUDIT 0x1
#define CHECK_CMD_DNS 0x2

/* What a run asks of its checks. Everything is borrowed for the run. */
struct check_input {
	const char *domain;
	const struct plan *plan;          /* NULL for `cutover dns` */
	const char *expect_profile;       /* --expect, or the plan's destination profile */
	const char *const *expect_mx;     /* MX patterns expected after cutover, NULL-terminated */
	const char *expect_mx_origin;     /* "plan" or a profile name */
	long mx_ttl_max;                  /* dns.mx_ttl: recommended maximum TTL, seconds */
};

struct check {
	const char *id;      /* "dns.mx" */
	const char *group;   /* "dns": what --only selects */
	const char *title;   /* one line for --help */
	unsigned commands;   /* CHECK_CMD_* the check runs in */
	void (*schedule)(struct runner *r, const struct check_input *in);
};

/* Every check module, NULL-terminated, in report order. */
const struct check *const *check_registry(void);

#endif
