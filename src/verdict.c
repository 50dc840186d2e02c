/* verdict.c - a check's conclusion before it goes into a result. See verdict.h. */
#include "verdict.h"

#include <stdarg.h>
#include <stdlib.h>

#include "util.h"

void
verdict_set(struct verdict *v, enum result_status st, const char *fmt, ...)
{
	va_list ap;

	free(v->summary);
	va_start(ap, fmt);
	v->summary = xvasprintf(fmt, ap);
	va_end(ap);
	v->status = st;
}

void
verdict_advise(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	free(v->advice);
	va_start(ap, fmt);
	v->advice = xvasprintf(fmt, ap);
	va_end(ap);
}

void
verdict_apply(struct verdict *v, struct result *res)
{
	if (v->summary != NULL)
		result_set(res, v->status, "%s", v->summary);
	if (v->advice != NULL)
		result_advise(res, "%s", v->advice);
	verdict_clear(v);
}

void
verdict_raise(struct verdict *v, enum result_status st, char *summary, char *advice)
{
	if (v->summary == NULL || (st != v->status && result_worse(st, v->status) == st)) {
		free(v->summary);
		free(v->advice);
		v->status = st;
		v->summary = summary;
		v->advice = advice;
		return;
	}
	free(summary);
	free(advice);
}

void
verdict_clear(struct verdict *v)
{
	free(v->summary);
	free(v->advice);
	v->summary = v->advice = NULL;
	v->status = RESULT_PASS;
}
