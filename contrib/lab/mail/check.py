#!/usr/bin/python3
"""Self-test of the running mail lab (stdlib only): `mail.sh check`.

Checks TLS (lab CA, untrusted without it, hostname mismatch, expiring and
expired certificates), STARTTLS/STLS, LOGINDISABLED, logins with good and bad
passwords on both sides and both protocols, the master user (LOGIN user*admin
and AUTHENTICATE PLAIN with an authorization identity), carol's password as a
quoted string and as a literal, GETQUOTAROOT, LIST names against the manifest,
STATUS (MESSAGES SIZE) against the manifest, 200 concurrent logins, and that
connections.py counts them. Prints one line per check; exit 1 if any failed.
"""

import imaplib
import json
import os
import poplib
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB_RUN = os.environ.get("LAB_RUN", os.path.join(os.path.dirname(HERE), "run"))
MAIL_RUN = os.path.join(LAB_RUN, "mail")
failures = []


def env():
    e = {}
    with open(os.path.join(MAIL_RUN, "lab.env")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                e[k] = v
    return e


def users():
    u = {}
    with open(os.path.join(MAIL_RUN, "users.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            side, role, user, pw = line.rstrip("\n").split("\t")
            u[(side, user)] = pw
    return u


def check(name, fn):
    try:
        detail = fn()
        print("ok   %s%s" % (name, (": " + detail) if detail else ""))
    except Exception as e:  # noqa: BLE001 - report everything
        failures.append(name)
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))


def expect_fail(fn, *needles):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        if needles and not any(n in msg for n in needles):
            raise AssertionError("failed, but not as expected: %s" % msg)
        return msg
    raise AssertionError("succeeded but should have failed")


def main():
    E = env()
    U = users()
    ca = E["LAB_CA"]
    S, D = E["LAB_SRC_ADDR"], E["LAB_DST_ADDR"]
    sp = {k: int(E["LAB_SRC_" + k]) for k in ("IMAP", "IMAPS", "POP3", "POP3S")}
    dp = {k: int(E["LAB_DST_" + k]) for k in ("IMAP", "IMAPS", "POP3", "POP3S")}
    ctx = ssl.create_default_context(cafile=ca)
    manifest = None
    mpath = os.path.join(MAIL_RUN, "manifest.json")
    if os.path.exists(mpath):
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)

    def tls_probe(host, port, context, server_hostname=None):
        with socket.create_connection((host, port), timeout=5) as s:
            with context.wrap_socket(s, server_hostname=server_hostname or host) as t:
                cert = t.getpeercert()
                return t.version(), cert

    # --- TLS -------------------------------------------------------------
    for side, host, ports in (("source", S, sp), ("destination", D, dp)):
        for k in ("IMAPS", "POP3S"):
            check("%s %s tls verifies with lab CA" % (side, k),
                  lambda h=host, p=ports[k]: "%s, notAfter %s" % (
                      tls_probe(h, p, ctx)[0], tls_probe(h, p, ctx)[1]["notAfter"]))
        check("%s IMAPS untrusted without lab CA" % side,
              lambda h=host, p=ports["IMAPS"]: expect_fail(
                  lambda: tls_probe(h, p, ssl.create_default_context()),
                  "unable to get local issuer"))
    check("source hostname mismatch on %s" % E["LAB_SRC_WRONGHOST_ADDR"],
          lambda: expect_fail(lambda: tls_probe(E["LAB_SRC_WRONGHOST_ADDR"], sp["IMAPS"], ctx),
                              "Hostname mismatch", "doesn't match", "not valid for"))

    def expiring():
        _, cert = tls_probe(E["LAB_SRC_EXPIRING_ADDR"], sp["IMAPS"], ctx)
        days = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400
        assert 0 < days <= 5.01, days
        return "%.1f days left" % days
    check("source expiring certificate on %s" % E["LAB_SRC_EXPIRING_ADDR"], expiring)
    check("source expired certificate on %s" % E["LAB_SRC_EXPIRED_ADDR"],
          lambda: expect_fail(lambda: tls_probe(E["LAB_SRC_EXPIRED_ADDR"], sp["IMAPS"], ctx),
                              "certificate has expired"))

    # --- STARTTLS / LOGINDISABLED ----------------------------------------
    def starttls(host, port, user, pw, want_logindisabled):
        m = imaplib.IMAP4(host, port, timeout=5)
        pre = set(m.capabilities)
        assert "STARTTLS" in pre, pre
        assert ("LOGINDISABLED" in pre) == want_logindisabled, pre
        m.starttls(ctx)
        assert "LOGINDISABLED" not in m.capabilities
        m.login(user, pw)
        m.logout()
        return "pre-TLS capabilities: " + " ".join(sorted(pre))
    check("source IMAP STARTTLS, no LOGINDISABLED",
          lambda: starttls(S, sp["IMAP"], "alice@lab.test", U[("source", "alice@lab.test")], False))
    check("destination IMAP LOGINDISABLED before STARTTLS",
          lambda: starttls(D, dp["IMAP"], "alice@lab.test",
                           U[("destination", "alice@lab.test")], True))

    def plain_login(host, port, pw):
        m = imaplib.IMAP4(host, port, timeout=5)
        m.login("alice@lab.test", pw)
        m.logout()
    check("source IMAP plaintext login allowed without TLS",
          lambda: plain_login(S, sp["IMAP"], U[("source", "alice@lab.test")]))
    check("destination IMAP plaintext login refused",
          lambda: expect_fail(lambda: plain_login(D, dp["IMAP"],
                                                  U[("destination", "alice@lab.test")])))

    # --- logins ----------------------------------------------------------
    def imap_login(host, port, user, pw, authz=None, literal=False):
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=5)
        try:
            if authz is not None:
                m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (authz, user, pw)).encode())
            elif literal:
                m.literal = pw.encode()
                typ, dat = m._simple_command("LOGIN", m._quote(user))
                if typ != "OK":
                    raise imaplib.IMAP4.error(dat)
                m.state = "AUTH"
            else:
                m._encoding = "utf-8"
                m.login(user, pw)
            typ, dat = m.getquotaroot("INBOX")
            return "quota " + dat[1][0].decode() if typ == "OK" and dat[1] else ""
        finally:
            try:
                m.logout()
            except Exception:  # noqa: BLE001
                pass

    def pop_login(host, port, user, pw, stls):
        p = poplib.POP3(host, port, timeout=5) if stls else poplib.POP3_SSL(host, port, context=ctx, timeout=5)
        if stls:
            p.stls(ctx)
        p.user(user)
        p.pass_(pw)
        n, size = p.stat()
        p.quit()
        return "STAT %d %d" % (n, size)

    for side, host, ports in (("source", S, sp), ("destination", D, dp)):
        for user in ("alice@lab.test", "bob@lab.test", "carol@lab.test"):
            pw = U[(side, user)]
            check("%s IMAPS login %s" % (side, user),
                  lambda h=host, p=ports["IMAPS"], u=user, w=pw: imap_login(h, p, u, w))
            check("%s IMAPS bad password %s" % (side, user),
                  lambda h=host, p=ports["IMAPS"], u=user, w=pw: expect_fail(
                      lambda: imap_login(h, p, u, w + "x"), "AUTHENTICATIONFAILED"))
            check("%s POP3S login %s" % (side, user),
                  lambda h=host, p=ports["POP3S"], u=user, w=pw: pop_login(h, p, u, w, False))
            check("%s POP3 STLS login %s" % (side, user),
                  lambda h=host, p=ports["POP3"], u=user, w=pw: pop_login(h, p, u, w, True))
            check("%s POP3S bad password %s" % (side, user),
                  lambda h=host, p=ports["POP3S"], u=user, w=pw: expect_fail(
                      lambda: pop_login(h, p, u, w + "x", False), "-ERR"))
        check("%s carol password as literal" % side,
              lambda h=host, p=ports["IMAPS"], w=U[(side, "carol@lab.test")]:
              imap_login(h, p, "carol@lab.test", w, literal=True))
        admin = U[(side, "admin")]
        check("%s master LOGIN alice@lab.test*admin" % side,
              lambda h=host, p=ports["IMAPS"], w=admin: imap_login(h, p, "alice@lab.test*admin", w))
        check("%s master AUTHENTICATE PLAIN authz=carol authc=admin@lab.test" % side,
              lambda h=host, p=ports["IMAPS"], w=admin: imap_login(
                  h, p, "admin@lab.test", w, authz="carol@lab.test"))
        check("%s master POP3 user001@lab.test*admin" % side,
              lambda h=host, p=ports["POP3S"], w=admin: pop_login(
                  h, p, "user001@lab.test*admin", w, False))
        check("%s master with wrong password fails" % side,
              lambda h=host, p=ports["IMAPS"], w=admin: expect_fail(
                  lambda: imap_login(h, p, "alice@lab.test*admin", w + "x")))

    # --- folders vs manifest -----------------------------------------------
    def folders(side, host, port, user):
        side_m = (manifest or {}).get("sides", {}).get(side, {}).get("users", {}).get(user)
        if side_m is None:
            return "not populated, skipped"
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=10)
        m.login(user, U[(side, user)])
        typ, lines = m.list()
        listed = {}
        for raw in lines:
            flags, rest = raw.decode().split(") ", 1)
            sep, name = rest.split(" ", 1)
            listed[name.strip('"')] = (flags + ")", sep.strip('"'))
        for f in side_m["folders"]:
            assert f["raw_name"] in listed, "%s not in LIST %s" % (f["raw_name"], sorted(listed))
            assert listed[f["raw_name"]][1] == side_m["separator"]
            if f["special_use"]:
                assert f["special_use"] in listed[f["raw_name"]][0], listed[f["raw_name"]]
            quoted = '"%s"' % f["raw_name"].replace("\\", "\\\\").replace('"', '\\"')
            typ, dat = m.status(quoted, "(MESSAGES SIZE)")
            assert typ == "OK", dat
            txt = dat[0].decode()
            want = "MESSAGES %d SIZE %d" % (f["messages"], f["bytes"])
            assert want in txt, "%s: %s, want %s" % (f["name"], txt, want)
        m.logout()
        return "%d folders, %d messages, separator %r" % (
            len(side_m["folders"]), side_m["total_messages"], side_m["separator"])
    check("source alice LIST + STATUS SIZE match manifest",
          lambda: folders("source", S, sp["IMAPS"], "alice@lab.test"))
    check("source bob LIST + STATUS SIZE match manifest",
          lambda: folders("source", S, sp["IMAPS"], "bob@lab.test"))
    check("destination alice LIST + STATUS SIZE match manifest",
          lambda: folders("destination", D, dp["IMAPS"], "alice@lab.test"))

    # --- the hoster source: INBOX. prefix, no SPECIAL-USE ---------------------
    def hoster():
        H, hp = E["LAB_HST_ADDR"], int(E["LAB_HST_IMAPS"])
        m = imaplib.IMAP4_SSL(H, hp, ssl_context=ctx)
        m.login("alice@lab.test", U[("hoster", "alice@lab.test")])
        caps = set(m.capabilities)
        for absent in ("SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE"):
            assert absent not in caps, "%s offered" % absent
        typ, dat = m.namespace()
        assert typ == "OK" and dat[0].startswith(b'(("INBOX." "."))'), dat
        typ, lst = m.list('""', "*")
        assert typ == "OK" and not any(b"\\Sent" in x for x in lst if x), lst
        m.logout()
        return "NAMESPACE %s, no SPECIAL-USE, %d folders listed" % (dat[0].decode(), len(lst))
    if "LAB_HST_ADDR" in E:
        check("hoster alice: INBOX. namespace, no SPECIAL-USE", hoster)

    # --- 200 concurrent logins + counting them from the log ------------------
    log = E["LAB_SRC_LOG"]

    def concurrent(n, limit):
        offset = os.path.getsize(log)
        sem = threading.Semaphore(limit)
        barrier = threading.Barrier(n) if limit >= n else None
        errors = []

        def one(i):
            user = "user%03d@lab.test" % i
            with sem:
                try:
                    m = imaplib.IMAP4_SSL(S, sp["IMAPS"], ssl_context=ctx, timeout=30)
                    m.login(user, U[("source", user)])
                    if barrier:
                        barrier.wait(timeout=30)
                    m.logout()
                except Exception as e:  # noqa: BLE001
                    errors.append("%s: %s" % (user, e))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(1, n + 1)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        took = time.monotonic() - t0
        assert not errors, errors[:3]
        time.sleep(0.5)  # let the log process write the Disconnected lines
        out = subprocess.run([sys.executable, os.path.join(HERE, "connections.py"), log,
                              "--since-offset", str(offset), "--lport", str(sp["IMAPS"])],
                             capture_output=True, text=True, check=True).stdout
        c = json.loads(out)
        assert c["logins"] == n, c
        assert c["max_concurrent"] <= limit, c
        if barrier:
            assert c["max_concurrent"] == n, c
        return "%d logins in %.2f s, log says max_concurrent=%d" % (n, took, c["max_concurrent"])
    check("source 200 concurrent IMAPS logins (all open at once)", lambda: concurrent(200, 200))
    check("source 200 IMAPS logins, at most 4 at once", lambda: concurrent(200, 4))

    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
