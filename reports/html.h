/*
 * html.h - the report as one self-contained HTML page.
 *
 * What an admin forwards to a customer who never runs cutover: one file,
 * readable offline in any browser, that shows what to fix first and every
 * check grouped like the console (reports/section.h). Inline CSS and a few
 * lines of optional inline JavaScript (sortable tables, details opened for
 * printing); no external fonts, images or scripts, and a Content-Security-
 * Policy that forbids loading anything (the script is allowed by its
 * SHA-256 hash, so an injected inline handler could not run either).
 *
 * Rendering is driven by the data: each known check id gets a view of its
 * documented details (reports/SCHEMA.md) that tolerates missing or
 * unexpected fields, and every check, known or not, also shows its details
 * generically, so a check added later never vanishes from the page.
 *
 * Every string that comes from the report (server answers, DNS records,
 * plan values, folder names, JSON keys) goes through html_escape rules in
 * one place: a folder named <img src=x onerror=alert(1)> is shown as text.
 */
#ifndef CUTOVER_HTML_H
#define CUTOVER_HTML_H

#include "src/report.h"

/*
 * S escaped for HTML text and for attribute values in double or single
 * quotes: & < > " ' become character references, and control characters
 * other than tab, newline and carriage return become U+FFFD. Returns a new
 * string (caller frees); NULL gives "".
 */
char *html_escape(const char *s);

/* The whole page for REP as a new NUL-terminated string (caller frees). */
char *html_render(const struct report *rep);

/*
 * Write the page for REP to PATH ("-" = stdout). Files are written to a
 * temporary name in the same folder and renamed, like the JSON report.
 * Returns 0, or -1 with *ERR naming the path and the OS error (caller frees).
 */
int html_write(const struct report *rep, const char *path, char **err);

#endif
