"""cutover sync against a destination that throttles (issue 9, "Polite").

Exchange Online answers a busy client with `NO [THROTTLED]`, `NO [UNAVAILABLE]`
or a text holding "Suggested Backoff Time: N milliseconds"; Dovecot never
does. So a scripted peer stands in front of the lab's real destination
Dovecot: a TLS proxy (the lab's server certificate, trusted through the plan's
ca_file) that forwards every byte both ways, except that it reads the client's
commands (lines and {n}/{n+} literals) and, for the APPENDs it is told to
throttle, swallows the whole command and answers it itself. Everything else
(LOGIN, SELECT, CREATE, the APPENDs it lets through) is the real server.

What a user checks: a throttled sync still ends with exit 0 and every source
message on the destination exactly once, and the report says the server
throttled; a server that never stops throttling ends with a specific error
after the retry limit instead of hanging or copying anything twice.
"""
import re
import select
import socket
import ssl
import threading
import time

import pytest

import synchelp as sh

LITERAL_RE = re.compile(rb"\{(\d+)(\+?)\}\r\n$")
MAX_RETRIES = 8  # SYNC_MAX_RETRIES in src/sync.c


class _Conn:
    """One client connection: cutover <-TLS-> proxy <-TLS-> Dovecot."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.c = client
        self.s = None
        self.cbuf = b""        # client bytes not yet parsed
        self.lit_left = 0      # client literal bytes still to come
        self.in_cmd = False    # inside a command (after a literal)
        self.swallow = None    # the answer for the command being swallowed
        self.tag = b""
        self.throttled_here = False
        self.sbuf = b""        # server bytes not yet parsed
        self.s_lit_left = 0
        self.s_in_resp = False
        self.inject = []       # our answers, sent between server responses

    @staticmethod
    def _drain(sock):
        data, eof = b"", False
        while True:
            try:
                d = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            if not d:
                eof = True
                break
            data += d
        return data, eof

    @staticmethod
    def _send(sock, data):
        if data:
            sock.setblocking(True)
            try:
                sock.sendall(data)
            finally:
                sock.setblocking(False)

    def _server_at_boundary(self):
        return self.s_lit_left == 0 and not self.s_in_resp and not self.sbuf

    def _flush_inject(self):
        if self.inject and self._server_at_boundary():
            self._send(self.c, b"".join(self.inject))
            self.inject = []

    def _answer(self, data):
        self.inject.append(data)
        self._flush_inject()

    def _from_client(self):
        """Forward or swallow what the client sent, command by command."""
        out = []
        while self.cbuf:
            if self.lit_left:
                chunk = self.cbuf[:self.lit_left]
                self.cbuf = self.cbuf[len(chunk):]
                self.lit_left -= len(chunk)
                if self.swallow is None:
                    out.append(chunk)
                continue
            i = self.cbuf.find(b"\r\n")
            if i < 0:
                break
            line, self.cbuf = self.cbuf[:i + 2], self.cbuf[i + 2:]
            if not self.in_cmd:
                words = line.split(b" ", 2)
                self.tag = words[0]
                verb = words[1].strip().upper() if len(words) > 1 else b""
                self.swallow = None
                if verb == b"APPEND":
                    self.swallow = self.proxy.decide(self)
            m = LITERAL_RE.search(line)
            if m:
                self.lit_left = int(m.group(1))
                self.in_cmd = True
                if self.swallow is not None and not m.group(2):
                    self._send(self.s, b"".join(out))
                    out = []
                    self._answer(b"+ go ahead\r\n")
            else:
                self.in_cmd = False
                if self.swallow is not None:
                    self._send(self.s, b"".join(out))
                    out = []
                    self._answer(self.tag + b" " + self.swallow + b"\r\n")
                    self.swallow = None
                    continue
            if self.swallow is None:
                out.append(line)
        self._send(self.s, b"".join(out))

    def _from_server(self):
        """Relay the server's bytes, tracking where a response ends."""
        out = []
        while self.sbuf:
            if self.s_lit_left:
                chunk = self.sbuf[:self.s_lit_left]
                self.sbuf = self.sbuf[len(chunk):]
                self.s_lit_left -= len(chunk)
                out.append(chunk)
                continue
            i = self.sbuf.find(b"\r\n")
            if i < 0:
                break  # part of a line: wait for the rest
            line, self.sbuf = self.sbuf[:i + 2], self.sbuf[i + 2:]
            out.append(line)
            m = LITERAL_RE.search(line)
            if m:
                self.s_lit_left = int(m.group(1))
                self.s_in_resp = True
            else:
                self.s_in_resp = False
                if not self.sbuf:
                    self._send(self.c, b"".join(out))
                    out = []
                    self._flush_inject()
        self._send(self.c, b"".join(out))
        self._flush_inject()

    def run(self):
        try:
            self.c = self.proxy.server_ctx.wrap_socket(self.c, server_side=True)
            raw = socket.create_connection(self.proxy.upstream, timeout=30)
            self.s = self.proxy.client_ctx.wrap_socket(
                raw, server_hostname=self.proxy.upstream[0])
            self.c.setblocking(False)
            self.s.setblocking(False)
            while not self.proxy.stop.is_set():
                r, _, _ = select.select([self.c, self.s], [], [], 0.2)
                if self.c in r or self.c.pending():
                    data, eof = self._drain(self.c)
                    self.cbuf += data
                    self._from_client()
                    if eof:
                        break
                if self.s in r or self.s.pending():
                    data, eof = self._drain(self.s)
                    self.sbuf += data
                    self._from_server()
                    if eof:
                        break
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            for sock in (self.c, self.s):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass


class ThrottleProxy:
    """A scripted destination in front of the lab's Dovecot. ANSWERS are the
    tagged answers (bytes after the tag) for the first APPEND on each of the
    first len(ANSWERS) connections; with FOREVER every APPEND gets FOREVER."""

    def __init__(self, lab, answers=(), forever=None):
        self.answers = list(answers)
        self.forever = forever
        self.throttled = 0
        self.appends = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.upstream = (lab.addr["destination"], lab.ports["destination"]["imaps"])
        ca = lab.run / "ca"
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(ca / "server.pem", ca / "server.key")
        self.client_ctx = ssl.create_default_context(cafile=lab.ca)
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def decide(self, conn):
        """The answer for this APPEND, or None to forward it."""
        with self.lock:
            self.appends += 1
            if self.forever is not None:
                self.throttled += 1
                return self.forever
            if conn.throttled_here or self.throttled >= len(self.answers):
                return None
            conn.throttled_here = True
            self.throttled += 1
            return self.answers[self.throttled - 1]

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            t = threading.Thread(target=_Conn(self, c).run, daemon=True)
            t.start()
            self.threads.append(t)

    def close(self):
        self.stop.set()
        self.acceptor.join()
        self.ls.close()
        for t in self.threads:
            t.join(timeout=5)


@pytest.fixture(scope="module")
def lab(mail_lab):
    return mail_lab


def throttle_plan(tmp_path, lab, user, proxy):
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "state")
    text = plan.read_text().replace(
        f"imaps://127.0.0.2:{lab.ports['destination']['imaps']}",
        f"imaps://127.0.0.1:{proxy.port}")
    plan.write_text(text)
    return plan


def fill_source(lab, user, folders):
    """Empty USER on both sides; put FOLDERS {name: count} on the source."""
    for side in ("source", "destination"):
        sh.wipe(lab, side, user)
    now = time.time() - 86400
    for folder, n in folders.items():
        sh.append_many(lab, "source", user, folder,
                       [(sh.message(i, 400 + 97 * i, seed=f"thr-{folder}"),
                         "\\Seen" if i % 3 == 0 else "", now - 60 * i) for i in range(n)])


def test_throttled_sync_backs_off_and_copies_once(lab, cutover, tmp_path):
    user = "user171@lab.test"
    fill_source(lab, user, {"INBOX": 20, "Work": 10})
    proxy = ThrottleProxy(lab, answers=[
        b"NO [THROTTLED] Request is throttled, try again later",
        b"NO [UNAVAILABLE] Server is busy. Suggested Backoff Time: 50 milliseconds",
    ])
    try:
        plan = throttle_plan(tmp_path, lab, user, proxy)
        # Small batches: several APPENDs per folder, some pipelined behind a
        # throttled one (those reach Dovecot and are reconciled on the retry).
        r = cutover("sync", plan, "--no-progress", "--batch", "5", timeout=120)
    finally:
        proxy.close()
    assert proxy.throttled == 2, "the scripted peer throttled"
    assert r.rc == 0, (r.stdout, r.stderr)
    c = r.check("sync.mailbox", user)
    assert c["status"] == "pass", c
    d = c["details"]
    assert d["errors"] == 0
    assert d["throttled"] == 2
    assert sum(f["throttled"] for f in d["folders"]) == 2
    assert all(f["error"] is None for f in d["folders"]), d["folders"]
    assert "throttled" in c["summary"]
    # Every source message on the destination exactly once, bytes, flags, dates.
    fmap = sh.folder_map(c)
    src = sh.snapshot(lab, "source", user)
    dst = sh.snapshot(lab, "destination", user)
    assert len(src["INBOX"]) == 20 and len(src["Work"]) == 10
    for name, msgs in src.items():
        assert dst[fmap[name]] == msgs, f"{name}: destination differs"
    assert sum(len(v) for v in dst.values()) == 30


def test_endless_throttling_gives_up_after_retry_limit(lab, cutover, tmp_path):
    user = "user172@lab.test"
    fill_source(lab, user, {"INBOX": 3})
    proxy = ThrottleProxy(
        lab, forever=b"NO [UNAVAILABLE] Server is busy. Suggested Backoff Time: 20 milliseconds")
    try:
        plan = throttle_plan(tmp_path, lab, user, proxy)
        # The timeout only guards against a hang.
        r = cutover("sync", plan, "--no-progress", timeout=120)
    finally:
        proxy.close()
    assert r.rc == 2, (r.stdout, r.stderr)  # the worst check is a fail
    c = r.check("sync.mailbox", user)
    assert c["status"] == "fail", c
    d = c["details"]
    assert d["copied"] == 0
    inbox = [f for f in d["folders"] if f["source_raw"] == "INBOX"][0]
    assert inbox["errors"] >= 1
    assert "slow down" in inbox["error"] and "[UNAVAILABLE]" in inbox["error"]
    assert f"gave up after {MAX_RETRIES} retries" in inbox["error"]
    # The first answer plus one per retry, and no more than that per attempt.
    assert inbox["throttled"] >= MAX_RETRIES + 1
    assert proxy.throttled >= MAX_RETRIES + 1
    assert d["throttled"] == inbox["throttled"]
    # Nothing reached the destination, so nothing can be there twice.
    dst = sh.snapshot(lab, "destination", user)
    assert dst.get("INBOX", []) == []
    assert lab.password("destination", user) not in r.stdout + r.stderr
