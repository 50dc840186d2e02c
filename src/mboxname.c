/*
 * mboxname.c - mailbox names: modified UTF-7 (RFC 3501 5.1.3, through glibc's
 * iconv "UTF-7-IMAP"), special-use flags and the name guesses, and what
 * breaks a name on a destination (the problems, their reasons, a suggested
 * fix, case duplicates). Pure: no I/O. Declared in folders.h with the
 * inventory that uses it; kept apart so it can be read and tested alone.
 */
#include "folders.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"

static char *
folders_iconv(const char *to, const char *from, const char *in, size_t len)
{
	iconv_t cd = iconv_open(to, from);
	size_t cap = len * 4 + 16, left_in = len, left_out;
	char *out, *ip = (char *)in, *op;

	if (cd == (iconv_t)-1)
		return NULL;
	out = xmalloc(cap);
	op = out;
	left_out = cap - 1;
	if (iconv(cd, &ip, &left_in, &op, &left_out) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &op, &left_out) == (size_t)-1) {
		iconv_close(cd);
		free(out);
		return NULL;
	}
	iconv_close(cd);
	*op = '\0';
	/* A NUL inside is no name. */
	if ((size_t)(op - out) != strlen(out)) {
		free(out);
		return NULL;
	}
	return out;
}

char *
folders_mutf7_decode(const char *raw, size_t len)
{
	int plain = 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)raw[i];

		/* RFC 3501 5.1.3: only printable US-ASCII; '&' starts a shift. */
		if (ch < 0x20 || ch > 0x7e)
			return NULL;
		if (ch == '&')
			plain = 0;
	}
	if (plain)
		return xstrndup(raw, len);
	/* Every shift "&...-" must be closed by '-' and hold only modified
	 * BASE64 (RFC 3501 5.1.3: '+' and ',' instead of '+' and '/'); glibc
	 * accepts an unterminated one at the end. */
	for (size_t i = 0; i < len; i++) {
		if (raw[i] != '&')
			continue;
		for (i++; i < len && raw[i] != '-'; i++)
			if (!((raw[i] >= 'A' && raw[i] <= 'Z') ||
			        (raw[i] >= 'a' && raw[i] <= 'z') ||
			        (raw[i] >= '0' && raw[i] <= '9') || raw[i] == '+' || raw[i] == ','))
				return NULL;
		if (i == len)
			return NULL;
	}
	{
		char *out = folders_iconv("UTF-8", "UTF-7-IMAP", raw, len), *back;

		if (out == NULL)
			return NULL;
		/* Only the canonical form: printable ASCII is never shifted and
		 * shifts are not split (RFC 3501 5.1.3); tools disagree on the rest. */
		back = folders_iconv("UTF-7-IMAP", "UTF-8", out, strlen(out));
		if (back == NULL || strlen(back) != len || memcmp(back, raw, len) != 0) {
			free(back);
			free(out);
			return NULL;
		}
		free(back);
		return out;
	}
}

char *
folders_mutf7_encode(const char *s, size_t len)
{
	return folders_iconv("UTF-7-IMAP", "UTF-8", s, len);
}

static const struct {
	const char *flag;
	enum folders_special sp;
} folders_flags[] = {
    {"\\All", FOLDERS_SPECIAL_ALL},
    {"\\Archive", FOLDERS_SPECIAL_ARCHIVE},
    {"\\Drafts", FOLDERS_SPECIAL_DRAFTS},
    {"\\Flagged", FOLDERS_SPECIAL_FLAGGED},
    {"\\Junk", FOLDERS_SPECIAL_JUNK},
    {"\\Sent", FOLDERS_SPECIAL_SENT},
    {"\\Trash", FOLDERS_SPECIAL_TRASH},
    {"\\Important", FOLDERS_SPECIAL_IMPORTANT},
    /* XLIST (Gmail's pre-RFC 6154 command) names. */
    {"\\AllMail", FOLDERS_SPECIAL_ALL},
    {"\\Spam", FOLDERS_SPECIAL_JUNK},
    {"\\Starred", FOLDERS_SPECIAL_FLAGGED},
};

enum folders_special
folders_special_from_flag(const char *flag)
{
	for (size_t i = 0; i < sizeof(folders_flags) / sizeof(folders_flags[0]); i++)
		if (util_strieq(flag, folders_flags[i].flag))
			return folders_flags[i].sp;
	return FOLDERS_SPECIAL_NONE;
}

const char *
folders_special_str(enum folders_special s)
{
	for (size_t i = 0; i < sizeof(folders_flags) / sizeof(folders_flags[0]); i++)
		if (folders_flags[i].sp == s)
			return folders_flags[i].flag;
	return NULL;
}

static const struct {
	const char *name;
	enum folders_special sp;
} folders_guesses[] = {
    {"Sent", FOLDERS_SPECIAL_SENT},
    {"Sent Items", FOLDERS_SPECIAL_SENT},
    {"Sent Messages", FOLDERS_SPECIAL_SENT},
    {"Sent Mail", FOLDERS_SPECIAL_SENT},
    {"Gesendet", FOLDERS_SPECIAL_SENT},
    {"Gesendete Objekte", FOLDERS_SPECIAL_SENT},
    {"Gesendete Elemente", FOLDERS_SPECIAL_SENT},
    {"Envoy\xc3\xa9s", FOLDERS_SPECIAL_SENT},
    {"\xc3\x89l\xc3\xa9ments envoy\xc3\xa9s", FOLDERS_SPECIAL_SENT},
    {"Enviados", FOLDERS_SPECIAL_SENT},
    {"Trash", FOLDERS_SPECIAL_TRASH},
    {"Deleted Items", FOLDERS_SPECIAL_TRASH},
    {"Deleted Messages", FOLDERS_SPECIAL_TRASH},
    {"Deleted", FOLDERS_SPECIAL_TRASH},
    {"Bin", FOLDERS_SPECIAL_TRASH},
    {"Papierkorb", FOLDERS_SPECIAL_TRASH},
    {"Gel\xc3\xb6schte Elemente", FOLDERS_SPECIAL_TRASH},
    {"Corbeille", FOLDERS_SPECIAL_TRASH},
    {"Junk", FOLDERS_SPECIAL_JUNK},
    {"Junk Email", FOLDERS_SPECIAL_JUNK},
    {"Junk E-mail", FOLDERS_SPECIAL_JUNK},
    {"Spam", FOLDERS_SPECIAL_JUNK},
    {"Bulk Mail", FOLDERS_SPECIAL_JUNK},
    {"Drafts", FOLDERS_SPECIAL_DRAFTS},
    {"Draft", FOLDERS_SPECIAL_DRAFTS},
    {"Entw\xc3\xbcrfe", FOLDERS_SPECIAL_DRAFTS},
    {"Brouillons", FOLDERS_SPECIAL_DRAFTS},
    {"Borradores", FOLDERS_SPECIAL_DRAFTS},
    {"Archive", FOLDERS_SPECIAL_ARCHIVE},
    {"Archives", FOLDERS_SPECIAL_ARCHIVE},
    {"Archiv", FOLDERS_SPECIAL_ARCHIVE},
};

enum folders_special
folders_special_guess(const char *name, char delim)
{
	const char *last = name;

	if (delim != '\0' && strrchr(name, delim) != NULL)
		last = strrchr(name, delim) + 1;
	for (size_t i = 0; i < sizeof(folders_guesses) / sizeof(folders_guesses[0]); i++)
		if (util_strieq(last, folders_guesses[i].name))
			return folders_guesses[i].sp;
	return FOLDERS_SPECIAL_NONE;
}

/* ---- names ---- */

/* Split NAME at DELIM into levels (pointers into a copy). Caller frees
 * *COPY and the returned array. */
static char **
folders_levels(const char *name, char delim, char **copy, size_t *n)
{
	char **lv = NULL;
	char *p;

	*copy = xstrdup(name);
	*n = 0;
	p = *copy;
	for (;;) {
		char *d = delim != '\0' ? strchr(p, delim) : NULL;

		lv = xrealloc(lv, (*n + 1) * sizeof(*lv));
		lv[(*n)++] = p;
		if (d == NULL)
			break;
		*d = '\0';
		p = d + 1;
	}
	return lv;
}

static size_t
folders_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Default folders of Exchange a mail folder must not be named like. */
static const char *const folders_exchange_reserved[] = {
    "Calendar",
    "Contacts",
    "Tasks",
    "Notes",
    "Journal",
    "Outbox",
    "Sync Issues",
    "Conversation History",
    "RSS Feeds",
    "Conflicts",
    "Local Failures",
    "Server Failures",
    NULL,
};

unsigned
folders_name_problems(const char *name, const struct folders_name_rules *rules)
{
	char dd = rules->dest_delim != '\0' ? rules->dest_delim : '/';
	unsigned p = 0;
	char *copy;
	size_t n;
	char **lv;

	if (util_strieq(name, "INBOX"))
		return 0;
	lv = folders_levels(name, rules->src_delim, &copy, &n);
	for (size_t i = 0; i < n; i++) {
		const char *l = lv[i];
		size_t len = strlen(l);

		if (strchr(l, '/') != NULL)
			p |= FOLDERS_NP_SLASH;
		if (dd != '/' && strchr(l, dd) != NULL)
			p |= FOLDERS_NP_DEST_DELIM;
		if (strchr(l, ',') != NULL)
			p |= FOLDERS_NP_COMMA;
		if (dd != '.' && strchr(l, '.') != NULL)
			p |= FOLDERS_NP_PERIOD;
		if (strchr(l, '&') != NULL)
			p |= FOLDERS_NP_AMPERSAND;
		if (len > 0 && (l[0] == ' ' || l[len - 1] == ' '))
			p |= FOLDERS_NP_SPACE_EDGE;
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)l[k] >= 0x80)
				p |= FOLDERS_NP_NON_ASCII;
		if (folders_utf8_chars(l) > FOLDERS_MAX_LEVEL_CHARS)
			p |= FOLDERS_NP_TOO_LONG;
	}
	if (n > FOLDERS_MAX_DEPTH)
		p |= FOLDERS_NP_TOO_DEEP;
	if (rules->microsoft)
		for (size_t k = 0; folders_exchange_reserved[k] != NULL; k++)
			if (util_strieq(lv[0], folders_exchange_reserved[k]))
				p |= FOLDERS_NP_RESERVED;
	free(lv);
	free(copy);
	return p;
}

const char *
folders_name_reason(unsigned bit)
{
	switch (bit) {
	case FOLDERS_NP_SLASH:
		return "contains '/': Microsoft's IMAP migration does not migrate folders whose "
		       "names contain '/'";
	case FOLDERS_NP_DEST_DELIM:
		return "contains the destination's hierarchy delimiter: it would become subfolders";
	case FOLDERS_NP_COMMA: return "contains ',': some migration tools treat it as a separator";
	case FOLDERS_NP_PERIOD:
		return "contains '.': the hierarchy delimiter of many IMAP servers (Courier, "
		       "Maildir++)";
	case FOLDERS_NP_AMPERSAND:
		return "contains '&': the escape character of IMAP folder names (modified UTF-7), "
		       "mishandled by some tools";
	case FOLDERS_NP_SPACE_EDGE:
		return "starts or ends with a space: trimmed or refused by Exchange and many "
		       "clients";
	case FOLDERS_NP_NON_ASCII:
		return "has non-ASCII characters: the migration tool must convert modified UTF-7 "
		       "(check these folders after the first sync)";
	case FOLDERS_NP_CASE_DUP:
		return "differs from another folder only in case: Exchange refuses the second "
		       "(\"mailbox already exists\")";
	case FOLDERS_NP_TOO_LONG: return "a level is longer than 255 characters";
	case FOLDERS_NP_TOO_DEEP: return "nested more than 10 levels deep";
	case FOLDERS_NP_UNDECODABLE:
		return "not valid modified UTF-7 (RFC 3501 5.1.3): shown as the server sent it";
	case FOLDERS_NP_RESERVED:
		return "has the name of an Exchange default folder (Calendar, Contacts, Tasks...): "
		       "mail would land in or clash with it";
	}
	return "";
}

/* Lower-case ASCII and Latin-1 letters of UTF-8 S in place (U+00C0-U+00DE
 * but U+00D7 are C3 80-9E; +0x20 gives the small letter). */
static void
folders_fold(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (unsigned char)(*p + 32);
		else if (*p == 0xc3 && p[1] >= 0x80 && p[1] <= 0x9e && p[1] != 0x97) {
			p[1] = (unsigned char)(p[1] + 0x20);
			p++;
		}
	}
}

void
folders_name_case_dups(const char *const *names, size_t n, size_t *dup)
{
	char **folded = xcalloc(n ? n : 1, sizeof(*folded));

	/* Quadratic in the worst case is fine for a report; a hash would do
	 * for 100,000 folders but nobody audits that many in one mailbox. */
	for (size_t i = 0; i < n; i++) {
		folded[i] = xstrdup(names[i]);
		folders_fold(folded[i]);
		dup[i] = (size_t)-1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(folded[i], folded[j]) == 0 && strcmp(names[i], names[j]) != 0) {
				dup[i] = j;
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		free(folded[i]);
	free(folded);
}

/* ASCII for the Latin-1 letter U+00C0 + K (K < 64). */
static const char *const folders_translit[64] = {
    "A",
    "A",
    "A",
    "A",
    "A",
    "A",
    "AE",
    "C",
    "E",
    "E",
    "E",
    "E",
    "I",
    "I",
    "I",
    "I",
    "D",
    "N",
    "O",
    "O",
    "O",
    "O",
    "O",
    "x",
    "O",
    "U",
    "U",
    "U",
    "U",
    "Y",
    "Th",
    "ss",
    "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "ae",
    "c",
    "e",
    "e",
    "e",
    "e",
    "i",
    "i",
    "i",
    "i",
    "d",
    "n",
    "o",
    "o",
    "o",
    "o",
    "o",
    "-",
    "o",
    "u",
    "u",
    "u",
    "u",
    "y",
    "th",
    "y",
};

/* A suggested name is at most this long (names are a few hundred bytes). */
#define FOLDERS_SUGGEST_MAX (64u * 1024u)

/* One level, fixed for PROBLEMS. */
static void
folders_fix_level(struct strbuf *b, const char *l, unsigned problems, char dd)
{
	size_t len = strlen(l), start = b->len, chars = 0;

	if (problems & FOLDERS_NP_SPACE_EDGE) {
		while (*l == ' ')
			l++, len--;
		while (len > 0 && l[len - 1] == ' ')
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)l[i];

		if ((problems & FOLDERS_NP_COMMA) && ch == ',' && i + 1 < len && l[i + 1] == ' ') {
			continue; /* "Invoices, 2023" -> "Invoices 2023" */
		} else if (((problems & FOLDERS_NP_SLASH) && ch == '/') ||
		    ((problems & FOLDERS_NP_DEST_DELIM) && ch == (unsigned char)dd) ||
		    ((problems & FOLDERS_NP_COMMA) && ch == ',') ||
		    ((problems & FOLDERS_NP_PERIOD) && ch == '.')) {
			strbuf_append(b, "-", 1);
		} else if ((problems & FOLDERS_NP_AMPERSAND) && ch == '&') {
			strbuf_append(b, "and", 3);
		} else if ((problems & FOLDERS_NP_NON_ASCII) && ch == 0xc3 && i + 1 < len &&
		    ((unsigned char)l[i + 1] & 0xc0) == 0x80) {
			const char *t = folders_translit[(unsigned char)l[i + 1] - 0x80];

			strbuf_append(b, t, strlen(t));
			i++;
		} else {
			strbuf_append(b, l + i, 1);
		}
	}
	if ((problems & FOLDERS_NP_TOO_LONG) &&
	    folders_utf8_chars(strbuf_str(b) + start) > FOLDERS_MAX_LEVEL_CHARS) {
		/* Cut at a character boundary. */
		for (size_t i = start; i < b->len; i++) {
			if (((unsigned char)b->s[i] & 0xc0) != 0x80 &&
			    ++chars > FOLDERS_MAX_LEVEL_CHARS) {
				b->len = i;
				b->s[i] = '\0';
				break;
			}
		}
	}
}

char *
folders_name_suggest(const char *name, unsigned problems, const struct folders_name_rules *rules)
{
	char dd = rules->dest_delim != '\0' ? rules->dest_delim : '/';
	char sd = rules->src_delim;
	struct strbuf b;
	char *copy;
	size_t n;
	char **lv = folders_levels(name, sd, &copy, &n);

	strbuf_init(&b, FOLDERS_SUGGEST_MAX);
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			if ((problems & FOLDERS_NP_TOO_DEEP) && i >= FOLDERS_MAX_DEPTH)
				strbuf_append(&b, " - ", 3);
			else
				strbuf_append(&b, &sd, 1);
		}
		folders_fix_level(&b, lv[i], problems, dd);
	}
	if (problems & FOLDERS_NP_RESERVED)
		strbuf_append(&b, " (mail)", 7);
	if (problems & FOLDERS_NP_CASE_DUP)
		strbuf_append(&b, " (2)", 4);
	free(lv);
	free(copy);
	return strbuf_take(&b);
}

/* The rank of a well-known NAME (a top-level path) in folders_guesses, or
 * -1 when it is none; *SP gets its class. */
int
folders_guess_rank(const char *rel_utf8, char delim, enum folders_special *sp)
{
	*sp = FOLDERS_SPECIAL_NONE;
	if (delim != '\0' && strchr(rel_utf8, delim) != NULL)
		return -1; /* "Projects.Trash" is not the trash */
	for (size_t i = 0; i < sizeof(folders_guesses) / sizeof(folders_guesses[0]); i++)
		if (util_strieq(rel_utf8, folders_guesses[i].name)) {
			*sp = folders_guesses[i].sp;
			return (int)i;
		}
	return -1;
}
