/*
 * folders.c - the folder inventory of one IMAP mailbox. See folders.h. The
 * names (modified UTF-7, problems, guesses) are mboxname.c; where each folder
 * goes on the destination is folders_map.c.
 *
 * A job walks three phases over one READY client, each a pipelined batch:
 * LIST (+ GETQUOTAROOT), STATUS for every selectable folder, and the
 * EXAMINE-based counts some folders need. Every command of the job counts in
 * `pending`; a phase advances when it reaches 0 and the window of the batch
 * is refilled as replies arrive, so a mailbox with 10,000 folders costs the
 * same number of round trips as one with 20.
 *
 * One untagged handler serves every command of the job: it dispatches on the
 * response keyword (LIST, XLIST, STATUS, QUOTAROOT, QUOTA, FETCH, SEARCH,
 * ESEARCH) rather than on which command is oldest, because LIST-STATUS mixes
 * STATUS into LIST's replies and STATUS names its mailbox anyway. FETCH and
 * SEARCH data belong to the command they answer: RFC 3501 section 5.5 has
 * the server answer pipelined commands in order, and a failed EXAMINE leaves
 * no mailbox selected, so a FETCH after it cannot count another folder's mail.
 */
#include "folders.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "imap.h"
#include "util.h"

enum folders_phase { PH_LIST, PH_STATUS, PH_EXAMINE, PH_DONE };

enum folders_kind { K_LIST, K_QUOTA, K_NS, K_LSUB, K_STATUS, K_EXAMINE, K_FETCH, K_SEARCH };

struct folders_ref {
	struct folders_job *job;
	enum folders_kind kind;
	size_t idx; /* folder index (not for LIST/QUOTA) */
};

struct folders_job {
	struct imap_client *c;
	struct folders_opts o;
	folders_done_fn done;
	void *aux;
	struct folders_inventory *inv;
	size_t cap;
	enum folders_phase phase;
	size_t pending; /* commands of the job in flight */
	char *error;
	int failed;
	int status_size, list_status, esearch;
	struct folders_ref list_ref, quota_ref, ns_ref, lsub_ref;
	int ns_answered;          /* NAMESPACE gave the personal namespace */
	struct folders_ref *refs; /* 3 per folder: STATUS or EXAMINE, FETCH, SEARCH */
	size_t next;              /* next folder to queue in the current phase */
	int examine_failed_idx_valid;
	size_t examine_failed_idx; /* folder whose EXAMINE failed (its FETCH/SEARCH are void) */
};

void
folders_folder_clear(struct folders_folder *f)
{
	free(f->raw_name);
	free(f->name);
	free(f->error);
	memset(f, 0, sizeof(*f));
}

/* An astring argument (atom, quoted string or literal) as text, or NULL. */
static const char *
folders_astring(const struct imap_arg *a, size_t *len)
{
	if (a == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING && a->type != IMAP_ARG_LITERAL)
		return NULL;
	*len = a->len;
	return a->str;
}

int
folders_parse_list(const struct imap_response *r, struct folders_folder *f)
{
	const struct imap_arg *flags, *delim, *name;
	const char *raw;
	size_t len;

	if (r->kind != IMAP_RESP_UNTAGGED || r->keyword == NULL ||
	    (!util_strieq(r->keyword, "LIST") && !util_strieq(r->keyword, "XLIST")))
		return 0;
	/* mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil)
	 * SP mailbox [SP mbox-list-extended] (RFC 3501 9, RFC 5258 9). */
	flags = imap_arg_nth(r->args, 0);
	delim = imap_arg_nth(r->args, 1);
	name = imap_arg_nth(r->args, 2);
	if (flags == NULL || flags->type != IMAP_ARG_LIST || delim == NULL || name == NULL)
		return -1;
	raw = folders_astring(name, &len);
	if (raw == NULL || len == 0 || memchr(raw, '\0', len) != NULL)
		return -1;
	memset(f, 0, sizeof(*f));
	if (delim->type == IMAP_ARG_STRING && delim->len == 1)
		f->delim = delim->str[0];
	else if (delim->type != IMAP_ARG_NIL)
		return -1;
	for (const struct imap_arg *a = flags->list; a != NULL; a = a->next) {
		enum folders_special sp;

		if (a->type != IMAP_ARG_ATOM)
			continue;
		if (util_strieq(a->str, "\\Noselect"))
			f->flags |= FOLDERS_F_NOSELECT;
		else if (util_strieq(a->str, "\\NonExistent"))
			f->flags |= FOLDERS_F_NONEXISTENT | FOLDERS_F_NOSELECT;
		else if (util_strieq(a->str, "\\Noinferiors"))
			f->flags |= FOLDERS_F_NOINFERIORS;
		else if (util_strieq(a->str, "\\HasChildren"))
			f->flags |= FOLDERS_F_HASCHILDREN;
		else if (util_strieq(a->str, "\\Subscribed"))
			f->flags |= FOLDERS_F_SUBSCRIBED;
		else if ((sp = folders_special_from_flag(a->str)) != FOLDERS_SPECIAL_NONE &&
		    f->special == FOLDERS_SPECIAL_NONE)
			f->special = sp;
	}
	f->raw_name = xstrndup(raw, len);
	/* RFC 3501 5.1: INBOX is case-insensitive; keep one spelling. */
	if (util_strieq(f->raw_name, "INBOX"))
		memcpy(f->raw_name, "INBOX", 5);
	f->name = folders_mutf7_decode(f->raw_name, len);
	f->name_ok = f->name != NULL;
	if (f->name == NULL)
		f->name = xstrdup(f->raw_name);
	f->bytes = -1;
	f->large = -1;
	return 1;
}

/* Parse a number atom up to 2^63-1. Returns 0 or -1. */
static int
folders_number(const struct imap_arg *a, int64_t *out)
{
	int64_t v = 0;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 18)
		return -1;
	for (size_t i = 0; i < a->len; i++) {
		if (a->str[i] < '0' || a->str[i] > '9')
			return -1;
		v = v * 10 + (a->str[i] - '0');
	}
	*out = v;
	return 0;
}

static int
folders_same_name(const char *a, size_t alen, const char *b)
{
	if (alen == 5 && util_strieq(b, "INBOX") && strncasecmp(a, "INBOX", 5) == 0)
		return 1;
	return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

int
folders_parse_status(const struct imap_response *r, const char **name, struct folders_folder *f)
{
	const struct imap_arg *mb, *items;
	const char *raw;
	size_t len;

	if (r->kind != IMAP_RESP_UNTAGGED || r->keyword == NULL ||
	    !util_strieq(r->keyword, "STATUS"))
		return 0;
	/* "STATUS" SP mailbox SP "(" [status-att-list] ")" (RFC 3501 7.2.4). */
	mb = imap_arg_nth(r->args, 0);
	items = imap_arg_nth(r->args, 1);
	raw = folders_astring(mb, &len);
	if (raw == NULL || items == NULL || items->type != IMAP_ARG_LIST || items->n % 2 != 0)
		return -1;
	if (name != NULL)
		*name = raw;
	if (f == NULL || f->raw_name == NULL || !folders_same_name(raw, len, f->raw_name))
		return 1;
	for (const struct imap_arg *a = items->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		int64_t v;

		if (a->type != IMAP_ARG_ATOM || folders_number(a->next, &v) != 0)
			return -1;
		if (util_strieq(a->str, "MESSAGES")) {
			if (v > UINT32_MAX)
				return -1;
			f->messages = (uint32_t)v;
			f->has_status = 1;
		} else if (util_strieq(a->str, "UIDNEXT") && v <= UINT32_MAX) {
			f->uidnext = (uint32_t)v;
		} else if (util_strieq(a->str, "UIDVALIDITY") && v <= UINT32_MAX) {
			f->uidvalidity = (uint32_t)v;
		} else if (util_strieq(a->str, "SIZE")) {
			f->bytes = v;
			f->bytes_src = FOLDERS_BYTES_STATUS;
		}
	}
	return 1;
}

int
folders_parse_namespace(
    const struct imap_response *r, char **prefix, char *delim, char ***foreign, size_t *n_foreign)
{
	const struct imap_arg *ns[3];
	char *pre = NULL, d = '\0';
	char **fo = NULL;
	size_t nf = 0;

	if (r->kind != IMAP_RESP_UNTAGGED || r->keyword == NULL ||
	    !util_strieq(r->keyword, "NAMESPACE"))
		return 0;
	/* Namespace = nil / "(" 1*( "(" string SP (<"> QUOTED_CHAR <"> / nil)
	 *   *(Namespace_Response_Extension) ")" ) ")"   (RFC 2342 section 5) */
	for (int k = 0; k < 3; k++) {
		ns[k] = imap_arg_nth(r->args, (size_t)k);
		if (ns[k] == NULL || (ns[k]->type != IMAP_ARG_NIL && ns[k]->type != IMAP_ARG_LIST))
			goto bad;
		if (ns[k]->type == IMAP_ARG_NIL)
			continue;
		for (const struct imap_arg *e = ns[k]->list; e != NULL; e = e->next) {
			const struct imap_arg *p, *dl;
			const char *ps;
			size_t plen;

			if (e->type != IMAP_ARG_LIST)
				goto bad;
			p = e->list;
			dl = p != NULL ? p->next : NULL;
			ps = folders_astring(p, &plen);
			if (ps == NULL || dl == NULL || memchr(ps, '\0', plen) != NULL ||
			    (dl->type != IMAP_ARG_NIL &&
			        (dl->type != IMAP_ARG_STRING || dl->len != 1)))
				goto bad;
			if (k == 0) {
				if (pre == NULL) {
					pre = xstrndup(ps, plen);
					d = dl->type == IMAP_ARG_NIL ? '\0' : dl->str[0];
				}
				continue;
			}
			if (plen == 0)
				continue; /* an empty foreign prefix would swallow every folder */
			fo = xrealloc(fo, (nf + 1) * sizeof(*fo));
			fo[nf++] = xstrndup(ps, plen);
		}
	}
	*prefix = pre != NULL ? pre : xstrdup("");
	*delim = d;
	*foreign = fo;
	*n_foreign = nf;
	return 1;
bad:
	free(pre);
	for (size_t i = 0; i < nf; i++)
		free(fo[i]);
	free(fo);
	return -1;
}

/* ================================================================ the job ===== */

void
folders_inventory_free(struct folders_inventory *inv)
{
	if (inv == NULL)
		return;
	for (size_t i = 0; i < inv->n; i++)
		folders_folder_clear(&inv->folders[i]);
	free(inv->folders);
	free(inv->quota_root);
	free(inv->ns_prefix);
	for (size_t i = 0; i < inv->n_ns_foreign; i++)
		free(inv->ns_foreign[i]);
	free(inv->ns_foreign);
	free(inv);
}

static struct folders_inventory *
folders_inventory_new(void)
{
	struct folders_inventory *inv = xcalloc(1, sizeof(*inv));

	inv->quota_used_bytes = -1;
	inv->quota_limit_bytes = -1;
	inv->quota_used_messages = -1;
	inv->quota_limit_messages = -1;
	inv->list_method = "LIST";
	inv->ns_method = "LIST";
	inv->ns_prefix = xstrdup("");
	return inv;
}

const char *
folders_job_error(const struct folders_job *job)
{
	return job->error;
}

const struct folders_inventory *
folders_job_inventory(const struct folders_job *job)
{
	return job->inv;
}

struct folders_inventory *
folders_job_take(struct folders_job *job)
{
	struct folders_inventory *inv = job->inv;

	job->inv = folders_inventory_new();
	job->cap = 0;
	return inv;
}

void
folders_job_free(struct folders_job *job)
{
	if (job == NULL)
		return;
	folders_inventory_free(job->inv);
	free(job->refs);
	free(job->error);
	free(job);
}

static void folders_advance(struct folders_job *job);

/* The job failed (the first reason wins); it ends when nothing is in flight. */
static void
folders_fail(struct folders_job *job, const char *fmt, const char *a, const char *b)
{
	if (!job->failed) {
		job->failed = 1;
		job->error = xasprintf(fmt, a, b);
	}
}

static void folders_send(struct folders_job *job, struct imap_cmd *cmd, struct folders_ref *ref);

/* ---- untagged data ---- */

static struct folders_folder *
folders_find(struct folders_job *job, const char *raw)
{
	struct folders_inventory *inv = job->inv;
	size_t len = strlen(raw);

	/* LIST-STATUS sends a folder's STATUS right after its LIST: look at
	 * the last one first. */
	for (size_t k = inv->n; k > 0; k--)
		if (folders_same_name(raw, len, inv->folders[k - 1].raw_name))
			return &inv->folders[k - 1];
	return NULL;
}

static void
folders_on_list(struct folders_job *job, const struct imap_response *r)
{
	struct folders_inventory *inv = job->inv;
	struct folders_folder f;
	int rc = folders_parse_list(r, &f);

	if (rc < 0) {
		folders_fail(job, "malformed %s response from the server%s", r->keyword, "");
		return;
	}
	if (rc == 0 || job->phase != PH_LIST)
		return;
	if (inv->n >= job->o.max_folders) {
		inv->truncated = 1;
		folders_folder_clear(&f);
		return;
	}
	if (inv->n == job->cap) {
		job->cap = job->cap ? job->cap * 2 : 32;
		inv->folders = xrealloc(inv->folders, job->cap * sizeof(*inv->folders));
	}
	if (f.delim != '\0' && (inv->delim == '\0' || strcmp(f.raw_name, "INBOX") == 0))
		inv->delim = f.delim;
	inv->folders[inv->n++] = f;
}

/* "* QUOTA root (STORAGE used limit MESSAGE used limit)" (RFC 9208 7.2). */
static void
folders_on_quota(struct folders_job *job, const struct imap_response *r)
{
	struct folders_inventory *inv = job->inv;
	const struct imap_arg *root = imap_arg_nth(r->args, 0), *res = imap_arg_nth(r->args, 1);
	const char *rname;
	size_t len;

	if (util_strieq(r->keyword, "QUOTAROOT"))
		return; /* the QUOTA responses that follow say it all */
	rname = folders_astring(root, &len);
	if (rname == NULL || res == NULL || res->type != IMAP_ARG_LIST || inv->has_quota)
		return;
	for (const struct imap_arg *a = res->list; a != NULL; a = a->next) {
		const struct imap_arg *u = a->next, *l = u != NULL ? u->next : NULL;
		int64_t used, limit;

		if (l == NULL || a->type != IMAP_ARG_ATOM || folders_number(u, &used) != 0 ||
		    folders_number(l, &limit) != 0)
			return;
		if (util_strieq(a->str, "STORAGE") && used < INT64_MAX / 1024 &&
		    limit < INT64_MAX / 1024) {
			inv->has_quota = 1;
			inv->quota_used_bytes = used * 1024;
			inv->quota_limit_bytes = limit * 1024;
		} else if (util_strieq(a->str, "MESSAGE")) {
			inv->quota_used_messages = used;
			inv->quota_limit_messages = limit;
		}
		a = l;
	}
	if (inv->has_quota) {
		free(inv->quota_root);
		inv->quota_root = xstrndup(rname, len);
	}
}

/* NAMESPACE, or the LIST "" "" sent in its place (the delimiter). */
static void
folders_on_ns(struct folders_job *job, const struct imap_response *r)
{
	struct folders_inventory *inv = job->inv;
	char *prefix = NULL, d = '\0', **fo = NULL;
	size_t nf = 0;
	int rc;

	if (util_strieq(r->keyword, "LIST")) {
		const struct imap_arg *delim = imap_arg_nth(r->args, 1);

		if (delim != NULL && delim->type == IMAP_ARG_STRING && delim->len == 1)
			inv->ns_delim = delim->str[0];
		return;
	}
	rc = folders_parse_namespace(r, &prefix, &d, &fo, &nf);
	if (rc < 0) {
		folders_fail(job, "malformed NAMESPACE response from the server%s%s", "", "");
		return;
	}
	if (rc == 0 || job->ns_answered)
		return;
	job->ns_answered = 1;
	free(inv->ns_prefix);
	inv->ns_prefix = prefix;
	inv->ns_delim = d;
	inv->ns_foreign = fo;
	inv->n_ns_foreign = nf;
	inv->ns_method = "NAMESPACE";
}

/* "* LSUB () "." INBOX.Sent": the folder is subscribed. */
static void
folders_on_lsub(struct folders_job *job, const struct imap_response *r)
{
	const struct imap_arg *flags = imap_arg_nth(r->args, 0), *name = imap_arg_nth(r->args, 2);
	struct folders_folder *f;
	const char *raw;
	size_t len;
	char *z;

	if (flags == NULL || flags->type != IMAP_ARG_LIST)
		return;
	for (const struct imap_arg *a = flags->list; a != NULL; a = a->next)
		if (a->type == IMAP_ARG_ATOM && util_strieq(a->str, "\\Noselect"))
			return; /* a parent of subscribed folders, not subscribed itself */
	raw = folders_astring(name, &len);
	if (raw == NULL || memchr(raw, '\0', len) != NULL)
		return;
	z = xstrndup(raw, len);
	f = folders_find(job, z);
	free(z);
	if (f != NULL)
		f->flags |= FOLDERS_F_SUBSCRIBED;
}

/* After LIST: the prefix without NAMESPACE, and which folders are foreign. */
static void
folders_namespaces(struct folders_job *job)
{
	struct folders_inventory *inv = job->inv;

	if (!job->ns_answered) {
		const char **names = xcalloc(inv->n + 1, sizeof(*names));

		for (size_t i = 0; i < inv->n; i++)
			names[i] = inv->folders[i].raw_name;
		free(inv->ns_prefix);
		inv->ns_prefix = folders_ns_guess(
		    names, inv->n, inv->ns_delim != '\0' ? inv->ns_delim : inv->delim);
		free(names);
	}
	for (size_t i = 0; i < inv->n; i++) {
		struct folders_folder *f = &inv->folders[i];
		size_t pl = strlen(inv->ns_prefix);

		for (size_t k = 0; k < inv->n_ns_foreign; k++) {
			const char *fp = inv->ns_foreign[k];
			size_t n = strlen(fp);

			/* the longest prefix wins: "" or "INBOX." personal, "#shared." foreign */
			/* "Public." covers "Public.News" and the node "Public" itself */
			if (n > pl &&
			    (strncmp(f->raw_name, fp, n) == 0 ||
			        (strlen(f->raw_name) == n - 1 &&
			            strncmp(f->raw_name, fp, n - 1) == 0))) {
				f->flags |= FOLDERS_F_FOREIGN;
				inv->n_foreign++;
				break;
			}
		}
	}
}

/* "* 12 FETCH (UID 40 RFC822.SIZE 3120)": add the size to the folder. */
static void
folders_on_fetch(
    struct folders_job *job, const struct folders_ref *ref, const struct imap_response *r)
{
	struct folders_folder *f = &job->inv->folders[ref->idx];
	const struct imap_arg *items = imap_arg_nth(r->args, 0);

	if (items == NULL || items->type != IMAP_ARG_LIST)
		return;
	for (const struct imap_arg *a = items->list; a != NULL && a->next != NULL;
	     a = a->next->next) {
		int64_t v;

		if (imap_arg_is(a, "RFC822.SIZE") && folders_number(a->next, &v) == 0) {
			f->bytes += v;
			if ((job->o.want & FOLDERS_WANT_LARGE) && v > job->o.large_over)
				f->large++;
		}
	}
}

/* "* SEARCH 3 9" or "* ESEARCH (TAG "A5") UID COUNT 2" (RFC 4731 3.1). */
static void
folders_on_search(
    struct folders_job *job, const struct folders_ref *ref, const struct imap_response *r)
{
	struct folders_folder *f = &job->inv->folders[ref->idx];

	if (util_strieq(r->keyword, "SEARCH")) {
		f->large += (int64_t)r->n_args;
		return;
	}
	for (const struct imap_arg *a = r->args; a != NULL; a = a->next) {
		int64_t v;

		if (imap_arg_is(a, "COUNT") && folders_number(a->next, &v) == 0)
			f->large += v;
	}
}

static void
folders_untagged(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct folders_ref *ref = arg;
	struct folders_job *job = ref->job;
	const char *kw = r->keyword;
	struct folders_folder *f;
	const char *name;

	(void)c;
	if (r->kind != IMAP_RESP_UNTAGGED || kw == NULL)
		return;
	if (ref->kind == K_NS) {
		folders_on_ns(job, r);
		return;
	}
	if (util_strieq(kw, "LSUB")) {
		if (ref->kind == K_LSUB)
			folders_on_lsub(job, r);
		return;
	}
	if (util_strieq(kw, "LIST") || util_strieq(kw, "XLIST")) {
		folders_on_list(job, r);
	} else if (util_strieq(kw, "STATUS")) {
		if (folders_parse_status(r, &name, NULL) != 1)
			return;
		f = folders_find(job, name);
		if (f != NULL && folders_parse_status(r, NULL, f) < 0)
			folders_fail(job, "malformed STATUS response for \"%s\"%s", f->name, "");
	} else if (util_strieq(kw, "QUOTA") || util_strieq(kw, "QUOTAROOT")) {
		folders_on_quota(job, r);
	} else if (util_strieq(kw, "FETCH") && ref->kind == K_FETCH) {
		if (!(job->examine_failed_idx_valid && job->examine_failed_idx == ref->idx))
			folders_on_fetch(job, ref, r);
	} else if ((util_strieq(kw, "SEARCH") || util_strieq(kw, "ESEARCH")) &&
	    ref->kind == K_SEARCH) {
		if (!(job->examine_failed_idx_valid && job->examine_failed_idx == ref->idx))
			folders_on_search(job, ref, r);
	}
}

/* ---- completions ---- */

static void
folders_folder_error(struct folders_folder *f, const char *cmd, const struct imap_response *r)
{
	if (f->error == NULL)
		f->error = xasprintf("%s failed: %s %s", cmd, imap_status_str(r->status), r->text);
}

static void
folders_done_cmd(struct imap_client *c, const struct imap_response *r, void *arg)
{
	struct folders_ref *ref = arg;
	struct folders_job *job = ref->job;
	struct folders_folder *f = ref->kind >= K_STATUS ? &job->inv->folders[ref->idx] : NULL;

	job->pending--;
	if (r == NULL) {
		folders_fail(job, "%s%s", imap_client_error(c), "");
	} else if (r->status != IMAP_ST_OK) {
		switch (ref->kind) {
		case K_LIST: folders_fail(job, "LIST failed: %s", r->text, ""); break;
		case K_QUOTA: break; /* no quota root: the caller sums the folders */
		case K_NS: break;    /* the folder names decide (folders_ns_guess) */
		case K_LSUB: job->inv->subscriptions = 0; break;
		case K_STATUS: folders_folder_error(f, "STATUS", r); break;
		case K_EXAMINE:
			folders_folder_error(f, "EXAMINE", r);
			job->examine_failed_idx_valid = 1;
			job->examine_failed_idx = ref->idx;
			f->bytes = f->bytes_src == FOLDERS_BYTES_FETCH ? -1 : f->bytes;
			f->bytes_src = f->bytes < 0 ? FOLDERS_BYTES_NONE : f->bytes_src;
			f->large = -1;
			break;
		case K_FETCH:
			folders_folder_error(f, "FETCH", r);
			f->bytes = -1;
			f->bytes_src = FOLDERS_BYTES_NONE;
			break;
		case K_SEARCH:
			folders_folder_error(f, "SEARCH", r);
			f->large = -1;
			break;
		}
	} else if (ref->kind == K_STATUS && !f->has_status && f->error == NULL) {
		/* OK without this folder's MESSAGES (a STATUS for another mailbox,
		 * or a malformed one): unknown, not "0 messages". */
		f->error = xstrdup("STATUS answered without this folder's MESSAGES "
		                   "(an answer for another mailbox, or a malformed one)");
	} else if (ref->kind == K_EXAMINE && job->examine_failed_idx_valid &&
	    job->examine_failed_idx != ref->idx) {
		job->examine_failed_idx_valid = 0;
	}
	folders_advance(job);
}

static void
folders_send(struct folders_job *job, struct imap_cmd *cmd, struct folders_ref *ref)
{
	job->pending++;
	job->inv->commands++;
	imap_cmd_send(cmd, folders_untagged, folders_done_cmd, ref);
}

/* ---- phases ---- */

/* Ask STATUS for SIZE (RFC 8438) when bytes matter and the server has it. */
static int
folders_want_size(const struct folders_job *job)
{
	return job->status_size && (job->o.want & (FOLDERS_WANT_BYTES | FOLDERS_WANT_LARGE));
}

static void
folders_start_list(struct folders_job *job)
{
	struct imap_client *c = job->c;
	struct folders_inventory *inv = job->inv;
	int ext = imap_client_has_cap(c, "LIST-EXTENDED") &&
	    !(job->o.ignore & FOLDERS_IGNORE_LIST_EXTENDED);
	int su = imap_client_has_cap(c, "SPECIAL-USE");
	int want_sub = ext && (job->o.want & FOLDERS_WANT_SUBSCRIBED);
	struct imap_cmd *cmd;

	job->status_size =
	    imap_client_has_cap(c, "STATUS=SIZE") && !(job->o.ignore & FOLDERS_IGNORE_STATUS_SIZE);
	job->list_status = ext && imap_client_has_cap(c, "LIST-STATUS") &&
	    !(job->o.ignore & FOLDERS_IGNORE_LIST_STATUS) &&
	    (job->o.want & (FOLDERS_WANT_STATUS | FOLDERS_WANT_BYTES | FOLDERS_WANT_LARGE));
	job->esearch =
	    imap_client_has_cap(c, "ESEARCH") && !(job->o.ignore & FOLDERS_IGNORE_ESEARCH);
	job->ns_ref.job = job;
	job->ns_ref.kind = K_NS;
	if (imap_client_has_cap(c, "NAMESPACE") && !(job->o.ignore & FOLDERS_IGNORE_NAMESPACE)) {
		cmd = imap_cmd_new(c, "NAMESPACE");
	} else {
		cmd = imap_cmd_new(c, "LIST");
		imap_cmd_atom(cmd, "\"\" \"\"");
	}
	folders_send(job, cmd, &job->ns_ref);
	if (!su && !ext && imap_client_has_cap(c, "XLIST")) {
		cmd = imap_cmd_new(c, "XLIST");
		inv->list_method = "XLIST";
	} else {
		cmd = imap_cmd_new(c, "LIST");
		inv->list_method = ext ? "LIST-EXTENDED" : "LIST";
	}
	imap_cmd_atom(cmd, "\"\" \"*\"");
	if (ext && (su || job->list_status || want_sub)) {
		/* RFC 5258 section 6 return options; RFC 5819 STATUS. */
		char ret[160];

		snprintf(ret, sizeof(ret), "RETURN (%s%s%s%s%s)", su ? "SPECIAL-USE" : "",
		    su && want_sub ? " " : "", want_sub ? "SUBSCRIBED" : "",
		    (su || want_sub) && job->list_status ? " " : "",
		    !job->list_status            ? ""
		        : folders_want_size(job) ? "STATUS (MESSAGES UIDNEXT UIDVALIDITY SIZE)"
		                                 : "STATUS (MESSAGES UIDNEXT UIDVALIDITY)");
		if (job->list_status)
			inv->list_method = "LIST-STATUS";
		imap_cmd_atom(cmd, ret);
	}
	job->list_ref.job = job;
	job->list_ref.kind = K_LIST;
	folders_send(job, cmd, &job->list_ref);
	if (job->o.want & FOLDERS_WANT_SUBSCRIBED) {
		inv->subscriptions = 1;
		if (!want_sub) { /* no RETURN (SUBSCRIBED): RFC 3501 6.3.9 */
			cmd = imap_cmd_new(c, "LSUB");
			imap_cmd_atom(cmd, "\"\" \"*\"");
			job->lsub_ref.job = job;
			job->lsub_ref.kind = K_LSUB;
			folders_send(job, cmd, &job->lsub_ref);
		}
	}
	if ((job->o.want & FOLDERS_WANT_QUOTA) && imap_client_has_cap(c, "QUOTA")) {
		cmd = imap_cmd_new(c, "GETQUOTAROOT");
		imap_cmd_string(cmd, "INBOX", 5, 0);
		job->quota_ref.job = job;
		job->quota_ref.kind = K_QUOTA;
		folders_send(job, cmd, &job->quota_ref);
	}
}

static int
folders_selectable(const struct folders_folder *f)
{
	return !(f->flags & FOLDERS_F_NOSELECT);
}

/* Queue STATUS commands while the window has room. */
static void
folders_fill_status(struct folders_job *job)
{
	struct folders_inventory *inv = job->inv;

	while (job->next < inv->n && job->pending < FOLDERS_WINDOW && !job->failed) {
		size_t i = job->next++;
		struct folders_folder *f = &inv->folders[i];
		struct imap_cmd *cmd;
		struct folders_ref *ref = &job->refs[3 * i];

		if (!folders_selectable(f) || f->has_status || (f->flags & FOLDERS_F_FOREIGN))
			continue;
		cmd = imap_cmd_new(job->c, "STATUS");
		imap_cmd_string(cmd, f->raw_name, strlen(f->raw_name), 0);
		imap_cmd_atom(cmd,
		    folders_want_size(job) ? "(MESSAGES UIDNEXT UIDVALIDITY SIZE)"
		                           : "(MESSAGES UIDNEXT UIDVALIDITY)");
		ref->job = job;
		ref->kind = K_STATUS;
		ref->idx = i;
		folders_send(job, cmd, ref);
	}
}

/* What folder F needs after STATUS: bit 1 FETCH sizes, bit 2 SEARCH LARGER. */
static unsigned
folders_examine_needs(const struct folders_job *job, const struct folders_folder *f)
{
	unsigned need = 0;

	if (!folders_selectable(f) || !f->has_status || f->messages == 0)
		return 0;
	if ((job->o.want & (FOLDERS_WANT_BYTES | FOLDERS_WANT_LARGE)) &&
	    f->bytes_src != FOLDERS_BYTES_STATUS)
		need |= 1; /* the FETCH also counts the large ones */
	else if ((job->o.want & FOLDERS_WANT_LARGE) && f->bytes > job->o.large_over)
		need |= 2; /* a folder smaller than the limit holds no larger message */
	return need;
}

static void
folders_fill_examine(struct folders_job *job)
{
	struct folders_inventory *inv = job->inv;

	while (job->next < inv->n && job->pending + 3 <= FOLDERS_WINDOW && !job->failed) {
		size_t i = job->next++;
		struct folders_folder *f = &inv->folders[i];
		unsigned need = folders_examine_needs(job, f);
		struct imap_cmd *cmd;
		char num[32];

		if (need == 0)
			continue;
		cmd = imap_cmd_new(job->c, "EXAMINE");
		imap_cmd_string(cmd, f->raw_name, strlen(f->raw_name), 0);
		job->refs[3 * i] = (struct folders_ref){job, K_EXAMINE, i};
		folders_send(job, cmd, &job->refs[3 * i]);
		if (need & 1) {
			f->bytes = 0;
			f->bytes_src = FOLDERS_BYTES_FETCH;
			f->large = 0;
			cmd = imap_cmd_new(job->c, "UID FETCH");
			imap_cmd_atom(cmd, "1:* (RFC822.SIZE)");
			job->refs[3 * i + 1] = (struct folders_ref){job, K_FETCH, i};
			folders_send(job, cmd, &job->refs[3 * i + 1]);
		}
		if (need & 2) {
			f->large = 0;
			cmd = imap_cmd_new(job->c, "UID SEARCH");
			if (job->esearch)
				imap_cmd_atom(cmd, "RETURN (COUNT)");
			snprintf(num, sizeof(num), "LARGER %lld", (long long)job->o.large_over);
			imap_cmd_atom(cmd, num);
			job->refs[3 * i + 2] = (struct folders_ref){job, K_SEARCH, i};
			folders_send(job, cmd, &job->refs[3 * i + 2]);
		}
	}
}

static void
folders_totals(struct folders_job *job)
{
	struct folders_inventory *inv = job->inv;
	int all_large = (job->o.want & FOLDERS_WANT_LARGE) != 0;

	inv->total_messages = 0;
	inv->total_bytes = 0;
	for (size_t i = 0; i < inv->n; i++) {
		struct folders_folder *f = &inv->folders[i];

		if (!folders_selectable(f))
			continue;
		if (f->has_status)
			inv->total_messages += f->messages;
		if (f->has_status && f->messages == 0 && f->bytes < 0) {
			f->bytes = 0; /* an empty folder needs no SIZE to be known */
			f->bytes_src = FOLDERS_BYTES_STATUS;
		}
		if (all_large && f->has_status && f->large < 0 && f->error == NULL &&
		    (f->messages == 0 || (f->bytes >= 0 && f->bytes <= job->o.large_over)))
			f->large = 0;
		if (f->large < 0)
			all_large = 0;
		if (f->bytes < 0 || inv->total_bytes < 0)
			inv->total_bytes = -1;
		else
			inv->total_bytes += f->bytes;
	}
	inv->large_counted = all_large;
}

/* Move on when the current phase has nothing in flight; call DONE at the end. */
static void
folders_advance(struct folders_job *job)
{
	if (job->phase == PH_STATUS && !job->failed)
		folders_fill_status(job);
	else if (job->phase == PH_EXAMINE && !job->failed)
		folders_fill_examine(job);
	if (job->pending > 0)
		return;
	if (!job->failed && job->phase == PH_LIST) {
		folders_namespaces(job);
		job->phase = PH_STATUS;
		job->next = 0;
		job->refs = xcalloc(job->inv->n * 3 + 1, sizeof(*job->refs));
		if (job->o.want & (FOLDERS_WANT_STATUS | FOLDERS_WANT_BYTES | FOLDERS_WANT_LARGE))
			folders_fill_status(job);
		if (job->pending > 0)
			return;
	}
	if (!job->failed && job->phase == PH_STATUS) {
		job->phase = PH_EXAMINE;
		job->next = 0;
		folders_fill_examine(job);
		if (job->pending > 0)
			return;
	}
	job->phase = PH_DONE;
	folders_totals(job);
	/* Last thing: the callback may free the job and the client. */
	job->done(job, job->aux);
}

struct folders_job *
folders_fetch(struct imap_client *c, const struct folders_opts *o, folders_done_fn done, void *aux)
{
	struct folders_job *job;

	if (imap_client_state(c) != IMAP_S_READY)
		return NULL;
	job = xcalloc(1, sizeof(*job));
	job->c = c;
	job->o = *o;
	if (job->o.max_folders == 0)
		job->o.max_folders = FOLDERS_DEFAULT_MAX;
	if (job->o.want & (FOLDERS_WANT_BYTES | FOLDERS_WANT_LARGE))
		job->o.want |= FOLDERS_WANT_STATUS;
	job->done = done;
	job->aux = aux;
	job->inv = folders_inventory_new();
	job->phase = PH_LIST;
	folders_start_list(job);
	return job;
}

/* One side's personal namespace (method, prefix in UTF-8, delimiter). */
static cJSON *
folders_ns_json(const struct folders_inventory *inv)
{
	cJSON *o = cJSON_CreateObject();
	char d[2] = {folders_ns_delim_of(inv), '\0'};
	char *p = folders_mutf7_decode(inv->ns_prefix, strlen(inv->ns_prefix));

	cJSON_AddStringToObject(o, "method", inv->ns_method);
	cJSON_AddStringToObject(o, "prefix", p != NULL ? p : inv->ns_prefix);
	cJSON_AddStringToObject(o, "delimiter", d);
	free(p);
	return o;
}

cJSON *
folders_namespaces_json(const struct folders_inventory *src, const struct folders_inventory *dst)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "source", folders_ns_json(src));
	cJSON_AddItemToObject(o, "destination", folders_ns_json(dst));
	return o;
}
