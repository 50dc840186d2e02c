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

static cJSON *
mc_row_json(const struct compare_row *r)
{
	cJSON *o = cJSON_CreateObject();

	util_json_add_str_or_null(o, "source", r->src != NULL ? r->src->name : NULL);
	util_json_add_str_or_null(o, "destination", r->dst != NULL ? r->dst->name : NULL);
	if (r->src != NULL)
		cJSON_AddNumberToObject(o, "source_messages", r->src->messages);
	else
		cJSON_AddNullToObject(o, "source_messages");
	if (r->dst != NULL)
		cJSON_AddNumberToObject(o, "destination_messages", r->dst->messages);
	else
		cJSON_AddNullToObject(o, "destination_messages");
	util_json_add_str_or_null(o, "matched_by", r->matched_by);
	return o;
}

void
compare_details_json(const struct compare_summary *s, cJSON *d)
{
	cJSON *arr, *missing, *left;

	cJSON_AddStringToObject(d, "user", s->user);
	arr = cJSON_AddArrayToObject(d, "folders");
	missing = cJSON_AddArrayToObject(d, "missing_folders");
	left = cJSON_AddArrayToObject(d, "left_out");
	if (!s->compared) {
		cJSON_AddNumberToObject(d, "differences", 0);
		return;
	}
	cJSON_AddStringToObject(d, "destination_user", s->destination_user);
	for (size_t i = 0; i < s->n_rows; i++)
		cJSON_AddItemToArray(arr, mc_row_json(&s->rows[i]));
	for (size_t i = 0; i < s->n_missing; i++)
		cJSON_AddItemToArray(missing, cJSON_CreateString(s->missing[i]));
	for (size_t i = 0; i < s->n_left_out; i++) {
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "source", s->left_out[i].source);
		cJSON_AddStringToObject(x, "reason", s->left_out[i].reason);
		cJSON_AddItemToArray(left, x);
	}
	cJSON_AddNumberToObject(d, "differences", (double)s->differences);
	cJSON_AddNumberToObject(d, "source_total_messages", (double)s->source_total);
	cJSON_AddNumberToObject(d, "destination_total_messages", (double)s->destination_total);
	if (s->after_sync)
		cJSON_AddNumberToObject(d, "synced_folders_short", (double)s->n_short);
	if (s->n_short == 0)
		cJSON_AddNumberToObject(d, "one_sided_with_messages", (double)s->n_one_sided);
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

/* Pair the folders of V's two inventories (both read) into CS; the arrays
 * it points at are the caller's to free. */
static void
mc_compare(const struct mailaudit_view *v, struct compare_summary *cs)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	struct folders_mapping *map = mailaudit_map(v);
	unsigned char *used = xcalloc(di->n + 1, 1);
	struct compare_row *rows = xcalloc(si->n + di->n + 1, sizeof(*rows));
	const char **missing = xcalloc(si->n + 1, sizeof(*missing));
	struct compare_left_out *left = xcalloc(si->n + 1, sizeof(*left));
	uint64_t allowed;

	for (size_t i = 0; i < si->n; i++) {
		const struct folders_folder *s = &si->folders[i], *dst;

		if (map[i].by == FOLDERS_BY_LEFT_OUT || map[i].by == FOLDERS_BY_FOREIGN) {
			left[cs->n_left_out++] = (struct compare_left_out){s->name,
			    map[i].by == FOLDERS_BY_LEFT_OUT ? "plan" : "foreign_namespace"};
			continue;
		}
		if (!s->has_status)
			continue;
		if (map[i].dst == (size_t)-1) {
			rows[cs->n_rows++] = (struct compare_row){s, NULL, NULL};
			missing[cs->n_missing++] = s->name;
			cs->differences++;
			if (cs->first_difference == NULL)
				cs->first_difference = s->name;
			/* left out by the sync this follows (--folders, --exclude): no failure */
			if (s->messages > 0 &&
			    (v->after_sync == NULL ||
			        sync_run_synced(
			            v->after_sync, v->mb->source_user, s->raw_name, &allowed))) {
				if (cs->n_one_sided++ == 0)
					cs->first_one_sided = s->name;
			}
			continue;
		}
		dst = &di->folders[map[i].dst];
		used[map[i].dst] = 1;
		rows[cs->n_rows++] = (struct compare_row){s, dst, mc_by(map[i].by)};
		cs->n_pairs++;
		if (s->messages != dst->messages) {
			cs->differences++;
			if (cs->first_difference == NULL)
				cs->first_difference = s->name;
		}
		if (mc_sync_short(v, s, dst->messages) && cs->n_short++ == 0)
			cs->first_short = s->name;
	}
	/* Destination folders nobody maps to: a difference when they hold mail. */
	for (size_t j = 0; j < di->n; j++) {
		const struct folders_folder *f = &di->folders[j];

		if (used[j] || !f->has_status || (f->flags & FOLDERS_F_FOREIGN))
			continue;
		rows[cs->n_rows++] = (struct compare_row){NULL, f, NULL};
		if (f->messages > 0) {
			cs->differences++;
			if (cs->n_one_sided++ == 0)
				cs->first_one_sided = f->name;
		}
	}
	folders_mapping_free(map, si->n);
	free(used);
	cs->rows = rows;
	cs->missing = missing;
	cs->left_out = left;
	cs->source_total = si->total_messages;
	cs->destination_total = di->total_messages;
	cs->after_sync = v->after_sync != NULL;
}

static void
mc_fill(struct result *res, const struct mailaudit_view *v)
{
	struct compare_summary cs = {
	    .user = v->mb->source_user, .destination_user = v->mb->dest_user};
	struct verdict vd = {0};

	if (!v->dst.present || v->src.inv == NULL || v->dst.inv == NULL) {
		compare_details_json(&cs, res->details);
		mailaudit_both_sides(res, v);
		return;
	}
	cs.compared = 1;
	mc_compare(v, &cs);
	compare_details_json(&cs, res->details);
	compare_verdict(&cs, &vd);
	verdict_apply(&vd, res);
	free((void *)cs.rows);
	free((void *)cs.missing);
	free((void *)cs.left_out);
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
