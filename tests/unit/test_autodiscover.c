/*
 * test_autodiscover.c - the autodiscover / autoconfig XML parser against
 * good documents and hostile ones: entity expansion ("billion laughs",
 * quadratic blow-up), external entities, deep nesting, huge documents and
 * texts, too many elements, malformed and truncated input. Hostile input
 * must end in a specific error, quickly, without growing memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/autodiscover.h"
#include "src/util.h"

static const char pox[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<Autodiscover "
    "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
    " <Response "
    "xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
    "  <User><DisplayName> Alice &amp; Co </DisplayName>"
    "<AutoDiscoverSMTPAddress>alice@example.com</AutoDiscoverSMTPAddress></User>\n"
    "  <Account><AccountType>email</AccountType><Action>settings</Action>\n"
    "   <Protocol><Type>EXCH</Type><Server>mail.example.com</Server><SSL>on</SSL>"
    "<EwsUrl>https://mail.example.com/EWS/Exchange.asmx</EwsUrl></Protocol>\n"
    "   <Protocol><Type>WEB</Type><OWAUrl "
    "AuthenticationMethod=\"Basic\">https://mail.example.com/owa/</OWAUrl></Protocol>\n"
    "   "
    "<Protocol><Type>IMAP</Type><Server>imap.example.com</Server><Port>993</Port><SSL>on</SSL></"
    "Protocol>\n"
    "   <Protocol><Type>SMTP</Type><Server>smtp.example.com</Server><Port>587</Port>"
    "<SSL>on</SSL><Encryption>TLS</Encryption></Protocol>\n"
    "  </Account>\n"
    " </Response>\n"
    "</Autodiscover>\n";

static const char autoconfig[] =
    "<?xml version=\"1.0\"?>\n"
    "<clientConfig version=\"1.1\"><emailProvider id=\"example.com\">"
    "<displayName>Example</displayName>"
    "<incomingServer type=\"imap\"><hostname>imap.example.com</hostname><port>993</port>"
    "<socketType>SSL</socketType></incomingServer>"
    "<outgoingServer type=\"smtp\"><hostname>smtp.example.com</hostname><port>587</port>"
    "<socketType>STARTTLS</socketType></outgoingServer>"
    "</emailProvider></clientConfig>\n";

/* Parse TEXT (LEN bytes) and expect failure with a message containing WANT. */
static void
expect_error(enum autodiscover_kind kind, const char *text, size_t len, const char *want)
{
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	assert_int_equal(autodiscover_parse(kind, text, len, &s, &err), -1);
	assert_null(s);
	assert_non_null(err);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, want);
	free(err);
}

static void
test_pox_settings(void **state)
{
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(autodiscover_parse(AUTODISCOVER_POX, pox, strlen(pox), &s, &err), 0);
	assert_null(err);
	assert_string_equal(s->display_name, "Alice & Co");
	assert_string_equal(s->smtp_address, "alice@example.com");
	assert_string_equal(s->action, "settings");
	assert_null(s->redirect);
	assert_int_equal(s->n_servers, 4);
	assert_string_equal(s->servers[0].type, "EXCH");
	assert_string_equal(s->servers[0].host, "mail.example.com");
	assert_string_equal(s->servers[0].ews_url, "https://mail.example.com/EWS/Exchange.asmx");
	assert_string_equal(s->servers[1].owa_url, "https://mail.example.com/owa/");
	assert_int_equal(s->servers[2].port, 993);
	assert_string_equal(s->servers[3].security, "TLS");
	autodiscover_settings_free(s);
}

static void
test_pox_redirect_and_error(void **state)
{
	static const char redirect[] =
	    "<Autodiscover xmlns=\"x\"><Response xmlns=\"y\"><Account><Action>redirectAddr</Action>"
	    "<RedirectAddr>alice@other.example</RedirectAddr></Account></Response></Autodiscover>";
	static const char error[] =
	    "<Autodiscover><Response><Error Time=\"1\" Id=\"2\"><ErrorCode>600</ErrorCode>"
	    "<Message>Invalid Request</Message></Error></Response></Autodiscover>";
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    autodiscover_parse(AUTODISCOVER_POX, redirect, strlen(redirect), &s, &err), 0);
	assert_string_equal(s->action, "redirectAddr");
	assert_string_equal(s->redirect, "alice@other.example");
	autodiscover_settings_free(s);
	assert_int_equal(autodiscover_parse(AUTODISCOVER_POX, error, strlen(error), &s, &err), 0);
	assert_string_equal(s->error_code, "600");
	assert_string_equal(s->error_message, "Invalid Request");
	assert_int_equal(s->n_servers, 0);
	autodiscover_settings_free(s);
}

static void
test_autoconfig(void **state)
{
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    autodiscover_parse(AUTODISCOVER_AUTOCONFIG, autoconfig, strlen(autoconfig), &s, &err),
	    0);
	assert_string_equal(s->provider_id, "example.com");
	assert_string_equal(s->display_name, "Example");
	assert_int_equal(s->n_servers, 2);
	assert_string_equal(s->servers[0].direction, "incoming");
	assert_string_equal(s->servers[0].type, "imap");
	assert_string_equal(s->servers[0].host, "imap.example.com");
	assert_int_equal(s->servers[0].port, 993);
	assert_string_equal(s->servers[1].direction, "outgoing");
	assert_string_equal(s->servers[1].security, "STARTTLS");
	autodiscover_settings_free(s);
	/* a POX document is not autoconfig, and the other way round */
	expect_error(AUTODISCOVER_AUTOCONFIG, pox, strlen(pox), "not <clientConfig>");
	expect_error(AUTODISCOVER_POX, autoconfig, strlen(autoconfig), "not <Autodiscover>");
}

static void
test_billion_laughs(void **state)
{
	static const char lol[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE Autodiscover [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n"
	    "<Autodiscover><Response><User><DisplayName>&lol9;</DisplayName></User></Response></"
	    "Autodiscover>\n";
	int64_t t0 = util_now_ms();

	(void)state;
	expect_error(
	    AUTODISCOVER_POX, lol, strlen(lol), "document type declarations are not accepted");
	/* refused at the DOCTYPE, not after expanding 10^9 "lol"s */
	assert_true(util_now_ms() - t0 < 2000);
}

static void
test_quadratic_blowup(void **state)
{
	/* One 8 KiB entity referenced 8000 times: 64 MB if expanded. */
	size_t cap = 8192 + 8000 * 3 + 256;
	char *doc = xmalloc(cap + 1), *p = doc;

	(void)state;
	p += snprintf(p, cap, "<!DOCTYPE Autodiscover [<!ENTITY a \"");
	memset(p, 'a', 8192);
	p += 8192;
	p += snprintf(p, (size_t)(doc + cap - p), "\">]><Autodiscover><x>");
	for (int i = 0; i < 8000 && (size_t)(p - doc) + 8 < cap; i++) {
		memcpy(p, "&a;", 3);
		p += 3;
	}
	p += snprintf(p, (size_t)(doc + cap - p), "</x></Autodiscover>");
	expect_error(AUTODISCOVER_POX, doc, (size_t)(p - doc), "document type");
	free(doc);
}

static void
test_external_entity(void **state)
{
	static const char xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	    "<Autodiscover><Response><User><DisplayName>&xxe;</DisplayName></User></Response>"
	    "</Autodiscover>\n";
	static const char dtd[] = "<?xml version=\"1.0\"?>\n"
	                          "<!DOCTYPE Autodiscover SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
	                          "<Autodiscover/>\n";
	/* An entity reference without a DOCTYPE is simply undefined. */
	static const char undefined[] =
	    "<Autodiscover><Response><User><DisplayName>&xxe;</DisplayName></User></Response>"
	    "</Autodiscover>";

	(void)state;
	expect_error(AUTODISCOVER_POX, xxe, strlen(xxe), "document type");
	expect_error(AUTODISCOVER_POX, dtd, strlen(dtd), "document type");
	expect_error(AUTODISCOVER_POX, undefined, strlen(undefined), "undefined entity");
}

static void
test_deep_nesting(void **state)
{
	size_t depth = 50000, len = 0; /* 150 KB, under the input bound */
	char *doc = xmalloc(depth * 3 + 64);

	(void)state;
	len += (size_t)snprintf(doc, 64, "<Autodiscover>");
	for (size_t i = 0; i < depth; i++) {
		memcpy(doc + len, "<a>", 3);
		len += 3;
	}
	expect_error(AUTODISCOVER_POX, doc, len, "nesting deeper than 32");
	free(doc);
}

static void
test_huge_document(void **state)
{
	size_t len = AUTODISCOVER_MAX_INPUT + 1;
	char *doc = xmalloc(len);

	(void)state;
	memset(doc, ' ', len);
	memcpy(doc, "<Autodiscover>", 14);
	expect_error(AUTODISCOVER_POX, doc, len, "larger than");
	free(doc);
}

static void
test_huge_text(void **state)
{
	size_t n = 100000, len = 0;
	char *doc = xmalloc(n + 256);

	(void)state;
	len += (size_t)snprintf(doc, 128, "<Autodiscover><Response><User><DisplayName>");
	memset(doc + len, 'x', n);
	len += n;
	len += (size_t)snprintf(doc + len, 128, "</DisplayName></User></Response></Autodiscover>");
	expect_error(AUTODISCOVER_POX, doc, len, "longer than 2048 bytes");
	free(doc);
}

static void
test_many_elements(void **state)
{
	size_t n = 20000, len = 0;
	char *doc = xmalloc(n * 4 + 64);

	(void)state;
	len += (size_t)snprintf(doc, 64, "<Autodiscover>");
	for (size_t i = 0; i < n; i++) {
		memcpy(doc + len, "<a/>", 4);
		len += 4;
	}
	len += (size_t)snprintf(doc + len, 64, "</Autodiscover>");
	expect_error(AUTODISCOVER_POX, doc, len, "more than 4096 elements");
	free(doc);
}

static void
test_many_protocols(void **state)
{
	size_t n = 100, len = 0, cap = n * 64 + 256;
	char *doc = xmalloc(cap);
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	(void)state;
	len += (size_t)snprintf(doc, cap, "<Autodiscover><Response><Account>");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(
		    doc + len, cap - len, "<Protocol><Type>T%zu</Type></Protocol>", i);
	len += (size_t)snprintf(doc + len, cap - len, "</Account></Response></Autodiscover>");
	assert_int_equal(autodiscover_parse(AUTODISCOVER_POX, doc, len, &s, &err), 0);
	assert_int_equal(s->n_servers, AUTODISCOVER_MAX_SERVERS);
	assert_int_equal(s->n_servers_dropped, n - AUTODISCOVER_MAX_SERVERS);
	assert_string_equal(s->servers[15].type, "T15");
	autodiscover_settings_free(s);
	free(doc);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    "<Autodiscover><Response></Autodiscover>",           /* mismatched tag */
	    "<Autodiscover",                                     /* truncated */
	    "<Autodiscover><a b=\"1\" b=\"2\"/></Autodiscover>", /* duplicate attribute */
	    "<?xml version=\"1.0\"?>",                           /* no element */
	    "\x00\x01\x02\xff\xfe",                              /* binary */
	    "<Autodiscover>&#0;</Autodiscover>",                 /* invalid character */
	    "<Autodiscover></Autodiscover><second/>",            /* junk after the root */
	    "<html><body>Sign in</body></html>",                 /* a web page, not XML we want */
	};
	static const size_t lens[] = {0, 0, 0, 0, 5, 0, 0, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(AUTODISCOVER_POX, bad[i], lens[i] ? lens[i] : strlen(bad[i]), NULL);
	expect_error(AUTODISCOVER_POX, "", 0, "empty");
}

static void
test_every_prefix(void **state)
{
	size_t n = strlen(pox);

	(void)state;
	/* Every truncation of a good document fails cleanly (or parses). */
	for (size_t i = 1; i < n; i++) {
		struct autodiscover_settings *s = NULL;
		char *err = NULL;

		if (autodiscover_parse(AUTODISCOVER_POX, pox, i, &s, &err) == 0)
			autodiscover_settings_free(s);
		else
			free(err);
	}
}

static void
test_request(void **state)
{
	char *req = autodiscover_request("a<b>&\"c'@example.com");
	struct autodiscover_settings *s = NULL;
	char *err = NULL;

	(void)state;
	assert_non_null(strstr(req,
	    "<EMailAddress>a&lt;b&gt;&amp;&quot;c&apos;@example.com"
	    "</EMailAddress>"));
	assert_non_null(strstr(req, "responseschema/2006a"));
	/* well-formed: our own parser accepts it (root <Autodiscover>) */
	assert_int_equal(autodiscover_parse(AUTODISCOVER_POX, req, strlen(req), &s, &err), 0);
	autodiscover_settings_free(s);
	free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pox_settings),
	    cmocka_unit_test(test_pox_redirect_and_error),
	    cmocka_unit_test(test_autoconfig),
	    cmocka_unit_test(test_billion_laughs),
	    cmocka_unit_test(test_quadratic_blowup),
	    cmocka_unit_test(test_external_entity),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_huge_document),
	    cmocka_unit_test(test_huge_text),
	    cmocka_unit_test(test_many_elements),
	    cmocka_unit_test(test_many_protocols),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
