/*
 * mailbox_folders.c - the "folders" group: mailbox.folders, mailbox.folder_items,
 * mailbox.folder_names, mailbox.limits and mailbox.large_messages.
 *
 * All five read the inventory of the source mailbox that one IMAP session
 * collects (mailaudit.h, folders.h); mailbox.folder_names also reads the
 * destination's folder list for its hierarchy delimiter. The limits are the
 * destination's (its profile, overridden key by key by the plan's
 * destination.limits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "mailbox_session.h"
#include "src/util.h"

/* "12,139" into BUF. */
static const char *
mf_count(int64_t n, char *buf, size_t len)
{
	char tmp[32];
	size_t k = 0, l;

	snprintf(tmp, sizeof(tmp), "%lld", (long long)n);
	l = strlen(tmp);
	for (size_t i = 0; i < l && k + 2 < len; i++) {
		if (i > 0 && tmp[i - 1] != '-' && (l - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = tmp[i];
	}
	buf[k] = '\0';
	return buf;
}

static int
mf_listed(const struct folders_folder *f)
{
	return !(f->flags & FOLDERS_F_NONEXISTENT);
}

/* ---- mailbox.folders ---- */

static cJSON *
mf_folder_json(const struct folders_folder *f)
{
	cJSON *o = cJSON_CreateObject();
	int sel = !(f->flags & FOLDERS_F_NOSELECT);

	cJSON_AddStringToObject(o, "name", f->name);
	cJSON_AddStringToObject(o, "raw_name", f->raw_name);
	cJSON_AddNumberToObject(o, "messages", f->has_status ? f->messages : 0);
	cJSON_AddItemToObject(o, "bytes", mailaudit_num_or_null(!sel ? 0 : f->bytes));
	util_json_add_str_or_null(o, "special_use", folders_special_str(f->special));
	cJSON_AddBoolToObject(o, "selectable", sel);
	cJSON_AddBoolToObject(o, "name_decoded", f->name_ok);
	cJSON_AddItemToObject(
	    o, "uidvalidity", mailaudit_num_or_null(f->uidvalidity ? (int64_t)f->uidvalidity : -1));
	cJSON_AddItemToObject(
	    o, "uidnext", mailaudit_num_or_null(f->uidnext ? (int64_t)f->uidnext : -1));
	cJSON_AddStringToObject(o, "bytes_source",
	    f->bytes_src == FOLDERS_BYTES_STATUS      ? "status"
	        : f->bytes_src == FOLDERS_BYTES_FETCH ? "fetch"
	                                              : "unknown");
	if (f->error != NULL)
		cJSON_AddStringToObject(o, "error", f->error);
	return o;
}

void
folders_details_json(const struct folders_summary *s, cJSON *d)
{
	const struct folders_inventory *inv = s->inv;
	cJSON *arr;
	char dl[2] = {0, 0};

	cJSON_AddStringToObject(d, "user", s->user);
	arr = cJSON_AddArrayToObject(d, "folders");
	if (inv == NULL) {
		cJSON_AddNumberToObject(d, "total_messages", 0);
		cJSON_AddNullToObject(d, "total_bytes");
		return;
	}
	for (size_t i = 0; i < inv->n; i++)
		if (mf_listed(&inv->folders[i]))
			cJSON_AddItemToArray(arr, mf_folder_json(&inv->folders[i]));
	cJSON_AddNumberToObject(d, "total_messages", (double)inv->total_messages);
	cJSON_AddItemToObject(d, "total_bytes", mailaudit_num_or_null(inv->total_bytes));
	dl[0] = inv->delim;
	util_json_add_str_or_null(d, "delimiter", inv->delim != '\0' ? dl : NULL);
	cJSON_AddStringToObject(d, "list_method", inv->list_method);
	cJSON_AddBoolToObject(d, "truncated", inv->truncated);
	/* How the inventory was collected: one connection, few round trips. */
	cJSON_AddNumberToObject(d, "connections", s->connections);
	cJSON_AddNumberToObject(d, "round_trips", (double)s->round_trips);
	cJSON_AddNumberToObject(d, "commands", (double)inv->commands);
}

static void
mf_folders_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *inv = v->src.inv;
	struct folders_summary s = {
	    .user = v->mb->source_user,
	    .inv = inv,
	    .connections = v->src.connections,
	    .round_trips = v->src.round_trips,
	};
	struct verdict vd = {0};

	folders_details_json(&s, res->details);
	if (inv == NULL) {
		mailaudit_side_error(res, v, 0);
		return;
	}
	for (size_t i = 0; i < inv->n; i++) {
		const struct folders_folder *f = &inv->folders[i];

		if (!mf_listed(f))
			continue;
		s.n_folders++;
		if (f->error != NULL && s.n_unreadable++ == 0)
			s.first_unreadable = f->name;
	}
	s.truncated = inv->truncated;
	s.total_messages = inv->total_messages;
	s.total_bytes = inv->total_bytes;
	folders_verdict(&s, &vd);
	verdict_apply(&vd, res);
}

void
folders_verdict(const struct folders_summary *s, struct verdict *v)
{
	char b1[32], b2[32];

	if (s->n_unreadable > 0) {
		verdict_set(v, RESULT_WARN, "%zu folders, but %zu could not be read (%s first)",
		    s->n_folders, s->n_unreadable, s->first_unreadable);
		verdict_advise(v,
		    "Check these folders on the source server (permissions, "
		    "damaged index); the migration tool will fail on them as well.");
	} else if (s->truncated) {
		verdict_set(v, RESULT_WARN, "more than %zu folders: only the first were read",
		    s->n_folders);
	} else {
		verdict_set(v, RESULT_PASS, "%zu folders, %s messages, %s", s->n_folders,
		    mf_count(s->total_messages, b1, sizeof(b1)),
		    s->total_bytes >= 0 ? mailaudit_size(s->total_bytes, b2, sizeof(b2))
		                        : "size unknown");
	}
}

/* ---- mailbox.folder_items ---- */

void
items_summarize(const struct folders_inventory *inv, int64_t limit, struct items_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->inv = inv;
	s->limit = limit;
	for (size_t i = 0; inv != NULL && i < inv->n; i++) {
		const struct folders_folder *f = &inv->folders[i];

		if (!f->has_status || f->messages <= limit)
			continue;
		if (f->messages > s->most) {
			s->most = f->messages;
			s->largest = f->name;
		}
		s->n_over++;
	}
}

void
items_details_json(const struct items_summary *s, cJSON *d)
{
	cJSON *over;

	cJSON_AddNumberToObject(d, "limit", (double)s->limit);
	over = cJSON_AddArrayToObject(d, "over");
	for (size_t i = 0; s->inv != NULL && i < s->inv->n; i++) {
		const struct folders_folder *f = &s->inv->folders[i];
		cJSON *o;

		if (!f->has_status || f->messages <= s->limit)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", f->name);
		cJSON_AddNumberToObject(o, "messages", f->messages);
		cJSON_AddItemToArray(over, o);
	}
}

void
items_verdict(const struct items_summary *s, struct verdict *out)
{
	char b1[32], b2[32];

	if (s->n_over == 0) {
		verdict_set(out, RESULT_PASS, "no folder over %s items",
		    mf_count(s->limit, b1, sizeof(b1)));
		return;
	}
	verdict_set(out, RESULT_WARN, "%zu folder%s over %s items (largest: \"%s\", %s)", s->n_over,
	    s->n_over == 1 ? "" : "s", mf_count(s->limit, b1, sizeof(b1)), s->largest,
	    mf_count(s->most, b2, sizeof(b2)));
	verdict_advise(out,
	    "Archive or split these folders before migrating: move older mail into "
	    "subfolders (one per year or half-year) so that each holds fewer than %s items. "
	    "Exchange Online slows down and migrations stall on larger folders.",
	    mf_count(s->limit, b1, sizeof(b1)));
}

static void
mf_items_fill(struct result *res, const struct mailaudit_view *v)
{
	struct items_summary s;
	struct verdict vd = {0};

	items_summarize(v->src.inv,
	    mailaudit_limit(v, v->plan->destination.limits.folder_items, ITEMS_LIMIT_DEFAULT), &s);
	items_details_json(&s, res->details);
	if (v->src.inv == NULL) {
		mailaudit_side_error(res, v, 0);
		return;
	}
	items_verdict(&s, &vd);
	verdict_apply(&vd, res);
}

/* ---- mailbox.folder_names ---- */

static const char *const mf_np_codes[FOLDERS_NP_COUNT] = {
    "slash",
    "destination_delimiter",
    "comma",
    "period",
    "ampersand",
    "space_edge",
    "non_ascii",
    "case_duplicate",
    "too_long",
    "too_deep",
    "undecodable",
    "reserved",
};

void
names_details_json(const struct names_summary *s, cJSON *d)
{
	cJSON *probs = cJSON_AddArrayToObject(d, "problems");
	char dl[2] = {0, 0};

	if (!s->read)
		return;
	for (size_t i = 0; i < s->n_problems; i++) {
		const struct name_problem *p = &s->problems[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "reason", p->reason);
		cJSON_AddStringToObject(o, "code", p->code);
		cJSON_AddStringToObject(o, "raw_name", p->raw_name);
		cJSON_AddStringToObject(o, "suggestion", p->suggestion);
		if (p->conflicts_with != NULL)
			cJSON_AddStringToObject(o, "conflicts_with", p->conflicts_with);
		cJSON_AddItemToArray(probs, o);
	}
	dl[0] = s->dest_delim;
	cJSON_AddStringToObject(d, "destination_delimiter", dl);
	cJSON_AddStringToObject(d, "destination_delimiter_from", s->dest_delim_from);
	dl[0] = s->source_delim;
	util_json_add_str_or_null(d, "source_delimiter", s->source_delim != '\0' ? dl : NULL);
}

/* The problems of INV's names under RULES into S (problems and SUGS, one
 * suggestion per bad name, are the caller's to free). */
static void
mf_names_check(const struct folders_inventory *inv, const struct folders_name_rules *rules,
    struct names_summary *s, struct name_problem **problems, char ***sugs)
{
	const char **names = xcalloc(inv->n + 1, sizeof(*names));
	size_t *dup = xcalloc(inv->n + 1, sizeof(*dup));
	struct name_problem *probs = xcalloc(inv->n * FOLDERS_NP_COUNT + 1, sizeof(*probs));
	char **sug = xcalloc(inv->n + 1, sizeof(*sug));

	for (size_t i = 0; i < inv->n; i++)
		if (mf_listed(&inv->folders[i]))
			names[s->n_names++] = inv->folders[i].name;
	folders_name_case_dups(names, s->n_names, dup);
	s->n_names = 0;
	for (size_t i = 0; i < inv->n; i++) {
		const struct folders_folder *f = &inv->folders[i];
		unsigned p;

		if (!mf_listed(f))
			continue;
		p = folders_name_problems(f->name, rules);
		if (!f->name_ok)
			p |= FOLDERS_NP_UNDECODABLE;
		if (dup[s->n_names] != (size_t)-1)
			p |= FOLDERS_NP_CASE_DUP;
		s->n_names++;
		if (p == 0)
			continue;
		if (s->n_bad == 0)
			s->first = f->name;
		sug[s->n_bad] =
		    folders_name_suggest(f->name, p & ~(unsigned)FOLDERS_NP_UNDECODABLE, rules);
		for (unsigned b = 0; b < FOLDERS_NP_COUNT; b++)
			if (p & (1u << b))
				probs[s->n_problems++] = (struct name_problem){f->name, f->raw_name,
				    folders_name_reason(1u << b), mf_np_codes[b], sug[s->n_bad],
				    (1u << b) == FOLDERS_NP_CASE_DUP ? names[dup[s->n_names - 1]]
				                                     : NULL};
		s->n_bad++;
	}
	free(names); /* the problems' conflicts_with point into the inventory */
	free(dup);
	s->problems = probs;
	*problems = probs;
	*sugs = sug;
}

static void
mf_names_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *inv = v->src.inv;
	const struct plan_side *dp = &v->plan->destination;
	struct folders_name_rules rules;
	struct names_summary s = {0};
	struct name_problem *probs;
	char **sugs;
	struct verdict vd = {0};

	if (inv == NULL) {
		names_details_json(&s, res->details);
		mailaudit_side_error(res, v, 0);
		return;
	}
	memset(&rules, 0, sizeof(rules));
	rules.src_delim = inv->delim;
	/* The destination's delimiter: its LIST, else '/' (Microsoft 365, Google). */
	rules.dest_delim =
	    v->dst.inv != NULL && v->dst.inv->delim != '\0' ? v->dst.inv->delim : '/';
	rules.microsoft = dp->profile != NULL && strcmp(dp->profile->name, "microsoft365") == 0;
	s.read = 1;
	s.source_delim = inv->delim;
	s.dest_delim = rules.dest_delim;
	s.dest_delim_from =
	    v->dst.inv != NULL && v->dst.inv->delim != '\0' ? "destination" : "default";
	mf_names_check(inv, &rules, &s, &probs, &sugs);
	names_details_json(&s, res->details);
	names_verdict(&s, &vd);
	verdict_apply(&vd, res);
	for (size_t i = 0; i < s.n_bad; i++)
		free(sugs[i]);
	free(sugs);
	free(probs);
}

void
names_verdict(const struct names_summary *s, struct verdict *v)
{
	if (s->n_bad == 0) {
		verdict_set(v, RESULT_PASS, "all %zu folder names migrate as they are", s->n_names);
		return;
	}
	verdict_set(v, RESULT_WARN,
	    "%zu of %zu folder names need attention (%zu problems; "
	    "first: \"%s\")",
	    s->n_bad, s->n_names, s->n_problems, s->first);
	verdict_advise(v,
	    "Rename these folders on the source before the first sync (each problem has a "
	    "suggestion), or map them in the migration tool. Folders whose names contain "
	    "'/' are not migrated by Microsoft's IMAP migration at all.");
}

/* ---- mailbox.limits ---- */

void
limits_details_json(const struct limits_summary *s, cJSON *d)
{
	cJSON_AddItemToObject(d, "mailbox_items_limit", mailaudit_num_or_null(s->items_limit));
	cJSON_AddItemToObject(d, "folder_count_limit", mailaudit_num_or_null(s->folder_limit));
	if (!s->counted)
		return;
	cJSON_AddNumberToObject(d, "total_messages", (double)s->total_messages);
	cJSON_AddNumberToObject(d, "folder_count", (double)s->folder_count);
}

static void
mf_limits_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *inv = v->src.inv;
	const struct profile_limits *l = &v->plan->destination.limits;
	struct limits_summary s = {
	    .items_limit = l->mailbox_items, .folder_limit = l->folder_count};
	struct verdict vd = {0};

	if (inv == NULL) {
		limits_details_json(&s, res->details);
		mailaudit_side_error(res, v, 0);
		return;
	}
	for (size_t i = 0; i < inv->n; i++)
		s.folder_count += mf_listed(&inv->folders[i]);
	s.total_messages = inv->total_messages;
	s.counted = 1;
	limits_details_json(&s, res->details);
	limits_verdict(&s, &vd);
	verdict_apply(&vd, res);
}

void
limits_verdict(const struct limits_summary *s, struct verdict *v)
{
	enum result_status st = RESULT_PASS;
	char b1[32], b2[32];
	char *why = NULL;

	if (s->items_limit < 0 && s->folder_limit < 0) {
		verdict_set(v, RESULT_SKIP,
		    "no item or folder limits for the destination (set "
		    "destination.limits.mailbox_items / folder_count or a profile)");
		return;
	}
	if (s->items_limit >= 0 && s->total_messages > s->items_limit) {
		st = RESULT_FAIL;
		why = xasprintf("%s items, the destination's migration stops at %s",
		    mf_count(s->total_messages, b1, sizeof(b1)),
		    mf_count(s->items_limit, b2, sizeof(b2)));
		verdict_advise(v,
		    "Archive part of this mailbox (for example to a PST or an "
		    "archive mailbox) so that fewer than %s items remain to migrate.",
		    mf_count(s->items_limit, b2, sizeof(b2)));
	}
	if (s->folder_limit >= 0 && (int64_t)s->folder_count > s->folder_limit) {
		char *w = xasprintf("%s%s%zu folders, more than %lld (mail clients slow down)",
		    why != NULL ? why : "", why != NULL ? "; " : "", s->folder_count,
		    (long long)s->folder_limit);

		free(why);
		why = w;
		if (st == RESULT_PASS) {
			st = RESULT_WARN;
			verdict_advise(v,
			    "Merge or archive folders so that fewer than %lld "
			    "remain; Outlook degrades with more.",
			    (long long)s->folder_limit);
		}
	}
	if (why != NULL) {
		verdict_set(v, st, "%s", why);
		free(why);
		return;
	}
	verdict_set(v, RESULT_PASS, "%s items in %zu folders, within the destination's limits",
	    mf_count(s->total_messages, b1, sizeof(b1)), s->folder_count);
}

/* ---- mailbox.large_messages ---- */

void
large_details_json(const struct large_summary *s, cJSON *d)
{
	cJSON *arr;

	if (s->limit >= 0)
		cJSON_AddNumberToObject(d, "limit_bytes", (double)s->limit);
	cJSON_AddNumberToObject(d, "count", (double)s->count);
	arr = cJSON_AddArrayToObject(d, "folders");
	if (s->inv == NULL)
		return;
	for (size_t i = 0; i < s->inv->n; i++) {
		const struct folders_folder *f = &s->inv->folders[i];
		cJSON *o;

		if ((f->flags & FOLDERS_F_NOSELECT) || f->large <= 0)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", f->name);
		cJSON_AddNumberToObject(o, "count", (double)f->large);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(d, "folders_not_counted", (double)s->not_counted);
}

static void
mf_large_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *inv = v->src.inv;
	struct large_summary s = {.limit = v->plan->destination.limits.message_bytes};
	struct verdict vd = {0};

	if (s.limit >= 0 && inv == NULL) {
		large_details_json(&s, res->details);
		mailaudit_side_error(res, v, 0);
		return;
	}
	for (size_t i = 0; s.limit >= 0 && i < inv->n; i++) {
		const struct folders_folder *f = &inv->folders[i];

		if (f->flags & FOLDERS_F_NOSELECT)
			continue;
		if (f->large < 0)
			s.not_counted++;
		else if (f->large > 0) {
			s.count += f->large;
			s.n_folders++;
		}
	}
	s.inv = s.limit >= 0 ? inv : NULL;
	large_details_json(&s, res->details);
	large_verdict(&s, &vd);
	verdict_apply(&vd, res);
}

void
large_verdict(const struct large_summary *s, struct verdict *v)
{
	char b1[32];

	if (s->limit < 0) {
		verdict_set(v, RESULT_SKIP,
		    "no message size limit for the destination (set "
		    "destination.limits.message_bytes or a profile)");
		return;
	}
	mailaudit_size(s->limit, b1, sizeof(b1));
	if (s->count > 0) {
		verdict_set(v, RESULT_WARN, "%lld message%s larger than %s in %zu folder%s",
		    (long long)s->count, s->count == 1 ? "" : "s", b1, s->n_folders,
		    s->n_folders == 1 ? "" : "s");
		verdict_advise(v,
		    "The migration will skip messages over %s. Save their "
		    "attachments elsewhere (a file share, OneDrive) and delete or shrink them "
		    "before migrating, or move them by hand.",
		    b1);
	} else if (s->not_counted > 0) {
		verdict_set(v, RESULT_WARN,
		    "no message larger than %s found, but %zu folders "
		    "could not be searched",
		    b1, s->not_counted);
	} else {
		verdict_set(v, RESULT_PASS, "no message larger than %s", b1);
	}
}

/* ---- schedules ---- */

static void
mf_folders_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.folders", RESULT_SIDE_SOURCE,
	    MAILAUDIT_SRC_STATUS | MAILAUDIT_SRC_BYTES, mf_folders_fill);
}

static void
mf_items_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(
	    r, in, "mailbox.folder_items", RESULT_SIDE_SOURCE, MAILAUDIT_SRC_STATUS, mf_items_fill);
}

static void
mf_names_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.folder_names", RESULT_SIDE_SOURCE,
	    MAILAUDIT_SRC_LIST | MAILAUDIT_DST_LIST, mf_names_fill);
}

static void
mf_limits_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(
	    r, in, "mailbox.limits", RESULT_SIDE_SOURCE, MAILAUDIT_SRC_STATUS, mf_limits_fill);
}

static void
mf_large_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.large_messages", RESULT_SIDE_SOURCE, MAILAUDIT_SRC_LARGE,
	    mf_large_fill);
}

const struct check check_mailbox_folders = {
    .id = "mailbox.folders",
    .group = "folders",
    .title = "folder inventory of every source mailbox: messages, bytes, special use",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mf_folders_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};

const struct check check_mailbox_folder_items = {
    .id = "mailbox.folder_items",
    .group = "folders",
    .title = "folders over the destination's items-per-folder limit (10,000)",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mf_items_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};

const struct check check_mailbox_folder_names = {
    .id = "mailbox.folder_names",
    .group = "folders",
    .title = "folder names that break migrations, with suggested renames",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mf_names_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};

const struct check check_mailbox_limits = {
    .id = "mailbox.limits",
    .group = "folders",
    .title = "items and folders per mailbox against the destination's limits",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mf_limits_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};

const struct check check_mailbox_large_messages = {
    .id = "mailbox.large_messages",
    .group = "folders",
    .title = "messages larger than the destination accepts (UID SEARCH LARGER)",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mf_large_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};
