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

static void
auth_cancel(struct task *t, void *aux)
{
	struct auth_task *a = aux;

	oauth2_cancel(a->wait);
	result_set(task_result(t), RESULT_ERROR, "no answer from the token endpoint %s in time",
	    a->side->auth->token_url != NULL ? a->side->auth->token_url : "(none)");
	free(a);
}

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

static void
auth_answer(void *arg, const struct oauth2_token *tok)
{
	struct auth_task *a = arg;
	const struct oauth2_config *cfg = a->side->auth;
	struct result *res = task_result(a->t);
	cJSON *d = res->details;
	struct oauth2_claims cl;
	const char *want[2];
	size_t n_want;
	int in_roles, is_jwt;
	char when[32], life[64];
	cJSON *required, *missing;
	time_t now = time(NULL);

	a->wait = NULL;
	cJSON_AddBoolToObject(d, "obtained", tok->access_token != NULL);
	if (tok->access_token == NULL) {
		cJSON_AddStringToObject(
		    d, "error_code", tok->error_code ? tok->error_code : "error");
		cJSON_AddStringToObject(d, "error", tok->error ? tok->error : "no token");
		cJSON_AddBoolToObject(d, "permanent", tok->permanent);
		if (tok->expires_at != 0) {
			util_iso8601(tok->expires_at, when, sizeof(when));
			cJSON_AddStringToObject(d, "expires_at", when);
		}
		result_set(res, tok->permanent ? RESULT_FAIL : RESULT_ERROR, "no %s token: %s",
		    oauth2_flow_name(cfg->flow), tok->error_code ? tok->error_code : "error");
		result_advise(res, "%s", tok->error ? tok->error : "Run it again.");
		goto out;
	}
	is_jwt = oauth2_claims_parse(tok->access_token, &cl) == 0;
	cJSON_AddBoolToObject(d, "jwt", is_jwt);
	if (tok->expires_at != 0) {
		util_iso8601(tok->expires_at, when, sizeof(when));
		cJSON_AddStringToObject(d, "expires_at", when);
		cJSON_AddNumberToObject(d, "lifetime_s",
		    tok->lifetime_s >= 0 ? (double)tok->lifetime_s
		                         : (double)(tok->expires_at - now));
		snprintf(
		    life, sizeof(life), "valid %lld min", (long long)(tok->expires_at - now) / 60);
	} else {
		cJSON_AddNullToObject(d, "expires_at");
		cJSON_AddNullToObject(d, "lifetime_s");
		snprintf(life, sizeof(life), "lifetime unknown");
	}
	if (!is_jwt)
		memset(&cl, 0, sizeof(cl));
	cJSON_AddItemToObject(d, "roles", auth_words(cl.roles));
	cJSON_AddItemToObject(d, "scopes", auth_words(cl.scp));
	if (cl.aud[0] != '\0')
		cJSON_AddStringToObject(d, "audience", cl.aud);
	else
		cJSON_AddNullToObject(d, "audience");
	n_want = auth_required(a->side, &cl, want, &in_roles);
	required = cJSON_AddArrayToObject(d, "required");
	missing = cJSON_AddArrayToObject(d, "missing");
	for (size_t i = 0; i < n_want; i++) {
		cJSON_AddItemToArray(required, cJSON_CreateString(want[i]));
		if (is_jwt && !oauth2_has_word(in_roles ? cl.roles : cl.scp, want[i]))
			cJSON_AddItemToArray(missing, cJSON_CreateString(want[i]));
	}
	if (cJSON_GetArraySize(missing) > 0) {
		const char *first = cJSON_GetArrayItem(missing, 0)->valuestring;

		result_set(res, RESULT_WARN, "%s token obtained (%s) but it lacks %s%s",
		    oauth2_flow_name(cfg->flow), life, first,
		    cJSON_GetArraySize(missing) > 1 ? " and more" : "");
		if (strcmp(first, "https://mail.google.com/") == 0)
			result_advise(res,
			    "Grant the service account's client ID domain-wide delegation "
			    "for https://mail.google.com/ (Google Admin console > Security > API "
			    "controls > Domain-wide delegation).");
		else if (in_roles)
			result_advise(res,
			    "Add the application permission %s (Office 365 Exchange "
			    "Online) under App registrations > the app > API permissions and grant "
			    "admin "
			    "consent; the mail logins will be refused without it.",
			    first);
		else
			result_advise(res,
			    "Sign in again with a scope including %s (auth.scope), or "
			    "grant that delegated permission to the app.",
			    first);
	} else {
		const char *perms = cl.roles[0] != '\0' ? cl.roles : cl.scp;

		if (!is_jwt)
			result_set(res, RESULT_PASS,
			    "%s token obtained (%s); an opaque token: its "
			    "permissions are not readable",
			    oauth2_flow_name(cfg->flow), life);
		else
			result_set(res, RESULT_PASS, "%s token obtained (%s)%s%s",
			    oauth2_flow_name(cfg->flow), life, *perms != '\0' ? "; " : "", perms);
	}
out:
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
	cJSON *d;
	int dest = strcmp(side->name, "destination") == 0;

	if (!side->present || cfg == NULL)
		return;
	res = result_new(
	    "auth.token", in->plan->domain, dest ? RESULT_SIDE_DESTINATION : RESULT_SIDE_SOURCE);
	d = res->details;
	cJSON_AddStringToObject(d, "flow", oauth2_flow_name(cfg->flow));
	if (cfg->token_url != NULL)
		cJSON_AddStringToObject(d, "token_url", cfg->token_url);
	else
		cJSON_AddNullToObject(d, "token_url");
	if (cfg->token_url_from != NULL)
		cJSON_AddStringToObject(d, "token_url_from", cfg->token_url_from);
	if (cfg->scope != NULL)
		cJSON_AddStringToObject(d, "scope", cfg->scope);
	else
		cJSON_AddNullToObject(d, "scope");
	if (cfg->client_id != NULL)
		cJSON_AddStringToObject(d, "client_id", cfg->client_id);
	a = xcalloc(1, sizeof(*a));
	a->side = side;
	a->state_dir = in->plan->state_dir;
	if (in->plan->n_mailboxes > 0 &&
	    (cfg->flow == OAUTH2_FLOW_SERVICE_ACCOUNT || cfg->flow == OAUTH2_FLOW_DEVICE_CODE))
		a->user =
		    dest ? in->plan->mailboxes[0].dest_user : in->plan->mailboxes[0].source_user;
	if (a->user != NULL)
		cJSON_AddStringToObject(d, "user", a->user);
	else
		cJSON_AddNullToObject(d, "user");
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
