"""Issue 19: many mailboxes in one process - descriptor limits, no poisoned
caches, old TLS versions.

Runs the real binary against the real Dovecot lab under a tight
RLIMIT_NOFILE (as `ulimit -n 64` would set it, soft and hard alike).
"""
import json
import os
import re
import resource
import subprocess

import pytest

from conftest import MAIL_PORT_BASE, ROOT, cutover_bin
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


# ---- a server that speaks only TLS 1.0 ---------------------------------------------

OLDTLS_BASE = MAIL_PORT_BASE + 2000


@pytest.fixture(scope="module")
def oldtls(mail_lab):
    """contrib/lab/oldtls: nginx with TLS 1.0 only in front of the source
    Dovecot's plain IMAP and POP3 ports. Yields {"imaps", "pop3s", "https"}."""
    ports = {"imaps": OLDTLS_BASE + 994, "pop3s": OLDTLS_BASE + 996,
             "https": OLDTLS_BASE + 443}
    env = dict(mail_lab.env, LAB_OLDTLS_IMAPS_PORT=str(ports["imaps"]),
               LAB_OLDTLS_POP3S_PORT=str(ports["pop3s"]),
               LAB_OLDTLS_HTTPS_PORT=str(ports["https"]),
               LAB_OLDTLS_IMAP_UPSTREAM=f"127.0.0.1:{mail_lab.ports['source']['imap']}",
               LAB_OLDTLS_POP3_UPSTREAM=f"127.0.0.1:{mail_lab.ports['source']['pop3']}")
    script = ROOT / "contrib/lab/oldtls/oldtls.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    try:
        yield ports
    finally:
        subprocess.run(["bash", str(script), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=60)


def oldtls_plan(lab, tmp_path, ports):
    src = {"imap": f"imaps://127.0.0.1:{ports['imaps']}",
           "pop3": f"pop3s://127.0.0.1:{ports['pop3s']}",
           "imap_other_port": 0, "pop3_other_port": 0}
    return write_plan(tmp_path, src, None, [mbox(lab, "alice@lab.test")])


def test_tls10_server_warns_and_gets_no_password(mail_lab, oldtls, cutover, tmp_path):
    lab = mail_lab
    plan = oldtls_plan(lab, tmp_path, oldtls)
    since = lab.log_size("source")
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    for proto in ("imap", "pop3"):
        tls = run.check(f"{proto}.tls", side="source")
        assert tls["status"] == "warn", tls
        assert tls["details"]["tls"]["version"] == "TLSv1"
        assert "below TLS 1.2" in tls["summary"] and "Microsoft 365" in tls["summary"]
        assert "TLS 1.2" in tls["advice"]
        login = run.check(f"{proto}.login", "alice@lab.test", "source")
        assert login["status"] == "fail", login
        assert login["details"]["result"] == "tls_failed"
        assert "--allow-old-tls" in login["summary"]
        assert "certificate" not in login["advice"]
    assert run.report["options"]["allow_old_tls"] is False
    # Dovecot (behind the proxy) never saw a login attempt: no password sent.
    for port in ("imap", "pop3"):
        st = lab.connections("source", since, lport=lab.ports["source"][port])
        assert st["logins"] == 0 and st["auth_failed"] == 0, st
    assert "alice" not in lab.log_since("source", since).replace("alice@lab.test", "")


def test_tls10_login_with_allow_old_tls(mail_lab, oldtls, cutover, tmp_path):
    lab = mail_lab
    plan = oldtls_plan(lab, tmp_path, oldtls)
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca, "--allow-old-tls")
    for proto in ("imap", "pop3"):
        login = run.check(f"{proto}.login", "alice@lab.test", "source")
        assert login["details"]["result"] == "ok", login
        assert login["details"]["tls"]["version"] == "TLSv1"
        assert run.check(f"{proto}.tls", side="source")["status"] == "warn"
    assert run.report["options"]["allow_old_tls"] is True
    assert "--allow-old-tls" in run.stdout


def test_tls10_webmail_warns(mail_lab, oldtls, cutover, tmp_path):
    plan = tmp_path / "web.json"
    plan.write_text(json.dumps({"domain": "lab.test", "mailboxes": [],
                                "source": {"webmail": f"https://127.0.0.1:{oldtls['https']}/"}}))
    run = cutover("audit", plan, "--only", "web", "--ca-file", mail_lab.ca,
                  "--resolver", "127.0.0.1:9", "--timeout", "5")
    w = run.check("web.webmail", side="source")
    assert w["status"] == "warn", w
    assert "TLSv1" in w["summary"] and "below TLS 1.2" in w["summary"]
    assert w["details"]["http_status"] == 200


# ---- finished results spooled out of memory ----------------------------------------

def untimed(value):
    """VALUE without the fields that change from run to run (timings)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items()
                if k not in ("duration_ms", "started_at", "timings_ms")}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\d+\.\d s", "X s", value)
    return value


def test_spooled_report_equals_in_memory_report(mail_lab, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source"), urls(lab, "destination", pop3=None), [],
                      csv=lab.csv200)
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    texts = []
    for tmpdir in (str(spool_dir), str(tmp_path / "no-such-folder")):
        out = tmp_path / "r.json"
        proc = subprocess.run([cutover_bin(), "audit", str(plan), "--only", "imap,pop3,folders",
                               "--ca-file", lab.ca, "--json", str(out), "-q", "--no-progress"],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, TMPDIR=tmpdir), stdin=subprocess.DEVNULL)
        assert proc.returncode in (0, 1, 2), proc.stderr
        texts.append(out.read_text())
    report = json.loads(texts[0])
    assert len([c for c in report["checks"] if c["id"] == "mailbox.folders"]) == 200
    assert all(c["details"]["folders"] for c in report["checks"]
               if c["id"] == "mailbox.folders" and c["status"] == "pass")
    # The scratch file was anonymous: nothing is left behind.
    assert list(spool_dir.iterdir()) == []
    # Spooled (first run) or kept in memory (no scratch folder): the same
    # checks in the same order, and the same details for every check that
    # ended the same both times (a login may time out on a loaded machine).
    a, b = (json.loads(t)["checks"] for t in texts)
    assert [(c["id"], c["subject"], c["side"]) for c in a] == \
        [(c["id"], c["subject"], c["side"]) for c in b]
    both = [(x, y) for x, y in zip(a, b) if x["status"] == y["status"]]
    assert len(both) >= 0.9 * len(a)
    for x, y in both:
        assert untimed(x) == untimed(y), (x["id"], x["subject"])


def test_reports_of_a_run_equal_its_json_rendered_again(mail_lab, tmp_path):
    """The results of an audit wait in a scratch file and the writers read
    them back one at a time; `report render` of its JSON reads them from
    the JSON instead. Both give the same bytes: JSON, HTML, CSV and the
    console summary (with logins refused, whose mailbox checks the audit
    turns into skips)."""
    lab = mail_lab
    rows = lab.csv200.read_text().splitlines()
    for i in range(3, len(rows), 9):  # every 9th mailbox: a refused source login
        cells = rows[i].split(",")
        cells[1] = "not-the-password"
        rows[i] = ",".join(cells)
    sheet = tmp_path / "mailboxes.csv"
    sheet.write_text("\n".join(rows) + "\n")
    plan = write_plan(tmp_path, urls(lab, "source", pop3=None),
                      urls(lab, "destination", pop3=None), [], csv=sheet)
    run_dir, again = tmp_path / "run", tmp_path / "again"
    run_dir.mkdir()
    again.mkdir()

    def outputs(d):
        return ["--json", d / "r.json", "--html", d / "r.html", "--csv", d / "r.csv"]

    audit = subprocess.run([cutover_bin(), "audit", plan, "--only", "imap,folders",
                            "--ca-file", lab.ca, "--no-progress", *outputs(run_dir)],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert audit.returncode == 2, audit.stderr
    render = subprocess.run([cutover_bin(), "report", "render", run_dir / "r.json",
                             *outputs(again)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert render.returncode == 2, render.stderr
    checks = json.loads((run_dir / "r.json").read_text())["checks"]
    refused = [c for c in checks if c["id"] == "imap.login" and c["status"] == "fail"]
    assert len(refused) == 22
    rolled = [c for c in checks if c["summary"] == "not checked: the source login failed"]
    assert rolled and {c["subject"] for c in rolled} == {c["subject"] for c in refused}
    for name in ("r.json", "r.html", "r.csv"):
        assert (run_dir / name).read_bytes() == (again / name).read_bytes(), name
    assert audit.stdout == render.stdout
