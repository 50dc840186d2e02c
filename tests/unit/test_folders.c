/*
 * test_folders.c - the pure parts of folders.c: modified UTF-7, LIST and
 * STATUS interpretation, special use, folder name rules and suggestions,
 * case duplicates, source/destination matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/folders.h"
#include "src/imap.h"
#include "src/util.h"

/* Parse one server line; the parser stays alive for the response. */
static const struct imap_response *
parse(struct imap_parser **p, const char *line)
{
	size_t used = 0;

	*p = imap_parser_new(NULL);
	assert_int_equal(imap_parser_feed(*p, line, strlen(line), &used), IMAP_PARSE_DONE);
	return imap_parser_response(*p);
}

static void
test_mutf7(void **state)
{
	static const struct {
		const char *raw, *utf8;
	} ok[] = {
	    {"INBOX", "INBOX"},
	    {"Entw&APw-rfe", "Entw\xc3\xbcrfe"},
	    {"&AMcA4A-lendrier", "\xc3\x87\xc3\xa0lendrier"},
	    {"Tom &- Jerry", "Tom & Jerry"},
	    {"&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
	    {"Clients/Partners", "Clients/Partners"},
	};
	static const char *const bad[] = {
	    "&AMc",
	    "&Jjo!",
	    "caf\xc3\xa9",
	    "&AGEAYgBj-",
	    "a\tb",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *d = folders_mutf7_decode(ok[i].raw, strlen(ok[i].raw));
		char *e = folders_mutf7_encode(ok[i].utf8, strlen(ok[i].utf8));

		assert_non_null(d);
		assert_string_equal(d, ok[i].utf8);
		assert_non_null(e);
		assert_string_equal(e, ok[i].raw);
		free(d);
		free(e);
	}
	/* Unterminated shift, bad base64, 8-bit bytes, ASCII encoded in base64
	 * (RFC 3501 5.1.3 forbids it), control characters: reported, no crash. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *d = folders_mutf7_decode(bad[i], strlen(bad[i]));

		if (d != NULL)
			print_message("accepted: %s -> %s\n", bad[i], d);
		assert_null(d);
	}
	assert_null(folders_mutf7_encode("\xff", 1));
}

static void
test_special(void **state)
{
	(void)state;
	assert_int_equal(folders_special_from_flag("\\Sent"), FOLDERS_SPECIAL_SENT);
	assert_int_equal(folders_special_from_flag("\\sent"), FOLDERS_SPECIAL_SENT);
	assert_int_equal(folders_special_from_flag("\\Spam"), FOLDERS_SPECIAL_JUNK);
	assert_int_equal(folders_special_from_flag("\\AllMail"), FOLDERS_SPECIAL_ALL);
	assert_int_equal(folders_special_from_flag("\\HasChildren"), FOLDERS_SPECIAL_NONE);
	assert_string_equal(folders_special_str(FOLDERS_SPECIAL_TRASH), "\\Trash");
	assert_null(folders_special_str(FOLDERS_SPECIAL_NONE));
	assert_int_equal(folders_special_guess("Sent Items", '/'), FOLDERS_SPECIAL_SENT);
	assert_int_equal(folders_special_guess("INBOX.Deleted Items", '.'), FOLDERS_SPECIAL_TRASH);
	assert_int_equal(folders_special_guess("Junk Email", '/'), FOLDERS_SPECIAL_JUNK);
	assert_int_equal(folders_special_guess("Projects", '/'), FOLDERS_SPECIAL_NONE);
}

static void
test_parse_list(void **state)
{
	struct imap_parser *p;
	struct folders_folder f;
	const struct imap_response *r;

	(void)state;
	r = parse(&p, "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n");
	assert_int_equal(folders_parse_list(r, &f), 1);
	assert_string_equal(f.raw_name, "Sent");
	assert_int_equal(f.delim, '.');
	assert_int_equal(f.special, FOLDERS_SPECIAL_SENT);
	assert_int_equal(f.bytes, -1);
	folders_folder_clear(&f);
	imap_parser_free(p);

	r = parse(&p, "* LIST (\\Noselect \\HasChildren) \"/\" {12}\r\nEntw&APw-rfe\r\n");
	assert_int_equal(folders_parse_list(r, &f), 1);
	assert_string_equal(f.name, "Entw\xc3\xbcrfe");
	assert_true(f.name_ok);
	assert_true(f.flags & FOLDERS_F_NOSELECT);
	folders_folder_clear(&f);
	imap_parser_free(p);

	r = parse(&p, "* LIST (\\NonExistent) NIL \"inbox\"\r\n");
	assert_int_equal(folders_parse_list(r, &f), 1);
	assert_string_equal(f.raw_name, "INBOX");
	assert_int_equal(f.delim, '\0');
	assert_true(f.flags & FOLDERS_F_NOSELECT);
	folders_folder_clear(&f);
	imap_parser_free(p);

	/* Not modified UTF-7: kept raw, flagged. */
	r = parse(&p, "* XLIST (\\Spam) \"/\" \"&AMc\"\r\n");
	assert_int_equal(folders_parse_list(r, &f), 1);
	assert_false(f.name_ok);
	assert_string_equal(f.name, "&AMc");
	assert_int_equal(f.special, FOLDERS_SPECIAL_JUNK);
	folders_folder_clear(&f);
	imap_parser_free(p);

	r = parse(&p, "* LIST \".\" Sent\r\n");
	assert_int_equal(folders_parse_list(r, &f), -1);
	imap_parser_free(p);
	r = parse(&p, "* LIST () \"ab\" Sent\r\n");
	assert_int_equal(folders_parse_list(r, &f), -1);
	imap_parser_free(p);
	r = parse(&p, "* 3 EXISTS\r\n");
	assert_int_equal(folders_parse_list(r, &f), 0);
	imap_parser_free(p);
}

static void
test_parse_status(void **state)
{
	struct imap_parser *p;
	struct folders_folder f;
	const struct imap_response *r;
	const char *name = NULL;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.raw_name = xstrdup("Archive.2019");
	f.bytes = -1;
	r = parse(&p,
	    "* STATUS Archive.2019 (MESSAGES 10001 UIDNEXT 10002 UIDVALIDITY 1700000007 "
	    "SIZE 20971520)\r\n");
	assert_int_equal(folders_parse_status(r, &name, &f), 1);
	assert_string_equal(name, "Archive.2019");
	assert_true(f.has_status);
	assert_int_equal(f.messages, 10001);
	assert_int_equal(f.uidnext, 10002);
	assert_int_equal(f.uidvalidity, 1700000007u);
	assert_int_equal(f.bytes, 20971520);
	assert_int_equal(f.bytes_src, FOLDERS_BYTES_STATUS);
	imap_parser_free(p);
	/* Another folder's STATUS leaves F alone. */
	r = parse(&p, "* STATUS \"Other\" (MESSAGES 5)\r\n");
	assert_int_equal(folders_parse_status(r, NULL, &f), 1);
	assert_int_equal(f.messages, 10001);
	imap_parser_free(p);
	r = parse(&p, "* STATUS Archive.2019 (MESSAGES 99999999999)\r\n");
	assert_int_equal(folders_parse_status(r, NULL, &f), -1);
	imap_parser_free(p);
	r = parse(&p, "* STATUS Archive.2019 (MESSAGES)\r\n");
	assert_int_equal(folders_parse_status(r, NULL, &f), -1);
	imap_parser_free(p);
	folders_folder_clear(&f);
}

static void
test_name_problems(void **state)
{
	struct folders_name_rules ms = {'.', '/', 1}, dots = {'/', '.', 0};
	char *s;
	char deep[64] = "a";
	char longname[600];

	(void)state;
	assert_int_equal(folders_name_problems("INBOX", &ms), 0);
	assert_int_equal(folders_name_problems("Archive.2019", &ms), 0);
	assert_int_equal(folders_name_problems("Clients/Partners", &ms), FOLDERS_NP_SLASH);
	assert_int_equal(folders_name_problems("Invoices, 2023", &ms), FOLDERS_NP_COMMA);
	assert_int_equal(folders_name_problems("Tom & Jerry", &ms), FOLDERS_NP_AMPERSAND);
	assert_int_equal(folders_name_problems(" Old.Stuff ", &ms), FOLDERS_NP_SPACE_EDGE);
	assert_int_equal(folders_name_problems("Entw\xc3\xbcrfe", &ms), FOLDERS_NP_NON_ASCII);
	assert_int_equal(folders_name_problems("Calendar.2020", &ms), FOLDERS_NP_RESERVED);
	assert_int_equal(folders_name_problems("Work.Calendar", &ms), 0);
	/* Destination with '.' as its delimiter: a '.' in a level splits it. */
	assert_int_equal(folders_name_problems("Reports.2024/Q1", &dots), FOLDERS_NP_DEST_DELIM);
	for (int i = 0; i < 11; i++)
		strcat(deep, ".a");
	assert_true(folders_name_problems(deep, &ms) & FOLDERS_NP_TOO_DEEP);
	memset(longname, 'x', 300);
	longname[300] = '\0';
	assert_true(folders_name_problems(longname, &ms) & FOLDERS_NP_TOO_LONG);
	assert_string_not_equal(folders_name_reason(FOLDERS_NP_SLASH), "");
	assert_string_equal(folders_name_reason(1u << 20), "");

	s = folders_name_suggest("Clients/Partners", FOLDERS_NP_SLASH, &ms);
	assert_string_equal(s, "Clients-Partners");
	free(s);
	s = folders_name_suggest("Tom & Jerry", FOLDERS_NP_AMPERSAND, &ms);
	assert_string_equal(s, "Tom and Jerry");
	free(s);
	s = folders_name_suggest("Invoices, 2023", FOLDERS_NP_COMMA, &ms);
	assert_string_equal(s, "Invoices 2023");
	free(s);
	s = folders_name_suggest(" Old . x/y ", FOLDERS_NP_SPACE_EDGE | FOLDERS_NP_SLASH, &ms);
	assert_string_equal(s, "Old.x-y");
	free(s);
	s = folders_name_suggest("\xc3\x87\xc3\xa0lendrier.Gr\xc3\xbc\xc3\x9f"
	                         "e",
	    FOLDERS_NP_NON_ASCII, &ms);
	assert_string_equal(s, "Calendrier.Grusse");
	free(s);
	s = folders_name_suggest(deep, FOLDERS_NP_TOO_DEEP, &ms);
	assert_string_equal(s, "a.a.a.a.a.a.a.a.a.a - a - a");
	free(s);
	s = folders_name_suggest(longname, FOLDERS_NP_TOO_LONG, &ms);
	assert_int_equal(strlen(s), 255);
	free(s);
	s = folders_name_suggest("sent", FOLDERS_NP_CASE_DUP, &ms);
	assert_string_equal(s, "sent (2)");
	free(s);
}

static void
test_case_dups(void **state)
{
	const char *names[] = {"INBOX", "Sent", "Projects", "sent",
	    "\xc3\x9c"
	    "bung",
	    "\xc3\xbc"
	    "bung",
	    "SENT"};
	size_t dup[7];

	(void)state;
	folders_name_case_dups(names, 7, dup);
	assert_int_equal(dup[0], (size_t)-1);
	assert_int_equal(dup[1], (size_t)-1);
	assert_int_equal(dup[3], 1);
	assert_int_equal(dup[4], (size_t)-1);
	assert_int_equal(dup[5], 4);
	assert_int_equal(dup[6], 1);
}

static void
add(struct folders_inventory *inv, const char *name, char delim, enum folders_special sp,
    uint32_t messages)
{
	struct folders_folder *f;

	inv->folders = xrealloc(inv->folders, (inv->n + 1) * sizeof(*inv->folders));
	f = &inv->folders[inv->n++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->raw_name = xstrdup(name);
	f->delim = delim;
	f->special = sp;
	f->has_status = 1;
	f->messages = messages;
	inv->delim = delim;
}

static void
test_map_name(void **state)
{
	int rw = -1;
	char *s;

	(void)state;
	s = folders_map_name("Archive.2019", '.', '/', 0, &rw);
	assert_string_equal(s, "Archive/2019");
	assert_int_equal(rw, 0);
	free(s);
	s = folders_map_name("Clients/Partners.Old", '.', '/', 0, &rw);
	assert_string_equal(s, "Clients-Partners/Old");
	assert_int_equal(rw, 1);
	free(s);
	/* Modified UTF-7: "&-" and base64 runs are never touched ('-' ends a run). */
	s = folders_map_name("Tom &- Jerry.Entw&APw-rfe", '.', '/', 1, &rw);
	assert_string_equal(s, "Tom &- Jerry/Entw&APw-rfe");
	assert_int_equal(rw, 0);
	free(s);
	s = folders_map_name("Flat", '\0', '/', 1, NULL);
	assert_string_equal(s, "Flat");
	free(s);
}

static void
test_match(void **state)
{
	struct folders_inventory *src = xcalloc(1, sizeof(*src)), *dst = xcalloc(1, sizeof(*dst));
	size_t map[6];

	(void)state;
	add(src, "INBOX", '.', FOLDERS_SPECIAL_NONE, 400);
	add(src, "Sent", '.', FOLDERS_SPECIAL_SENT, 250);
	add(src, "Archive.2019", '.', FOLDERS_SPECIAL_NONE, 10001);
	add(src, "Trash", '.', FOLDERS_SPECIAL_TRASH, 30);
	add(src, "Clients/Partners", '.', FOLDERS_SPECIAL_NONE, 22);
	add(src, "Tom & Jerry", '.', FOLDERS_SPECIAL_NONE, 9);
	add(dst, "Inbox", '/', FOLDERS_SPECIAL_NONE, 10);
	add(dst, "Sent Items", '/', FOLDERS_SPECIAL_SENT, 5);
	add(dst, "Archive/2019", '/', FOLDERS_SPECIAL_NONE, 100);
	add(dst, "Deleted Items", '/', FOLDERS_SPECIAL_TRASH, 0);
	add(dst, "Tom & Jerry", '/', FOLDERS_SPECIAL_NONE, 2);
	add(dst, "Clients/Partners", '/', FOLDERS_SPECIAL_NONE, 0); /* nested: not it */
	add(dst, "Clients-Partners", '/', FOLDERS_SPECIAL_NONE, 22);
	folders_match(src, dst, map);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], 1);
	assert_int_equal(map[2], 2);
	assert_int_equal(map[3], 3);
	/* '/' is the destination's delimiter: the sync creates "Clients-Partners"
	 * (folders_map_name), and that is the folder compare pairs it with. */
	assert_int_equal(map[4], 6);
	assert_int_equal(map[5], 4);
	folders_inventory_free(src);
	folders_inventory_free(dst);

	/* Without SPECIAL-USE anywhere, well-known names pair up. */
	src = xcalloc(1, sizeof(*src));
	dst = xcalloc(1, sizeof(*dst));
	add(src, "INBOX.Sent Messages", '.', FOLDERS_SPECIAL_NONE, 3);
	add(dst, "Sent Items", '/', FOLDERS_SPECIAL_NONE, 3);
	src->ns_prefix = xstrdup("INBOX."); /* as NAMESPACE (or folders_ns_guess) says */
	folders_match(src, dst, map);
	assert_int_equal(map[0], 0);
	folders_inventory_free(src);
	folders_inventory_free(dst);
}

static void
test_parse_namespace(void **state)
{
	struct imap_parser *p;
	const struct imap_response *r;
	char *prefix = NULL, d = 'x', **fo = NULL;
	size_t nf = 9;

	(void)state;
	r = parse(&p, "* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"Public.\" \".\"))\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), 1);
	assert_string_equal(prefix, "INBOX.");
	assert_int_equal(d, '.');
	assert_int_equal(nf, 1);
	assert_string_equal(fo[0], "Public.");
	free(prefix);
	free(fo[0]);
	free(fo);
	imap_parser_free(p);

	/* Exchange/Dovecot: no prefix; other users' namespace; a NIL delimiter. */
	r = parse(&p, "* NAMESPACE ((\"\" \"/\")) ((\"#Users/\" \"/\")(\"\" NIL)) NIL\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), 1);
	assert_string_equal(prefix, "");
	assert_int_equal(d, '/');
	assert_int_equal(nf, 1); /* the empty foreign prefix is ignored */
	assert_string_equal(fo[0], "#Users/");
	free(prefix);
	free(fo[0]);
	free(fo);
	imap_parser_free(p);

	r = parse(&p, "* NAMESPACE NIL NIL NIL\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), 1);
	assert_string_equal(prefix, "");
	assert_int_equal(d, '\0');
	assert_int_equal(nf, 0);
	free(prefix);
	imap_parser_free(p);

	/* Malformed: nothing set. */
	prefix = NULL;
	r = parse(&p, "* NAMESPACE (\"INBOX.\") NIL NIL\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), -1);
	assert_null(prefix);
	imap_parser_free(p);
	r = parse(&p, "* NAMESPACE ((\"\" \"//\")) NIL NIL\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), -1);
	imap_parser_free(p);
	r = parse(&p, "* NAMESPACE ((\"\" \"/\"))\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), -1);
	imap_parser_free(p);
	r = parse(&p, "* LIST () \"/\" INBOX\r\n");
	assert_int_equal(folders_parse_namespace(r, &prefix, &d, &fo, &nf), 0);
	imap_parser_free(p);
}

static void
test_ns_guess(void **state)
{
	const char *hoster[] = {"INBOX", "INBOX.Sent", "INBOX.Archive.2019"};
	const char *flat[] = {"INBOX", "Sent", "INBOX.Sent"};
	const char *only[] = {"INBOX"};
	const char *pub[] = {"INBOX", "INBOX.Sent", "INBOX.Drafts", "Public", "Public.News"};
	const char *sub[] = {"INBOX", "INBOX.Lists", "Sent", "Drafts", "Archive"};
	struct folders_inventory inv;
	char *s;

	(void)state;
	s = folders_ns_guess(hoster, 3, '.');
	assert_string_equal(s, "INBOX.");
	free(s);
	s = folders_ns_guess(flat, 3, '.');
	assert_string_equal(s, "");
	free(s);
	s = folders_ns_guess(only, 1, '.');
	assert_string_equal(s, "");
	free(s);
	s = folders_ns_guess(pub, 5, '.');
	assert_string_equal(s, ""); /* 2 below INBOX, 2 beside: not a prefix */
	free(s);
	pub[4] = "INBOX.Trash";
	s = folders_ns_guess(pub, 5, '.');
	assert_string_equal(s, "INBOX.");
	free(s);
	s = folders_ns_guess(sub, 5, '.');
	assert_string_equal(s, "");
	free(s);
	s = folders_ns_guess(hoster, 3, '\0');
	assert_string_equal(s, "");
	free(s);

	memset(&inv, 0, sizeof(inv));
	inv.ns_prefix = "INBOX.";
	assert_string_equal(folders_relative(&inv, "INBOX.Archive.2019"), "Archive.2019");
	assert_string_equal(folders_relative(&inv, "inbox.Sent"), "Sent");
	assert_string_equal(folders_relative(&inv, "INBOX"), "INBOX");
	assert_string_equal(folders_relative(&inv, "INBOX."), "INBOX.");
	assert_string_equal(folders_relative(&inv, "Other"), "Other");
	inv.ns_prefix = "";
	assert_string_equal(folders_relative(&inv, "INBOX.Sent"), "INBOX.Sent");
}

/* A folder whose raw (modified UTF-7) name differs from its UTF-8 name. */
static void
add_raw(struct folders_inventory *inv, const char *raw, const char *name, char delim)
{
	add(inv, raw, delim, FOLDERS_SPECIAL_NONE, 1);
	free(inv->folders[inv->n - 1].name);
	inv->folders[inv->n - 1].name = xstrdup(name);
}

static struct folders_inventory *
inv_new(const char *prefix)
{
	struct folders_inventory *inv = xcalloc(1, sizeof(*inv));

	inv->ns_prefix = xstrdup(prefix);
	inv->ns_method = "NAMESPACE";
	return inv;
}

/* The Exchange-like destination of the lab: SPECIAL-USE, '/', no prefix. */
static struct folders_inventory *
exchange_like(void)
{
	struct folders_inventory *d = inv_new("");

	add(d, "INBOX", '/', FOLDERS_SPECIAL_NONE, 0);
	add(d, "Sent Items", '/', FOLDERS_SPECIAL_SENT, 0);
	add(d, "Drafts", '/', FOLDERS_SPECIAL_DRAFTS, 0);
	add(d, "Deleted Items", '/', FOLDERS_SPECIAL_TRASH, 0);
	add(d, "Junk Email", '/', FOLDERS_SPECIAL_JUNK, 0);
	add(d, "Archive", '/', FOLDERS_SPECIAL_ARCHIVE, 0);
	return d;
}

static void
test_map_hoster(void **state)
{
	struct folders_inventory *src = inv_new("INBOX."), *dst = exchange_like();
	struct folders_mapping m[11];
	static const struct {
		const char *raw;
		int by;
		size_t dst;
		const char *dst_raw;
	} want[] = {
	    {"INBOX", FOLDERS_BY_NAME, 0, "INBOX"},
	    {"INBOX.Entw&APw-rfe", FOLDERS_BY_NEW, (size_t)-1, "Entw&APw-rfe"},
	    {"INBOX.Sent", FOLDERS_BY_GUESS, 1, "Sent Items"},
	    {"INBOX.Drafts", FOLDERS_BY_NAME, 2, "Drafts"},
	    {"INBOX.Trash", FOLDERS_BY_GUESS, 3, "Deleted Items"},
	    {"INBOX.Spam", FOLDERS_BY_GUESS, 4, "Junk Email"},
	    {"INBOX.Archive", FOLDERS_BY_NAME, 5, "Archive"},
	    {"INBOX.Archive.2019", FOLDERS_BY_NEW, (size_t)-1, "Archive/2019"},
	    {"INBOX.Clients/Partners", FOLDERS_BY_NEW, (size_t)-1, "Clients-Partners"},
	    {"INBOX.Projects.Trash", FOLDERS_BY_NEW, (size_t)-1, "Projects/Trash"},
	    {"Public.News", FOLDERS_BY_FOREIGN, (size_t)-1, NULL},
	};

	(void)state;
	/* Entwuerfe first in LIST order: the real Drafts still wins the name. */
	for (size_t i = 0; i < 11; i++) {
		if (strchr(want[i].raw, '&') != NULL)
			add_raw(src, want[i].raw, "INBOX.Entw\xc3\xbcrfe", '.');
		else
			add(src, want[i].raw, '.', FOLDERS_SPECIAL_NONE, 1);
	}
	src->folders[10].flags |= FOLDERS_F_FOREIGN;
	folders_map(src, dst, NULL, 0, m);
	for (size_t i = 0; i < 11; i++) {
		if ((int)m[i].by != want[i].by || m[i].dst != want[i].dst)
			fail_msg(
			    "%s: by %s dst %zu", want[i].raw, folders_by_str(m[i].by), m[i].dst);
		if (want[i].dst_raw == NULL)
			assert_null(m[i].dst_raw);
		else
			assert_string_equal(m[i].dst_raw, want[i].dst_raw);
		assert_int_equal(m[i].rule, -1);
	}
	assert_string_equal(m[1].dst_name, "Entw\xc3\xbcrfe");
	assert_true(m[8].rewritten);
	assert_false(m[7].rewritten);
	for (size_t i = 0; i < 11; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}

	/* A destination drafts folder known by its name only (no attribute):
	 * both source drafts folders guess it, "Drafts" before "Entwuerfe". */
	free(dst->folders[2].name);
	free(dst->folders[2].raw_name);
	dst->folders[2].name = xstrdup("Brouillons");
	dst->folders[2].raw_name = xstrdup("Brouillons");
	dst->folders[2].special = FOLDERS_SPECIAL_NONE;
	folders_map(src, dst, NULL, 0, m);
	assert_int_equal(m[3].by, FOLDERS_BY_GUESS);
	assert_string_equal(m[3].dst_raw, "Brouillons");
	assert_int_equal(m[1].by, FOLDERS_BY_NEW);
	for (size_t i = 0; i < 11; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}
	folders_inventory_free(src);
	folders_inventory_free(dst);
}

static void
test_map_order(void **state)
{
	struct folders_inventory *src = inv_new(""), *dst = inv_new("");
	struct folders_mapping m[4];

	(void)state;
	/* An exact match is never displaced by a guess. */
	add(src, "Sent", '/', FOLDERS_SPECIAL_NONE, 1);
	add(src, "Sent Items", '/', FOLDERS_SPECIAL_NONE, 1);
	add(dst, "Sent Items", '/', FOLDERS_SPECIAL_NONE, 1);
	folders_map(src, dst, NULL, 0, m);
	assert_int_equal(m[1].by, FOLDERS_BY_NAME);
	assert_int_equal(m[1].dst, 0);
	assert_int_equal(m[0].by, FOLDERS_BY_NEW);
	assert_string_equal(m[0].dst_raw, "Sent");
	folders_inventory_free(src);
	for (size_t i = 0; i < 2; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}

	/* Among guesses the usual spelling first, whatever the LIST order. */
	src = inv_new("");
	add(src, "Gesendet", '/', FOLDERS_SPECIAL_NONE, 1);
	add(src, "Sent Messages", '/', FOLDERS_SPECIAL_NONE, 1);
	folders_map(src, dst, NULL, 0, m);
	assert_int_equal(m[1].by, FOLDERS_BY_GUESS);
	assert_int_equal(m[1].dst, 0);
	assert_int_equal(m[0].by, FOLDERS_BY_NEW);
	for (size_t i = 0; i < 2; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}
	folders_inventory_free(src);
	folders_inventory_free(dst);

	/* Re-rooted under a destination's prefix (Cyrus, Courier as destination). */
	src = inv_new("");
	dst = inv_new("INBOX.");
	add(src, "INBOX", '/', FOLDERS_SPECIAL_NONE, 1);
	add(src, "Archive/2019", '/', FOLDERS_SPECIAL_NONE, 1);
	add(src, "Projects", '/', FOLDERS_SPECIAL_NONE, 1);
	add(src, "Old", '/', FOLDERS_SPECIAL_NONE, 1);
	add(dst, "INBOX", '.', FOLDERS_SPECIAL_NONE, 1);
	add(dst, "INBOX.Projects", '.', FOLDERS_SPECIAL_NONE, 1);
	{
		const struct folders_rule r = {"Old", "New/Name"};

		folders_map(src, dst, &r, 1, m);
	}
	assert_int_equal(m[0].dst, 0);
	assert_string_equal(m[1].dst_raw, "INBOX.Archive.2019");
	assert_int_equal(m[1].by, FOLDERS_BY_NEW);
	assert_int_equal(m[2].by, FOLDERS_BY_NAME);
	assert_int_equal(m[2].dst, 1);
	assert_string_equal(m[3].dst_raw, "INBOX.New.Name");
	for (size_t i = 0; i < 4; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}
	folders_inventory_free(src);
	folders_inventory_free(dst);

	/* A localized drafts folder alone takes the destination's Drafts. */
	src = inv_new("INBOX.");
	dst = exchange_like();
	add_raw(src, "INBOX.Entw&APw-rfe", "INBOX.Entw\xc3\xbcrfe", '.');
	folders_map(src, dst, NULL, 0, m);
	assert_int_equal(m[0].by, FOLDERS_BY_GUESS);
	assert_int_equal(m[0].dst, 2);
	free(m[0].dst_raw);
	free(m[0].dst_name);
	folders_inventory_free(src);
	folders_inventory_free(dst);

	/* Special use when both sides advertise it, before the exact name. */
	src = inv_new("");
	dst = inv_new("");
	add(src, "Sent", '.', FOLDERS_SPECIAL_SENT, 1);
	add(dst, "Sent", '/', FOLDERS_SPECIAL_NONE, 1);
	add(dst, "Sent Items", '/', FOLDERS_SPECIAL_SENT, 1);
	folders_map(src, dst, NULL, 0, m);
	assert_int_equal(m[0].by, FOLDERS_BY_SPECIAL);
	assert_int_equal(m[0].dst, 1);
	free(m[0].dst_raw);
	free(m[0].dst_name);
	folders_inventory_free(src);
	folders_inventory_free(dst);
}

static void
test_map_rules(void **state)
{
	struct folders_inventory *src = inv_new("INBOX."), *dst = inv_new("");
	struct folders_mapping m[5];
	const struct folders_rule rules[] = {
	    {"Old/Name", "New/Name"},
	    {"Junk", NULL},
	    {"INBOX.Sent", "Archive/Sent 2019"},
	    {"Nowhere", "X"},
	    {"Caf\xc3\xa9", "Caf\xc3\xa9/2"},
	};

	(void)state;
	add(src, "INBOX.Old.Name", '.', FOLDERS_SPECIAL_NONE, 1);
	add(src, "INBOX.Junk", '.', FOLDERS_SPECIAL_NONE, 1);
	add(src, "INBOX.Sent", '.', FOLDERS_SPECIAL_NONE, 1);
	add(src, "INBOX.Trash", '.', FOLDERS_SPECIAL_NONE, 1);
	add_raw(src, "INBOX.Caf&AOk-", "INBOX.Caf\xc3\xa9", '.');
	add(dst, "Archive/Sent 2019", '/', FOLDERS_SPECIAL_NONE, 1);
	add(dst, "Sent", '/', FOLDERS_SPECIAL_NONE, 1);
	folders_map(src, dst, rules, 5, m);
	assert_int_equal(m[0].by, FOLDERS_BY_PLAN);
	assert_int_equal(m[0].rule, 0);
	assert_int_equal(m[0].dst, (size_t)-1);
	assert_string_equal(m[0].dst_raw, "New/Name");
	assert_int_equal(m[1].by, FOLDERS_BY_LEFT_OUT);
	assert_int_equal(m[1].rule, 1);
	assert_null(m[1].dst_raw);
	/* The plan wins over the exact name "Sent" the destination has. */
	assert_int_equal(m[2].by, FOLDERS_BY_PLAN);
	assert_int_equal(m[2].dst, 0);
	assert_int_equal(m[3].by, FOLDERS_BY_NEW);
	assert_string_equal(m[3].dst_raw, "Trash");
	assert_int_equal(m[4].by, FOLDERS_BY_PLAN);
	assert_string_equal(m[4].dst_raw, "Caf&AOk-/2");
	assert_string_equal(m[4].dst_name, "Caf\xc3\xa9/2");
	for (size_t i = 0; i < 5; i++) {
		free(m[i].dst_raw);
		free(m[i].dst_name);
	}
	folders_inventory_free(src);
	folders_inventory_free(dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mutf7),
	    cmocka_unit_test(test_special),
	    cmocka_unit_test(test_parse_list),
	    cmocka_unit_test(test_parse_namespace),
	    cmocka_unit_test(test_ns_guess),
	    cmocka_unit_test(test_map_hoster),
	    cmocka_unit_test(test_map_order),
	    cmocka_unit_test(test_map_rules),
	    cmocka_unit_test(test_parse_status),
	    cmocka_unit_test(test_name_problems),
	    cmocka_unit_test(test_case_dups),
	    cmocka_unit_test(test_map_name),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
