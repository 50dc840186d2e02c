"""A dead server is found fast, and SIGTERM stops a run like Ctrl-C.

The peer is a scripted silent server (no real server behaves like this on
purpose): it accepts TCP connections, counts them and never says a word, so
every TLS handshake waits out its timeout. The tests count connection
attempts and results, never time."""
import csv
import io
import json
import signal
import socket
import subprocess
import threading

import pytest

from conftest import cutover_bin
from schema_check import validate_report

N_MAILBOXES = 200
PER_HOST = 8


class SilentServer:
    """Accepts connections on an ephemeral loopback port and keeps them open."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.first = threading.Event()
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            self.accepted += 1
            self.first.set()

    def close(self):
        self.stop = True
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


def write_plan(tmp_path, port, n=N_MAILBOXES):
    plan = {
        "domain": "dead.test",
        "source": {"imap": f"imaps://127.0.0.1:{port}", "imap_other_port": 0},
        "mailboxes": [{"source_user": f"user{i:03d}@dead.test", "source_password": "pw",
                       "dest_user": f"user{i:03d}@new.test", "dest_password": "pw"}
                      for i in range(n)],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_dead_host_is_tried_a_few_times_not_200(tmp_path, silent):
    report_path, sheet = tmp_path / "audit.json", tmp_path / "mailboxes.csv"
    proc = subprocess.run(
        [cutover_bin(), "audit", write_plan(tmp_path, silent.port), "--only", "imap,folders",
         "--timeout", "1", "--per-host", str(PER_HOST), "--json", report_path,
         "--csv", sheet],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    report = json.loads(report_path.read_text())
    validate_report(report)
    logins = [c for c in report["checks"] if c["id"] == "imap.login"]
    folders = [c for c in report["checks"] if c["id"] == "mailbox.folders"]
    assert len(logins) == N_MAILBOXES and len(folders) == N_MAILBOXES
    not_tried = [c for c in logins if c["summary"].startswith("not tried: same cause as")]
    # one wave of connections (the per-host limit) and the few started while
    # the first failures came in; everything else was not tried
    assert silent.accepted <= 2 * PER_HOST + 2, silent.accepted
    assert len(not_tried) >= N_MAILBOXES - 2 * PER_HOST, len(not_tried)
    for c in not_tried:
        assert c["status"] == "error"
        assert c["details"]["result"] == "timeout" and c["details"]["not_tried"] is True
    # the folder checks need the login that failed: skipped, the reason kept
    assert all(c["status"] == "skip" and
               c["summary"] == "not checked: the source login failed" for c in folders)
    assert sum("not tried: same cause as" in c["details"]["error"] for c in folders) >= \
        N_MAILBOXES - 2 * PER_HOST
    # the console rolls the 400 results up instead of printing each: the
    # timed-out logins once, the skipped folder checks once
    lines = proc.stdout.splitlines()
    assert len(lines) <= 20, proc.stdout
    login_lines = [l for l in lines if "imap.login" in l]
    assert len(login_lines) == 1 and "200 mailboxes (source)" in login_lines[0], proc.stdout
    assert "not tried: same cause" in login_lines[0]
    skip_lines = [l for l in lines if "not checked: the source login failed" in l]
    assert len(skip_lines) == 1 and "200 mailboxes" in skip_lines[0], proc.stdout
    # the spreadsheet of the same run: one row per mailbox, nothing read is unknown
    rows = list(csv.DictReader(io.StringIO(sheet.read_bytes().decode("utf-8-sig"),
                                           newline="")))
    assert len(rows) == N_MAILBOXES
    assert all(r["login"] == "imap timeout" and r["folders"] == "unknown" and
               r["items"] == "unknown" and r["status"] == "error" for r in rows)


def test_sigterm_writes_the_report_so_far(tmp_path, silent):
    report_path = tmp_path / "audit.json"
    proc = subprocess.Popen(
        [cutover_bin(), "audit", write_plan(tmp_path, silent.port, n=20), "--only", "imap",
         "--timeout", "60", "--json", report_path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        # the run is on its loop once the server saw a connection
        assert silent.first.wait(60), "cutover never connected"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    report = json.loads(report_path.read_text())
    validate_report(report)
    assert any("interrupted" in c["summary"] for c in report["checks"])
    assert "interrupted" in out
