/*
 * fdlimit.h - file descriptors: the process limit, and what it allows.
 *
 * Every connection holds one descriptor; a big audit with --concurrency 2000
 * under a container's soft limit of 256 would otherwise end its logins in
 * "Too many open files". At start (fdlimit_clamp) the soft RLIMIT_NOFILE is
 * raised to the hard limit, and the connection limits are lowered to what
 * the descriptors left allow. A descriptor that still runs out (libcurl's
 * own connections, a file opened at the wrong moment) is waited for by the
 * caller (fdlimit_exhausted), never turned into a failed mailbox.
 */
#ifndef CUTOVER_FDLIMIT_H
#define CUTOVER_FDLIMIT_H

#include <stddef.h>

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (the first call only) and
 * return how many connections may be open at once: the soft limit less the
 * descriptors open now less RESERVE (the event loop, DNS sockets, report
 * and CA files). At least 1.
 */
long fdlimit_connections(long reserve);

/*
 * Lower *CONCURRENCY and *PER_HOST (positive) to what the descriptors allow,
 * keeping RESERVE_EXTRA more descriptors aside (e.g. 2 per DNS server).
 * When either was lowered, NOTICE (LEN bytes) holds one line saying so
 * (no newline) and 1 is returned; otherwise NOTICE is "" and 0 returned.
 */
int fdlimit_clamp(int *concurrency, int *per_host, long reserve_extra, char *notice, size_t len);

/* 1 when ERR (an errno) means the process or the system ran out of
 * descriptors (EMFILE, ENFILE): wait for one to be freed and try again. */
int fdlimit_exhausted(int err);

#endif
