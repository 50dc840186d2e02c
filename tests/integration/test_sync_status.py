"""What an admin watching a long sync sees, and `cutover sync --status`.

Without a terminal (cron, nohup, `propagation --then`) a progress line goes to
stderr every period; with --json the report is rewritten during the pass with
"partial": true (and is a valid report each time); --status reads the state
only (no server is contacted) and says per mailbox what the last pass did and
what is left.
"""
import json
import os
import re
import subprocess
import time

import synchelp as sh
from conftest import cutover_bin
from schema_check import validate_report

USERS = ["user024@lab.test", "user025@lab.test"]
PROGRESS = re.compile(r"^sync: (\d+)/2 mailboxes, (\d+)/(\d+) messages, .* msg/s, .* ETA \S+$")


def fill(lab, user, n):
    sh.wipe(lab, "source", user)
    sh.wipe(lab, "destination", user)
    sh.append_bulk(lab, "source", user, "INBOX", [
        (sh.message(f"st-{user}-{i}", 400, seed="status"), "", time.time()) for i in range(n)])


def test_progress_lines_and_partial_report(mail_lab, tmp_path):
    lab = mail_lab
    for u in USERS:
        fill(lab, u, 60)
    plan = sh.plan(tmp_path, lab, USERS, state_dir=tmp_path / "state")
    report = tmp_path / "sync.json"
    env = dict(os.environ, CUTOVER_SYNC_TICK_MS="150")
    p = subprocess.Popen([cutover_bin(), "sync", str(plan), "--max-rate", "40", "--jobs", "1",
                          "--per-host", "1", "--json", str(report)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    partials = []
    while p.poll() is None:
        if report.exists():
            doc = json.loads(report.read_text())
            if doc.get("partial"):
                validate_report(doc)
                partials.append(len(doc["checks"]))
        time.sleep(0.1)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    lines = [ln for ln in err.splitlines() if ln.startswith("sync: ")]
    assert len(lines) >= 3, err
    for ln in lines:
        assert PROGRESS.match(ln), ln
        assert "\r" not in ln and "\033" not in ln  # no terminal codes in a log
    done = [int(PROGRESS.match(ln).group(2)) for ln in lines]
    assert done == sorted(done) and done[-1] > done[0], lines
    # The report during the pass: partial, valid, growing; at the end, final.
    assert partials, "no partial report was seen during the pass"
    assert partials == sorted(partials)
    final = json.loads(report.read_text())
    assert "partial" not in final
    assert [c["id"] for c in final["checks"]].count("sync.mailbox") == 2


def test_status_reads_the_state_only(mail_lab, tmp_path, cutover):
    lab = mail_lab
    fill(lab, USERS[0], 30)
    fill(lab, USERS[1], 10)
    plan = sh.plan(tmp_path, lab, USERS, state_dir=tmp_path / "state")
    # Before any pass.
    r = cutover("sync", plan, "--status")
    assert r.rc == 0, r.stderr
    for u in USERS:
        c = r.check("sync.status", u)
        assert c["status"] == "skip" and c["details"]["last_pass"] is None, c
    r = cutover("sync", plan, "--no-progress", "--mailbox", USERS[0])
    assert r.check("sync.mailbox", USERS[0])["details"]["copied"] == 30
    before = lab.log_size("destination"), lab.log_size("source")
    r = cutover("sync", plan, "--status")
    assert r.rc == 0, r.stderr
    # No connection was made to either server.
    assert (lab.log_size("destination"), lab.log_size("source")) == before
    c = r.check("sync.status", USERS[0])
    assert c["status"] == "pass", c
    d = c["details"]
    assert d["passes"] == 1 and d["last_pass"]["copied"] == 30 and not d["last_pass"]["dry_run"]
    assert d["state"]["copied"] == 30 and d["state"]["failed"] == 0 and d["state"]["intents"] == 0
    assert "30 copied in all" in c["summary"]
    assert r.check("sync.status", USERS[1])["status"] == "skip"
    # The console says the same without --json.
    r = cutover("sync", plan, "--status", json_report=False)
    assert USERS[0] in r.stdout and "last pass" in r.stdout and "never synced" in r.stdout
