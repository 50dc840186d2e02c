/*
 * html_p.h - what the page (html.c) and the check cards (html_cards.c) of
 * the HTML report share; private to those two files.
 */
#ifndef CUTOVER_HTML_P_H
#define CUTOVER_HTML_P_H

#include <stddef.h>
#include <stdint.h>

#include "html_out.h"
#include "src/report.h"

/* A check and its index in the report (anchors are "c-INDEX"). */
struct html_item {
	const struct result *res;
	size_t idx;
};

/* The status of RES as shown (an out-of-range one counts as an error). */
enum result_status html_status(const struct result *res);
/* "PASS", "WARN", ... (static). */
const char *html_status_label(enum result_status st);
/* The status badge of ST. */
void html_badge(struct html *h, enum result_status st);
/* MS milliseconds as "850 ms", "2.4 s", "3 min 12 s". */
void html_duration(struct html *h, int64_t ms);

/* A check card with its head, summary, advice and generic details; between
 * open and close a section's own view of the details may go. */
void html_card_open(struct html *h, const struct html_item *it);
void html_card_close(struct html *h, const struct html_item *it);

/* The views of each section (reports/section.h) of the page: one card per
 * check, or one table for all the checks of the section. */
void html_card_dns(struct html *h, const struct html_item *it);
void html_card_propagation(struct html *h, const struct html_item *it);
void html_section_connectivity(struct html *h, const struct html_item *list, size_t n);
void html_section_mailboxes(struct html *h, const struct html_item *list, size_t n);
void html_card_web(struct html *h, const struct html_item *it);

#endif
