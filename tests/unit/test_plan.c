/*
 * test_plan.c - plan JSON and mailbox CSV: valid plans, profile defaults,
 * every error path with its exact message, env:/file: secrets, and that no
 * password value ever appears in an error message.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/plan.h"
#include "src/profile.h"
#include "src/util.h"

#define SECRET "hunter2-secret"

/* ---- helpers ----------------------------------------------------------------- */

static struct plan *
parse_ok(const char *text, const char *path)
{
	struct plan *p = NULL;
	char *err = NULL;

	if (plan_parse(text, strlen(text), path, &p, &err) != 0) {
		print_error("unexpected error: %s\n", err);
		free(err);
		fail();
	}
	assert_non_null(p);
	assert_null(err);
	return p;
}

/* Parse TEXT expecting failure; assert the message equals WANT. */
static void
parse_err(const char *text, const char *want)
{
	struct plan *p = NULL;
	char *err = NULL;

	assert_int_equal(plan_parse(text, strlen(text), "plan.json", &p, &err), -1);
	assert_null(p);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_null(strstr(err, SECRET));
	free(err);
}

static void
csv_err(const char *text, const char *want)
{
	struct plan_mailbox *mbs = NULL;
	size_t n = 99;
	char *err = NULL;

	assert_int_equal(plan_csv_parse(text, strlen(text), "users.csv", &mbs, &n, NULL, &err), -1);
	assert_null(mbs);
	assert_int_equal(n, 0);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_null(strstr(err, SECRET));
	free(err);
}

static struct plan_mailbox *
csv_ok(const char *text, size_t len, size_t *n)
{
	struct plan_mailbox *mbs = NULL;
	char *err = NULL;

	if (plan_csv_parse(text, len, "users.csv", &mbs, n, NULL, &err) != 0) {
		print_error("unexpected error: %s\n", err);
		free(err);
		fail();
	}
	return mbs;
}

static void
csv_free(struct plan_mailbox *mbs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		plan_mailbox_clear(&mbs[i]);
	free(mbs);
}

static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/cutover-test-plan-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static char *
write_file(const char *dir, const char *name, const char *content)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d == NULL) {
		unlink(path);
		return;
	}
	for (e = readdir(d); e != NULL; e = readdir(d)) {
		char *sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, e->d_name);
		rm_tree(sub);
		free(sub);
	}
	closedir(d);
	rmdir(path);
}

/* plan_load on a plan written into a new temp dir; returns err or NULL. */
static char *
load_in_dir(const char *dir, const char *plan_text, struct plan **out)
{
	char *path = write_file(dir, "plan.json", plan_text);
	char *err = NULL;
	int rc = plan_load(path, out, &err);

	free(path);
	if (rc == 0) {
		assert_null(err);
		return NULL;
	}
	assert_null(*out);
	assert_non_null(err);
	return err;
}

/* ---- the full example ---------------------------------------------------------- */

static const char full_plan[] =
    "{\n"
    "  \"domain\": \"example.com\",\n"
    "  \"resolvers\": [\"127.0.0.11:5300\"],\n"
    "  \"public_resolvers\": [\"8.8.8.8\", \"1.1.1.1\", \"9.9.9.9\", \"208.67.222.222\"],\n"
    "  \"ca_file\": \"contrib/lab/run/ca.pem\",\n"
    "  \"source\": {\n"
    "    \"profile\": \"rackspace\",\n"
    "    \"imap\": \"imaps://secure.emailsrvr.com:993\",\n"
    "    \"pop3\": \"pop3s://secure.emailsrvr.com:995\",\n"
    "    \"webmail\": \"https://apps.rackspace.com/\",\n"
    "    \"admin\": {\"user\": \"admin@example.com\", \"password\": \"env:SRC_ADMIN_PW\"}\n"
    "  },\n"
    "  \"destination\": {\n"
    "    \"profile\": \"microsoft365\",\n"
    "    \"imap\": \"imaps://outlook.office365.com:993\",\n"
    "    \"webmail\": \"https://outlook.office.com/owa/\",\n"
    "    \"limits\": {\"folder_items\": 10000, \"message_bytes\": 157286400,\n"
    "               \"mailbox_bytes\": 53687091200, \"quota_headroom\": 0.70}\n"
    "  },\n"
    "  \"expect\": {\"mx\": [\"*.mail.protection.outlook.com\"],\n"
    "             \"spf_include\": [\"spf.protection.outlook.com\"],\n"
    "             \"autodiscover\": \"autodiscover.outlook.com\"},\n"
    "  \"mailboxes\": [\n"
    "    {\"source_user\": \"alice@example.com\", \"source_password\": \"env:ALICE_SRC\",\n"
    "     \"dest_user\": \"alice@example.com\", \"dest_password\": \"file:secrets/alice.dst\"}\n"
    "  ],\n"
    "  \"mailboxes_csv\": \"users.csv\",\n"
    "  \"state_dir\": \".cutover\"\n"
    "}\n";

static void
test_full_example(void **state)
{
	struct plan *p = parse_ok(full_plan, "examples/plan.json");

	(void)state;
	assert_string_equal(p->path, "examples/plan.json");
	assert_string_equal(p->dir, "examples");
	assert_string_equal(p->domain, "example.com");
	assert_int_equal(p->n_resolvers, 1);
	assert_string_equal(p->resolvers[0], "127.0.0.11:5300");
	assert_int_equal(p->n_public_resolvers, 4);
	assert_string_equal(p->public_resolvers[3], "208.67.222.222");
	assert_string_equal(p->ca_file, "examples/contrib/lab/run/ca.pem");
	assert_string_equal(p->mailboxes_csv, "examples/users.csv");
	assert_string_equal(p->state_dir, "examples/.cutover");

	assert_true(p->source.present);
	assert_string_equal(p->source.name, "source");
	assert_string_equal(p->source.profile_name, "rackspace");
	assert_non_null(p->source.profile);
	assert_string_equal(p->source.imap->host, "secure.emailsrvr.com");
	assert_int_equal(p->source.imap->port, 993);
	assert_int_equal(p->source.imap->tls, PLAN_TLS_IMPLICIT);
	assert_int_equal(p->source.pop3->port, 995);
	assert_string_equal(p->source.webmail->path, "/");
	assert_string_equal(p->source.admin->user, "admin@example.com");
	assert_string_equal(p->source.admin->password, "env:SRC_ADMIN_PW"); /* unresolved */
	assert_int_equal(p->source.limits.message_bytes, 52428800);         /* rackspace */

	assert_string_equal(p->destination.profile->name, "microsoft365");
	assert_null(p->destination.pop3);
	assert_null(p->destination.admin);
	assert_string_equal(p->destination.webmail->path, "/owa/");
	assert_int_equal(p->destination.limits.folder_items, 10000);
	assert_int_equal(p->destination.limits.message_bytes, 157286400); /* plan wins */
	assert_true(p->destination.limits.mailbox_bytes == 53687091200LL);
	assert_int_equal(p->destination.limits.mailbox_items, 500000); /* profile */
	assert_true(p->destination.limits.quota_headroom > 0.69 &&
	    p->destination.limits.quota_headroom < 0.71);

	assert_int_equal(p->expect.n_mx, 1);
	assert_string_equal(p->expect.mx[0], "*.mail.protection.outlook.com");
	assert_string_equal(p->expect.mx_from, "plan");
	assert_string_equal(p->expect.spf_include_from, "plan");
	assert_string_equal(p->expect.autodiscover_from, "plan");

	assert_int_equal(p->n_mailboxes, 1);
	assert_string_equal(p->mailboxes[0].source_user, "alice@example.com");
	assert_string_equal(p->mailboxes[0].source_password, "env:ALICE_SRC");
	assert_string_equal(p->mailboxes[0].dest_password, "file:secrets/alice.dst");
	assert_string_equal(p->mailboxes[0].origin, "examples/plan.json: mailboxes[0]");
	assert_string_equal(plan_mailbox_label(&p->mailboxes[0]), "alice@example.com");
	assert_int_equal(p->resolved, 0);
	plan_free(p);
}

static void
test_profile_defaults(void **state)
{
	struct plan *p = parse_ok("{\"domain\": \"example.com.\", "
	                          "\"destination\": {\"profile\": \"microsoft365\"}}",
	    "plan.json");

	(void)state;
	assert_string_equal(p->domain, "example.com");
	assert_string_equal(p->dir, ".");
	assert_string_equal(p->state_dir, ".cutover");
	assert_null(p->ca_file);
	assert_false(p->source.present);
	assert_null(p->source.profile);
	assert_int_equal(p->source.limits.folder_items, -1);
	assert_true(p->source.limits.quota_headroom < 0);
	assert_int_equal(p->expect.n_mx, 1);
	assert_string_equal(p->expect.mx[0], "*.mail.protection.outlook.com");
	assert_string_equal(p->expect.mx_from, "microsoft365");
	assert_int_equal(p->expect.n_spf_include, 1);
	assert_string_equal(p->expect.spf_include[0], "spf.protection.outlook.com");
	assert_string_equal(p->expect.spf_include_from, "microsoft365");
	assert_string_equal(p->expect.autodiscover, "autodiscover.outlook.com");
	assert_string_equal(p->expect.autodiscover_from, "microsoft365");
	assert_int_equal(p->destination.limits.message_bytes, 36700160);
	assert_int_equal(p->destination.limits.folder_count, 500);
	assert_int_equal(p->n_mailboxes, 0);
	plan_free(p);
}

static void
test_plan_overrides_profile(void **state)
{
	struct plan *p = parse_ok(
	    "{\"domain\": \"example.com\",\n"
	    " \"destination\": {\"profile\": \"google\",\n"
	    "   \"limits\": {\"message_bytes\": 1000, \"folder_items\": null, \"mailbox_items\": 7,"
	    " \"folder_count\": 0}},\n"
	    " \"expect\": {\"autodiscover\": \"autodiscover.example.net\", \"spf_include\": []}}",
	    NULL);

	(void)state;
	assert_string_equal(p->path, "plan");
	assert_string_equal(p->expect.mx_from, "google");
	assert_int_equal(p->expect.n_mx, 4);
	assert_string_equal(p->expect.autodiscover, "autodiscover.example.net");
	assert_string_equal(p->expect.autodiscover_from, "plan");
	assert_int_equal(p->expect.n_spf_include, 0);
	assert_string_equal(p->expect.spf_include_from, "plan");
	assert_int_equal(p->destination.limits.message_bytes, 1000);
	assert_int_equal(p->destination.limits.folder_items, -1);
	assert_int_equal(p->destination.limits.mailbox_items, 7);
	assert_int_equal(p->destination.limits.folder_count, 0);
	assert_true(p->destination.limits.mailbox_bytes == 32212254720LL);
	plan_free(p);
}

static void
test_relative_paths(void **state)
{
	const char *text = "{\"domain\": \"example.com\", \"ca_file\": \"ca.pem\","
	                   " \"state_dir\": \"/var/lib/cutover\", \"mailboxes_csv\": \"../u.csv\"}";
	struct plan *p = parse_ok(text, "dir/sub/plan.json");

	(void)state;
	assert_string_equal(p->dir, "dir/sub");
	assert_string_equal(p->ca_file, "dir/sub/ca.pem");
	assert_string_equal(p->state_dir, "/var/lib/cutover");
	assert_string_equal(p->mailboxes_csv, "dir/sub/../u.csv");
	plan_free(p);
	p = parse_ok(text, "/plan.json");
	assert_string_equal(p->dir, "/");
	assert_string_equal(p->ca_file, "/ca.pem");
	plan_free(p);
	p = parse_ok(text, "plan.json");
	assert_string_equal(p->ca_file, "ca.pem");
	plan_free(p);
}

static void
test_admin_allows_missing_passwords(void **state)
{
	struct plan *p = parse_ok(
	    "{\"domain\": \"example.com\",\n"
	    " \"source\": {\"imap\": \"imap://[::1]:1143\", \"admin\": {\"user\": \"master\", "
	    "\"password\": \"x\"}},\n"
	    " \"destination\": {\"admin\": {\"user\": \"master\", \"password\": \"y\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"a\", \"dest_user\": \"b\"}]}",
	    "plan.json");

	(void)state;
	assert_null(p->mailboxes[0].source_password);
	assert_null(p->mailboxes[0].dest_password);
	assert_string_equal(p->source.imap->host, "::1");
	assert_int_equal(p->source.imap->port, 1143);
	assert_int_equal(p->source.imap->tls, PLAN_TLS_STARTTLS);
	plan_free(p);
}

/* ---- URLs ----------------------------------------------------------------------- */

static void
url_ok(const char *url, const char *kind, const char *host, int port, enum plan_tls tls,
    const char *path)
{
	struct plan_url u;
	char *err = NULL;

	if (plan_url_parse(url, kind, &u, &err) != 0) {
		print_error("%s: %s\n", url, err);
		free(err);
		fail();
	}
	assert_string_equal(u.url, url);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_int_equal(u.tls, tls);
	if (path == NULL)
		assert_null(u.path);
	else
		assert_string_equal(u.path, path);
	plan_url_clear(&u);
}

static void
url_err(const char *url, const char *kind, const char *want)
{
	struct plan_url u;
	char *err = NULL;

	assert_int_equal(plan_url_parse(url, kind, &u, &err), -1);
	assert_null(u.host);
	assert_string_equal(err, want);
	free(err);
}

static void
test_url(void **state)
{
	(void)state;
	url_ok(
	    "imaps://mail.example.com", "imap", "mail.example.com", 993, PLAN_TLS_IMPLICIT, NULL);
	url_ok(
	    "imap://mail.example.com/", "imap", "mail.example.com", 143, PLAN_TLS_STARTTLS, NULL);
	url_ok("IMAPS://127.0.0.1:10993", "imap", "127.0.0.1", 10993, PLAN_TLS_IMPLICIT, NULL);
	url_ok("pop3s://[2001:db8::1]", "pop3", "2001:db8::1", 995, PLAN_TLS_IMPLICIT, NULL);
	url_ok("pop3://pop.example.com", "pop3", "pop.example.com", 110, PLAN_TLS_STARTTLS, NULL);
	url_ok(
	    "https://owa.example.com", "webmail", "owa.example.com", 443, PLAN_TLS_IMPLICIT, "/");
	url_ok(
	    "http://[::1]:8080/owa/?x=1#frag", "webmail", "::1", 8080, PLAN_TLS_NONE, "/owa/?x=1");
	assert_string_equal(plan_tls_str(PLAN_TLS_STARTTLS), "starttls");

	url_err("imapx://h", "imap", "not a valid URL: the scheme must be imaps:// or imap://");
	url_err("https://h", "pop3", "not a valid URL: the scheme must be pop3s:// or pop3://");
	url_err("mail.example.com", "imap", "not a valid URL: expected imaps://HOST[:PORT]");
	url_err("imaps://", "imap", "not a valid URL: missing host");
	url_err("imaps://bob:" SECRET "@h", "imap",
	    "not a valid URL: user names and passwords do not belong in the URL (use \"admin\" "
	    "or the mailboxes)");
	url_err(
	    "imaps://h:0", "imap", "not a valid URL: the port must be a number from 1 to 65535");
	url_err("imaps://h:70000", "imap",
	    "not a valid URL: the port must be a number from 1 to 65535");
	url_err("imaps://h:", "imap", "not a valid URL: the port must be a number from 1 to 65535");
	url_err("imaps://h/INBOX", "imap", "not a valid URL: imap URLs take no path");
	url_err("imaps://::1:993", "imap",
	    "not a valid URL: an IPv6 address needs brackets ([::1]:993)");
	url_err("imaps://[::1", "imap", "not a valid URL: '[' of an IPv6 address is not closed");
	url_err("imaps://[zz]:1", "imap", "not a valid URL: bad IPv6 address in brackets");
	url_err("imaps://bad_host!", "imap", "not a valid URL: bad host name");
	url_err("imaps://h .com", "imap", "not a valid URL: contains spaces or control characters");
}

/* ---- JSON syntax errors ------------------------------------------------------------ */

static void
test_syntax_errors(void **state)
{
	(void)state;
	parse_err("", "plan.json:1:1: syntax error: empty file (expected a JSON object)");
	parse_err("{\n  \"domain\": \"a.com\",\n}",
	    "plan.json:2:20: syntax error: trailing comma before '}'");
	parse_err("{\"resolvers\": [\"1.1.1.1\",]}",
	    "plan.json:1:25: syntax error: trailing comma before ']'");
	parse_err("{\n  \"domain\": \"a.com\"\n  \"state_dir\": \"x\"}",
	    "plan.json:3:3: syntax error: expected ',' or '}' (missing comma?)");
	parse_err("{\n  \"domain\": \"a.com,\n  \"x\": 1}",
	    "plan.json:2:13: syntax error: unterminated string (a string cannot span lines)");
	parse_err("{\"domain\": \"a.com", "plan.json:1:12: syntax error: unterminated string");
	parse_err("{\n  \"domain\": \"a.com\"",
	    "plan.json:2:20: syntax error: unexpected end of input ('{' from line 1 is not "
	    "closed)");
	parse_err("{\"a\": \"\\q\"}",
	    "plan.json:1:8: syntax error: invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f "
	    "\\n \\r \\t \\uXXXX)");
	parse_err("{\"a\": \"\\u12\"}",
	    "plan.json:1:8: syntax error: invalid \\u escape (expected 4 hex digits)");
	parse_err("{\"a\": \"\\udc00\"}",
	    "plan.json:1:8: syntax error: invalid \\u escape (lone low surrogate)");
	parse_err("{\"a\": \"x\ty\"}",
	    "plan.json:1:9: syntax error: control character 0x09 in a string (write it as "
	    "\\u0009)");
	parse_err("{\"a\": 01}", "plan.json:1:7: syntax error: invalid number (leading zero)");
	parse_err("{\"a\": 1.}",
	    "plan.json:1:7: syntax error: invalid number (digits expected after '.')");
	parse_err("{\"a\": -}", "plan.json:1:7: syntax error: invalid number");
	parse_err("{\"a\": 1234567890123456789012345678901234567890123456789012345678901234}",
	    "plan.json:1:7: syntax error: number too long");
	parse_err(
	    "// comment\n{}", "plan.json:1:1: syntax error: comments are not allowed in JSON");
	parse_err("{'domain': 1}",
	    "plan.json:1:2: syntax error: single quotes are not JSON (use double quotes)");
	parse_err("{\"domain\" 1}",
	    "plan.json:1:11: syntax error: unexpected unquoted text (expected ':' after the key)");
	parse_err("{\"a\": [1 2]}",
	    "plan.json:1:10: syntax error: unexpected unquoted text (expected ',' or ']')");
	parse_err("{\"a\": 1} }",
	    "plan.json:1:10: syntax error: unexpected text after the end of the JSON value");
	parse_err("{\"a\": }", "plan.json:1:7: syntax error: expected a value");
	parse_err("{\"a\": @}", "plan.json:1:7: syntax error: unexpected character '@'");
	parse_err("{\"a\":\n\x01}", "plan.json:2:1: syntax error: unexpected byte 0x01");
	/* columns count characters, not bytes */
	parse_err(
	    "{\"d\u00e9j\u00e0\": 1,}", "plan.json:1:11: syntax error: trailing comma before '}'");
	/* a UTF-8 BOM is fine */
	plan_free(parse_ok("\xef\xbb\xbf{\"domain\": \"example.com\"}", "plan.json"));
}

static void
test_syntax_depth(void **state)
{
	char buf[300];
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++)
		buf[i] = '[';
	buf[100] = '\0';
	parse_err(buf, "plan.json:1:65: syntax error: nested too deeply (more than 64 levels)");
}

/* ---- semantic errors ---------------------------------------------------------------- */

static void
test_semantic_errors(void **state)
{
	(void)state;
	parse_err("[]", "plan.json: the plan must be a JSON object, found an array");
	parse_err("{}", "plan.json: domain: missing (the domain being migrated, \"example.com\")");
	parse_err("{\n  \"domain\": 42}", "plan.json:2: domain: expected a string, found a number");
	parse_err("{\"domain\": \"\"}", "plan.json:1: domain: empty");
	parse_err("{\"domain\": \"ex ample.com\"}",
	    "plan.json:1: domain: not a valid domain name (international names: use the xn-- "
	    "form)");
	parse_err(
	    "{\"domain\": \"a.com\", \"domain\": \"b.com\"}", "plan.json:1: domain: duplicate key");
	parse_err("{\"domain\": \"a.com\",\n \"resolvers\": [\"1.1.1.1\",\n \"dns.google\"]}",
	    "plan.json:3: resolvers[1]: not an IP address (ADDR, ADDR:PORT or [IPV6]:PORT)");
	parse_err("{\"domain\": \"a.com\", \"resolvers\": \"1.1.1.1\"}",
	    "plan.json:1: resolvers: expected an array of strings, found a string");
	parse_err("{\"domain\": \"a.com\",\n \"source\": []}",
	    "plan.json:2: source: expected an object, found an array");
	parse_err("{\"domain\": \"a.com\",\n \"source\": {\n  \"imap\": \"imapx://h\"}}",
	    "plan.json:3: source.imap: not a valid URL: the scheme must be imaps:// or imap://");
	parse_err("{\"domain\": \"a.com\",\n \"destination\": {\"limits\": {\n"
	          "  \"quota_headroom\": 70}}}",
	    "plan.json:3: destination.limits.quota_headroom: expected a share of the quota above 0 "
	    "and at most 1 (0.70 = 70%)");
	parse_err("{\"domain\": \"a.com\", \"destination\": {\"limits\": {\"folder_items\": 1.5}}}",
	    "plan.json:1: destination.limits.folder_items: expected a whole number >= 0");
	parse_err(
	    "{\"domain\": \"a.com\", \"destination\": {\"limits\": {\"folder_items\": \"10\"}}}",
	    "plan.json:1: destination.limits.folder_items: expected a number, found a string");
	parse_err("{\"domain\": \"a.com\", \"source\": {\"admin\": {\"user\": \"m\"}}}",
	    "plan.json:1: source.admin.password: missing");
	parse_err("{\"domain\": \"a.com\", \"expect\": {\"mx\": [\"*.ok.com\", \"bad..com\"]}}",
	    "plan.json:1: expect.mx[1]: not a host name or \"*.\" pattern");
}

static void
test_unknown_keys(void **state)
{
	(void)state;
	parse_err("{\"domain\": \"a.com\",\n \"source\": {\n  \"imapp\": \"imaps://h\"}}",
	    "plan.json:3: source.imapp: unknown key (did you mean \"imap\"?)");
	parse_err("{\"domian\": \"a.com\"}",
	    "plan.json:1: domian: unknown key (did you mean \"domain\"?)");
	parse_err("{\"domain\": \"a.com\", \"colour\": 1}",
	    "plan.json:1: colour: unknown key (valid keys: domain, resolvers, public_resolvers, "
	    "ca_file, source, destination, expect, mailboxes, mailboxes_csv, state_dir, sync)");
	parse_err("{\"domain\": \"a.com\", \"source\": {\"admin\": {\"usr\": \"m\"}}}",
	    "plan.json:1: source.admin.usr: unknown key (did you mean \"user\"?)");
	parse_err("{\"domain\": \"a.com\", \"destination\": {\"limits\": {\"folder_item\": 1}}}",
	    "plan.json:1: destination.limits.folder_item: unknown key (did you mean "
	    "\"folder_items\"?)");
	parse_err("{\"domain\": \"a.com\", \"expect\": {\"spf\": []}}",
	    "plan.json:1: expect.spf: unknown key (valid keys: mx, spf_include, autodiscover, "
	    "verification, go_live)");
	parse_err("{\"domain\": \"a.com\",\n \"mailboxes\": [\n  {\"source_user\": \"a\", "
	          "\"source_password\": \"p\", \"dest_user\": \"a\", \"dest_password\": \"p\"},\n"
	          "  {\"source_usr\": \"b\"}]}",
	    "plan.json:4: mailboxes[1].source_usr: unknown key (did you mean \"source_user\"?)");
	parse_err("{\"domain\": \"a.com\", \"\\u0001\": 1}",
	    "plan.json: ?: unknown key (valid keys: domain, resolvers, public_resolvers, ca_file, "
	    "source, destination, expect, mailboxes, mailboxes_csv, state_dir, sync)");
}

static void
test_sync_folder_map(void **state)
{
	struct plan *p;

	(void)state;
	p = parse_ok("{\"domain\": \"a.com\",\n \"sync\": {\"folder_map\": {\n"
	             "  \"Old/Name\": \"New/Name\",\n  \"Junk\": null,\n"
	             "  \"Entw\u00fcrfe\": \"Drafts\"}}}",
	    "plan.json");
	assert_int_equal(p->sync.n_folder_map, 3);
	assert_string_equal(p->sync.folder_map[0].from, "Old/Name");
	assert_string_equal(p->sync.folder_map[0].to, "New/Name");
	assert_string_equal(p->sync.folder_map[0].at, "plan.json:3: sync.folder_map.Old/Name");
	assert_string_equal(p->sync.folder_map[1].from, "Junk");
	assert_null(p->sync.folder_map[1].to);
	assert_string_equal(p->sync.folder_map[2].from, "Entw\xc3\xbcrfe");
	plan_free(p);
	p = parse_ok("{\"domain\": \"a.com\"}", "plan.json");
	assert_int_equal(p->sync.n_folder_map, 0);
	plan_free(p);

	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_mapp\": {}}}",
	    "plan.json:1: sync.folder_mapp: unknown key (did you mean \"folder_map\"?)");
	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_map\": [\"Junk\"]}}",
	    "plan.json:1: sync.folder_map: expected an object (source folder -> destination "
	    "folder or null), found an array");
	parse_err("{\"domain\": \"a.com\",\n \"sync\": {\"folder_map\": {\n  \"Junk\": 1}}}",
	    "plan.json:3: sync.folder_map.Junk: expected a destination folder name or null "
	    "(leave the folder out), found a number");
	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_map\": {\"A\": \"x//y\"}}}",
	    "plan.json:1: sync.folder_map.A: not a folder name (levels separated by one '/', "
	    "none empty)");
	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_map\": {\"A\": \"\"}}}",
	    "plan.json:1: sync.folder_map.A: not a folder name (levels separated by one '/', "
	    "none empty)");
	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_map\": {\"\": \"B\"}}}",
	    "plan.json:1: sync.folder_map.: empty source folder name");
	parse_err("{\"domain\": \"a.com\", \"sync\": {\"folder_map\": {\"A\": \"B\", "
	          "\"A\": null}}}",
	    "plan.json:1: sync.folder_map.A: duplicate key");
}

static void
test_unknown_profile(void **state)
{
	(void)state;
	parse_err("{\"domain\": \"a.com\",\n \"destination\": {\"profile\": \"microsoft356\"}}",
	    "plan.json:2: destination.profile: unknown profile \"microsoft356\" (did you mean "
	    "\"microsoft365\"? profiles: microsoft365, rackspace, google, generic)");
	parse_err("{\"domain\": \"a.com\", \"source\": {\"profile\": \"zimbra-cloud\"}}",
	    "plan.json:1: source.profile: unknown profile \"zimbra-cloud\" (profiles: "
	    "microsoft365, rackspace, google, generic)");
}

static void
test_mailbox_errors(void **state)
{
	(void)state;
	parse_err("{\"domain\": \"a.com\",\n \"mailboxes\": [\n"
	          "  {\"source_user\": \"a\", \"source_password\": \"p\", \"dest_user\": \"a\","
	          " \"dest_password\": \"p\"},\n"
	          "  {\"source_user\": \"b\", \"source_password\": \"p\", \"dest_user\": \"b\","
	          " \"dest_password\": \"p\"},\n"
	          "  {\"source_user\": \"c\", \"source_password\": \"p\",\n"
	          "   \"dest_password\": \"p\"}]}",
	    "plan.json:5: mailboxes[2].dest_user: missing");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"dest_user\": \"b\", \"dest_password\": \"p\"}]}",
	    "plan.json:1: mailboxes[0].source_password: missing (and source has no \"admin\" to "
	    "log in with)");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": 7}]}",
	    "plan.json:1: mailboxes[0].source_user: expected a string, found a number");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [\"alice\"]}",
	    "plan.json:1: mailboxes[0]: expected an object, found a string");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": {}}",
	    "plan.json:1: mailboxes: expected an array of objects, found an object");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \" a\"}]}",
	    "plan.json:1: mailboxes[0].source_user: has leading or trailing spaces");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"source_password\": \"env:1X\"}]}",
	    "plan.json:1: mailboxes[0].source_password: env: needs a variable name (letters, "
	    "digits and _)");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"source_password\": \"file:\"}]}",
	    "plan.json:1: mailboxes[0].source_password: file: needs a path");
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"source_password\": \"\"}]}",
	    "plan.json:1: mailboxes[0].source_password: empty");
	parse_err(
	    "{\"domain\": \"a.com\", \"source\": {\"admin\": {\"user\": \"m\", \"password\": "
	    "\"p\"}},\n \"destination\": {\"admin\": {\"user\": \"m\", \"password\": \"p\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"a@x\", \"dest_user\": \"a@y\"},\n"
	    "  {\"source_user\": \"A@X\", \"dest_user\": \"b@y\"}]}",
	    "plan.json: mailboxes[1]: source_user \"A@X\" is listed twice (first at plan.json: "
	    "mailboxes[0])");
}

/* A password never appears in a message, whatever else is wrong. */
static void
test_secret_never_in_errors(void **state)
{
	(void)state;
	/* literal password plus an error later in the same mailbox */
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"source_password\": \"" SECRET "\", \"dest_user\": \"b\", \"dest_pasword\": "
	          "\"x\"}]}",
	    "plan.json:1: mailboxes[0].dest_pasword: unknown key (did you mean "
	    "\"dest_password\"?)");
	/* the password unquoted: a syntax error that must not quote it */
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_password\": " SECRET "}]}",
	    "plan.json:1:55: syntax error: unexpected unquoted text (strings need double quotes)");
	/* a password of the wrong type: the type only */
	parse_err("{\"domain\": \"a.com\", \"source\": {\"admin\": {\"user\": \"m\", \"password\": "
	          "[\"" SECRET "\"]}}}",
	    "plan.json:1: source.admin.password: expected a string, found an array");
	/* a line break inside the password */
	parse_err("{\"domain\": \"a.com\", \"source\": {\"admin\": {\"user\": \"m\", \"password\": "
	          "\"" SECRET "\\n\"}}}",
	    "plan.json:1: source.admin.password: contains a line break");
	/* in a URL */
	parse_err("{\"domain\": \"a.com\", \"source\": {\"imap\": \"imaps://u:" SECRET "@h\"}}",
	    "plan.json:1: source.imap: not a valid URL: user names and passwords do not belong "
	    "in the URL (use \"admin\" or the mailboxes)");
	/* CSV without a header: its first line holds a password */
	csv_err("alice," SECRET ",bob,x\n",
	    "users.csv:1: the first line must be the header "
	    "source_user,source_password,dest_user,dest_password (or Microsoft 365's "
	    "EmailAddress,UserName,Password)");
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "a," SECRET ",b\n",
	    "users.csv:2: expected 4 fields, found 3 (dest_password is missing)");
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "a,\"" SECRET "\"x,b,c\n",
	    "users.csv:2: source_password: unexpected text after a closing quote (double a "
	    "quote inside a quoted field)");
}

/* ---- secrets: env: and file: -------------------------------------------------------- */

static void
test_resolve_env_and_file(void **state)
{
	char *dir = make_tmpdir(), *sub, *f, *err;
	struct plan *p = NULL;

	(void)state;
	sub = xasprintf("%s/secrets", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	f = write_file(dir, "secrets/alice.dst", "file-pass-1\r\nsecond line\n");
	free(f);
	f = write_file(dir, "admin.pw", "admin-pass");
	free(f);
	assert_int_equal(setenv("CUTOVER_TEST_ALICE_SRC", "env-pass-1", 1), 0);
	err = load_in_dir(dir,
	    "{\"domain\": \"example.com\",\n"
	    " \"source\": {\"admin\": {\"user\": \"m\", \"password\": \"file:admin.pw\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"alice@example.com\",\n"
	    "   \"source_password\": \"env:CUTOVER_TEST_ALICE_SRC\",\n"
	    "   \"dest_user\": \"alice@example.com\", \"dest_password\": "
	    "\"file:secrets/alice.dst\"},\n"
	    "  {\"source_user\": \"bob@example.com\", \"dest_user\": \"bob@example.com\",\n"
	    "   \"dest_password\": \"literal pass\"}]}",
	    &p);
	assert_null(err);
	assert_true(p->resolved);
	assert_string_equal(p->source.admin->password, "admin-pass");
	assert_string_equal(p->mailboxes[0].source_password, "env-pass-1");
	assert_string_equal(p->mailboxes[0].dest_password, "file-pass-1");
	assert_null(p->mailboxes[1].source_password);
	assert_string_equal(p->mailboxes[1].dest_password, "literal pass");
	assert_int_equal(plan_resolve(p, &err), 0); /* again: nothing to do */
	plan_free(p);
	unsetenv("CUTOVER_TEST_ALICE_SRC");
	rm_tree(dir);
	free(sub);
	free(dir);
}

static void
test_resolve_missing_env(void **state)
{
	struct plan *p =
	    parse_ok("{\"domain\": \"a.com\",\n \"mailboxes\": [\n"
	             "  {\"source_user\": \"a\", \"source_password\": \"env:CUTOVER_TEST_NOPE\","
	             "\n   \"dest_user\": \"b\", \"dest_password\": \"" SECRET "\"}]}",
	        "plan.json");
	char *err = NULL;

	(void)state;
	unsetenv("CUTOVER_TEST_NOPE");
	assert_int_equal(plan_resolve(p, &err), -1);
	assert_string_equal(err,
	    "plan.json:3: mailboxes[0].source_password: environment "
	    "variable CUTOVER_TEST_NOPE is not set");
	assert_null(strstr(err, SECRET));
	free(err);
	plan_free(p);

	p = parse_ok("{\"domain\": \"a.com\", \"destination\": {\"admin\": {\"user\": \"m\", "
	             "\"password\": \"env:CUTOVER_TEST_EMPTY\"}}}",
	    "plan.json");
	assert_int_equal(setenv("CUTOVER_TEST_EMPTY", "", 1), 0);
	assert_int_equal(plan_resolve(p, &err), -1);
	assert_string_equal(err,
	    "plan.json:1: destination.admin.password: environment variable "
	    "CUTOVER_TEST_EMPTY is empty");
	free(err);
	unsetenv("CUTOVER_TEST_EMPTY");
	plan_free(p);
}

static void
test_resolve_unreadable_file(void **state)
{
	char *dir = make_tmpdir(), *err, *want, *f, *tmpl;
	struct plan *p = NULL;
	int fd;

	(void)state;
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\",\n \"mailboxes\": [{\"source_user\": \"a\",\n"
	    "  \"source_password\": \"file:nope/missing.pw\",\n"
	    "  \"dest_user\": \"b\", \"dest_password\": \"" SECRET "\"}]}",
	    &p);
	want = xasprintf("%s/plan.json:3: mailboxes[0].source_password: cannot read "
	                 "%s/nope/missing.pw: No such file or directory",
	    dir, dir);
	assert_string_equal(err, want);
	assert_null(strstr(err, SECRET));
	free(want);
	free(err);

	/* a secret file with an empty first line; and a file: secret never leaks */
	f = write_file(dir, "empty.pw", "\nsecond\n");
	free(f);
	tmpl = xasprintf("%s/pwXXXXXX", dir);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, SECRET "\n", strlen(SECRET) + 1), (ssize_t)strlen(SECRET) + 1);
	close(fd);
	want = xasprintf("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	                 "\"source_password\": \"file:%s\", \"dest_user\": \"b\", "
	                 "\"dest_password\": \"file:empty.pw\"}]}",
	    tmpl);
	err = load_in_dir(dir, want, &p);
	free(want);
	want = xasprintf("%s/plan.json:1: mailboxes[0].dest_password: %s/empty.pw: the first "
	                 "line is empty",
	    dir, dir);
	assert_string_equal(err, want);
	assert_null(strstr(err, SECRET));
	free(want);
	free(err);

	/* a folder is not a file */
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\", \"source\": {\"admin\": {\"user\": "
	    "\"m\", \"password\": \"file:.\"}}}",
	    &p);
	assert_non_null(strstr(err, "source.admin.password: cannot read "));
	assert_non_null(strstr(err, "Is a directory"));
	free(err);

	free(tmpl);
	rm_tree(dir);
	free(dir);
}

static void
test_load_errors(void **state)
{
	struct plan *p = NULL;
	char *err = NULL, *dir = make_tmpdir(), *want;

	(void)state;
	assert_int_equal(plan_load("/nonexistent/cutover/plan.json", &p, &err), -1);
	assert_string_equal(err,
	    "cannot read /nonexistent/cutover/plan.json: No such file or "
	    "directory");
	free(err);

	err = load_in_dir(dir, "{\n\"domain\": \"a.com\",\n\"mailboxes_csv\": \"users.csv\"}", &p);
	want = xasprintf("%s/plan.json:3: mailboxes_csv: cannot read %s/users.csv: No such file "
	                 "or directory",
	    dir, dir);
	assert_string_equal(err, want);
	free(want);
	free(err);

	err = load_in_dir(dir, "{\"domain\": \"a.com\",\n \"x\": 1}", &p);
	want = xasprintf("%s/plan.json:2: x: unknown key (valid keys: domain, resolvers, "
	                 "public_resolvers, ca_file, source, destination, expect, mailboxes, "
	                 "mailboxes_csv, state_dir, sync)",
	    dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	rm_tree(dir);
	free(dir);
}

static void
test_load_with_csv(void **state)
{
	char *dir = make_tmpdir(), *f, *err, *want;
	struct plan *p = NULL;

	(void)state;
	f = write_file(dir, "users.csv",
	    "source_user,source_password,dest_user,dest_password\r\n"
	    "bob@example.com,\"pw,with,commas\",bob@example.com,env:CUTOVER_TEST_BOB\r\n"
	    "carol@example.com,,carol@example.com,x\r\n");
	free(f);
	assert_int_equal(setenv("CUTOVER_TEST_BOB", "bob-dst", 1), 0);
	err = load_in_dir(dir,
	    "{\"domain\": \"example.com\", \"mailboxes_csv\": \"users.csv\",\n"
	    " \"source\": {\"admin\": {\"user\": \"m\", \"password\": \"mp\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"alice@example.com\", "
	    "\"dest_user\": \"alice@example.com\", \"dest_password\": \"a\"}]}",
	    &p);
	assert_null(err);
	assert_int_equal(p->n_mailboxes, 3);
	assert_string_equal(p->mailboxes[1].source_user, "bob@example.com");
	assert_string_equal(p->mailboxes[1].source_password, "pw,with,commas");
	assert_string_equal(p->mailboxes[1].dest_password, "bob-dst");
	assert_null(p->mailboxes[2].source_password);
	want = xasprintf("%s/users.csv:3", dir);
	assert_string_equal(p->mailboxes[2].origin, want);
	free(want);
	plan_free(p);

	/* the CSV row needs a password when the side has no admin */
	err =
	    load_in_dir(dir, "{\"domain\": \"example.com\", \"mailboxes_csv\": \"users.csv\"}", &p);
	want = xasprintf("%s/users.csv:3: source_password: empty (and source has no \"admin\" "
	                 "to log in with)",
	    dir);
	assert_string_equal(err, want);
	free(want);
	free(err);

	/* env reference inside the CSV */
	unsetenv("CUTOVER_TEST_BOB");
	err = load_in_dir(dir,
	    "{\"domain\": \"example.com\", \"mailboxes_csv\": \"users.csv\",\n"
	    " \"source\": {\"admin\": {\"user\": \"m\", \"password\": \"mp\"}}}",
	    &p);
	want = xasprintf("%s/users.csv:2: dest_password: environment variable CUTOVER_TEST_BOB "
	                 "is not set",
	    dir);
	assert_string_equal(err, want);
	assert_null(strstr(err, "pw,with,commas"));
	free(want);
	free(err);

	/* duplicate between the plan and the CSV */
	assert_int_equal(setenv("CUTOVER_TEST_BOB", "bob-dst", 1), 0);
	err = load_in_dir(dir,
	    "{\"domain\": \"example.com\", \"mailboxes_csv\": \"users.csv\",\n"
	    " \"source\": {\"admin\": {\"user\": \"m\", \"password\": \"mp\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"carol@example.com\", "
	    "\"dest_user\": \"c\", \"dest_password\": \"a\"}]}",
	    &p);
	want = xasprintf("%s/users.csv:3: source_user \"carol@example.com\" is listed twice "
	                 "(first at %s/plan.json: mailboxes[0])",
	    dir, dir);
	assert_string_equal(err, want);
	free(want);
	free(err);

	/* a CSV syntax error is reported with the CSV's own name and line */
	f = write_file(dir, "users.csv",
	    "source_user,source_password,dest_user,dest_password\n"
	    "a,b,c,d\n"
	    "e,\"never closed,f,g\n");
	free(f);
	err =
	    load_in_dir(dir, "{\"domain\": \"example.com\", \"mailboxes_csv\": \"users.csv\"}", &p);
	want = xasprintf("%s/users.csv:3: source_password: quoted field is never closed (the "
	                 "quote opens here)",
	    dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	unsetenv("CUTOVER_TEST_BOB");
	rm_tree(dir);
	free(dir);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void
test_csv_quotes(void **state)
{
	const char *text = "source_user,source_password,dest_user,dest_password\n"
	                   "a@x,\"p,w\",b@x,\"say \"\"hi\"\"\"\n"
	                   "\"c@x\",\"\",d@x,\n"
	                   "e@x,\"\"\"\",f@x,g";
	struct plan_mailbox *m;
	size_t n = 0;

	(void)state;
	m = csv_ok(text, strlen(text), &n);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].source_user, "a@x");
	assert_string_equal(m[0].source_password, "p,w");
	assert_string_equal(m[0].dest_user, "b@x");
	assert_string_equal(m[0].dest_password, "say \"hi\"");
	assert_string_equal(m[0].origin, "users.csv:2");
	assert_string_equal(m[0].source_password_at, "users.csv:2: source_password");
	assert_string_equal(m[1].source_user, "c@x");
	assert_null(m[1].source_password);
	assert_null(m[1].dest_password);
	assert_string_equal(m[2].source_password, "\"");
	assert_string_equal(m[2].dest_password, "g"); /* no trailing newline */
	csv_free(m, n);
}

static void
test_csv_crlf_bom_blank_order(void **state)
{
	const char text[] = "\xef\xbb\xbf Dest_User , source_user,source_password,dest_password\r\n"
	                    "\r\n"
	                    "b@x, a@x ,p,q\r\n"
	                    "   \r\n"
	                    "\n"
	                    "d@x,c@x,env:C_PW,file:c.pw\r\n";
	struct plan_mailbox *m;
	size_t n = 0;

	(void)state;
	m = csv_ok(text, sizeof(text) - 1, &n);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].source_user, "a@x"); /* trimmed */
	assert_string_equal(m[0].dest_user, "b@x");
	assert_string_equal(m[0].source_password, "p");
	assert_string_equal(m[0].dest_password, "q");
	assert_string_equal(m[0].origin, "users.csv:3");
	assert_string_equal(m[1].origin, "users.csv:6");
	assert_string_equal(m[1].source_password, "env:C_PW"); /* not resolved */
	assert_string_equal(m[1].dest_password, "file:c.pw");
	csv_free(m, n);

	m = csv_ok("source_user,source_password,dest_user,dest_password\n", 52, &n);
	assert_int_equal(n, 0);
	free(m);
}

static void
test_csv_embedded_newline(void **state)
{
	(void)state;
	/* the quoted field spans lines 2-3; the next record starts on line 4 */
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "a,\"two\nlines\",b,c\n"
	        "d,e,f\n",
	    "users.csv:2: source_password: contains a line break");
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "a,\"x,\ny\"\"\",b\n",
	    "users.csv:2: expected 4 fields, found 3 (dest_password is missing)");
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "\"a\",\"b\",\"c\",\"d\"\n"
	        "x,\"one\r\ntwo\r\nthree\",y,\"z\n",
	    "users.csv:5: dest_password: quoted field is never closed (the quote opens here)");
	csv_err("source_user,source_password,dest_user,dest_password\n"
	        "x,\"one\r\ntwo\r\nthree\",y,z,extra\n",
	    "users.csv:2: expected 4 fields, found 5 (a comma in a value needs quotes)");
}

static void
test_csv_header_errors(void **state)
{
	(void)state;
	csv_err("",
	    "users.csv: empty file (expected the header "
	    "source_user,source_password,dest_user,dest_password)");
	csv_err("\xef\xbb\xbf\r\n\r\n",
	    "users.csv: empty file (expected the header "
	    "source_user,source_password,dest_user,dest_password)");
	csv_err("source_user,source_password,dest_password\na,b,c\n",
	    "users.csv:1: missing column dest_user");
	csv_err("source_user,source_password,dest_user,dest_pasword\na,b,c,d\n",
	    "users.csv:1: unknown column \"dest_pasword\" (did you mean \"dest_password\"?)");
	csv_err("source_user,source_user,dest_user,dest_password\n",
	    "users.csv:1: column source_user appears twice");
	csv_err("\n\nsource_password,dest_user\n", "users.csv:3: missing column source_user");
}

static void
test_csv_row_errors(void **state)
{
	(void)state;
	csv_err("source_user,source_password,dest_user,dest_password\na,b,c\n",
	    "users.csv:2: expected 4 fields, found 3 (dest_password is missing)");
	csv_err("source_user,source_password,dest_user,dest_password\na,b,c,d,e\n",
	    "users.csv:2: expected 4 fields, found 5 (a comma in a value needs quotes)");
	csv_err("source_user,source_password,dest_user,dest_password\na,b,c,d\n\nx,\"open,y,z\n"
	        "more\n",
	    "users.csv:4: source_password: quoted field is never closed (the quote opens here)");
	csv_err("source_user,source_password,dest_user,dest_password\na,b\"c,d,e\n",
	    "users.csv:2: source_password: quote inside an unquoted field (quote the whole field "
	    "and double the quote)");
	csv_err("source_user,source_password,dest_user,dest_password\n,b,c,d\n",
	    "users.csv:2: source_user: empty");
	csv_err("dest_user,source_user,source_password,dest_password\n\"\",a,b,c\n",
	    "users.csv:2: dest_user: empty");
	csv_err("source_user,source_password,dest_user,dest_password\na,env:,c,d\n",
	    "users.csv:2: source_password: env: needs a variable name (letters, digits and _)");
}

static void
test_csv_nul_byte(void **state)
{
	const char text[] = "source_user,source_password,dest_user,dest_password\na,b,c,d\0e\n";
	struct plan_mailbox *mbs = NULL;
	size_t n;
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    plan_csv_parse(text, sizeof(text) - 1, "users.csv", &mbs, &n, NULL, &err), -1);
	assert_string_equal(err, "users.csv:2: dest_password: contains a NUL byte");
	free(err);
}

/* parse TEXT that must succeed; returns the rows and the warnings in *WARN */
static struct plan_mailbox *
csv_ok_warn(const char *text, size_t len, size_t *n, char **warn)
{
	struct plan_mailbox *mbs = NULL;
	char *err = NULL;

	if (plan_csv_parse(text, len, "users.csv", &mbs, n, warn, &err) != 0) {
		print_error("unexpected error: %s\n", err);
		fail();
	}
	return mbs;
}

/* Semicolon (Excel with a decimal comma) and tab separated sheets. */
static void
test_csv_separators(void **state)
{
	const char semi[] = "source_user;source_password;dest_user;dest_password\r\n"
	                    "a@x.com;\"p;w\";b@y.com;q,r\r\n";
	const char tab[] = "source_user\tsource_password\tdest_user\tdest_password\n"
	                   "a@x.com\tp w\tb@y.com\tq;r\n";
	struct plan_mailbox *m;
	char *warn = NULL;
	size_t n;

	(void)state;
	m = csv_ok_warn(semi, sizeof(semi) - 1, &n, &warn);
	assert_int_equal(n, 1);
	assert_null(warn);
	assert_string_equal(m[0].source_user, "a@x.com");
	assert_string_equal(m[0].source_password, "p;w");
	assert_string_equal(m[0].dest_user, "b@y.com");
	assert_string_equal(m[0].dest_password, "q,r");
	csv_free(m, n);
	m = csv_ok_warn(tab, sizeof(tab) - 1, &n, &warn);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].source_password, "p w");
	assert_string_equal(m[0].dest_password, "q;r");
	csv_free(m, n);
	/* errors name the separator */
	csv_err("source_user;source_password;dest_user;dest_password\na;b;c\n",
	    "users.csv:2: expected 4 fields, found 3 (dest_password is missing) (fields "
	    "separated by semicolons)");
	csv_err("source_user\tsource_password\tdest_user\tdest_password\na\tb\tc\td\te\n",
	    "users.csv:2: expected 4 fields, found 5 (a tab in a value needs quotes) (fields "
	    "separated by tabs)");
}

/* Microsoft 365's migration batch sheet, any case; extra columns warned once. */
static void
test_csv_m365_header_and_extra_columns(void **state)
{
	const char m365[] = "EmailAddress,UserName,Password\n"
	                    "alice@contoso.com,alice@old.example,env:ALICE\n";
	const char extra[] = "SOURCE_USER,Notes,source_password,Dest_User,dest_password,Dept\n"
	                     "a@x.com,VIP " SECRET ",p,b@y.com,q,sales\n";
	struct plan_mailbox *m;
	char *warn = NULL;
	size_t n;

	(void)state;
	m = csv_ok_warn(m365, sizeof(m365) - 1, &n, &warn);
	assert_int_equal(n, 1);
	assert_null(warn);
	assert_string_equal(m[0].dest_user, "alice@contoso.com");
	assert_string_equal(m[0].source_user, "alice@old.example");
	assert_string_equal(m[0].source_password, "env:ALICE");
	assert_null(m[0].dest_password);
	csv_free(m, n);
	m = csv_ok_warn(extra, sizeof(extra) - 1, &n, &warn);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].source_user, "a@x.com");
	assert_string_equal(m[0].dest_user, "b@y.com");
	assert_non_null(warn);
	assert_string_equal(warn,
	    "users.csv:1: ignoring columns \"Notes\", \"Dept\" (cutover "
	    "reads source_user, source_password, dest_user, dest_password)");
	assert_null(strstr(warn, SECRET));
	free(warn);
	csv_free(m, n);
}

/* A BOM is skipped; Windows-1252 is converted with a warning; other bytes refused. */
static void
test_csv_encodings(void **state)
{
	const char bom[] = "\xef\xbb\xbfsource_user,source_password,dest_user,dest_password\n"
	                   "j\xc3\xbcrgen@x.com,p,j@y.com,q\n";
	const char cp1252[] = "source_user,source_password,dest_user,dest_password\n"
	                      "a@x.com,p,b@y.com,q\n"
	                      "j\xfcrgen@x.com,p\x80,j@y.com,q\n";
	const char neither[] = "source_user,source_password,dest_user,dest_password\n"
	                       "a@x.com,p\x81,b@y.com,q\n";
	struct plan_mailbox *m;
	char *warn = NULL;
	size_t n;

	(void)state;
	m = csv_ok_warn(bom, sizeof(bom) - 1, &n, &warn);
	assert_int_equal(n, 1);
	assert_null(warn);
	assert_string_equal(m[0].source_user, "j\xc3\xbcrgen@x.com");
	csv_free(m, n);
	m = csv_ok_warn(cp1252, sizeof(cp1252) - 1, &n, &warn);
	assert_int_equal(n, 2);
	assert_string_equal(m[1].source_user, "j\xc3\xbcrgen@x.com");
	assert_string_equal(m[1].source_password, "p\xe2\x82\xac"); /* the euro sign */
	assert_string_equal(m[1].origin, "users.csv:3");
	assert_non_null(warn);
	assert_string_equal(warn,
	    "users.csv:3: not UTF-8 (byte 74 is 0xfc); read as Windows-1252 "
	    "(save the sheet as \"CSV UTF-8\" to avoid this)");
	free(warn);
	csv_free(m, n);
	csv_err(neither,
	    "users.csv:2: byte 62 (0x81) is neither UTF-8 nor Windows-1252; save the "
	    "sheet as \"CSV UTF-8\"");
}

/* ENV:/File: are references in the wrong case, never literal passwords. */
static void
test_secret_reference_case(void **state)
{
	(void)state;
	csv_err("source_user,source_password,dest_user,dest_password\na,ENV:PW,b,c\n",
	    "users.csv:2: source_password: did you mean env: (lower case)? a reference is "
	    "env:NAME or file:PATH");
	csv_err("source_user,source_password,dest_user,dest_password\na,b,c,File:pw.txt\n",
	    "users.csv:2: dest_password: did you mean file: (lower case)? a reference is "
	    "env:NAME or file:PATH");
}

/* plan_read_sheet() touches no secret: unset variables only matter when resolving. */
static void
test_lazy_secrets(void **state)
{
	struct plan *p =
	    parse_ok("{\"domain\": \"a.com\",\n \"mailboxes\": [\n"
	             "  {\"source_user\": \"a\", \"source_password\": \"env:CUTOVER_TEST_NOPE\","
	             "\n   \"dest_user\": \"b\", \"dest_password\": \"x\"}]}",
	        "plan.json");
	char *err = NULL;

	(void)state;
	unsetenv("CUTOVER_TEST_NOPE");
	assert_int_equal(plan_read_sheet(p, &err), 0);
	assert_null(err);
	assert_string_equal(p->mailboxes[0].source_password, "env:CUTOVER_TEST_NOPE");
	assert_int_equal(plan_resolve_secrets(p, &err), -1);
	assert_string_equal(err,
	    "plan.json:3: mailboxes[0].source_password: environment "
	    "variable CUTOVER_TEST_NOPE is not set");
	free(err);
	plan_free(p);
}

/*
 * contrib/examples/plan.json (run from the top of the tree, as `make unit`
 * does) writes the destination limits out as an illustration: they must be
 * the microsoft365 profile's, or the example teaches a wrong number.
 */
static void
test_example_plan_limits_match_its_profile(void **state)
{
	const char *path = "contrib/examples/plan.json";
	struct plan *p = NULL;
	const struct profile *prof = profile_find("microsoft365");
	const struct profile_limits *l, *pl;
	char buf[8192], *err = NULL;
	size_t n;
	FILE *f = fopen(path, "r");

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(buf));
	if (plan_parse(buf, n, path, &p, &err) != 0) {
		print_error("%s\n", err);
		fail();
	}
	assert_non_null(prof);
	assert_string_equal(p->destination.profile_name, "microsoft365");
	l = &p->destination.limits;
	pl = &prof->limits;
	assert_int_equal(l->folder_items, pl->folder_items);
	assert_int_equal(l->message_bytes, pl->message_bytes);
	assert_int_equal(l->mailbox_bytes, pl->mailbox_bytes);
	assert_int_equal(l->mailbox_items, pl->mailbox_items);
	assert_int_equal(l->folder_count, pl->folder_count);
	assert_true(l->quota_headroom == pl->quota_headroom);
	plan_free(p);
}

/* ---- auth: OAuth2 per side (issue 13) ------------------------------------------------ */

/* A plan whose destination carries AUTH (an object's members) and PROFILE. */
static char *
auth_plan(const char *profile, const char *auth)
{
	return xasprintf("{\"domain\": \"a.com\",\n"
	                 " \"destination\": {%s%s%s\n"
	                 "  \"auth\": {%s}},\n"
	                 " \"mailboxes\": [{\"source_user\": \"a\", \"source_password\": \"p\",\n"
	                 "   \"dest_user\": \"a@a.com\"}]}",
	    profile ? "\"profile\": \"" : "", profile ? profile : "", profile ? "\"," : "", auth);
}

static void
auth_err(const char *profile, const char *auth, const char *want)
{
	char *text = auth_plan(profile, auth);

	parse_err(text, want);
	free(text);
}

static struct plan *
auth_ok(const char *profile, const char *auth)
{
	char *text = auth_plan(profile, auth);
	struct plan *p = parse_ok(text, "plan.json");

	free(text);
	assert_non_null(p->destination.auth);
	return p;
}

static void
test_auth_m365_defaults(void **state)
{
	struct plan *p;
	const struct oauth2_config *c;
	char *err = NULL;

	(void)state;
	p = auth_ok("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\",\n"
	    "   \"tenant\": \"contoso.onmicrosoft.com\", \"client_id\": \"0000-11\",\n"
	    "   \"client_secret\": \"env:CUTOVER_TEST_M365_SECRET\"");
	c = p->destination.auth;
	assert_int_equal(c->flow, OAUTH2_FLOW_CLIENT_CREDENTIALS);
	assert_string_equal(c->tenant, "contoso.onmicrosoft.com");
	assert_string_equal(c->client_id, "0000-11");
	assert_string_equal(c->token_url,
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
	assert_string_equal(c->token_url_from, "microsoft365");
	assert_string_equal(c->scope, "https://outlook.office365.com/.default");
	assert_string_equal(c->scope_from, "microsoft365");
	assert_null(c->device_url);
	assert_null(p->source.auth);
	/* a reference until resolved; the mailbox needs no destination password */
	assert_string_equal(c->client_secret, "env:CUTOVER_TEST_M365_SECRET");
	assert_null(p->mailboxes[0].dest_password);
	assert_string_equal(
	    p->destination.auth_at[0], "plan.json:5: destination.auth.client_secret");
	assert_int_equal(plan_read_sheet(p, &err), 0);
	assert_int_equal(setenv("CUTOVER_TEST_M365_SECRET", SECRET, 1), 0);
	assert_int_equal(plan_resolve_secrets(p, &err), 0);
	assert_string_equal(p->destination.auth->client_secret, SECRET);
	unsetenv("CUTOVER_TEST_M365_SECRET");
	plan_free(p);

	/* device_code: the device endpoint of the tenant too */
	p = auth_ok("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"device_code\", "
	    "\"tenant\": \"t1\", \"client_id\": \"c\"");
	assert_string_equal(p->destination.auth->device_url,
	    "https://login.microsoftonline.com/t1/oauth2/v2.0/devicecode");
	plan_free(p);

	/* a token endpoint of the plan's own (a lab, a sovereign cloud): the
	 * device endpoint beside it, never the public default */
	p = auth_ok("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"device_code\", \"client_id\": \"c\", "
	    "\"token_url\": \"https://127.0.0.8:8443/lab.test/oauth2/v2.0/token\"");
	assert_string_equal(p->destination.auth->device_url,
	    "https://127.0.0.8:8443/lab.test/oauth2/v2.0/devicecode");
	plan_free(p);
	p = auth_ok("google",
	    "\"type\": \"oauth2\", \"flow\": \"device_code\", \"client_id\": \"c\", "
	    "\"token_url\": \"https://127.0.0.8:8443/token\"");
	assert_string_equal(p->destination.auth->device_url, "https://127.0.0.8:8443/device/code");
	plan_free(p);

	/* access_token needs no tenant: nothing is requested */
	p = auth_ok("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"access_token\", "
	    "\"access_token\": \"env:CUTOVER_TEST_TOKEN\"");
	assert_null(p->destination.auth->token_url);
	assert_null(p->destination.auth->token_url_from);
	assert_string_equal(p->destination.auth->scope_from, "microsoft365");
	plan_free(p);
}

static void
test_auth_google_and_plan_values(void **state)
{
	struct plan *p;
	const struct oauth2_config *c;

	(void)state;
	p = auth_ok("google",
	    "\"type\": \"oauth2\", \"flow\": \"service_account\", "
	    "\"key_file\": \"file:key.json\"");
	c = p->destination.auth;
	assert_int_equal(c->flow, OAUTH2_FLOW_SERVICE_ACCOUNT);
	assert_string_equal(c->token_url, "https://oauth2.googleapis.com/token");
	assert_string_equal(c->token_url_from, "google");
	assert_string_equal(c->scope, "https://mail.google.com/");
	assert_string_equal(c->key_file, "file:key.json");
	plan_free(p);

	p = auth_ok("google",
	    "\"type\": \"oauth2\", \"flow\": \"device_code\", "
	    "\"client_id\": \"c\", \"client_secret\": \"s\"");
	assert_string_equal(
	    p->destination.auth->device_url, "https://oauth2.googleapis.com/device/code");
	plan_free(p);

	/* what the plan writes wins; no profile needed then (the lab, sovereign clouds) */
	p = auth_ok(NULL,
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_certificate\": \"file:app.pem\", "
	    "\"client_key\": \"file:app.key\", \"token_url\": \"https://127.0.0.1:8443/token\", "
	    "\"scope\": \"imap\"");
	c = p->destination.auth;
	assert_string_equal(c->token_url, "https://127.0.0.1:8443/token");
	assert_string_equal(c->token_url_from, "plan");
	assert_string_equal(c->scope, "imap");
	assert_string_equal(c->scope_from, "plan");
	assert_null(c->client_secret);
	plan_free(p);
	p = auth_ok("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"s\", "
	    "\"token_url\": \"https://login.microsoftonline.us/t/oauth2/v2.0/token\"");
	assert_string_equal(p->destination.auth->token_url_from, "plan");
	assert_string_equal(p->destination.auth->scope_from, "microsoft365");
	plan_free(p);
}

static void
test_auth_key_errors(void **state)
{
	(void)state;
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\",\n"
	    "   \"client_secrt\": \"x\"",
	    "plan.json:4: destination.auth.client_secrt: unknown key (did you mean "
	    "\"client_secret\"?)");
	auth_err("microsoft365", "\"type\": \"oauth2\", \"colour\": 1",
	    "plan.json:3: destination.auth.colour: unknown key (valid keys: type, flow, tenant, "
	    "client_id, client_secret, client_certificate, client_key, key_file, access_token, "
	    "token_url, device_url, scope)");
	auth_err("microsoft365", "\"type\": \"oauth2\", \"type\": \"oauth2\"",
	    "plan.json:3: destination.auth.type: duplicate key");
	auth_err("microsoft365", "\"flow\": \"client_credentials\"",
	    "plan.json:3: destination.auth.type: missing (\"oauth2\")");
	auth_err("microsoft365", "\"type\": \"basic\", \"flow\": \"x\"",
	    "plan.json:3: destination.auth.type: unknown type \"basic\" (the only type is "
	    "\"oauth2\")");
	auth_err("microsoft365", "\"type\": \"oauth2\"",
	    "plan.json:3: destination.auth.flow: missing (client_credentials, service_account, "
	    "device_code or access_token)");
	auth_err("microsoft365", "\"type\": \"oauth2\", \"flow\": \"client_credential\"",
	    "plan.json:3: destination.auth.flow: unknown flow \"client_credential\" (did you mean "
	    "\"client_credentials\"? flows: client_credentials, service_account, device_code, "
	    "access_token)");
	auth_err("microsoft365", "\"type\": \"oauth2\", \"flow\": 1",
	    "plan.json:3: destination.auth.flow: expected a string, found a number");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"access_token\", "
	    "\"client_id\": 42",
	    "plan.json:3: destination.auth.client_id: expected a string, found a number");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"access_token\", "
	    "\"tenant\": \"contoso.com/../x\"",
	    "plan.json:3: destination.auth.tenant: expected the tenant's domain "
	    "(contoso.onmicrosoft.com) or its ID");
	auth_err(NULL,
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"s\", \"token_url\": \"http://idp/token\"",
	    "plan.json:3: destination.auth.token_url: expected an https:// URL (the request "
	    "carries a secret)");
	auth_err(NULL,
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"s\", \"token_url\": \"idp/token\"",
	    "plan.json:3: destination.auth.token_url: not a valid URL: expected "
	    "https://HOST[:PORT]");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_key\": \"-----BEGIN PRIVATE KEY-----\"",
	    "plan.json:3: destination.auth.client_key: expected file:PATH (the PEM private key) "
	    "or env:NAME: a key is not written into the plan");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"ENV:X\"",
	    "plan.json:3: destination.auth.client_secret: did you mean env: (lower case)? a "
	    "reference is env:NAME or file:PATH");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"access_token\", "
	    "\"access_token\": \"\"",
	    "plan.json:3: destination.auth.access_token: empty");
	parse_err("{\"domain\": \"a.com\", \"source\": {\"auth\": []}}",
	    "plan.json:1: source.auth: expected an object, found an array");
}

static void
test_auth_flow_rules(void **state)
{
	(void)state;
	/* the tenant, when the token endpoint is derived from it */
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"env:S\"",
	    "plan.json:3: destination.auth.tenant: missing (the microsoft365 token_url is derived "
	    "from it: set tenant, or token_url)");
	/* the plan's own token endpoint: the device endpoint is beside it, so no
	 * tenant is needed (see test_auth_microsoft365_defaults) */
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"device_code\", "
	    "\"client_id\": \"c\", \"token_url\": \"https://idp/oauth\"",
	    "plan.json:3: destination.auth.device_url: missing (and not to be derived from this "
	    "token_url: set it)");
	auth_err("generic",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"env:S\"",
	    "plan.json:3: destination.auth.token_url: missing (this side's profile has no OAuth2 "
	    "token endpoint)");
	auth_err(NULL,
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"env:S\"",
	    "plan.json:3: destination.auth.token_url: missing (or a \"profile\" that has one: "
	    "microsoft365, google)");
	/* client_credentials */
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"tenant\": \"t\", \"client_secret\": \"env:S\"",
	    "plan.json:3: destination.auth.client_id: missing (client_credentials needs the "
	    "application's ID)");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"tenant\": \"t\", \"client_id\": \"c\"",
	    "plan.json:3: destination.auth.client_secret: missing (client_credentials needs "
	    "client_secret, or client_certificate and client_key)");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\",\n"
	    "   \"tenant\": \"t\", \"client_id\": \"c\", \"client_secret\": \"env:S\",\n"
	    "   \"client_certificate\": \"file:a.pem\", \"client_key\": \"file:a.key\"",
	    "plan.json:4: destination.auth.client_secret: client_credentials takes client_secret "
	    "or client_certificate and client_key, not both");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"tenant\": \"t\", \"client_id\": \"c\", \"client_certificate\": \"file:a.pem\"",
	    "plan.json:3: destination.auth.client_key: missing (client_certificate and client_key "
	    "go together)");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"tenant\": \"t\", \"client_id\": \"c\", \"client_key\": \"file:a.key\"",
	    "plan.json:3: destination.auth.client_certificate: missing (client_certificate and "
	    "client_key go together)");
	/* the other flows */
	auth_err("google", "\"type\": \"oauth2\", \"flow\": \"service_account\"",
	    "plan.json:3: destination.auth.key_file: missing (service_account needs the service "
	    "account's JSON key file, \"file:key.json\")");
	auth_err("google", "\"type\": \"oauth2\", \"flow\": \"device_code\"",
	    "plan.json:3: destination.auth.client_id: missing (device_code needs the "
	    "application's ID)");
	auth_err("google", "\"type\": \"oauth2\", \"flow\": \"access_token\"",
	    "plan.json:3: destination.auth.access_token: missing (access_token needs the token: "
	    "\"env:NAME\" or \"file:PATH\")");
	/* one way to log in per side */
	parse_err("{\"domain\": \"a.com\", \"source\": {\"profile\": \"google\",\n"
	          "  \"admin\": {\"user\": \"m\", \"password\": \"p\"},\n"
	          "  \"auth\": {\"type\": \"oauth2\", \"flow\": \"access_token\", "
	          "\"access_token\": \"env:T\"}}}",
	    "plan.json:3: source.auth: a side logs in with \"admin\" or with \"auth\", not both");
	/* without auth (or admin) the password is still required */
	parse_err("{\"domain\": \"a.com\", \"mailboxes\": [{\"source_user\": \"a\", "
	          "\"source_password\": \"p\", \"dest_user\": \"b\"}]}",
	    "plan.json:1: mailboxes[0].dest_password: missing (and destination has no \"admin\" "
	    "to log in with)");
}

/* Secrets of the auth object: never in a message, resolved by plan_resolve_secrets. */
static void
test_auth_secrets(void **state)
{
	char *dir = make_tmpdir(), *f, *err, *want;
	struct plan *p = NULL;
	const char *pem = "-----BEGIN PRIVATE KEY-----\n" SECRET "\n-----END PRIVATE KEY-----\n";

	(void)state;
	/* a literal secret beside an error: the error names the key only */
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"tenant\": \"t\", \"client_id\": \"c\", \"client_secret\": \"" SECRET "\", "
	    "\"scop\": \"x\"",
	    "plan.json:3: destination.auth.scop: unknown key (did you mean \"scope\"?)");
	auth_err("microsoft365",
	    "\"type\": \"oauth2\", \"flow\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"" SECRET "\"",
	    "plan.json:3: destination.auth.tenant: missing (the microsoft365 token_url is derived "
	    "from it: set tenant, or token_url)");

	/* whole files for the certificate and the key, the first line for a secret */
	f = write_file(dir, "app.key", pem);
	free(f);
	f = write_file(
	    dir, "app.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	free(f);
	f = write_file(dir, "token.txt", "tok-" SECRET "\nignored\n");
	free(f);
	f = write_file(dir, "users.csv",
	    "source_user,source_password,dest_user,dest_password\n"
	    "b,pw,b@a.com,\n");
	free(f);
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\", \"mailboxes_csv\": \"users.csv\",\n"
	    " \"source\": {\"profile\": \"google\", \"auth\": {\"type\": \"oauth2\",\n"
	    "   \"flow\": \"access_token\", \"access_token\": \"file:token.txt\"}},\n"
	    " \"destination\": {\"profile\": \"microsoft365\", \"auth\": {\"type\": \"oauth2\",\n"
	    "   \"flow\": \"client_credentials\", \"tenant\": \"t\", \"client_id\": \"c\",\n"
	    "   \"client_certificate\": \"file:app.pem\", \"client_key\": \"file:app.key\"}},\n"
	    " \"mailboxes\": [{\"source_user\": \"a\", \"dest_user\": \"a@a.com\"}]}",
	    &p);
	assert_null(err);
	assert_int_equal(p->n_mailboxes, 2);
	assert_null(p->mailboxes[0].source_password);
	assert_null(p->mailboxes[1].dest_password);
	assert_string_equal(p->source.auth->access_token, "tok-" SECRET);
	assert_string_equal(p->destination.auth->client_key, pem);
	assert_non_null(strstr(p->destination.auth->client_certificate, "BEGIN CERTIFICATE"));
	plan_free(p);

	/* a missing variable or file: named by the field, never by value */
	unsetenv("CUTOVER_TEST_NO_SECRET");
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\",\n"
	    " \"destination\": {\"profile\": \"microsoft365\", \"auth\": {\"type\": \"oauth2\",\n"
	    "   \"flow\": \"client_credentials\", \"tenant\": \"t\", \"client_id\": \"c\",\n"
	    "   \"client_secret\": \"env:CUTOVER_TEST_NO_SECRET\"}}}",
	    &p);
	want = xasprintf("%s/plan.json:4: destination.auth.client_secret: environment variable "
	                 "CUTOVER_TEST_NO_SECRET is not set",
	    dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\",\n"
	    " \"destination\": {\"profile\": \"google\", \"auth\": {\"type\": \"oauth2\",\n"
	    "   \"flow\": \"service_account\", \"key_file\": \"file:nope/key.json\"}}}",
	    &p);
	want = xasprintf("%s/plan.json:3: destination.auth.key_file: cannot read "
	                 "%s/nope/key.json: No such file or directory",
	    dir, dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	f = write_file(dir, "empty.json", "");
	free(f);
	err = load_in_dir(dir,
	    "{\"domain\": \"a.com\",\n"
	    " \"destination\": {\"profile\": \"google\", \"auth\": {\"type\": \"oauth2\",\n"
	    "   \"flow\": \"service_account\", \"key_file\": \"file:empty.json\"}}}",
	    &p);
	want = xasprintf(
	    "%s/plan.json:3: destination.auth.key_file: %s/empty.json is empty", dir, dir);
	assert_string_equal(err, want);
	free(want);
	free(err);

	/* the sheet's empty password is refused when its side has no auth or admin */
	err = load_in_dir(dir, "{\"domain\": \"a.com\", \"mailboxes_csv\": \"users.csv\"}", &p);
	want = xasprintf("%s/users.csv:2: dest_password: empty (and destination has no \"admin\" "
	                 "to log in with)",
	    dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	rm_tree(dir);
	free(dir);
}

/* contrib/examples/m365-plan.json opens (no secret needed) with its app login. */
static void
test_example_m365_plan(void **state)
{
	struct plan *p = NULL;
	char *err = NULL;

	(void)state;
	if (plan_open("contrib/examples/m365-plan.json", &p, &err) != 0) {
		print_error("%s\n", err);
		free(err);
		fail();
	}
	assert_non_null(p->destination.auth);
	assert_int_equal(p->destination.auth->flow, OAUTH2_FLOW_CLIENT_CREDENTIALS);
	assert_string_equal(p->destination.auth->token_url_from, "microsoft365");
	assert_true(p->n_mailboxes > 0);
	assert_null(p->mailboxes[0].dest_password);
	plan_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_example),
	    cmocka_unit_test(test_example_plan_limits_match_its_profile),
	    cmocka_unit_test(test_csv_separators),
	    cmocka_unit_test(test_csv_m365_header_and_extra_columns),
	    cmocka_unit_test(test_csv_encodings),
	    cmocka_unit_test(test_secret_reference_case),
	    cmocka_unit_test(test_lazy_secrets),
	    cmocka_unit_test(test_profile_defaults),
	    cmocka_unit_test(test_plan_overrides_profile),
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test(test_admin_allows_missing_passwords),
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_syntax_depth),
	    cmocka_unit_test(test_semantic_errors),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_unknown_profile),
	    cmocka_unit_test(test_mailbox_errors),
	    cmocka_unit_test(test_secret_never_in_errors),
	    cmocka_unit_test(test_resolve_env_and_file),
	    cmocka_unit_test(test_resolve_missing_env),
	    cmocka_unit_test(test_resolve_unreadable_file),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_with_csv),
	    cmocka_unit_test(test_csv_quotes),
	    cmocka_unit_test(test_csv_crlf_bom_blank_order),
	    cmocka_unit_test(test_csv_embedded_newline),
	    cmocka_unit_test(test_csv_header_errors),
	    cmocka_unit_test(test_csv_row_errors),
	    cmocka_unit_test(test_csv_nul_byte),
	    cmocka_unit_test(test_sync_folder_map),
	    cmocka_unit_test(test_auth_m365_defaults),
	    cmocka_unit_test(test_auth_google_and_plan_values),
	    cmocka_unit_test(test_auth_key_errors),
	    cmocka_unit_test(test_auth_flow_rules),
	    cmocka_unit_test(test_auth_secrets),
	    cmocka_unit_test(test_example_m365_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
