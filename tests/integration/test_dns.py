"""`cutover dns` against the real authoritative DNS lab (Knot).

Each lab zone is a situation an admin meets before a cutover; the expected
values are the ones contrib/lab/dns/zones/ publishes.
"""
import re

import pytest

from conftest import silent_udp_server

pytestmark = pytest.mark.usefixtures("dns_lab")


def dns(cutover, dns_lab, domain, *extra):
    return cutover("dns", domain, "--resolver", dns_lab, *extra)


def mx_rc(run):
    """The exit code dns.mx and dns.mx_ttl alone would give: the zones made for
    them publish no DMARC record, so dns.dmarc warns there."""
    worst = {run.check(i)["status"] for i in ("dns.mx", "dns.mx_ttl")}
    return 2 if worst & {"fail", "error"} else 1 if "warn" in worst else 0


def records(check):
    return [(r["preference"], r["exchange"], r["ttl"]) for r in check["details"]["records"]]


def test_rackspace_domain_passes(cutover, dns_lab):
    run = dns(cutover, dns_lab, "rs.test")
    assert run.rc == 0, run.stderr
    mx = run.check("dns.mx", "rs.test")
    assert mx["status"] == "pass"
    assert records(mx) == [(10, "mx1.emailsrvr.com", 300), (20, "mx2.emailsrvr.com", 300)]
    assert mx["details"]["provider"] == "rackspace"
    assert all(r["resolves"] and r["addresses"] == ["127.0.0.1"] for r in mx["details"]["records"])
    ttl = run.check("dns.mx_ttl", "rs.test")
    assert ttl["status"] == "pass"
    assert ttl["details"]["ttl"] == 300
    assert ttl["details"]["recommended_max"] == 3600
    assert run.report["command"] == "dns"
    # Every other check passes too, except dns.dkim: the rackspace profile
    # (found from the MX) has no DKIM selectors to look for, so it skips; a
    # skipped check does not lower the run's status.
    assert run.check("dns.dkim")["status"] == "skip"
    assert run.report["summary"] == {"status": "pass", "counts": {
        "pass": len(run.report["checks"]) - 1, "warn": 0, "fail": 0, "error": 0, "skip": 1}}


@pytest.mark.parametrize("domain,exchanges,provider", [
    ("m365.test", [(0, "m365-test.mail.protection.outlook.com", 3600)], "microsoft365"),
    ("google.test", [(1, "aspmx.l.google.com", 3600), (5, "alt1.aspmx.l.google.com", 3600)],
     "google"),
])
def test_provider_detected(cutover, dns_lab, domain, exchanges, provider):
    run = dns(cutover, dns_lab, domain)
    assert mx_rc(run) == 0
    mx = run.check("dns.mx")
    assert records(mx) == exchanges
    assert mx["details"]["provider"] == provider
    assert f"provider {provider}" in mx["summary"]


def test_expectation_reported(cutover, dns_lab):
    before = dns(cutover, dns_lab, "rs.test", "--expect", "microsoft365")
    expected = before.check("dns.mx")["details"]["expected"]
    assert expected == {"mx": ["*.mail.protection.outlook.com"], "origin": "microsoft365",
                        "matches": False}
    after = dns(cutover, dns_lab, "m365.test", "--expect", "microsoft365")
    assert after.check("dns.mx")["details"]["expected"]["matches"] is True
    # the summary says where the MX stands against the expectation
    assert before.check("dns.mx")["summary"].endswith(
        "provider rackspace: still the rackspace MX, expected until go-live")
    assert after.check("dns.mx")["summary"].endswith("already the expected MX")


def test_null_mx_fails(cutover, dns_lab):
    run = dns(cutover, dns_lab, "nullmx.test")
    assert run.rc == 2
    mx = run.check("dns.mx")
    assert mx["status"] == "fail"
    assert mx["details"]["null_mx"] is True
    assert "RFC 7505" in mx["summary"]
    assert mx["advice"]
    assert run.check("dns.mx_ttl")["status"] == "skip"


def test_no_mx_fails_with_advice(cutover, dns_lab):
    run = dns(cutover, dns_lab, "nomx.test")
    assert run.rc == 2
    mx = run.check("dns.mx")
    assert mx["status"] == "fail"
    assert mx["summary"] == "no MX records for nomx.test"
    assert "RFC 5321" in mx["advice"]
    assert mx["details"]["records"] == []
    ttl = run.check("dns.mx_ttl")
    assert ttl["status"] == "skip" and ttl["details"]["ttl"] is None


def test_exchange_without_address_fails(cutover, dns_lab):
    run = dns(cutover, dns_lab, "noaddr.test")
    assert run.rc == 2
    mx = run.check("dns.mx")
    assert mx["status"] == "fail"
    assert "mail.noaddr.test" in mx["summary"]
    rec = mx["details"]["records"][0]
    assert rec["resolves"] is False and rec["addresses"] == []


def test_long_ttl_warns(cutover, dns_lab):
    run = dns(cutover, dns_lab, "longttl.test")
    assert run.rc == 1
    ttl = run.check("dns.mx_ttl")
    assert ttl["status"] == "warn"
    assert ttl["details"]["ttl"] == 86400
    assert "86400" in ttl["advice"]
    assert run.check("dns.mx")["status"] == "pass"
    relaxed = dns(cutover, dns_lab, "longttl.test", "--mx-ttl-max", "86400")
    assert mx_rc(relaxed) == 0
    assert relaxed.check("dns.mx_ttl")["details"]["recommended_max"] == 86400


def test_cname_exchange_warns(cutover, dns_lab):
    run = dns(cutover, dns_lab, "cnamemx.test")
    assert run.rc == 1
    mx = run.check("dns.mx")
    assert mx["status"] == "warn"
    rec = mx["details"]["records"][0]
    assert rec["cname"] == "real.cnamemx.test"
    assert rec["addresses"] == ["127.0.0.1"]
    assert "RFC 2181" in mx["advice"]


def test_ipv6_only_exchange_resolves(cutover, dns_lab):
    run = dns(cutover, dns_lab, "ipv6mx.test")
    assert mx_rc(run) == 0
    rec = run.check("dns.mx")["details"]["records"][0]
    assert rec["addresses"] == ["::1"] and rec["resolves"] is True


def test_nxdomain_fails(cutover, dns_lab):
    run = dns(cutover, dns_lab, "nosuchname.rs.test")
    assert run.rc == 2
    assert "NXDOMAIN" in run.check("dns.mx")["summary"]


def test_console_summary_is_aligned(cutover, dns_lab):
    run = cutover("dns", "longttl.test", "--resolver", dns_lab, json_report=False)
    assert run.stdout.splitlines()[0] == "DNS"  # grouped like the HTML report
    lines = [l for l in run.stdout.splitlines() if l.startswith("  ")]
    assert lines[0].split()[:2] == ["PASS", "dns.mx"]
    assert lines[1].split()[:2] == ["WARN", "dns.mx_ttl"]
    # The summary columns line up: same offset for the subject on every line.
    assert lines[0].index("longttl.test") == lines[1].index("longttl.test")
    assert "\033[" not in run.stdout  # no colour when stdout is not a terminal
    # The other checks (autodiscover, DMARC, ...) follow; longttl.test has no DMARC.
    assert re.search(r"\d+ pass, \d+ warn, 0 fail, 0 error, \d+ skip", run.stdout)


def test_json_to_stdout(cutover, dns_lab):
    run = cutover("dns", "rs.test", "--resolver", dns_lab, "--json", "-", json_report=False)
    import json
    report = json.loads(run.stdout)
    assert report["schema_version"] == 1
    ids = [c["id"] for c in report["checks"]]
    assert ids[:2] == ["dns.mx", "dns.mx_ttl"]
    assert {"dns.autodiscover", "dns.dmarc", "dns.dkim"} <= set(ids)
    assert "PASS" in run.stderr  # the human summary moved out of the way


def test_server_not_answering_is_an_error_not_a_hang(cutover):
    # A server that reads queries and never answers: a stalled server.
    with silent_udp_server() as port:
        run = cutover("dns", "rs.test", "--resolver", f"127.0.0.1:{port}", "--timeout", "1",
                      timeout=30)
    assert run.rc == 2
    mx = run.check("dns.mx")
    assert mx["status"] == "error"
    assert "timeout" in mx["summary"] or "timed out" in mx["summary"]


def test_nothing_listening_is_an_error(cutover):
    run = cutover("dns", "rs.test", "--resolver", "127.0.0.1:9", "--timeout", "2", timeout=30)
    assert run.rc == 2
    assert run.check("dns.mx")["status"] == "error"


def test_insecure_is_shown(cutover, dns_lab):
    run = dns(cutover, dns_lab, "rs.test", "--insecure")
    assert run.report["options"]["insecure"] is True
    assert "--insecure was given" in run.stdout
    plain = dns(cutover, dns_lab, "rs.test")
    assert plain.report["options"]["insecure"] is False
    assert "--insecure" not in plain.stdout
