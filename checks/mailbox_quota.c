/*
 * mailbox_quota.c - mailbox.quota: does the source mailbox fit the
 * destination's quota?
 *
 * Source usage: GETQUOTAROOT "INBOX" (RFC 9208 section 4.3.1; STORAGE is in
 * units of 1024 octets, section 5.1), else the sum of the folders' bytes
 * (STATUS=SIZE or RFC822.SIZE). Destination limit: its GETQUOTAROOT, else
 * the plan's destination.limits.mailbox_bytes (or the profile's). Above
 * quota_headroom (default 0.70) of the limit: warn; above the limit: fail.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mailbox_session.h"
#include "util.h"

#define QUOTA_HEADROOM_DEFAULT 0.70

static void
mq_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	const struct profile_limits *l = &v->plan->destination.limits;
	double headroom = l->quota_headroom > 0 ? l->quota_headroom : QUOTA_HEADROOM_DEFAULT;
	int64_t usage = -1, limit = -1, dst_usage = -1;
	const char *usage_from = NULL, *limit_from = NULL;
	cJSON *d = res->details;
	char b1[32], b2[32];
	double ratio = -1;

	if (si != NULL && si->has_quota) {
		usage = si->quota_used_bytes;
		usage_from = "quota";
	} else if (si != NULL && si->total_bytes >= 0) {
		usage = si->total_bytes;
		usage_from = "folders";
	}
	if (di != NULL && di->has_quota && di->quota_limit_bytes > 0) {
		limit = di->quota_limit_bytes;
		limit_from = "destination";
		dst_usage = di->quota_used_bytes;
	} else if (l->mailbox_bytes >= 0) {
		limit = l->mailbox_bytes;
		limit_from = "plan";
	}
	if (usage >= 0 && limit > 0)
		ratio = (double)usage / (double)limit;
	cJSON_AddItemToObject(d, "source_usage_bytes", mailaudit_num_or_null(usage));
	cJSON_AddItemToObject(d, "destination_limit_bytes", mailaudit_num_or_null(limit));
	if (ratio >= 0)
		cJSON_AddNumberToObject(d, "ratio", ratio);
	else
		cJSON_AddNullToObject(d, "ratio");
	cJSON_AddNumberToObject(d, "headroom", headroom);
	if (usage_from != NULL)
		cJSON_AddStringToObject(d, "source_usage_from", usage_from);
	else
		cJSON_AddNullToObject(d, "source_usage_from");
	if (limit_from != NULL)
		cJSON_AddStringToObject(d, "destination_limit_from", limit_from);
	else
		cJSON_AddNullToObject(d, "destination_limit_from");
	cJSON_AddItemToObject(d, "source_limit_bytes",
	    mailaudit_num_or_null(si != NULL && si->has_quota ? si->quota_limit_bytes : -1));
	cJSON_AddItemToObject(d, "destination_usage_bytes", mailaudit_num_or_null(dst_usage));
	if (si != NULL && si->quota_root != NULL)
		cJSON_AddStringToObject(d, "source_quota_root", si->quota_root);
	if (v->dst.present && di == NULL && v->dst.error != NULL)
		cJSON_AddStringToObject(d, "destination_error", v->dst.error);

	if (usage < 0) {
		if (si == NULL) {
			mailaudit_side_error(res, v, 0);
			return;
		}
		result_set(res, RESULT_ERROR, "the source reports no quota and not every folder's "
		    "size");
		return;
	}
	mailaudit_size(usage, b1, sizeof(b1));
	if (limit <= 0) {
		result_set(res, RESULT_SKIP, "source uses %s; no destination limit known (the "
		    "destination reports no quota; set destination.limits.mailbox_bytes)", b1);
		return;
	}
	mailaudit_size(limit, b2, sizeof(b2));
	if (ratio > 1.0) {
		result_set(res, RESULT_FAIL, "source uses %s, more than the destination's %s "
		    "(%.0f%%)", b1, b2, ratio * 100);
		result_advise(res, "The mailbox does not fit: raise the destination quota (a "
		    "bigger licence or an archive mailbox) or archive/delete mail on the source "
		    "before migrating.");
	} else if (ratio > headroom) {
		result_set(res, RESULT_WARN, "source uses %s, %.0f%% of the destination's %s "
		    "(above %.0f%%)", b1, ratio * 100, b2, headroom * 100);
		result_advise(res, "Little room to grow after the move: plan a bigger quota or "
		    "an archive before go-live.");
	} else {
		result_set(res, RESULT_PASS, "source uses %s, %.0f%% of the destination's %s", b1,
		    ratio * 100, b2);
	}
}

static void
mq_schedule(struct runner *r, const struct check_input *in)
{
	mailaudit_schedule(r, in, "mailbox.quota", RESULT_SIDE_NONE,
	    MAILAUDIT_SRC_QUOTA | MAILAUDIT_SRC_BYTES | MAILAUDIT_DST_QUOTA, mq_fill);
}

const struct check check_mailbox_quota = {
    .id = "mailbox.quota",
    .group = "quota",
    .title = "source mailbox size against the destination's quota",
    .commands = CHECK_CMD_AUDIT,
    .schedule = mq_schedule,
    .scope = CHECK_SCOPE_MAILBOX,
};
