"""dns.mta_sts: MTA-STS policies (RFC 8461) from the real lab: Knot serves the
_mta-sts TXT records (zone sts.test), nginx the policies at
https://mta-sts.NAME.sts.test/.well-known/mta-sts.txt with a lab-CA
certificate. The plan expects Microsoft 365's MX (*.mail.protection.outlook.com).
"""
import json

import pytest

pytestmark = pytest.mark.usefixtures("dns_lab", "web_lab")


def sts(cutover, dns_lab, web_lab, tmp_path, name, expect=("*.mail.protection.outlook.com",)):
    plan = {"domain": f"{name}.sts.test", "resolvers": [dns_lab],
            "expect": {"mx": list(expect)}, "mailboxes": []}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", path, "--only", "dns", "--ca-file", web_lab["ca"],
                  *web_lab["connect_to"], "--no-progress")
    return run.check("dns.mta_sts", f"{name}.sts.test")


def test_enforce_without_new_mx_fails_with_the_policy_to_publish(cutover, dns_lab, web_lab,
                                                                  tmp_path):
    c = sts(cutover, dns_lab, web_lab, tmp_path, "enforce")
    assert c["status"] == "fail"
    assert "enforce" in c["summary"] and "*.mail.protection.outlook.com" in c["summary"]
    d = c["details"]
    assert d["txt"] == "v=STSv1; id=20250101T000000;" and d["id"] == "20250101T000000"
    assert d["http_status"] == 200 and d["tls"]["verified"] is True
    assert d["policy"] == {"mode": "enforce", "max_age": 604800,
                           "mx": ["mx1.old-provider.example", "*.old-provider.example"]}
    assert d["covers_expected"] is False
    # the exact policy: the old MX kept, the new one added, same mode and max_age
    assert d["policy_to_publish"] == ("version: STSv1\nmode: enforce\n"
                                      "mx: mx1.old-provider.example\n"
                                      "mx: *.old-provider.example\n"
                                      "mx: *.mail.protection.outlook.com\n"
                                      "max_age: 604800\n")
    assert d["policy_to_publish"] in c["advice"]
    assert f'"v=STSv1; id={d["suggested_id"]};"' in c["advice"]
    assert d["suggested_id"] != d["id"]


def test_testing_mode_warns(cutover, dns_lab, web_lab, tmp_path):
    c = sts(cutover, dns_lab, web_lab, tmp_path, "testing")
    assert c["status"] == "warn"
    assert c["details"]["policy"]["mode"] == "testing"
    assert "mode: testing" in c["details"]["policy_to_publish"]


def test_policy_that_lists_the_new_mx_passes(cutover, dns_lab, web_lab, tmp_path):
    c = sts(cutover, dns_lab, web_lab, tmp_path, "ok")
    assert c["status"] == "pass", c["summary"]
    assert c["details"]["covers_expected"] is True
    # a concrete host of the new provider is covered by the wildcard too
    c = sts(cutover, dns_lab, web_lab, tmp_path, "ok",
            expect=("contoso-com.mail.protection.outlook.com",))
    assert c["status"] == "pass"
    c = sts(cutover, dns_lab, web_lab, tmp_path, "enforce",
            expect=("contoso-com.mail.protection.outlook.com",))
    assert c["status"] == "fail"


def test_redirect_is_not_followed(cutover, dns_lab, web_lab, tmp_path):
    c = sts(cutover, dns_lab, web_lab, tmp_path, "redirect")
    assert c["status"] == "warn"
    assert c["details"]["http_status"] == 302 and c["details"]["policy"] is None
    assert "redirect" in c["details"]["error"]


def test_bad_txt_and_no_policy(cutover, dns_lab, web_lab, tmp_path):
    c = sts(cutover, dns_lab, web_lab, tmp_path, "badtxt")
    assert c["status"] == "warn" and "no id=" in c["summary"]
    c = sts(cutover, dns_lab, web_lab, tmp_path, "none")
    assert c["status"] == "pass" and c["details"]["txt"] is None
    assert "no MTA-STS policy" in c["summary"]


def test_untrusted_certificate(cutover, dns_lab, web_lab, tmp_path):
    plan = {"domain": "enforce.sts.test", "resolvers": [dns_lab],
            "expect": {"mx": ["*.mail.protection.outlook.com"]}, "mailboxes": []}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", path, "--only", "dns", *web_lab["connect_to"], "--no-progress")
    c = run.check("dns.mta_sts", "enforce.sts.test")
    assert c["status"] == "warn" and c["details"]["policy"] is None
    assert "certificate" in c["details"]["error"].lower() or "SSL" in c["details"]["error"]


def test_tls_rpt(cutover, dns_lab):
    def rpt(name):
        run = cutover("dns", f"{name}.sts.test", "--resolver", dns_lab, "--no-progress")
        return run.check("dns.tls_rpt", f"{name}.sts.test")

    c = rpt("enforce")
    assert c["status"] == "pass"
    assert c["details"]["rua"] == ["mailto:tls-reports@sts.test",
                                   "https://reports.sts.test/tlsrpt"]
    assert "mailto:tls-reports@sts.test" in c["summary"]
    c = rpt("testing")
    assert c["status"] == "warn" and "ftp://" in c["details"]["error"]
    c = rpt("ok")
    assert c["status"] == "warn" and "no rua=" in c["details"]["error"]
    c = rpt("none")
    assert c["status"] == "pass" and c["details"]["record"] is None
