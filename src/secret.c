/*
 * secret.c - env:/file: secret references and wiping file reads; see secret.h.
 */
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

void
secret_wipe_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

char *
secret_join(const char *dir, const char *rel)
{
	size_t dl = strlen(dir);

	if (rel[0] == '/' || strcmp(dir, ".") == 0)
		return xstrdup(rel);
	if (dl > 0 && dir[dl - 1] == '/')
		return xasprintf("%s%s", dir, rel);
	return xasprintf("%s/%s", dir, rel);
}

const char *
secret_syntax(const char *v)
{
	size_t i;

	if (v[0] == '\0')
		return "empty";
	if (strpbrk(v, "\r\n") != NULL)
		return "contains a line break";
	/* "ENV:X" or "File:x" is a reference typed in the wrong case, not a password */
	if (strncasecmp(v, "env:", 4) == 0 && strncmp(v, "env:", 4) != 0)
		return "did you mean env: (lower case)? a reference is env:NAME or file:PATH";
	if (strncasecmp(v, "file:", 5) == 0 && strncmp(v, "file:", 5) != 0)
		return "did you mean file: (lower case)? a reference is env:NAME or file:PATH";
	if (strncmp(v, "env:", 4) == 0) {
		const char *name = v + 4;

		if (name[0] == '\0' || isdigit((unsigned char)name[0]))
			return "env: needs a variable name (letters, digits and _)";
		for (i = 0; name[i] != '\0'; i++)
			if (!(isalnum((unsigned char)name[i]) || name[i] == '_') ||
			    (unsigned char)name[i] >= 0x80)
				return "env: needs a variable name (letters, digits and _)";
	} else if (strncmp(v, "file:", 5) == 0) {
		if (v[5] == '\0')
			return "file: needs a path";
	}
	return NULL;
}

int
secret_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;
	ssize_t r;
	int fd, saved;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (cap > max)
				break;
			/* grow by copying so no unwiped copy of a secret is left behind */
			nbuf = xmalloc(ncap + 1);
			if (buf != NULL)
				memcpy(nbuf, buf, used);
			secret_wipe_free(buf, cap + 1);
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + used, cap - used);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			secret_wipe_free(buf, cap + 1);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	if (used > max) {
		secret_wipe_free(buf, cap + 1);
		return -2;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

int
secret_resolve(char **secret, enum secret_form form, const char *at, const char *dir, char **err)
{
	const char *v = *secret;

	if (v == NULL)
		return 0;
	if (strncmp(v, "env:", 4) == 0) {
		const char *val = getenv(v + 4);

		if (val == NULL) {
			*err = xasprintf("%s: environment variable %s is not set", at, v + 4);
			return -1;
		}
		if (val[0] == '\0') {
			*err = xasprintf("%s: environment variable %s is empty", at, v + 4);
			return -1;
		}
		util_free_secret(*secret);
		*secret = xstrdup(val);
		return 0;
	}
	if (strncmp(v, "file:", 5) == 0) {
		char *path = secret_join(dir, v + 5), *data = NULL;
		size_t len, line;
		int r = secret_read_file(path, SECRET_FILE_MAX, &data, &len);

		if (r == -1) {
			*err = xasprintf("%s: cannot read %s: %s", at, path, strerror(errno));
			free(path);
			return -1;
		}
		if (r == -2) {
			*err =
			    xasprintf("%s: %s is larger than %d bytes", at, path, SECRET_FILE_MAX);
			free(path);
			return -1;
		}
		/* a password is the first line; a PEM or JSON key the whole file */
		line = form == SECRET_WHOLE ? len : strcspn(data, "\r\n");
		if (line == 0 || memchr(data, '\0', line) != NULL) {
			*err = xasprintf("%s: %s%s", at, path,
			    form == SECRET_LINE ? ": the first line is empty"
			        : line == 0     ? " is empty"
			                        : " contains a NUL byte");
			free(path);
			secret_wipe_free(data, len + 1);
			return -1;
		}
		free(path);
		util_free_secret(*secret);
		*secret = xstrndup(data, line);
		secret_wipe_free(data, len + 1);
		return 0;
	}
	return 0;
}
