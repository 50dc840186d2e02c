"""The OAuth2 lab proves itself with Python's own clients (urllib, imaplib,
poplib): every grant of the lab IdP yields a token that logs in to the
OAuth2-only Dovecot with XOAUTH2 and OAUTHBEARER (IMAP) and XOAUTH2 (POP3);
bad tokens, password logins and bad assertions are refused; every error the
IdP can be told to answer comes back with its body."""
import base64
import imaplib
import json
import poplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import idp

EXCHANGE_CAPS = ("IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT "
                 "CHILDREN IDLE NAMESPACE LITERAL+").split()


@pytest.fixture
def lab(oauth_lab):
    oauth_lab.reset()
    yield oauth_lab
    oauth_lab.reset()


def claims_of(token):
    return idp.jwt_parse(token)[1]


def token(status_body):
    status, body = status_body
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return body["access_token"]


def xoauth2(user, tok):
    return f"user={user}\x01auth=Bearer {tok}\x01\x01".encode()


def oauthbearer(user, tok):
    return f"n,a={user},\x01auth=Bearer {tok}\x01\x01".encode()


def ctx(lab):
    return ssl.create_default_context(cafile=lab.ca)


def imap_login(lab, mech, user, tok):
    """(True, capabilities after login) or (False, (NO text, server's error challenge)).
    OAUTHBEARER goes to the instance that offers it."""
    addr = lab.bearer_addr if mech == "OAUTHBEARER" else lab.addr
    m = imaplib.IMAP4_SSL(addr, lab.ports["imaps"], ssl_context=ctx(lab), timeout=30)
    challenges = []

    def answer(challenge):
        if challenge:   # the server's error challenge: XOAUTH2 answers an empty
            challenges.append(json.loads(challenge))   # line, OAUTHBEARER %x01 (RFC 7628)
            return b"" if mech == "XOAUTH2" else b"\x01"
        return (xoauth2 if mech == "XOAUTH2" else oauthbearer)(user, tok)

    try:
        m.authenticate(mech, answer)
        m.noop()
        caps = m.capability()[1][0].decode().split()
        return True, caps
    except imaplib.IMAP4.error as e:
        return False, (str(e), challenges)
    finally:
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def pop3_login(lab, user, tok):
    p = poplib.POP3_SSL(lab.addr, lab.ports["pop3s"], context=ctx(lab), timeout=30)
    try:
        resp = p._shortcmd("AUTH XOAUTH2 " + base64.b64encode(xoauth2(user, tok)).decode())
        if resp.startswith(b"+ "):      # error challenge: an empty line ends the exchange
            p._putcmd("")
            resp = p._getresp()
        return resp.startswith(b"+OK") and p.stat()[0] >= 0
    except poplib.error_proto:
        return False
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            pass


def logs_in_everywhere(lab, user, tok):
    assert imap_login(lab, "XOAUTH2", user, tok)[0]
    assert imap_login(lab, "OAUTHBEARER", user, tok)[0]
    assert pop3_login(lab, user, tok)


def capabilities(lab, addr):
    m = imaplib.IMAP4_SSL(addr, lab.ports["imaps"], ssl_context=ctx(lab), timeout=30)
    try:
        return m.capabilities
    finally:
        m.shutdown()


def test_capabilities_like_exchange_online(lab):
    before = capabilities(lab, lab.addr)
    # the same names (Dovecot lists AUTH= last; order carries no meaning)
    assert sorted(before) == sorted(c.upper() for c in EXCHANGE_CAPS)
    assert "MULTIAPPEND" not in before and "AUTH=OAUTHBEARER" not in before
    # the second instance offers OAUTHBEARER too, nothing else differs
    assert set(capabilities(lab, lab.bearer_addr)) == set(before) | {"AUTH=OAUTHBEARER"}
    ok, after = imap_login(lab, "XOAUTH2", "alice@lab.test", token(lab.client_credentials()))
    assert ok
    assert "MULTIAPPEND" not in after and "UIDPLUS" in after and "IDLE" in after


def test_password_logins_are_refused(lab, mail_lab):
    pw = mail_lab.password("destination", "alice@lab.test")
    plain = imaplib.IMAP4(lab.addr, lab.ports["imap"], timeout=30)
    try:   # before STARTTLS, like a remote server: no LOGIN at all
        assert "LOGINDISABLED" in plain.capabilities and "STARTTLS" in plain.capabilities
    finally:
        plain.shutdown()
    m = imaplib.IMAP4_SSL(lab.addr, lab.ports["imaps"], ssl_context=ctx(lab), timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice@lab.test", pw)
        with pytest.raises(imaplib.IMAP4.error):
            m.authenticate("PLAIN", lambda _: f"\0alice@lab.test\0{pw}".encode())
    finally:
        m.shutdown()
    p = poplib.POP3_SSL(lab.addr, lab.ports["pop3s"], context=ctx(lab), timeout=30)
    try:
        p.user("alice@lab.test")
        with pytest.raises(poplib.error_proto):
            p.pass_(pw)
    finally:
        p.close()


def test_client_secret_grant(lab):
    since = lab.log_size()
    tok = token(lab.client_credentials("secret"))
    c = claims_of(tok)
    assert c["aud"] == "https://outlook.office365.com"
    assert set(c["roles"]) == {"IMAP.AccessAsApp", "POP.AccessAsApp"}
    assert "upn" not in c and "scp" not in c and c["exp"] > c["iat"]
    logs_in_everywhere(lab, "alice@lab.test", tok)
    logs_in_everywhere(lab, "user042@lab.test", tok)   # one token serves every mailbox
    assert not imap_login(lab, "XOAUTH2", "nobody@lab.test", tok)[0]
    tokens = lab.requests(since, endpoint="token")
    assert [(e["grant_type"], e["client_auth"], e["status"]) for e in tokens] == \
        [("client_credentials", "secret", 200)]
    # no secret and no token in the request log
    text = lab.request_log.read_text()
    assert lab.clients["secret"].secret not in text and tok not in text


def test_client_secret_as_http_basic(lab):
    """RFC 6749 2.3.1: the secret may come as HTTP Basic credentials."""
    c = lab.clients["secret"]
    basic = base64.b64encode(f"{c.id}:{urllib.parse.quote_plus(c.secret)}".encode()).decode()
    req = urllib.request.Request(
        lab.token_url, data=urllib.parse.urlencode({
            "grant_type": "client_credentials", "scope": lab.exchange_scope}).encode(),
        headers={"Authorization": f"Basic {basic}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, context=ctx(lab), timeout=30) as r:
        assert imap_login(lab, "XOAUTH2", "alice@lab.test", json.load(r)["access_token"])[0]
    bad = base64.b64encode(f"{c.id}:wrong".encode()).decode()
    req.headers["Authorization"] = f"Basic {bad}"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=ctx(lab), timeout=30)
    assert e.value.code == 401 and json.load(e.value)["error_codes"] == [7000215]


def test_client_certificate_grant(lab):
    assertion = lab.client_assertion()
    tok = token(lab.client_credentials(
        "certificate", client_assertion_type=idp.ASSERTION_TYPE, client_assertion=assertion))
    logs_in_everywhere(lab, "bob@lab.test", tok)
    assert assertion.split(".")[2] not in lab.request_log.read_text()


@pytest.mark.parametrize("bad, code", [
    ({"key_file": "other"}, 700027),                  # signed by a key that is not the cert's
    ({"cert_file": "other", "key_file": "other"}, 700027),  # certificate not registered
    ({"aud": "https://127.0.0.8/elsewhere/token"}, 700212),
    ({"exp": 1_000_000_000, "nbf": 999_999_000}, 700024),
])
def test_bad_client_assertion_refused(lab, bad, code):
    kw = {k: (getattr(lab, f"other_{k}") if v == "other" else v) for k, v in bad.items()
          if k in ("key_file", "cert_file")}
    claims = {k: v for k, v in bad.items() if k not in ("key_file", "cert_file")}
    status, body = lab.client_credentials(
        "certificate", client_assertion_type=idp.ASSERTION_TYPE,
        client_assertion=lab.client_assertion(**kw, **claims))
    assert status == 401
    assert body["error"] == "invalid_client" and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")


def test_service_account_grant(lab):
    tok = token(lab.service_account_grant("alice@lab.test"))
    c = claims_of(tok)
    assert c["email"] == "alice@lab.test" and c["scope"] == "https://mail.google.com/"
    logs_in_everywhere(lab, "alice@lab.test", tok)
    assert not imap_login(lab, "XOAUTH2", "bob@lab.test", tok)[0]   # a token for alice only
    status, body = lab.service_account_grant("stranger@lab.test")
    assert (status, body["error"], body["error_description"]) == (
        400, "invalid_grant", "Invalid email or User ID")
    status, body = lab.service_account_grant("alice@lab.test",
                                             scope="https://www.googleapis.com/auth/drive")
    assert (status, body["error"]) == (400, "unauthorized_client")
    now = int(time.time())
    status, body = lab.service_account_grant("alice@lab.test", iat=now + 3600, exp=now + 7200)
    assert (status, body["error"]) == (400, "invalid_grant")   # clock skew
    assert body["error_description"].startswith("Invalid JWT: Token must be a short-lived")


def test_service_account_bad_signature_refused(lab, tmp_path):
    with open(lab.service_account_file, encoding="utf-8") as f:
        sa = json.load(f)
    with open(lab.other_key_file, encoding="utf-8") as f:
        sa["private_key"] = f.read()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(sa))
    status, body = lab.service_account_grant("alice@lab.test", key_file=str(forged))
    assert (status, body["error"], body["error_description"]) == (
        400, "invalid_grant", "Invalid JWT Signature.")


def test_device_code_and_rotating_refresh_tokens(lab):
    cid = lab.clients["device"].id
    status, dev = lab.post(lab.devicecode_url, {"client_id": cid, "scope": lab.device_scope})
    assert status == 200 and dev["interval"] >= 1 and dev["user_code"] in dev["message"]
    poll = {"grant_type": idp.DEVICE_CODE, "client_id": cid, "device_code": dev["device_code"]}
    status, body = lab.post(lab.token_url, poll)
    assert (status, body["error"]) == (400, "authorization_pending")
    status, body = lab.post(lab.token_url, poll)     # at once again: too fast
    assert (status, body["error"]) == (400, "slow_down")
    lab.approve("carol@lab.test", user_code=dev["user_code"])
    status, body = lab.post(lab.token_url, poll)
    assert status == 200, body
    c = claims_of(body["access_token"])
    assert c["upn"] == "carol@lab.test" and "IMAP.AccessAsUser.All" in c["scp"].split()
    logs_in_everywhere(lab, "carol@lab.test", body["access_token"])
    assert not imap_login(lab, "XOAUTH2", "alice@lab.test", body["access_token"])[0]
    # refresh: a new access token and a new refresh token; the old one is spent
    first = body["refresh_token"]
    refresh = {"grant_type": "refresh_token", "client_id": cid, "refresh_token": first}
    status, body = lab.post(lab.token_url, refresh)
    assert status == 200 and body["refresh_token"] != first
    assert imap_login(lab, "XOAUTH2", "carol@lab.test", body["access_token"])[0]
    status, again = lab.post(lab.token_url, refresh)
    assert (status, again["error"], again["error_codes"]) == (400, "invalid_grant", [70008])
    # an expired device code
    status, dev = lab.post(lab.devicecode_url, {"client_id": cid, "scope": lab.device_scope})
    lab.expire_device(dev["user_code"])
    status, body = lab.post(lab.token_url, dict(poll, device_code=dev["device_code"]))
    assert (status, body["error"]) == (400, "expired_token")


def test_token_lifetime_setting(lab):
    lab.settings(token_lifetime=30)
    status, body = lab.client_credentials()
    c = claims_of(body["access_token"])
    assert body["expires_in"] == 30 and c["exp"] - c["iat"] == 30
    lab.reset()
    assert lab.client_credentials()[1]["expires_in"] > 30


def test_injected_device_code_errors(lab):
    cid = lab.clients["device"].id
    lab.fail("AADSTS700016", endpoint="devicecode")
    status, body = lab.post(lab.devicecode_url, {"client_id": cid, "scope": lab.device_scope})
    assert (status, body["error_codes"]) == (400, [700016])
    status, dev = lab.post(lab.devicecode_url, {"client_id": cid, "scope": lab.device_scope})
    assert status == 200
    lab.approve("alice@lab.test")
    lab.fail("slow_down", endpoint="token")   # even an approved code can be told to wait
    poll = {"grant_type": idp.DEVICE_CODE, "client_id": cid, "device_code": dev["device_code"]}
    assert lab.post(lab.token_url, poll)[1]["error"] == "slow_down"
    assert lab.post(lab.token_url, poll)[0] == 200


def test_request_log_never_holds_secrets(lab):
    """Secrets, tokens, assertions, device and refresh codes stay out of the log."""
    since = lab.log_size()
    seen = [c.secret for c in lab.clients.values() if c.secret]
    seen.append(token(lab.client_credentials()))
    assertion = lab.client_assertion()
    seen += [assertion, token(lab.client_credentials(
        "certificate", client_assertion_type=idp.ASSERTION_TYPE, client_assertion=assertion))]
    seen.append(token(lab.service_account_grant()))
    cid = lab.clients["device"].id
    status, dev = lab.post(lab.devicecode_url, {"client_id": cid, "scope": lab.device_scope})
    lab.approve("bob@lab.test")
    status, body = lab.post(lab.token_url, {"grant_type": idp.DEVICE_CODE, "client_id": cid,
                                            "device_code": dev["device_code"]})
    seen += [dev["device_code"], body["access_token"], body["refresh_token"]]
    assert imap_login(lab, "XOAUTH2", "bob@lab.test", body["access_token"])[0]
    logged = lab.request_log.read_bytes()[since:].decode()
    assert len(lab.requests(since)) >= 7
    for s in seen:
        assert s not in logged
    assert "eyJ" not in logged     # no JWT of any kind


def test_delegated_scope_opens_only_its_protocol(lab):
    cid = lab.clients["device"].id
    status, dev = lab.post(lab.devicecode_url, {
        "client_id": cid, "scope": "https://outlook.office365.com/IMAP.AccessAsUser.All"})
    lab.approve("alice@lab.test")
    status, body = lab.post(lab.token_url, {"grant_type": idp.DEVICE_CODE, "client_id": cid,
                                            "device_code": dev["device_code"]})
    assert status == 200 and "refresh_token" not in body     # no offline_access asked
    assert imap_login(lab, "XOAUTH2", "alice@lab.test", body["access_token"])[0]
    assert not pop3_login(lab, "alice@lab.test", body["access_token"])


def test_expired_token_refused(lab):
    lab.settings(token_lifetime=2)
    tok = token(lab.client_credentials())
    exp = claims_of(tok)["exp"]
    while time.time() <= exp + 0.5:
        time.sleep(0.5)
    assert not imap_login(lab, "XOAUTH2", "alice@lab.test", tok)[0]
    assert not imap_login(lab, "OAUTHBEARER", "alice@lab.test", tok)[0]
    assert not pop3_login(lab, "alice@lab.test", tok)
    assert lab.requests(endpoint="introspect", reason="expired")


def test_sessions_end_when_their_token_expires(lab):
    """cut_sessions: like Exchange Online, a session ends when the token it
    logged in with expires; a session with a fresh token goes on."""
    lab.settings(token_lifetime=3599, cut_sessions=1)
    long_ = token(lab.client_credentials())
    lab.settings(token_lifetime=5)
    short = token(lab.client_credentials())
    p = poplib.POP3_SSL(lab.addr, lab.ports["pop3s"], context=ctx(lab), timeout=30)
    resp = p._shortcmd("AUTH XOAUTH2 " + base64.b64encode(xoauth2("bob@lab.test", short)).decode())
    assert resp.startswith(b"+OK")
    sessions = {}
    for name, tok in (("short", short), ("long", long_)):
        m = imaplib.IMAP4_SSL(lab.addr, lab.ports["imaps"], ssl_context=ctx(lab), timeout=30)
        m.authenticate("XOAUTH2", lambda _, t=tok: xoauth2("alice@lab.test", t))
        sessions[name] = m
    deadline = claims_of(short)["exp"] + 15
    ended = None
    while ended is None and time.time() < deadline:
        try:
            sessions["short"].noop()
            time.sleep(0.3)
        except imaplib.IMAP4.abort as e:
            ended = str(e)
    assert ended and "shutting down" in ended.lower()
    with pytest.raises((poplib.error_proto, OSError)):
        while time.time() < deadline:
            p.noop()
            time.sleep(0.3)
    assert sessions["long"].noop()[0] == "OK"
    sessions["long"].logout()
    assert {e["user"] for e in lab.requests(endpoint="session", action="cut")} >= \
        {"alice@lab.test", "bob@lab.test"}


def test_wrong_audience_and_foreign_signature_refused(lab):
    graph = token(lab.client_credentials(scope="https://graph.microsoft.com/.default"))
    assert claims_of(graph)["aud"] == "https://graph.microsoft.com"
    assert not imap_login(lab, "XOAUTH2", "alice@lab.test", graph)[0]
    good = claims_of(token(lab.client_credentials()))
    # the same claims signed with the IdP's key pass, with another key they do not
    assert imap_login(lab, "XOAUTH2", "alice@lab.test", lab.forge_token(good))[0]
    forged = lab.forge_token(good, key_file=lab.other_key_file)
    ok, (text, challenges) = imap_login(lab, "XOAUTH2", "alice@lab.test", forged)
    assert not ok and challenges == [{"status": "401", "schemes": "bearer", "scope": "mail"}]
    ok, (text, challenges) = imap_login(lab, "OAUTHBEARER", "alice@lab.test", forged)
    assert not ok and challenges == [{"status": "invalid_token"}]
    assert "AUTHENTICATIONFAILED" in text
    assert not pop3_login(lab, "alice@lab.test", forged)


def test_app_roles_and_mailbox_access(lab):
    tok = token(lab.client_credentials("alice_only"))
    assert imap_login(lab, "XOAUTH2", "alice@lab.test", tok)[0]
    assert not imap_login(lab, "XOAUTH2", "bob@lab.test", tok)[0]    # no FullAccess on bob
    assert not pop3_login(lab, "alice@lab.test", tok)                 # no POP.AccessAsApp
    for client in ("no_roles", "not_in_exchange"):
        tok = token(lab.client_credentials(client))
        assert not imap_login(lab, "XOAUTH2", "alice@lab.test", tok)[0], client


ENTRA_ERRORS = [  # name, status, error, AADSTS code
    ("AADSTS7000215", 401, "invalid_client", 7000215),
    ("AADSTS7000222", 401, "invalid_client", 7000222),
    ("AADSTS700016", 400, "unauthorized_client", 700016),
    ("AADSTS90002", 400, "invalid_request", 90002),
    ("AADSTS65001", 400, "invalid_grant", 65001),
    ("invalid_scope", 400, "invalid_scope", 1002012),
    ("unauthorized_client", 400, "unauthorized_client", 700016),
    ("temporarily_unavailable", 503, "temporarily_unavailable", 50196),
]


@pytest.mark.parametrize("name, status, error, code", ENTRA_ERRORS)
def test_injected_entra_errors(lab, name, status, error, code):
    lab.fail(name)
    got, body = lab.client_credentials()
    assert (got, body["error"], body["error_codes"]) == (status, error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID:" in body["error_description"] and body["correlation_id"]
    assert lab.client_credentials()[0] == 200        # only the next answer


@pytest.mark.parametrize("name, error", [
    ("google_invalid_grant", "invalid_grant"),
    ("google_unauthorized_client", "unauthorized_client"),
])
def test_injected_google_errors(lab, name, error):
    lab.fail(name)
    status, body = lab.service_account_grant()
    assert (status, body["error"]) == (400, error) and "error_codes" not in body
    assert lab.service_account_grant()[0] == 200


def test_natural_entra_errors(lab):
    """What the IdP answers by itself, without injection."""
    c = lab.clients
    assert lab.client_credentials(client_secret="wrong")[1]["error_codes"] == [7000215]
    assert lab.client_credentials("expired_secret")[1]["error_codes"] == [7000222]
    assert lab.client_credentials("no_consent")[1]["error_codes"] == [65001]
    assert lab.client_credentials(scope="https://outlook.office365.com/IMAP.AccessAsApp")[1][
        "error"] == "invalid_scope"
    status, body = lab.post(lab.token_url, {"grant_type": "client_credentials",
                                            "client_id": "bbbbbbbb-0000-4000-8000-000000000009",
                                            "client_secret": "x", "scope": lab.exchange_scope})
    assert (status, body["error_codes"]) == (400, [700016])
    status, body = lab.post(lab.token_url.replace("lab.test", "nowhere.test"), {
        "grant_type": "client_credentials", "client_id": c["secret"].id,
        "client_secret": c["secret"].secret, "scope": lab.exchange_scope})
    assert (status, body["error_codes"]) == (400, [90002])


def test_bad_requests_get_clear_errors(lab):
    status, body = lab.post(lab.token_url, json_body={"grant_type": "client_credentials"})
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = lab.post(lab.token_url, {"grant_type": "password", "client_id":
                                            lab.clients["secret"].id})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    assert lab.post(lab.google_token_url, {"grant_type": idp.JWT_BEARER,
                                           "assertion": "not-a-jwt"})[1]["error"] == \
        "invalid_grant"
    assert lab.post(f"{lab.idp_url}/nowhere", {})[0] == 404
    assert lab.post(f"{lab.idp_url}/_lab/fail", json_body={"error": "no-such"})[0] == 400
    assert all("bug" not in e for e in lab.requests())   # no lab IdP crash, ever


def test_usable_as_a_sync_destination(lab):
    tok = token(lab.client_credentials())
    url = urllib.parse.urlsplit(lab.imap_url)     # what a plan names
    assert url.scheme == "imaps"
    m = imaplib.IMAP4_SSL(url.hostname, url.port, ssl_context=ctx(lab), timeout=30)
    try:
        m.authenticate("XOAUTH2", lambda _: xoauth2("bob@lab.test", tok))
        names = b" ".join(m.list()[1])
        assert b"Sent Items" in names and b"Archive" in names
        msg = (b"From: a@lab.test\r\nSubject: oauth lab\r\n"
               b"Message-ID: <oauth-lab-1@lab.test>\r\n\r\nhi\r\n")
        typ, data = m.append("Archive", r"(\Seen)", None, msg)
        assert typ == "OK" and b"APPENDUID" in data[0]
        m.select("Archive")
        typ, found = m.search(None, "HEADER", "Message-ID", "<oauth-lab-1@lab.test>")
        assert typ == "OK" and found[0]
    finally:
        m.logout()
    out = lab.doveadm("mailbox", "status", "-u", "bob@lab.test", "messages", "Archive")
    assert out.returncode == 0 and "messages=" in out.stdout
