"""A scripted hostile peer for the tests of issue 14 (and any later one).

Real servers (the lab's Dovecot, Knot, nginx) are right for everything a real
server does; this is the one place for behaviour no real server produces: an
INTERNALDATE holding a quote, PREAUTH on a connection that must upgrade, a
FETCH split over several responses or inventing UIDs, a literal cut in the
middle, a trickle of keep-alive noise. Each peer listens on 127.0.0.1 port 0
(an ephemeral port: no collision with the lab or with other test runs), runs
one thread per connection and records every byte the client sent, so a test
can assert what the peer received ("no LOGIN before STARTTLS").

    src = ImapServer(folders={"INBOX": [Msg(1, body, flags=r"\\Seen")]})
    src.meta = lambda m: f'UID {m.uid} ... INTERNALDATE "{evil}"'  # one override
    with src:
        run cutover against f"imap://127.0.0.1:{src.port}"
    assert b"LOGIN" not in src.received()

A case overrides one method (or passes a function) and keeps the defaults of
a well-behaved server for the rest, so what the test varies is visible in it.
"""
import re
import socket
import ssl
import threading
import time

LITERAL_RE = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


class Msg:
    """A source message: UID, exact bytes, flags (IMAP text), INTERNALDATE."""

    def __init__(self, uid, body, flags="", date="01-Jan-2024 10:00:00 +0000"):
        self.uid, self.body, self.flags, self.date = uid, body, flags, date


class Conn:
    """One accepted connection: line/literal reading and writing, with a log
    of everything the client sent (before and after STARTTLS)."""

    def __init__(self, server, sock):
        self.server, self.sock = server, sock
        self.buf = b""
        self.log = bytearray()   # everything received
        self.plain_log = None    # what was received before TLS (set by starttls)
        self.closed = False
        self.last = b""          # the command being answered, raw

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except (OSError, ssl.SSLError):
            d = b""
        if not d:
            self.closed = True
            return False
        self.log += d
        self.buf += d
        return True

    def read_line(self):
        """One CRLF line (with its CRLF), or None at EOF."""
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                return None
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_imap_command(self):
        """A whole IMAP command with its literals ("+" sent for synchronizing
        ones), or None at EOF."""
        out = b""
        while True:
            line = self.read_line()
            if line is None:
                return None
            out += line
            m = LITERAL_RE.search(line)
            if not m:
                return out
            if not m.group(2):
                self.send(b"+ go ahead\r\n")
            data = self.read_exact(int(m.group(1)))
            if data is None:
                return None
            out += data

    def starttls(self):
        """Upgrade to TLS with the server's context (the lab certificate)."""
        self.plain_log = bytes(self.log)
        self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)


class Server:
    """Listen on 127.0.0.1:0; run self.session(conn) per connection in a thread."""

    def __init__(self, tls=None):
        """TLS: an ssl.SSLContext for STARTTLS/STLS upgrades, or None."""
        self.tls = tls
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.stop.set()
        try:
            self.ls.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.sock.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stop.is_set():
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            c = Conn(self, s)
            self.conns.append(c)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.session(c)
        except (OSError, ssl.SSLError):
            pass
        except Exception as e:  # a bug in the script: make the test see it
            self.errors.append(repr(e))
        finally:
            try:
                c.sock.close()
            except OSError:
                pass

    def received(self):
        """Every byte every client sent, joined."""
        return b"".join(bytes(c.log) for c in self.conns)

    def received_in_clear(self):
        """What clients sent before TLS (all of it on connections that never
        upgraded)."""
        return b"".join(bytes(c.log) if c.plain_log is None else c.plain_log
                        for c in self.conns)

    def session(self, conn):
        raise NotImplementedError


class FnServer(Server):
    """Any protocol (HTTP, DNS over TCP...): FN(conn) is the whole session."""

    def __init__(self, fn, tls=None):
        super().__init__(tls)
        self.fn = fn

    def session(self, conn):
        self.fn(conn)


class TruncatingDns:
    """DNS on 127.0.0.1:PORT that answers every UDP query with an empty reply
    with TC set (\"retry over TCP\"), while TCP on the same port accepts and
    closes at once: the server is there, and plainly not answering."""

    def __init__(self):
        self.tcp = FnServer(lambda conn: None)
        self.port = self.tcp.port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.stop = threading.Event()
        self.queries = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stop.is_set():
            try:
                q, peer = self.udp.recvfrom(4096)
            except OSError:
                continue
            if len(q) < 12:
                continue
            self.queries += 1
            qd_end = 12
            while qd_end < len(q) and q[qd_end] != 0:
                qd_end += q[qd_end] + 1
            question = q[12:qd_end + 5]
            # ID, QR|TC|RD|RA, one question, no answers
            self.udp.sendto(q[:2] + b"\x83\x80\x00\x01\x00\x00\x00\x00\x00\x00" + question,
                            peer)

    def __enter__(self):
        self.tcp.__enter__()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.udp.close()
        self.tcp.close()


def http_request(conn):
    """Read one HTTP/1.1 request (head and Content-Length body); None at EOF."""
    head = b""
    while True:
        line = conn.read_line()
        if line is None:
            return None
        if line == b"\r\n":
            break
        head += line
    n = 0
    for ln in head.split(b"\r\n"):
        if ln.lower().startswith(b"content-length:"):
            n = int(ln.split(b":", 1)[1])
    body = conn.read_exact(n) if n else b""
    return head + b"\r\n" + (body or b"")


def seq_set(spec, values):
    """The members of VALUES (ints) in the IMAP sequence set SPEC ("3:*,7")."""
    hi = max(values) if values else 0
    out = set()
    for part in spec.split(","):
        if ":" in part:
            a, b = part.split(":")
            a = hi if a == "*" else int(a)
            b = hi if b == "*" else int(b)
            lo, up = min(a, b), max(a, b)
            out |= {v for v in values if lo <= v <= up}
        else:
            v = hi if part == "*" else int(part)
            if v in values:
                out.add(v)
    return sorted(out)


class ImapServer(Server):
    """A scripted IMAP4rev1 server. Defaults behave; a case replaces a piece:

    greeting        the greeting line
    caps            the CAPABILITY list (text)
    folders         {name: [Msg]}; delim "/"
    meta(msg)       the items of a metadata FETCH response (UID FLAGS
                    INTERNALDATE RFC822.SIZE header fields), as text
    fetch_meta(conn, tag, msgs)  the whole answer to the metadata FETCH
    fetch_body(conn, tag, msgs)  the whole answer to UID FETCH BODY.PEEK[]
    handlers        {"COMMAND": fn(conn, tag, args)} replacing any command
    """

    def __init__(self, folders=None, caps="IMAP4rev1 LITERAL+ UIDPLUS", tls=None,
                 greeting="* OK scripted IMAP ready\r\n"):
        super().__init__(tls)
        self.folders = folders if folders is not None else {"INBOX": []}
        self.caps = caps
        self.greeting = greeting
        self.handlers = {}
        self.commands = []      # (name, raw command) as received, all connections
        self.selected = {}

    # ---- defaults ----
    def meta(self, m):
        hdr = b"Message-ID: <%d@scripted>\r\n\r\n" % m.uid
        return (f"UID {m.uid} FLAGS ({m.flags}) INTERNALDATE \"{m.date}\" "
                f"RFC822.SIZE {len(m.body)} BODY[HEADER.FIELDS (MESSAGE-ID)] "
                f"{{{len(hdr)}}}\r\n").encode() + hdr

    def fetch_meta(self, conn, tag, msgs):
        for i, m in msgs:
            conn.send(b"* %d FETCH (" % i + self.meta(m) + b")\r\n")
        conn.send(f"{tag} OK FETCH done\r\n")

    def fetch_body(self, conn, tag, msgs):
        for i, m in msgs:
            conn.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i, m.uid, len(m.body)) +
                      m.body + b")\r\n")
        conn.send(f"{tag} OK FETCH done\r\n")

    def fetch_sizes(self, conn, tag, msgs):
        for i, m in msgs:
            conn.send(f"* {i} FETCH (UID {m.uid} RFC822.SIZE {len(m.body)})\r\n")
        conn.send(f"{tag} OK FETCH done\r\n")

    def list_folders(self, conn, tag, args):
        for name in self.folders:
            q = name.replace("\\", "\\\\").replace('"', '\\"')
            conn.send(f'* LIST (\\HasNoChildren) "/" "{q}"\r\n')
        conn.send(f"{tag} OK LIST done\r\n")

    def status(self, conn, tag, args):
        raw = conn.last.split(b" ", 2)[2]
        m = re.match(rb"\{(\d+)\+?\}\r\n", raw)
        name = raw[m.end():m.end() + int(m.group(1))] if m else _astring(args).encode()
        msgs = self.folders.get(name.decode("utf-8", "replace"), [])
        uidnext = max((m.uid for m in msgs), default=0) + 1
        # The name echoed back as a literal: any bytes the client sent.
        conn.send(b"* STATUS {%d}\r\n" % len(name) + name +
                  f" (MESSAGES {len(msgs)} UIDNEXT {uidnext} "
                  f"UIDVALIDITY 1 SIZE {sum(len(m.body) for m in msgs)})\r\n".encode())
        conn.send(f"{tag} OK STATUS done\r\n")

    def select(self, conn, tag, args):
        name = _astring(args)
        if name not in self.folders:
            conn.send(f"{tag} NO no such folder\r\n")
            return
        msgs = self.folders[name]
        self.selected[conn] = name
        uidnext = max((m.uid for m in msgs), default=0) + 1
        conn.send(f"* {len(msgs)} EXISTS\r\n* 0 RECENT\r\n"
                  "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                  "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n"
                  f"* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT {uidnext}] ok\r\n"
                  f"{tag} OK [READ-ONLY] selected\r\n")

    def uid(self, conn, tag, args):
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        msgs = self.folders.get(self.selected.get(conn), [])
        if sub == "FETCH":
            spec, _, items = rest.partition(" ")
            want = seq_set(spec, [m.uid for m in msgs])
            sel = [(i + 1, m) for i, m in enumerate(msgs) if m.uid in want]
            items = items.upper()
            if "BODY.PEEK[]" in items:
                self.fetch_body(conn, tag, sel)
            elif "FLAGS" in items or "INTERNALDATE" in items:
                self.fetch_meta(conn, tag, sel)
            else:
                self.fetch_sizes(conn, tag, sel)
        elif sub == "SEARCH":
            conn.send(f"* SEARCH\r\n{tag} OK SEARCH done\r\n")
        else:
            conn.send(f"{tag} BAD not scripted\r\n")

    # ---- the session ----
    def session(self, conn):
        conn.send(self.greeting)
        while True:
            raw = conn.read_imap_command()
            if raw is None:
                return
            parts = raw.split(b" ", 2)
            tag = parts[0].decode("ascii", "replace")
            name = parts[1].strip().decode("ascii", "replace").upper() if len(parts) > 1 else ""
            args = parts[2].decode("utf-8", "replace").rstrip("\r\n") if len(parts) > 2 else ""
            self.commands.append((name, raw))
            conn.last = raw
            if name in self.handlers:
                if self.handlers[name](conn, tag, args) == "close":
                    return
                continue
            if name == "CAPABILITY":
                conn.send(f"* CAPABILITY {self.caps}\r\n{tag} OK done\r\n")
            elif name == "STARTTLS":
                if self.tls is None:
                    conn.send(f"{tag} NO no TLS here\r\n")
                else:
                    conn.send(f"{tag} OK begin TLS\r\n")
                    conn.starttls()
            elif name in ("LOGIN", "AUTHENTICATE"):
                conn.send(f"{tag} OK logged in\r\n")
            elif name in ("LIST", "XLIST"):
                self.list_folders(conn, tag, args)
            elif name == "STATUS":
                self.status(conn, tag, args)
            elif name in ("SELECT", "EXAMINE"):
                self.select(conn, tag, args)
            elif name == "UID":
                self.uid(conn, tag, args)
            elif name == "LOGOUT":
                conn.send(f"* BYE bye\r\n{tag} OK done\r\n")
                return
            elif name in ("NOOP", "ENABLE", "ID", "CHECK", "CLOSE"):
                conn.send(f"{tag} OK done\r\n")
            else:
                conn.send(f"{tag} BAD not scripted\r\n")


def _astring(args):
    """The first astring of ARGS (atom or quoted), unquoted."""
    args = args.strip()
    if args.startswith('"'):
        out, i = "", 1
        while i < len(args) and args[i] != '"':
            if args[i] == "\\":
                i += 1
            out += args[i]
            i += 1
        return out
    return args.split(" ", 1)[0]


class Pop3Server(Server):
    """A scripted POP3 server: CAPA lists CAPS; USER/PASS accepted; STLS
    upgrades with TLS when given."""

    def __init__(self, caps=("USER", "STLS"), tls=None, greeting="+OK scripted POP3\r\n"):
        super().__init__(tls)
        self.caps = list(caps)
        self.greeting = greeting

    def session(self, conn):
        conn.send(self.greeting)
        while True:
            line = conn.read_line()
            if line is None:
                return
            cmd = line.split(b" ", 1)[0].strip().upper()
            if cmd == b"CAPA":
                conn.send("+OK\r\n" + "".join(c + "\r\n" for c in self.caps) + ".\r\n")
            elif cmd == b"STLS":
                if self.tls is None:
                    conn.send("-ERR no TLS here\r\n")
                else:
                    conn.send("+OK begin TLS\r\n")
                    conn.starttls()
            elif cmd in (b"USER", b"PASS", b"NOOP"):
                conn.send("+OK\r\n")
            elif cmd == b"STAT":
                conn.send("+OK 0 0\r\n")
            elif cmd == b"QUIT":
                conn.send("+OK bye\r\n")
                return
            else:
                conn.send("-ERR not scripted\r\n")


def lab_tls(lab):
    """A server-side TLS context with the lab's server certificate (localhost,
    127.0.0.1; signed by the lab CA that plans pass as ca_file), for
    scripted STARTTLS/STLS."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca = lab.run / "ca"
    ctx.load_cert_chain(str(ca / "server-chain.pem"), str(ca / "server.key"))
    return ctx


def wait_until(pred, timeout=10.0):
    """Poll PRED until true (for a peer's thread to record what it saw);
    a bound on the wait, never an assertion about time."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
