/*
 * mailbox_compare.c - mailbox.compare: source and destination of a mailbox,
 * folder by folder (`cutover audit --only compare`, or after a sync).
 *
 * Folders are paired the way the sync maps them (folders_map(): the plan's
 * "sync.folder_map", special use, the name below each side's namespace,
 * well-known names): INBOX.Archive.2019 <-> Archive/2019. Source folders
 * without a partner are missing; destination folders without one are listed
 * with a null source. A folder that exists on one side only and holds
 * messages fails the check (the sync did not land it where it belongs), but
 * for a source folder the sync this follows left out on purpose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "mailbox_session.h"
#include "src/sync.h"
#include "src/util.h"

static void
mc_pair(cJSON *arr, const struct folders_folder *s, const struct folders_folder *d, const char *by)
{
	cJSON *o = cJSON_CreateObject();

	if (s != NULL)
		cJSON_AddStringToObject(o, "source", s->name);
	else
		cJSON_AddNullToObject(o, "source");
	if (d != NULL)
		cJSON_AddStringToObject(o, "destination", d->name);
	else
		cJSON_AddNullToObject(o, "destination");
	if (s != NULL)
		cJSON_AddNumberToObject(o, "source_messages", s->messages);
	else
		cJSON_AddNullToObject(o, "source_messages");
	if (d != NULL)
		cJSON_AddNumberToObject(o, "destination_messages", d->messages);
	else
		cJSON_AddNullToObject(o, "destination_messages");
	if (by != NULL)
		cJSON_AddStringToObject(o, "matched_by", by);
	else
		cJSON_AddNullToObject(o, "matched_by");
	cJSON_AddItemToArray(arr, o);
}

/* After a sync: source folder S, synced by it, whose destination (D
 * messages) is short by more than the messages too large to copy. */
static int
mc_sync_short(const struct mailaudit_view *v, const struct folders_folder *s, uint32_t d)
{
	uint64_t allowed = 0;

	if (v->after_sync == NULL || d >= s->messages)
		return 0;
	if (!sync_run_synced(v->after_sync, v->mb->source_user, s->raw_name, &allowed))
		return 0;
	return (uint64_t)(s->messages - d) > allowed;
}

/* matched_by: the report's words for folders_map's rules. */
static const char *
mc_by(enum folders_by by)
{
	switch (by) {
	case FOLDERS_BY_SPECIAL: return "special_use";
	case FOLDERS_BY_PLAN: return "plan";
	case FOLDERS_BY_GUESS: return "guess";
	default: return "name";
	}
}

static void
mc_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	cJSON *d = res->details, *arr, *missing;
	struct folders_mapping *map;
	size_t diffs = 0, n_missing = 0, n_pairs = 0, n_short = 0, n_alone = 0;
	unsigned char *used;
	const char *first = NULL, *first_short = NULL, *first_alone = NULL;
	cJSON *left;
	struct compare_summary cs;
	struct verdict vd = {0};

	cJSON_AddStringToObject(d, "user", v->mb->source_user);
	arr = cJSON_AddArrayToObject(d, "folders");
	missing = cJSON_AddArrayToObject(d, "missing_folders");
	left = cJSON_AddArrayToObject(d, "left_out");
	if (!v->dst.present) {
		cJSON_AddNumberToObject(d, "differences", 0);
		result_set(res, RESULT_SKIP,
		    "the plan has no destination IMAP login for this "
		    "mailbox");
		return;
	}
	if (si == NULL || di == NULL) {
		cJSON_AddNumberToObject(d, "differences", 0);
		mailaudit_side_error(res, v, si != NULL);
		return;
	}
	cJSON_AddStringToObject(d, "destination_user", v->mb->dest_user);
	map = mailaudit_map(v);
	used = xcalloc(di->n + 1, 1);
	for (size_t i = 0; i < si->n; i++) {
		const struct folders_folder *s = &si->folders[i];
		uint64_t allowed;

		if (map[i].by == FOLDERS_BY_LEFT_OUT || map[i].by == FOLDERS_BY_FOREIGN) {
			cJSON *x = cJSON_CreateObject();

			cJSON_AddStringToObject(x, "source", s->name);
			cJSON_AddStringToObject(x, "reason",
			    map[i].by == FOLDERS_BY_LEFT_OUT ? "plan" : "foreign_namespace");
			cJSON_AddItemToArray(left, x);
			continue;
		}
		if (!s->has_status)
			continue;
		if (map[i].dst == (size_t)-1) {
			mc_pair(arr, s, NULL, NULL);
			cJSON_AddItemToArray(missing, cJSON_CreateString(s->name));
			n_missing++;
			diffs++;
			if (first == NULL)
				first = s->name;
			/* left out by the sync this follows (--folders, --exclude): no failure */
			if (s->messages > 0 &&
			    (v->after_sync == NULL ||
			        sync_run_synced(
			            v->after_sync, v->mb->source_user, s->raw_name, &allowed))) {
				n_alone++;
				if (first_alone == NULL)
					first_alone = s->name;
			}
			continue;
		}
		used[map[i].dst] = 1;
		mc_pair(arr, s, &di->folders[map[i].dst], mc_by(map[i].by));
		n_pairs++;
		if (s->messages != di->folders[map[i].dst].messages) {
			diffs++;
			if (first == NULL)
				first = s->name;
		}
		if (mc_sync_short(v, s, di->folders[map[i].dst].messages)) {
			n_short++;
			if (first_short == NULL)
				first_short = s->name;
		}
	}
	/* Destination folders nobody maps to: a difference when they hold mail. */
	for (size_t j = 0; j < di->n; j++) {
		const struct folders_folder *f = &di->folders[j];

		if (used[j] || !f->has_status || (f->flags & FOLDERS_F_FOREIGN))
			continue;
		mc_pair(arr, NULL, f, NULL);
		if (f->messages > 0) {
			diffs++;
			n_alone++;
			if (first_alone == NULL)
				first_alone = f->name;
		}
	}
	folders_mapping_free(map, si->n);
	free(used);
	cJSON_AddNumberToObject(d, "differences", (double)diffs);
	cJSON_AddNumberToObject(d, "source_total_messages", (double)si->total_messages);
	cJSON_AddNumberToObject(d, "destination_total_messages", (double)di->total_messages);
	if (v->after_sync != NULL)
		cJSON_AddNumberToObject(d, "synced_folders_short", (double)n_short);
	if (n_short == 0)
		cJSON_AddNumberToObject(d, "one_sided_with_messages", (double)n_alone);
	cs.n_short = n_short;
	cs.first_short = first_short;
	cs.n_one_sided = n_alone;
	cs.first_one_sided = first_alone;
	cs.differences = diffs;
	cs.n_missing = n_missing;
	cs.n_pairs = n_pairs;
	cs.first_difference = first;
	cs.source_total = si->total_messages;
	cs.destination_total = di->total_messages;
	compare_verdict(&cs, &vd);
	verdict_apply(&vd, res);
}

void
compare_verdict(const struct compare_summary *s, struct verdict *v)
{
	long long st = (long long)s->source_total, dt = (long long)s->destination_total;

	if (s->n_short > 0) {
		verdict_set(v, RESULT_FAIL,
		    "after the sync, %zu synced folder%s hold%s fewer "
		    "messages on the destination than on the source (first: \"%s\"), %lld vs %lld "
		    "messages",
		    s->n_short, s->n_short == 1 ? "" : "s", s->n_short == 1 ? "s" : "",
		    s->first_short, st, dt);
		verdict_advise(v,
		    "Messages are missing that the sync should have copied: run "
		    "`cutover sync --verify` for this mailbox; it copies what the destination "
		    "lacks "
		    "and says where it was.");
	} else if (s->n_one_sided > 0) {
		verdict_set(v, RESULT_FAIL,
		    "%zu folder%s with messages exist%s on one side only "
		    "(first: \"%s\"), %lld vs %lld messages",
		    s->n_one_sided, s->n_one_sided == 1 ? "" : "s", s->n_one_sided == 1 ? "s" : "",
		    s->first_one_sided, st, dt);
		verdict_advise(v,
		    "Run (or re-run) the sync for this mailbox and compare again. A "
		    "folder the sync should have filled but did not usually has a name the "
		    "destination refuses (see mailbox.folder_names); one that landed elsewhere "
		    "can be placed with \"sync\": {\"folder_map\": {...}} in the plan (see "
		    "mailbox.folder_map).");
	} else if (s->differences == 0) {
		verdict_set(
		    v, RESULT_PASS, "%zu folders, same message counts on both sides", s->n_pairs);
	} else {
		verdict_set(v, RESULT_WARN,
		    "%zu difference%s: %zu source folder%s missing on the "
		    "destination, %lld vs %lld messages (first: \"%s\")",
		    s->differences, s->differences == 1 ? "" : "s", s->n_missing,
		    s->n_missing == 1 ? "" : "s", st, dt,
		    s->first_difference != NULL ? s->first_difference
		                                : "a destination-only folder");
		verdict_advise(v,
		    "Run (or re-run) the sync for this mailbox and compare again; "
		    "folders still missing afterwards usually have names the destination refuses "
		    "(see mailbox.folder_names).");
	}
}

static void
mc_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.compare", RESULT_SIDE_NONE,
	    MAILAUDIT_SRC_STATUS | MAILAUDIT_DST_STATUS, mc_fill);
}

const struct check check_mailbox_compare = {
    .id = "mailbox.compare",
    .group = "compare",
    .title = "source and destination message counts per folder",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mc_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
    .on_request = 1,
};
