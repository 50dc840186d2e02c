/*
 * mailsess.c - the part of a mail session IMAP and POP3 share. See mailsess.h.
 *
 * Hand-written with the two clients it serves (see imap.c for why there is
 * no library client): one place for the connection's life, the secrets and
 * the words of every failure, so a fix to scrubbing or timeouts is made once.
 */
#include "mailsess.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oauth2.h"
#include "util.h"

#define MAILSESS_MAX_CAPS 256
/* A token younger than this is not retried when refused. */
#define MAILSESS_FRESH_TOKEN_S 60

static void mailsess_net_cb(struct net_conn *conn, enum net_event ev, void *arg);

static void
mailsess_really_free(struct mailsess *s)
{
	if (s->linger != NULL)
		event_free(s->linger);
	oauth2_cancel(s->oauth_wait);
	net_free(s->retired);
	free(s->oauth_subject);
	net_free(s->conn);
	mailsess_caps_clear(s);
	free(s->host);
	free(s->ca_file);
	free(s->user);
	free(s->admin);
	util_free_secret(s->password);
	util_free_secret(s->token);
	free(s->error);
	s->ops->destroy(s); /* the protocol's parts and the client itself */
}

/* Feed what arrived to the protocol until it stops or the input is empty. */
static void
mailsess_read(struct mailsess *s)
{
	struct net_conn *conn = s->conn;
	struct evbuffer *in = net_input(conn);

	/* (s->conn changes when a retried login gave this connection up.) */
	while (evbuffer_get_length(in) > 0 && !s->free_pending && !s->over && s->conn == conn) {
		struct evbuffer_iovec v;
		size_t used = 0;
		int rc;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		rc = s->ops->feed(s, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (rc < 0)
			return;
		if (rc > 0)
			s->ops->dispatch(s);
	}
}

static void
mailsess_net_cb(struct net_conn *conn, enum net_event ev, void *arg)
{
	struct mailsess *s = arg;

	(void)conn;
	s->dispatching++;
	switch (ev) {
	case NET_EV_CONNECTED:
		if (net_is_tls(s->conn))
			s->tls_ever = 1;
		s->ops->connected(s);
		break;
	case NET_EV_TLS_DONE:
		s->tls_ever = 1;
		/* RFC 3501 6.2.1, RFC 2595 4: forget what was learnt before TLS. */
		mailsess_caps_clear(s);
		s->ops->tls_done(s);
		break;
	case NET_EV_READ: mailsess_read(s); break;
	case NET_EV_ERROR:
		switch (net_error(s->conn)) {
		case NET_ERR_RESOLVE:
		case NET_ERR_CONNECT:
			mailsess_fail(s, NET_RESULT_CONNECT_FAILED, "%s", net_error_text(s->conn));
			break;
		case NET_ERR_TLS:
		case NET_ERR_VERIFY:
			mailsess_fail(s, NET_RESULT_TLS_FAILED, "%s", net_error_text(s->conn));
			break;
		default:
			s->cut = 1;
			s->ops->closed(s);
			break;
		}
		break;
	}
	s->dispatching--;
	if (s->free_pending && s->dispatching == 0)
		mailsess_really_free(s);
}

/* Start the connection (the token, if any, is in s->token by now). */
static void
mailsess_connect(struct mailsess *s)
{
	struct net_params np;

	memset(&np, 0, sizeof(np));
	np.host = s->host;
	np.port = s->port;
	np.implicit_tls = s->tls == NET_TLS_IMPLICIT;
	np.ca_file = s->ca_file;
	np.insecure = s->insecure;
	np.allow_old_tls = s->allow_old_tls || s->user == NULL; /* no login: no secret */
	np.dns = s->dns;
	s->conn = net_connect(s->base, &np, mailsess_net_cb, s);
}

/* The token cache answered (from the loop, never inside oauth2_get). */
static void
mailsess_token_cb(void *arg, const struct oauth2_token *tok)
{
	struct mailsess *s = arg;

	s->oauth_wait = NULL;
	net_free(s->retired);
	s->retired = NULL;
	s->dispatching++;
	if (tok->access_token == NULL) {
		mailsess_fail(s, NET_RESULT_AUTH_FAILED, "no OAuth2 token: %s",
		    tok->error != NULL ? tok->error : "the token endpoint gave none");
	} else {
		util_free_secret(s->token);
		s->token = xstrdup(tok->access_token);
		s->token_issued = tok->expires_at > 0 && tok->lifetime_s > 0
		    ? tok->expires_at - (time_t)tok->lifetime_s
		    : 0;
		mailsess_connect(s);
	}
	s->dispatching--;
	if (s->free_pending && s->dispatching == 0)
		mailsess_really_free(s);
}

void
mailsess_open(struct mailsess *s, const struct mailsess_ops *ops, struct event_base *base,
    const struct mailsess_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->base = base;
	s->host = xstrdup(o->host);
	s->ca_file = xstrdup(o->ca_file);
	s->port = o->port;
	s->tls = o->tls;
	s->insecure = o->insecure;
	s->allow_old_tls = o->allow_old_tls;
	s->dns = o->dns;
	s->user = xstrdup(o->user);
	s->password = xstrdup(o->password);
	s->admin = xstrdup(o->admin);
	s->token = xstrdup(o->token);
	s->started_ms = util_now_ms();
	if (o->oauth_cache != NULL && o->user != NULL) {
		s->oauth_cache = o->oauth_cache;
		s->oauth_cfg = o->oauth_cfg;
		s->oauth_subject = xstrdup(o->user);
		s->oauth_wait = oauth2_get(
		    s->oauth_cache, s->oauth_cfg, s->oauth_subject, mailsess_token_cb, s);
		return;
	}
	mailsess_connect(s);
}

int
mailsess_oauth_retry(struct mailsess *s)
{
	/* Only a refusal that says the token is not (or no longer) good: a
	 * refusal for want of a permission would refuse the next one too, and
	 * dropping the shared token would cost every other session a fetch. */
	if (s->oauth_cache == NULL || s->oauth_retried || s->over || !s->oauth_refused ||
	    (strcmp(s->oauth_error.status, "invalid_token") != 0 &&
	        strcmp(s->oauth_error.status, "401") != 0))
		return 0;
	/* A token granted a minute ago did not expire on the way: a fresh one
	 * would be refused alike. */
	if (s->token_issued != 0 && time(NULL) - s->token_issued < MAILSESS_FRESH_TOKEN_S)
		return 0;
	s->oauth_retried = 1;
	oauth2_invalidate(s->oauth_cache, s->oauth_cfg, s->oauth_subject);
	/* Inside this connection's callback: stop its events now, free it
	 * once the new token arrives (from the loop). */
	net_detach(s->conn);
	s->retired = s->conn;
	s->conn = NULL;
	util_free_secret(s->token);
	s->token = NULL;
	s->oauth_refused = 0;
	memset(&s->oauth_error, 0, sizeof(s->oauth_error));
	s->mech = SASL_NONE;
	mailsess_caps_clear(s);
	s->tls_ever = 0;
	s->ops->restart(s);
	s->oauth_wait =
	    oauth2_get(s->oauth_cache, s->oauth_cfg, s->oauth_subject, mailsess_token_cb, s);
	return 1;
}

int64_t
mailsess_elapsed_ms(const struct mailsess *s)
{
	return util_now_ms() - s->started_ms;
}

/* Mask every occurrence of SEC (when at least 3 bytes) in TEXT. */
static char *
mailsess_mask(char *text, const char *sec)
{
	size_t n = sec != NULL ? strlen(sec) : 0;
	char *hit;

	if (n < 3)
		return text;
	while ((hit = strstr(text, sec)) != NULL) {
		char *t = xasprintf("%.*s***%s", (int)(hit - text), text, hit + n);

		util_free_secret(text);
		text = t;
	}
	return text;
}

char *
mailsess_scrub(const struct mailsess *s, char *text)
{
	return mailsess_mask(mailsess_mask(text, s->password), s->token);
}

void
mailsess_forget_secrets(struct mailsess *s)
{
	util_free_secret(s->password);
	util_free_secret(s->token);
	s->password = s->token = NULL;
}

void
mailsess_fail(struct mailsess *s, enum net_result res, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (s->over)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = xasprintf("failed in %s after %.1f s: %s", s->ops->state_name(s),
	    mailsess_elapsed_ms(s) / 1000.0, msg);
	s->error = mailsess_scrub(s, s->error);
	util_free_secret(msg);
	s->result = res;
	s->malformed = res == NET_RESULT_PROTOCOL_ERROR && !s->cut;
	s->over = 1;
	s->ops->failed(s);
}

void
mailsess_timeout(struct mailsess *s)
{
	if (s->over)
		return;
	free(s->error);
	s->error = xasprintf(
	    "timed out in %s after %.1f s", s->ops->state_name(s), mailsess_elapsed_ms(s) / 1000.0);
	s->result = NET_RESULT_TIMEOUT;
	s->over = 1;
	s->ops->timed_out(s);
}

const struct tls_facts *
mailsess_tls(const struct mailsess *s)
{
	const struct tls_facts *t = s->conn != NULL ? net_tls(s->conn) : NULL;

	return t != NULL && t->done ? t : NULL;
}

/* ---- capabilities ---- */

void
mailsess_caps_clear(struct mailsess *s)
{
	for (size_t i = 0; i < s->n_caps; i++)
		free(s->caps[i]);
	free(s->caps);
	s->caps = NULL;
	s->n_caps = 0;
	s->have_caps = 0;
}

/* 1 when NAME (LEN bytes) is listed in the environment variable ENV. */
static int
mailsess_cap_ignored(const char *env, const char *name, size_t len)
{
	const char *e = env != NULL ? getenv(env) : NULL;

	while (e != NULL && *e != '\0') {
		size_t n = strcspn(e, ",");

		if (n == len && strncasecmp(e, name, n) == 0)
			return 1;
		e += n;
		if (*e == ',')
			e++;
	}
	return 0;
}

void
mailsess_caps_add(struct mailsess *s, const char *name, size_t len, const char *ignore_env)
{
	if (s->n_caps >= MAILSESS_MAX_CAPS || mailsess_cap_ignored(ignore_env, name, len))
		return;
	s->caps = xrealloc(s->caps, (s->n_caps + 1) * sizeof(*s->caps));
	s->caps[s->n_caps++] = xstrndup(name, len);
}

int
mailsess_has_cap(const struct mailsess *s, const char *name)
{
	for (size_t i = 0; i < s->n_caps; i++)
		if (util_strieq(s->caps[i], name))
			return 1;
	return 0;
}

int
mailsess_has_cap_word(const struct mailsess *s, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < s->n_caps; i++)
		if (strncasecmp(s->caps[i], name, n) == 0 &&
		    (s->caps[i][n] == '\0' || s->caps[i][n] == ' '))
			return 1;
	return 0;
}

int
mailsess_cap_list_has(const struct mailsess *s, const char *list, const char *item)
{
	size_t nl = strlen(list), ni = strlen(item);

	for (size_t i = 0; i < s->n_caps; i++) {
		const char *c = s->caps[i];

		if (strncasecmp(c, list, nl) != 0 || c[nl] != ' ')
			continue;
		c += nl;
		while (*c != '\0') {
			size_t n;

			while (*c == ' ')
				c++;
			n = strcspn(c, " ");
			if (n == ni && strncasecmp(c, item, n) == 0)
				return 1;
			c += n;
		}
	}
	return 0;
}

/* ---- the login ---- */

enum sasl_mech
mailsess_pick_mech(const struct mailsess *s, unsigned offers, const char **why)
{
	*why = NULL;
	if (s->token != NULL) {
		if (offers & (1u << SASL_OAUTHBEARER))
			return SASL_OAUTHBEARER;
		if (offers & (1u << SASL_XOAUTH2))
			return SASL_XOAUTH2;
		*why = "the server offers neither XOAUTH2 nor OAUTHBEARER, needed for an "
		       "OAuth2 login";
		return SASL_NONE;
	}
	if (s->admin != NULL) {
		if (offers & (1u << SASL_PLAIN))
			return SASL_PLAIN;
		*why = "the server does not offer SASL PLAIN, needed for the admin login";
		return SASL_NONE;
	}
	return SASL_NONE;
}

char *
mailsess_sasl_initial(const struct mailsess *s, enum sasl_mech mech)
{
	switch (mech) {
	case SASL_PLAIN:
		if (s->password == NULL)
			return NULL;
		return s->admin != NULL ? sasl_plain(s->user, s->admin, s->password)
		                        : sasl_plain(NULL, s->user, s->password);
	case SASL_XOAUTH2: return sasl_xoauth2(s->user, s->token);
	case SASL_OAUTHBEARER: return sasl_oauthbearer(s->user, s->host, s->port, s->token);
	case SASL_NONE: break;
	}
	return NULL;
}

const char *
mailsess_oauth_challenge(struct mailsess *s, const char *text)
{
	s->oauth_refused = 1;
	if (sasl_oauth_error_parse(text, strlen(text), &s->oauth_error) != 0)
		memset(&s->oauth_error, 0, sizeof(s->oauth_error));
	return sasl_oauth_error_reply(s->mech);
}

const char *
mailsess_oauth_status(const struct mailsess *s, char *buf, size_t len)
{
	const struct sasl_oauth_error *e = &s->oauth_error;

	snprintf(buf, len, "status %s%s%s", e->status[0] != '\0' ? e->status : "not given",
	    e->scope[0] != '\0' ? ", scope " : "", e->scope);
	return buf;
}

const char *
mailsess_login_hint(const struct mailsess *s, unsigned offers)
{
	if (s->token == NULL && (offers & ((1u << SASL_XOAUTH2) | (1u << SASL_OAUTHBEARER))))
		return " (this server offers OAuth2 logins (XOAUTH2/OAUTHBEARER) and may accept "
		       "no passwords: Microsoft 365 and Google Workspace do not; give this side "
		       "an \"auth\" object in the plan, see the README section \"Microsoft 365 "
		       "destination\")";
	return "";
}

/* ---- the end ---- */

static void
mailsess_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailsess *s = arg;
	void (*done)(struct mailsess *);

	(void)fd;
	(void)what;
	done = mailsess_linger_stop(s);
	if (done != NULL)
		done(s);
}

void
mailsess_linger(struct mailsess *s, int ms, void (*done)(struct mailsess *s))
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	s->linger_done = done;
	s->linger = evtimer_new(s->base, mailsess_linger_cb, s);
	if (s->linger == NULL || evtimer_add(s->linger, &tv) != 0) {
		mailsess_linger_stop(s);
		done(s);
	}
}

void (*mailsess_linger_stop(struct mailsess *s))(struct mailsess *s)
{
	void (*done)(struct mailsess *) = s->linger_done;

	if (s->linger != NULL) {
		event_free(s->linger);
		s->linger = NULL;
	}
	s->linger_done = NULL;
	return done;
}

void
mailsess_release(struct mailsess *s)
{
	if (s == NULL)
		return;
	if (s->dispatching > 0) {
		s->free_pending = 1;
		return;
	}
	mailsess_really_free(s);
}
