"""The DNS of one scenario of the OpenSPF test suites (tests/spf-suite/*.yml).

Each YAML document of the suites is a scenario: `zonedata` (the records to
serve, by name) and `tests`. This module turns a scenario's zonedata into a
zone set for the DNS lab (contrib/lab/dns/dns.sh serves it with Knot: one
root zone, root.zone, so every name of the scenario is in it, whatever its
TLD), and runs the front that the suite's TIMEOUT names need:

    zone_set(zonedata, folder) -> the TIMEOUT names: {labels: types answered}
    TimeoutFront(addr, port, knot_addr, knot_port)   .timeouts = {...}; .close()

The front listens on UDP and TCP. A query for a TIMEOUT name is read and
never answered (a stalled server: no real server does that on purpose, so
this one is scripted); every other query is passed to Knot and Knot's answer
back, byte for byte. Names and case: DNS names compare without case, and a
label may hold any byte (the suites have spaces, '%', ':' and '/' in names),
so names are compared as tuples of lower-cased labels, never as text.

The zonedata conventions are those of the suites' own driver (pyspf's
testspf.py): SPF (type 99) records are also published as TXT when the name
has no TXT record of its own; `NONE` as a TXT or SPF value means "no record"
(but still suppresses that copy); a list value is one record of several
character-strings; `TIMEOUT` makes a query for that name time out unless a
record of the type asked comes before it in the list ("TXT record present,
but SPF lookup times out": TXT is answered, SPF times out).
"""
import os
import socket
import struct
import threading

QTYPES = {"A": 1, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SPF": 99}

SOA = (". 60 SOA ns.spf-suite.invalid. hostmaster.spf-suite.invalid. "
       "1 3600 600 86400 60\n. 60 NS ns.spf-suite.invalid.\n"
       "ns.spf-suite.invalid. 60 A 127.0.0.1\n")


def _bytes(value):
    """A YAML string as the bytes it stands for: the suites write raw bytes
    as \\xNN escapes, which YAML reads as code points below 256."""
    if all(ord(c) < 256 for c in value):
        return value.encode("latin-1")
    return value.encode("utf-8")


def _escape_label(label):
    out = []
    for b in label:
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_"):
            out.append(c)
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def owner(name):
    """NAME in zone-file syntax: absolute, every unusual byte as \\DDD."""
    name = name.rstrip(".")
    return ".".join(_escape_label(_bytes(lab)) for lab in name.split(".")) + "."


def _char_string(s):
    out = ['"']
    for b in _bytes(s):
        c = chr(b)
        if 32 <= b < 127 and c not in '"\\':
            out.append(c)
        else:
            out.append("\\%03d" % b)
    out.append('"')
    return "".join(out)


def _txt_rdata(value):
    strings = [value] if isinstance(value, str) else list(value)
    if not strings:
        strings = [""]  # a TXT record has at least one character-string
    # One character-string is at most 255 bytes: split longer ones as a
    # publisher would (the record is the strings joined, RFC 7208 3.3).
    parts = []
    for s in strings:
        b = _bytes(s)
        if len(b) <= 255:
            parts.append(_char_string(s))
            continue
        for i in range(0, len(b), 255):
            parts.append(_char_string(b[i:i + 255].decode("latin-1")))
    return " ".join(parts)


def zone_text(zonedata):
    """The root zone for ZONEDATA, and the TIMEOUT names: a dict from the
    name's labels to the record types answered all the same."""
    lines = [SOA]
    timeouts = {}
    for name, records in (zonedata or {}).items():
        own = owner(name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        spf_copies = []
        seen = set()  # types listed before a TIMEOUT
        for rec in records:
            if rec == "TIMEOUT":
                timeouts.setdefault(labels(name), frozenset(seen))
                continue
            for rtype, value in rec.items():
                if value != "NONE":
                    seen.add(QTYPES[rtype])
                if rtype in ("TXT", "SPF"):
                    if value == "NONE":
                        continue
                    lines.append(f"{own} 60 {rtype} {_txt_rdata(value)}\n")
                    if rtype == "SPF" and not has_txt:
                        spf_copies.append(value)
                elif rtype == "MX":
                    pref, target = value
                    lines.append(f"{own} 60 MX {int(pref)} {owner(target)}\n")
                elif rtype in ("PTR", "CNAME"):
                    lines.append(f"{own} 60 {rtype} {owner(value)}\n")
                elif rtype in ("A", "AAAA"):
                    lines.append(f"{own} 60 {rtype} {value}\n")
                else:
                    raise ValueError(f"zonedata {name}: unknown record type {rtype}")
        for value in spf_copies:
            lines.append(f"{own} 60 TXT {_txt_rdata(value)}\n")
    return "".join(lines), timeouts


def zone_set(zonedata, folder):
    """Write ZONEDATA as the zone set FOLDER (root.zone); returns the TIMEOUT
    names (see zone_text)."""
    os.makedirs(folder, exist_ok=True)
    text, timeouts = zone_text(zonedata)
    with open(os.path.join(folder, "root.zone"), "w", encoding="ascii") as f:
        f.write(text)
    return timeouts


def labels(name):
    """A name as a tuple of lower-cased labels (bytes), the way it compares."""
    return tuple(_bytes(lab).lower() for lab in name.rstrip(".").split(".") if lab != "")


def _question(msg):
    """The question of a DNS message: (labels, type), or (None, None)."""
    pos, out = 12, []
    while pos < len(msg):
        n = msg[pos]
        if n == 0:
            if pos + 3 > len(msg):
                break
            return tuple(out), struct.unpack("!H", msg[pos + 1:pos + 3])[0]
        if n & 0xC0:
            break
        out.append(bytes(msg[pos + 1:pos + 1 + n]).lower())
        pos += 1 + n
    return None, None


class TimeoutFront:
    """UDP and TCP on ADDR:PORT in front of Knot; see the module comment."""

    def __init__(self, addr, port, knot_addr, knot_port):
        self.knot = (knot_addr, knot_port)
        self.timeouts = {}
        self.stop = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind((addr, port))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, port))
        self.tcp.listen(64)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def _stalled(self, msg):
        name, qtype = _question(msg)
        answered = self.timeouts.get(name)
        return answered is not None and qtype not in answered

    def _udp_one(self, msg, client):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(3)
            try:
                up.sendto(msg, self.knot)
                answer = up.recv(65535)
                self.udp.sendto(answer, client)
            except OSError:
                pass

    def _udp_loop(self):
        while not self.stop.is_set():
            try:
                msg, client = self.udp.recvfrom(65535)
            except OSError:
                continue
            if self._stalled(msg):
                continue
            threading.Thread(target=self._udp_one, args=(msg, client), daemon=True).start()

    @staticmethod
    def _read(sock, n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def _tcp_conn(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                while not self.stop.is_set():
                    (n,) = struct.unpack("!H", self._read(conn, 2))
                    msg = self._read(conn, n)
                    if self._stalled(msg):
                        continue
                    with socket.create_connection(self.knot, timeout=3) as up:
                        up.sendall(struct.pack("!H", len(msg)) + msg)
                        (m,) = struct.unpack("!H", self._read(up, 2))
                        conn.sendall(struct.pack("!H", m) + self._read(up, m))
            except OSError:
                pass

    def _tcp_loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        self.udp.close()
        self.tcp.close()
