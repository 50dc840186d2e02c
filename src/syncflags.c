/*
 * syncflags.c - flag sets and their three-way merge (see syncflags.h).
 *
 * Sets are short (a handful of flags per message), so they are kept as
 * normalized strings (what the state stores) and split on demand.
 */
#include "syncflags.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define SYNCFLAGS_MAX_LEN 255
#define SYNCFLAGS_MAX_N 128 /* flags per message kept; servers allow far fewer */

int
syncflags_ok(const char *flag)
{
	const char *p = flag;
	size_t n = strlen(flag);

	if (n == 0 || n > SYNCFLAGS_MAX_LEN)
		return 0;
	if (strcasecmp(flag, "\\Recent") == 0 || strcasecmp(flag, "\\Deleted") == 0)
		return 0;
	if (*p == '\\')
		p++;
	if (*p == '\0')
		return 0;
	/* RFC 3501 9: ATOM-CHAR is any CHAR except atom-specials. */
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

/* System flags (\Seen) compare without case, keywords exactly. */
static int
syncflags_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	if (a[0] == '\\')
		return strncasecmp(a, b, an) == 0;
	return memcmp(a, b, an) == 0;
}

static int
syncflags_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

char *
syncflags_norm(const char *const *flags, size_t n)
{
	const char **v = xcalloc(n ? n : 1, sizeof(*v));
	size_t k = 0, len = 1, o = 0;
	char *out;

	for (size_t i = 0; i < n && k < SYNCFLAGS_MAX_N; i++) {
		int dup = 0;

		if (!syncflags_ok(flags[i]))
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = syncflags_eq(v[j], strlen(v[j]), flags[i], strlen(flags[i]));
		if (!dup)
			v[k++] = flags[i];
	}
	qsort(v, k, sizeof(*v), syncflags_cmp);
	for (size_t i = 0; i < k; i++)
		len += strlen(v[i]) + 1;
	out = xmalloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		size_t l = strlen(v[i]);

		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, v[i], l);
		o += l;
		out[o] = '\0';
	}
	free(v);
	return out;
}

int
syncflags_has(const char *set, const char *flag)
{
	size_t fn = strlen(flag);

	while (*set != '\0') {
		size_t n = strcspn(set, " ");

		if (syncflags_eq(set, n, flag, fn))
			return 1;
		set += n;
		while (*set == ' ')
			set++;
	}
	return 0;
}

/* Split SET into *N pointers to copies (caller frees each and the array). */
static char **
syncflags_split(const char *set, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	while (*set != '\0') {
		size_t l = strcspn(set, " ");

		if (l > 0) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[(*n)++] = xstrndup(set, l);
		}
		set += l;
		while (*set == ' ')
			set++;
	}
	return v;
}

static void
syncflags_free_split(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The normalized set of the elements of A (NA) for which KEEP holds. */
static char *
syncflags_pick(char **a, size_t na, const char *other, int in_other)
{
	const char **v = xcalloc(na ? na : 1, sizeof(*v));
	size_t k = 0;
	char *out;

	for (size_t i = 0; i < na; i++)
		if (syncflags_has(other, a[i]) == in_other)
			v[k++] = a[i];
	out = syncflags_norm(v, k);
	free(v);
	return out;
}

char *
syncflags_minus(const char *a, const char *b)
{
	size_t n;
	char **v = syncflags_split(a, &n);
	char *out = syncflags_pick(v, n, b, 0);

	syncflags_free_split(v, n);
	return out;
}

char *
syncflags_merge(
    const char *base_src, const char *src, const char *base_dst, const char *dst, int *conflict)
{
	char **v = NULL, **d, *added, *removed, *out;
	size_t n = 0, nd, cap;

	*conflict = 0;
	if (strcmp(src, base_src) == 0)
		return xstrdup(dst);
	d = syncflags_split(dst, &nd);
	if (strcmp(dst, base_dst) != 0) {
		/* Both sides changed: the union, never losing a flag. */
		char **s = syncflags_split(src, &n);

		*conflict = 1;
		v = xcalloc(nd + n + 1, sizeof(*v));
		for (size_t i = 0; i < nd; i++)
			v[i] = d[i];
		for (size_t i = 0; i < n; i++)
			v[nd + i] = s[i];
		out = syncflags_norm((const char *const *)v, nd + n);
		free(v);
		syncflags_free_split(s, n);
		syncflags_free_split(d, nd);
		return out;
	}
	/* Only the source changed: its additions and removals onto DST. */
	added = syncflags_minus(src, base_src);
	removed = syncflags_minus(base_src, src);
	{
		char **ad = syncflags_split(added, &n);

		cap = nd + n + 1;
		v = xcalloc(cap, sizeof(*v));
		cap = 0;
		for (size_t i = 0; i < nd; i++)
			if (!syncflags_has(removed, d[i]))
				v[cap++] = d[i];
		for (size_t i = 0; i < n; i++)
			v[cap++] = ad[i];
		out = syncflags_norm((const char *const *)v, cap);
		free(v);
		syncflags_free_split(ad, n);
	}
	free(added);
	free(removed);
	syncflags_free_split(d, nd);
	return out;
}
