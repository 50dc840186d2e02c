/* shard.c - see shard.h. */
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "plan.h"
#include "util.h"

int
shard_parse(const char *s, unsigned *k, unsigned *n, const char **want)
{
	const char *slash = strchr(s, '/');
	long long kv, nv;
	char *left;
	int rc = -1;

	*k = *n = 0;
	*want = "expected K/N with 1 <= K <= N <= 10000, e.g. 2/8";
	if (slash == NULL)
		return -1;
	left = xstrndup(s, (size_t)(slash - s));
	if (util_parse_int(left, 1, SHARD_MAX, &kv) != 0 ||
	    util_parse_int(slash + 1, 1, SHARD_MAX, &nv) != 0)
		goto out;
	if (kv > nv) {
		*want = "K must not be larger than N (shards are numbered 1 to N)";
		goto out;
	}
	*k = (unsigned)kv;
	*n = (unsigned)nv;
	rc = 0;
out:
	free(left);
	return rc;
}

unsigned
shard_of(const char *user, unsigned n)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	size_t len = strlen(user);
	char *low = xmalloc(len + 1);
	uint64_t v = 0;

	if (n <= 1) {
		free(low);
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		low[i] = user[i] >= 'A' && user[i] <= 'Z' ? (char)(user[i] - 'A' + 'a') : user[i];
	low[len] = '\0';
	/* EVP_Digest aborts nothing; a failure would mean a broken libcrypto. */
	if (EVP_Digest(low, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8) {
		fprintf(stderr, "cutover: SHA-256 is not available from OpenSSL\n");
		abort();
	}
	free(low);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	return (unsigned)(v % n) + 1;
}

size_t *
shard_select(const struct plan *plan, unsigned k, unsigned n, size_t *count)
{
	size_t *idx = NULL, m = 0;

	*count = 0;
	if (plan->n_mailboxes == 0)
		return NULL;
	idx = xcalloc(plan->n_mailboxes, sizeof(*idx));
	for (size_t i = 0; i < plan->n_mailboxes; i++)
		if (shard_of(plan_mailbox_label(&plan->mailboxes[i]), n) == k)
			idx[m++] = i;
	if (m == 0) {
		free(idx);
		return NULL;
	}
	*count = m;
	return idx;
}

struct plan *
shard_plan(const struct plan *plan, unsigned k, unsigned n)
{
	struct plan *view = xmalloc(sizeof(*view));
	size_t *idx, m;

	*view = *plan;
	idx = shard_select(plan, k, n, &m);
	view->mailboxes = m > 0 ? xcalloc(m, sizeof(*view->mailboxes)) : NULL;
	for (size_t i = 0; i < m; i++)
		view->mailboxes[i] = plan->mailboxes[idx[i]]; /* shallow: strings stay PLAN's */
	view->n_mailboxes = m;
	free(idx);
	return view;
}

void
shard_plan_free(struct plan *view)
{
	if (view == NULL)
		return;
	free(view->mailboxes);
	free(view);
}
