/*
 * mtasts.h - MTA-STS (RFC 8461): the _mta-sts TXT record, the policy file,
 * and MX pattern matching. Pure functions over bytes (fuzzed:
 * tests/fuzz/fuzz_mtasts.c); checks/dns_mta_sts.c does the DNS and HTTPS.
 *
 * Why hand-written: no library in Debian parses MTA-STS (Postfix's
 * postfix-mta-sts-resolver is a Python daemon); the grammar is a few lines
 * of RFC 8461 sections 3.1 and 3.2.
 */
#ifndef CUTOVER_MTASTS_H
#define CUTOVER_MTASTS_H

#include <stddef.h>

#define MTASTS_MAX_POLICY 65536 /* bytes; RFC 8461 section 3.3 suggests 64 KiB */
#define MTASTS_MAX_AGE 31557600 /* section 3.2 */
#define MTASTS_MAX_MX 64

/*
 * One TXT record of _mta-sts.DOMAIN (section 3.1). Returns 1 and the id in
 * ID (1-32 letters and digits), 0 when TXT is not an STS record at all (it
 * does not start with "v=STSv1": senders ignore it), or -1 with ERR filled
 * when it starts like one but is malformed.
 */
int mtasts_txt_parse(const char *txt, size_t len, char id[33], char *err, size_t errlen);

struct mtasts_policy {
	char mode[16]; /* "enforce", "testing", "none" */
	long max_age;  /* seconds */
	char **mx;     /* patterns as written: "mail.example.com", "*.example.net" */
	size_t n_mx;
};

/*
 * The policy file (section 3.2): "key: value" lines ending in CRLF or LF.
 * version STSv1, mode, max_age required; mx required (one or more) unless
 * mode is none; unknown keys ignored; a repeated key other than mx keeps the
 * first. Returns 0 and fills *OUT (free with mtasts_policy_free), or -1 with
 * ERR naming the line and the problem.
 */
int mtasts_policy_parse(
    const char *body, size_t len, struct mtasts_policy *out, char *err, size_t errlen);
void mtasts_policy_free(struct mtasts_policy *p);

/*
 * A TXT record of _smtp._tls.DOMAIN (TLS reporting, RFC 8460 section 3):
 * "v=TLSRPTv1; rua=mailto:a@example.com,https://example.com/r". Returns 1 and
 * the rua URIs (each mailto: or https:, at most MAX) in URIS/N (caller frees
 * each), 0 when it is not a TLS-RPT record, -1 with ERR when malformed.
 */
int mtasts_tlsrpt_parse(
    const char *txt, size_t len, char **uris, size_t max, size_t *n, char *err, size_t errlen);

/* Section 4.1: HOST matches PATTERN ("*." matches exactly one leftmost
 * label), without case, trailing dots aside. */
int mtasts_mx_match(const char *pattern, const char *host);

#endif
