"""OAuth2 logins end to end (issue 13): the real binary against the OAuth2-only
Dovecot of the lab (Exchange Online's capabilities) and the lab identity
provider, for every flow; the token endpoint's errors and their advice; a
password plan against the OAuth2-only server; a sync of 2,000 messages while
tokens expire every 30 s and the server ends sessions whose token expired;
and no token, secret or assertion in any output, report, log or state.
"""
import json
import os
import re
import sqlite3
import stat
import subprocess
import time

import pytest

import synchelp
from conftest import cutover_bin

USERS = ["alice@lab.test", "bob@lab.test", "carol@lab.test"]


@pytest.fixture
def olab(oauth_lab):
    oauth_lab.reset()
    yield oauth_lab
    oauth_lab.reset()


def dest(olab, auth, bearer=False, pop3=True):
    d = {"profile": "microsoft365",
         "imap": olab.bearer_imap_url if bearer else olab.imap_url,
         "auth": dict({"type": "oauth2", "tenant": olab.tenant, "token_url": olab.token_url},
                      **auth)}
    if pop3:
        d["pop3"] = olab.bearer_pop3_url if bearer else olab.pop3_url
    return d


def secret_auth(olab, client="secret"):
    return {"flow": "client_credentials", "client_id": olab.clients[client].id,
            "client_secret": "env:LAB_M365_CLIENT_SECRET"}


def write_plan(tmp_path, mail_lab, destination, users=USERS, source=True):
    plan = {"domain": "lab.test", "destination": destination, "state_dir": str(tmp_path / "state"),
            "mailboxes": []}
    if source:
        a, p = mail_lab.addr["source"], mail_lab.ports["source"]["imaps"]
        plan["source"] = {"imap": f"imaps://{a}:{p}"}
    for u in users:
        m = {"source_user": u, "dest_user": u}
        if source:
            m["source_password"] = mail_lab.password("source", u)
        plan["mailboxes"].append(m)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def env_for(olab, **extra):
    e = dict(olab.secret_env)
    e.update(extra)
    return e


def secrets_of(olab, *tokens):
    """Every secret the lab knows, plus TOKENS: none may show anywhere."""
    found = [c.secret for c in olab.clients.values() if c.secret]
    for path in (olab.key_file, olab.other_key_file):
        text = open(path).read()
        found += [line for line in text.splitlines() if len(line) > 40 and "-----" not in line]
    with open(olab.service_account_file) as f:
        key = json.load(f)["private_key"]
    found += [line for line in key.splitlines() if len(line) > 40 and "-----" not in line]
    return [s for s in found + list(tokens) if s]


def assert_nothing_secret(olab, texts, tokens=()):
    secrets = secrets_of(olab, *tokens)
    for t in texts:
        for s in secrets:
            assert s not in t, "a secret leaked"
        # an access token or assertion is a JWT: "eyJ" + base64url . ... . ...
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.", t), "a JWT leaked"


def run_texts(run, tmp_path):
    texts = [run.stdout, run.stderr, json.dumps(run.report or {})]
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".html", ".csv", ".db", ".log"):
            texts.append(p.read_bytes().decode("utf-8", "replace"))
    return texts


def test_client_secret_audit_logs_in_with_one_token(mail_lab, olab, cutover, tmp_path):
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab)))
    since = olab.log_size()
    run = cutover("audit", plan, "--only", "imap,pop3,auth", "--ca-file", olab.ca,
                  env=env_for(olab))
    assert run.rc == 0, run.stdout + run.stderr
    tok = run.check("auth.token", side="destination")
    assert tok["status"] == "pass", tok
    assert "IMAP.AccessAsApp" in json.dumps(tok["details"])
    for u in USERS:
        for proto, mech in (("imap", "XOAUTH2"), ("pop3", "XOAUTH2")):
            c = run.check(f"{proto}.login", u, "destination")
            assert c["status"] == "pass", c
            assert c["details"]["auth"] == "oauth2" and c["details"]["mechanism"] == mech
    # one token for the check and the six logins, asked once
    grants = olab.requests(since, endpoint="token")
    assert len(grants) == 1, grants
    assert_nothing_secret(olab, run_texts(run, tmp_path))


def test_oauthbearer_when_the_server_offers_it(mail_lab, olab, cutover, tmp_path):
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab), bearer=True),
                      users=USERS[:1])
    run = cutover("audit", plan, "--only", "imap,pop3", "--ca-file", olab.ca, env=env_for(olab))
    assert run.rc == 0, run.stdout + run.stderr
    assert run.check("imap.login", USERS[0], "destination")["details"]["mechanism"] == "OAUTHBEARER"
    assert run.check("pop3.login", USERS[0], "destination")["details"]["mechanism"] == "OAUTHBEARER"


def test_certificate_assertion(mail_lab, olab, cutover, tmp_path):
    auth = {"flow": "client_credentials", "client_id": olab.clients["certificate"].id,
            "client_certificate": f"file:{olab.cert_file}", "client_key": f"file:{olab.key_file}"}
    plan = write_plan(tmp_path, mail_lab, dest(olab, auth))
    run = cutover("audit", plan, "--only", "imap,auth", "--ca-file", olab.ca)
    assert run.rc == 0, run.stdout + run.stderr
    for u in USERS:
        assert run.check("imap.login", u, "destination")["details"]["auth"] == "oauth2"
    # a certificate the app does not know: the IdP refuses the assertion
    auth["client_certificate"] = f"file:{olab.other_cert_file}"
    auth["client_key"] = f"file:{olab.other_key_file}"
    plan = write_plan(tmp_path, mail_lab, dest(olab, auth))
    run = cutover("audit", plan, "--only", "imap,auth", "--ca-file", olab.ca)
    assert run.rc == 2
    assert run.check("auth.token", side="destination")["status"] == "fail"
    assert_nothing_secret(olab, run_texts(run, tmp_path))


def test_google_service_account_one_token_per_mailbox(mail_lab, olab, cutover, tmp_path):
    d = {"profile": "google", "imap": olab.imap_url,
         "auth": {"type": "oauth2", "flow": "service_account",
                  "key_file": f"file:{olab.service_account_file}",
                  "token_url": olab.google_token_url}}
    plan = write_plan(tmp_path, mail_lab, d)
    since = olab.log_size()
    run = cutover("audit", plan, "--only", "imap", "--ca-file", olab.ca)
    assert run.rc == 0, run.stdout + run.stderr
    for u in USERS:
        assert run.check("imap.login", u, "destination")["details"]["auth"] == "oauth2"
    subjects = {r.get("sub") or r.get("subject") for r in olab.requests(since, endpoint="token")}
    assert len(olab.requests(since, endpoint="token")) == len(USERS), subjects
    assert_nothing_secret(olab, run_texts(run, tmp_path))


def test_access_token_given_and_expired(mail_lab, olab, cutover, tmp_path):
    status, body = olab.client_credentials()
    assert status == 200
    token = body["access_token"]
    auth = {"flow": "access_token", "access_token": "env:LAB_TOKEN"}
    plan = write_plan(tmp_path, mail_lab, dest(olab, auth), users=USERS[:1])
    run = cutover("audit", plan, "--only", "imap", "--ca-file", olab.ca,
                  env={"LAB_TOKEN": token})
    assert run.rc == 0, run.stdout + run.stderr
    assert_nothing_secret(olab, run_texts(run, tmp_path), [token])
    # an expired one: stopped cleanly, with the reason, before any login
    expired = olab.forge_token({"exp": int(time.time()) - 60, "roles": ["IMAP.AccessAsApp"]})
    run = cutover("audit", plan, "--only", "imap,auth", "--ca-file", olab.ca,
                  env={"LAB_TOKEN": expired})
    assert run.rc == 2
    c = run.check("imap.login", USERS[0], "destination")
    assert c["status"] == "fail" and "expired" in c["summary"], c
    assert_nothing_secret(olab, run_texts(run, tmp_path), [expired])


def test_device_code_sign_in_then_runs_refresh(mail_lab, olab, cutover, tmp_path):
    auth = {"flow": "device_code", "client_id": olab.clients["device"].id,
            "device_url": olab.devicecode_url,
            "scope": "https://outlook.office365.com/IMAP.AccessAsUser.All"}
    plan = write_plan(tmp_path, mail_lab, dest(olab, auth, pop3=False), users=USERS[:1])
    proc = subprocess.Popen([cutover_bin(), "auth", "login", str(plan), "--side", "destination",
                             "--ca-file", olab.ca],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not olab.requests(endpoint="devicecode"):
            time.sleep(0.2)
        time.sleep(0.5)
        olab.approve(USERS[0])
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    assert "code" in out.lower() and olab.idp_url in out
    files = list((tmp_path / "state").glob("oauth2-destination*.token"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    refresh = files[0].read_text().strip()
    run = cutover("audit", plan, "--only", "imap", "--ca-file", olab.ca)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.check("imap.login", USERS[0], "destination")["details"]["auth"] == "oauth2"
    # the saved sign-in serves a sync as well (refreshed again, rotated)
    sync = cutover("sync", plan, "--ca-file", olab.ca, "--no-progress", "--folders", "INBOX",
                   "--no-compare", timeout=300)
    assert sync.rc == 0, sync.stdout + sync.stderr
    assert sync.check("sync.mailbox", USERS[0])["status"] == "pass"
    rotated = files[0].read_text().strip()
    assert rotated != refresh
    assert_nothing_secret(olab, [out, err, run.stdout, run.stderr, json.dumps(run.report),
                                 sync.stdout, sync.stderr, json.dumps(sync.report)],
                          [refresh, rotated])


ERRORS = [
    ("AADSTS7000215", "Certificates & secrets"),
    ("AADSTS7000222", "expired"),
    ("AADSTS700016", "client_id"),
    ("AADSTS90002", "tenant"),
    ("AADSTS65001", "admin consent"),
    ("invalid_scope", "auth.scope"),
    ("unauthorized_client", "700016"),
]


@pytest.mark.parametrize("error,advice", ERRORS)
def test_token_endpoint_errors_get_their_advice(mail_lab, olab, cutover, tmp_path, error, advice):
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab), pop3=False))
    olab.fail(error, count=5, endpoint="token")
    since = olab.log_size()
    run = cutover("audit", plan, "--only", "imap,auth", "--ca-file", olab.ca, env=env_for(olab))
    assert run.rc == 2, run.stdout + run.stderr
    tok = run.check("auth.token", side="destination")
    assert tok["status"] == "fail", tok
    text = (tok.get("advice") or "") + tok["summary"]
    assert advice in text, text
    for u in USERS:
        c = run.check("imap.login", u, "destination")
        assert c["status"] == "fail" and "no OAuth2 token" in c["summary"], c
    # a permanent error is asked once, not once per mailbox (no lockouts)
    assert len(olab.requests(since, endpoint="token")) == 1
    assert_nothing_secret(olab, run_texts(run, tmp_path))


def test_google_invalid_grant_advice(mail_lab, olab, cutover, tmp_path):
    d = {"profile": "google", "imap": olab.imap_url,
         "auth": {"type": "oauth2", "flow": "service_account",
                  "key_file": f"file:{olab.service_account_file}",
                  "token_url": olab.google_token_url}}
    plan = write_plan(tmp_path, mail_lab, d, users=USERS[:1])
    olab.fail("google_invalid_grant", count=5, endpoint="token")
    run = cutover("audit", plan, "--only", "imap,auth", "--ca-file", olab.ca)
    assert run.rc == 2
    c = run.check("imap.login", USERS[0], "destination")
    assert "clock" in c["summary"] or "delegation" in c["summary"], c


def test_password_plan_against_oauth_only_server(mail_lab, olab, cutover, tmp_path):
    d = {"imap": olab.imap_url}
    plan = tmp_path / "plan.json"
    a, p = mail_lab.addr["source"], mail_lab.ports["source"]["imaps"]
    plan.write_text(json.dumps({"domain": "lab.test", "destination": d,
                                "source": {"imap": f"imaps://{a}:{p}"}, "mailboxes": [
        {"source_user": USERS[0], "dest_user": USERS[0],
         "source_password": mail_lab.password("source", USERS[0]),
         "dest_password": "a-password"}]}))
    run = cutover("audit", plan, "--only", "imap", "--ca-file", olab.ca)
    assert run.rc == 2
    c = run.check("imap.login", USERS[0], "destination")
    assert c["details"]["result"] == "auth_failed"
    assert "wants OAuth2" in c["advice"] and "Microsoft 365 destination" in c["advice"], c


def test_token_refused_by_exchange_gets_its_causes(mail_lab, olab, cutover, tmp_path):
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab, "not_in_exchange"),
                                               pop3=False), users=USERS[:1])
    olab_env = {"LAB_M365_CLIENT_SECRET": olab.clients["not_in_exchange"].secret}
    run = cutover("audit", plan, "--only", "imap", "--ca-file", olab.ca, env=olab_env)
    assert run.rc == 2
    c = run.check("imap.login", USERS[0], "destination")
    assert c["details"]["result"] == "auth_failed"
    assert "New-ServicePrincipal" in c["advice"] and "FullAccess" in c["advice"], c


def test_sync_2000_messages_while_tokens_expire(mail_lab, olab, cutover, tmp_path):
    """Tokens live 30 s and the server ends a session whose token expired
    (as Exchange does); --max-rate makes the sync outlast several tokens.
    It finishes in one run, every message exactly once."""
    user = "user200@lab.test"
    synchelp.wipe(mail_lab, "source", user)
    olab.doveadm("expunge", "-u", user, "mailbox", "*", "all")
    bodies = [synchelp.message(i, 600 + (i * 37) % 4000, seed="oauth") for i in range(2000)]
    synchelp.append_bulk(mail_lab, "source", user, "INBOX",
                         [(b, "\\Seen" if i % 3 == 0 else "", 1700000000 + i * 60)
                          for i, b in enumerate(bodies)])
    olab.settings(token_lifetime=30, cut_sessions=1)
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab), pop3=False), users=[user])
    since = olab.log_size()
    run = cutover("sync", plan, "--ca-file", olab.ca, "--max-rate", "40", "--no-progress",
                  env=env_for(olab), timeout=600)
    assert run.rc == 0, run.stdout + run.stderr
    # tokens were renewed during the run: more than one grant
    assert len(olab.requests(since, endpoint="token")) >= 2
    # exactly once: the destination INBOX holds the source's messages, each once
    src = synchelp.snapshot(mail_lab, "source", user, only=["INBOX"])
    status, body = olab.client_credentials()
    got = oauth_snapshot(olab, user, body["access_token"])
    # same bytes, flags and INTERNALDATE, each message once
    assert got == src["INBOX"]
    assert len(got) == 2000 and len({m[0] for m in got}) == 2000
    assert_nothing_secret(olab, run_texts(run, tmp_path), [body["access_token"]])
    db = tmp_path / "state" / "sync.db"
    if db.exists():
        dump = "\n".join(sqlite3.connect(str(db)).iterdump())
        assert_nothing_secret(olab, [dump])


def oauth_snapshot(olab, user, token):
    """synchelp.folder_messages of INBOX on the OAuth2 server, logged in with XOAUTH2."""
    import imaplib
    import ssl
    m = imaplib.IMAP4_SSL(olab.addr, olab.ports["imaps"],
                          ssl_context=ssl.create_default_context(cafile=olab.ca), timeout=60)
    m.authenticate("XOAUTH2",
                   lambda _: f"user={user}\x01auth=Bearer {token}\x01\x01".encode())
    try:
        return synchelp.folder_messages(m, "INBOX")
    finally:
        m.logout()


def test_sync_with_a_refused_token_is_permanent(mail_lab, olab, cutover, tmp_path):
    """A login the server refuses is not retried in a loop: the mailbox fails
    with what to fix, and says so apart from a transient failure."""
    plan = write_plan(tmp_path, mail_lab, dest(olab, secret_auth(olab, "not_in_exchange"),
                                               pop3=False), users=USERS[:1])
    since = olab.log_size()
    run = cutover("sync", plan, "--ca-file", olab.ca, "--no-progress",
                  env={"LAB_M365_CLIENT_SECRET": olab.clients["not_in_exchange"].secret})
    assert run.rc != 0
    c = run.check("sync.mailbox", USERS[0])
    assert c["status"] == "fail" and c["details"]["error_class"] == "permanent", c
    assert "cutover audit" in c["advice"]
    # the token was fetched once: a token granted a moment ago is not
    # exchanged for another when refused (that would only be refused too)
    assert len(olab.requests(since, endpoint="token")) == 1


def flow_auth(olab, flow):
    """The destination auth object of FLOW, and the env it needs."""
    if flow == "client_secret":
        return dest(olab, secret_auth(olab), pop3=False), env_for(olab)
    if flow == "client_certificate":
        return dest(olab, {"flow": "client_credentials",
                           "client_id": olab.clients["certificate"].id,
                           "client_certificate": f"file:{olab.cert_file}",
                           "client_key": f"file:{olab.key_file}"}, pop3=False), {}
    if flow == "service_account":
        return {"profile": "google", "imap": olab.imap_url,
                "auth": {"type": "oauth2", "flow": "service_account",
                         "key_file": f"file:{olab.service_account_file}",
                         "token_url": olab.google_token_url}}, {}
    status, body = olab.client_credentials()
    assert status == 200
    return (dest(olab, {"flow": "access_token", "access_token": "env:LAB_TOKEN"}, pop3=False),
            {"LAB_TOKEN": body["access_token"]})


@pytest.mark.parametrize("flow", ["client_secret", "client_certificate", "service_account",
                                  "access_token"])
def test_sync_with_each_flow(mail_lab, olab, cutover, tmp_path, flow):
    """A sync to the OAuth2-only server copies a mailbox exactly once with each
    flow, and a second pass copies nothing."""
    user = "user150@lab.test"
    synchelp.wipe(mail_lab, "source", user)
    olab.doveadm("expunge", "-u", user, "mailbox", "*", "all")
    synchelp.append_bulk(mail_lab, "source", user, "INBOX",
                         [(synchelp.message(i, 500 + 40 * i, seed=flow), "", 1700000000 + i)
                          for i in range(30)])
    d, env = flow_auth(olab, flow)
    plan = write_plan(tmp_path, mail_lab, d, users=[user])
    run = cutover("sync", plan, "--ca-file", olab.ca, "--no-progress", env=env, timeout=300)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.check("sync.mailbox", user)["details"]["copied"] == 30
    again = cutover("sync", plan, "--ca-file", olab.ca, "--no-progress", env=env, timeout=300)
    assert again.rc == 0 and again.check("sync.mailbox", user)["details"]["copied"] == 0
    status, body = olab.client_credentials()
    src = synchelp.snapshot(mail_lab, "source", user, only=["INBOX"])
    assert oauth_snapshot(olab, user, body["access_token"]) == src["INBOX"]
    assert_nothing_secret(olab, run_texts(run, tmp_path) + run_texts(again, tmp_path),
                          [body["access_token"], *env.values()])
