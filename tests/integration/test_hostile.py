"""Hostile servers get nothing (issue 14): one test per point of the issue.

The source is a scripted IMAP peer (hostile.py) saying what no real server
says; the destination is the lab's real Dovecot, and the test reads what it
received (imaplib over TLS), or the peer's own record of what the client
sent. Every run must end on its own ("ended before being killed": the
harness's kill timeout is far above --timeout), with an error naming the
cause, and a report that validates.
"""
import json
import os
import subprocess
import time
from datetime import datetime

import pytest

import hostile as h
import synchelp as sh
from conftest import cutover_bin

USER = "user020@lab.test"


@pytest.fixture
def lab(mail_lab):
    sh.wipe(mail_lab, "destination", USER)
    return mail_lab


def body(i, extra=""):
    return (f"From: a@lab.test\r\nTo: b@lab.test\r\nSubject: hostile {i}{extra}\r\n"
            f"Message-ID: <hostile-{i}@lab.test>\r\n\r\nbody {i}\r\n").encode()


def src_plan(tmp_path, lab, src_port, scheme="imap"):
    """A plan whose source is the scripted peer and destination the lab."""
    return sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state",
                   extra={"source": {"imap": f"{scheme}://127.0.0.1:{src_port}"},
                          "mailboxes": [{"source_user": USER, "source_password": "src-Secret-7",
                                         "dest_user": USER,
                                         "dest_password": lab.password("destination", USER)}]})


def sync(cutover, plan, *args, timeout=60):
    return cutover("sync", plan, "--no-progress", "--allow-plaintext", *args, timeout=timeout)


def dest_inbox(lab):
    snap = sh.snapshot(lab, "destination", USER)
    return snap.get("INBOX", [])


# ---------------------------------------------------------------- 1. injection

def test_internaldate_and_flags_are_reserialized_not_spliced(lab, cutover, tmp_path):
    """An INTERNALDATE holding a quote and flag text, a malformed date, and a
    "flag" that is not one: none of it reaches the destination's APPEND."""
    msgs = [h.Msg(1, body(1), flags="\\Seen"), h.Msg(2, body(2), flags="\\Answered"),
            h.Msg(3, body(3), flags="\\Seen"), h.Msg(4, body(4), flags="")]
    inject = ('01-Jan-2024 10:00:00 +0000\\" (\\\\Flagged INJECTED) \\"01-Jan-2024 10:00:00 '
              '+0000')
    src = h.ImapServer(folders={"INBOX": msgs})
    base_meta = src.meta

    def meta(m):
        text = base_meta(m)
        if m.uid == 2:   # a quote inside the date string
            text = text.replace(b'"01-Jan-2024 10:00:00 +0000"', f'"{inject}"'.encode())
        if m.uid == 3:   # a date that is no date
            text = text.replace(b"01-Jan-2024 10:00:00 +0000", b"99-Foo-0000 99:99:99 +9999")
        if m.uid == 4:   # "flags" that would close the list and add an argument
            text = text.replace(b"FLAGS ()", b'FLAGS (\\Draft "x) {5}" Bad]Flag $Ok)')
        return text
    src.meta = meta
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port))
    assert not src.errors
    c = r.check("sync.mailbox", USER)
    got = dest_inbox(lab)
    dates = sorted(m[3] for m in got)
    flags = sorted(m[2] for m in got)
    # UID 1 as sent; UID 4 with its two valid flags only; UID 2 and 3 not
    # copied with a date we did not parse: they fail, naming the field.
    assert len(got) == 2, got
    assert all(d == "01-Jan-2024 10:00:00 +0000" for d in dates), dates
    assert flags == [("$Ok", "\\Draft"), ("\\Seen",)], flags
    assert all("INJECTED" not in " ".join(m[2]) for m in got)
    assert c["details"]["errors"] == 2, c
    assert "malformed INTERNALDATE" in json.dumps(c)
    assert r.rc == 2


def test_date_variants_are_normalized(lab, cutover, tmp_path):
    """Valid but unusual date-time forms (one-digit day, lower-case month,
    negative zone) arrive as the same instant, written by us."""
    msgs = [h.Msg(1, body(1), date="5-feb-2021 23:59:59 -0930")]
    with h.ImapServer(folders={"INBOX": msgs}) as src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port))
    assert r.rc == 0, r.stdout
    got = dest_inbox(lab)
    fmt = "%d-%b-%Y %H:%M:%S %z"
    assert [datetime.strptime(m[3], fmt) for m in got] == [
        datetime.strptime("05-Feb-2021 23:59:59 -0930", fmt)]


# ---------------------------------------------------------------- 2. TLS downgrades

def test_allow_plaintext_still_takes_offered_starttls(mail_lab, cutover, tmp_path):
    """--allow-plaintext with a server that offers STARTTLS/STLS: the
    password goes only inside TLS (IMAP and POP3)."""
    lab = mail_lab
    tls = h.lab_tls(lab)
    imap = h.ImapServer(caps="IMAP4rev1 STARTTLS", tls=tls)
    pop = h.Pop3Server(caps=("USER", "STLS"), tls=tls)
    with imap, pop:
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({
            "domain": "lab.test", "ca_file": lab.ca,
            "source": {"imap": f"imap://localhost:{imap.port}",
                       "pop3": f"pop3://localhost:{pop.port}",
                       "imap_other_port": 0, "pop3_other_port": 0},
            "destination": {"imap": f"imaps://127.0.0.2:{lab.ports['destination']['imaps']}"},
            "mailboxes": [{"source_user": USER, "source_password": "src-Secret-7",
                           "dest_user": USER,
                           "dest_password": lab.password("destination", USER)}]}))
        r = cutover("audit", plan, "--only", "imap,pop3", "--allow-plaintext",
                    "--no-progress", timeout=60)
        assert h.wait_until(lambda: all(c.closed or c.plain_log is not None
                                        for c in imap.conns + pop.conns), 5)
    clear = imap.received_in_clear() + pop.received_in_clear()
    assert b"src-Secret-7" not in clear and b"LOGIN" not in clear.upper()
    assert b"PASS" not in clear and b"USER " not in clear
    assert b"STARTTLS" in imap.received_in_clear() and b"STLS" in pop.received_in_clear()
    for proto in ("imap", "pop3"):
        c = r.check(f"{proto}.login", USER, "source")
        assert c["details"]["result"] == "ok", c
        assert c["details"]["tls"] is not None, c


@pytest.mark.parametrize("allow", [False, True])
def test_preauth_on_connection_that_must_upgrade(mail_lab, cutover, tmp_path, allow):
    """PREAUTH on imap:// (STARTTLS required, or offered): the session is
    refused; no mailbox command is sent in clear."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]},
                       greeting="* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n")
    with src:
        plan = src_plan(tmp_path, mail_lab, src.port)
        args = ["--allow-plaintext"] if allow else []
        r = cutover("sync", plan, "--no-progress", *args, timeout=60)
        a = cutover("audit", plan, "--only", "imap", "--no-progress", *args, timeout=60)
    sent = src.received()
    for word in (b"LIST", b"SELECT", b"EXAMINE", b"STATUS", b"FETCH", b"LOGIN"):
        assert word not in sent.upper(), sent
    assert r.rc == 2
    assert "skipped STARTTLS with PREAUTH" in json.dumps(r.report)
    c = a.check("imap.login", USER, "source")
    assert c["status"] == "fail" and c["details"]["result"] == "tls_failed", c
    assert "possible downgrade attack" in c["summary"] + json.dumps(c["details"])


# ---------------------------------------------------------------- 3. silent wrong results

def test_fetch_items_split_over_responses_are_merged(lab, cutover, tmp_path):
    """RFC 3501 7.4.2: FLAGS in a response of its own; \\Seen is kept."""
    msgs = [h.Msg(i, body(i), flags="\\Seen \\Flagged" if i % 2 else "\\Seen")
            for i in range(1, 5)]
    src = h.ImapServer(folders={"INBOX": msgs})
    base = src.meta

    def fetch_meta(conn, tag, sel):
        for i, m in sel:
            whole = base(m)
            conn.send(b"* %d FETCH (" % i + whole.replace(b"FLAGS (" + m.flags.encode() + b") ",
                                                          b"") + b")\r\n")
        for i, m in sel:
            conn.send(f"* {i} FETCH (FLAGS ({m.flags}))\r\n")
        conn.send(f"{tag} OK done\r\n")
    src.fetch_meta = fetch_meta
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port))
    assert r.rc == 0, r.stdout
    got = dest_inbox(lab)
    want = sorted(tuple(sorted(m.flags.split())) for m in msgs)
    assert sorted(m[2] for m in got) == want


def test_repeated_and_invented_uids_copy_only_what_was_asked(lab, cutover, tmp_path):
    """A FETCH repeating every message and adding UIDs 0, 99999, 4294967295:
    exactly the 6 source messages arrive, once each."""
    msgs = [h.Msg(i, body(i)) for i in range(1, 7)]
    src = h.ImapServer(folders={"INBOX": msgs})
    base_meta, base_body = src.fetch_meta, src.fetch_body
    fake = [(7, h.Msg(0, body(100))), (8, h.Msg(99999, body(101))),
            (9, h.Msg(4294967295, body(102)))]

    def fetch_meta(conn, tag, sel):
        for i, m in sel + sel + fake:
            conn.send(b"* %d FETCH (" % i + src.meta(m) + b")\r\n")
        conn.send(f"{tag} OK done\r\n")

    def fetch_body(conn, tag, sel):
        base_body(conn, "*", [])  # nothing: keeps the default's shape
        for i, m in sel + fake + sel:
            conn.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i, m.uid, len(m.body)) +
                      m.body + b")\r\n")
        conn.send(f"{tag} OK done\r\n")
    src.fetch_meta, src.fetch_body = fetch_meta, fetch_body
    del base_meta
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port))
    got = dest_inbox(lab)
    import hashlib
    assert sorted(m[0] for m in got) == sorted(hashlib.sha256(m.body).hexdigest() for m in msgs)
    c = r.check("sync.mailbox", USER)
    assert c["details"]["copied"] == 6, c


@pytest.mark.parametrize("size", [None, "123456789012345678901"])
def test_fetch_without_size_fails_the_messages(lab, cutover, tmp_path, size):
    """No RFC822.SIZE (or a 20-digit one): not "already on the destination"
    but one failure per message, with the reason."""
    msgs = [h.Msg(i, body(i)) for i in range(1, 7)]
    src = h.ImapServer(folders={"INBOX": msgs})
    base = src.meta

    def meta(m):
        t = base(m)
        return t.replace(b"RFC822.SIZE %d" % len(m.body),
                         b"" if size is None else b"RFC822.SIZE " + size.encode())
    src.meta = meta
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port))
    c = r.check("sync.mailbox", USER)
    text = json.dumps(c)
    assert "already on the destination" not in c["summary"], c
    assert c["details"]["errors"] == 6, c
    assert ("malformed RFC822.SIZE" if size else "no RFC822.SIZE") in text
    assert r.rc == 2
    assert dest_inbox(lab) == []


# ---------------------------------------------------------------- 4. hangs

def drip_body(conn, tag, sel):
    """BODY[] at one byte per 0.2 s: far below any useful rate."""
    for i, m in sel:
        conn.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i, m.uid, len(m.body)))
        for b in m.body:
            conn.send(bytes([b]))
            if conn.closed:
                return
            time.sleep(0.2)
        conn.send(b")\r\n")
    conn.send(f"{tag} OK done\r\n")


def noise_forever(conn, tag, sel):
    """A FETCH that never completes: an untagged keep-alive every 0.3 s."""
    while not conn.closed:
        conn.send(b"* OK still working\r\n")
        time.sleep(0.3)


@pytest.mark.parametrize("how", ["drip", "noise", "noise-after-fetch"])
def test_stalling_source_ends_within_timeout(lab, cutover, tmp_path, how):
    """A body dripped far below any useful rate, or keep-alive noise instead
    of an answer: the sync gives up after --timeout (asserted as "ended
    before being killed"), says why, sends no LOGOUT to wait for, and the
    mailbox.compare does not wait out another timeout on the same server."""
    msgs = [h.Msg(1, body(1, "x" * 400))]
    src = h.ImapServer(folders={"INBOX": msgs})
    if how == "drip":
        src.fetch_body = drip_body
    elif how == "noise":
        src.fetch_meta = noise_forever
    else:
        base = src.fetch_meta

        def meta_then_noise(conn, tag, sel):
            for i, m in sel:
                conn.send(b"* %d FETCH (" % i + src.meta(m) + b")\r\n")
            noise_forever(conn, tag, sel)
        src.fetch_meta = meta_then_noise
        del base
    with src:
        # The harness kills at 40 s; the body alone would take 90 s to drip.
        r = sync(cutover, src_plan(tmp_path, lab, src.port), "--timeout", "3", timeout=40)
        logouts = [raw for name, raw in src.commands if name == "LOGOUT"]
    c = r.check("sync.mailbox", USER)
    assert r.rc == 2 and c["status"] == "error", c
    assert "--timeout" in c["summary"], c
    assert logouts == [], "no LOGOUT sent to a server we gave up on"
    assert not [x for x in r.report["checks"] if x["id"] == "mailbox.compare"], \
        "mailbox.compare skipped for a mailbox the sync gave up on"


def list_noise(conn, tag, args):
    """A LIST that never completes: the same line every 0.3 s."""
    while not conn.closed:
        conn.send(b'* LIST (\\HasNoChildren) "/" INBOX\r\n')
        time.sleep(0.3)


def list_flood(conn, tag, args):
    """Ten million LIST lines (cut short when the client hangs up)."""
    batch = b"".join(b'* LIST (\\HasNoChildren) "/" "F%d"\r\n' % i for i in range(1000))
    for _ in range(10_000):
        conn.send(batch)
        if conn.closed:
            return
    conn.send(f"{tag} OK LIST done\r\n")


def early_oks(conn, tag, args):
    """Tagged OKs for commands not sent yet."""
    t = int(tag[1:])
    conn.send("".join(f"A{t + k:03d} OK early\r\n" for k in range(1, 20)) +
              f"{tag} OK LIST done\r\n")


@pytest.mark.parametrize("cmd", ["audit", "sync"])
@pytest.mark.parametrize("how", ["noise", "flood", "early"])
def test_listing_source_cannot_hold_the_run(mail_lab, cutover, tmp_path, cmd, how):
    """LIST noise forever, ten million LIST lines, tagged OKs before the
    commands: audit and sync end on their own (not killed) with an error."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})
    src.list_folders = {"noise": list_noise, "flood": list_flood, "early": early_oks}[how]
    with src:
        plan = src_plan(tmp_path, mail_lab, src.port)
        extra = ["--only", "folders"] if cmd == "audit" else []
        r = cutover(cmd, plan, "--allow-plaintext", "--no-progress", "--timeout", "3", *extra,
                    timeout=40)
    assert r.rc == 2
    c = r.check("mailbox.folders", USER, "source") if cmd == "audit" else \
        r.check("sync.mailbox", USER)
    assert c["status"] in ("error", "fail"), c
    if how == "early":
        assert "a reply to a command never sent" in c["summary"], c


# ---------------------------------------------------------------- 8. errors naming the cause

def bye_in_fetch(conn, tag, sel):
    conn.send(b"* BYE [UNAVAILABLE] backend went away, sorry\r\n")
    conn.sock.close()
    conn.closed = True


def closed_in_literal(conn, tag, sel):
    i, m = sel[0]
    conn.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i, m.uid, len(m.body)) + m.body[:10])
    conn.sock.close()
    conn.closed = True


def huge_literal_length(conn, tag, sel):
    i, m = sel[0]
    conn.send(b"* %d FETCH (UID %d BODY[] {123456789012345678901}\r\n" % (i, m.uid))


@pytest.mark.parametrize("how,words", [
    ("bye", ["ended the session (BYE)", "backend went away"]),
    ("closed", ["closed", "literal"]),
    ("huge", ["literal", "123456789012345678901"]),
])
def test_errors_name_the_cause(lab, cutover, tmp_path, how, words):
    """BYE in the middle of a FETCH, a connection closed inside a literal, a
    20-digit literal length: the error says what the server did, not only
    "nothing moved"."""
    msgs = [h.Msg(1, body(1))]
    src = h.ImapServer(folders={"INBOX": msgs})
    src.fetch_body = {"bye": bye_in_fetch, "closed": closed_in_literal,
                      "huge": huge_literal_length}[how]
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port), "--timeout", "3", timeout=40)
    c = r.check("sync.mailbox", USER)
    text = json.dumps(c)
    assert r.rc == 2
    for w in words:
        assert w in text, (w, c["summary"], [f.get("error") for f in c["details"]["folders"]])
    assert dest_inbox(lab) == []


def both_plan(tmp_path, src_port, dst_port):
    """A plan with scripted peers on both sides."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({
        "domain": "lab.test", "state_dir": str(tmp_path / "state"),
        "source": {"imap": f"imap://127.0.0.1:{src_port}"},
        "destination": {"imap": f"imap://127.0.0.1:{dst_port}"},
        "mailboxes": [{"source_user": USER, "source_password": "src-Secret-7",
                       "dest_user": USER, "dest_password": "dst-Secret-8"}]}))
    return path


def test_throttled_for_longer_than_we_wait(cutover, tmp_path):
    """Every APPEND answered NO [THROTTLED] with a backoff of 11 days: the
    folder fails at once saying so, instead of "nothing moved"."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})
    dst = h.ImapServer(folders={"INBOX": []}, caps="IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND")
    dst.handlers["APPEND"] = lambda conn, tag, args: conn.send(
        f"{tag} NO [THROTTLED] Suggested Backoff Time: 999999999 ms\r\n")
    with src, dst:
        r = cutover("sync", both_plan(tmp_path, src.port, dst.port), "--no-progress",
                    "--allow-plaintext", "--timeout", "3", "--no-compare", timeout=40)
    c = r.check("sync.mailbox", USER)
    text = json.dumps(c)
    assert r.rc == 2
    assert "longer than we wait" in text and "THROTTLED" in text, text[:2000]


def test_select_always_unavailable_names_the_answer(lab, cutover, tmp_path):
    """Every SELECT/EXAMINE answered NO [UNAVAILABLE]: the run ends on its
    own and the error carries the server's answer."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})
    no = lambda conn, tag, args: conn.send(f"{tag} NO [UNAVAILABLE] backend down\r\n")
    src.handlers["SELECT"] = src.handlers["EXAMINE"] = no
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port), "--timeout", "3", timeout=60)
    c = r.check("sync.mailbox", USER)
    assert r.rc == 2
    assert "UNAVAILABLE" in json.dumps(c), c


def test_http_header_too_long_says_so(cutover, tmp_path):
    """A 2 MB header line: "header too long", not curl's "Out of memory"."""
    def giant_header(conn):
        conn.read_line()
        conn.send(b"HTTP/1.1 200 OK\r\nX-Big: ")
        for _ in range(64):
            conn.send(b"a" * 32768)
            if conn.closed:
                return
        conn.send(b"\r\n\r\n")
    with h.FnServer(giant_header) as web:
        url = f"http://127.0.0.1:{web.port}/owa"
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"domain": "lab.test", "source": {"webmail": url},
                                    "destination": {"webmail": url}, "mailboxes": []}))
        silent = h.FnServer(lambda conn: None)  # no DNS: autodiscover fails fast
        with silent:
            r = cutover("audit", plan, "--only", "web", "--timeout", "3", "--no-progress",
                        "--resolver", f"127.0.0.1:{silent.port}", timeout=60)
    for side in ("source", "destination"):
        c = r.check("web.webmail", side=side)
        assert c["status"] == "error", c
        assert "header too long" in c["summary"], c
        assert "Out of memory" not in c["summary"]


def test_autodiscover_redirect_to_http_is_not_a_rejection(mail_lab, cutover, tmp_path):
    """https autodiscover redirecting to http, which answers 401: the
    credentials were never sent there, and the report says so instead of
    "rejected the credentials"."""
    tls = h.lab_tls(mail_lab)

    def plain_401(conn):
        while h.http_request(conn) is not None:
            conn.send(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x\r\n"
                      b"Content-Length: 0\r\n\r\n")
    plain = h.FnServer(plain_401)

    def https_redirect(conn):
        conn.sock = tls.wrap_socket(conn.sock, server_side=True)
        while h.http_request(conn) is not None:
            conn.send(f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{plain.port}"
                      "/autodiscover/autodiscover.xml\r\nContent-Length: 0\r\n\r\n".encode())
    with plain, h.FnServer(https_redirect) as sec, h.FnServer(lambda conn: None) as nodns:
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({
            "domain": "lab.test", "ca_file": mail_lab.ca,
            "source": {"imap": "imaps://127.0.0.1:1"},
            "destination": {"imap": "imaps://127.0.0.1:1"},
            "mailboxes": [{"source_user": "u@lab.test", "source_password": "ad-Secret-9",
                           "dest_user": "u@lab.test", "dest_password": "x"}]}))
        r = cutover("audit", plan, "--only", "web", "--timeout", "3", "--no-progress",
                    "--resolver", f"127.0.0.1:{nodns.port}", "--autodiscover-user", "u@lab.test",
                    "--connect-to", f"lab.test:443:127.0.0.1:{sec.port}",
                    "--connect-to", f"autodiscover.lab.test:443:127.0.0.1:{sec.port}", timeout=60)
    sent = plain.received()
    assert b"POST" in sent, "the redirect was followed"
    assert b"ad-Secret-9" not in sent and b"authorization" not in sent.lower()
    c = r.check("web.autodiscover")
    assert "rejected the credentials" not in json.dumps(c), c
    assert "never sent over plain http" in c["summary"], c


@pytest.mark.parametrize("n,words", [(b"4294967296", "bad message number"),
                                     (b"99999999999999999999", "message number too long")])
def test_absurd_select_numbers_are_named(lab, cutover, tmp_path, n, words):
    """EXISTS past 2^32-1, or 20 digits long: the folder's error names it."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})

    def select(conn, tag, args):
        src.selected[conn] = "INBOX"
        conn.send(b"* " + n + b" EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n" +
                  tag.encode() + b" OK done\r\n")
    src.handlers["SELECT"] = src.handlers["EXAMINE"] = select
    with src:
        r = sync(cutover, src_plan(tmp_path, lab, src.port), "--timeout", "3", timeout=40)
    c = r.check("sync.mailbox", USER)
    assert r.rc == 2
    assert words in json.dumps(c), c


def test_dns_truncated_then_tcp_closed_is_not_no_server(cutover):
    """A UDP answer with TC set, then a TCP connection the server closes: not
    "connection refused: no DNS server there"."""
    with h.TruncatingDns() as dns:
        r = cutover("dns", "example.test", "--resolver", f"127.0.0.1:{dns.port}",
                    "--timeout", "3", "--no-progress", timeout=60)
        assert dns.queries > 0
    c = r.check("dns.mx")
    text = json.dumps(c)
    assert "no DNS server there" not in text, c
    assert "truncated" in text and "TCP" in text, c


# ---------------------------------------------------------------- 5. memory

def peak_rss_kib(argv, limit=60):
    """Run ARGV; return (exit code, its own peak RSS in KiB from wait4). The
    run must end on its own: killed after LIMIT s is a failure, not a time."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    end = time.monotonic() + limit
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_maxrss
        if time.monotonic() > end:
            p.kill()
            os.wait4(p.pid, 0)
            pytest.fail(f"{argv[1]} still running after {limit} s: killed")
        time.sleep(0.05)


def test_huge_literals_in_capability_cost_no_memory(lab, tmp_path):
    """Four 16 MB literals in every CAPABILITY response: none is kept (the
    peak RSS stays well below what keeping them would take, against a run
    with a well-behaved peer), and the error names the limit."""
    rss = {}
    for case in ("baseline", "hostile"):
        src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})
        if case == "hostile":
            chunk = b"x" * 65536  # sent 256 times: the test itself holds no 16 MB

            def cap(conn, tag, args):
                conn.send(b"* CAPABILITY IMAP4rev1")
                for _ in range(4):
                    conn.send(b" {%d}\r\n" % (256 * len(chunk)))
                    for _ in range(256):
                        conn.send(chunk)
                        if conn.closed:
                            return
                conn.send(b"\r\n" + f"{tag} OK done\r\n".encode())
            src.handlers["CAPABILITY"] = cap
        with src:
            (tmp_path / case).mkdir()
            plan = src_plan(tmp_path / case, lab, src.port)
            report = tmp_path / case / "r.json"
            rc, rss[case] = peak_rss_kib([cutover_bin(), "sync", str(plan), "--allow-plaintext",
                                          "--no-progress", "--no-compare", "--timeout", "5",
                                          "--json", str(report)])
        if case == "hostile":
            assert rc == 2
            text = report.read_text()
            assert "max_literal" in text and "16777216" in text, text[:3000]
    # Before: 4 x 16 MiB kept per connection (378 MB for one pair). (ru_maxrss
    # also counts the forking parent's pages before exec: hence no large
    # object in this test while cutover starts.)
    assert rss["hostile"] < rss["baseline"] + 8 * 1024, rss


@pytest.mark.parametrize("answer", [
    b'* STATUS "Other" (MESSAGES 5 UIDNEXT 6 UIDVALIDITY 1)\r\n',
    b'* STATUS INBOX (MESSAGES)\r\n',
    b"",
])
def test_status_for_another_mailbox_is_not_zero_messages(mail_lab, cutover, tmp_path, answer):
    """STATUS answered OK with a STATUS for another mailbox, a malformed one,
    or none: the audit does not pass with "0 messages"; it names STATUS."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(1, body(1))]})

    def status(conn, tag, args):
        conn.send(answer + f"{tag} OK STATUS done\r\n".encode())
    src.status = status
    with src:
        r = cutover("audit", src_plan(tmp_path, mail_lab, src.port), "--only", "folders",
                    "--allow-plaintext", "--no-progress", timeout=60)
    c = r.check("mailbox.folders", USER, "source")
    assert c["status"] != "pass", c
    f = [x for x in c["details"]["folders"] if x["raw_name"] == "INBOX"][0]
    assert "STATUS" in f.get("error", "") or "STATUS" in c["summary"], c


# ---------------------------------------------------------------- 6. undefined behaviour

def test_every_message_expunged_between_select_and_fetch(lab, cutover, tmp_path):
    """SELECT says 3 EXISTS, the FETCH returns nothing (a benign race): no UB
    (the sanitizer build aborts on it), nothing copied, no error."""
    src = h.ImapServer(folders={"INBOX": [h.Msg(i, body(i)) for i in range(1, 4)]})
    src.fetch_meta = lambda conn, tag, sel: conn.send(f"{tag} OK nothing left\r\n")
    with src:
        # The scripted peer's STATUS still says 3 (a real server's would say 0
        # after the expunge), so mailbox.compare would rightly fail: left out.
        r = sync(cutover, src_plan(tmp_path, lab, src.port), "--no-compare")
    assert r.rc in (0, 1), (r.rc, r.stdout)
    assert "runtime error" not in r.stderr
    assert dest_inbox(lab) == []


# ---------------------------------------------------------------- 7. UTF-8 reports

def test_folder_names_with_8bit_bytes_give_utf8_reports(mail_lab, cutover, tmp_path):
    """Folder names with 8-bit bytes and invalid modified UTF-7: the JSON and
    the HTML report are UTF-8 (the bytes shown escaped), and parse."""
    src = h.ImapServer(folders={"INBOX": []})
    names = [b"Bad\xffName", b"Entw&AP-rfe", b"Caf\xc3\xa9", b"Esc\x1b[31mRed"]

    def list_folders(conn, tag, args):
        conn.send(b'* LIST (\\HasNoChildren) "/" INBOX\r\n')
        for n in names:
            conn.send(b'* LIST (\\HasNoChildren) "/" {%d}\r\n' % len(n) + n + b"\r\n")
        conn.send(f"{tag} OK LIST done\r\n")
    src.list_folders = list_folders
    with src:
        plan = src_plan(tmp_path, mail_lab, src.port)
        rj, rh = tmp_path / "r.json", tmp_path / "r.html"
        r = cutover("audit", plan, "--only", "folders", "--allow-plaintext", "--no-progress",
                    "--json", rj, "--html", rh, json_report=False, timeout=60)
    assert r.rc in (0, 1, 2), r.stderr
    # the console: decoded strictly as UTF-8 by the harness, no terminal escape
    assert "Bad\\xffName" in r.stdout and "\x1b" not in r.stdout, r.stdout
    raw = rj.read_bytes()
    report = json.loads(raw.decode("utf-8"))  # strict: raises on a byte that is not UTF-8
    rh.read_bytes().decode("utf-8")
    c = [c for c in report["checks"] if c["id"] == "mailbox.folders"][0]
    got = {f["raw_name"]: f for f in c["details"]["folders"]}
    # the invalid byte shown escaped, in both the name and the raw name
    assert got["Bad\\xffName"]["name"] == "Bad\\xffName"
    assert got["Bad\\xffName"]["name_decoded"] is False
    assert got["Entw&AP-rfe"]["name_decoded"] is False
    assert "Caf\u00e9" in got
