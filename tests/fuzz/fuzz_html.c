/*
 * fuzz_html.c - libFuzzer target for the HTML report (reports/html.c).
 *
 * A report's details are untrusted (a file someone sent; strings servers and
 * DNS chose). The input is parsed as JSON and used as the details of one
 * check of every id the renderer knows (and an unknown one), with the input's
 * first string also as subject, summary and advice. The page must come out
 * whole, with our one script and no markup from the input: a '<' of the data
 * never reaches the page unescaped. The same report also goes through the
 * CSV sheet (reports/csv.c): it must start with the byte-order mark and have
 * one header line ending in CRLF, and no cell may start with '=' (formulas
 * are defused with an apostrophe).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "reports/csv.h"
#include "reports/html.h"
#include "src/report.h"
#include "src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_ids[] = {
    "dns.mx",
    "dns.mx_ttl",
    "dns.spf",
    "dns.autodiscover",
    "dns.dmarc",
    "dns.propagation",
    "imap.tls",
    "pop3.tls",
    "imap.login",
    "pop3.login",
    "mailbox.folders",
    "mailbox.folder_items",
    "mailbox.quota",
    "web.webmail",
    "web.autodiscover",
    "sync.mailbox",
    "something.new",
};

static size_t
fuzz_count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* 1 when a cell of the RFC 4180 text S starts with '=', '+', '-' or '@'. */
static int
fuzz_csv_formula(const char *s)
{
	int quoted = 0, start = 1;

	for (; *s != '\0'; s++) {
		if (start) {
			const char *c = *s == '"' ? s + 1 : s;

			if (*c == '=' || *c == '+' || *c == '-' || *c == '@')
				return 1;
			start = 0;
		}
		if (*s == '"')
			quoted = !quoted; /* "" toggles twice */
		else if (!quoted && (*s == ',' || *s == '\n'))
			start = 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *details = cJSON_ParseWithLength((const char *)data, size);
	struct report *rep;
	char *page, *text;

	if (details == NULL)
		return 0;
	text = xstrndup((const char *)data, size > 200 ? 200 : size);
	rep = rpt_new("audit", text);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(fuzz_ids); i++) {
		struct result *res = result_new(fuzz_ids[i], text, (enum result_side)(i % 3));

		result_set(res, (enum result_status)(i % RESULT_STATUS_COUNT), "%s", text);
		result_advise(res, "%s", text);
		cJSON_Delete(res->details);
		res->details =
		    cJSON_IsObject(details) ? cJSON_Duplicate(details, 1) : cJSON_CreateObject();
		rpt_add(rep, res);
	}
	page = html_render(rep);
	if (page == NULL || fuzz_count(page, "<script") != 1 || fuzz_count(page, "<img") != 0 ||
	    strstr(page, "</html>\n") == NULL)
		abort();
	free(page);
	page = csv_render(rep);
	if (page == NULL || strncmp(page, "\xef\xbb\xbfuser,side,", 13) != 0 ||
	    strstr(page, "status\r\n") == NULL || fuzz_csv_formula(page + 3))
		abort();
	free(page);
	rpt_free(rep);
	free(text);
	cJSON_Delete(details);
	return 0;
}
