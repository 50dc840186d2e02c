/*
 * json.h - the JSON form of a report (schema_version 1): writing it, and
 * reading a saved one back (`cutover report render` and `report merge`).
 *
 * The JSON shape is a contract: reports/SCHEMA.md documents every field and
 * reports/report.schema.json validates it. Extend, never rename or remove.
 * This layer reads results and never touches the network.
 */
#ifndef CUTOVER_JSON_H
#define CUTOVER_JSON_H

#include <cJSON.h>

#include "src/report.h"

#define RPT_SCHEMA_VERSION 1

/* The report as a new cJSON tree (caller deletes). Never NULL. */
cJSON *rpt_to_json(const struct report *rep);

/*
 * Write the JSON report to PATH ("-" = stdout), pretty-printed, ending in a
 * newline: the same bytes as cJSON_Print(rpt_to_json(REP)) and a newline,
 * but streamed, one check at a time (spooled details are read back one at a
 * time too), so memory does not grow with the report. Files are written to
 * a temporary name in the same folder and renamed, so a reader never sees
 * half a report. Returns 0, or -1 with *ERR
 * set to a message naming the path and the OS error (caller frees).
 */
int rpt_write_json(const struct report *rep, const char *path, char **err);

/*
 * Read a report back from its JSON form (for `report render` and `report
 * merge`). Returns 0 and *OUT, or -1 with *ERR naming what is wrong (the field
 * path, e.g. "checks[3].status"). Unknown extra fields are ignored.
 */
int rpt_from_json(const cJSON *json, struct report **out, char **err);

/*
 * Parse the report TEXT of LEN bytes (TEXT[LEN] must be a NUL) and
 * rpt_from_json() it; pure, no file access. Returns 0 and *OUT (caller frees
 * with rpt_free), or -1 with *ERR (caller frees) starting with NAME:
 * "r.json:3:14: not valid JSON", "r.json: checks[3].status: ...".
 */
int rpt_parse_json(const char *text, size_t len, const char *name, struct report **out, char **err);

/*
 * Read the report file PATH (at most 512 MiB) and rpt_from_json() it.
 * Returns 0 and *OUT (caller frees with rpt_free), or -1 with *ERR (caller
 * frees) naming the path: "cannot read report r.json: No such file or
 * directory", "r.json:3:14: not valid JSON", "r.json: checks[3].status: ...".
 */
int rpt_read_json(const char *path, struct report **out, char **err);

#endif
