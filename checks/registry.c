/* registry.c - the list of check modules (see check.h). */
#include "check.h"

extern const struct check check_dns_mx;
extern const struct check check_dns_mx_ttl;

static const struct check *const check_list[] = {
	&check_dns_mx,
	&check_dns_mx_ttl,
	NULL,
};

const struct check *const *
check_registry(void)
{
	return check_list;
}
