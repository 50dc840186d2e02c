/*
 * test_fdlimit.c - running out of file descriptors (issue 19): the shared
 * TLS context is never cached after a failed load, and a connect that finds
 * no descriptor waits for one instead of failing. Real EMFILE: the test
 * lowers its own RLIMIT_NOFILE and fills the table with dup().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/fdlimit.h"
#include "src/net.h"

#define MAX_HOGS 4096

static int hogs[MAX_HOGS];
static int n_hogs;
static struct rlimit saved;

/* Lower the soft limit a little above what is open, then take every
 * descriptor left. */
static void
exhaust(void)
{
	struct rlimit rl;
	int fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	rl = saved;
	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	n_hogs = 0;
	while (n_hogs < MAX_HOGS && (fd = dup(0)) >= 0)
		hogs[n_hogs++] = fd;
	assert_true(fdlimit_exhausted(errno));
}

static void
release(int n)
{
	while (n-- > 0 && n_hogs > 0)
		close(hogs[--n_hogs]);
}

static void
restore(void)
{
	release(n_hogs);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/* A self-signed certificate in PEM at PATH (a CA file OpenSSL accepts). */
static void
write_ca(const char *path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"test CA", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
test_ca_failure_is_not_cached(void **state)
{
	char path[] = "/tmp/cutover-test-ca-XXXXXX";
	char err[320];
	int fd = mkstemp(path), out_of_fds = -1;
	struct ssl_ctx_st *ctx;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_ca(path);

	exhaust();
	ctx = net_tls_context(path, err, sizeof(err), &out_of_fds);
	release(n_hogs);
	assert_null(ctx);
	assert_int_equal(out_of_fds, 1);
	assert_non_null(strstr(err, "Too many open files"));

	/* Descriptors are back: the same CA file loads, and is then shared. */
	ctx = net_tls_context(path, err, sizeof(err), &out_of_fds);
	assert_non_null(ctx);
	assert_int_equal(out_of_fds, 0);
	assert_ptr_equal(net_tls_context(path, err, sizeof(err), &out_of_fds), ctx);
	restore();
	unlink(path);
	net_cleanup();
}

static void
test_missing_ca_file_is_tried_again(void **state)
{
	char path[] = "/tmp/cutover-test-ca-XXXXXX";
	char err[320];
	int fd = mkstemp(path), out_of_fds = -1;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_null(net_tls_context(path, err, sizeof(err), &out_of_fds));
	assert_int_equal(out_of_fds, 0);
	assert_non_null(strstr(err, path));
	/* Not a descriptor problem, but still not cached: a file put there
	 * later is read. */
	write_ca(path);
	assert_non_null(net_tls_context(path, err, sizeof(err), &out_of_fds));
	unlink(path);
	net_cleanup();
}

struct connect_case {
	struct event_base *base;
	int events, connected, failed;
	char error[320];
};

static void
on_net(struct net_conn *c, enum net_event ev, void *arg)
{
	struct connect_case *cc = arg;

	cc->events++;
	if (ev == NET_EV_CONNECTED)
		cc->connected = 1;
	if (ev == NET_EV_ERROR) {
		cc->failed = 1;
		snprintf(cc->error, sizeof(cc->error), "%s", net_error_text(c));
	}
	event_base_loopbreak(cc->base);
}

/* After a few waits, give two descriptors back (as a finishing connection
 * would). */
static void
free_some(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	release(2);
}

static void
test_connect_waits_for_a_descriptor(void **state)
{
	struct connect_case cc;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct net_params p;
	struct net_conn *c;
	struct event *later;
	struct timeval tv = {0, 30000}, cap = {5, 0};
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	char port[8];

	(void)state;
	memset(&cc, 0, sizeof(cc));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	cc.base = event_base_new();
	later = evtimer_new(cc.base, free_some, NULL);

	memset(&p, 0, sizeof(p));
	p.host = "127.0.0.1";
	p.port = ntohs(sa.sin_port);
	exhaust();
	c = net_connect(cc.base, &p, on_net, &cc);
	evtimer_add(later, &tv);
	event_base_loopexit(cc.base, &cap);
	event_base_dispatch(cc.base);
	restore();
	assert_int_equal(cc.failed, 0);
	assert_int_equal(cc.connected, 1);
	net_free(c);
	event_free(later);
	event_base_free(cc.base);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ca_failure_is_not_cached),
	    cmocka_unit_test(test_missing_ca_file_is_tried_again),
	    cmocka_unit_test(test_connect_waits_for_a_descriptor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
