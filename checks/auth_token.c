/*
 * auth_token.c - auth.token: can this side get an OAuth2 access token?
 *
 * For each side of the plan with an "auth" object (issue 13), one token is
 * asked through the run's token cache (src/oauth2.h), the same cache the
 * IMAP/POP3 logins use, so the audit's logins reuse it instead of asking
 * again. service_account (one token per mailbox) asks for the side's first
 * mailbox user. Then:
 *
 *   pass  a token, with its lifetime and (from a JWT's payload, decoded,
 *         NOT verified: the report's information only) its roles or scopes
 *   warn  ... but the permission the mail logins need is missing from it:
 *         microsoft365 app-only IMAP.AccessAsApp / POP.AccessAsApp (roles),
 *         delegated IMAP.AccessAsUser.All / POP.AccessAsUser.All (scp),
 *         google https://mail.google.com/ (when the token says its scopes)
 *   fail  the token endpoint refused for a reason retrying will not fix
 *         (bad secret, no consent, ...: the advice says what to change), or
 *         a given access token has expired
 *   error the token endpoint could not be reached or failed for a passing
 *         reason (run again)
 *
 * The token itself never reaches the result.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "check_verdicts.h"
#include "src/oauth2.h"
#include "src/plan.h"
#include "src/util.h"

struct auth_task {
	struct task *t;
	const struct plan_side *side;
	const char *user;      /* the mailbox user asked for, or NULL */
	const char *state_dir; /* the plan's (device_code refresh tokens) */
	struct oauth2_wait *wait;
};

/* Words of LIST (space-separated) into a new JSON array. */
static cJSON *
auth_words(const char *list)
{
	cJSON *arr = cJSON_CreateArray();

	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n > 0) {
			char *w = xstrndup(p, n);

			cJSON_AddItemToArray(arr, cJSON_CreateString(w));
			free(w);
		}
		p += n;
		p += strspn(p, " ");
	}
	return arr;
}

/*
 * The permissions the mail logins of SIDE need and where the token lists
 * them; N of them written into WANT. *IN_ROLES: 1 roles, 0 scp.
 */
static size_t
auth_required(
    const struct plan_side *side, const struct oauth2_claims *cl, const char **want, int *in_roles)
{
	const char *profile = side->profile_name != NULL ? side->profile_name : "";
	size_t n = 0;

	*in_roles = 0;
	if (strcmp(profile, "microsoft365") == 0) {
		int app =
		    side->auth->flow == OAUTH2_FLOW_CLIENT_CREDENTIALS || cl->roles[0] != '\0';

		*in_roles = app;
		if (side->imap != NULL || side->pop3 == NULL)
			want[n++] = app ? "IMAP.AccessAsApp" : "IMAP.AccessAsUser.All";
		if (side->pop3 != NULL)
			want[n++] = app ? "POP.AccessAsApp" : "POP.AccessAsUser.All";
	} else if (strcmp(profile, "google") == 0) {
		want[n++] = "https://mail.google.com/";
	}
	return n;
}

void
auth_token_details_json(const struct auth_token_summary *s, cJSON *d)
{
	char when[32];
	cJSON *arr;

	cJSON_AddStringToObject(d, "flow", s->flow);
	util_json_add_str_or_null(d, "token_url", s->token_url);
	if (s->token_url_from != NULL)
		cJSON_AddStringToObject(d, "token_url_from", s->token_url_from);
	util_json_add_str_or_null(d, "scope", s->scope);
	if (s->client_id != NULL)
		cJSON_AddStringToObject(d, "client_id", s->client_id);
	util_json_add_str_or_null(d, "user", s->user);
	if (!s->answered)
		return;
	cJSON_AddBoolToObject(d, "obtained", s->obtained);
	if (s->expires_at != 0)
		util_iso8601(s->expires_at, when, sizeof(when));
	if (!s->obtained) {
		cJSON_AddStringToObject(d, "error_code", s->error_code ? s->error_code : "error");
		cJSON_AddStringToObject(d, "error", s->error ? s->error : "no token");
		cJSON_AddBoolToObject(d, "permanent", s->permanent);
		if (s->expires_at != 0)
			cJSON_AddStringToObject(d, "expires_at", when);
		return;
	}
	cJSON_AddBoolToObject(d, "jwt", s->jwt);
	if (s->expires_at != 0) {
		cJSON_AddStringToObject(d, "expires_at", when);
		cJSON_AddNumberToObject(d, "lifetime_s",
		    s->lifetime_s >= 0 ? (double)s->lifetime_s : (double)(s->expires_at - s->now));
	} else {
		cJSON_AddNullToObject(d, "expires_at");
		cJSON_AddNullToObject(d, "lifetime_s");
	}
	cJSON_AddItemToObject(d, "roles", auth_words(s->roles));
	cJSON_AddItemToObject(d, "scopes", auth_words(s->scopes));
	util_json_add_str_or_null(d, "audience", util_nonempty(s->audience));
	arr = cJSON_AddArrayToObject(d, "required");
	for (size_t i = 0; i < s->n_required; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->required[i]));
	arr = cJSON_AddArrayToObject(d, "missing");
	for (size_t i = 0; i < s->n_missing; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->missing[i]));
}

void
auth_token_verdict(const struct auth_token_summary *s, struct verdict *v)
{
	char life[64];
	const char *first = s->n_missing > 0 ? s->missing[0] : NULL;
	const char *perms = s->roles[0] != '\0' ? s->roles : s->scopes;

	if (!s->obtained) {
		verdict_set(v, s->permanent ? RESULT_FAIL : RESULT_ERROR, "no %s token: %s",
		    s->flow, s->error_code ? s->error_code : "error");
		verdict_advise(v, "%s", s->error ? s->error : "Run it again.");
		return;
	}
	if (s->expires_at != 0)
		snprintf(
		    life, sizeof(life), "valid %lld min", (long long)(s->expires_at - s->now) / 60);
	else
		snprintf(life, sizeof(life), "lifetime unknown");
	if (first != NULL) {
		verdict_set(v, RESULT_WARN, "%s token obtained (%s) but it lacks %s%s", s->flow,
		    life, first, s->n_missing > 1 ? " and more" : "");
		if (strcmp(first, "https://mail.google.com/") == 0)
			verdict_advise(v,
			    "Grant the service account's client ID domain-wide delegation "
			    "for https://mail.google.com/ (Google Admin console > Security > API "
			    "controls > Domain-wide delegation).");
		else if (s->in_roles)
			verdict_advise(v,
			    "Add the application permission %s (Office 365 Exchange "
			    "Online) under App registrations > the app > API permissions and grant "
			    "admin "
			    "consent; the mail logins will be refused without it.",
			    first);
		else
			verdict_advise(v,
			    "Sign in again with a scope including %s (auth.scope), or "
			    "grant that delegated permission to the app.",
			    first);
	} else if (!s->jwt) {
		verdict_set(v, RESULT_PASS,
		    "%s token obtained (%s); an opaque token: its "
		    "permissions are not readable",
		    s->flow, life);
	} else {
		verdict_set(v, RESULT_PASS, "%s token obtained (%s)%s%s", s->flow, life,
		    *perms != '\0' ? "; " : "", perms);
	}
}

/* The side's set-up of A into S (the details until the token endpoint answers). */
static void
auth_summary_setup(const struct auth_task *a, struct auth_token_summary *s)
{
	const struct oauth2_config *cfg = a->side->auth;

	memset(s, 0, sizeof(*s));
	s->flow = oauth2_flow_name(cfg->flow);
	s->token_url = cfg->token_url;
	s->token_url_from = cfg->token_url_from;
	s->scope = cfg->scope;
	s->client_id = cfg->client_id;
	s->user = a->user;
	s->roles = s->scopes = s->audience = "";
}

static void
auth_cancel(struct task *t, void *aux)
{
	struct auth_task *a = aux;

	oauth2_cancel(a->wait);
	result_set(task_result(t), RESULT_ERROR, "no answer from the token endpoint %s in time",
	    a->side->auth->token_url != NULL ? a->side->auth->token_url : "(none)");
	free(a);
}

static void
auth_answer(void *arg, const struct oauth2_token *tok)
{
	struct auth_task *a = arg;
	struct result *res = task_result(a->t);
	struct auth_token_summary s;
	struct oauth2_claims cl;
	const char *want[2], *missing[2];
	struct verdict v = {0};

	a->wait = NULL;
	auth_summary_setup(a, &s);
	s.answered = 1;
	s.obtained = tok->access_token != NULL;
	s.error_code = tok->error_code;
	s.error = tok->error;
	s.permanent = tok->permanent;
	s.expires_at = tok->expires_at;
	s.lifetime_s = tok->lifetime_s;
	s.now = time(NULL);
	if (s.obtained) {
		s.jwt = oauth2_claims_parse(tok->access_token, &cl) == 0;
		if (!s.jwt)
			memset(&cl, 0, sizeof(cl));
		s.roles = cl.roles;
		s.scopes = cl.scp;
		s.audience = cl.aud;
		s.n_required = auth_required(a->side, &cl, want, &s.in_roles);
		for (size_t i = 0; i < s.n_required; i++)
			if (s.jwt && !oauth2_has_word(s.in_roles ? cl.roles : cl.scp, want[i]))
				missing[s.n_missing++] = want[i];
		s.required = want;
		s.missing = missing;
	}
	/* The set-up is in the details already: write them anew, whole. */
	cJSON_Delete(res->details);
	res->details = cJSON_CreateObject();
	auth_token_details_json(&s, res->details);
	auth_token_verdict(&s, &v);
	verdict_apply(&v, res);
	task_done(a->t);
	free(a);
}

static void
auth_start(struct task *t, void *aux)
{
	struct auth_task *a = aux;
	struct oauth2_cache *c = oauth2_runner_cache(task_runner(t), a->side->name, a->state_dir);

	a->t = t;
	a->wait = oauth2_get(c, a->side->auth, a->user, auth_answer, a);
}

static void
auth_schedule_side(struct runner *r, const struct check_input *in, const struct plan_side *side)
{
	const struct oauth2_config *cfg = side->auth;
	struct result *res;
	struct auth_task *a;
	struct auth_token_summary s;
	int dest = strcmp(side->name, "destination") == 0;

	if (!side->present || cfg == NULL)
		return;
	res = result_new(
	    "auth.token", in->plan->domain, dest ? RESULT_SIDE_DESTINATION : RESULT_SIDE_SOURCE);
	a = xcalloc(1, sizeof(*a));
	a->side = side;
	a->state_dir = in->plan->state_dir;
	if (in->plan->n_mailboxes > 0 &&
	    (cfg->flow == OAUTH2_FLOW_SERVICE_ACCOUNT || cfg->flow == OAUTH2_FLOW_DEVICE_CODE))
		a->user =
		    dest ? in->plan->mailboxes[0].dest_user : in->plan->mailboxes[0].source_user;
	auth_summary_setup(a, &s);
	auth_token_details_json(&s, res->details);
	runner_add(r, NULL, res, auth_start, auth_cancel, a, 0);
}

static void
auth_schedule(struct runner *r, const struct check_input *in)
{
	if (in->plan == NULL)
		return;
	auth_schedule_side(r, in, &in->plan->source);
	auth_schedule_side(r, in, &in->plan->destination);
}

const struct check check_auth_token = {
    .id = "auth.token",
    .group = "auth",
    .title = "OAuth2: a token for each side with an auth object, its lifetime and permissions",
    .commands = CHECK_CMD_AUDIT,
    .schedule = auth_schedule,
    .scope = CHECK_SCOPE_ONCE,
};
