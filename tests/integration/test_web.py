"""web.webmail and web.autodiscover against the real nginx web lab and the
real DNS lab (Knot): every behaviour of issue 7, both sides in one audit run.

Host names resolve through the DNS lab (--resolver), the lab's ports are
reached with --connect-to :443::PORT (URLs stay as users write them), and
TLS is verified against the lab CA (the plan's ca_file).
"""
import json

import pytest

pytestmark = pytest.mark.usefixtures("dns_lab", "web_lab")

PASSWORDS = {"alice@web.test": "alice-web-pw", "alice@m365.test": "alice-m365-pw",
             "alice@rs.test": "alice-rs-pw"}


def audit(cutover, tmp_path, dns_lab, web_lab, domain, source, destination, *extra,
          mailboxes=None, timeout_s=None):
    plan = {"domain": domain, "ca_file": web_lab["ca"],
            "source": dict(source), "destination": dict(destination)}
    if mailboxes:
        plan["mailboxes"] = mailboxes
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    args = ["audit", str(path), "--only", "web", "--resolver", dns_lab, *web_lab["connect_to"]]
    if timeout_s:
        args += ["--timeout", str(timeout_s)]
    return cutover(*args, *extra)


def webmail(run, side):
    return run.check("web.webmail", side=side)


def step(check, method):
    return next(s for s in check["details"]["steps"] if s["method"] == method)


def test_owa_and_webmail_pass_with_ews_and_autodiscover_cname(cutover, tmp_path, dns_lab,
                                                              web_lab):
    run = audit(cutover, tmp_path, dns_lab, web_lab, "m365.test",
                {"profile": "rackspace", "webmail": "https://owa.web.test/owa"},
                {"profile": "microsoft365", "webmail": "https://mail.web.test/"})
    assert run.rc == 0, run.stdout + run.stderr

    src = webmail(run, "source")
    d = src["details"]
    assert src["status"] == "pass"
    # /owa -> /owa/ -> the login page, every hop reported
    assert d["http_status"] == 200
    assert d["final_url"] == "https://owa.web.test/owa/auth/logon.aspx?url=%2Fowa%2F"
    assert d["redirects"] == 2
    assert [h["status"] for h in d["redirect_chain"]] == [301, 302, 200]
    assert d["redirect_chain"][0]["location"] == "https://owa.web.test/owa/"
    assert all(h["address"] == "127.0.0.1" for h in d["redirect_chain"])
    tls = d["tls"]
    assert tls["verified"] is True and tls["verify_error"] is None
    assert tls["days_left"] > 14
    assert "cutover lab CA" in tls["cert_issuer"]
    assert tls["version"].startswith("TLSv1.")
    assert set(d["timings_ms"]) == {"dns", "connect", "tls", "first_byte", "total"}
    assert d["timings_ms"]["total"] is not None
    # an OWA path makes it an Exchange host: EWS answers 401 with challenges
    assert d["exchange"] is True
    assert d["ews"]["http_status"] == 401 and d["ews"]["reachable"] is True
    assert any(c.startswith("Basic") for c in d["ews"]["www_authenticate"])
    assert "Negotiate" in d["ews"]["www_authenticate"]

    dst = webmail(run, "destination")
    assert dst["status"] == "pass"
    assert dst["details"]["redirects"] == 0
    assert dst["details"]["exchange"] is True  # microsoft365 profile

    ad = run.check("web.autodiscover", "m365.test")
    assert ad["status"] == "pass"
    dd = ad["details"]
    assert dd["method"] == "autodiscover_host"
    assert dd["points_to"] == "autodiscover.outlook.com"  # the CNAME, chased across zones
    assert dd["expected"] == "autodiscover.outlook.com" and dd["matches_expected"] is True
    assert dd["http_status"] == 401 and dd["www_authenticate"]
    assert step(ad, "root_domain")["outcome"] == "failed"
    assert "cannot resolve m365.test" in step(ad, "root_domain")["reason"]
    assert step(ad, "autodiscover_host")["selected"] is True
    # the SRV record works too, but Outlook never gets that far
    srv = step(ad, "srv")
    assert srv["outcome"] == "found" and srv["selected"] is False
    assert srv["srv"] == [{"priority": 0, "weight": 0, "port": 443,
                           "target": "autodiscover.outlook.com"}]


def test_expired_and_wrong_host_certificates_fail(cutover, tmp_path, dns_lab, web_lab):
    run = audit(cutover, tmp_path, dns_lab, web_lab, "rs.test",
                {"profile": "rackspace", "webmail": "https://expired.web.test/"},
                {"profile": "microsoft365", "webmail": "https://wrong.web.test/"})
    assert run.rc == 2
    src = webmail(run, "source")
    assert src["status"] == "fail"
    assert "certificate has expired" in src["summary"]
    assert src["details"]["tls"]["verified"] is False
    assert src["details"]["tls"]["days_left"] < 0
    assert src["details"]["http_status"] is None
    dst = webmail(run, "destination")
    assert dst["status"] == "fail"
    assert "does not name wrong.web.test" in dst["summary"]
    assert dst["details"]["tls"]["cert_subject"].endswith("CN=wrong.example")

    # Rackspace style: autodiscover.rs.test's certificate does not name it,
    # the HTTP redirect method leads to autodiscover.emailsrvr.com, which is
    # not the destination's (microsoft365) autodiscover host.
    ad = run.check("web.autodiscover", "rs.test")
    assert ad["status"] == "warn"
    assert "not at the expected autodiscover.outlook.com" in ad["summary"]
    d = ad["details"]
    assert d["method"] == "http_redirect"
    assert d["points_to"] == "autodiscover.emailsrvr.com"
    assert d["matches_expected"] is False
    host = step(ad, "autodiscover_host")
    assert host["outcome"] == "failed" and host["tls_verified"] is False
    assert "does not name autodiscover.rs.test" in host["reason"]
    redirect = step(ad, "http_redirect")
    assert redirect["url"] == "http://autodiscover.rs.test/autodiscover/autodiscover.xml"
    assert redirect["final_url"] == "https://autodiscover.emailsrvr.com/autodiscover/autodiscover.xml"
    assert "autodiscover.emailsrvr.com" in redirect["names"]


def test_drip_times_out_and_redirect_loop_fails(cutover, tmp_path, dns_lab, web_lab):
    run = audit(cutover, tmp_path, dns_lab, web_lab, "none.web.test",
                {"profile": "generic", "webmail": "https://slow.web.test/"},
                {"profile": "generic", "webmail": "https://loop.web.test/"}, timeout_s=3)
    assert run.rc == 2
    slow = webmail(run, "source")
    assert slow["status"] == "error"
    assert "did not complete in time" in slow["summary"]
    assert slow["details"]["http_status"] == 200
    assert slow["details"]["result"] == "transfer_failed"
    loop = webmail(run, "destination")
    assert loop["status"] == "fail"
    assert "redirect loop" in loop["summary"]
    assert loop["details"]["result"] == "redirect_loop"
    assert [h["url"] for h in loop["details"]["redirect_chain"]] == [
        "https://loop.web.test/", "https://loop.web.test/a", "https://loop.web.test/b"]
    ad = run.check("web.autodiscover", "none.web.test")
    assert ad["status"] == "fail"
    assert "no autodiscover method works" in ad["summary"]
    assert [s["outcome"] for s in ad["details"]["steps"]] == ["failed"] * 4
    assert ad["details"]["method"] is None


def test_5xx_fails_expiring_certificate_warns_srv_autodiscover(cutover, tmp_path, dns_lab,
                                                                web_lab):
    run = audit(cutover, tmp_path, dns_lab, web_lab, "srv.web.test",
                {"profile": "generic", "webmail": "https://error.web.test/"},
                {"profile": "generic", "webmail": "https://expiring.web.test/"})
    assert run.rc == 2
    err = webmail(run, "source")
    assert err["status"] == "fail"
    assert "HTTP 503" in err["summary"]
    exp = webmail(run, "destination")
    assert exp["status"] == "warn"
    assert "expires in" in exp["summary"]
    assert 0 <= exp["details"]["tls"]["days_left"] < 14
    assert exp["details"]["tls"]["verified"] is True
    ad = run.check("web.autodiscover", "srv.web.test")
    assert ad["status"] == "pass"
    assert ad["details"]["method"] == "srv"
    assert ad["details"]["points_to"] == "mail.web.test"
    assert ad["details"]["expected"] is None


def test_plain_http_warns_401_passes_and_credentials_give_settings(cutover, tmp_path, dns_lab,
                                                                    web_lab):
    mailboxes = [{"source_user": "alice@web.test", "source_password": "old",
                  "dest_user": "alice@web.test", "dest_password": PASSWORDS["alice@web.test"]}]
    run = audit(cutover, tmp_path, dns_lab, web_lab, "web.test",
                {"profile": "generic", "webmail": "http://plain.web.test/"},
                {"profile": "generic", "webmail": "https://auth.web.test/"},
                "--autodiscover-user", "alice@web.test", mailboxes=mailboxes)
    assert run.rc == 1, run.stdout + run.stderr
    plain = webmail(run, "source")
    assert plain["status"] == "warn"
    assert "plain http" in plain["summary"]
    assert plain["details"]["tls"] is None
    auth = webmail(run, "destination")
    assert auth["status"] == "pass"
    assert auth["details"]["http_status"] == 401
    assert auth["details"]["www_authenticate"] == ['Basic realm="webmail"']

    ad = run.check("web.autodiscover", "web.test")
    assert ad["status"] == "pass", ad
    d = ad["details"]
    assert d["method"] == "root_domain" and d["http_status"] == 200
    assert d["user"] == "alice@web.test"
    settings = d["settings"]
    assert settings["display_name"] == "Alice (web.test)"
    assert settings["action"] == "settings"
    types = {p["type"]: p for p in settings["protocols"]}
    assert set(types) == {"EXCH", "EXPR", "WEB", "IMAP", "SMTP"}
    assert types["IMAP"]["server"] == "mail.web.test" and types["IMAP"]["port"] == 993
    assert types["EXCH"]["ews_url"] == "https://mail.web.test/EWS/Exchange.asmx"
    assert types["SMTP"]["security"] == "TLS"
    # Thunderbird autoconfig, as information
    ac = d["autoconfig"]
    assert ac["found"] is True
    servers = {(s["direction"], s["type"]): s for s in ac["settings"]["servers"]}
    assert servers[("incoming", "imap")]["server"] == "mail.web.test"
    assert servers[("outgoing", "smtp")]["security"] == "STARTTLS"
    # the password never appears
    assert PASSWORDS["alice@web.test"] not in json.dumps(run.report)
    assert PASSWORDS["alice@web.test"] not in run.stdout + run.stderr


def test_wrong_credentials_fail_and_unknown_user_is_refused(cutover, tmp_path, dns_lab, web_lab):
    mailboxes = [{"source_user": "bob@web.test", "source_password": "x",
                  "dest_user": "bob@web.test", "dest_password": "not-his-password"}]
    run = audit(cutover, tmp_path, dns_lab, web_lab, "web.test",
                {"profile": "generic", "webmail": "https://mail.web.test/"},
                {"profile": "generic", "webmail": "https://mail.web.test/"},
                "--autodiscover-user", "bob@web.test", mailboxes=mailboxes)
    ad = run.check("web.autodiscover", "web.test")
    assert ad["status"] == "fail"
    assert "rejected the credentials of bob@web.test" in step(ad, "root_domain")["reason"]
    assert "not-his-password" not in json.dumps(run.report) + run.stdout + run.stderr

    run = audit(cutover, tmp_path, dns_lab, web_lab, "web.test",
                {"profile": "generic", "webmail": "https://mail.web.test/"},
                {"profile": "generic", "webmail": "https://mail.web.test/"},
                "--autodiscover-user", "nobody@web.test", mailboxes=mailboxes)
    assert run.rc == 65
    assert "nobody@web.test" in run.stderr


def test_insecure_reports_unverified_certificate_as_warn(cutover, tmp_path, dns_lab, web_lab):
    run = audit(cutover, tmp_path, dns_lab, web_lab, "none.web.test",
                {"profile": "generic", "webmail": "https://expired.web.test/"},
                {"profile": "generic", "webmail": "https://mail.web.test/"}, "--insecure")
    src = webmail(run, "source")
    assert src["status"] == "warn"
    assert "--insecure" in src["summary"]
    assert src["details"]["http_status"] == 200
    assert src["details"]["tls"]["verified"] is False
    assert src["details"]["tls"]["verify_error"] == "certificate has expired"
    assert src["details"]["tls"]["days_left"] < 0
    assert webmail(run, "destination")["status"] == "pass"


def test_untrusted_without_lab_ca_and_side_without_webmail(cutover, tmp_path, dns_lab, web_lab):
    plan = {"domain": "none.web.test",
            "source": {"profile": "generic", "webmail": "https://mail.web.test/"},
            "destination": {"profile": "generic"}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", str(path), "--only", "web", "--resolver", dns_lab,
                  *web_lab["connect_to"])
    src = webmail(run, "source")
    assert src["status"] == "fail"  # the lab CA is in no trust store
    assert "not accepted" in src["summary"]
    assert webmail(run, "destination")["status"] == "skip"
