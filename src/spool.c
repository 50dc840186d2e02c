/* spool.c - the append-only scratch file. See spool.h. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Appends are gathered here and written in one go. */
#define SPOOL_BUF (64 * 1024)

struct spool {
	int fd; /* -1: in memory (spool_new_mem), MEM holds it all */
	char *mem;
	size_t mem_len, mem_cap;
	uint64_t flushed; /* bytes on disk */
	char buf[SPOOL_BUF];
	size_t n; /* bytes in BUF, which follow FLUSHED */
};

struct spool *
spool_new(const char *dir, char **err)
{
	struct spool *sp;
	const char *d = dir;
	int fd;

	*err = NULL;
	if (d == NULL || *d == '\0')
		d = getenv("TMPDIR");
	if (d == NULL || *d == '\0')
		d = "/tmp";
#ifdef O_TMPFILE
	fd = open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
#endif
	{
		char *path = xasprintf("%s/cutover-spool-XXXXXX", d);

		fd = mkstemp(path);
		if (fd >= 0) {
			unlink(path);
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		}
		free(path);
	}
	if (fd < 0) {
		*err = xasprintf("cannot make a scratch file in %s: %s", d, strerror(errno));
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->fd = fd;
	return sp;
}

struct spool *
spool_new_mem(void)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->fd = -1;
	return sp;
}

/* Write BUF out. Returns 0 or -1. */
static int
spool_flush(struct spool *sp)
{
	size_t done = 0;

	while (done < sp->n) {
		ssize_t w =
		    pwrite(sp->fd, sp->buf + done, sp->n - done, (off_t)(sp->flushed + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	sp->flushed += sp->n;
	sp->n = 0;
	return 0;
}

int
spool_put(struct spool *sp, const char *data, size_t len, uint64_t *off)
{
	*off = sp->flushed + sp->n;
	if (sp->fd < 0) {
		if (sp->mem_len + len > sp->mem_cap) {
			sp->mem_cap = (sp->mem_len + len) * 2;
			sp->mem = xrealloc(sp->mem, sp->mem_cap);
		}
		memcpy(sp->mem + sp->mem_len, data, len);
		sp->mem_len += len;
		sp->flushed += len;
		return 0;
	}
	if (sp->n + len > SPOOL_BUF && spool_flush(sp) != 0)
		return -1;
	if (len > SPOOL_BUF) {
		/* Too big to gather: straight to the file. */
		size_t done = 0;

		while (done < len) {
			ssize_t w =
			    pwrite(sp->fd, data + done, len - done, (off_t)(sp->flushed + done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			done += (size_t)w;
		}
		sp->flushed += len;
		return 0;
	}
	memcpy(sp->buf + sp->n, data, len);
	sp->n += len;
	return 0;
}

char *
spool_get(struct spool *sp, uint64_t off, size_t len)
{
	char *out;
	size_t done = 0;

	if (sp->fd < 0) {
		if (off > sp->mem_len || len > sp->mem_len - off)
			return NULL;
		out = xmalloc(len + 1);
		memcpy(out, sp->mem + off, len);
		out[len] = '\0';
		return out;
	}
	if (off + len > sp->flushed && spool_flush(sp) != 0)
		return NULL;
	out = xmalloc(len + 1);
	while (done < len) {
		ssize_t r = pread(sp->fd, out + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(out);
			return NULL;
		}
		done += (size_t)r;
	}
	out[len] = '\0';
	return out;
}

uint64_t
spool_size(const struct spool *sp)
{
	return sp->flushed + sp->n;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->mem);
	free(sp);
}
