/* fdlimit.c - the descriptor limit and the connection limits. See fdlimit.h. */
#include "fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>

/* Descriptors the process needs besides connections: stdio, the event loop
 * (epoll, its notify and signal pipes), libcurl's wakeup pair, the report,
 * the CA file, SQLite's files and journal. */
#define FDLIMIT_BASE_RESERVE 24

static int fdlimit_raised;

/* Descriptors open now: /proc/self/fd, or probing when there is no /proc. */
static long
fdlimit_open_now(long limit)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (d != NULL) {
		while (readdir(d) != NULL)
			n++;
		closedir(d);
		return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
	}
	if (limit > 65536)
		limit = 65536;
	for (long fd = 0; fd < limit; fd++)
		if (fcntl((int)fd, F_GETFD) != -1)
			n++;
	return n;
}

long
fdlimit_connections(long reserve)
{
	struct rlimit rl;
	long soft, n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1L << 20; /* unknown: no clamp; EMFILE is still waited out */
	if (!fdlimit_raised && rl.rlim_cur != rl.rlim_max) {
		struct rlimit want = rl;

		want.rlim_cur = rl.rlim_max;
		/* The hard limit may be "unlimited" where the kernel takes less
		 * (Linux's nr_open): keep the old soft limit then. */
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	fdlimit_raised = 1;
	soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)(1L << 30) ? 1L << 30
	                                                                        : (long)rl.rlim_cur;
	n = soft - fdlimit_open_now(soft) - FDLIMIT_BASE_RESERVE - reserve;
	return n < 1 ? 1 : n;
}

int
fdlimit_clamp(int *concurrency, int *per_host, long reserve_extra, char *notice, size_t len)
{
	long fit = fdlimit_connections(reserve_extra);
	int c0 = *concurrency, h0 = *per_host;

	notice[0] = '\0';
	if ((long)*concurrency > fit)
		*concurrency = (int)fit;
	if ((long)*per_host > fit)
		*per_host = (int)fit;
	if (c0 == *concurrency && h0 == *per_host)
		return 0;
	if (h0 != *per_host)
		snprintf(notice, len,
		    "the file-descriptor limit allows %ld connections at once: "
		    "--concurrency %d lowered to %d and --per-host %d to %d (raise it with "
		    "'ulimit -n' or LimitNOFILE=)",
		    fit, c0, *concurrency, h0, *per_host);
	else
		snprintf(notice, len,
		    "the file-descriptor limit allows %ld connections at once: "
		    "--concurrency %d lowered to %d (raise it with 'ulimit -n' or LimitNOFILE=)",
		    fit, c0, *concurrency);
	return 1;
}

int
fdlimit_exhausted(int err)
{
	return err == EMFILE || err == ENFILE;
}
