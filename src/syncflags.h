/*
 * syncflags.h - flag sets of messages for `cutover sync`: what the state
 * records, and the three-way merge that carries the source's changes since
 * the last pass to the destination (pure functions, unit-tested).
 *
 * A flag set is a string: the flags and keywords of one message, sorted
 * (strcmp), unique, separated by single spaces, without parentheses, without
 * \Recent (not settable, RFC 3501 2.3.2) and without \Deleted (a source's
 * pending deletion is never copied). "" is the empty set. Every element is a
 * valid IMAP flag (RFC 3501 9: "\" atom for system flags, atom for
 * keywords): syncflags_norm drops anything else, so a set can be written
 * into a command as it is.
 */
#ifndef CUTOVER_SYNCFLAGS_H
#define CUTOVER_SYNCFLAGS_H

#include <stddef.h>

/* Is FLAG a flag we may send (a system flag or keyword atom, not \Recent or
 * \Deleted, at most 255 bytes)? */
int syncflags_ok(const char *flag);

/*
 * The flag set of the N strings FLAGS (as a server sent them in FLAGS),
 * normalized as above. Caller frees.
 */
char *syncflags_norm(const char *const *flags, size_t n);

/* Is FLAG in SET (a normalized set)? System flags compare without case. */
int syncflags_has(const char *set, const char *flag);

/*
 * The three-way merge of one message's flags. BASE_SRC and BASE_DST are the
 * sets the state recorded for the source and the destination at the last
 * pass (or at the copy), SRC and DST the sets now. Returns the set the
 * destination should have (caller frees):
 *   - the source did not change (SRC == BASE_SRC): DST as it is (a change
 *     made only at the destination is kept);
 *   - only the source changed: DST with the source's additions and removals;
 *   - both changed: the union of DST and SRC (nothing the user set on either
 *     side is lost), and *CONFLICT is set to 1 (else 0).
 */
char *syncflags_merge(
    const char *base_src, const char *src, const char *base_dst, const char *dst, int *conflict);

/*
 * The flags in A and not in B, as a normalized set (caller frees): what a
 * "+FLAGS" (A = wanted, B = current) or "-FLAGS" (A = current, B = wanted)
 * STORE must name.
 */
char *syncflags_minus(const char *a, const char *b);

#endif
