/* util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static void
util_oom(size_t n)
{
	fprintf(stderr, "cutover: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		util_oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		util_oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		util_oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = xmalloc(len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		util_oom(0);
	s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
util_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_iso8601(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
util_strieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Length of NAME without one trailing dot. */
static size_t
util_domain_len(const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	return n;
}

int
util_domain_match(const char *pattern, const char *name)
{
	size_t pl = util_domain_len(pattern), nl = util_domain_len(name);

	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* "*.x.y" matches "a.x.y" and "a.b.x.y", never "x.y" itself. */
		size_t sl = pl - 1; /* ".x.y" */

		return nl > sl && strncasecmp(name + nl - sl, pattern + 1, sl) == 0;
	}
	return pl == nl && strncasecmp(pattern, name, pl) == 0;
}

size_t
util_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t *row;
	size_t result;

	if (la > 64 || lb > 64)
		return (size_t)-1;
	row = xcalloc(lb + 1, sizeof(*row));
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
			    ? 0
			    : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

const char *
util_json_type(const cJSON *item)
{
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	return "an invalid value";
}

const char *
util_nonempty(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

void
util_json_add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* The mode of the file PATH replaces, or what open(O_CREAT, 0666) would give
 * (mkstemp creates 0600). */
static mode_t
util_file_mode(const char *path)
{
	struct stat st;
	mode_t mask;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return st.st_mode & 07777;
	mask = umask(022);
	umask(mask);
	return 0666 & ~mask;
}

/* fsync the folder holding PATH so the rename itself is durable; best effort. */
static void
util_sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

int
util_write_stream(const char *path, int (*write_fn)(FILE *out, void *arg), void *arg,
    const char *what, char **err)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, rc = -1, saved;

	*err = NULL;
	if (path == NULL || *path == '\0') {
		*err = xasprintf("cannot write %s: empty path", what);
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		if (write_fn(stdout, arg) != 0 || fflush(stdout) != 0) {
			*err = xasprintf(
			    "cannot write %s to standard output: %s", what, strerror(errno));
			return -1;
		}
		return 0;
	}
	/* Same folder as PATH, so rename() is atomic (same file system). */
	tmp = xasprintf("%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		*err = xasprintf("cannot write %s %s: %s", what, path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, util_file_mode(path)) != 0 || (f = fdopen(fd, "w")) == NULL) {
		*err = xasprintf("cannot write %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	fd = -1; /* F owns it */
	if (write_fn(f, arg) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		*err = xasprintf("cannot write %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	saved = fclose(f);
	f = NULL;
	if (saved != 0) {
		*err = xasprintf("cannot write %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		*err = xasprintf("cannot write %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL; /* renamed: nothing to unlink */
	util_sync_dir(path);
	rc = 0;
out:
	saved = errno;
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	errno = saved;
	return rc;
}

int
util_hostname_ok(const char *s, int allow_wild)
{
	size_t len, label = 0, i;

	if (allow_wild && strncmp(s, "*.", 2) == 0)
		s += 2;
	len = strlen(s);
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c >= 0x80 || !(isalnum(c) || c == '-' || c == '_'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[len - 1] != '-';
}

struct util_buf {
	const char *data;
	size_t len;
};

static int
util_write_buf(FILE *out, void *arg)
{
	const struct util_buf *b = arg;

	return fwrite(b->data, 1, b->len, out) == b->len ? 0 : -1;
}

int
util_write_file(const char *path, const char *data, size_t len, const char *what, char **err)
{
	struct util_buf b = {data, len};

	return util_write_stream(path, util_write_buf, &b, what, err);
}
