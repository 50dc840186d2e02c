"""reports/report.schema.json accepts good reports and rejects broken ones.

The examples in reports/SCHEMA.md are checked too, so the documentation and
the schema cannot drift apart.
"""
import copy
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema_check  # noqa: E402
from schema_check import ReportInvalid, validate_report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_MD = os.path.join(HERE, "..", "..", "reports", "SCHEMA.md")

# The example of DESIGN.md, without the "target"/"options" extensions.
DESIGN_EXAMPLE = {
    "schema_version": 1,
    "tool": {"name": "cutover", "version": "0.1.0"},
    "command": "audit",
    "started_at": "2026-11-22T10:00:00Z",
    "duration_ms": 1234,
    "summary": {"status": "warn",
                "counts": {"pass": 10, "warn": 2, "fail": 0, "error": 0, "skip": 1}},
    "checks": [
        {"id": "dns.mx", "subject": "example.com", "side": None, "status": "pass",
         "summary": "2 MX records, provider rackspace", "advice": None,
         "duration_ms": 4,
         "details": {"records": [{"preference": 10, "exchange": "mx1.emailsrvr.com",
                                  "ttl": 3600}],
                     "provider": "rackspace"}},
    ],
}


def report(*checks, **top):
    """A valid report around CHECKS (summary computed), with TOP overrides."""
    order = ["pass", "skip", "warn", "fail", "error"]
    counts = {s: 0 for s in ("pass", "warn", "fail", "error", "skip")}
    worst = "pass"
    for c in checks:
        counts[c["status"]] += 1
        if order.index(c["status"]) > order.index(worst):
            worst = c["status"]
    rep = {
        "schema_version": 1,
        "tool": {"name": "cutover", "version": "0.1.0"},
        "command": "dns",
        "target": "example.com",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_ms": 50,
        "options": {"insecure": True, "allow_plaintext": False},
        "summary": {"status": worst, "counts": counts},
        "checks": list(checks),
    }
    rep.update(top)
    return rep


def check(id_, details, status="pass", side=None, **extra):
    c = {"id": id_, "subject": "example.com", "side": side, "status": status,
         "summary": "something", "advice": None, "duration_ms": 3, "details": details}
    c.update(extra)
    return c


MX = {"records": [{"preference": 10, "exchange": "mx1.emailsrvr.com", "ttl": 3600}],
      "provider": None}


def schema_md_examples():
    """(heading ids, parsed JSON) for every ```json block of SCHEMA.md."""
    with open(SCHEMA_MD, encoding="utf-8") as f:
        text = f.read()
    out = []
    heading = ""
    for m in re.finditer(r"^(##[^\n]*)$|^```json\n(.*?)^```$", text, re.M | re.S):
        if m.group(1):
            heading = m.group(1)
        else:
            ids = re.findall(r"`([a-z0-9_]+\.[a-z0-9_]+)`", heading) \
                if heading.startswith("### ") else []
            out.append((ids, json.loads(m.group(2))))
    return out


# ---- valid -------------------------------------------------------------------

def test_schema_itself_is_valid():
    schema_check.load_schema()


def test_design_example_is_valid():
    assert validate_report(copy.deepcopy(DESIGN_EXAMPLE))["schema_version"] == 1


def test_empty_report_is_valid():
    validate_report(report())


def test_schema_md_examples_are_valid():
    examples = schema_md_examples()
    full = [j for ids, j in examples if "schema_version" in j and j["checks"]]
    assert full, "SCHEMA.md lost its full example"
    for j in full:
        validate_report(j)
    per_id = [(ids, j) for ids, j in examples if ids]
    documented = {i for ids, _ in per_id for i in ids}
    # Every id of DESIGN.md's details table has a documented example.
    assert documented >= {
        "dns.mx", "dns.mx_ttl", "dns.autodiscover", "dns.spf", "dns.dmarc",
        "dns.propagation", "imap.tls", "pop3.tls", "imap.login", "pop3.login",
        "web.webmail", "web.autodiscover", "mailbox.folders", "mailbox.folder_items",
        "mailbox.folder_names", "mailbox.large_messages", "mailbox.quota",
        "mailbox.compare", "sync.mailbox"}
    for ids, details in per_id:
        for id_ in ids:
            validate_report(report(check(id_, details)))


@pytest.mark.parametrize("c", [
    check("dns.mx", {"records": [], "provider": None}, status="fail"),
    check("dns.mx_ttl", {"ttl": None, "recommended_max": 300}, status="warn"),
    check("dns.spf", {"record": "v=spf1 -all", "dns_lookups": 0, "void_lookups": 0,
                      "includes": [], "authorizes_destination": None, "result": "fail"}),
    check("dns.dmarc", {"record": None, "policy": None}, status="warn"),
    # more fields than listed are fine ("at least")
    check("dns.mx", dict(MX, answered_by="127.0.0.1", extra={"x": 1})),
    # skip and error may have empty or partial details
    check("imap.login", {}, status="skip", side="source"),
    check("dns.mx", {"provider": None}, status="error"),
    # ids outside the table: details is any object
    check("future.check", {"anything": [1, "two", None]}),
    check("imap.login", {}, status="skip", side="destination", advice="Set a password"),
])
def test_valid_checks(c):
    validate_report(report(c))


def test_valid_file_and_cli(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report(check("dns.mx", MX))), encoding="utf-8")
    validate_report(str(path))
    validate_report(path)
    run = subprocess.run([sys.executable, os.path.join(HERE, "schema_check.py"), str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "valid" in run.stdout


# ---- invalid -----------------------------------------------------------------

def broken(edit, base=None):
    rep = copy.deepcopy(base if base is not None else report(check("dns.mx", MX)))
    edit(rep)
    return rep


def _set(path, value):
    def edit(rep):
        node = rep
        for p in path[:-1]:
            node = node[p]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return edit


BROKEN = {
    # the four kinds the contract cares most about
    "wrong check status": (_set(["checks", 0, "status"], "ok"), "checks[0].status"),
    "wrong summary status": (_set(["summary", "status"], "PASS"), "summary.status"),
    "missing counts.skip": (_set(["summary", "counts", "skip"], KeyError),
                            "summary.counts: 'skip' is a required property"),
    "dns.mx details missing ttl": (
        _set(["checks", 0, "details", "records", 0, "ttl"], KeyError),
        "checks[0].details.records[0]: 'ttl' is a required property"),
    "schema_version 2": (_set(["schema_version"], 2), "schema_version"),
    "schema_version string": (_set(["schema_version"], "1"), "schema_version"),
    # more of the envelope
    "extra top-level field": (_set(["colour"], "blue"), "colour"),
    "extra field in a check": (_set(["checks", 0, "severity"], 3), "severity"),
    "extra count": (_set(["summary", "counts", "unknown"], 0), "unknown"),
    "missing checks": (_set(["checks"], KeyError), "'checks' is a required property"),
    "tool name": (_set(["tool", "name"], "other"), "tool.name"),
    "started_at offset": (_set(["started_at"], "2026-11-22T10:00:00+01:00"), "started_at"),
    "negative duration": (_set(["duration_ms"], -1), "duration_ms"),
    "fractional duration": (_set(["checks", 0, "duration_ms"], 1.5), "checks[0].duration_ms"),
    "options not bool": (_set(["options", "insecure"], "yes"), "options.insecure"),
    "side": (_set(["checks", 0, "side"], "both"), "checks[0].side"),
    "side empty": (_set(["checks", 0, "side"], ""), "checks[0].side"),
    "advice missing": (_set(["checks", 0, "advice"], KeyError), "'advice' is a required"),
    "details null": (_set(["checks", 0, "details"], None), "checks[0].details"),
    # per-id details
    "dns.mx missing records": (_set(["checks", 0, "details", "records"], KeyError),
                               "checks[0].details: 'records' is a required property"),
    "dns.mx ttl string": (_set(["checks", 0, "details", "records", 0, "ttl"], "3600"),
                          "checks[0].details.records[0].ttl"),
    "dns.mx provider number": (_set(["checks", 0, "details", "provider"], 1),
                               "checks[0].details.provider"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_reports_fail(name):
    edit, where = BROKEN[name]
    with pytest.raises(ReportInvalid) as exc:
        validate_report(broken(edit))
    assert where in str(exc.value)


@pytest.mark.parametrize("c, where", [
    (check("dns.mx_ttl", {"ttl": "1h", "recommended_max": 300}), "details.ttl"),
    (check("dns.mx_ttl", {"ttl": 3600}), "'recommended_max' is a required property"),
    (check("dns.spf", {"record": None, "dns_lookups": 0, "void_lookups": 0, "includes": [],
                       "authorizes_destination": None, "result": "maybe"}), "details.result"),
    (check("dns.dmarc", {"record": None, "policy": "block"}), "details.policy"),
    (check("imap.login", {"server": "s", "user": "u", "result": "denied", "capabilities": [],
                          "tls": None}, side="source"), "details.result"),
    (check("imap.tls", {"server": "s", "port": 993, "mode": "tls", "result": "ok",
                        "tls": None}, side="source"), "details.mode"),
    (check("dns.propagation", {"expected": [], "matched": 0, "total": 1, "servers": [
        {"server": "8.8.8.8", "role": "resolver", "state": "old", "answer": None,
         "ttl": None, "serial": None, "error": None}]}), "details.servers[0].state"),
    (check("mailbox.folders", {"user": "u", "total_messages": 1, "total_bytes": 1,
                               "folders": [{"name": "INBOX", "messages": 1, "bytes": 1,
                                            "special_use": None}]}, side="source"),
     "'raw_name' is a required property"),
    (check("mailbox.quota", {"source_usage_bytes": 1, "destination_limit_bytes": 2,
                             "ratio": 0.5, "headroom": 70}), "details.headroom"),
    # skip relaxes "required", not the types
    (check("dns.mx", {"records": "none"}, status="skip"), "details.records"),
])
def test_broken_details_fail(c, where):
    with pytest.raises(ReportInvalid) as exc:
        validate_report(report(c))
    assert where in str(exc.value)


def test_error_lists_every_problem():
    rep = broken(_set(["schema_version"], 3))
    rep["checks"][0]["status"] = "bad"
    with pytest.raises(ReportInvalid) as exc:
        validate_report(rep)
    assert len(exc.value.errors) >= 2
    assert isinstance(exc.value, ValueError)


def test_cli_reports_invalid_and_bad_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken(_set(["summary", "counts", "skip"], KeyError))))
    notjson = tmp_path / "notjson.json"
    notjson.write_text("{\n  \"schema_version\": 1,\n  oops\n}\n")
    script = os.path.join(HERE, "schema_check.py")
    run = subprocess.run([sys.executable, script, str(bad), str(notjson)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert str(bad) in run.stderr and "summary.counts" in run.stderr
    assert "%s:3:" % notjson in run.stderr
    run = subprocess.run([sys.executable, script], capture_output=True, text=True)
    assert run.returncode == 64
