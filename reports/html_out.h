/*
 * html_out.h - the HTML page's output buffer and its one escaping function.
 *
 * Text reaches a page through three functions only, and this file is small
 * so that the discipline can be audited alone:
 *   html_lit()  markup written in our source (string literals, never data);
 *   html_fmt()  a format written in our source whose arguments are numbers or
 *               literals (never a %s of report data);
 *   html_text() everything else, escaped: text and quoted attribute values.
 * A report is untrusted input (a file someone sent, strings that servers and
 * DNS chose), so every value of it goes through html_text() or
 * html_text_wrap(). Allocation failure aborts (util.h).
 */
#ifndef CUTOVER_HTML_OUT_H
#define CUTOVER_HTML_OUT_H

#include <stddef.h>

struct report;

/* A page being written: a growing NUL-terminated string (zero it to start;
 * P is the caller's to free) and the report it draws. */
struct html {
	char *p;
	size_t len, cap;
	const struct report *rep;
};

/* N bytes of markup from our source. */
void html_litn(struct html *h, const char *s, size_t n);
/* Markup written in our source (never report data). */
void html_lit(struct html *h, const char *s);
/* A format written in our source; arguments are numbers or literals. */
void html_fmt(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * S (NULL gives nothing) escaped for text and for attribute values in double
 * or single quotes: & < > " ' become character references, control
 * characters other than tab, newline and carriage return become U+FFFD.
 */
void html_text(struct html *h, const char *s);
/* html_text() (never for an attribute value) with a <wbr> after each dot,
 * slash, '@' and '_' inside long tokens, so host names and URLs wrap. */
void html_text_wrap(struct html *h, const char *s);

#endif
