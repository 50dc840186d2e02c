"""imap.tls, imap.login, pop3.tls, pop3.login against the real Dovecot lab.

Every case of issue 3's "Done when": good and bad passwords on both sides and
both protocols, a closed port, STARTTLS on the plain port, an untrusted CA,
a hostname mismatch, plaintext refused without --allow-plaintext,
LOGINDISABLED, admin (master user) login, a password with quotes and
non-ASCII, 200 mailboxes under a per-host limit counted from Dovecot's log,
and no password anywhere in output, report or log. A scripted peer on
loopback plays only what no real server does (cut replies, a huge literal,
garbage, a stall).
"""
import json
import socket
import threading
import time

import pytest

SECRET_MIN = 4


def all_passwords(lab):
    return [pw for pw in lab.passwords.values() if len(pw) >= SECRET_MIN]


def assert_no_secrets(lab, run, extra=()):
    """No password of the lab (nor EXTRA) in stdout, stderr or the report."""
    texts = [run.stdout, run.stderr, json.dumps(run.report, ensure_ascii=False)]
    for pw in list(all_passwords(lab)) + list(extra):
        for t in texts:
            assert pw not in t, "a password leaked into the output"


def write_plan(tmp_path, source=None, destination=None, mailboxes=(), csv=None, name="plan.json"):
    plan = {"domain": "lab.test"}
    if source is not None:
        plan["source"] = source
    if destination is not None:
        plan["destination"] = destination
    plan["mailboxes"] = list(mailboxes)
    if csv is not None:
        plan["mailboxes_csv"] = str(csv)
    path = tmp_path / name
    path.write_text(json.dumps(plan, ensure_ascii=False))
    return path


def mbox(lab, user, src_pw=None, dst_pw=None):
    m = {"source_user": user, "dest_user": user}
    m["source_password"] = src_pw if src_pw is not None else lab.password("source", user)
    m["dest_password"] = dst_pw if dst_pw is not None else lab.password("destination", user)
    return m


def urls(lab, side, imap="imaps", pop3="pop3s", addr=None):
    a = addr or lab.addr[side]
    d = {}
    if imap:
        d["imap"] = f"{imap}://{a}:{lab.ports[side][imap]}"
    if pop3:
        d["pop3"] = f"{pop3}://{a}:{lab.ports[side][pop3]}"
    return d


def test_good_and_bad_passwords_both_sides_both_protocols(mail_lab, cutover, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source"), urls(lab, "destination"), [
        mbox(lab, "alice@lab.test"),
        mbox(lab, "bob@lab.test", src_pw="not-bobs-password"),
        mbox(lab, "user001@lab.test", dst_pw=lab.password("source", "user001@lab.test")),
    ])
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 2, run.stderr
    for proto in ("imap", "pop3"):
        for side in ("source", "destination"):
            ok = run.check(f"{proto}.login", "alice@lab.test", side)
            assert ok["status"] == "pass" and ok["details"]["result"] == "ok", ok
            assert ok["details"]["tls"]["verified"] is True
            assert ok["details"]["capabilities"], "capabilities are reported"
        bad = run.check(f"{proto}.login", "bob@lab.test", "source")
        assert bad["status"] == "fail" and bad["details"]["result"] == "auth_failed"
        assert "Authentication failed" in bad["summary"]
        assert bad["advice"]
        assert run.check(f"{proto}.login", "bob@lab.test", "destination")["details"]["result"] == "ok"
        # the source password swapped onto the destination fails there only
        assert run.check(f"{proto}.login", "user001@lab.test", "source")["details"]["result"] == "ok"
        assert (run.check(f"{proto}.login", "user001@lab.test", "destination")["details"]["result"]
                == "auth_failed")
    caps = run.check("imap.login", "alice@lab.test", "source")["details"]["capabilities"]
    assert "IMAP4rev1" in caps and "QUOTA" in caps, "post-login capabilities"
    assert_no_secrets(lab, run, ["not-bobs-password"])


def test_tls_endpoints_both_modes(mail_lab, cutover, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source"),
                      urls(lab, "destination", imap="imap", pop3="pop3"), [])
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 0, run.stdout + run.stderr
    for side in ("source", "destination"):
        a = lab.addr[side]
        for proto, implicit, plain in (("imap", "imaps", "imap"), ("pop3", "pop3s", "pop3")):
            i = run.check(f"{proto}.tls", f"{a}:{lab.ports[side][implicit]}", side)
            s = run.check(f"{proto}.tls", f"{a}:{lab.ports[side][plain]}", side)
            assert i["details"]["mode"] == "implicit" and s["details"]["mode"] == "starttls"
            for c in (i, s):
                assert c["status"] == "pass", c
                t = c["details"]["tls"]
                assert t["verified"] and t["version"].startswith("TLSv1")
                assert "CN=localhost" in t["cert_subject"]
                assert "cutover lab CA" in t["cert_issuer"]
                assert t["days_left"] > 14 and t["cert_expires"].endswith("Z")
            # the plan names one port; the other mode's port is derived
            assert (i["details"]["from_plan"], s["details"]["from_plan"]) == (
                (True, False) if side == "source" else (False, True))


def test_plan_names_the_other_port(mail_lab, cutover, tmp_path):
    """imap_other_port / pop3_other_port replace the derived second port:
    a port number probes that one, 0 probes only the URL's port."""
    lab = mail_lab
    src = urls(lab, "source")
    src["imap_other_port"] = lab.ports["source"]["imap"]
    src["pop3_other_port"] = 0
    # A STARTTLS URL whose derived port (x993) would be right, told to use 0.
    dst = urls(lab, "destination", imap="imap", pop3=None)
    dst["imap_other_port"] = 0
    run = cutover("audit", write_plan(tmp_path, src, dst, []), "--only", "imap,pop3",
                  "--ca-file", lab.ca)
    assert run.rc == 0, run.stdout + run.stderr
    tls = sorted((c["id"], c["subject"], c["side"]) for c in run.report["checks"]
                 if c["id"].endswith(".tls"))
    a, d = lab.addr["source"], lab.addr["destination"]
    assert tls == sorted([
        ("imap.tls", f"{a}:{lab.ports['source']['imaps']}", "source"),
        ("imap.tls", f"{a}:{lab.ports['source']['imap']}", "source"),
        ("pop3.tls", f"{a}:{lab.ports['source']['pop3s']}", "source"),
        ("imap.tls", f"{d}:{lab.ports['destination']['imap']}", "destination"),
    ])
    named = run.check("imap.tls", f"{a}:{lab.ports['source']['imap']}", "source")
    assert named["status"] == "pass" and named["details"]["mode"] == "starttls"


def test_other_port_value_is_checked(cutover, tmp_path):
    path = write_plan(tmp_path, {"imap": "imaps://127.0.0.1:993", "imap_other_port": 70000})
    run = cutover("audit", path, "--only", "imap")
    assert run.rc == 65
    assert "source.imap_other_port" in run.stderr and "65535" in run.stderr


def closed_imaps_port():
    """A port N993 whose derived STARTTLS port N143 is closed too (nothing
    listens on either: other labs may run beside this one)."""
    import socket
    for k in range(21, 65):
        ok = True
        for port in (k * 1000 + 993, k * 1000 + 143):
            with socket.socket() as sk:
                sk.settimeout(1)
                if sk.connect_ex(("127.0.0.1", port)) == 0:
                    ok = False
        if ok:
            return k * 1000 + 993
    raise AssertionError("no closed port pair found")


def test_closed_port(mail_lab, cutover, tmp_path):
    lab = mail_lab
    closed = closed_imaps_port()  # its derived STARTTLS port is closed as well
    plan = write_plan(tmp_path, {"imap": f"imaps://127.0.0.1:{closed}"}, None,
                      [mbox(lab, "alice@lab.test")])
    run = cutover("audit", plan, "--only", "imap", "--ca-file", lab.ca)
    assert run.rc == 2
    login = run.check("imap.login", "alice@lab.test", "source")
    assert login["details"]["result"] == "connect_failed"
    assert login["status"] == "error"
    assert "refused" in login["summary"].lower() and f"{closed}" in login["summary"]
    assert login["details"]["tls"] is None and login["details"]["capabilities"] == []
    tls = run.check("imap.tls", f"127.0.0.1:{closed}", "source")
    assert tls["status"] == "fail" and tls["details"]["result"] == "connect_failed"
    derived = run.check("imap.tls", f"127.0.0.1:{closed - 850}", "source")
    assert derived["status"] == "skip" and derived["details"]["result"] == "connect_failed"


def test_starttls_on_the_plain_port(mail_lab, cutover, tmp_path):
    lab = mail_lab
    since = lab.log_size("destination")
    plan = write_plan(tmp_path, None, urls(lab, "destination", imap="imap", pop3="pop3"),
                      [mbox(lab, "alice@lab.test")])
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 0, run.stdout
    for proto in ("imap", "pop3"):
        c = run.check(f"{proto}.login", "alice@lab.test", "destination")
        assert c["details"]["mode"] == "starttls" and c["details"]["tls"]["verified"]
    log = lab.log_since("destination", since)
    logins = [ln for ln in log.splitlines() if "-login: Info: Login:" in ln]
    assert len(logins) == 2 and all(", TLS," in ln for ln in logins), logins


def test_untrusted_ca_fails_without_ca_file_and_passes_with_it(mail_lab, cutover, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source"), None, [mbox(lab, "alice@lab.test")])
    since = lab.log_size("source")
    run = cutover("audit", plan, "--only", "imap,pop3")
    assert run.rc == 2
    for proto in ("imap", "pop3"):
        login = run.check(f"{proto}.login", "alice@lab.test", "source")
        assert login["details"]["result"] == "tls_failed" and login["status"] == "fail"
        assert "unable to get local issuer certificate" in login["summary"]
        assert login["details"]["tls"]["verified"] is False
        tls = run.check(f"{proto}.tls", f"127.0.0.1:{lab.ports['source'][proto + 's']}", "source")
        assert tls["details"]["result"] == "tls_failed"
        assert "issuer" in tls["details"]["tls"]["verify_error"]
    # no credentials went to the server over the unverified connection
    assert "Login:" not in lab.log_since("source", since)
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 0
    # --insecure: the login proceeds, the report says it did not verify
    run = cutover("audit", plan, "--only", "imap", "--insecure")
    assert run.check("imap.login", "alice@lab.test", "source")["details"]["result"] == "ok"
    tls = run.check("imap.tls", f"127.0.0.1:{lab.ports['source']['imaps']}", "source")
    assert tls["status"] == "warn" and tls["details"]["tls"]["verified"] is False
    assert run.report["options"]["insecure"] is True


def test_hostname_mismatch_expiring_and_expired(mail_lab, cutover, tmp_path):
    lab = mail_lab
    p = lab.ports["source"]["imaps"]
    for addr, status, what in ((lab.wronghost, "fail", "does not name 127.0.0.3"),
                               (lab.expiring, "warn", "expires in"),
                               (lab.expired, "fail", "expired")):
        plan = write_plan(tmp_path, {"imap": f"imaps://{addr}:{p}"}, None,
                          [mbox(lab, "alice@lab.test")], name=f"plan-{addr}.json")
        run = cutover("audit", plan, "--only", "imap", "--ca-file", lab.ca)
        tls = run.check("imap.tls", f"{addr}:{p}", "source")
        assert tls["status"] == status, tls
        assert what in tls["summary"], tls["summary"]
        login = run.check("imap.login", "alice@lab.test", "source")
        if status == "fail":
            assert login["details"]["result"] == "tls_failed"
        else:
            assert tls["details"]["tls"]["days_left"] < 14
            assert login["details"]["result"] == "ok"


def test_imap_and_web_describe_one_certificate_alike(mail_lab, dns_lab, web_lab, cutover,
                                                     tmp_path):
    """The lab's wrong-host certificate (contrib/lab/ca.sh: CN=wrong.example,
    by the lab CA) as imap.tls sees it on the mail lab and web.webmail on the
    web lab: the same subject and issuer text, the same keys, the same
    mismatch wording."""
    lab = mail_lab
    p = lab.ports["source"]["imaps"]
    plan = write_plan(tmp_path, {"imap": f"imaps://{lab.wronghost}:{p}"}, None,
                      [mbox(lab, "alice@lab.test")], name="plan-imap.json")
    imap = cutover("audit", plan, "--only", "imap", "--ca-file", lab.ca)
    imap_tls = imap.check("imap.tls", f"{lab.wronghost}:{p}", "source")["details"]["tls"]

    web_plan = tmp_path / "plan-web.json"
    web_plan.write_text(json.dumps({
        "domain": "rs.test", "ca_file": web_lab["ca"],
        "source": {"profile": "rackspace", "webmail": "https://wrong.web.test/"},
        "destination": {"profile": "microsoft365"}}))
    web = cutover("audit", web_plan, "--only", "web", "--resolver", dns_lab,
                  *web_lab["connect_to"])
    web_tls = web.check("web.webmail", side="source")["details"]["tls"]

    assert imap_tls["cert_subject"] == web_tls["cert_subject"]
    assert imap_tls["cert_subject"].endswith("CN=wrong.example")
    assert imap_tls["cert_issuer"] == web_tls["cert_issuer"]
    assert "CN=cutover lab CA" in imap_tls["cert_issuer"]
    assert set(imap_tls) == set(web_tls)
    assert imap_tls["verified"] is False and web_tls["verified"] is False
    assert imap_tls["verify_error"] == f"certificate does not name {lab.wronghost}"
    assert web_tls["verify_error"] == "certificate does not name wrong.web.test"


def test_plaintext_refused_without_allow_plaintext(mail_lab, cutover, tmp_path):
    lab = mail_lab
    # 127.0.0.6 offers no STARTTLS/STLS at all
    plan = write_plan(tmp_path, urls(lab, "source", imap="imap", pop3="pop3", addr=lab.notls),
                      None, [mbox(lab, "alice@lab.test")])
    since = lab.log_size("source")
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 2
    for proto in ("imap", "pop3"):
        c = run.check(f"{proto}.login", "alice@lab.test", "source")
        assert c["details"]["result"] == "plaintext_refused" and c["status"] == "fail"
        assert "--allow-plaintext" in c["summary"]
    log = lab.log_since("source", since)
    assert "Login:" not in log and "auth failed" not in log, "no password was sent"
    assert "no auth attempts" in log
    assert_no_secrets(lab, run)
    # with --allow-plaintext the login goes through unencrypted
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca, "--allow-plaintext")
    for proto in ("imap", "pop3"):
        c = run.check(f"{proto}.login", "alice@lab.test", "source")
        assert c["details"]["result"] == "ok" and c["details"]["tls"] is None
    assert run.report["options"]["allow_plaintext"] is True
    assert_no_secrets(lab, run)


def test_logindisabled_is_honoured(mail_lab, cutover, tmp_path):
    """The destination's plain ports say LOGINDISABLED (and POP3 offers no USER)
    before TLS: even with --allow-plaintext the client upgrades first and never
    sends LOGIN/PASS in clear."""
    lab = mail_lab
    plan = write_plan(tmp_path, None, urls(lab, "destination", imap="imap", pop3="pop3"),
                      [mbox(lab, "alice@lab.test"), mbox(lab, "carol@lab.test")])
    since = lab.log_size("destination")
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca, "--allow-plaintext")
    assert run.rc == 0, run.stdout
    for proto in ("imap", "pop3"):
        for user in ("alice@lab.test", "carol@lab.test"):
            c = run.check(f"{proto}.login", user, "destination")
            assert c["details"]["result"] == "ok" and c["details"]["tls"]["verified"]
    log = lab.log_since("destination", since)
    assert "PRIVACYREQUIRED" not in log and "Plaintext authentication disallowed" not in log
    logins = [ln for ln in log.splitlines() if "-login: Info: Login:" in ln]
    assert len(logins) == 4 and all(", TLS," in ln for ln in logins)


def test_admin_master_user_login(mail_lab, cutover, tmp_path):
    lab = mail_lab
    src = dict(urls(lab, "source"), admin={"user": "admin", "password": lab.master("source")})
    dst = dict(urls(lab, "destination"),
               admin={"user": "admin@lab.test", "password": "wrong-master-pw"})
    plan = write_plan(tmp_path, src, dst, [
        {"source_user": "alice@lab.test", "dest_user": "alice@lab.test"},
        {"source_user": "carol@lab.test", "dest_user": "carol@lab.test"},
    ])
    since = lab.log_size("source")
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    for proto in ("imap", "pop3"):
        for user in ("alice@lab.test", "carol@lab.test"):
            c = run.check(f"{proto}.login", user, "source")
            assert c["details"]["result"] == "ok", c
            assert c["details"]["auth"] == "admin" and "via admin admin" in c["summary"]
            d = run.check(f"{proto}.login", user, "destination")
            assert d["details"]["result"] == "auth_failed" and d["details"]["auth"] == "admin"
    log = lab.log_since("source", since)
    # Dovecot logs the master login as the user it logged in as
    assert log.count("Login: user=<alice@lab.test>") == 2
    assert_no_secrets(lab, run, ["wrong-master-pw"])


def test_password_with_quotes_backslash_and_non_ascii(mail_lab, cutover, tmp_path):
    lab = mail_lab
    assert '"' in lab.password("source", "carol@lab.test")
    assert "ö" in lab.password("destination", "carol@lab.test")
    plan = write_plan(tmp_path, urls(lab, "source"),
                      urls(lab, "destination", imap="imap", pop3="pop3"),
                      [mbox(lab, "carol@lab.test")])
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", lab.ca)
    assert run.rc == 0, run.stdout
    for proto in ("imap", "pop3"):
        for side in ("source", "destination"):
            assert run.check(f"{proto}.login", "carol@lab.test", side)["details"]["result"] == "ok"
    assert_no_secrets(lab, run)


def test_pop3_works_imap_does_not_gets_advice(mail_lab, cutover, tmp_path):
    lab = mail_lab
    src = {"imap": f"imaps://127.0.0.1:{closed_imaps_port()}",
           "pop3": f"pop3s://127.0.0.1:{lab.ports['source']['pop3s']}"}
    plan = write_plan(tmp_path, src, None, [mbox(lab, "alice@lab.test")])
    run = cutover("audit", plan, "--only", "imap", "--ca-file", lab.ca)
    c = run.check("imap.login", "alice@lab.test", "source")
    assert c["details"]["result"] == "connect_failed"
    assert c["details"]["pop3_works"] is True
    assert "POP3 works" in c["advice"] and "computers" in c["advice"]


def test_200_mailboxes_with_per_host_limit(mail_lab, cutover, tmp_path):
    lab = mail_lab
    plan = write_plan(tmp_path, urls(lab, "source", pop3=None),
                      urls(lab, "destination", pop3=None), [], csv=lab.csv200)
    since = {s: lab.log_size(s) for s in ("source", "destination")}
    run = cutover("audit", plan, "--only", "imap", "--ca-file", lab.ca, "--per-host", "4",
                  timeout=300)
    assert run.rc == 0, run.stdout[-2000:]
    logins = [c for c in run.report["checks"] if c["id"] == "imap.login"]
    assert len(logins) == 400 and all(c["details"]["result"] == "ok" for c in logins)
    for side in ("source", "destination"):
        port = lab.ports[side]["imaps"]
        # Dovecot logs a session's end after our LOGOUT, which may be a moment
        # after cutover exits: wait (bounded) for the log to catch up.
        for _ in range(100):
            st = lab.connections(side, since[side], lport=port)
            if st["open_sessions"] == 0:
                break
            time.sleep(0.1)
        assert st["logins"] == 200, st
        assert 1 <= st["max_concurrent"] <= 4, st
        assert st["open_sessions"] == 0, st
    assert_no_secrets(lab, run)
    for side in ("source", "destination"):
        log = lab.log_since(side, 0)
        for pw in all_passwords(lab):
            assert pw not in log


# ---- a scripted peer for what no real server does ------------------------------------

class Peer:
    """A one-behaviour TCP server on 127.0.0.1 for hostile cases."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    def handle(self, c):
        try:
            self.behaviour(c)
        except OSError:
            pass

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


def recv_line(c):
    buf = b""
    while not buf.endswith(b"\n"):
        d = c.recv(1)
        if not d:
            break
        buf += d
    return buf


def cut_mid_line(c):
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PL")
    c.close()


def huge_literal(c):
    c.sendall(b"* OK ready\r\n")
    tag = recv_line(c).split(b" ")[0]
    c.sendall(b"* CAPABILITY {2147483648}\r\n")
    c.sendall(b"x" * 1000)
    recv_line(c)
    c.close()
    del tag


def garbage(c):
    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    recv_line(c)
    c.close()


def stall(c):
    c.recv(100)  # never greets


def echo_password(c):
    """A server that repeats the client's LOGIN line in its NO."""
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] hi\r\n")
    line = recv_line(c)
    tag = line.split(b" ")[0]
    c.sendall(tag + b" NO [AUTHENTICATIONFAILED] you said: " + line.strip() + b"\r\n")
    recv_line(c)
    c.close()


def pop3_echo_password(c):
    c.sendall(b"+OK hi\r\n")
    recv_line(c)  # CAPA
    c.sendall(b"+OK\r\nUSER\r\n.\r\n")
    recv_line(c)  # USER
    c.sendall(b"+OK\r\n")
    line = recv_line(c)
    c.sendall(b"-ERR [AUTH] you said: " + line.strip() + b"\r\n")
    recv_line(c)
    c.close()


def pop3_garbage(c):
    c.sendall(b"\x16\x03\x01\x00\x05hello\r\n")
    recv_line(c)
    c.close()


def pop3_long_line(c):
    c.sendall(b"+OK " + b"a" * 100000 + b"\r\n")
    recv_line(c)
    c.close()


@pytest.mark.parametrize("behaviour,proto,result,words", [
    (cut_mid_line, "imap", "protocol_error", "closed the connection"),
    (huge_literal, "imap", "protocol_error", "max_literal"),
    (garbage, "imap", "protocol_error", "tagged response without OK"),
    (stall, "imap", "timeout", "timed out in greeting"),
    (pop3_garbage, "pop3", "protocol_error", "NUL byte"),
    (garbage, "pop3", "protocol_error", "not a POP3 reply"),
    (pop3_long_line, "pop3", "protocol_error", "max_line"),
    (stall, "pop3", "timeout", "timed out in greeting"),
    (echo_password, "imap", "auth_failed", "you said: A001 LOGIN alice@lab.test ***"),
    (pop3_echo_password, "pop3", "auth_failed", "you said: PASS ***"),
])
def test_hostile_peer_gives_a_bounded_specific_error(cutover, tmp_path, behaviour, proto, result,
                                                    words):
    peer = Peer(behaviour)
    try:
        src = {proto: f"{proto}://127.0.0.1:{peer.port}"}
        plan = write_plan(tmp_path, src, None, [{"source_user": "alice@lab.test",
                                                 "source_password": "peer-secret-1",
                                                 "dest_user": "alice@lab.test",
                                                 "dest_password": "peer-secret-2"}])
        run = cutover("audit", plan, "--only", proto, "--allow-plaintext", "--timeout", "2",
                      timeout=60)
    finally:
        peer.close()
    c = run.check(f"{proto}.login", "alice@lab.test", "source")
    assert c["details"]["result"] == result, c
    assert words in c["summary"], c["summary"]
    for t in (run.stdout, run.stderr, json.dumps(run.report)):
        assert "peer-secret" not in t
