#!/usr/bin/python3
"""Count client connections in a mail-lab Dovecot log (stdlib only).

Every client connection produces exactly one line from the login process
(imap-login / pop3-login):
  * "Login: user=<u>, method=M, rip=R, rport=P, lip=L, lport=Q, mpid=N, TLS, session=<S>"
    when it logged in; the post-login process then ends it with
    "imap(u)<pid><S>: Info: Disconnected: ..." (or pop3(...)).
  * "Disconnected: <reason> (...): user=<u>, ..., rip=..., lip=..., lport=..., session=<S>"
    (or "Aborted login") when it never logged in: auth failed, closed, TLS error.

This script reads those lines (optionally only from a byte offset, so a test
can remember the log size before it starts) and prints JSON:

  connections     all connections seen (logins + pre-login disconnects)
  logins          successful logins
  auth_failed     connections that ended with "auth failed"
  by_lport        connections per local port ("10993": 12, ...)
  by_lip          connections per local (server) address
  by_user         successful logins per user
  max_concurrent  the most logged-in sessions open at the same time, from the
                  Login and Disconnected timestamps (microseconds). A session
                  is counted from its Login line, so this is a lower bound of
                  the TCP connections open at once (pre-login time is missing).
  open_sessions   logged-in sessions with no Disconnected line yet

usage: connections.py LOG [--since-offset N] [--lip ADDR] [--lport PORT] [--proto imap|pop3]
"""

import argparse
import datetime
import json
import re
import sys

TS = r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)"
LOGIN = re.compile(TS + r" (?P<proto>imap|pop3)-login: Info: Login: (?P<rest>.*)$")
PRE = re.compile(TS + r" (?P<proto>imap|pop3)-login: Info: (?:Disconnected|Aborted login)(?P<rest>.*)$")
END = re.compile(TS + r" (?P<proto>imap|pop3)\((?P<user>[^)]*)\)<\d+><(?P<session>[^>]*)>: "
                 r"Info: Disconnected(?P<rest>.*)$")
FIELD = re.compile(r"(\w+)=<?([^,>]*)>?")


def ts_of(s):
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in s else "%Y-%m-%d %H:%M:%S"
    return datetime.datetime.strptime(s, fmt).timestamp()


def fields(rest):
    return dict(FIELD.findall(rest))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--since-offset", type=int, default=0,
                    help="start reading at this byte offset (e.g. the log size before a test)")
    ap.add_argument("--lip", help="only connections to this server address")
    ap.add_argument("--lport", help="only connections to this server port")
    ap.add_argument("--proto", choices=("imap", "pop3"))
    a = ap.parse_args()

    with open(a.log, "rb") as f:
        f.seek(a.since_offset)
        data = f.read().decode("utf-8", "replace")

    def wanted(proto, fl):
        return ((a.proto is None or proto == a.proto) and
                (a.lip is None or fl.get("lip") == a.lip) and
                (a.lport is None or fl.get("lport") == str(a.lport)))

    out = {"connections": 0, "logins": 0, "auth_failed": 0, "by_lport": {}, "by_lip": {},
           "by_user": {}, "max_concurrent": 0, "open_sessions": 0}
    starts = {}   # session -> login time
    ended_early = {}  # session -> end time, for ends logged before their Login
    events = []   # (time, +1/-1)
    for line in data.splitlines():
        m = LOGIN.match(line)
        if m:
            fl = fields(m["rest"])
            if not wanted(m["proto"], fl):
                continue
            out["connections"] += 1
            out["logins"] += 1
            for key, k in (("by_lport", "lport"), ("by_lip", "lip"), ("by_user", "user")):
                v = fl.get(k, "?")
                out[key][v] = out[key].get(v, 0) + 1
            sess, t0 = fl.get("session"), ts_of(m["ts"])
            if sess in ended_early:
                # The log process took the session's end from the imap
                # process's pipe before imap-login's Login line: a session
                # that is already over.
                t1 = ended_early.pop(sess)
                events.append((t0, 1))
                events.append((max(t0, t1), -1))
            else:
                starts[sess] = t0
            continue
        m = PRE.match(line)
        if m:
            fl = fields(m["rest"])
            if not wanted(m["proto"], fl):
                continue
            out["connections"] += 1
            if "auth failed" in m["rest"]:
                out["auth_failed"] += 1
            for key, k in (("by_lport", "lport"), ("by_lip", "lip")):
                v = fl.get(k, "?")
                out[key][v] = out[key].get(v, 0) + 1
            continue
        m = END.match(line)
        if m and m["session"] in starts:
            t0 = starts.pop(m["session"])
            events.append((t0, 1))
            events.append((ts_of(m["ts"]), -1))
        elif m:
            ended_early[m["session"]] = ts_of(m["ts"])
    out["open_sessions"] = len(starts)
    for t0 in starts.values():
        events.append((t0, 1))
    cur = 0
    # at equal timestamps count ends before starts (log resolution is 1 us)
    for _, d in sorted(events, key=lambda e: (e[0], e[1])):
        cur += d
        out["max_concurrent"] = max(out["max_concurrent"], cur)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
