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

static void
fm_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	const struct plan_sync *ps = &v->plan->sync;
	cJSON *d = res->details, *arr, *left, *unused;
	struct folders_mapping *map;
	size_t n = 0, n_new = 0, n_moved = 0, n_left = 0, shown = 0, n_unused = 0;
	unsigned char *rule_used;
	struct fm_item *items;
	char *list = xstrdup("");
	const char *guessed = NULL;
	struct folder_map_summary fs;
	struct verdict vd = {0};

	cJSON_AddStringToObject(d, "user", v->mb->source_user);
	arr = cJSON_AddArrayToObject(d, "folders");
	left = cJSON_AddArrayToObject(d, "left_out");
	unused = cJSON_AddArrayToObject(d, "unused_rules");
	if (!v->dst.present) {
		free(list);
		result_set(res, RESULT_SKIP,
		    "the plan has no destination IMAP login for this "
		    "mailbox");
		return;
	}
	if (si == NULL || di == NULL) {
		free(list);
		mailaudit_side_error(res, v, si != NULL);
		return;
	}
	cJSON_AddStringToObject(d, "destination_user", v->mb->dest_user);
	cJSON_AddItemToObject(d, "namespaces", folders_namespaces_json(si, di));
	map = mailaudit_map(v);
	rule_used = xcalloc(ps->n_folder_map + 1, 1);
	items = xcalloc(si->n + 1, sizeof(*items));
	for (size_t i = 0; i < si->n; i++) {
		const struct folders_folder *s = &si->folders[i];
		const struct folders_mapping *m = &map[i];
		cJSON *o;

		if (m->rule >= 0)
			rule_used[m->rule] = 1;
		if (m->by == FOLDERS_BY_LEFT_OUT || m->by == FOLDERS_BY_FOREIGN) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "source", s->name);
			cJSON_AddStringToObject(o, "reason",
			    m->by == FOLDERS_BY_LEFT_OUT ? "plan" : "foreign_namespace");
			cJSON_AddItemToArray(left, o);
			n_left++;
			continue;
		}
		if (m->by == FOLDERS_BY_NONE || m->dst_name == NULL)
			continue;
		n++;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "source", s->name);
		cJSON_AddStringToObject(o, "destination", m->dst_name);
		cJSON_AddStringToObject(o, "mapped_by", folders_by_str(m->by));
		cJSON_AddBoolToObject(o, "exists", m->dst != (size_t)-1);
		cJSON_AddNumberToObject(o, "messages", s->messages);
		cJSON_AddBoolToObject(o, "rewritten", m->rewritten);
		cJSON_AddItemToArray(arr, o);
		if (m->by == FOLDERS_BY_NEW)
			n_new++;
		if (strcmp(s->name, m->dst_name) != 0) {
			const char *rel = folders_relative(si, s->raw_name);
			char sd = s->delim ? s->delim : si->delim;
			struct fm_item *it = &items[n_moved++];

			it->i = i;
			it->src = s->name;
			it->dst = m->dst_name;
			it->rank = m->by == FOLDERS_BY_PLAN                            ? 0
			    : m->by == FOLDERS_BY_SPECIAL || m->by == FOLDERS_BY_GUESS ? 1
			    : sd != '\0' && strchr(rel, sd) != NULL                    ? 2
			                                                               : 3;
		}
	}
	qsort(items, n_moved, sizeof(*items), fm_item_cmp);
	for (; shown < n_moved && shown < FM_SUMMARY_MAX; shown++) {
		char *t = xasprintf(
		    "%s%s%s -> %s", list, shown ? ", " : "", items[shown].src, items[shown].dst);

		free(list);
		list = t;
	}
	for (size_t k = 0; k < ps->n_folder_map; k++)
		if (!rule_used[k]) {
			cJSON_AddItemToArray(unused, cJSON_CreateString(ps->folder_map[k].from));
			n_unused++;
		}
	if (strcmp(si->ns_method, "NAMESPACE") != 0)
		guessed = "source";
	else if (strcmp(di->ns_method, "NAMESPACE") != 0)
		guessed = "destination";
	free(items); /* its strings belong to the inventories */
	folders_mapping_free(map, si->n);
	free(rule_used);
	if (n_moved > shown) {
		char *t = xasprintf("%s and %zu more", list, n_moved - shown);

		free(list);
		list = t;
	}
	fs.n_mapped = n;
	fs.n_new = n_new;
	fs.n_moved = n_moved;
	fs.n_left_out = n_left;
	fs.moves = list;
	fs.n_unused_rules = n_unused;
	fs.first_unused_rule = n_unused > 0 ? cJSON_GetArrayItem(unused, 0)->valuestring : NULL;
	fs.guessed = guessed;
	fs.guessed_prefix = guessed == NULL  ? NULL
	    : strcmp(guessed, "source") == 0 ? si->ns_prefix
	                                     : di->ns_prefix;
	folder_map_verdict(&fs, &vd);
	verdict_apply(&vd, res);
	free(list);
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
