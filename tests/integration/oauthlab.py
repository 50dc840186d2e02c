"""The OAuth2 lab (contrib/lab/oauth/oauth.sh) as a pytest fixture: the lab
identity provider (idp.py, Entra ID / Google shaped token endpoints over HTTPS)
and the OAuth2-only Dovecot on 127.0.0.8 that checks every token against it.

    def test_x(oauth_lab):                     # session scope; needs mail_lab
        oauth_lab.reset()                      # lifetimes and injected errors back to defaults
        oauth_lab.token_url                    # Entra ID token URL of tenant lab.test
        oauth_lab.clients["secret"].id / .secret
        oauth_lab.secret_env                   # {"LAB_M365_CLIENT_SECRET": ...} for env: references
        oauth_lab.settings(token_lifetime=30)  # tokens issued from now on live 30 s
        oauth_lab.settings(cut_sessions=1)     # sessions end when their token expires (Exchange)
        oauth_lab.fail("AADSTS7000215")        # the next token request answers that error
        oauth_lab.approve("alice@lab.test")    # approve the pending device code
        oauth_lab.requests(endpoint="token")   # the IdP's request log (no secrets)

It shares the mail lab's LAB_RUN (and so its CA: one --ca-file trusts both),
so a sync from the mail lab's source to the OAuth2 Dovecot needs one CA.
Ports: TEST_MAIL_PORT_BASE + 3143/3993/3110/3995 (IMAP, IMAPS, POP3, POP3S),
IdP on TEST_MAIL_PORT_BASE + 3443, on 127.0.0.8 (Exchange's capabilities,
AUTH=PLAIN AUTH=XOAUTH2) and, but the IdP, on 127.0.0.9 (also AUTH=OAUTHBEARER).
"""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib/lab/oauth/oauth.sh"
sys.path.insert(0, str(ROOT / "contrib/lab/oauth"))


def _idp():
    """The lab IdP's module (its JWT helpers), imported when first needed:
    conftest imports this file, and python3-cryptography may be missing."""
    import idp
    return idp

EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
DEVICE_SCOPE = ("https://outlook.office365.com/IMAP.AccessAsUser.All "
                "https://outlook.office365.com/POP.AccessAsUser.All offline_access")

# fixture name -> client id in the IdP's config (contrib/lab/oauth/idp.py init)
CLIENT_IDS = {
    "secret": "aaaaaaaa-0000-4000-8000-000000000001",           # secret, FullAccess everywhere
    "certificate": "aaaaaaaa-0000-4000-8000-000000000002",      # certificate (client assertion)
    "device": "aaaaaaaa-0000-4000-8000-000000000003",           # public client, device code
    "alice_only": "aaaaaaaa-0000-4000-8000-000000000004",       # FullAccess on alice, IMAP only
    "no_roles": "aaaaaaaa-0000-4000-8000-000000000005",         # no IMAP/POP app role granted
    "expired_secret": "aaaaaaaa-0000-4000-8000-000000000006",   # AADSTS7000222
    "no_consent": "aaaaaaaa-0000-4000-8000-000000000007",       # AADSTS65001
    "not_in_exchange": "aaaaaaaa-0000-4000-8000-000000000008",  # no New-ServicePrincipal
}


class Client:
    def __init__(self, name, cid, cfg):
        self.name, self.id = name, cid
        self.secret = cfg.get("secret")
        self.roles = cfg.get("roles", [])
        self.mailboxes = cfg.get("mailboxes", [])

    def __repr__(self):  # never the secret
        return f"Client({self.name}, {self.id})"


class OAuthLab:
    """The running OAuth2 lab: URLs, clients, key files, control and log helpers."""

    def __init__(self, run, env, base):
        self.run = Path(run)
        self.env = env
        self.ca = str(self.run / "ca.pem")
        # 127.0.0.8: exactly Exchange Online's AUTH=PLAIN AUTH=XOAUTH2 (and the IdP);
        # bearer_addr 127.0.0.9: the same mailboxes and ports, also AUTH=OAUTHBEARER
        self.addr, self.bearer_addr = "127.0.0.8", "127.0.0.9"
        self.ports = {"imap": base + 3143, "imaps": base + 3993, "pop3": base + 3110,
                      "pop3s": base + 3995}
        self.idp_port = base + 3443
        # plan URLs: Exchange-like (XOAUTH2 only) and the twin that adds OAUTHBEARER
        self.imap_url = f"imaps://{self.addr}:{self.ports['imaps']}"
        self.pop3_url = f"pop3s://{self.addr}:{self.ports['pop3s']}"
        self.bearer_imap_url = f"imaps://{self.bearer_addr}:{self.ports['imaps']}"
        self.bearer_pop3_url = f"pop3s://{self.bearer_addr}:{self.ports['pop3s']}"
        self.idp_url = f"https://{self.addr}:{self.idp_port}"
        o = self.run / "oauth"
        self.config_file = o / "idp" / "config.json"
        with open(self.config_file, encoding="utf-8") as f:
            self.config = json.load(f)
        self.tenant = "lab.test"
        self.tenant_id = next(iter(self.config["tenants"]))
        self.token_url = f"{self.idp_url}/{self.tenant}/oauth2/v2.0/token"
        self.devicecode_url = f"{self.idp_url}/{self.tenant}/oauth2/v2.0/devicecode"
        self.google_token_url = f"{self.idp_url}/token"
        self.jwks_url = f"{self.idp_url}/oauth2/v3/certs"
        self.exchange_scope, self.google_scope, self.device_scope = (
            EXCHANGE_SCOPE, GOOGLE_SCOPE, DEVICE_SCOPE)
        self.clients = {n: Client(n, cid, self.config["clients"][cid])
                        for n, cid in CLIENT_IDS.items()}
        # the certificate client's PEM files; another key pair the IdP does not know
        self.cert_file, self.key_file = str(o / "idp/client.pem"), str(o / "idp/client.key")
        self.other_cert_file = str(o / "idp/other-client.pem")
        self.other_key_file = str(o / "idp/other-client.key")
        self.service_account_file = str(o / "idp/service-account.json")
        with open(self.service_account_file, encoding="utf-8") as f:
            self.service_account_email = json.load(f)["client_email"]
        self.signing_key_file = str(o / "idp/signing.key")
        self.secret_env = {"LAB_M365_CLIENT_SECRET": self.clients["secret"].secret}
        self.users = list(self.config["users"])
        self.request_log = o / "idp" / "requests.jsonl"
        self.dovecot_log = o / "dovecot" / "log" / "dovecot.log"
        self.bearer_dovecot_log = o / "dovecot-bearer" / "log" / "dovecot.log"
        self.dovecot_conf = o / "dovecot" / "dovecot.conf"
        self._ctx = ssl.create_default_context(cafile=self.ca)

    # -- HTTP to the IdP
    def post(self, url, form=None, json_body=None):
        """POST a form (or JSON) to URL; returns (status, parsed JSON body)."""
        if json_body is not None:
            data, ctype = json.dumps(json_body).encode(), "application/json"
        else:
            data = urllib.parse.urlencode(form or {}).encode()
            ctype = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=30) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.load(e)

    def control(self, what, **body):
        status, answer = self.post(f"{self.idp_url}/_lab/{what}", json_body=body)
        assert status == 200, f"lab IdP control {what}: {status} {answer}"
        return answer

    def reset(self):
        """Default lifetimes, no injected errors, no pending device codes."""
        return self.control("reset")

    def settings(self, **kw):
        """token_lifetime, refresh_lifetime, device_interval, device_lifetime,
        token_delay (seconds); cut_sessions (1: a session ends when its token expires)."""
        return self.control("settings", **kw)

    def fail(self, error, count=1, endpoint=None):
        """The next COUNT token (endpoint="token"), device code ("devicecode") or
        any (None) requests answer ERROR, a name of idp.CANNED (e.g.
        "AADSTS7000215", "invalid_scope", "google_invalid_grant", "slow_down")."""
        return self.control("fail", error=error, count=count, endpoint=endpoint)

    def approve(self, user, user_code=None):
        """Approve the newest pending device code (or USER_CODE) as USER."""
        return self.control("device", action="approve", user=user, user_code=user_code)

    def decline(self, user_code=None):
        return self.control("device", action="decline", user_code=user_code)

    def expire_device(self, user_code=None):
        return self.control("device", action="expire", user_code=user_code)

    # -- the request log (JSON lines; never a secret, token or assertion)
    def log_size(self):
        return self.request_log.stat().st_size if self.request_log.exists() else 0

    def requests(self, since=0, **match):
        """Log entries from byte SINCE whose fields equal MATCH (e.g. endpoint="token")."""
        if not self.request_log.exists():
            return []
        with open(self.request_log, "rb") as f:
            f.seek(since)
            entries = [json.loads(line) for line in f.read().decode().splitlines() if line]
        return [e for e in entries if all(e.get(k) == v for k, v in match.items())]

    # -- tokens, for tests of the lab itself and for access_token plans
    def client_credentials(self, client="secret", scope=EXCHANGE_SCOPE, **extra):
        c = self.clients[client]
        form = {"grant_type": "client_credentials", "client_id": c.id, "scope": scope}
        if c.secret is not None and "client_assertion" not in extra:
            form["client_secret"] = c.secret
        form.update(extra)
        return self.post(self.token_url, form)

    def client_assertion(self, client="certificate", cert_file=None, key_file=None, **claims):
        """An RFC 7523 client assertion as cutover builds it (x5t#S256 header)."""
        idp = _idp()
        cid = self.clients[client].id
        cert = idp.load_cert(cert_file or self.cert_file)
        now = int(time.time())
        body = {"aud": self.token_url, "iss": cid, "sub": cid, "jti": os.urandom(8).hex(),
                "nbf": now, "exp": now + 600, **claims}
        header = {"alg": "RS256", "typ": "JWT",
                  "x5t#S256": idp.cert_thumbprints(cert)["x5t#S256"]}
        return idp.jwt_sign(header, body, idp.load_private_key(key_file or self.key_file))

    def service_account_grant(self, sub="alice@lab.test", scope=GOOGLE_SCOPE, key_file=None,
                              **claims):
        """Google's JWT bearer grant for SUB with the service-account key file."""
        from cryptography.hazmat.primitives import serialization
        idp = _idp()
        with open(key_file or self.service_account_file, encoding="utf-8") as f:
            sa = json.load(f)
        now = int(time.time())
        body = {"iss": sa["client_email"], "scope": scope, "aud": sa["token_uri"],
                "iat": now, "exp": now + 3600, **({"sub": sub} if sub else {}), **claims}
        key = serialization.load_pem_private_key(sa["private_key"].encode(), password=None)
        assertion = idp.jwt_sign({"alg": "RS256", "typ": "JWT", "kid": sa["private_key_id"]},
                                 body, key)
        return self.post(self.google_token_url, {"grant_type": idp.JWT_BEARER,
                                                 "assertion": assertion})

    def forge_token(self, claims, key_file=None):
        """A JWT access token with CLAIMS signed by KEY_FILE (default: the IdP's
        own key, i.e. a token the IdP could have issued)."""
        idp = _idp()
        key = idp.load_private_key(key_file or self.signing_key_file)
        header = {"typ": "JWT", "alg": "RS256", "kid": "forged"}
        return idp.jwt_sign(header, claims, key)

    def doveadm(self, *args):
        return subprocess.run(["doveadm", "-c", str(self.dovecot_conf), *map(str, args)],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def oauth_lab(mail_lab):
    """The OAuth2 lab in the mail lab's LAB_RUN; yields an OAuthLab."""
    base = int(os.environ.get("TEST_MAIL_PORT_BASE", "41000"))
    env = dict(mail_lab.env, LAB_OAUTH_ADDR="127.0.0.8", LAB_OAUTH_BEARER_ADDR="127.0.0.9",
               LAB_OAUTH_IMAP=str(base + 3143), LAB_OAUTH_IMAPS=str(base + 3993),
               LAB_OAUTH_POP3=str(base + 3110), LAB_OAUTH_POP3S=str(base + 3995),
               LAB_OAUTH_IDP_PORT=str(base + 3443))
    subprocess.run(["bash", str(SCRIPT), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    try:
        yield OAuthLab(mail_lab.run, env, base)
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=60)
