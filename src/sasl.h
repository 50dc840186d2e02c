/*
 * sasl.h - the SASL messages every mail protocol sends, built in one place
 * (as curl's lib/vauth/): IMAP AUTHENTICATE and POP3 AUTH both call these.
 *
 * Every builder returns the base64 text to send (no CRLF), newly allocated;
 * the caller frees it with sasl_free(), which wipes it first (it carries a
 * password or a token). NULL on a bad argument (a NUL or control character
 * where the mechanism forbids one) or out of memory.
 *
 * Mechanisms:
 *   PLAIN        RFC 4616: [authzid] NUL authcid NUL password
 *   XOAUTH2      Google/Microsoft: "user=" U ^A "auth=Bearer " T ^A ^A
 *   OAUTHBEARER  RFC 7628 3.1: gs2 header "n,a=" U "," ^A "host=" H ^A
 *                "port=" P ^A "auth=Bearer " T ^A ^A  (U with ',' and '='
 *                escaped as =2C and =3D, RFC 5801)
 *
 * A server that refuses an OAuth2 token answers with a continuation carrying
 * a base64 JSON error ({"status":"invalid_token","scope":...}); RFC 7628 3.2.3
 * says the client answers it with a dummy response (OAUTHBEARER: ^A, XOAUTH2:
 * an empty line) and then reads the final NO. sasl_oauth_error_parse() decodes
 * that challenge (untrusted input: bounded, fuzzed).
 */
#ifndef CUTOVER_SASL_H
#define CUTOVER_SASL_H

#include <stddef.h>

enum sasl_mech {
	SASL_NONE = 0,
	SASL_PLAIN,
	SASL_XOAUTH2,
	SASL_OAUTHBEARER,
};

/* "PLAIN", "XOAUTH2", "OAUTHBEARER" (the name on the wire), "none". */
const char *sasl_mech_name(enum sasl_mech m);

/* PLAIN: AUTHZID may be NULL (none). */
char *sasl_plain(const char *authzid, const char *authcid, const char *password);
char *sasl_xoauth2(const char *user, const char *token);
/* HOST and PORT are the server's as connected to (PORT 0: left out). */
char *sasl_oauthbearer(const char *user, const char *host, int port, const char *token);

/* The dummy answer to an OAuth2 error challenge: "" for XOAUTH2, "AQ==" for
 * OAUTHBEARER (static). */
const char *sasl_oauth_error_reply(enum sasl_mech m);

/* Wipe and free a string from the builders. NULL is fine. */
void sasl_free(char *s);

/* The decoded error challenge of a refused OAuth2 login. Strings are
 * truncated to fit and hold only printable ASCII. */
struct sasl_oauth_error {
	char status[64];  /* "invalid_token", "401", ... "" when absent */
	char scope[256];  /* the scope the server wants, "" when absent */
	char schemes[64]; /* "Bearer", "" when absent */
};

/* Room for "status S, scope C" built from a struct sasl_oauth_error. */
#define SASL_OAUTH_STATUS_LEN 352

/* Decode the base64 challenge B64 (LEN bytes, the text after "+ " or "+OK "
 * without CRLF). Returns 0 with *OUT filled, -1 when it is not base64 JSON
 * of that shape (*OUT all empty). */
int sasl_oauth_error_parse(const char *b64, size_t len, struct sasl_oauth_error *out);

#endif
