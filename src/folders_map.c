/*
 * folders_map.c - where each source folder goes on the destination. See
 * folders.h. Pure: from two inventories (folders.c) to a mapping.
 *
 * Paths are taken relative to each side's personal namespace (NAMESPACE,
 * RFC 2342; without it the LIST of "" and the delimiter decide) and
 * re-rooted under the destination's. Matching order: the plan's folder_map,
 * special use (both sides advertise it), an exact name, then the name
 * guesses, each destination folder taken once and an exact match never
 * displaced by a guess.
 */
#include "folders.h"

#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "util.h"

/* ---- matching ---- */

static int
folders_uses_special(const struct folders_inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		if (inv->folders[i].special != FOLDERS_SPECIAL_NONE)
			return 1;
	return 0;
}

char *
folders_map_name(const char *name, char src_delim, char dst_delim, int mutf7, int *rewritten)
{
	size_t n = strlen(name);
	char *out = xmalloc(n + 1);
	int in_b64 = 0, changed = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		/* Modified UTF-7 runs "&...-" hold only base64 letters: copy as is. */
		if (mutf7 && in_b64) {
			if (ch == '-')
				in_b64 = 0;
			out[i] = ch;
			continue;
		}
		if (mutf7 && ch == '&') {
			in_b64 = 1;
			out[i] = ch;
			continue;
		}
		if (src_delim != '\0' && ch == src_delim) {
			out[i] = dst_delim != '\0' ? dst_delim : ch;
			continue;
		}
		if (dst_delim != '\0' && ch == dst_delim) {
			out[i] = FOLDERS_DELIM_REPLACEMENT;
			changed = 1;
			continue;
		}
		out[i] = ch;
	}
	out[n] = '\0';
	if (rewritten != NULL)
		*rewritten = changed;
	return out;
}

/* ---- namespaces ---- */

char *
folders_ns_guess(const char *const *names, size_t n, char delim)
{
	size_t below = 0, other = 0;

	if (delim == '\0')
		return xstrdup("");
	for (size_t i = 0; i < n; i++) {
		if (util_strieq(names[i], "INBOX"))
			continue;
		if ((strncasecmp(names[i], "INBOX", 5) == 0) && names[i][5] == delim &&
		    names[i][6] != '\0')
			below++;
		else
			other++;
	}
	/* A public or shared namespace LISTs beside INBOX's children; a few
	 * subfolders of INBOX beside many top-level folders are just that. */
	return below > other ? xasprintf("INBOX%c", delim) : xstrdup("");
}

const char *
folders_relative(const struct folders_inventory *inv, const char *raw)
{
	const char *p = inv->ns_prefix != NULL ? inv->ns_prefix : "";
	size_t n = strlen(p);

	if (n == 0 || util_strieq(raw, "INBOX"))
		return raw;
	/* "INBOX." is case-insensitive in its INBOX part (RFC 3501 5.1). */
	if ((strncasecmp(p, "INBOX", 5) == 0) && n > 5 && (strncasecmp(raw, "INBOX", 5) == 0) &&
	    strncmp(raw + 5, p + 5, n - 5) == 0 && raw[n] != '\0')
		return raw + n;
	if (strncmp(raw, p, n) == 0 && raw[n] != '\0')
		return raw + n;
	return raw;
}

char
folders_ns_delim_of(const struct folders_inventory *inv)
{
	if (inv->ns_delim != '\0')
		return inv->ns_delim;
	return inv->delim != '\0' ? inv->delim : '/';
}

const char *
folders_by_str(enum folders_by by)
{
	switch (by) {
	case FOLDERS_BY_PLAN: return "plan";
	case FOLDERS_BY_SPECIAL: return "special-use";
	case FOLDERS_BY_NAME: return "name";
	case FOLDERS_BY_GUESS: return "guess";
	case FOLDERS_BY_NEW: return "new";
	case FOLDERS_BY_LEFT_OUT: return "left-out";
	case FOLDERS_BY_FOREIGN: return "foreign";
	case FOLDERS_BY_NONE: break;
	}
	return "none";
}

/* ---- the mapping ---- */

/* Class and rank of folder I for step 4: its attribute (rank 0), else a
 * well-known top-level name (rank 1 + table index). Rank -1: neither. */
static int
folders_class(const struct folders_inventory *inv, size_t i, enum folders_special *sp)
{
	const struct folders_folder *f = &inv->folders[i];
	const char *rel = folders_relative(inv, f->raw_name);
	char *u;
	int rank;

	if (f->special != FOLDERS_SPECIAL_NONE) {
		*sp = f->special;
		return 0;
	}
	u = folders_mutf7_decode(rel, strlen(rel));
	rank = folders_guess_rank(u != NULL ? u : rel, f->delim ? f->delim : inv->delim, sp);
	free(u);
	return rank < 0 ? -1 : rank + 1;
}

static int
folders_usable(const struct folders_folder *f)
{
	return f->has_status && !(f->flags & (FOLDERS_F_NOSELECT | FOLDERS_F_FOREIGN));
}

/* S with DELIM replaced by '/' (a new string). */
static char *
folders_slashed(const char *s, char delim)
{
	char *o = xstrdup(s);

	if (delim != '\0' && delim != '/')
		for (char *p = o; *p; p++)
			if (*p == delim)
				*p = '/';
	return o;
}

/* Does rule FROM name source folder F? */
static int
folders_rule_hits(
    const struct folders_inventory *src, const struct folders_folder *f, const char *from)
{
	const char *rel = folders_relative(src, f->raw_name);
	char *relu = folders_mutf7_decode(rel, strlen(rel));
	const char *cand[2] = {f->name, relu != NULL ? relu : rel};
	char d = f->delim ? f->delim : src->delim;
	int hit = 0;

	for (int k = 0; k < 2 && !hit; k++) {
		char *sl = folders_slashed(cand[k], d);

		hit = strcmp(cand[k], from) == 0 || strcmp(sl, from) == 0 ||
		    (util_strieq(cand[k], "INBOX") && util_strieq(from, "INBOX"));
		free(sl);
	}
	free(relu);
	return hit;
}

/* The destination raw name of a rule's TO ('/' between levels). NULL when
 * it does not encode. */
static char *
folders_rule_target(const struct folders_inventory *dst, const char *to)
{
	char dd = folders_ns_delim_of(dst);
	char *lv = xstrdup(to), *enc, *out;

	if (util_strieq(to, "INBOX")) {
		free(lv);
		return xstrdup("INBOX");
	}
	for (char *p = lv; *p; p++)
		if (*p == '/')
			*p = dd;
	enc = folders_mutf7_encode(lv, strlen(lv));
	free(lv);
	if (enc == NULL)
		return NULL;
	out = xasprintf("%s%s", dst->ns_prefix != NULL ? dst->ns_prefix : "", enc);
	free(enc);
	return out;
}

/* The usable destination folders sorted by raw name, for folders_find_dst. */
struct folders_key {
	const char *raw;
	size_t j;
};

struct folders_index {
	struct folders_key *k;
	size_t n;
	size_t inbox; /* INBOX (any case), or (size_t)-1 */
};

static int
folders_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folders_key *)a)->raw, ((const struct folders_key *)b)->raw);
}

static void
folders_index_build(struct folders_index *x, const struct folders_inventory *dst)
{
	x->k = xcalloc(dst->n + 1, sizeof(*x->k));
	x->n = 0;
	x->inbox = (size_t)-1;
	for (size_t j = 0; j < dst->n; j++) {
		if (!folders_usable(&dst->folders[j]))
			continue;
		if (util_strieq(dst->folders[j].raw_name, "INBOX") && x->inbox == (size_t)-1)
			x->inbox = j;
		x->k[x->n].raw = dst->folders[j].raw_name;
		x->k[x->n++].j = j;
	}
	qsort(x->k, x->n, sizeof(*x->k), folders_key_cmp);
}

/* The index of the usable destination folder named RAW (the first in LIST
 * order when a server lists a name twice), or (size_t)-1. */
static size_t
folders_find_dst(const struct folders_index *x, const char *raw)
{
	struct folders_key key = {raw, 0};
	const struct folders_key *hit;

	if (util_strieq(raw, "INBOX"))
		return x->inbox;
	hit = bsearch(&key, x->k, x->n, sizeof(*x->k), folders_key_cmp);
	if (hit == NULL)
		return (size_t)-1;
	while (hit > x->k && strcmp(hit[-1].raw, raw) == 0)
		hit--;
	return hit->j;
}

/* The re-rooted name of source folder F ("INBOX.Archive.2019" -> "Archive/2019"). */
static char *
folders_rerooted(const struct folders_inventory *src, const struct folders_folder *f,
    const struct folders_inventory *dst, int *rewritten)
{
	const char *rel = folders_relative(src, f->raw_name);
	char *m, *out;

	*rewritten = 0;
	if (util_strieq(f->raw_name, "INBOX"))
		return xstrdup("INBOX");
	m = folders_map_name(
	    rel, f->delim ? f->delim : src->delim, folders_ns_delim_of(dst), 1, rewritten);
	out = xasprintf("%s%s", dst->ns_prefix != NULL ? dst->ns_prefix : "", m);
	free(m);
	return out;
}

static void
folders_set(struct folders_mapping *m, const struct folders_inventory *dst, size_t j, char *raw,
    enum folders_by by)
{
	char *dec;

	m->by = by;
	m->dst = j;
	if (j != (size_t)-1) {
		free(raw);
		m->dst_raw = xstrdup(dst->folders[j].raw_name);
		m->dst_name = xstrdup(dst->folders[j].name);
		return;
	}
	m->dst_raw = raw;
	dec = raw != NULL ? folders_mutf7_decode(raw, strlen(raw)) : NULL;
	m->dst_name = dec != NULL ? dec : raw != NULL ? xstrdup(raw) : NULL;
}

struct folders_cand {
	size_t i;
	int rank;
	enum folders_special sp;
};

static int
folders_cand_cmp(const void *a, const void *b)
{
	const struct folders_cand *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* 1. The plan's rules: the first rule whose from matches a source folder
 * decides (to: null leaves it out). X indexes DST; USED marks what is taken. */
static void
folders_map_rules(const struct folders_inventory *src, const struct folders_inventory *dst,
    const struct folders_index *x, const struct folders_rule *rules, size_t n_rules,
    unsigned char *used, struct folders_mapping *out)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct folders_folder *f = &src->folders[i];

		if (!folders_usable(f))
			continue;
		for (size_t k = 0; k < n_rules; k++) {
			char *raw;
			size_t j;

			if (!folders_rule_hits(src, f, rules[k].from))
				continue;
			out[i].rule = (int)k;
			if (rules[k].to == NULL) {
				out[i].by = FOLDERS_BY_LEFT_OUT;
				break;
			}
			raw = folders_rule_target(dst, rules[k].to);
			if (raw == NULL)
				raw = xstrdup(rules[k].to);
			j = folders_find_dst(x, raw);
			if (j != (size_t)-1)
				used[j] = 1;
			folders_set(&out[i], dst, j, raw, FOLDERS_BY_PLAN);
			break;
		}
	}
}

/* 2. Special use (the caller knows both sides advertise it). */
static void
folders_map_special(const struct folders_inventory *src, const struct folders_inventory *dst,
    unsigned char *used, struct folders_mapping *out)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct folders_folder *f = &src->folders[i];

		if (!folders_usable(f) || out[i].by != FOLDERS_BY_NONE ||
		    f->special == FOLDERS_SPECIAL_NONE)
			continue;
		for (size_t j = 0; j < dst->n; j++)
			if (!used[j] && folders_usable(&dst->folders[j]) &&
			    dst->folders[j].special == f->special) {
				used[j] = 1;
				folders_set(&out[i], dst, j, NULL, FOLDERS_BY_SPECIAL);
				break;
			}
	}
}

/* 3. Exact name below the namespaces. */
static void
folders_map_names(const struct folders_inventory *src, const struct folders_inventory *dst,
    const struct folders_index *x, unsigned char *used, struct folders_mapping *out)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct folders_folder *f = &src->folders[i];
		char *want;
		int rw;
		size_t j;

		if (!folders_usable(f) || out[i].by != FOLDERS_BY_NONE)
			continue;
		want = folders_rerooted(src, f, dst, &rw);
		j = folders_find_dst(x, want);
		free(want);
		if (j != (size_t)-1 && !used[j]) {
			used[j] = 1;
			folders_set(&out[i], dst, j, NULL, FOLDERS_BY_NAME);
		}
	}
}

/* 4. Well-known names, the most usual spelling first: the source folders
 * best recognised choose first, each the best-ranked destination folder
 * of its class. */
static void
folders_map_guesses(const struct folders_inventory *src, const struct folders_inventory *dst,
    unsigned char *used, struct folders_mapping *out)
{
	struct folders_cand *cand = xcalloc(src->n ? src->n : 1, sizeof(*cand));
	int *drank = xcalloc(dst->n ? dst->n : 1, sizeof(*drank));
	enum folders_special *dsp = xcalloc(dst->n ? dst->n : 1, sizeof(*dsp));
	size_t nc = 0;

	for (size_t j = 0; j < dst->n; j++)
		drank[j] = folders_usable(&dst->folders[j]) ? folders_class(dst, j, &dsp[j]) : -1;
	for (size_t i = 0; i < src->n; i++) {
		if (!folders_usable(&src->folders[i]) || out[i].by != FOLDERS_BY_NONE)
			continue;
		cand[nc].i = i;
		cand[nc].rank = folders_class(src, i, &cand[nc].sp);
		if (cand[nc].rank >= 0)
			nc++;
	}
	qsort(cand, nc, sizeof(*cand), folders_cand_cmp);
	for (size_t c = 0; c < nc; c++) {
		size_t best = (size_t)-1;
		int best_rank = 0;

		for (size_t j = 0; j < dst->n; j++) {
			if (used[j] || drank[j] < 0 || dsp[j] != cand[c].sp)
				continue;
			if (best == (size_t)-1 || drank[j] < best_rank) {
				best = j;
				best_rank = drank[j];
			}
		}
		if (best != (size_t)-1) {
			used[best] = 1;
			folders_set(&out[cand[c].i], dst, best, NULL, FOLDERS_BY_GUESS);
		}
	}
	free(drank);
	free(dsp);
	free(cand);
}

void
folders_map(const struct folders_inventory *src, const struct folders_inventory *dst,
    const struct folders_rule *rules, size_t n_rules, struct folders_mapping *out)
{
	unsigned char *used = xcalloc(dst->n ? dst->n : 1, 1);
	struct folders_index x;

	folders_index_build(&x, dst);
	for (size_t i = 0; i < src->n; i++) {
		const struct folders_folder *f = &src->folders[i];

		memset(&out[i], 0, sizeof(out[i]));
		out[i].dst = (size_t)-1;
		out[i].rule = -1;
		if (f->flags & FOLDERS_F_FOREIGN)
			out[i].by = FOLDERS_BY_FOREIGN;
	}
	folders_map_rules(src, dst, &x, rules, n_rules, used, out);
	/* Special use only when both sides advertise it. */
	if (folders_uses_special(src) && folders_uses_special(dst))
		folders_map_special(src, dst, used, out);
	folders_map_names(src, dst, &x, used, out);
	folders_map_guesses(src, dst, used, out);
	/* 5. The rest: a new folder of the re-rooted name. */
	for (size_t i = 0; i < src->n; i++) {
		int rw;
		char *raw;

		if (!folders_usable(&src->folders[i]) || out[i].by != FOLDERS_BY_NONE)
			continue;
		raw = folders_rerooted(src, &src->folders[i], dst, &rw);
		folders_set(&out[i], dst, (size_t)-1, raw, FOLDERS_BY_NEW);
		out[i].rewritten = rw;
	}
	free(x.k);
	free(used);
}

void
folders_mapping_free(struct folders_mapping *m, size_t n)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}
	free(m);
}

void
folders_match(const struct folders_inventory *src, const struct folders_inventory *dst, size_t *map)
{
	struct folders_mapping *m = xcalloc(src->n ? src->n : 1, sizeof(*m));

	folders_map(src, dst, NULL, 0, m);
	for (size_t i = 0; i < src->n; i++)
		map[i] = m[i].dst;
	folders_mapping_free(m, src->n);
}
