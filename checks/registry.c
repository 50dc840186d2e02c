/* registry.c - the list of check modules (see check.h). */
#include "check.h"

#include <string.h>

extern const struct check check_dns_mx;
extern const struct check check_dns_mx_ttl;
extern const struct check check_dns_spf;
extern const struct check check_dns_autodiscover;
extern const struct check check_dns_dmarc;
extern const struct check check_dns_dkim;
extern const struct check check_dns_mta_sts;
extern const struct check check_dns_m365_verification;
extern const struct check check_dns_tls_rpt;
extern const struct check check_web_webmail;
extern const struct check check_web_autodiscover;
extern const struct check check_auth_token;
extern const struct check check_imap_tls;
extern const struct check check_imap_login;
extern const struct check check_pop3_tls;
extern const struct check check_pop3_login;
extern const struct check check_mailbox_folders;
extern const struct check check_mailbox_folder_items;
extern const struct check check_mailbox_folder_names;
extern const struct check check_mailbox_limits;
extern const struct check check_mailbox_large_messages;
extern const struct check check_mailbox_quota;
extern const struct check check_mailbox_compare;
extern const struct check check_smtp_mx;
extern const struct check check_mailbox_folder_map;

static const struct check *const check_list[] = {
    &check_dns_mx,
    &check_dns_mx_ttl,
    &check_dns_spf,
    &check_dns_autodiscover,
    &check_dns_dmarc,
    &check_dns_dkim,
    &check_dns_mta_sts,
    &check_dns_m365_verification,
    &check_dns_tls_rpt,
    &check_web_webmail,
    &check_web_autodiscover,
    &check_auth_token,
    &check_imap_tls,
    &check_imap_login,
    &check_pop3_tls,
    &check_pop3_login,
    &check_mailbox_folders,
    &check_mailbox_folder_items,
    &check_mailbox_folder_names,
    &check_mailbox_limits,
    &check_mailbox_large_messages,
    &check_mailbox_quota,
    &check_mailbox_compare,
    &check_smtp_mx,
    &check_mailbox_folder_map,
    NULL,
};

const struct check *const *
check_registry(void)
{
	return check_list;
}

int
check_in_shard(const struct check *ck, unsigned k, unsigned n)
{
	if (n <= 1 || k == 1)
		return 1;
	switch (ck->scope) {
	case CHECK_SCOPE_ONCE: return 0;
	case CHECK_SCOPE_MAILBOX: return 1;
	case CHECK_SCOPE_AUTO: break;
	}
	return strcmp(ck->group, "dns") != 0 && strcmp(ck->group, "web") != 0;
}
