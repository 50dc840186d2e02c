/* strbuf.c - a growing string with a cap. See strbuf.h. */
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define STRBUF_MIN 64

/* MAX + EXTRA, or SIZE_MAX when that does not fit. */
static size_t
strbuf_limit(const struct strbuf *b, size_t extra)
{
	return b->max > SIZE_MAX - extra ? SIZE_MAX : b->max + extra;
}

void
strbuf_init(struct strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Room for N more bytes and the NUL (N fits under the cap). Doubles, up to
 * the cap, so that appending byte by byte stays linear. */
static void
strbuf_grow(struct strbuf *b, size_t n)
{
	size_t need = b->len + n + 1, cap = b->cap;

	if (need <= b->cap)
		return;
	if (cap < STRBUF_MIN)
		cap = STRBUF_MIN;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > strbuf_limit(b, 1))
		cap = strbuf_limit(b, 1);
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

int
strbuf_append(struct strbuf *b, const void *data, size_t n)
{
	if (b->over || n > b->max - b->len) {
		b->over = 1;
		return -1;
	}
	strbuf_grow(b, n);
	if (n > 0)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
strbuf_appends(struct strbuf *b, const char *s)
{
	return strbuf_append(b, s, strlen(s));
}

int
strbuf_vappendf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	if (b->over)
		return -1;
	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0 || (size_t)n > b->max - b->len) {
		b->over = 1;
		return -1;
	}
	strbuf_grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
strbuf_appendf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strbuf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
strbuf_read(struct strbuf *b, FILE *f)
{
	size_t n;

	if (b->over)
		return -1;
	for (;;) {
		size_t room;

		/* One byte past the cap tells a file of exactly max bytes from a
		 * longer one. */
		if (b->len + 1 >= b->cap) {
			size_t cap = b->cap < 65536 ? 65536
			    : b->cap > SIZE_MAX / 2 ? SIZE_MAX
			                            : b->cap * 2;

			if (cap > strbuf_limit(b, 2))
				cap = strbuf_limit(b, 2);
			if (cap > b->cap) {
				b->s = xrealloc(b->s, cap);
				b->cap = cap;
			}
		}
		room = b->cap - 1 - b->len;
		n = fread(b->s + b->len, 1, room, f);
		b->len += n;
		b->s[b->len] = '\0';
		if (b->len > b->max) {
			b->len = b->max;
			b->s[b->len] = '\0';
			b->over = 1;
			return -1;
		}
		if (n == 0)
			return ferror(f) ? -1 : 0;
	}
}

const char *
strbuf_str(const struct strbuf *b)
{
	return b->s != NULL ? b->s : "";
}

char *
strbuf_take(struct strbuf *b)
{
	char *s = b->s != NULL ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	b->over = 0;
	return s;
}

void
strbuf_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
	b->over = 0;
}
