/*
 * assets.h - the HTML report's stylesheet and script, compiled in.
 *
 * The sources are reports/assets/report.css and reports/assets/report.js;
 * the Makefile turns them into C arrays at build time (reports/assets/
 * embed.c), so edit those files, never the generated one. Each array ends in
 * a NUL that its _len does not count. The page allows the script by its
 * SHA-256 hash, computed from these very bytes (reports/html.c), so an edit
 * of report.js needs no other change.
 */
#ifndef CUTOVER_ASSETS_H
#define CUTOVER_ASSETS_H

#include <stddef.h>

extern const char html_css[];
extern const size_t html_css_len;
extern const char html_js[];
extern const size_t html_js_len;

#endif
