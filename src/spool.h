/*
 * spool.h - an append-only scratch file for what a big run has finished with.
 *
 * An audit of tens of thousands of mailboxes keeps each check's details
 * until the report is written at the end; the report moves each result here
 * as it is recorded (rpt_add, src/report.h), and the report writers read
 * them back one at a time. The file is anonymous (unlinked at once, mode 0600): it
 * vanishes with the process, and holds no password (details never do).
 */
#ifndef CUTOVER_SPOOL_H
#define CUTOVER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/*
 * A new spool in DIR (NULL: $TMPDIR, else /tmp). Returns NULL with *ERR
 * (caller frees) when no file can be made there.
 */
struct spool *spool_new(const char *dir, char **err);

/* A spool in memory: for when no file can be made, or a file's disk is
 * full (the report still comes out; memory then grows with it). */
struct spool *spool_new_mem(void);

/* Append LEN bytes of DATA; *OFF gets where they start. Returns 0, or -1
 * (the disk is full, ...) with nothing recorded. */
int spool_put(struct spool *sp, const char *data, size_t len, uint64_t *off);

/* The LEN bytes at OFF, NUL-terminated, in a new buffer (caller frees), or
 * NULL on an I/O error. */
char *spool_get(struct spool *sp, uint64_t off, size_t len);

/* Bytes appended so far (for tests and benchmarks). */
uint64_t spool_size(const struct spool *sp);

/* Close (the file goes with it). NULL is fine. */
void spool_free(struct spool *sp);

#endif
