"""Issue 19: many mailboxes in one process - descriptor limits, no poisoned
caches, old TLS versions.

Runs the real binary against the real Dovecot lab under a tight
RLIMIT_NOFILE (as `ulimit -n 64` would set it, soft and hard alike).
"""
import resource
import subprocess
import json

from conftest import cutover_bin
from test_mail_probes import all_passwords, mbox, urls, write_plan


def run_limited(argv, nofile, pass_fds=(), timeout=300):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return subprocess.run([cutover_bin(), *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit, pass_fds=pass_fds,
                          stdin=subprocess.DEVNULL)


def test_ulimit_64_concurrency_500_over_200_mailboxes(mail_lab, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source"), urls(lab, "destination"), [],
                      csv=lab.csv200)
    report = tmp_path / "r.json"
    proc = run_limited(["audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca,
                        "--concurrency", "500", "--per-host", "500", "--json", report,
                        "--no-progress"], 64)
    notices = [ln for ln in proc.stderr.splitlines() if "file-descriptor limit" in ln]
    assert len(notices) == 1, proc.stderr[-2000:]
    assert "--concurrency 500 lowered to" in notices[0]
    checks = json.loads(report.read_text())["checks"]
    logins = [c for c in checks if c["id"] in ("imap.login", "pop3.login")]
    assert len(logins) == 800
    bad = [c for c in logins if c["details"]["result"] != "ok"]
    assert bad == [], bad[:3]
    assert all(c["details"]["tls"]["verified"] for c in logins)
    tls = [c for c in checks if c["id"] in ("imap.tls", "pop3.tls")]
    assert tls and all(c["status"] == "pass" for c in tls), [c for c in tls
                                                             if c["status"] != "pass"][:3]
    assert proc.returncode == 0, proc.stderr[-2000:]
    for pw in all_passwords(lab):
        assert pw not in proc.stdout + proc.stderr


def test_no_notice_when_descriptors_suffice(mail_lab, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source", pop3=None),
                      urls(lab, "destination", pop3=None), [mbox(lab, "alice@lab.test")])
    proc = run_limited(["audit", plan, "--only", "imap", "--ca-file", lab.ca,
                        "--concurrency", "4", "--no-progress"], 4096)
    assert "file-descriptor limit" not in proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
