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
#include "check_verdicts.h"
#include "mailbox_session.h"
#include "src/util.h"

double
quota_ratio(const struct quota_summary *s)
{
	if (s->usage >= 0 && s->limit > 0)
		return (double)s->usage / (double)s->limit;
	return -1;
}

void
quota_details_json(const struct quota_summary *s, cJSON *d)
{
	double ratio = quota_ratio(s);

	cJSON_AddItemToObject(d, "source_usage_bytes", mailaudit_num_or_null(s->usage));
	cJSON_AddItemToObject(d, "destination_limit_bytes", mailaudit_num_or_null(s->limit));
	if (ratio >= 0)
		cJSON_AddNumberToObject(d, "ratio", ratio);
	else
		cJSON_AddNullToObject(d, "ratio");
	cJSON_AddNumberToObject(d, "headroom", s->headroom);
	if (s->usage_from != NULL)
		cJSON_AddStringToObject(d, "source_usage_from", s->usage_from);
	else
		cJSON_AddNullToObject(d, "source_usage_from");
	if (s->limit_from != NULL)
		cJSON_AddStringToObject(d, "destination_limit_from", s->limit_from);
	else
		cJSON_AddNullToObject(d, "destination_limit_from");
	cJSON_AddItemToObject(d, "source_limit_bytes", mailaudit_num_or_null(s->source_limit));
	cJSON_AddItemToObject(
	    d, "destination_usage_bytes", mailaudit_num_or_null(s->destination_usage));
	if (s->source_quota_root != NULL)
		cJSON_AddStringToObject(d, "source_quota_root", s->source_quota_root);
	if (s->destination_error != NULL)
		cJSON_AddStringToObject(d, "destination_error", s->destination_error);
}

void
quota_verdict(const struct quota_summary *s, struct verdict *out)
{
	double ratio = quota_ratio(s);
	char b1[32], b2[32];

	if (s->usage < 0) {
		verdict_set(out, RESULT_ERROR,
		    "the source reports no quota and not every "
		    "folder's size");
		return;
	}
	mailaudit_size(s->usage, b1, sizeof(b1));
	if (s->limit <= 0) {
		verdict_set(out, RESULT_SKIP,
		    "source uses %s; no destination limit known (the "
		    "destination reports no quota; set destination.limits.mailbox_bytes)",
		    b1);
		return;
	}
	mailaudit_size(s->limit, b2, sizeof(b2));
	if (ratio > 1.0) {
		verdict_set(out, RESULT_FAIL,
		    "source uses %s, more than the destination's %s "
		    "(%.0f%%)",
		    b1, b2, ratio * 100);
		verdict_advise(out,
		    "The mailbox does not fit: raise the destination quota (a "
		    "bigger licence or an archive mailbox) or archive/delete mail on the source "
		    "before migrating.");
	} else if (ratio > s->headroom) {
		verdict_set(out, RESULT_WARN,
		    "source uses %s, %.0f%% of the destination's %s "
		    "(above %.0f%%)",
		    b1, ratio * 100, b2, s->headroom * 100);
		verdict_advise(out,
		    "Little room to grow after the move: plan a bigger quota or "
		    "an archive before go-live.");
	} else {
		verdict_set(out, RESULT_PASS, "source uses %s, %.0f%% of the destination's %s", b1,
		    ratio * 100, b2);
	}
}

static void
mq_fill(struct result *res, const struct mailaudit_view *v)
{
	const struct folders_inventory *si = v->src.inv, *di = v->dst.inv;
	const struct profile_limits *l = &v->plan->destination.limits;
	struct quota_summary s = {
	    .usage = -1,
	    .limit = -1,
	    .source_limit = -1,
	    .destination_usage = -1,
	    .headroom = l->quota_headroom > 0 ? l->quota_headroom : QUOTA_HEADROOM_DEFAULT,
	};
	struct verdict vd = {0};

	if (si != NULL && si->has_quota) {
		s.usage = si->quota_used_bytes;
		s.usage_from = "quota";
		s.source_limit = si->quota_limit_bytes;
	} else if (si != NULL && si->total_bytes >= 0) {
		s.usage = si->total_bytes;
		s.usage_from = "folders";
	}
	if (di != NULL && di->has_quota && di->quota_limit_bytes > 0) {
		s.limit = di->quota_limit_bytes;
		s.limit_from = "destination";
		s.destination_usage = di->quota_used_bytes;
	} else if (l->mailbox_bytes >= 0) {
		s.limit = l->mailbox_bytes;
		s.limit_from = "plan";
	}
	if (si != NULL)
		s.source_quota_root = si->quota_root;
	if (v->dst.present && di == NULL)
		s.destination_error = v->dst.error;
	quota_details_json(&s, res->details);
	if (si == NULL) {
		mailaudit_side_error(res, v, 0);
		return;
	}
	quota_verdict(&s, &vd);
	verdict_apply(&vd, res);
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
