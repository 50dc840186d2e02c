"""dns.autodiscover, dns.dmarc and dns.dkim against the real DNS lab (Knot).

The situations are lab zones: ad.test, dmarc.test and dkim.test hold one case
per subdomain, elsewhere.test plays "another zone" that CNAMEs lead into (the
lab server is authoritative only, so cutover must chase them itself).
Failures of DNS itself (SERVFAIL, NXDOMAIN, NODATA, REFUSED, timeout) must be
told apart in summaries and details.
"""
import json
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import silent_udp_server


def dns(cutover, resolver, domain, *extra, **kw):
    return cutover("dns", domain, "--resolver", resolver, *extra, **kw)


def lookup(check, rtype):
    found = [l for l in check["details"]["lookups"] if l["type"] == rtype]
    assert len(found) == 1, check["details"]["lookups"]
    return found[0]


# ---- dns.autodiscover ---------------------------------------------------------

@pytest.mark.usefixtures("dns_lab")
class TestAutodiscover:
    def test_destination_domain_matches_profile(self, cutover, dns_lab):
        run = dns(cutover, dns_lab, "m365.test", "--expect", "microsoft365")
        ad = run.check("dns.autodiscover", "m365.test")
        assert ad["status"] == "pass"
        d = ad["details"]
        assert d["cname"] == "autodiscover.outlook.com"
        assert d["addresses"] == ["127.0.0.1"]
        assert d["srv"] == [{"priority": 0, "weight": 0, "port": 443,
                             "target": "autodiscover.outlook.com"}]
        assert d["matches_expected"] is True
        # The report names which profile the expectation came from.
        assert d["expected"] == {"autodiscover": "autodiscover.outlook.com",
                                 "origin": "microsoft365"}

    def test_source_domain_points_elsewhere_warns(self, cutover, dns_lab):
        run = dns(cutover, dns_lab, "rs.test", "--expect", "microsoft365")
        ad = run.check("dns.autodiscover")
        assert ad["status"] == "warn"
        assert ad["details"]["cname"] == "autodiscover.emailsrvr.com"
        assert ad["details"]["matches_expected"] is False
        assert "expected by profile microsoft365" in ad["summary"]
        assert "CNAME autodiscover.outlook.com" in ad["advice"]

    def test_without_expectation_nothing_is_compared(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "rs.test").check("dns.autodiscover")
        assert ad["status"] == "pass"
        assert ad["details"]["matches_expected"] is None
        assert "expected" not in ad["details"]

    def test_chain_across_zones_is_chased(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "chain.ad.test", "--expect", "microsoft365") \
            .check("dns.autodiscover")
        assert ad["status"] == "pass"
        assert ad["details"]["cname_chain"] == [
            "a.elsewhere.test", "b.elsewhere.test", "autodiscover.outlook.com"]
        assert ad["details"]["addresses"] == ["127.0.0.1"]
        a = lookup(ad, "A")
        assert a["status"] == "ok" and a["queries"] == 3  # two CNAMEs leave their zone

    def test_loop_fails(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "loop.ad.test").check("dns.autodiscover")
        assert ad["status"] == "fail"
        assert "CNAME loop" in ad["summary"]
        assert lookup(ad, "A")["problem"] == "loop"

    def test_chain_longer_than_eight_links_fails(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "long.ad.test").check("dns.autodiscover")
        assert ad["status"] == "fail"
        assert "longer than 8 links" in ad["summary"]
        assert len(ad["details"]["cname_chain"]) == 8
        assert lookup(ad, "A")["problem"] == "too_long"

    def test_srv_only(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "srvonly.ad.test", "--expect", "microsoft365") \
            .check("dns.autodiscover")
        assert ad["status"] == "pass"
        assert ad["details"]["cname"] is None
        assert ad["details"]["srv"] == [{"priority": 10, "weight": 5, "port": 443,
                                         "target": "autodiscover.outlook.com"}]
        assert ad["details"]["matches_expected"] is True
        assert lookup(ad, "A")["status"] == "nxdomain"

    def test_alias_of_nothing_fails(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "dangling.ad.test").check("dns.autodiscover")
        assert ad["status"] == "fail"
        assert ad["details"]["cname_chain"] == ["gone.elsewhere.test"]
        assert "gone.elsewhere.test" in ad["summary"] and "NXDOMAIN" in ad["summary"]

    def test_own_address_is_not_the_expected_cname(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "onprem.ad.test", "--expect", "microsoft365") \
            .check("dns.autodiscover")
        assert ad["status"] == "warn"
        assert ad["details"]["cname"] is None
        assert ad["details"]["addresses"] == ["127.0.0.1"]
        assert ad["details"]["srv"][0]["target"] == "autodiscover.onprem.ad.test"
        assert ad["details"]["matches_expected"] is False

    def test_missing_warns_and_names_nxdomain(self, cutover, dns_lab):
        ad = dns(cutover, dns_lab, "longttl.test", "--expect", "microsoft365") \
            .check("dns.autodiscover")
        assert ad["status"] == "warn"
        assert "NXDOMAIN" in ad["summary"]
        assert "autodiscover.longttl.test CNAME autodiscover.outlook.com" in ad["advice"]
        assert ad["details"]["cname"] is None and ad["details"]["srv"] == []


# ---- dns.dmarc ----------------------------------------------------------------

@pytest.mark.usefixtures("dns_lab")
class TestDmarc:
    def test_existing_lab_records(self, cutover, dns_lab):
        rs = dns(cutover, dns_lab, "rs.test").check("dns.dmarc")
        assert rs["status"] == "pass"
        assert rs["details"]["record"] == "v=DMARC1; p=none; rua=mailto:dmarc@rs.test"
        assert rs["details"]["policy"] == "none"
        assert rs["details"]["tags"]["rua"] == ["mailto:dmarc@rs.test"]
        m365 = dns(cutover, dns_lab, "m365.test").check("dns.dmarc")
        assert m365["details"]["policy"] == "quarantine"
        assert m365["details"]["tags"]["pct"] == 100

    def test_every_tag_parsed(self, cutover, dns_lab):
        d = dns(cutover, dns_lab, "full.dmarc.test").check("dns.dmarc")
        assert d["status"] == "pass"
        assert d["details"]["policy"] == "reject"
        tags = d["details"]["tags"]
        assert tags == {
            "v": "DMARC1", "p": "reject", "sp": "quarantine", "pct": 50,
            "rua": ["mailto:agg@dmarc.test", "mailto:agg@elsewhere.test"],
            "ruf": ["mailto:afr@dmarc.test"], "adkim": "s", "aspf": "r", "fo": "1:d",
            "rf": "afrf", "ri": 3600,
            "written": ["v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf",
                        "ri"]}

    def test_defaults_filled_in(self, cutover, dns_lab):
        tags = dns(cutover, dns_lab, "rs.test").check("dns.dmarc")["details"]["tags"]
        assert (tags["sp"], tags["pct"], tags["adkim"], tags["aspf"], tags["fo"],
                tags["rf"], tags["ri"]) == ("none", 100, "r", "r", "0", "afrf", 86400)
        assert tags["written"] == ["v", "p", "rua"]

    def test_syntax_error_fails_with_position(self, cutover, dns_lab):
        run = dns(cutover, dns_lab, "bad.dmarc.test")
        d = run.check("dns.dmarc")
        assert d["status"] == "fail"
        assert d["details"]["error"]["position"] == 12
        assert "quarantin" in d["details"]["error"]["message"]
        assert "position 12" in d["summary"]
        assert d["details"]["policy"] is None
        assert d["details"]["record"].startswith("v=DMARC1; p=quarantin")

    def test_several_records_fail(self, cutover, dns_lab):
        d = dns(cutover, dns_lab, "multi.dmarc.test").check("dns.dmarc")
        assert d["status"] == "fail"
        assert sorted(d["details"]["records"]) == ["v=DMARC1; p=none", "v=DMARC1; p=reject"]
        assert "2 DMARC records" in d["summary"] and "6.6.3" in d["summary"]

    def test_unknown_tag_warns_with_suggestion(self, cutover, dns_lab):
        d = dns(cutover, dns_lab, "typo.dmarc.test").check("dns.dmarc")
        assert d["status"] == "warn"
        assert d["details"]["unknown_tags"] == ["rue"]
        assert "did you mean rua" in d["summary"]

    @pytest.mark.parametrize("domain,status,text", [
        ("nosuch.dmarc.test", "nxdomain", "does not exist (NXDOMAIN)"),
        ("nodata.dmarc.test", "nodata", "has no TXT record (NODATA)"),
        ("other.dmarc.test", "ok", "none of the 1 TXT record"),
    ])
    def test_missing_warns_with_starter_record(self, cutover, dns_lab, domain, status, text):
        d = dns(cutover, dns_lab, domain).check("dns.dmarc")
        assert d["status"] == "warn"
        assert text in d["summary"]
        assert lookup(d, "TXT")["status"] == status
        assert d["details"]["record"] is None and d["details"]["policy"] is None
        assert f'_dmarc.{domain} TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"' \
            in d["advice"]

    def test_record_behind_cname_in_another_zone(self, cutover, dns_lab):
        d = dns(cutover, dns_lab, "alias.dmarc.test").check("dns.dmarc")
        assert d["status"] == "pass"
        assert d["details"]["policy"] == "quarantine"
        assert lookup(d, "TXT")["cname_chain"] == ["policy.elsewhere.test"]

    def test_record_in_two_strings_is_joined(self, cutover, dns_lab):
        d = dns(cutover, dns_lab, "split.dmarc.test").check("dns.dmarc")
        assert d["details"]["record"] == "v=DMARC1; p=reject; pct=100"
        assert d["details"]["policy"] == "reject"

    def test_truncated_udp_answer_is_retried_over_tcp(self, cutover, dns_lab):
        host, port = dns_lab.rsplit(":", 1)
        # Over UDP with the 1232-byte EDNS buffer cutover advertises, the
        # answer does not fit: the server sets TC and sends no records ...
        udp = subprocess.run(["kdig", f"@{host}", "-p", port, "+norecurse", "+ignore",
                              "+bufsize=1232", "TXT", "_dmarc.big.dmarc.test"],
                             capture_output=True, text=True, timeout=20)
        flags = [l for l in udp.stdout.splitlines() if l.startswith(";; Flags:")][0]
        assert "tc" in flags.split(":")[1].split(";")[0].split() and "ANSWER: 0" in flags
        tcp = subprocess.run(["kdig", f"@{host}", "-p", port, "+norecurse", "+tcp",
                              "TXT", "_dmarc.big.dmarc.test"],
                             capture_output=True, text=True, timeout=20)
        size = int(tcp.stdout.split(";; Received ")[1].split(" B")[0])
        assert size > 1232
        # ... and cutover still finds the one DMARC record among the nine.
        d = dns(cutover, dns_lab, "big.dmarc.test").check("dns.dmarc")
        assert d["status"] == "pass"
        assert d["details"]["record"] == "v=DMARC1; p=reject; rua=mailto:dmarc@dmarc.test"

    def test_refused_is_an_error_not_a_missing_record(self, cutover, dns_lab):
        # The lab is authoritative for its zones only: anything else is REFUSED.
        d = dns(cutover, dns_lab, "example.org").check("dns.dmarc")
        assert d["status"] == "error"
        assert "REFUSED" in d["summary"]
        assert lookup(d, "TXT")["status"] == "refused"


# ---- dns.dkim -----------------------------------------------------------------

@pytest.mark.usefixtures("dns_lab")
class TestDkim:
    def test_m365_selectors_published(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "m365.test", "--expect", "microsoft365").check("dns.dkim")
        assert k["status"] == "pass"
        sels = k["details"]["selectors"]
        assert [s["selector"] for s in sels] == ["selector1", "selector2"]
        assert sels[0]["cname"] == \
            "selector1-m365-test._domainkey.m365test.onmicrosoft.com"
        assert all(s["published"] and s["record"].startswith("v=DKIM1") for s in sels)
        assert k["details"]["expected"] == {"selectors": ["selector1", "selector2"],
                                            "origin": "microsoft365", "chosen_by": "--expect"}

    def test_profile_detected_from_mx(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "m365.test").check("dns.dkim")
        assert k["status"] == "pass"
        assert k["details"]["expected"]["chosen_by"] == "mx"
        assert k["details"]["expected"]["origin"] == "microsoft365"

    def test_no_profile_with_selectors_skips(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "rs.test").check("dns.dkim")
        assert k["status"] == "skip"
        assert k["details"]["expected"] is None
        g = dns(cutover, dns_lab, "rs.test", "--expect", "rackspace").check("dns.dkim")
        assert g["status"] == "skip" and "rackspace" in g["summary"]

    def test_not_published_before_cutover(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "rs.test", "--expect", "microsoft365").check("dns.dkim")
        assert k["status"] == "warn"
        assert k["details"]["published"] == 0
        assert "selector1._domainkey.rs.test does not exist (NXDOMAIN)" in k["summary"]
        assert "selector1._domainkey.rs.test" in k["advice"]
        assert "onmicrosoft.com" in k["advice"]

    def test_cname_to_missing_key(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "half.dkim.test", "--expect", "microsoft365") \
            .check("dns.dkim")
        assert k["status"] == "warn"
        s1, s2 = k["details"]["selectors"]
        assert s1["published"] is True
        assert s1["lookup"]["cname_chain"] == [
            "selector1-half-dkim-test._domainkey.tenant.elsewhere.test"]
        assert s2["published"] is False and s2["record"] is None
        assert s2["cname"] == "selector2-half-dkim-test._domainkey.tenant.elsewhere.test"
        assert s2["lookup"]["status"] == "nxdomain"
        assert "1 of 2" in k["summary"] and "alias of" in k["summary"]

    def test_revoked_key(self, cutover, dns_lab):
        k = dns(cutover, dns_lab, "revoked.dkim.test", "--expect", "microsoft365") \
            .check("dns.dkim")
        assert k["status"] == "warn"
        assert "revoked" in k["summary"]
        assert [s["published"] for s in k["details"]["selectors"]] == [False, True]


# ---- where expectations come from (cutover audit) ------------------------------

@pytest.mark.usefixtures("dns_lab")
def test_audit_names_plan_and_profile_origins(cutover, dns_lab, tmp_path):
    plan = {
        "domain": "m365.test",
        "resolvers": [dns_lab],
        "source": {"profile": "rackspace", "imap": "imaps://localhost:10993"},
        "destination": {"profile": "microsoft365", "imap": "imaps://localhost:20993"},
        "mailboxes": [{"source_user": "a@lab.test", "source_password": "x",
                       "dest_user": "a@lab.test", "dest_password": "y"}],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", str(path), "--only", "dns")
    assert run.check("dns.autodiscover")["details"]["expected"]["origin"] == "microsoft365"
    assert run.check("dns.dkim")["details"]["expected"]["chosen_by"] == "plan"
    assert run.check("dns.mx")["details"]["expected"]["origin"] == "microsoft365"
    plan["expect"] = {"autodiscover": "autodiscover.emailsrvr.com"}
    path.write_text(json.dumps(plan))
    run = cutover("audit", str(path), "--only", "dns")
    ad = run.check("dns.autodiscover")
    assert ad["details"]["expected"] == {"autodiscover": "autodiscover.emailsrvr.com",
                                         "origin": "plan"}
    assert ad["details"]["matches_expected"] is False
    assert "expected by plan" in ad["summary"]


# ---- DNS failures told apart --------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


@pytest.fixture(scope="module")
def servfail_server(tmp_path_factory):
    """A real Knot serving one zone that fails to load (a CNAME next to other
    data at the apex, RFC 1034 section 3.6.2): knotd keeps running and answers
    SERVFAIL for that zone. Started here because the lab's dns.sh rightly
    refuses to keep a server whose zone did not load."""
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    d = tmp_path_factory.mktemp("sf")
    port = free_port()
    (d / "zones").mkdir()
    (d / "db").mkdir()
    (d / "zones" / "broken.test.zone").write_text(
        "$ORIGIN broken.test.\n$TTL 300\n"
        "@ IN SOA ns1.lab.test. hostmaster.lab.test. 1 3600 600 604800 300\n"
        "@ IN NS ns1.lab.test.\n@ IN CNAME elsewhere.test.\n")
    (d / "knot.conf").write_text(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}/zones"
    file: "%s.zone"
    semantic-checks: on
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: broken.test
""")
    log = open(d / "knotd.log", "w")
    proc = subprocess.Popen([knotd, "-c", str(d / "knot.conf")], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        for _ in range(80):
            r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+norecurse",
                                "+time=1", "+retry=0", "SOA", "broken.test"],
                               capture_output=True, text=True, timeout=10)
            if "status: SERVFAIL" in r.stdout:
                break
            time.sleep(0.1)
        else:
            pytest.fail("knotd did not answer SERVFAIL: " + (d / "knotd.log").read_text())
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_servfail_is_an_error_named_servfail(cutover, servfail_server):
    run = dns(cutover, servfail_server, "broken.test", "--expect", "microsoft365")
    assert run.rc == 2
    for cid in ("dns.autodiscover", "dns.dmarc", "dns.dkim"):
        c = run.check(cid)
        assert c["status"] == "error", c
        assert "SERVFAIL" in c["summary"], c
    assert lookup(run.check("dns.dmarc"), "TXT")["status"] == "servfail"
    assert lookup(run.check("dns.autodiscover"), "A")["status"] == "servfail"
    assert run.check("dns.dkim")["details"]["selectors"][0]["lookup"]["status"] == "servfail"
    # Not mistaken for a missing record, and not for "connection refused".
    assert "NXDOMAIN" not in json.dumps(run.report) and "refused" not in json.dumps(run.report)


def test_timeout_is_an_error_not_a_hang(cutover):
    # A server that reads queries and never answers: a stalled server.
    with silent_udp_server() as port:
        # The subprocess timeout is only a hang guard: --timeout 1 bounds the run.
        run = dns(cutover, f"127.0.0.1:{port}", "m365.test", "--expect", "microsoft365",
                  "--timeout", "1", timeout=30)
    assert run.rc == 2
    for cid in ("dns.autodiscover", "dns.dmarc", "dns.dkim"):
        c = run.check(cid)
        assert c["status"] == "error", c
        assert "timeout" in c["summary"] or "timed out" in c["summary"], c
    assert lookup(run.check("dns.dmarc"), "TXT")["status"] == "timeout"
