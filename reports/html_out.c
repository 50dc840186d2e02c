/*
 * html_out.c - the HTML page's output buffer and its one escaping function
 * (see html_out.h for the discipline every writer of the page keeps).
 */
#include "html_out.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "src/util.h"

static void
html_reserve(struct html *h, size_t n)
{
	if (h->len + n + 1 <= h->cap)
		return;
	while (h->len + n + 1 > h->cap)
		h->cap = h->cap == 0 ? 65536 : h->cap * 2;
	h->p = xrealloc(h->p, h->cap);
}

void
html_litn(struct html *h, const char *s, size_t n)
{
	html_reserve(h, n);
	memcpy(h->p + h->len, s, n);
	h->len += n;
	h->p[h->len] = '\0';
}

void
html_lit(struct html *h, const char *s)
{
	html_litn(h, s, strlen(s));
}

void
html_fmt(struct html *h, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	html_lit(h, s);
	free(s);
}

/* Tokens at least this long get break opportunities (html_text_wrap). */
#define HTML_WRAP_TOKEN 24

/* The one escaping routine: text and quoted attribute values alike. */
void
html_text(struct html *h, const char *s)
{
	const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");

	for (; *u != '\0'; u++) {
		switch (*u) {
		case '&': html_litn(h, "&amp;", 5); break;
		case '<': html_litn(h, "&lt;", 4); break;
		case '>': html_litn(h, "&gt;", 4); break;
		case '"': html_litn(h, "&quot;", 6); break;
		case '\'': html_litn(h, "&#39;", 5); break;
		case '\t':
		case '\n':
		case '\r': html_litn(h, (const char *)u, 1); break;
		default:
			if (*u < 0x20 || *u == 0x7f)
				html_litn(h, "&#xFFFD;", 8);
			else
				html_litn(h, (const char *)u, 1);
			break;
		}
	}
}

/*
 * Text (never an attribute value) with a line break opportunity (<wbr>)
 * after each dot, slash, '@' and '_' inside a long token, so that a DKIM host
 * name, a URL or a user name wraps at its natural joints on a phone instead
 * of pushing the page sideways or breaking mid-word. Copying the text copies
 * it unchanged (<wbr> is not a character).
 */
void
html_text_wrap(struct html *h, const char *s)
{
	const char *p = s != NULL ? s : "";

	while (*p != '\0') {
		size_t n = strcspn(p, " \t\r\n"), k = 0;

		if (n < HTML_WRAP_TOKEN) {
			char *tok = xstrndup(p, n);

			html_text(h, tok);
			free(tok);
		} else {
			while (k < n) {
				size_t m = strcspn(p + k, "./@_");
				char *part;

				m = m < n - k ? m + 1 : n - k; /* the joint stays on this line */
				part = xstrndup(p + k, m);
				html_text(h, part);
				free(part);
				k += m;
				if (k < n)
					html_lit(h, "<wbr>");
			}
		}
		p += n;
		if (*p != '\0') {
			char sp[2] = {*p, '\0'};

			html_text(h, sp);
			p++;
		}
	}
}

char *
html_escape(const char *s)
{
	struct html h;

	memset(&h, 0, sizeof(h));
	html_text(&h, s);
	if (h.p == NULL)
		return xstrdup("");
	return h.p;
}
