/*
 * dmarc.h - DMARC policy records (RFC 7489 section 6.3 and 6.4): a pure
 * parser, bytes in, struct out, no I/O, so it can be unit-tested and fuzzed.
 *
 * A DMARC record is a TXT record at _dmarc.DOMAIN in the DKIM tag-value
 * syntax (RFC 6376 section 3.2): "v=DMARC1; p=quarantine; rua=mailto:...".
 * The parser checks the grammar of RFC 7489 section 6.4 for every tag it
 * knows (v p sp pct rua ruf adkim aspf fo rf ri), keeps unknown tags (which
 * receivers must ignore, section 6.3) so that a linter can name them, and
 * reports the first syntax error with its byte offset in the record.
 *
 * Ownership: dmarc_parse returns a new record the caller frees with
 * dmarc_free; every string in it is owned by the record.
 */
#ifndef CUTOVER_DMARC_H
#define CUTOVER_DMARC_H

#include <stddef.h>
#include <stdint.h>

/* The longest record the parser accepts; a longer one is an error, not an
 * allocation (a DNS TXT RRset can hold 64 KiB). */
#define DMARC_MAX_RECORD 4096
/* At most this many URIs in rua= or ruf= (more is an error). */
#define DMARC_MAX_URIS 16

enum dmarc_policy {
	DMARC_POLICY_UNSET = 0,
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* Failure-reporting options, fo= (section 6.3). */
#define DMARC_FO_0 0x1 /* report when all mechanisms fail (default) */
#define DMARC_FO_1 0x2 /* report when any mechanism fails */
#define DMARC_FO_D 0x4 /* report DKIM failures */
#define DMARC_FO_S 0x8 /* report SPF failures */

/* One reporting URI of rua=/ruf=, with its optional size limit ("!10m"). */
struct dmarc_uri {
	char *uri;          /* "mailto:dmarc@example.com" */
	uint64_t max_bytes; /* 0 when no limit is written */
};

/* Which tags the record wrote; the others carry their defaults. */
#define DMARC_TAG_P 0x001
#define DMARC_TAG_SP 0x002
#define DMARC_TAG_PCT 0x004
#define DMARC_TAG_RUA 0x008
#define DMARC_TAG_RUF 0x010
#define DMARC_TAG_ADKIM 0x020
#define DMARC_TAG_ASPF 0x040
#define DMARC_TAG_FO 0x080
#define DMARC_TAG_RF 0x100
#define DMARC_TAG_RI 0x200

struct dmarc_record {
	unsigned written;     /* DMARC_TAG_* bits of the tags present */
	enum dmarc_policy p;  /* UNSET only when p= is missing (an error) */
	enum dmarc_policy sp; /* defaults to p */
	int pct;              /* 0..100, default 100 */
	struct dmarc_uri *rua;
	size_t n_rua;
	struct dmarc_uri *ruf;
	size_t n_ruf;
	char adkim, aspf; /* 'r' relaxed (default) or 's' strict */
	unsigned fo;      /* DMARC_FO_* bits, default DMARC_FO_0 */
	char *fo_text;    /* fo= as written, normalised ("1:d"); "0" by default */
	char *rf;         /* report formats as written, default "afrf" */
	uint32_t ri;      /* report interval, seconds, default 86400 */
	char **unknown;   /* names of tags that receivers ignore */
	size_t n_unknown;
};

/* A syntax error: what is wrong and where (byte offset, 0 = first byte). */
struct dmarc_error {
	size_t pos;
	char msg[160];
};

/*
 * Whether TXT (LEN bytes) is a DMARC record at all: it starts with the tag
 * v=DMARC1 (optional whitespace around "="), the selection rule of RFC 7489
 * section 6.6.3 step 4. Records that are not are discarded by receivers.
 * Returns 1 or 0.
 */
int dmarc_is_record(const char *txt, size_t len);

/*
 * Parse TXT (LEN bytes, need not be NUL-terminated, may contain NUL bytes,
 * which are errors). Returns 0 and a new *OUT, or -1 with *ERR filled and
 * *OUT NULL. A record missing p= is an error (section 6.3: p is required).
 */
int dmarc_parse(const char *txt, size_t len, struct dmarc_record **out, struct dmarc_error *err);
void dmarc_free(struct dmarc_record *rec);

/* "none", "quarantine", "reject", or NULL for DMARC_POLICY_UNSET. */
const char *dmarc_policy_str(enum dmarc_policy p);

/* A record to start with for DOMAIN (caller frees):
 * "v=DMARC1; p=none; rua=mailto:dmarc-reports@DOMAIN". */
char *dmarc_starter_record(const char *domain);

#endif
