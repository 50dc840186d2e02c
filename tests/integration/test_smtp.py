"""cutover smtp: the RCPT probe against the real Postfix lab (contrib/lab/smtp/).

smtp.test's MX is mx.lab.test (the DNS lab), which is 127.0.0.1; the lab's
Postfix answers there on four ports (from TEST_SMTP_PORT, default
TEST_MAIL_PORT_BASE + 25): STARTTLS and the lab users (alice, bob, ...
@smtp.test) accepted; the same with every smtp.test recipient greylisted;
without STARTTLS; with a certificate for another name. Postfix's own log
says what the probe did (one "disconnect" line per session with its
command counts), so the tests also check that it never sent DATA.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import MAIL_PORT_BASE, ROOT

pytestmark = pytest.mark.usefixtures("dns_lab")

BASE = int(os.environ.get("TEST_SMTP_PORT", str(MAIL_PORT_BASE + 25)))
ACCEPT, GREY, NOTLS, BADCERT = BASE, BASE + 1, BASE + 2, BASE + 3


@pytest.fixture(scope="module")
def smtp_lab():
    if os.geteuid() != 0:
        pytest.skip("the Postfix lab needs root (its master drops to the postfix user)")
    if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
        pytest.fail("postfix is missing: run contrib/deps.sh")
    # 0755, outside pytest's 0700 tmp: Postfix's daemons run as 'postfix'.
    run = Path(tempfile.mkdtemp(prefix="cutover-smtp-lab-"))
    run.chmod(0o755)
    env = dict(os.environ, LAB_RUN=str(run), LAB_SMTP_ADDR="127.0.0.1",
               LAB_SMTP_PORT=str(ACCEPT), LAB_SMTP_GREY_PORT=str(GREY),
               LAB_SMTP_NOTLS_PORT=str(NOTLS), LAB_SMTP_BADCERT_PORT=str(BADCERT))
    script = ROOT / "contrib/lab/smtp/smtp.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    yield {"ca": str(run / "ca.pem"), "log": run / "smtp" / "postfix.log"}
    subprocess.run(["bash", str(script), "down"], env=env, check=False,
                   stdout=subprocess.DEVNULL, timeout=60)
    for _ in range(20):  # Postfix's last daemons may still be writing as it stops
        shutil.rmtree(run, ignore_errors=True)
        if not run.exists():
            break
        time.sleep(0.1)


def probe(cutover, dns_lab, lab, port, *rcpts, extra=()):
    args = ["smtp", "smtp.test", "--resolver", dns_lab, "--smtp-port", port,
            "--helo-name", "probe.lab.test", "--timeout", "10", "--no-progress"]
    if lab is not None:
        args += ["--ca-file", lab["ca"]]
    for r in rcpts:
        args += ["--rcpt", r]
    run = cutover(*args, *extra)
    return run, run.check("smtp.mx", "smtp.test")


def by_address(mx):
    return {r["address"]: r for r in mx["recipients"]}


def sessions(log, since):
    """Postfix's "disconnect from" lines written after byte SINCE."""
    for _ in range(50):  # the line is written as the session closes
        text = log.read_bytes()[since:].decode("utf-8", "replace")
        lines = [l for l in text.splitlines() if "disconnect from" in l]
        if lines:
            return lines
        time.sleep(0.1)
    return []


def test_accepted(cutover, dns_lab, smtp_lab):
    since = smtp_lab["log"].stat().st_size
    run, c = probe(cutover, dns_lab, smtp_lab, ACCEPT, "alice@smtp.test", "bob@smtp.test",
                   "user042@smtp.test")
    assert run.rc == 0, run.stderr
    assert c["status"] == "pass", c["summary"]
    [mx] = c["details"]["mx"]
    assert mx["host"] == "mx.lab.test" and mx["result"] == "ok"
    assert mx["peer"] == f"127.0.0.1:{ACCEPT}"
    assert mx["banner"].startswith("mx.lab.test ESMTP")
    assert mx["starttls"] is True and mx["pipelining"] is True
    assert mx["tls"]["verified"] is True and mx["tls"]["version"].startswith("TLSv1")
    for r in mx["recipients"]:
        assert (r["status"], r["code"], r["enhanced_code"]) == ("accepted", 250, "2.1.5"), r
    # what Postfix saw: STARTTLS, one MAIL, three RCPTs, RSET, QUIT, and no DATA
    [line] = sessions(smtp_lab["log"], since)
    assert "starttls=1" in line and "mail=1" in line and "rcpt=3" in line, line
    assert "rset=1" in line and "quit=1" in line and "data=" not in line, line


def test_rejected(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, ACCEPT, "alice@smtp.test", "nobody@smtp.test",
                   "someone@elsewhere.example")
    assert run.rc == 2
    assert c["status"] == "fail"
    assert "nobody@smtp.test: 550 5.1.1" in c["summary"]
    assert "No such user" in c["advice"]
    rc = by_address(c["details"]["mx"][0])
    assert rc["alice@smtp.test"]["status"] == "accepted"
    nobody = rc["nobody@smtp.test"]
    assert (nobody["status"], nobody["code"], nobody["enhanced_code"]) == ("rejected", 550, "5.1.1")
    assert "User unknown" in nobody["text"] and "No such user" in nobody["advice"]
    other = rc["someone@elsewhere.example"]
    assert (other["status"], other["code"], other["enhanced_code"]) == ("rejected", 554, "5.7.1")
    assert "Relay access denied" in other["text"]


def test_deferred(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, GREY, "alice@smtp.test", "bob@smtp.test")
    assert run.rc == 1
    assert c["status"] == "warn"
    assert "deferred" in c["summary"] and "Greylisting" in c["advice"]
    for r in c["details"]["mx"][0]["recipients"]:
        assert (r["status"], r["code"], r["enhanced_code"]) == ("deferred", 450, "4.7.1"), r
        assert "Greylisted" in r["text"]


def test_no_starttls(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, NOTLS, "alice@smtp.test")
    assert run.rc == 1
    assert c["status"] == "warn"
    assert "no STARTTLS" in c["summary"]
    [mx] = c["details"]["mx"]
    assert mx["result"] == "ok" and mx["starttls"] is False and mx["tls"] is None
    assert by_address(mx)["alice@smtp.test"]["status"] == "accepted"


def test_bad_certificate(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, BADCERT, "alice@smtp.test")
    assert run.rc == 2
    assert c["status"] == "fail"
    [mx] = c["details"]["mx"]
    assert mx["result"] == "tls_failed"
    assert mx["tls"]["verified"] is False
    assert "mx.lab.test" in mx["tls"]["verify_error"]
    assert "certificate" in c["advice"]
    assert by_address(mx)["alice@smtp.test"]["status"] == "not_tested"


def test_untrusted_ca(cutover, dns_lab, smtp_lab):
    """Without the lab CA, the (valid) lab certificate does not verify."""
    run, c = probe(cutover, dns_lab, None, ACCEPT, "alice@smtp.test")
    assert c["status"] == "fail"
    assert c["details"]["mx"][0]["result"] == "tls_failed"


def test_closed_port(cutover, dns_lab):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run, c = probe(cutover, dns_lab, None, port, "alice@smtp.test")
    assert run.rc == 2
    assert c["status"] == "fail"
    [mx] = c["details"]["mx"]
    assert mx["result"] == "connect_failed" and "refused" in mx["error"]
    assert "port 25" in c["advice"]


def test_default_recipient_postmaster(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, ACCEPT)
    assert c["details"]["recipients"] == ["postmaster@smtp.test"]
    # the lab does not list postmaster: rejected like any unknown user
    assert by_address(c["details"]["mx"][0])["postmaster@smtp.test"]["code"] == 550


def hostile_server(replies):
    """A scripted SMTP peer for what no real server does: sends REPLIES (bytes)
    once connected, reads whatever comes, then closes. Returns (port, stop)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(replies)
                    conn.settimeout(1)
                    conn.recv(4096)
                except OSError:
                    pass
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], stop


@pytest.mark.parametrize("replies,error", [
    (b"220-" + b"x" * 5000 + b"\r\n", "longer than"),
    (b"220-hi\r\n" * 200, "lines"),
    (b"220-hi\r\n230 changed\r\n", "changes its code"),
    (b"hello there\r\n", "three-digit code"),
    (b"\r\n", "three-digit code"),
])
def test_hostile_replies(cutover, dns_lab, replies, error):
    port, stop = hostile_server(replies)
    try:
        run, c = probe(cutover, dns_lab, None, port, "alice@smtp.test")
    finally:
        stop.set()
    assert run.rc == 2
    [mx] = c["details"]["mx"]
    assert mx["result"] == "protocol_error" and error in mx["error"], mx["error"]


def test_bad_options(cutover):
    for args in (["--rcpt", "not-an-address"], ["--smtp-port", "0"],
                 ["--helo-name", "bad name"]):
        run = cutover("smtp", "smtp.test", *args, json_report=False)
        assert run.rc == 65, (args, run.stderr)
    run = cutover("smtp", json_report=False)
    assert run.rc == 64


def test_audit_smtp_group(cutover, dns_lab, smtp_lab, tmp_path):
    """audit --only smtp: the plan's expect.mx host (the new MX before the flip,
    not the domain's MX: elsewhere.test has none) and every destination user."""
    import json
    plan = {"domain": "elsewhere.test", "resolvers": [dns_lab],
            "expect": {"mx": ["*.mail.protection.outlook.com", "mx.lab.test"]},
            "mailboxes": [
                {"source_user": "alice@old.example", "dest_user": "alice@smtp.test",
                 "source_password": "x", "dest_password": "y"},
                {"source_user": "zed@old.example", "dest_user": "zed@smtp.test",
                 "source_password": "x", "dest_password": "y"}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    run = cutover("audit", path, "--only", "smtp", "--smtp-port", ACCEPT,
                  "--ca-file", smtp_lab["ca"], "--no-progress")
    c = run.check("smtp.mx", "elsewhere.test")
    assert c["details"]["mx_source"] == "expected"
    assert c["details"]["recipients"] == ["alice@smtp.test", "zed@smtp.test"]
    [mx] = c["details"]["mx"]
    assert mx["host"] == "mx.lab.test"
    rc = by_address(mx)
    assert rc["alice@smtp.test"]["status"] == "accepted"
    assert rc["zed@smtp.test"]["status"] == "rejected"
    assert c["status"] == "fail" and run.rc == 2
    # sharded: shard 1 probes every mailbox's address, the other shards none
    run = cutover("audit", path, "--only", "smtp", "--smtp-port", ACCEPT, "--shard", "1/2",
                  "--ca-file", smtp_lab["ca"], "--no-progress")
    assert run.check("smtp.mx")["details"]["recipients"] == ["alice@smtp.test", "zed@smtp.test"]
    run = cutover("audit", path, "--only", "smtp", "--smtp-port", ACCEPT, "--shard", "2/2",
                  "--no-progress")
    assert not [x for x in run.report["checks"] if x["id"] == "smtp.mx"]
    # not part of a default audit (port 25 is often blocked)
    run = cutover("audit", path, "--only", "dns", "--no-progress")
    assert not [x for x in run.report["checks"] if x["id"] == "smtp.mx"]


def test_mx_option(cutover, dns_lab, smtp_lab):
    run, c = probe(cutover, dns_lab, smtp_lab, ACCEPT, "bob@smtp.test",
                   extra=("--mx", "mx.lab.test"))
    assert c["details"]["mx_source"] == "expected"
    assert c["status"] == "pass"


@pytest.mark.parametrize("rcpt,ran", [("alice@smtp.test", True), ("nobody@smtp.test", False)])
def test_propagation_then_require_smtp(cutover, dns_lab, smtp_lab, tmp_path, rcpt, ran):
    """--then runs only once the (new) MX accepts every recipient."""
    marker = tmp_path / "then-ran"
    run = cutover("propagation", "smtp.test", "--expect-mx", "mx.lab.test",
                  "--authoritative", dns_lab, "--resolver", dns_lab,
                  "--then-require", "smtp", "--rcpt", rcpt, "--smtp-port", ACCEPT,
                  "--ca-file", smtp_lab["ca"], "--no-progress",
                  "--then", f"touch {marker}")
    assert marker.exists() is ran, run.stderr
    c = run.check("smtp.mx", "smtp.test")
    assert c["details"]["recipients"] == [rcpt]
    if ran:
        assert run.rc == 0 and c["status"] == "pass"
    else:
        assert run.rc == 2 and c["status"] == "fail"
        assert "not running --then" in run.stderr


def test_then_require_bad_value(cutover):
    run = cutover("propagation", "smtp.test", "--expect-mx", "mx.lab.test",
                  "--then-require", "dns", json_report=False)
    assert run.rc == 65 and "--then-require" in run.stderr
