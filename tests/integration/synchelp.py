"""Helpers for the sync tests: what a user would look at on the servers.

A mailbox snapshot is read over IMAP (Python's imaplib over TLS, the lab CA):
every selectable folder with, per message, the SHA-256 of BODY[] (the exact
bytes), the size, the flags and keywords, and the INTERNALDATE.
"""
import hashlib
import imaplib
import json
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')
FETCH_RE = re.compile(rb'UID (\d+)|FLAGS \(([^)]*)\)|INTERNALDATE "([^"]+)"')


def connect(lab, side, user):
    ctx = ssl.create_default_context(cafile=lab.ca)
    m = imaplib.IMAP4_SSL(lab.addr[side], lab.ports[side]["imaps"], ssl_context=ctx,
                          timeout=60)
    m.login(user, lab.password(side, user))
    return m


def quote(name):
    if isinstance(name, bytes):
        name = name.decode("ascii")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def list_folders(m):
    """[(raw_name, delim, flags)] of selectable folders."""
    typ, data = m.list('""', "*")
    assert typ == "OK", data
    out = []
    for line in data:
        if isinstance(line, tuple):  # a literal name
            head, lit = line
            mm = LIST_RE.match(head.rstrip() + b" x")
            name = lit
        else:
            mm = LIST_RE.match(line)
            name = mm.group("name")
            if name.startswith(b'"'):
                name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
        flags = mm.group("flags").lower()
        if b"\\noselect" in flags or b"\\nonexistent" in flags:
            continue
        out.append((name.decode("ascii"), mm.group("delim"), flags.decode()))
    return out


def folder_messages(m, raw):
    """Sorted [(sha256, size, flags, internaldate)] of the folder RAW."""
    typ, data = m.select(quote(raw), readonly=True)
    assert typ == "OK", (raw, data)
    if int(data[0]) == 0:
        return []
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        flags, date = None, None
        for g in FETCH_RE.finditer(head):
            if g.group(2) is not None:
                flags = g.group(2)
            if g.group(3) is not None:
                date = g.group(3)
        fl = tuple(sorted(f for f in (flags or b"").decode().split() if f != "\\Recent"))
        out.append((hashlib.sha256(body).hexdigest(), len(body), fl, date.decode()))
    return sorted(out)


def snapshot(lab, side, user, only=None):
    """{raw folder name: folder_messages} for every selectable folder."""
    m = connect(lab, side, user)
    try:
        names = [f[0] for f in list_folders(m)]
        return {n: folder_messages(m, n) for n in names if only is None or n in only}
    finally:
        m.logout()


def append(lab, side, user, folder, body, flags="", date=None):
    """APPEND BODY (bytes, CRLF line ends) to FOLDER, creating it when needed."""
    m = connect(lab, side, user)
    try:
        m.create(quote(folder))  # fails harmlessly when it exists
        when = imaplib.Time2Internaldate(date if date is not None else time.time())
        typ, data = m.append(quote(folder), f"({flags})" if flags else None, when, body)
        assert typ == "OK", data
    finally:
        m.logout()


def append_many(lab, side, user, folder, bodies):
    """APPEND several (body, flags, date) to FOLDER over one connection."""
    m = connect(lab, side, user)
    try:
        m.create(quote(folder))
        for body, flags, date in bodies:
            typ, data = m.append(quote(folder), f"({flags})" if flags else None,
                                 imaplib.Time2Internaldate(date), body)
            assert typ == "OK", data
    finally:
        m.logout()


def message(i, size, msgid=True, seed="m"):
    """A plain RFC 5322 message of about SIZE bytes with CRLF line ends."""
    import random
    rng = random.Random(f"{seed}-{i}-{size}")
    lines = [f"From: Sender {i} <s{i}@lab.test>",
             "To: someone@lab.test",
             f"Subject: test message {i}",
             "Date: Mon, 02 Nov 2026 10:00:00 +0000"]
    if msgid:
        lines.append(f"Message-ID: <{seed}-{i}@lab.test>")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
    text = []
    n = 0
    while n < size:
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(70))
        text.append(w)
        n += 72
    return ("\r\n".join(lines + text) + "\r\n").encode()


def wipe(lab, side, user):
    """Empty USER's mailbox on SIDE (its Maildir goes; Dovecot recreates it)."""
    home = lab.run / "mail" / side / "home" / user
    if home.exists():
        shutil.rmtree(home / "Maildir", ignore_errors=True)
        for p in home.glob("*"):
            if p.name != "Maildir":
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()


def populate(lab):
    subprocess.run(["bash", str(ROOT / "contrib/lab/mail/mail.sh"), "populate"],
                   env=lab.env, check=True, stdout=subprocess.DEVNULL, timeout=300)


def plan(tmp_path, lab, users, state_dir="state", extra=None):
    """A plan file for the lab with USERS (same name on both sides)."""
    p = {"domain": "lab.test",
         "ca_file": lab.ca,
         "source": {"imap": f"imaps://127.0.0.1:{lab.ports['source']['imaps']}"},
         "destination": {"imap": f"imaps://127.0.0.2:{lab.ports['destination']['imaps']}"},
         "mailboxes": [{"source_user": u, "source_password": lab.password("source", u),
                        "dest_user": u, "dest_password": lab.password("destination", u)}
                       for u in users],
         "state_dir": str(state_dir)}
    if extra:
        p.update(extra)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(p))
    return path


def folder_map(check):
    """{source_raw: destination_raw} from a sync.mailbox result."""
    return {f["source_raw"]: f["destination_raw"] for f in check["details"]["folders"]}


def append_bulk(lab, side, user, folder, items, window=200):
    """APPEND many (body, flags, date) to FOLDER fast: one connection, the
    commands pipelined with non-synchronizing literals (LITERAL+, RFC 7888,
    which the lab's Dovecot offers), WINDOW commands in flight. imaplib waits
    for a continuation per literal, which makes thousands of messages slow."""
    import socket
    m = connect(lab, side, user)
    m.create(quote(folder))
    m.logout()
    ctx = ssl.create_default_context(cafile=lab.ca)
    raw = socket.create_connection((lab.addr[side], lab.ports[side]["imaps"]), timeout=60)
    s = ctx.wrap_socket(raw, server_hostname=lab.addr[side])
    f = s.makefile("rb")

    def tagged(tag):
        while True:
            line = f.readline()
            if not line:
                raise AssertionError(f"connection closed waiting for {tag}")
            if line.startswith(tag.encode() + b" "):
                assert line.split()[1] == b"OK", line
                return

    f.readline()  # greeting
    lit = user.encode()
    pw = lab.password(side, user).encode()
    s.sendall(b"L LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(lit), lit, len(pw), pw))
    tagged("L")
    qf = quote(folder).encode()
    sent = done = 0
    while done < len(items):
        out = []
        while sent < len(items) and sent - done < window:
            body, flags, date = items[sent]
            when = imaplib.Time2Internaldate(date).encode()
            out.append(b"A%d APPEND %s (%s) %s {%d+}\r\n%s\r\n" % (
                sent, qf, flags.encode(), when, len(body), body))
            sent += 1
        if out:
            s.sendall(b"".join(out))
        tagged(f"A{done}")
        done += 1
    s.sendall(b"Z LOGOUT\r\n")
    s.close()
