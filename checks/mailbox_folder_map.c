/*
 * mailbox_folder_map.c - mailbox.folder_map: where `cutover sync` will put
 * every source folder, weeks before it runs ("INBOX.Archive.2019 ->
 * Archive/2019").
 *
 * The mapping is folders_map() with the plan's "sync.folder_map", the very
 * call sync makes (src/sync.c mbox_map), on the same inventories: each
 * side's personal namespace (NAMESPACE, RFC 2342; without it LIST "" "" and
 * the folder names), special use, names, well-known names. Warns when a
 * plan rule names no source folder (a typo would otherwise go unnoticed) or
 * when a side has no NAMESPACE (the prefix was guessed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_verdicts.h"
#include "mailbox_session.h"
#include "src/util.h"

/* Mappings named in the summary at most. */
#define FM_SUMMARY_MAX 6

/* A mapping named in the summary; the telling ones first. */
struct fm_item {
	int rank; /* 0 plan, 1 special use or guess, 2 a nested path, 3 the rest */
	size_t i;
	const char *src, *dst;
};

static int
fm_item_cmp(const void *a, const void *b)
{
	const struct fm_item *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void
folder_map_details_json(const struct folder_map_summary *s, cJSON *d)
{
	cJSON *arr, *left, *unused;

	cJSON_AddStringToObject(d, "user", s->user);
	arr = cJSON_AddArrayToObject(d, "folders");
	left = cJSON_AddArrayToObject(d, "left_out");
	unused = cJSON_AddArrayToObject(d, "unused_rules");
	if (s->src == NULL || s->dst == NULL)
		return;
	cJSON_AddStringToObject(d, "destination_user", s->destination_user);
	cJSON_AddItemToObject(d, "namespaces", folders_namespaces_json(s->src, s->dst));
	for (size_t i = 0; i < s->n_left_out; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "source", s->left_out[i].source);
		cJSON_AddStringToObject(o, "reason", s->left_out[i].reason);
		cJSON_AddItemToArray(left, o);
	}
	for (size_t i = 0; i < s->n_mapped; i++) {
		const struct folder_map_row *r = &s->rows[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "source", r->source);
		cJSON_AddStringToObject(o, "destination", r->destination);
		cJSON_AddStringToObject(o, "mapped_by", r->mapped_by);
		cJSON_AddBoolToObject(o, "exists", r->exists);
		cJSON_AddNumberToObject(o, "messages", r->messages);
		cJSON_AddBoolToObject(o, "rewritten", r->rewritten);
		cJSON_AddItemToArray(arr, o);
	}
	for (size_t i = 0; i < s->n_unused_rules; i++)
		cJSON_AddItemToArray(unused, cJSON_CreateString(s->unused_rules[i]));
}

/* "A -> B, C -> D and 3 more": the N telling ITEMS first (sorted here). */
static char *
fm_moves(struct fm_item *items, size_t n)
{
	char *list = xstrdup("");
	size_t shown = 0;

	qsort(items, n, sizeof(*items), fm_item_cmp);
	for (; shown < n && shown < FM_SUMMARY_MAX; shown++) {
		char *t = xasprintf(
		    "%s%s%s -> %s", list, shown ? ", " : "", items[shown].src, items[shown].dst);

		free(list);
		list = t;
	}
	if (n > shown) {
		char *t = xasprintf("%s and %zu more", list, n - shown);

		free(list);
		list = t;
	}
	return list;
}

/* Sum up MAP, the mapping of V's source folders (both sides read), into
 * FS; the arrays and the moves it points at are the caller's to free, and
 * the rows borrow MAP's names. */
static void
fm_map(const struct mailaudit_view *v, const struct folders_mapping *map,
    struct folder_map_summary *fs)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	const struct plan_sync *ps = &v->plan->sync;
	unsigned char *rule_used = xcalloc(ps->n_folder_map + 1, 1);
	struct fm_item *items = xcalloc(si->n + 1, sizeof(*items));
	struct folder_map_row *rows = xcalloc(si->n + 1, sizeof(*rows));
	struct compare_left_out *left = xcalloc(si->n + 1, sizeof(*left));
	const char **unused = xcalloc(ps->n_folder_map + 1, sizeof(*unused));

	for (size_t i = 0; i < si->n; i++) {
		const struct folders_folder *s = &si->folders[i];
		const struct folders_mapping *m = &map[i];

		if (m->rule >= 0)
			rule_used[m->rule] = 1;
		if (m->by == FOLDERS_BY_LEFT_OUT || m->by == FOLDERS_BY_FOREIGN) {
			left[fs->n_left_out++] = (struct compare_left_out){
			    s->name, m->by == FOLDERS_BY_LEFT_OUT ? "plan" : "foreign_namespace"};
			continue;
		}
		if (m->by == FOLDERS_BY_NONE || m->dst_name == NULL)
			continue;
		rows[fs->n_mapped++] = (struct folder_map_row){s->name, m->dst_name,
		    folders_by_str(m->by), m->dst != (size_t)-1, s->messages, m->rewritten};
		if (m->by == FOLDERS_BY_NEW)
			fs->n_new++;
		if (strcmp(s->name, m->dst_name) != 0) {
			const char *rel = folders_relative(si, s->raw_name);
			char sd = s->delim ? s->delim : si->delim;
			struct fm_item *it = &items[fs->n_moved++];

			it->i = i;
			it->src = s->name;
			it->dst = m->dst_name;
			it->rank = m->by == FOLDERS_BY_PLAN                            ? 0
			    : m->by == FOLDERS_BY_SPECIAL || m->by == FOLDERS_BY_GUESS ? 1
			    : sd != '\0' && strchr(rel, sd) != NULL                    ? 2
			                                                               : 3;
		}
	}
	fs->moves = fm_moves(items, fs->n_moved);
	for (size_t k = 0; k < ps->n_folder_map; k++)
		if (!rule_used[k])
			unused[fs->n_unused_rules++] = ps->folder_map[k].from;
	fs->first_unused_rule = fs->n_unused_rules > 0 ? unused[0] : NULL;
	if (strcmp(si->ns_method, "NAMESPACE") != 0)
		fs->guessed = "source";
	else if (strcmp(di->ns_method, "NAMESPACE") != 0)
		fs->guessed = "destination";
	fs->guessed_prefix = fs->guessed == NULL ? NULL
	    : strcmp(fs->guessed, "source") == 0 ? si->ns_prefix
	                                         : di->ns_prefix;
	free(items); /* its strings belong to the inventories */
	fs->src = si;
	fs->dst = di;
	fs->rows = rows;
	fs->left_out = left;
	fs->unused_rules = unused;
	free(rule_used);
}

static void
fm_fill(struct result *res, const struct mailaudit_view *v)
{
	struct folder_map_summary fs = {
	    .user = v->mb->source_user, .destination_user = v->mb->dest_user};
	struct folders_mapping *map;
	struct verdict vd = {0};

	if (!v->dst.present || v->src.inv == NULL || v->dst.inv == NULL) {
		folder_map_details_json(&fs, res->details);
		mailaudit_both_sides(res, v);
		return;
	}
	map = mailaudit_map(v);
	fm_map(v, map, &fs);
	folder_map_details_json(&fs, res->details);
	folder_map_verdict(&fs, &vd);
	verdict_apply(&vd, res);
	folders_mapping_free(map, v->src.inv->n);
	free((void *)fs.moves);
	free((void *)fs.rows);
	free((void *)fs.left_out);
	free((void *)fs.unused_rules);
}

void
folder_map_verdict(const struct folder_map_summary *s, struct verdict *v)
{
	const char *sep = s->n_moved ? ": " : "";

	if (s->n_unused_rules > 0) {
		verdict_set(v, RESULT_WARN,
		    "%zu plan folder_map rule%s name%s no source folder "
		    "(first: \"%s\"); %zu folders mapped, %zu new%s%s",
		    s->n_unused_rules, s->n_unused_rules == 1 ? "" : "s",
		    s->n_unused_rules == 1 ? "s" : "", s->first_unused_rule, s->n_mapped, s->n_new,
		    sep, s->moves);
		verdict_advise(v,
		    "Check the names in the plan's \"sync\": {\"folder_map\"} against "
		    "the source folders of mailbox.folders (full name, or the path below the "
		    "namespace prefix, '/' or the source's delimiter between levels).");
	} else if (s->guessed != NULL) {
		verdict_set(v, RESULT_WARN,
		    "the %s has no NAMESPACE: its personal prefix \"%s\" "
		    "was taken from LIST; %zu folders mapped, %zu new%s%s",
		    s->guessed, s->guessed_prefix, s->n_mapped, s->n_new, sep, s->moves);
		verdict_advise(v,
		    "If folders land in the wrong place, map them in the plan: "
		    "\"sync\": {\"folder_map\": {\"Old/Name\": \"New/Name\"}}.");
	} else if (s->n_moved == 0) {
		verdict_set(v, RESULT_PASS,
		    "%zu folders keep their names (%zu new on the "
		    "destination)%s",
		    s->n_mapped, s->n_new, s->n_left_out ? ", some left out" : "");
	} else {
		verdict_set(v, RESULT_PASS, "%zu folders mapped, %zu new on the destination%s: %s",
		    s->n_mapped, s->n_new, s->n_left_out ? " (some left out)" : "", s->moves);
	}
}

static void
fm_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.folder_map", RESULT_SIDE_NONE,
	    MAILAUDIT_SRC_STATUS | MAILAUDIT_DST_STATUS, fm_fill);
}

const struct check check_mailbox_folder_map = {
    .id = "mailbox.folder_map",
    .group = "folders",
    .title = "where the sync will put every source folder (namespaces, special use, names)",
    .commands = CHECK_CMD_AUDIT,
    .schedule = fm_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};
