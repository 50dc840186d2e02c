"""Shared fixtures: the real cutover binary and the real lab servers.

The lab runs from a private LAB_RUN folder on its own ports, so a demo lab
(`make lab-up`) can keep running while the tests do.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from schema_check import validate_report  # noqa: E402
from oauthlab import oauth_lab  # noqa: E402,F401  (fixture: the OAuth2 lab, needs mail_lab)

DNS_ADDR = "127.0.0.1"
DNS_PORT = int(os.environ.get("TEST_DNS_PORT", "5310"))
RESOLVER = f"{DNS_ADDR}:{DNS_PORT}"


def cutover_bin():
    return os.environ.get("CUTOVER_BIN", str(ROOT / "cutover"))


class Run:
    """One finished cutover run: exit code, output, and the parsed report."""

    def __init__(self, proc, report):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.report = report

    def check(self, check_id, subject=None, side=None):
        found = [c for c in self.report["checks"] if c["id"] == check_id
                 and (subject is None or c["subject"] == subject)
                 and (side is None or c["side"] == side)]
        assert len(found) == 1, f"expected one {check_id} check, got {found}"
        return found[0]


@contextlib.contextmanager
def silent_udp_server(addr="127.0.0.1", port=0):
    """A UDP socket that reads DNS queries and never answers: a stalled
    server (no real server does this on purpose). Yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    sock.settimeout(0.2)
    stop = threading.Event()

    def swallow():
        while not stop.is_set():
            try:
                sock.recvfrom(4096)
            except OSError:
                pass

    t = threading.Thread(target=swallow, daemon=True)
    t.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        t.join()
        sock.close()


@pytest.fixture(scope="session")
def lab_run(tmp_path_factory):
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def dns_lab(lab_run):
    env = dict(os.environ, LAB_RUN=str(lab_run), LAB_DNS_ADDR=DNS_ADDR,
               LAB_DNS_PORT=str(DNS_PORT))
    script = ROOT / "contrib/lab/dns/dns.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    yield RESOLVER
    subprocess.run(["bash", str(script), "down"], env=env, check=False,
                   stdout=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def cutover(tmp_path):
    """Run cutover with a JSON report; returns a Run. The report is validated
    against reports/report.schema.json whenever one was written."""

    def run(*args, json_report=True, env=None, timeout=60):
        report_path = tmp_path / "report.json"
        if report_path.exists():
            report_path.unlink()
        argv = [cutover_bin(), *map(str, args)]
        if json_report:
            argv += ["--json", str(report_path)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
        report = None
        if json_report and report_path.exists():
            report = json.loads(report_path.read_text())
            validate_report(report)
        return Run(proc, report)

    return run


WEB_HTTP_PORT = int(os.environ.get("TEST_WEB_HTTP_PORT", "18080"))
WEB_HTTPS_PORT = int(os.environ.get("TEST_WEB_HTTPS_PORT", "18443"))


@pytest.fixture(scope="session")
def web_lab(lab_run):
    """The nginx web lab (contrib/lab/web/web.sh) in the private LAB_RUN on
    TEST_WEB_HTTP_PORT / TEST_WEB_HTTPS_PORT (18080 / 18443). Yields a dict:
    "ca" (the lab CA file) and "connect_to" (cutover arguments that send
    :443 and :80 to the lab's ports)."""
    env = dict(os.environ, LAB_RUN=str(lab_run), LAB_WEB_ADDR="127.0.0.1",
               LAB_WEB_HTTP_PORT=str(WEB_HTTP_PORT), LAB_WEB_HTTPS_PORT=str(WEB_HTTPS_PORT))
    script = ROOT / "contrib/lab/web/web.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    yield {"ca": str(lab_run / "ca.pem"),
           "connect_to": ["--connect-to", f":443::{WEB_HTTPS_PORT}",
                          "--connect-to", f":80::{WEB_HTTP_PORT}"]}
    subprocess.run(["bash", str(script), "down"], env=env, check=False,
                   stdout=subprocess.DEVNULL, timeout=60)


MAIL_PORT_BASE = int(os.environ.get("TEST_MAIL_PORT_BASE", "41000"))


class MailLab:
    """The running mail lab: addresses, ports, users and log helpers."""

    def __init__(self, run_dir, env):
        self.run = Path(run_dir)
        self.env = env
        self.ca = str(self.run / "ca.pem")
        b = MAIL_PORT_BASE
        self.ports = {"source": {"imap": b + 143, "imaps": b + 993, "pop3": b + 110,
                                 "pop3s": b + 995},
                      "destination": {"imap": b + 1143, "imaps": b + 1993, "pop3": b + 1110,
                                      "pop3s": b + 1995},
                      "hoster": {"imap": b + 2143, "imaps": b + 2993, "pop3": b + 2110,
                                 "pop3s": b + 2995}}
        self.addr = {"source": "127.0.0.1", "destination": "127.0.0.2", "hoster": "127.0.0.7"}
        self.wronghost, self.expiring, self.expired, self.notls = (
            "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
        self.logs = {s: self.run / "mail" / s / "log" / "dovecot.log"
                     for s in ("source", "destination", "hoster")}
        # (side, user) -> password; masters as (side, "master", name)
        self.passwords = {}
        with open(self.run / "mail" / "users.tsv", encoding="utf-8") as f:
            next(f)
            for line in f:
                side, role, user, pw = line.rstrip("\n").split("\t")
                key = (side, "master", user) if role == "master" else (side, user)
                self.passwords[key] = pw
        self.csv200 = self.run / "mail" / "mailboxes-200.csv"

    def password(self, side, user):
        return self.passwords[(side, user)]

    def master(self, side, name="admin"):
        return self.passwords[(side, "master", name)]

    def log_size(self, side):
        return self.logs[side].stat().st_size

    def log_since(self, side, offset):
        with open(self.logs[side], "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def connections(self, side, since, **filters):
        """connections.py on SIDE's log from byte SINCE; returns its JSON."""
        argv = ["/usr/bin/python3", str(ROOT / "contrib/lab/mail/connections.py"),
                str(self.logs[side]), "--since-offset", str(since)]
        for k, v in filters.items():
            argv += [f"--{k}", str(v)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(out.stdout)


@pytest.fixture(scope="session")
def mail_lab():
    """The Dovecot mail lab (contrib/lab/mail/mail.sh) in a private LAB_RUN on
    ports from TEST_MAIL_PORT_BASE (41000: source 41143/41993/41110/41995,
    destination 42143/42993/42110/42995, hoster 43143/43993/43110/43995).
    Yields a MailLab.

    The LAB_RUN is a fresh 0755 folder in /tmp, not pytest's tmp_path: as root,
    Dovecot's auth and mail processes run as other users and must be able to
    traverse the path (pytest's base folder is 0700)."""
    import shutil
    import tempfile

    lab_run = Path(tempfile.mkdtemp(prefix="cutover-mail-"))
    lab_run.chmod(0o755)
    b = MAIL_PORT_BASE
    env = dict(os.environ, LAB_RUN=str(lab_run),
               LAB_SRC_IMAP=str(b + 143), LAB_SRC_IMAPS=str(b + 993),
               LAB_SRC_POP3=str(b + 110), LAB_SRC_POP3S=str(b + 995),
               LAB_DST_IMAP=str(b + 1143), LAB_DST_IMAPS=str(b + 1993),
               LAB_DST_POP3=str(b + 1110), LAB_DST_POP3S=str(b + 1995),
               LAB_HST_IMAP=str(b + 2143), LAB_HST_IMAPS=str(b + 2993),
               LAB_HST_POP3=str(b + 2110), LAB_HST_POP3S=str(b + 2995))
    script = ROOT / "contrib/lab/mail/mail.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    try:
        yield MailLab(lab_run, env)
    finally:
        subprocess.run(["bash", str(script), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(lab_run, ignore_errors=True)


@pytest.fixture(scope="session")
def hoster_lab(mail_lab):
    """The mail lab with its third source, "hoster" (127.0.0.7), populated:
    a server shaped like many hosters' (INBOX. namespace prefix, '.'
    separator, no SPECIAL-USE, no LIST-EXTENDED, a public namespace), alice
    with Sent, Drafts, a localized Entwürfe, Trash, Spam, an Archive tree and
    a name with '/' (contrib/lab/mail/populate.py --sides hoster). Yields
    the MailLab; its manifest is $LAB_RUN/mail/manifest.json (side "hoster")."""
    subprocess.run(["bash", str(ROOT / "contrib/lab/mail/mail.sh"), "populate", "--sides",
                    "hoster"], env=mail_lab.env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=120)
    with open(mail_lab.run / "mail" / "manifest.json", encoding="utf-8") as f:
        mail_lab.hoster_manifest = json.load(f)["sides"]["hoster"]
    return mail_lab
