/*
 * json_path.h - reach into a details object in a unit test by a dotted path:
 * jpath(d, "servers.1.error") is d["servers"][1]["error"] (NULL when absent).
 * Object keys and array indexes alike; a key must not be all digits.
 */
#ifndef CUTOVER_TEST_JSON_PATH_H
#define CUTOVER_TEST_JSON_PATH_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

static inline const cJSON *
jpath(const cJSON *o, const char *path)
{
	char key[128];

	while (o != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (cJSON_IsArray(o) && isdigit((unsigned char)key[0]))
			o = cJSON_GetArrayItem(o, atoi(key));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

/* The string at PATH, or NULL when it is absent or not a string. */
static inline const char *
jstr(const cJSON *o, const char *path)
{
	const cJSON *v = jpath(o, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The number at PATH, or -999 when it is absent or not a number. */
static inline double
jnum(const cJSON *o, const char *path)
{
	const cJSON *v = jpath(o, path);

	return cJSON_IsNumber(v) ? v->valuedouble : -999;
}

/* 1 when PATH is there and null. */
static inline int
jnull(const cJSON *o, const char *path)
{
	return cJSON_IsNull(jpath(o, path));
}

#endif
