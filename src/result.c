/* result.c - see result.h. */
#include "result.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const result_status_names[RESULT_STATUS_COUNT] = {
    [RESULT_PASS] = "pass",
    [RESULT_SKIP] = "skip",
    [RESULT_WARN] = "warn",
    [RESULT_FAIL] = "fail",
    [RESULT_ERROR] = "error",
};

struct result *
result_new(const char *id, const char *subject, enum result_side side)
{
	struct result *res = xcalloc(1, sizeof(*res));

	res->id = xstrdup(id);
	res->subject = xstrdup(subject ? subject : "");
	res->side = side;
	res->status = RESULT_ERROR;
	res->summary = xstrdup("not checked");
	res->details = cJSON_CreateObject();
	if (res->details == NULL)
		abort();
	return res;
}

void
result_free(struct result *res)
{
	if (res == NULL)
		return;
	free(res->id);
	free(res->subject);
	free(res->summary);
	free(res->advice);
	cJSON_Delete(res->details);
	free(res);
}

void
result_set(struct result *res, enum result_status status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(res->summary);
	res->summary = xvasprintf(fmt, ap);
	va_end(ap);
	res->status = status;
	res->status_set = 1;
}

void
result_advise(struct result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(res->advice);
	res->advice = xvasprintf(fmt, ap);
	va_end(ap);
}

const char *
result_status_str(enum result_status st)
{
	return (unsigned)st < RESULT_STATUS_COUNT ? result_status_names[st] : "error";
}

int
result_status_parse(const char *s, enum result_status *out)
{
	for (int i = 0; i < RESULT_STATUS_COUNT; i++) {
		if (s != NULL && strcmp(s, result_status_names[i]) == 0) {
			*out = (enum result_status)i;
			return 0;
		}
	}
	return -1;
}

const char *
result_side_str(enum result_side side)
{
	switch (side) {
	case RESULT_SIDE_SOURCE: return "source";
	case RESULT_SIDE_DESTINATION: return "destination";
	case RESULT_SIDE_NONE: break;
	}
	return NULL;
}

int
result_side_parse(const char *s, enum result_side *out)
{
	if (s == NULL || *s == '\0')
		*out = RESULT_SIDE_NONE;
	else if (strcmp(s, "source") == 0)
		*out = RESULT_SIDE_SOURCE;
	else if (strcmp(s, "destination") == 0)
		*out = RESULT_SIDE_DESTINATION;
	else
		return -1;
	return 0;
}

enum result_status
result_worse(enum result_status a, enum result_status b)
{
	return a > b ? a : b;
}

int
result_exit_code(enum result_status worst)
{
	switch (worst) {
	case RESULT_PASS:
	case RESULT_SKIP: return 0;
	case RESULT_WARN: return 1;
	default: return 2;
	}
}
