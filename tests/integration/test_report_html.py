"""The HTML report in a real browser, `report render|merge`, `audit --shard`,
and the console's progress line.

The browser is Debian's chromium, headless (contrib/deps.sh installs it; a
missing chromium fails these tests instead of skipping them). Pages are
loaded from file:// with networking features off; the checks are what a
reader would see: no console errors (a Content-Security-Policy refusal or a
script error would be one), the counts in the page equal the JSON's, a
hostile folder name is shown as text and no script ran from it.
"""
import html
import json
import os
import re
import pty
import select
import shutil
import socket
import subprocess
import threading
from html.parser import HTMLParser

import pytest

from conftest import ROOT, cutover_bin
from schema_check import validate_report

HOSTILE = "<img src=x onerror=alert(1)>"
# A second hostile name that would leave a visible mark if it ever ran.
MARKER = "PWNED-BY-FOLDER-NAME"
HOSTILE_MARK = f"<img src=x onerror=\"document.title='{MARKER}'\">"
STATUSES = ["pass", "warn", "fail", "error", "skip"]


# ---- helpers -------------------------------------------------------------------

def chromium_bin():
    path = shutil.which("chromium")
    assert path, "chromium is missing: run contrib/deps.sh (it installs Debian's chromium)"
    return path


def chromium(tmp_path, url, *extra):
    """Run headless chromium on URL; returns (stdout, stderr)."""
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    argv = [chromium_bin(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            *extra, url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def console_errors(stderr):
    return [line for line in stderr.splitlines()
            if ":CONSOLE" in line or "Uncaught" in line]


class Dom(HTMLParser):
    """What a reader sees: text, and the elements and attributes present."""

    def __init__(self):
        super().__init__()
        self.text = []
        self.tags = []
        self.counts = {}
        self.title = ""
        self._in_title = False
        self._count_key = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "title":
            self._in_title = True
        if "data-count" in attrs:
            self._count_key = attrs["data-count"]

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._count_key is not None:
            self.counts[self._count_key] = int(data)
            self._count_key = None


def parse_dom(html):
    dom = Dom()
    dom.feed(html)
    return dom


def load_in_chromium(tmp_path, html_path):
    """Dump the DOM after scripts ran; assert no console message."""
    dom_html, stderr = chromium(tmp_path, html_path.as_uri(), "--dump-dom")
    assert console_errors(stderr) == [], console_errors(stderr)
    return parse_dom(dom_html)


def run(*args, check_rc=None):
    proc = subprocess.run([cutover_bin(), *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stderr)
    return proc


def counts_of(report):
    c = {s: 0 for s in STATUSES}
    for check in report["checks"]:
        c[check["status"]] += 1
    return c


def key_of(check):
    return (check["id"], check["subject"], check["side"], check["status"])


# ---- a realistic synthetic audit report -------------------------------------------

def check(id_, subject, side, status, summary, details, advice=None, ms=5):
    return {"id": id_, "subject": subject, "side": side, "status": status,
            "summary": summary, "advice": advice, "duration_ms": ms, "details": details}


def tls_facts():
    return {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
            "cert_subject": "CN=imap.example.com", "cert_expires": "2027-01-15T23:59:59Z",
            "verified": True}


def synthetic_audit(users, hostile_user=None):
    """An audit of example.com as the folder audit will report it: domain
    checks, then per mailbox logins, folders, folder limits and quota."""
    checks = [
        check("dns.mx", "example.com", None, "pass", "2 MX records, provider rackspace",
              {"records": [{"preference": 10, "exchange": "mx1.emailsrvr.com", "ttl": 300},
                           {"preference": 20, "exchange": "mx2.emailsrvr.com", "ttl": 300}],
               "provider": "rackspace"}),
        check("dns.mx_ttl", "example.com", None, "pass", "MX TTL is 300 s",
              {"ttl": 300, "recommended_max": 3600}),
        check("dns.spf", "example.com", None, "warn",
              "SPF does not authorize the destination yet",
              {"record": "v=spf1 include:emailsrvr.com ~all", "dns_lookups": 2,
               "void_lookups": 0, "includes": ["emailsrvr.com"],
               "authorizes_destination": False},
              advice="Publish v=spf1 include:emailsrvr.com include:spf.protection.outlook.com ~all"),
        check("imap.tls", "imap.example.com:993", "source", "pass", "TLSv1.3, valid 54 days",
              {"server": "imap.example.com", "port": 993, "mode": "implicit", "result": "ok",
               "tls": dict(tls_facts(), cert_issuer="CN=Example CA", days_left=54,
                           verify_error=None)}),
        check("web.webmail", "example.com", "destination", "pass", "HTTP 200 after 1 redirect",
              {"url": "https://outlook.example/owa/", "http_status": 200,
               "final_url": "https://outlook.example/owa/", "redirects": 1,
               "tls": {"version": "TLSv1.3", "verified": True},
               "timings_ms": {"dns": 1.2, "connect": 3.0, "tls": 9.1, "first_byte": 20.5,
                              "total": 22.0}}),
    ]
    for i, user in enumerate(users):
        bad_login = i % 7 == 3
        big = i % 5 == 1
        for side in ("source", "destination"):
            ok = not (bad_login and side == "destination")
            checks.append(check(
                "imap.login", user, side, "pass" if ok else "fail",
                "login ok" if ok else "login failed: authentication failed",
                {"server": f"imap.{side}.example", "user": user,
                 "result": "ok" if ok else "auth_failed",
                 "capabilities": ["IMAP4rev1", "IDLE"], "tls": tls_facts()},
                advice=None if ok else "Check the password of this mailbox on the destination"))
        folders = [
            {"name": "INBOX", "raw_name": "INBOX", "messages": 1200 + i, "bytes": 90_000_000,
             "special_use": None},
            {"name": "Entwürfe", "raw_name": "Entw&APw-rfe", "messages": 3, "bytes": 20480,
             "special_use": "\\Drafts"},
            {"name": "Archive/2019", "raw_name": "Archive/2019",
             "messages": 18211 if big else 4000, "bytes": 2_000_000_000, "special_use": None},
        ]
        if user == hostile_user:
            folders.append({"name": HOSTILE, "raw_name": HOSTILE, "messages": 7, "bytes": 700,
                            "special_use": None})
            folders.append({"name": HOSTILE_MARK, "raw_name": HOSTILE_MARK, "messages": 1,
                            "bytes": 100, "special_use": None})
        total_m = sum(f["messages"] for f in folders)
        total_b = sum(f["bytes"] for f in folders)
        checks.append(check("mailbox.folders", user, "source", "pass",
                            f"{len(folders)} folders, {total_m} messages",
                            {"user": user, "folders": folders, "total_messages": total_m,
                             "total_bytes": total_b}))
        over = [{"name": "Archive/2019", "messages": 18211}] if big else []
        checks.append(check("mailbox.folder_items", user, None, "fail" if big else "pass",
                            "1 folder over 10000 items" if big else "no folder over 10000 items",
                            {"limit": 10000, "over": over},
                            advice="Split Archive/2019 into folders under 10,000 items"
                            if big else None))
        ratio = round(total_b / 53687091200, 4)
        checks.append(check("mailbox.quota", user, None, "warn" if ratio > 0.7 else "pass",
                            f"mailbox uses {ratio:.0%} of the destination quota",
                            {"source_usage_bytes": total_b,
                             "destination_limit_bytes": 53687091200, "ratio": ratio,
                             "headroom": 0.7}))
    counts = {s: 0 for s in STATUSES}
    for c in checks:
        counts[c["status"]] += 1
    order = ["pass", "skip", "warn", "fail", "error"]
    worst = max((c["status"] for c in checks), key=order.index)
    report = {"schema_version": 1, "tool": {"name": "cutover", "version": "0.1.0"},
              "command": "audit", "target": "plans/example.json",
              "started_at": "2026-11-22T10:00:00Z", "duration_ms": 4817,
              "options": {"insecure": False, "allow_plaintext": False},
              "summary": {"status": worst, "counts": counts}, "checks": checks}
    validate_report(report)
    return report


# ---- the page in a browser ---------------------------------------------------------

def test_demo_audit_in_chromium(tmp_path, dns_lab):
    """The demo audit (the lab plan; mail servers not started, so logins
    error) rendered by --html, loaded in chromium, with a screenshot."""
    out_json, out_html = tmp_path / "audit.json", tmp_path / "audit.html"
    proc = run("audit", ROOT / "contrib/examples/lab-plan.json", "--resolver", dns_lab,
               "--timeout", "5", "--json", out_json, "--html", out_html)
    assert proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(out_json.read_text())
    validate_report(report)
    dom = load_in_chromium(tmp_path, out_html)
    assert dom.counts == report["summary"]["counts"]
    text = " ".join(dom.text)
    assert "rs.test" in dom.title and "Fix first" in text
    titles = " ".join(a.get("title") or "" for _, a in dom.tags)
    for c in report["checks"]:
        # every check id, known or not, is on the page (as text, or as the
        # tooltip of its chip in the mailbox table)
        assert c["id"] in text or c["id"] in titles, c["id"]
    # The optional script ran (the CSP hash admits it): headings became sortable.
    assert any(t == "th" and a.get("tabindex") == "0" for t, a in dom.tags)
    shot = tmp_path / "audit.png"
    chromium(tmp_path, out_html.as_uri(), f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000


def test_hostile_folder_name_is_text_in_chromium(tmp_path):
    users = [f"user{i}@example.com" for i in range(12)]
    report = synthetic_audit(users, hostile_user=users[4])
    src = tmp_path / "audit.json"
    src.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    out = tmp_path / "audit.html"
    proc = run("report", "render", src, "--html", out, "-q")
    assert proc.returncode == 2  # the report's status: fail
    raw = out.read_text()
    assert "http://" not in raw and "https://outlook.example" in raw  # data, not assets
    assert not any(s in raw for s in ("<link", "src=\"", "@import", "url("))
    dom = load_in_chromium(tmp_path, out)
    text = "".join(dom.text)
    assert HOSTILE in text and HOSTILE_MARK in text  # shown as text
    assert not any(tag == "img" for tag, _ in dom.tags)  # never an element
    assert MARKER not in dom.title  # and its onerror never ran
    assert dom.counts == report["summary"]["counts"]
    # One row per mailbox in the sortable table, and folder details for each.
    rows = [a for t, a in dom.tags if t == "tr" and "data-status" in a]
    assert len([r for r in rows]) >= len(users)
    assert sum(1 for t, a in dom.tags if t == "details" and "folders" in a.get("class", "")) \
        == len(users)


def test_real_audit_with_hostile_folder_in_chromium(tmp_path, mail_lab):
    """bob's mailbox on the real Dovecot lab has a folder named like markup
    (populate.py); the audit's HTML shows it as text and runs nothing."""
    subprocess.run(["bash", str(ROOT / "contrib/lab/mail/mail.sh"), "populate", "--sides",
                    "source,destination"], env=mail_lab.env, check=True, capture_output=True,
                   timeout=300)
    user = "bob@lab.test"
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "domain": "lab.test", "ca_file": mail_lab.ca,
        "source": {"imap": f"imaps://127.0.0.1:{mail_lab.ports['source']['imaps']}"},
        "destination": {"imap": f"imaps://127.0.0.2:{mail_lab.ports['destination']['imaps']}"},
        "mailboxes": [{"source_user": user, "dest_user": user,
                       "source_password": mail_lab.password("source", user),
                       "dest_password": mail_lab.password("destination", user)}]}))
    out_json, out_html = tmp_path / "audit.json", tmp_path / "audit.html"
    proc = run("audit", plan, "--only", "folders", "--json", out_json, "--html", out_html)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = json.loads(out_json.read_text())
    validate_report(report)
    folders = [c for c in report["checks"] if c["id"] == "mailbox.folders"
               and c["side"] == "source"][0]["details"]["folders"]
    assert HOSTILE in [f["name"] for f in folders]  # the server really has it
    dom = load_in_chromium(tmp_path, out_html)
    assert HOSTILE in "".join(dom.text)  # shown as text
    assert not any(tag == "img" for tag, _ in dom.tags)  # never an element
    assert dom.counts == report["summary"]["counts"]


def test_every_status_and_unknown_ids_render(tmp_path):
    report = synthetic_audit(["a@example.com"])
    report["checks"].append(check("future.check", "example.com", None, "error",
                                  "could not be checked", {"nested": {"x": [1, 2]}}))
    report["checks"].append(check("mailbox.brand_new", "a@example.com", None, "skip",
                                  "not configured", {}))
    report["summary"]["counts"] = counts_of(report)
    report["summary"]["status"] = "error"
    src = tmp_path / "r.json"
    src.write_text(json.dumps(report))
    out = tmp_path / "r.html"
    run("report", "render", src, "--html", out, "-q", check_rc=2)
    dom = load_in_chromium(tmp_path, out)
    text = " ".join(dom.text)
    assert "future.check" in text and "brand_new" in text
    assert dom.counts == report["summary"]["counts"]


# ---- report render / merge ---------------------------------------------------------

def test_render_matches_the_golden_page(tmp_path):
    """A fixed report (a lab audit, plus propagation, sync and unknown checks)
    renders to exactly the page in tests/integration/golden/report.html, the
    version aside: moving code around reports/ must not change a byte. When a
    change to the page is intended, regenerate the golden file:
      ./cutover report render tests/integration/golden/report.json --html x.html
      sed "s/cutover $VERSION/cutover @VERSION@/g" x.html > tests/integration/golden/report.html
    """
    golden = ROOT / "tests" / "integration" / "golden"
    version = run("--version", check_rc=0).stdout.split()[-1]
    out = tmp_path / "r.html"
    run("report", "render", golden / "report.json", "--html", out, "-q", check_rc=2)
    want = (golden / "report.html").read_bytes().replace(b"@VERSION@", version.encode())
    got = out.read_bytes()
    assert got == want, next(f"first difference at byte {i}: {got[i:i + 80]!r}"
                             for i in range(min(len(got), len(want)) + 1)
                             if got[i:i + 1] != want[i:i + 1])


def test_render_without_output_prints_the_summary(tmp_path):
    src = tmp_path / "r.json"
    src.write_text(json.dumps(synthetic_audit(["a@example.com", "b@example.com"])))
    proc = run("report", "render", src)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    # Grouped like the HTML report.
    for heading in ("DNS", "Connectivity", "Mailboxes", "Web"):
        assert heading in lines
    assert lines.index("DNS") < lines.index("Connectivity") < lines.index("Mailboxes")


def test_render_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    proc = run("report", "render", bad, "--html", tmp_path / "x.html")
    assert proc.returncode == 65 and "bad.json" in proc.stderr
    src = tmp_path / "r.json"
    src.write_text(json.dumps(synthetic_audit(["a@example.com"])))
    proc = run("report", "render", src, "--html", tmp_path / "no/such/dir/x.html")
    assert proc.returncode == 74 and "no/such/dir/x.html" in proc.stderr
    assert run("report").returncode == 64
    assert run("report", "frobnicate").returncode == 64
    assert run("report", "merge", src).returncode == 64  # needs two


def test_merge_keeps_one_copy_worst_status_wins(tmp_path):
    users = [f"u{i}@example.com" for i in range(6)]
    full = synthetic_audit(users)
    a, b = json.loads(json.dumps(full)), json.loads(json.dumps(full))
    # b saw the SPF check worse (a flaky DNS server); everything else twice.
    spf = next(c for c in b["checks"] if c["id"] == "dns.spf")
    spf["status"] = "error"
    b["summary"]["counts"] = counts_of(b)
    b["summary"]["status"] = "error"
    b["started_at"] = "2026-11-22T10:01:00Z"
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    out = tmp_path / "m.json"
    proc = run("report", "merge", pa, pb, "--json", out, "-q")
    merged = json.loads(out.read_text())
    validate_report(merged)
    assert proc.returncode == 2
    assert len(merged["checks"]) == len(full["checks"])
    assert next(c for c in merged["checks"] if c["id"] == "dns.spf")["status"] == "error"
    assert merged["summary"]["counts"] == counts_of(merged)
    assert merged["started_at"] == "2026-11-22T10:00:00Z"
    assert merged["duration_ms"] == 60000 + 4817  # from the first start to the last end


def test_merge_refuses_different_commands(tmp_path, dns_lab):
    d = tmp_path / "dns.json"
    run("dns", "rs.test", "--resolver", dns_lab, "--json", d, "-q")
    a = tmp_path / "audit.json"
    a.write_text(json.dumps(synthetic_audit(["a@example.com"])))
    proc = run("report", "merge", a, d, "--json", tmp_path / "m.json")
    assert proc.returncode == 65
    assert "same command" in proc.stderr
    assert not (tmp_path / "m.json").exists()


# ---- audit --shard -----------------------------------------------------------------

def many_mailbox_plan(tmp_path, dns_lab, n=40):
    """The lab plan with N mailboxes. The mail servers are not started, so
    every per-mailbox check (imap.login, pop3.login today) ends fast with a
    connection error: real per-mailbox results, one set per mailbox."""
    plan = json.loads((ROOT / "contrib/examples/lab-plan.json").read_text())
    plan["resolvers"] = [dns_lab]
    plan["ca_file"] = str((ROOT / "contrib/examples" / plan["ca_file"]).resolve()) \
        if plan.get("ca_file") else None
    if plan["ca_file"] is None:
        del plan["ca_file"]
    plan["state_dir"] = str(tmp_path / "state")
    plan["mailboxes"] = [{"source_user": f"user{i}@lab.test", "source_password": "x",
                          "dest_user": f"user{i}@lab.test", "dest_password": "y"}
                         for i in range(n)]
    plan.pop("mailboxes_csv", None)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_shards_partition_the_mailboxes(tmp_path, dns_lab):
    plan = many_mailbox_plan(tmp_path, dns_lab, n=200)
    everyone = run("audit", plan, "--list-mailboxes", check_rc=0).stdout.split()
    assert len(everyone) == 200
    slices = [run("audit", plan, "--shard", f"{k}/3", "--list-mailboxes",
                  check_rc=0).stdout.split() for k in (1, 2, 3)]
    assert sorted(sum(slices, [])) == sorted(everyone)  # disjoint and complete
    assert all(40 <= len(s) <= 95 for s in slices)  # roughly a third each
    # Stable: the same answer again, and from a plan listing users in reverse.
    assert run("audit", plan, "--shard", "2/3", "--list-mailboxes").stdout.split() == slices[1]
    rev = json.loads(plan.read_text())
    rev["mailboxes"].reverse()
    plan2 = tmp_path / "plan-reversed.json"
    plan2.write_text(json.dumps(rev))
    assert sorted(run("audit", plan2, "--shard", "2/3", "--list-mailboxes").stdout.split()) \
        == sorted(slices[1])
    proc = run("audit", plan, "--shard", "4/3")
    assert proc.returncode == 65 and "--shard" in proc.stderr


def test_merge_of_shards_equals_one_full_run(tmp_path, dns_lab):
    """Today's per-mailbox checks are imap.login and pop3.login (the folder
    audit's mailbox.* checks will join them through the same plan slice)."""
    plan = many_mailbox_plan(tmp_path, dns_lab, n=40)
    full_p = tmp_path / "full.json"
    run("audit", plan, "--timeout", "5", "--json", full_p, "-q")
    full = json.loads(full_p.read_text())
    parts = []
    for k in (1, 2):
        p = tmp_path / f"shard-{k}.json"
        run("audit", plan, "--shard", f"{k}/2", "--timeout", "5", "--json", p, "-q")
        parts.append(json.loads(p.read_text()))
    # Domain checks run in shard 1 only; mailboxes are split between the two.
    assert not any(c["id"].startswith(("dns.", "web.")) for c in parts[1]["checks"])
    per_mailbox = {c["id"] for c in full["checks"] if c["subject"].startswith("user")}
    assert per_mailbox, "no per-mailbox check in the audit"
    subjects = [{c["subject"] for c in part["checks"] if c["id"] in per_mailbox}
                for part in parts]
    assert subjects[0] and subjects[1] and not (subjects[0] & subjects[1])
    merged_p = tmp_path / "merged.json"
    proc = run("report", "merge", tmp_path / "shard-1.json", tmp_path / "shard-2.json",
               "--json", merged_p, "--html", tmp_path / "merged.html", "-q")
    merged = json.loads(merged_p.read_text())
    validate_report(merged)
    assert sorted(map(key_of, merged["checks"])) == sorted(map(key_of, full["checks"]))
    assert merged["summary"] == full["summary"]
    assert proc.returncode == {"pass": 0, "skip": 0, "warn": 1}.get(
        full["summary"]["status"], 2)
    # Checks stay grouped by id, like a single run.
    ids = [c["id"] for c in merged["checks"]]
    assert ids == sorted(ids, key=ids.index)


# ---- the progress line -------------------------------------------------------------

@pytest.fixture
def silent_dns():
    """A UDP server that reads queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def swallow():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                sock.recv(4096)
            except socket.timeout:
                pass

    t = threading.Thread(target=swallow, daemon=True)
    t.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    t.join()
    sock.close()


def run_with_tty_stderr(*args):
    """Run cutover with stderr on a pseudo-terminal; returns (rc, stdout, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([cutover_bin(), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, NO_COLOR="1"))
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "cutover hung"
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    rc = proc.wait(timeout=60)
    os.close(master)
    return rc, out, b"".join(chunks).decode(errors="replace")


def test_progress_line_on_a_terminal(silent_dns):
    # Every query waits for its 2 s timeout: long enough for the line to show.
    rc, out, err = run_with_tty_stderr("dns", "example.com", "--resolver", silent_dns,
                                       "--timeout", "2")
    assert rc == 2
    assert re.search(r"\r  \d+/\d+ checks  \d+\.\d/s", err), err
    assert err.rstrip().endswith("\x1b[K")  # erased before the summary
    assert "checks" not in out.split("\n\n")[0]  # the summary itself is clean
    rc, out, err = run_with_tty_stderr("dns", "example.com", "--resolver", silent_dns,
                                       "--timeout", "2", "--no-progress")
    assert "checks  " not in err and "\r" not in err


def test_no_progress_when_stderr_is_not_a_terminal(silent_dns):
    proc = run("dns", "example.com", "--resolver", silent_dns, "--timeout", "1")
    assert "\r" not in proc.stderr and "checks  " not in proc.stderr


# ---- a phone-sized window ------------------------------------------------------------

MEASURE = ("<script>var f=document.getElementById('f');f.onload=function(){"
           "var w=f.contentWindow,d=f.contentDocument,wide=[];"
           "d.querySelectorAll('body *').forEach(function(e){var r=e.getBoundingClientRect();"
           "var o=w.getComputedStyle(e).overflowX=='visible'&&e.scrollWidth>e.clientWidth+1;"
           "if((r.right>w.innerWidth+0.5||o)&&!e.closest('.scroll'))"
           "wide.push(e.tagName+'.'+e.className+':'+(e.textContent||'').slice(0,30));});"
           "var de=d.documentElement;document.body.setAttribute('data-measure',de.scrollWidth+' '"
           "+de.clientWidth+' '+w.innerWidth+' '+wide.slice(0,5).join(' | '));};</script>")


def page_width_at(tmp_path, html_path, width):
    """(document width, its visible width (the viewport less a vertical
    scrollbar), the window width, elements sticking out) of the page at
    WIDTH px in chromium (headless windows are at least 500 px wide, so the
    page is measured in an iframe of that width, its own viewport). The copy
    in the frame has no CSP (it would refuse the measuring script); the layout
    is the page's own."""
    raw = html_path.read_text()
    raw = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", raw)
    wrapper = tmp_path / ("measure-" + html_path.name)
    wrapper.write_text(
        f'<!doctype html><html><body style="margin:0"><iframe id="f" width="{width}" '
        f'height="900" style="border:0" srcdoc="{html.escape(raw, quote=True)}"></iframe>'
        + MEASURE + "</body></html>")
    dom, _ = chromium(tmp_path, wrapper.as_uri(), "--dump-dom", "--window-size=800,1000",
                      "--virtual-time-budget=3000")
    m = re.search(r'data-measure="(\d+) (\d+) (\d+) ?([^"]*)"', dom)
    assert m, dom[-500:]
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), html.unescape(m.group(4))


def test_page_fits_a_phone_without_sideways_scrolling(tmp_path):
    """At 420 px the page is as wide as the window: long DKIM host names, URLs,
    folder names and user names wrap (at dots and slashes) instead of pushing
    the page sideways; wide tables scroll inside their own box."""
    users = ["a.very.long.mailbox.name.for.testing.wrapping@subsidiary.example-company.com",
             "bob@example.com"]
    report = synthetic_audit(users, hostile_user=users[1])
    report["checks"].append(check(
        "dns.dkim", "example.com", None, "warn", "selector2 is not published",
        {"selectors": [{"selector": "selector1",
                        "name": "selector1._domainkey.subsidiary-with-a-long-name."
                                "example-company.onmicrosoft.com",
                        "published": False}]},
        advice="Publish CNAME selector1._domainkey.example.com -> selector1-example-com._"
               "domainkey.subsidiaryexamplecompanywithaverylongname.onmicrosoft.com"))
    report["summary"]["counts"] = counts_of(report)
    src = tmp_path / "audit.json"
    src.write_text(json.dumps(report, ensure_ascii=False))
    out = tmp_path / "audit.html"
    run("report", "render", src, "--html", out, "-q")
    doc, visible, window, wide = page_width_at(tmp_path, out, 420)
    assert window == 420 and visible > 380
    assert (doc, wide) == (visible, "")
    # and the wide page of a desktop is still laid out as before
    doc, visible, window, wide = page_width_at(tmp_path, out, 1200)
    assert doc == visible
