"""`cutover propagation` against Knot instances of the DNS lab.

Every server is a real knotd on its own loopback address (port TEST_PROP_PORT,
default 5340, private LAB_RUN):

  127.0.0.21, .22  authoritative, zone set prop-new (new MX, serial 2025020101)
  127.0.0.23       an authoritative secondary that lags: prop-old (serial 2025010101)
  127.0.0.24       plays a resolver with the new answer (prop-new)
  127.0.0.25       plays a resolver still caching the old MX, TTL 86400 (prop-old)
  127.0.0.26       a UDP socket that swallows queries (silent: timeout)
  127.0.0.27       nothing listens (ICMP port unreachable: connection refused)
  127.0.0.28       flipped from prop-old to prop-new during a --watch

Every run names its servers with --authoritative/--resolver: --resolver
replaces the built-in public resolvers, so no test leaves loopback.
"""
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, cutover_bin, silent_udp_server
from schema_check import validate_report

PORT = int(os.environ.get("TEST_PROP_PORT", "5340"))
DNS_SH = ROOT / "contrib/lab/dns/dns.sh"
NEW_MX = "prop-test.mail.protection.outlook.com"
OLD_MX = ["mx1.emailsrvr.com", "mx2.emailsrvr.com"]
NEW_SERIAL, OLD_SERIAL = 2025020101, 2025010101


def srv(last_octet):
    return f"127.0.0.{last_octet}:{PORT}"


AUTH1, AUTH2, LAG, RNEW, ROLD, SILENT, REFUSED, FLIP = (srv(n) for n in range(21, 29))


@pytest.fixture(scope="module")
def prop_lab(tmp_path_factory):
    run = tmp_path_factory.mktemp("proplab")
    env = dict(os.environ, LAB_RUN=str(run), LAB_DNS_PORT=str(PORT))

    def dns(*args):
        subprocess.run(["bash", str(DNS_SH), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)

    instances = [("auth1", 21, "prop-new"), ("auth2", 22, "prop-new"), ("lag", 23, "prop-old"),
                 ("rnew", 24, "prop-new"), ("rold", 25, "prop-old"), ("flip", 28, "prop-old")]
    try:
        for name, octet, zoneset in instances:
            dns("up", name, f"127.0.0.{octet}", str(PORT), zoneset)
        # The silent server: reads queries and never answers.
        with silent_udp_server("127.0.0.26", PORT):
            yield dns
    finally:
        subprocess.run(["bash", str(DNS_SH), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=60)


def prop(cutover, *args, timeout=60, **kw):
    return cutover("propagation", "prop.test", *args, timeout=timeout, **kw)


def servers(check):
    return {s["server"]: s for s in check["details"]["servers"]}


def auth(*addrs):
    return [x for a in addrs for x in ("--authoritative", a)]


def res(*addrs):
    return [x for a in addrs for x in ("--resolver", a)]


def test_everyone_has_the_new_mx(cutover, prop_lab):
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1, AUTH2), *res(RNEW))
    assert run.rc == 0, run.stdout + run.stderr
    c = run.check("dns.propagation", "prop.test")
    assert c["status"] == "pass"
    d = c["details"]
    assert (d["matched"], d["total"], d["expected"]) == (3, 3, [NEW_MX])
    assert d["record"] == {"type": "MX", "name": "prop.test"}
    s = servers(c)
    assert s[AUTH1]["role"] == "authoritative" and s[RNEW]["role"] == "resolver"
    assert all(x["state"] == "match" and x["answer"] == [NEW_MX] and x["ttl"] == 300
               for x in s.values())
    assert s[AUTH1]["serial"] == s[AUTH2]["serial"] == NEW_SERIAL
    assert s[RNEW]["serial"] is None
    assert d["serials"] == [NEW_SERIAL] and d["authoritative_agree"] is True
    assert d["expire_by"] is None and d["watch"] is None and d["rounds"] == 1


def test_stale_resolver_warns_and_says_until_when(cutover, prop_lab):
    before = int(time.time())
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1, AUTH2), *res(RNEW, ROLD))
    assert run.rc == 1
    c = run.check("dns.propagation")
    assert c["status"] == "warn"
    s = servers(c)
    assert s[ROLD]["state"] == "stale"
    assert s[ROLD]["answer"] == OLD_MX and s[ROLD]["ttl"] == 86400
    expires = time.mktime(time.strptime(s[ROLD]["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) \
        - time.mktime(time.gmtime(0))
    assert before + 86400 <= expires <= time.time() + 86400 + 1
    assert c["details"]["expire_by"] == s[ROLD]["expires_at"]
    assert "3 of 4 servers have the new answer, 1 stale" in c["summary"]
    assert "all caches expire by" in c["summary"] and "UTC at the latest" in c["summary"]
    assert "TTL" in c["advice"]


def test_lagging_authoritative_fails_with_both_serials(cutover, prop_lab):
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1, LAG), *res(RNEW))
    assert run.rc == 2
    c = run.check("dns.propagation")
    assert c["status"] == "fail"
    s = servers(c)
    assert (s[LAG]["state"], s[LAG]["serial"], s[LAG]["answer"]) == ("stale", OLD_SERIAL, OLD_MX)
    assert s[AUTH1]["serial"] == NEW_SERIAL
    assert c["details"]["serials"] == [OLD_SERIAL, NEW_SERIAL]
    assert c["details"]["authoritative_agree"] is False
    assert f"authoritative server {LAG} still serves the old answer" in c["summary"]
    assert "transfer" in c["advice"]


def test_stale_authoritative_alone_only_warns(cutover, prop_lab):
    # No resolver has the new answer yet: the change may simply not be out.
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(LAG), *res(ROLD))
    assert run.rc == 1
    assert run.check("dns.propagation")["status"] == "warn"


def test_silent_and_refused_are_different_errors(cutover, prop_lab):
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(SILENT), *res(REFUSED), "--timeout", "2")
    assert run.rc == 2
    c = run.check("dns.propagation")
    assert c["status"] == "error"
    assert "no server answered" in c["summary"]
    s = servers(c)
    assert s[SILENT]["state"] == s[REFUSED]["state"] == "error"
    assert s[SILENT]["error_code"] == "timeout"
    assert s[REFUSED]["error_code"] == "connection_refused"
    assert s[SILENT]["error"] != s[REFUSED]["error"]
    assert all(x["answer"] is None and x["ttl"] is None for x in s.values())


def test_mixed_lab_gives_each_server_its_state(cutover, prop_lab):
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1, AUTH2),
               *res(RNEW, ROLD, SILENT), "--timeout", "2")
    assert run.rc == 1
    c = run.check("dns.propagation")
    assert c["status"] == "warn"
    d = c["details"]
    assert (d["matched"], d["stale"], d["errors"], d["total"]) == (3, 1, 1, 5)
    assert {k: v["state"] for k, v in servers(c).items()} == {
        AUTH1: "match", AUTH2: "match", RNEW: "match", ROLD: "stale", SILENT: "error"}
    assert "1 could not be asked" in c["summary"]


def test_ns_discovery(cutover, prop_lab):
    run = prop(cutover, "--expect-mx", NEW_MX, *res(RNEW), "--ns-port", str(PORT))
    assert run.rc == 0, run.stdout + run.stderr
    c = run.check("dns.propagation")
    assert c["details"]["discovery"] == {"ns": ["ns1.prop.test", "ns2.prop.test"], "error": None}
    found = [(s["server"], s["name"], s["role"]) for s in c["details"]["servers"]]
    assert found == [(AUTH1, "ns1.prop.test", "authoritative"),
                     (AUTH2, "ns2.prop.test", "authoritative"), (RNEW, None, "resolver")]


def test_no_ns_records_is_explained(cutover, prop_lab):
    run = cutover("propagation", "ns1.prop.test", "--expect-mx", NEW_MX, *res(RNEW),
                  "--ns-port", str(PORT))
    c = run.check("dns.propagation")
    assert "no NS records" in c["details"]["discovery"]["error"]
    assert [s["role"] for s in c["details"]["servers"]] == ["resolver"]


def test_txt_and_cname_watched_like_the_mx(cutover, prop_lab):
    run = prop(cutover, "--expect-txt", "@=v=spf1 include:spf.protection.outlook.com -all",
               "--expect-cname", "autodiscover.prop.test=autodiscover.outlook.com",
               *auth(AUTH1), *res(ROLD))
    assert run.rc == 1
    txt = run.check("dns.propagation", "prop.test")
    cname = run.check("dns.propagation", "autodiscover.prop.test")
    assert txt["details"]["record"]["type"] == "TXT"
    assert servers(txt)[AUTH1]["answer"] == ["v=spf1 include:spf.protection.outlook.com -all"]
    assert servers(txt)[ROLD]["answer"] == ["v=spf1 include:emailsrvr.com ~all"]
    assert servers(cname)[AUTH1]["state"] == "match"
    assert servers(cname)[ROLD]["answer"] == ["autodiscover.emailsrvr.com"]
    assert servers(cname)[ROLD]["state"] == "stale"


@pytest.mark.parametrize("expect,rc", [("microsoft365", 0), ("rackspace", 1),
                                       (f"{NEW_MX},mx9.example.com", 1)])
def test_profiles_and_named_hosts(cutover, prop_lab, expect, rc):
    run = prop(cutover, "--expect-mx", expect, *auth(AUTH1), "--no-public")
    assert run.rc == rc
    assert [s["role"] for s in run.check("dns.propagation")["details"]["servers"]] == [
        "authoritative"]


def test_then_exit_status_and_environment(cutover, prop_lab, tmp_path):
    out = tmp_path / "env.txt"
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), *res(RNEW), "--then",
               f'echo "$CUTOVER_DOMAIN $CUTOVER_REPORT" > {out}; exit 7')
    assert run.rc == 7
    domain, report = out.read_text().split()
    assert domain == "prop.test" and report == str(tmp_path / "report.json")


def test_then_not_run_when_not_propagated(cutover, prop_lab, tmp_path):
    flag = tmp_path / "ran"
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), *res(ROLD), "--then",
               f"touch {flag}")
    assert run.rc == 1 and not flag.exists()


def watch_argv(report, *args):
    return [cutover_bin(), "propagation", "prop.test", "--expect-mx", NEW_MX, "--watch",
            "--interval", "1", "--json", str(report), *args]


def test_zone_flip_during_watch_runs_then_once(prop_lab, tmp_path):
    prop_lab("up", "flip", "127.0.0.28", str(PORT), "prop-old")
    ran, report = tmp_path / "ran", tmp_path / "watch.json"
    proc = subprocess.Popen(
        watch_argv(report, *auth(AUTH1), *res(FLIP), "--deadline", "30",
                   "--then", f'echo "ran $CUTOVER_REPORT" >> {ran}'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        first = proc.stdout.readline() + proc.stdout.readline()  # the first round's lines
        assert f"resolver {FLIP}: stale" in first
        prop_lab("up", "flip", "127.0.0.28", str(PORT), "prop-new")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    assert ran.read_text() == f"ran {report}\n"  # exactly once
    # Not a TTY: one line per change, then the completion line.
    assert f"resolver {FLIP}: stale -> match" in out or f"resolver {FLIP}: error -> match" in out
    assert "MX prop.test: complete, all 2 servers match" in out
    rep = json.loads(report.read_text())
    validate_report(rep)
    c = rep["checks"][0]
    assert c["status"] == "pass"
    d = c["details"]
    assert d["watch"]["outcome"] == "complete" and d["watch"]["completed_at"]
    assert d["rounds"] >= 2
    flip = {s["server"]: s for s in d["servers"]}[FLIP]
    assert flip["first_match_at"] and flip["first_match_ms"] > 0
    events = [(e["server"], e["from"], e["state"]) for e in d["timeline"]]
    # Both first states are recorded; which answer came first is a race.
    assert sorted(events[:2]) == sorted([(AUTH1, None, "match"), (FLIP, None, "stale")])
    assert events[-1][0] == FLIP and events[-1][2] == "match"


def test_deadline_exits_2_without_then(prop_lab, tmp_path):
    ran, report = tmp_path / "ran", tmp_path / "watch.json"
    proc = subprocess.run(
        watch_argv(report, *auth(AUTH1), *res(ROLD), "--deadline", "2",
                   "--then", f"touch {ran}"),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not ran.exists()
    rep = json.loads(report.read_text())
    validate_report(rep)
    c = rep["checks"][0]
    assert c["status"] == "fail"
    assert c["summary"].startswith("not fully propagated by the deadline (2 s")
    assert c["details"]["watch"]["outcome"] == "deadline"
    assert c["details"]["watch"]["completed_at"] is None


def test_sigint_writes_the_report_so_far(prop_lab, tmp_path):
    ran, report = tmp_path / "ran", tmp_path / "watch.json"
    proc = subprocess.Popen(watch_argv(report, *auth(AUTH1), *res(ROLD), "--then",
                                       f"touch {ran}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        proc.stdout.readline()  # a round has finished
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, out + err
    assert not ran.exists()
    rep = json.loads(report.read_text())
    validate_report(rep)
    c = rep["checks"][0]
    assert c["summary"].startswith("interrupted after")
    assert c["details"]["watch"]["outcome"] == "interrupted"
    assert {s["server"]: s["state"] for s in c["details"]["servers"]} == {
        AUTH1: "match", ROLD: "stale"}


@pytest.mark.parametrize("args,rc,msg", [
    ([], 64, "--expect-mx"),
    (["--expect-mx", NEW_MX, "--deadline", "5"], 64, "--watch"),
    (["--expect-mx", NEW_MX, "--authoritative", "ns1.example.com"], 65, "--authoritative"),
    (["--expect-mx", "not a host"], 65, "--expect-mx"),
    (["--expect-txt", "novalue"], 65, "NAME=VALUE"),
    (["--expect-mx", NEW_MX, "--interval", "0", "--watch"], 65, "--interval"),
])
def test_usage_and_value_errors(cutover, args, rc, msg):
    run = cutover("propagation", "prop.test", "--no-public", *args, json_report=False)
    assert run.rc == rc
    assert msg in run.stderr


# ---- internet scale: 300 lab servers on one knotd each side ---------------------
#
# Three knotd instances on many loopback addresses each (dns.sh takes a list):
#   bignew  127.0.20.1-150    prop-new: the new MX
#   olda    127.0.21.1-75     prop-old: resolvers still caching the old MX
#   oldb    127.0.21.101-175  prop-old
# A resolvers file names them with operators and countries; the authoritative
# server is 127.0.20.1 (the same knotd, asked with recursion off).

BIG_NEW = [f"127.0.20.{i}" for i in range(1, 151)]
BIG_OLDA = [f"127.0.21.{i}" for i in range(1, 76)]
BIG_OLDB = [f"127.0.21.{i}" for i in range(101, 176)]
BIG_AUTH = f"127.0.20.1:{PORT}"
COUNTRIES = ["US", "DE", "JP"]


def big_meta(i):
    """Operator and country of the I-th resolver of the big lab (every 25th
    has neither: an unlabelled line)."""
    if i % 25 == 24:
        return None, None
    return f"Operator {i % 6}", COUNTRIES[i % 3]


@pytest.fixture(scope="module")
def big_lab(tmp_path_factory):
    run = tmp_path_factory.mktemp("biglab")
    env = dict(os.environ, LAB_RUN=str(run), LAB_DNS_PORT=str(PORT))

    def dns(*args):
        subprocess.run(["bash", str(DNS_SH), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=120)

    addrs = BIG_NEW + BIG_OLDA + BIG_OLDB
    lines = ["# the big lab: 300 resolvers", ""]
    for i, a in enumerate(addrs):
        op, cc = big_meta(i)
        lines.append(f"{a}:{PORT}" + (f"  {op} | {cc} | lab" if op else ""))
    listfile = run / "resolvers.txt"
    listfile.write_text("\n".join(lines) + "\n")
    try:
        dns("up", "bignew", ",".join(BIG_NEW), str(PORT), "prop-new")
        dns("up", "olda", ",".join(BIG_OLDA), str(PORT), "prop-old")
        dns("up", "oldb", ",".join(BIG_OLDB), str(PORT), "prop-old")
        yield dns, listfile, addrs
    finally:
        subprocess.run(["bash", str(DNS_SH), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=120)


def srv_label(addr):
    return f"{addr}:{PORT}"


def test_300_servers_in_one_round(cutover, big_lab):
    _, listfile, addrs = big_lab
    run = prop(cutover, "--expect-mx", NEW_MX, "--authoritative", BIG_AUTH,
               "--resolvers-file", listfile, "--timeout", "10")
    assert run.rc == 1, run.stderr
    c = run.check("dns.propagation")
    d = c["details"]
    assert (d["total"], d["matched"], d["stale"], d["errors"]) == (301, 151, 150, 0)
    assert "151 of 301 servers have the new answer, 150 stale" in c["summary"]
    s = {(x["server"], x["role"]): x for x in d["servers"]}
    assert s[(BIG_AUTH, "authoritative")]["serial"] == NEW_SERIAL
    for i, a in enumerate(addrs):
        x = s[(srv_label(a), "resolver")]
        assert (x["operator"], x["country"]) == big_meta(i)
        assert x["state"] == ("match" if a in BIG_NEW else "stale")
        assert x["answer"] == ([NEW_MX] if a in BIG_NEW else OLD_MX)
        if a not in BIG_NEW:
            assert x["expires_at"] is not None and x["ttl"] == 86400


def test_html_groups_resolvers_by_country_and_operator(cutover, big_lab, tmp_path):
    _, listfile, addrs = big_lab
    page = tmp_path / "prop.html"
    run = prop(cutover, "--expect-mx", NEW_MX, "--authoritative", BIG_AUTH,
               "--resolvers-file", listfile, "--html", page)
    assert run.rc == 1, run.stderr
    html = page.read_text()
    want = {}
    for i, a in enumerate(addrs):
        op, cc = big_meta(i)
        g = want.setdefault((cc or "", op or ""), {"match": 0, "stale": 0, "error": 0,
                                                   "servers": []})
        g["match" if a in BIG_NEW else "stale"] += 1
        g["servers"].append(a)
    rows = re.findall(r'<tr class="group st-(\w+)" data-match="(\d+)" data-stale="(\d+)" '
                      r'data-error="(\d+)" data-country="([^"]*)" data-operator="([^"]*)">'
                      r'(.*?)</tr>', html)
    got = {(cc, op): {"match": int(m), "stale": int(st), "error": int(e),
                      "servers": re.findall(r'class="srv st-\w+"[^>]*>([0-9.]+):', body)}
           for _, m, st, e, cc, op, body in rows}
    assert got == want
    # Sorted by country, then operator; the unlabelled group comes last.
    keys = [(cc, op) for _, _, _, _, cc, op, _ in rows]
    assert keys == sorted(keys, key=lambda k: (k[0] == "", k))
    assert keys[-1] == ("", "")
    # Stale servers are coloured so and say when their cache expires.
    assert re.search(r'class="srv st-warn" title="mx1.emailsrvr.com, mx2.emailsrvr.com">'
                     + re.escape(srv_label(BIG_OLDA[0])) + r' <small>until \d\d:\d\d UTC'
                     r'</small>', html)
    assert 'class="srv st-pass" title="' + NEW_MX + '">' + srv_label(BIG_NEW[0]) in html


def test_resolvers_file_errors_name_the_line(cutover, tmp_path):
    f = tmp_path / "list.txt"
    for text, line, msg in [
        ("# ok\n127.0.0.1:53 lab | US\n\n127.0.0.300 broken\n", 4, "is not an IP address"),
        ("127.0.0.1 lab | United States\n", 1, "is not an ISO 3166 code"),
        ("127.0.0.1\n127.0.0.2\n127.0.0.1:53 again\n", 3, "is listed already (line 1)"),
    ]:
        f.write_text(text)
        run = cutover("propagation", "prop.test", "--expect-mx", NEW_MX,
                      "--resolvers-file", f, json_report=False)
        assert run.rc == 65
        assert f"{f}:{line}: " in run.stderr and msg in run.stderr, run.stderr
    run = cutover("propagation", "prop.test", "--expect-mx", NEW_MX,
                  "--resolvers-file", tmp_path / "missing.txt", json_report=False)
    assert run.rc == 65 and "missing.txt" in run.stderr


def test_public_list_is_asked_when_none_is_named(cutover, prop_lab, tmp_path):
    lab = tmp_path / "public.txt"
    lab.write_text(f"{RNEW} Lab New | US | lab\n{ROLD} Lab Old | DE | lab\n")
    env = {"CUTOVER_PUBLIC_RESOLVERS": str(lab)}
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), env=env)
    assert run.rc == 1
    s = servers(run.check("dns.propagation"))
    assert set(s) == {AUTH1, RNEW, ROLD}
    assert (s[ROLD]["operator"], s[ROLD]["country"], s[ROLD]["state"]) == (
        "Lab Old", "DE", "stale")
    # Named resolvers replace the list; --public adds it back.
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), *res(AUTH2), env=env)
    assert set(servers(run.check("dns.propagation"))) == {AUTH1, AUTH2}
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), *res(AUTH2), "--public", env=env)
    assert set(servers(run.check("dns.propagation"))) == {AUTH1, AUTH2, RNEW, ROLD}
    run = prop(cutover, "--expect-mx", NEW_MX, *auth(AUTH1), "--public", env={
        "CUTOVER_PUBLIC_RESOLVERS": str(tmp_path / "nowhere.txt")}, json_report=False)
    assert run.rc == 65 and "nowhere.txt" in run.stderr


def test_public_list_addresses_are_public(cutover):
    """The shipped list, read independently of cutover's parser: real global
    addresses, each once, each with operator, country and source page."""
    import ipaddress
    seen = set()
    n = 0
    for line in (ROOT / "contrib/resolvers/public-resolvers.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        addr, rest = line.split(None, 1)
        ip = ipaddress.ip_address(addr)
        assert ip.is_global and not ip.is_multicast, addr
        assert ip not in seen, addr
        seen.add(ip)
        op, cc, src = [x.strip() for x in rest.split("|")]
        assert op and re.fullmatch(r"[A-Z]{2}", cc) and src.startswith("https://"), line
        n += 1
    assert n >= 100


def replay(timeline):
    """The chart's points from the timeline: (round, elapsed_ms of the round's
    last change, servers matching after it)."""
    state, points = {}, []
    for i, e in enumerate(timeline):
        state[(e["server"], e["role"])] = e["state"]
        if i + 1 == len(timeline) or timeline[i + 1]["round"] != e["round"]:
            points.append((e["round"], e["elapsed_ms"],
                           sum(1 for v in state.values() if v == "match")))
    return points


def socket_count(pid):
    fds = Path(f"/proc/{pid}/fd")
    n = 0
    for fd in fds.iterdir():
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return n


def test_watch_chart_follows_the_timeline(big_lab, tmp_path):
    dns, listfile, _ = big_lab
    report, page, ran = tmp_path / "watch.json", tmp_path / "watch.html", tmp_path / "ran"
    proc = subprocess.Popen(
        watch_argv(report, "--authoritative", BIG_AUTH, "--resolvers-file", str(listfile),
                   "--deadline", "90", "--html", str(page), "--then", f"touch {ran}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    flipped = set()

    def until_matched(group):
        for line in proc.stdout:
            m = re.search(r"resolver ([0-9.]+):\d+(?: \(Operator \d, [A-Z]{2}\))?: \w+ -> match",
                          line)
            if m:
                flipped.add(m.group(1))
            if set(group) <= flipped:
                return
        raise AssertionError("the watch ended before the flip was seen")

    try:
        first = [proc.stdout.readline() for _ in range(301)]  # one line per server
        # Not a terminal: one line per change, with the resolver's operator.
        assert any(f"resolver {srv_label(BIG_OLDA[0])} (Operator 0, US): stale (" in x
                   for x in first), first[:5]
        # Few sockets for 301 servers (they were one per server).
        assert socket_count(proc.pid) <= 8
        dns("up", "olda", ",".join(BIG_OLDA), str(PORT), "prop-new")
        until_matched(BIG_OLDA)
        dns("up", "oldb", ",".join(BIG_OLDB), str(PORT), "prop-new")
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
        dns("up", "olda", ",".join(BIG_OLDA), str(PORT), "prop-old")
        dns("up", "oldb", ",".join(BIG_OLDB), str(PORT), "prop-old")
    assert proc.returncode == 0, out + err
    assert ran.exists()
    rep = json.loads(report.read_text())
    validate_report(rep)
    d = rep["checks"][0]["details"]
    assert d["watch"]["outcome"] == "complete" and d["watch"]["then"] is True
    points = replay(d["timeline"])
    assert points[0][2] == 151 and points[-1][2] == 301
    assert any(151 < p[2] < 301 for p in points)  # olda before oldb
    html = page.read_text()
    chart = re.search(r'<svg class="chart"[^>]*data-total="(\d+)">(.*?)</svg>', html, re.S)
    assert chart and chart.group(1) == "301"
    drawn = [(int(r), int(ms), int(m)) for r, ms, m in re.findall(
        r'<circle class="pt"[^>]*data-round="(\d+)" data-ms="(\d+)" data-matched="(\d+)"',
        chart.group(2))]
    assert drawn == [(r, round(ms), m) for r, ms, m in points]
    then = re.search(r'<line class="then" data-ms="(\d+)"', chart.group(2))
    assert then and int(then.group(1)) == round(d["watch"]["elapsed_ms"])
    assert int(then.group(1)) >= points[-1][1]
    assert ">--then</text>" in chart.group(2)


def run_on_tty(argv, rows, cols=100, timeout=60):
    """Run ARGV with stdout on a pseudo-terminal of ROWS x COLS; its output."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"))
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=timeout)
    finally:
        proc.kill()
        os.close(master)
    return proc.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


def test_console_groups_by_operator(big_lab, tmp_path):
    _, _, addrs = big_lab
    # Only the 150 new servers: the watch completes in its first round.
    listfile = tmp_path / "new.txt"
    listfile.write_text("".join(f"{a}:{PORT} Operator {i % 5} | US\n"
                                for i, a in enumerate(BIG_NEW)))
    argv = watch_argv(tmp_path / "w.json", "--authoritative", BIG_AUTH,
                      "--resolvers-file", str(listfile), "--deadline", "30")
    rc, out = run_on_tty(argv, rows=24)
    assert rc == 0, out
    # 151 servers do not fit 24 lines: one line per group.
    for k in range(5):
        assert re.search(rf"^  Operator {k} \(US\) +30 +30 +0 +0  -$", out, re.M), out
    assert re.search(r"^  authoritative servers +1 +1 +0 +0  -$", out, re.M), out
    assert srv_label(BIG_NEW[3]) not in out
    # A tall terminal: one line per server, under its operator's heading.
    rc, out = run_on_tty(argv, rows=400)
    assert rc == 0, out
    assert re.search(r"^ Operator 0 \(US\): 30 of 30 match$", out, re.M), out
    assert re.search(rf"^  res +{re.escape(srv_label(BIG_NEW[3]))} +match ", out, re.M), out


def test_any_number_of_resolver_options_and_plan_resolvers(cutover, big_lab, tmp_path):
    _, _, addrs = big_lab
    # 60 --resolver options (there used to be a cap of 16).
    named = BIG_NEW[:30] + BIG_OLDA[:30]
    run = prop(cutover, "--expect-mx", NEW_MX, "--authoritative", BIG_AUTH,
               *res(*map(srv_label, named)))
    d = run.check("dns.propagation")["details"]
    assert (d["total"], d["matched"], d["stale"]) == (61, 31, 30)
    # All 300 as a plan's public_resolvers.
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "domain": "prop.test", "public_resolvers": [srv_label(a) for a in addrs],
        "source": {"imap": "imaps://127.0.0.1:993"},
        "destination": {"imap": "imaps://127.0.0.2:993"},
        "expect": {"mx": [NEW_MX]}, "mailboxes": []}))
    run = cutover("propagation", "--plan", plan, "--authoritative", BIG_AUTH)
    d = run.check("dns.propagation")["details"]
    assert (d["total"], d["matched"], d["stale"]) == (301, 151, 150)
    assert all(s["operator"] is None for s in d["servers"])


def test_truncated_answer_is_asked_again_over_tcp(cutover, prop_lab):
    """8 TXT records of 200 bytes do not fit a 1232-byte UDP answer: Knot sets
    TC and the same server is asked over TCP."""
    zone = (ROOT / "contrib/lab/dns/zones/prop-new/prop.test.zone").read_text()
    want = re.search(r'"(big-5 a+)"', zone).group(1)
    run = prop(cutover, "--expect-txt", f"big.prop.test={want}", *auth(AUTH1), *res(RNEW))
    assert run.rc == 0, run.stdout + run.stderr
    s = servers(run.check("dns.propagation"))
    assert len(s[AUTH1]["answer"]) == len(s[RNEW]["answer"]) == 8
    assert s[RNEW]["state"] == "match"


HOSTILE = "127.0.0.29"


def dns_answer(query, qname_override=None, flip_id=False):
    """A minimal MX answer to QUERY (bytes): the question copied (or another
    name), one MX record for NEW_MX."""
    end = 12
    while query[end] != 0:
        end += query[end] + 1
    question = query[12:end + 5]
    if qname_override is not None:
        question = b"".join(bytes([len(p)]) + p.encode() for p in qname_override.split(".")) \
            + b"\x00" + query[end + 1:end + 5]
    qid = query[:2] if not flip_id else bytes([query[0] ^ 0xFF, query[1]])
    header = qid + bytes([0x84 | (query[2] & 1), 0x00]) + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    exchange = b"".join(bytes([len(p)]) + p.encode() for p in NEW_MX.split(".")) + b"\x00"
    rr = b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x01\x2c" + (len(exchange) + 2).to_bytes(2, "big") \
        + b"\x00\x0a" + exchange
    return header + question + rr


@contextlib.contextmanager
def hostile_dns(port, honest_last):
    """A scripted peer for what no real server does: every query gets answers
    that must not be taken (wrong ID, another question, from another port, the
    query echoed back), then, if HONEST_LAST, the right answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOSTILE, port))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((HOSTILE, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                q, peer = sock.recvfrom(4096)
            except OSError:
                continue
            sock.sendto(dns_answer(q, flip_id=True), peer)
            sock.sendto(dns_answer(q, qname_override="other.prop.test"), peer)
            other.sendto(dns_answer(q), peer)
            sock.sendto(q, peer)
            if honest_last:
                sock.sendto(dns_answer(q), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"{HOSTILE}:{port}"
    finally:
        stop.set()
        t.join()
        sock.close()
        other.close()


@pytest.mark.parametrize("honest_last", [False, True])
def test_answers_not_from_the_server_asked_are_dropped(cutover, honest_last):
    with hostile_dns(PORT, honest_last) as server:
        run = prop(cutover, "--expect-mx", NEW_MX, *res(server), "--no-public",
                   "--authoritative", server, "--timeout", "2")
    s = {(x["server"], x["role"]): x for x in run.check("dns.propagation")["details"]["servers"]}
    for role in ("authoritative", "resolver"):
        x = s[(server, role)]
        if honest_last:
            # The control: the same exchange with the right answer last matches.
            assert x["state"] == "match" and x["answer"] == [NEW_MX], x
        else:
            assert (x["state"], x["error_code"]) == ("error", "timeout"), x


def test_refused_servers_among_live_ones_are_told_apart(cutover, big_lab, tmp_path):
    """50 addresses where nothing listens, interleaved with 50 live servers on
    the same shared sockets: each ICMP error lands on its own server only."""
    dead = [f"127.0.21.{i}" for i in range(200, 250)]
    listfile = tmp_path / "mixed.txt"
    listfile.write_text("".join(f"{a}:{PORT}\n{d}:{PORT}\n" for a, d in zip(BIG_NEW, dead)))
    run = prop(cutover, "--expect-mx", NEW_MX, "--authoritative", BIG_AUTH,
               "--resolvers-file", listfile, "--timeout", "3")
    d = run.check("dns.propagation")["details"]
    assert (d["total"], d["matched"], d["errors"]) == (101, 51, 50)
    for x in d["servers"]:
        addr = x["server"].split(":")[0]
        if addr in dead:
            assert (x["state"], x["error_code"]) == ("error", "connection_refused"), x
        else:
            assert x["state"] == "match", x
