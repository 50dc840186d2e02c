/*
 * strbuf.h - a growing string with a mandatory cap (as curl's dynbuf).
 *
 * Every buffer that grows with input (a server's body, a file, a macro
 * expansion, a report) names the most it may hold; an append that would go
 * past it is refused whole and the buffer is marked over, so the caller
 * turns it into a clear error ("larger than 16 MiB") instead of growing
 * without bound. Once over, every later append is refused as well: the
 * content stays a prefix of whole appends. Allocation failure aborts
 * (util.h).
 *
 *	struct strbuf b;
 *
 *	strbuf_init(&b, 4096);
 *	strbuf_appendf(&b, "%s:%d", host, port);
 *	if (b.over) ...error...
 *	use(strbuf_str(&b));
 *	strbuf_free(&b);
 *
 * The content is always NUL-terminated (after the first append) and may
 * hold NUL bytes of its own (strbuf_append); len counts them.
 */
#ifndef CUTOVER_STRBUF_H
#define CUTOVER_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct strbuf {
	char *s;    /* the content, NULL before the first append */
	size_t len; /* bytes held, not counting the terminating NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* the most len may become */
	int over;   /* an append was refused for the cap */
};

/* An empty buffer that may hold up to MAX bytes. */
void strbuf_init(struct strbuf *b, size_t max);

/* Append N bytes of DATA, S up to its NUL, or printf output. Returns 0, or
 * -1 when it would pass the cap (nothing appended, over set) or the buffer
 * is over already. */
int strbuf_append(struct strbuf *b, const void *data, size_t n);
int strbuf_appends(struct strbuf *b, const char *s);
int strbuf_appendf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vappendf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Append the rest of F. Returns 0 at the end of F; -1 when the cap stopped
 * it (over set; the content is the first max bytes) or F failed (ferror(F)
 * and errno say why).
 */
int strbuf_read(struct strbuf *b, FILE *f);

/* The content ("" before the first append); valid until the next change. */
const char *strbuf_str(const struct strbuf *b);

/* Hand the content over (caller frees; NUL-terminated, "" when empty) and
 * leave B empty, with the same cap. */
char *strbuf_take(struct strbuf *b);

/* Free the content and empty B (the cap stays). */
void strbuf_free(struct strbuf *b);

#endif
