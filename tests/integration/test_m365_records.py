"""dns.m365_verification: the Microsoft 365 domain verification TXT record
(MS=ms...) against the DNS lab (smtp.test publishes "MS=ms12345678")."""
import json

import pytest

pytestmark = pytest.mark.usefixtures("dns_lab")


def audit(cutover, dns_lab, tmp_path, domain, verification=None):
    plan = {"domain": domain, "resolvers": [dns_lab], "mailboxes": [],
            "destination": {"profile": "microsoft365"}}
    if verification is not None:
        plan["expect"] = {"verification": verification}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return cutover("audit", path, "--only", "dns", "--no-progress")


def test_expected_value_published(cutover, dns_lab, tmp_path):
    c = audit(cutover, dns_lab, tmp_path, "smtp.test", "MS=ms12345678") \
        .check("dns.m365_verification", "smtp.test")
    assert c["status"] == "pass"
    assert c["details"] == {"records": ["MS=ms12345678"], "expected": "MS=ms12345678"}


def test_other_value_or_none_fails(cutover, dns_lab, tmp_path):
    c = audit(cutover, dns_lab, tmp_path, "smtp.test", "MS=ms87654321") \
        .check("dns.m365_verification", "smtp.test")
    assert c["status"] == "fail"
    assert "MS=ms12345678" in c["summary"] and "MS=ms87654321" in c["summary"]
    assert "5.4.1" in c["advice"]
    c = audit(cutover, dns_lab, tmp_path, "sts.test", "MS=ms87654321") \
        .check("dns.m365_verification", "sts.test")
    assert c["status"] == "fail" and c["details"]["records"] == []


def test_profile_only(cutover, dns_lab):
    run = cutover("dns", "smtp.test", "--expect", "microsoft365", "--resolver", dns_lab)
    c = run.check("dns.m365_verification", "smtp.test")
    assert c["status"] == "pass" and c["details"]["expected"] is None
    run = cutover("dns", "sts.test", "--expect", "microsoft365", "--resolver", dns_lab)
    c = run.check("dns.m365_verification", "sts.test")
    assert c["status"] == "warn" and "expect.verification" in c["advice"]
    # not moving to Microsoft 365: no such check
    run = cutover("dns", "smtp.test", "--resolver", dns_lab)
    assert not [x for x in run.report["checks"] if x["id"] == "dns.m365_verification"]


def test_bad_plan_value(cutover, dns_lab, tmp_path):
    run = audit(cutover, dns_lab, tmp_path, "smtp.test", "ms=12345")
    assert run.rc == 65
    assert "expect.verification" in run.stderr and "MS=ms12345678" in run.stderr


@pytest.mark.parametrize("go_live,status", [("2999-01-01", "pass"), ("2020-01-01", "fail")])
def test_mx_against_go_live(cutover, dns_lab, tmp_path, go_live, status):
    """rs.test's MX is still Rackspace's: fine before the plan's go-live day,
    a failure after it."""
    plan = {"domain": "rs.test", "resolvers": [dns_lab], "mailboxes": [],
            "destination": {"profile": "microsoft365"}, "expect": {"go_live": go_live}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    mx = cutover("audit", path, "--only", "dns", "--no-progress").check("dns.mx", "rs.test")
    assert mx["status"] == status
    if status == "pass":
        assert mx["summary"].endswith("still the rackspace MX, expected until go-live")
    else:
        assert "still the rackspace MX after the go-live date 2020-01-01" in mx["summary"]
        assert "expect.go_live" in mx["advice"]


def test_bad_go_live(cutover, dns_lab, tmp_path):
    plan = {"domain": "rs.test", "mailboxes": [], "expect": {"go_live": "12/10/2026"}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", path, json_report=False)
    assert run.rc == 65 and "expect.go_live" in run.stderr and "YYYY-MM-DD" in run.stderr
