/*
 * jscan.h - a strict JSON syntax scanner (RFC 8259) that knows where it is.
 *
 * cJSON builds trees but keeps no positions and says little about what is
 * wrong. jscan answers the two questions a configuration file reader needs:
 *   - is this text JSON, and if not, at which byte and why
 *     ("trailing comma before '}'", "single quotes are not JSON ...");
 *   - at which byte is the field at a path ("mailboxes", 2, "dest_user"),
 *     so that a message about a value can name its line.
 *
 * It is pure (bytes in, offsets out; no allocation, no I/O) and reads only
 * the N bytes it is given (no NUL needed). Messages never quote letters or
 * digits of the text (they may be a secret): only punctuation and byte values.
 */
#ifndef CUTOVER_JSCAN_H
#define CUTOVER_JSCAN_H

#include <stddef.h>

/* Nesting the scanner accepts; deeper is a syntax error. */
#define JSCAN_MAX_DEPTH 64

/* Why a document is not JSON: the byte offset and the reason. */
struct jscan_error {
	size_t pos;
	const char *msg; /* static text or buf */
	char buf[96];
};

/*
 * Check that the N bytes at S are one JSON document: an optional UTF-8 BOM,
 * one value, white space. Returns 0, or -1 with *E filled.
 */
int jscan_document(const char *s, size_t n, struct jscan_error *e);

/* 1-based line and column (in characters, UTF-8 aware) of byte POS (clamped to N). */
void jscan_linecol(const char *s, size_t n, size_t pos, size_t *line, size_t *col);

/* Number of '\n' in the N bytes at S. */
size_t jscan_count_lines(const char *s, size_t n);

/* One step of a field path: an object key, or (key NULL) an array index. */
struct jscan_step {
	const char *key;
	size_t index;
};

/*
 * In valid JSON text S (N bytes), the byte offset of the field at
 * STEPS[0..NSTEPS), starting at the value at byte START (0: the document):
 * the key's opening quote for an object member, the value for an array
 * element. -1 when it is not there (or its key is spelt with escapes), or
 * NSTEPS is 0.
 */
long jscan_locate(
    const char *s, size_t n, size_t start, const struct jscan_step *steps, size_t nsteps);

/*
 * KEYPOS is the opening quote of a key whose value is an array: the offset of
 * the array's first element (or of its ']'), -1 when the value is not an array.
 */
long jscan_array_first(const char *s, size_t n, size_t keypos);

/*
 * POS is an array element: the offset of the next element (or of the ']'),
 * -1 when the text there is not a value.
 */
long jscan_next_element(const char *s, size_t n, size_t pos);

#endif
