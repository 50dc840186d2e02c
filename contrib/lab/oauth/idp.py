#!/usr/bin/python3
"""Lab identity provider: an OAuth2 token endpoint shaped like Microsoft Entra ID
v2.0 and Google's, over HTTPS with a certificate from the lab CA. The one
scripted peer of the OAuth2 lab (no identity provider is packaged in Debian);
the real server checking its tokens is Dovecot (contrib/lab/oauth/oauth.sh).

    idp.py init RUN_DIR --base-url URL   keys, client certificate, service-account
                                         key file and a default config.json
    idp.py serve CONFIG                  serve until SIGTERM

Endpoints (standard protocol behaviour; see contrib/lab/oauth/README.md):
  POST /<tenant>/oauth2/v2.0/token       Entra ID: client_credentials (client_secret
                                         or RFC 7523 client_assertion), device_code
                                         grant (RFC 8628), refresh_token (rotating)
  POST /<tenant>/oauth2/v2.0/devicecode  Entra ID device authorization (RFC 8628)
  POST /token                            Google: JWT bearer grant (RFC 7523,
                                         service account, sub = the user), refresh_token
  GET  /<tenant>/discovery/v2.0/keys, /oauth2/v3/certs   the signing key (JWKS)
  POST /introspect[?user=U&service=S]    RFC 7662 introspection for Dovecot's oauth2
                                         passdb: signature, exp, aud, roles/scp and
                                         the mailbox access (Exchange's FullAccess)
  POST /_lab/settings | /_lab/fail | /_lab/device | /_lab/reset   test control (JSON)

Access tokens are RS256 JWTs signed with the IdP's own key. Every request is
logged as one JSON line (never a secret, token or assertion) to the request log.
Standard library plus Debian's python3-cryptography.
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
EXCHANGE = "https://outlook.office365.com"
GRAPH = "https://graph.microsoft.com"
GMAIL_SCOPE = "https://mail.google.com/"
# the Entra resources this IdP issues tokens for (the aud of the token)
RESOURCES = (EXCHANGE, GRAPH)
# delegated Exchange scopes and app roles; which protocol each one opens
DELEGATED = {"IMAP.AccessAsUser.All": "imap", "POP.AccessAsUser.All": "pop3"}
APP_ROLES = {"IMAP.AccessAsApp": "imap", "POP.AccessAsApp": "pop3"}
CLOCK_SKEW = 300  # seconds of leeway on assertion times, like Entra ID's


# ---------------------------------------------------------------- JWT helpers
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    text = text.encode("ascii") if isinstance(text, str) else text
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def jwt_sign(header, claims, private_key):
    """An RS256 JWS in compact form."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = private_key.sign(f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64url(sig)}"


class BadJWT(Exception):
    pass


def jwt_parse(token):
    """(header, claims, signing input, signature) of a compact JWS; BadJWT if malformed."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise BadJWT("not a JWT (three base64url parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, UnicodeError) as e:
        raise BadJWT(f"malformed JWT ({e.__class__.__name__})") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise BadJWT("JWT header or payload is not an object")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), sig


def rs256_ok(public_key, signing_input, sig):
    try:
        public_key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        return False


def cert_thumbprints(cert):
    der = cert.public_bytes(serialization.Encoding.DER)
    return {"x5t#S256": b64url(hashlib.sha256(der).digest()),
            "x5t": b64url(hashlib.sha1(der).digest())}


def load_private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def jwk_of(public_key, kid):
    nums = public_key.public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64url(n), "e": b64url(e)}


# ---------------------------------------------------------------- errors
def entra_error(error, code, text, status=400):
    return status, {"error": error, "error_description": f"AADSTS{code}: {text}",
                    "error_codes": [code]}


def google_error(error, text, status=400):
    return status, {"error": error, "error_description": text}


# Errors a test can make the next answers be (POST /_lab/fail {"error": NAME}).
# Entra ID's bodies get timestamp/trace_id/correlation_id added when sent.
CANNED = {
    "AADSTS7000215": lambda c: entra_error(
        "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
        "sent in the request is the client secret value, not the client secret ID, for a "
        f"secret added to app '{c}'.", 401),
    "AADSTS7000222": lambda c: entra_error(
        "invalid_client", 7000222, f"The provided client secret keys for app '{c}' are "
        "expired. Visit the Azure portal to create new keys for your app.", 401),
    "AADSTS700016": lambda c: entra_error(
        "unauthorized_client", 700016, f"Application with identifier '{c}' was not found in "
        "the directory. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant."),
    "AADSTS90002": lambda c: entra_error(
        "invalid_request", 90002, "Tenant not found. Check to make sure you have the correct "
        "tenant ID and are signing into the correct cloud."),
    "AADSTS65001": lambda c: entra_error(
        "invalid_grant", 65001, "The user or administrator has not consented to use the "
        f"application with ID '{c}'. Send an interactive authorization request for this "
        "user and resource."),
    "invalid_scope": lambda c: entra_error(
        "invalid_scope", 1002012, "The provided value for scope is not valid. Client "
        "credential flows must have a scope value with /.default suffixed to the resource "
        "identifier (application ID URI)."),
    "unauthorized_client": lambda c: entra_error(
        "unauthorized_client", 700016, f"Application with identifier '{c}' is not authorized "
        "to use this grant type."),
    "AADSTS700027": lambda c: entra_error(
        "invalid_client", 700027, "Client assertion failed signature validation.", 401),
    "authorization_pending": lambda c: entra_error(
        "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is "
        "pending. Continue polling."),
    "slow_down": lambda c: entra_error(
        "slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast; slow down."),
    "expired_token": lambda c: entra_error(
        "expired_token", 70020, "The provided value for the input parameter 'device_code' "
        "is not valid. This device code has expired."),
    "authorization_declined": lambda c: entra_error(
        "authorization_declined", 70000, "The user declined the authorization request."),
    "refresh_invalid_grant": lambda c: entra_error(
        "invalid_grant", 70008, "The provided authorization code or refresh token has "
        "expired due to inactivity. Send a new interactive authorization request for this "
        "user and resource."),
    "temporarily_unavailable": lambda c: entra_error(
        "temporarily_unavailable", 50196, "The server is temporarily unavailable; retry "
        "later.", 503),
    "google_invalid_grant": lambda c: google_error(
        "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in "
        "a reasonable timeframe. Check your iat and exp values in the JWT claim."),
    "google_invalid_grant_sub": lambda c: google_error("invalid_grant", "Invalid email or User ID"),
    "google_unauthorized_client": lambda c: google_error(
        "unauthorized_client", "Client is unauthorized to retrieve access tokens using this "
        "method, or client not authorized for any of the scopes requested."),
    "google_invalid_signature": lambda c: google_error("invalid_grant", "Invalid JWT Signature."),
}


class Reply(Exception):
    """Answer the current request with (status, body) and stop handling it."""

    def __init__(self, status, body, log=None):
        super().__init__(status)
        self.status, self.body, self.log = status, body, log or {}


def fail(pair, **log):
    raise Reply(pair[0], pair[1], log)


# ---------------------------------------------------------------- the IdP
class IdP:
    def __init__(self, config_path):
        self.config_path = config_path
        with open(config_path, encoding="utf-8") as f:
            self.cfg = json.load(f)
        self.base = self.cfg["base_url"].rstrip("/")
        self.key = load_private_key(self.cfg["signing_key"])
        spki = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = b64url(hashlib.sha256(spki).digest())[:16]
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.clients = {}
        for cid, c in self.cfg.get("clients", {}).items():
            c = dict(c)
            c["thumbprints"] = {}
            for path in c.get("certificates", []):
                cert = load_cert(path)
                for kind, tp in cert_thumbprints(cert).items():
                    c["thumbprints"][(kind, tp)] = cert.public_key()
            self.clients[cid] = c
        self.accounts = {}
        for email, a in self.cfg.get("service_accounts", {}).items():
            a = dict(a)
            a["public_key"] = load_cert(a["certificate"]).public_key()
            self.accounts[email] = a
        self.reset()

    def reset(self):
        with self.lock:
            d = self.cfg.get("defaults", {})
            self.settings = {"token_lifetime": d.get("token_lifetime", 3599),
                             "refresh_lifetime": d.get("refresh_lifetime", 90 * 86400),
                             "device_interval": d.get("device_interval", 5),
                             "device_lifetime": d.get("device_lifetime", 900),
                             # seconds every token/devicecode answer waits
                             "token_delay": d.get("token_delay", 0),
                             # 1: end a mail session when its login token expires
                             "cut_sessions": d.get("cut_sessions", 0)}
            self.injected = []      # [{"error": NAME, "count": n, "endpoint": E|None}]
            self.devices = {}       # device_code -> dict
            self.refresh = {}       # refresh token -> dict (rotating: used once)
            self.logins = {}        # user -> [(time, exp)] of tokens Dovecot accepted
            self.cut = set()        # pids of sessions ended

    # -- helpers
    def tenants(self):
        return self.cfg.get("tenants", {})

    def tenant_id(self, tenant):
        """The tenant's id for a name or id; None when unknown."""
        for tid, names in self.tenants().items():
            if tenant == tid or tenant in names:
                return tid
        return None

    def token_url(self, tenant):
        return f"{self.base}/{tenant}/oauth2/v2.0/token"

    def issue(self, claims, lifetime=None):
        now = int(time.time())
        lifetime = self.settings["token_lifetime"] if lifetime is None else lifetime
        full = {"iss": claims.pop("iss", self.base), "iat": now, "nbf": now,
                "exp": now + int(lifetime), "jti": uuid.uuid4().hex, **claims}
        token = jwt_sign({"typ": "JWT", "alg": "RS256", "kid": self.kid}, full, self.key)
        return token, int(lifetime)

    def take_injected(self, endpoint):
        with self.lock:
            for inj in self.injected:
                if inj["endpoint"] in (None, endpoint) and inj["count"] > 0:
                    inj["count"] -= 1
                    name = inj["error"]
                    self.injected = [i for i in self.injected if i["count"] > 0]
                    return name
        return None

    def new_refresh(self, record):
        rt = "lab-rt." + secrets.token_urlsafe(32)
        with self.lock:
            self.refresh[rt] = dict(record, expires=time.time() + self.settings["refresh_lifetime"])
        return rt

    # -- Entra ID
    def entra_request(self, tenant, form, endpoint, log):
        """(tenant id, client id, client) of an Entra ID request, after the
        injected errors, the tenant and (but for refresh tokens) the client."""
        cid = form.get("client_id", "")
        log.update(tenant=tenant, client_id=cid, scope=form.get("scope"))
        injected = self.take_injected(endpoint)
        if injected:
            fail(CANNED[injected](cid), injected=injected, **log)
        tid = self.tenant_id(tenant)
        if tid is None:
            fail(CANNED["AADSTS90002"](cid), **log)
        if form.get("grant_type") == "refresh_token":
            return tid, cid, None
        client = self.clients.get(cid)
        if client is None or client.get("tenant") != tid:
            fail(CANNED["AADSTS700016"](cid), **log)
        return tid, cid, client

    def entra_token(self, tenant, form):
        grant = form.get("grant_type", "")
        log = {"grant_type": grant}
        tid, cid, client = self.entra_request(tenant, form, "token", log)
        if grant == "refresh_token":
            return self.refresh_grant(form, log, tid)
        if grant == "client_credentials":
            return self.client_credentials(tenant, tid, cid, client, form, log)
        if grant == DEVICE_CODE:
            return self.device_poll(tid, cid, form, log)
        fail(entra_error("unsupported_grant_type", 70003, "The app requested an unsupported "
                         "grant type."), **log)

    def authenticate_client(self, tenant, cid, client, form, log):
        """Client secret or RFC 7523 client assertion, as Entra ID checks them."""
        if "client_assertion" in form:
            log["client_auth"] = "assertion"
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                fail(entra_error("invalid_request", 700023, "Invalid client assertion type."),
                     **log)
            try:
                header, claims, signing_input, sig = jwt_parse(form["client_assertion"])
            except BadJWT as e:
                fail(entra_error("invalid_client", 50027,
                                 f"JWT token is invalid or malformed ({e}).", 401), **log)
            if header.get("alg") != "RS256":
                fail(entra_error("invalid_client", 5002738, "Invalid JWT token. "
                                 f"'{header.get('alg')}' is not a supported signature algorithm.",
                                 401), **log)
            key = None
            for kind in ("x5t#S256", "x5t"):
                if kind in header:
                    key = client["thumbprints"].get((kind, header[kind]))
                    log["thumbprint"] = kind
                    break
            if key is None:
                fail(entra_error("invalid_client", 700027, "The certificate with identifier used "
                                 "to sign the client assertion is not registered on application.",
                                 401), **log)
            if not rs256_ok(key, signing_input, sig):
                fail(CANNED["AADSTS700027"](cid), **log)
            now = time.time()
            aud = claims.get("aud")
            if aud != self.token_url(tenant):
                fail(entra_error("invalid_client", 700212, "No matching federated identity record "
                                 f"found for presented assertion audience '{aud}'.", 401), **log)
            if claims.get("iss") != cid or claims.get("sub") != cid:
                fail(entra_error("invalid_client", 700021, "Client assertion application "
                                 "identifier doesn't match 'client_id' parameter.", 401), **log)
            exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
            if not isinstance(exp, (int, float)) or exp + CLOCK_SKEW < now or \
                    not isinstance(nbf, (int, float)) or nbf - CLOCK_SKEW > now:
                fail(entra_error("invalid_client", 700024, "Client assertion is not within its "
                                 "valid time range.", 401), **log)
            if "jti" not in claims:
                fail(entra_error("invalid_client", 50027, "JWT token is invalid or malformed "
                                 "(no jti).", 401), **log)
            return
        if "client_secret" in form:
            log["client_auth"] = "secret"
            if client.get("secret") is None or not secrets.compare_digest(
                    form["client_secret"], client["secret"]):
                fail(CANNED["AADSTS7000215"](cid), **log)
            if client.get("secret_expired"):
                fail(CANNED["AADSTS7000222"](cid), **log)
            return
        if client.get("public"):
            log["client_auth"] = "none"
            return
        fail(entra_error("invalid_client", 7000218, "The request body must contain the "
                         "following parameter: 'client_assertion' or 'client_secret'.", 401), **log)

    def client_credentials(self, tenant, tid, cid, client, form, log):
        self.authenticate_client(tenant, cid, client, form, log)
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            fail(CANNED["invalid_scope"](cid), **log)
        resource = scope[: -len("/.default")].rstrip("/")
        if resource not in RESOURCES:
            fail(entra_error("invalid_resource", 500011, f"The resource principal named "
                             f"{resource} was not found in the tenant."), **log)
        if not client.get("consented", True):
            fail(CANNED["AADSTS65001"](cid), **log)
        roles = client.get("roles", []) if resource == EXCHANGE else []
        token, life = self.issue({"aud": resource, "iss": f"{self.base}/{tid}/",
                                  "tid": tid, "appid": cid, "azp": cid, "sub": cid,
                                  "oid": client.get("object_id", cid), "idtyp": "app",
                                  "roles": roles})
        log["roles"] = roles
        raise Reply(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life,
                          "access_token": token}, log)

    def delegated_token(self, tid, cid, user, scopes):
        """Access token (+ rotating refresh token when offline_access) for a user."""
        resource, scp = EXCHANGE, []
        for s in scopes:
            if s in ("offline_access", "openid", "profile", "email"):
                continue
            if s.startswith(EXCHANGE + "/"):
                scp.append(s[len(EXCHANGE) + 1:])
        token, life = self.issue({"aud": resource, "iss": f"{self.base}/{tid}/", "tid": tid,
                                  "appid": cid, "azp": cid, "sub": f"sub-{user}", "upn": user,
                                  "preferred_username": user, "unique_name": user,
                                  "scp": " ".join(scp)})
        body = {"token_type": "Bearer", "scope": " ".join(
                    f"{EXCHANGE}/{s}" for s in scp) + (" offline_access" if "offline_access" in
                                                      scopes else ""),
                "expires_in": life, "ext_expires_in": life, "access_token": token}
        if "offline_access" in scopes:
            body["refresh_token"] = self.new_refresh({"tid": tid, "client_id": cid,
                                                      "user": user, "scopes": scopes})
        return body

    def device_authorize(self, tenant, form):
        log = {}
        tid, cid, client = self.entra_request(tenant, dict(form, grant_type=None),
                                              "devicecode", log)
        if not client.get("public"):
            fail(entra_error("invalid_client", 7000218, "The request body must contain the "
                             "following parameter: 'client_assertion' or 'client_secret'.", 401),
                 **log)
        scopes = form.get("scope", "").split()
        if not any(s.startswith(EXCHANGE + "/") for s in scopes):
            fail(CANNED["invalid_scope"](cid), **log)
        code = "lab-dc." + secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
        with self.lock:
            interval = self.settings["device_interval"]
            life = self.settings["device_lifetime"]
            self.devices[code] = {"user_code": user_code, "client_id": cid, "tid": tid,
                                  "scopes": scopes, "expires": time.time() + life,
                                  "interval": interval, "last_poll": None, "state": "pending",
                                  "user": None, "created": time.time()}
        uri = f"{self.base}/devicelogin"
        log["user_code"] = user_code
        raise Reply(200, {"device_code": code, "user_code": user_code, "verification_uri": uri,
                          "expires_in": life, "interval": interval,
                          "message": f"To sign in, use a web browser to open the page {uri} and "
                                     f"enter the code {user_code} to authenticate."}, log)

    def device_poll(self, tid, cid, form, log):
        now = time.time()
        with self.lock:
            dev = self.devices.get(form.get("device_code", ""))
            if dev is None or dev["client_id"] != cid:
                dev_state = "bad"
            else:
                log["user_code"] = dev["user_code"]
                last, dev["last_poll"] = dev["last_poll"], now
                if now > dev["expires"]:
                    dev_state = "expired"
                elif dev["state"] == "pending" and last is not None and \
                        now - last < 0.8 * dev["interval"]:
                    # RFC 8628 3.5: slow_down, and the interval grows by 5 s
                    dev["interval"] += 5
                    dev_state = "slow_down"
                else:
                    dev_state = dev["state"]
                if dev_state in ("approved", "declined", "expired"):
                    # a device code is answered with a final result once
                    self.devices.pop(form["device_code"], None)
        if dev_state == "bad":
            fail(entra_error("invalid_grant", 70000, "The provided value for the input parameter "
                             "'device_code' is not valid."), **log)
        if dev_state == "pending":
            fail(CANNED["authorization_pending"](cid), **log)
        if dev_state == "slow_down":
            fail(CANNED["slow_down"](cid), **log)
        if dev_state == "expired":
            fail(CANNED["expired_token"](cid), **log)
        if dev_state == "declined":
            fail(CANNED["authorization_declined"](cid), **log)
        log["user"] = dev["user"]
        raise Reply(200, self.delegated_token(tid, cid, dev["user"], dev["scopes"]), log)

    def refresh_grant(self, form, log, tid=None):
        rt = form.get("refresh_token", "")
        with self.lock:
            rec = self.refresh.pop(rt, None)   # rotating: every refresh token works once
        cid = form.get("client_id", "")
        if rec is None or rec["client_id"] != cid or rec["expires"] < time.time() or \
                rec["tid"] != tid:
            if tid is None:   # Google's /token: the lab issues no Google refresh tokens
                fail(google_error("invalid_grant", "Token has been expired or revoked."), **log)
            fail(CANNED["refresh_invalid_grant"](cid), **log)
        log["user"] = rec["user"]
        scopes = form.get("scope", "").split() or rec["scopes"]
        raise Reply(200, self.delegated_token(rec["tid"], cid, rec["user"], scopes), log)

    # -- Google
    def google_token(self, form):
        grant = form.get("grant_type", "")
        log = {"grant_type": grant}
        injected = self.take_injected("token")
        if injected:
            fail(CANNED[injected](""), injected=injected, **log)
        if grant == "refresh_token":
            return self.refresh_grant(form, dict(log, client_id=form.get("client_id")))
        if grant != JWT_BEARER:
            fail(google_error("unsupported_grant_type", "Invalid grant_type: " + grant), **log)
        try:
            header, claims, signing_input, sig = jwt_parse(form.get("assertion", ""))
        except BadJWT:
            fail(google_error("invalid_grant", "Invalid JWT Signature."), **log)
        iss = claims.get("iss")
        log.update(client_id=iss, sub=claims.get("sub"), scope=claims.get("scope"))
        acct = self.accounts.get(iss)
        if acct is None:
            fail(google_error("invalid_client", "The OAuth client was not found.", 401), **log)
        if header.get("alg") != "RS256" or header.get("kid", acct["key_id"]) != acct["key_id"] \
                or not rs256_ok(acct["public_key"], signing_input, sig):
            fail(CANNED["google_invalid_signature"](""), **log)
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or \
                exp - iat > 3600 or iat - CLOCK_SKEW > now or exp + CLOCK_SKEW < now:
            fail(CANNED["google_invalid_grant"](""), **log)
        if claims.get("aud") != f"{self.base}/token":
            fail(google_error("invalid_grant", "Invalid JWT: audience is not the token "
                              "endpoint."), **log)
        scopes = str(claims.get("scope", "")).split()
        if not scopes:
            fail(google_error("invalid_scope", "Invalid oauth scope or ID token audience "
                              "provided."), **log)
        sub = claims.get("sub")
        if sub is not None:
            if sub not in self.cfg.get("users", []):
                fail(CANNED["google_invalid_grant_sub"](""), **log)
            allowed = acct.get("scopes", [])
            if not acct.get("delegation", True) or any(s not in allowed for s in scopes):
                fail(CANNED["google_unauthorized_client"](""), **log)
        token, life = self.issue({"aud": GMAIL_SCOPE if GMAIL_SCOPE in scopes else scopes[0],
                                  "azp": acct.get("client_id", iss), "sub": sub or iss,
                                  **({"email": sub} if sub else {}), "scope": " ".join(scopes)})
        raise Reply(200, {"access_token": token, "expires_in": life, "token_type": "Bearer"}, log)

    # -- introspection (Dovecot's oauth2 passdb)
    def introspect(self, token, login_user, service):
        """(answer, reason): RFC 7662 answer for Dovecot and why (for the log)."""
        try:
            header, claims, signing_input, sig = jwt_parse(token)
        except BadJWT as e:
            return {"active": False}, str(e)
        if header.get("alg") != "RS256" or not rs256_ok(self.key.public_key(), signing_input, sig):
            return {"active": False}, "bad signature"
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            return {"active": False}, "expired"
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + CLOCK_SKEW:
            return {"active": False}, "not yet valid"
        aud = claims.get("aud")
        # Dovecot's oauth2 passdb sends neither the mailbox nor the protocol
        # (user None: any mail protocol will do); checktoken.py sends both
        proto = service if service in ("imap", "pop3") else None
        ok_proto = (lambda p: p == proto) if proto else (lambda p: p is not None)
        user = login_user.lower() if login_user else None
        if aud == EXCHANGE:
            cid = claims.get("appid", "")
            if "roles" in claims:   # app-only: role + FullAccess on the mailbox
                roles = [r for r in claims.get("roles", []) if ok_proto(APP_ROLES.get(r))]
                if not roles:
                    return {"active": False}, f"no {(proto or 'mail').upper()} app role"
                if user is None:
                    # no user in the token: Dovecot's username check cannot pass
                    # and the checkpassword passdb asks again with the mailbox
                    return {"active": True, "username": f"app:{cid}"}, "app-only, no mailbox"
                client = self.clients.get(cid, {})
                if not client.get("exchange_registered", True):
                    return {"active": False}, "service principal not registered in Exchange"
                allowed = client.get("mailboxes", [])
                if user is None or ("*" not in allowed and user not in allowed):
                    return {"active": False}, "no FullAccess on the mailbox"
                holder = user
            else:                    # delegated: the user the token is for
                scp = str(claims.get("scp", "")).split()
                if not any(ok_proto(DELEGATED.get(s)) for s in scp):
                    return {"active": False}, f"no {(proto or 'mail').upper()} delegated scope"
                holder = str(claims.get("upn", "")).lower()
                if proto is None and {DELEGATED.get(x) for x in scp} < set(DELEGATED.values()):
                    # a scope for one protocol only: Dovecot's passdb does not say
                    # which protocol logs in, so send it on to the Lua passdb
                    return {"active": True, "username": f"one-protocol:{holder}"}, \
                        "delegated for one protocol only"
        elif aud == GMAIL_SCOPE:
            if GMAIL_SCOPE not in str(claims.get("scope", "")).split():
                return {"active": False}, "no mail scope"
            holder = str(claims.get("email", "")).lower()
        else:
            return {"active": False}, f"wrong audience {aud}"
        if user is not None and holder != user:
            return {"active": False}, "token is for another user"
        if holder not in [u.lower() for u in self.cfg.get("users", [])]:
            return {"active": False}, "mailbox does not exist"
        with self.lock:
            seen = self.logins.setdefault(holder, [])
            seen.append((now, claims["exp"]))
            del seen[:-100]
        return {"active": True, "username": holder, "exp": claims["exp"],
                "client_id": claims.get("appid", claims.get("azp", "")),
                "scope": claims.get("scp", claims.get("scope", ""))}, "ok"

    # -- test control
    def control(self, what, body):
        if what == "reset":
            self.reset()
            return {"ok": True}
        if what == "settings":
            with self.lock:
                for k, v in body.items():
                    if k not in self.settings or not isinstance(v, (int, float)) or v < 0:
                        raise Reply(400, {"error": f"unknown or bad setting {k!r}"})
                    self.settings[k] = v
                return dict(self.settings)
        if what == "fail":
            name = body.get("error")
            if name not in CANNED:
                raise Reply(400, {"error": f"unknown error {name!r}", "known": sorted(CANNED)})
            ep = body.get("endpoint")
            if ep not in (None, "token", "devicecode"):
                raise Reply(400, {"error": f"unknown endpoint {ep!r}"})
            with self.lock:
                self.injected.append({"error": name, "count": int(body.get("count", 1)),
                                      "endpoint": ep})
            return {"ok": True}
        if what == "device":
            action = body.get("action", "approve")
            with self.lock:
                pending = [(c, d) for c, d in self.devices.items() if d["state"] == "pending"
                           and body.get("user_code") in (None, d["user_code"])]
                if not pending:
                    raise Reply(404, {"error": "no pending device code"})
                code, dev = max(pending, key=lambda p: p[1]["created"])
                if action == "approve":
                    user = body.get("user")
                    if user not in self.cfg.get("users", []):
                        raise Reply(400, {"error": f"unknown user {user!r}"})
                    dev["state"], dev["user"] = "approved", user
                elif action == "decline":
                    dev["state"] = "declined"
                elif action == "expire":
                    dev["expires"] = 0
                else:
                    raise Reply(400, {"error": f"unknown action {action!r}"})
                return {"ok": True, "user_code": dev["user_code"]}
        raise Reply(404, {"error": "no such control"})

    def cut_expired_sessions(self):
        """Exchange Online ends an IMAP/POP3 session when the token it logged
        in with expires. With cut_sessions on, a session of the lab's Dovecots
        (an imap/pop3 child of a master in dovecot_pid_files, titled
        "[user ip ...]" by verbose_proctitle) gets SIGTERM once the token of
        its login has expired (Dovecot answers "* BYE Server shutting down.").
        The login's token is the last one accepted for that user before the
        process started."""
        masters = set()
        for path in self.cfg.get("dovecot_pid_files", []):
            try:
                with open(path, encoding="ascii") as f:
                    masters.add(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        hz = os.sysconf("SC_CLK_TCK")
        now = time.time()
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in self.cut:
                continue
            try:
                with open(f"/proc/{d}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) not in masters or "[" not in title:
                continue
            started = now - (since_boot - int(fields[19]) / hz)
            user = title.split("[", 1)[1].split()[0].rstrip("]").lower()
            with self.lock:
                exps = [e for t, e in self.logins.get(user, []) if t <= started + 0.05]
            if exps and exps[-1] <= now:
                try:
                    os.kill(int(d), signal.SIGTERM)
                except OSError:
                    continue
                self.cut.add(int(d))
                self.write_log({"ts": round(now, 3), "endpoint": "session", "user": user,
                                "pid": int(d), "action": "cut", "reason": "token expired"})

    def reaper(self):
        while True:
            time.sleep(0.2)
            if self.settings.get("cut_sessions"):
                try:
                    self.cut_expired_sessions()
                except Exception as e:  # a lab bug: say so, keep serving
                    self.write_log({"ts": round(time.time(), 3), "endpoint": "session",
                                    "bug": f"{e.__class__.__name__}: {e}"})

    def jwks(self):
        return {"keys": [jwk_of(self.key.public_key(), self.kid)]}

    def write_log(self, entry):
        line = json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n"
        with self.log_lock, open(self.cfg["request_log"], "a", encoding="utf-8") as f:
            f.write(line)


def entra_decorate(body):
    """Entra ID's error bodies carry a timestamp and ids after the description."""
    if "error_codes" in body:
        now = datetime.datetime.now(datetime.timezone.utc)
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        body = dict(body, timestamp=stamp, trace_id=trace, correlation_id=corr)
        body["error_description"] += f" Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}"
    return body


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cutover-lab-idp/1"
    protocol_version = "HTTP/1.1"
    idp = None  # set by serve()

    def log_message(self, fmt, *args):  # the JSON request log replaces this
        pass

    def send_json(self, status, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise Reply(413, {"error": "invalid_request", "error_description": "body too large"})
        return self.rfile.read(n) if n else b""

    def form(self):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        raw = self.read_body()
        if ctype != "application/x-www-form-urlencoded":
            raise Reply(400, {"error": "invalid_request", "error_description":
                              "the body must be application/x-www-form-urlencoded"})
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                                           strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            raise Reply(400, {"error": "invalid_request", "error_description": "malformed form"})
        out = {}
        for k, v in pairs:
            if k in out:
                raise Reply(400, {"error": "invalid_request",
                                  "error_description": f"parameter {k} given twice"})
            out[k] = v
        return out

    def basic_client(self, form):
        """RFC 6749 2.3.1: the client id and secret may come as HTTP Basic
        credentials (form-urlencoded, then base64) instead of in the body."""
        authz = self.headers.get("Authorization", "")
        if authz[:6].lower() != "basic ":
            return form
        try:
            cid, _, secret = base64.b64decode(authz[6:].strip(), validate=True).decode(
                "utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Reply(400, {"error": "invalid_request",
                              "error_description": "malformed Basic credentials"})
        cid, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
        if form.get("client_id", cid) != cid or "client_secret" in form:
            raise Reply(400, {"error": "invalid_request", "error_description":
                              "client credentials both in the header and in the body"})
        return dict(form, client_id=cid, client_secret=secret)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        idp = self.idp
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [p for p in path.split("/") if p]
        entry = {"ts": round(time.time(), 3), "method": method, "path": path}
        status, body, extra = 404, {"error": "not_found"}, {}
        try:
            if method == "GET" and (path == "/oauth2/v3/certs" or
                                    parts[1:] == ["discovery", "v2.0", "keys"]):
                entry["endpoint"] = "keys"
                raise Reply(200, idp.jwks())
            if method != "POST" and path != "/introspect":
                raise Reply(405, {"error": "invalid_request",
                                  "error_description": "use POST"})
            if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and \
                    parts[3] in ("token", "devicecode"):
                entry["endpoint"] = parts[3]
                form = self.basic_client(self.form())
                if parts[3] == "token":
                    idp.entra_token(parts[0], form)
                idp.device_authorize(parts[0], form)
            if path == "/token":
                entry["endpoint"] = "token"
                idp.google_token(self.form())
            if path == "/introspect":
                # Dovecot's introspection_mode = auth: GET with the token as a
                # Bearer credential (its POST mode panics in Dovecot 2.3.19)
                entry["endpoint"] = "introspect"
                authz = self.headers.get("Authorization", "")
                token = authz[7:].strip() if authz[:7].lower() == "bearer " else ""
                entry.update(user=query.get("user"), service=query.get("service"))
                answer, reason = idp.introspect(token, query.get("user"), query.get("service"))
                entry.update(active=answer["active"], reason=reason)
                raise Reply(200, answer)
            if len(parts) == 2 and parts[0] == "_lab":
                entry["endpoint"] = "control"
                entry["control"] = parts[1]
                try:
                    req = json.loads(self.read_body() or b"{}")
                except ValueError:
                    raise Reply(400, {"error": "body is not JSON"})
                if not isinstance(req, dict):
                    raise Reply(400, {"error": "body is not a JSON object"})
                raise Reply(200, idp.control(parts[1], req))
        except Reply as r:
            status, body = r.status, r.body
            entry.update(r.log)
        except Exception as e:  # a lab bug: answer 500 and say so in the log
            status, body = 500, {"error": "server_error", "error_description": "lab IdP bug"}
            entry["bug"] = f"{e.__class__.__name__}: {e}"
        entry["status"] = status
        if isinstance(body, dict) and "error" in body and status >= 400:
            entry["error"] = body["error"]
            if "error_codes" in body:
                entry["error_codes"] = body["error_codes"]
            body = entra_decorate(body)
        if status == 503:
            extra["Retry-After"] = "1"
        if entry.get("endpoint") in ("token", "devicecode") and idp.settings["token_delay"]:
            time.sleep(idp.settings["token_delay"])
        idp.write_log(entry)
        self.send_json(status, body, extra)


def serve(config_path):
    idp = IdP(config_path)
    Handler.idp = idp
    cfg = idp.cfg
    srv = http.server.ThreadingHTTPServer((cfg["listen"], int(cfg["port"])), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg["tls_cert"], cfg["tls_key"])
    # the TLS handshake happens in the connection's thread, not in accept():
    # a stalled client cannot hold up the others
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    threading.Thread(target=idp.reaper, daemon=True).start()
    if cfg.get("pid_file"):
        with open(cfg["pid_file"] + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(cfg["pid_file"] + ".tmp", cfg["pid_file"])
    srv.serve_forever()
    srv.server_close()


# ---------------------------------------------------------------- init
def write_private(path, data, mode=0o600):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def new_rsa(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return key


def self_signed(key, cn, path):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .sign(key, hashes.SHA256()))
    write_private(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert


def init(run, base_url, listen, port, tls_cert, tls_key, users):
    """Keys and a default config in RUN (kept when present: re-init is idempotent)."""
    os.makedirs(run, exist_ok=True)
    p = lambda n: os.path.join(run, n)  # noqa: E731
    if not os.path.exists(p("signing.key")):
        new_rsa(p("signing.key"))
    if not os.path.exists(p("client.pem")):
        self_signed(new_rsa(p("client.key")), "cutover lab app", p("client.pem"))
    if not os.path.exists(p("other-client.pem")):   # a key the IdP does not know
        self_signed(new_rsa(p("other-client.key")), "unregistered", p("other-client.pem"))
    sa_email = "cutover-sync@lab-project.iam.gserviceaccount.com"
    if not os.path.exists(p("service-account.json")):
        key = new_rsa(p("service-account.key"))
        self_signed(key, sa_email, p("service-account.pem"))
        key_json = {"type": "service_account", "project_id": "lab-project",
                    "private_key_id": secrets.token_hex(20),
                    "private_key": key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode(),
                    "client_email": sa_email, "client_id": "104000000000000000001",
                    "token_uri": f"{base_url}/token"}
        write_private(p("service-account.json"), json.dumps(key_json, indent=2).encode())
    with open(p("service-account.json"), encoding="utf-8") as f:
        sa_key_id = json.load(f)["private_key_id"]
    tid = "11111111-2222-3333-4444-555555555555"
    full = ["IMAP.AccessAsApp", "POP.AccessAsApp"]
    cfg = {
        "base_url": base_url, "listen": listen, "port": port,
        "tls_cert": tls_cert, "tls_key": tls_key,
        "signing_key": p("signing.key"), "request_log": p("requests.jsonl"),
        "pid_file": p("idp.pid"),
        # the lab's Dovecot masters (cut_sessions)
        "dovecot_pid_files": [os.path.join(os.path.dirname(run), d, "run", "master.pid")
                              for d in ("dovecot", "dovecot-bearer")],
        "defaults": {"token_lifetime": 3599, "device_interval": 1, "device_lifetime": 900},
        "tenants": {tid: ["lab.test", "contoso.onmicrosoft.com"]},
        "users": users,
        "clients": {
            # client_credentials with a secret: every mailbox (FullAccess on all)
            "aaaaaaaa-0000-4000-8000-000000000001": {
                "tenant": tid, "secret": "lab-app-Secret~1", "roles": full, "mailboxes": ["*"]},
            # client_credentials with a certificate (client assertion)
            "aaaaaaaa-0000-4000-8000-000000000002": {
                "tenant": tid, "certificates": [p("client.pem")], "roles": full,
                "mailboxes": ["*"]},
            # public client for the device code flow (delegated)
            "aaaaaaaa-0000-4000-8000-000000000003": {"tenant": tid, "public": True},
            # FullAccess on alice only, IMAP only
            "aaaaaaaa-0000-4000-8000-000000000004": {
                "tenant": tid, "secret": "lab-app-Secret~4", "roles": ["IMAP.AccessAsApp"],
                "mailboxes": ["alice@lab.test"]},
            # no roles granted (admin consent missing for the API permission)
            "aaaaaaaa-0000-4000-8000-000000000005": {
                "tenant": tid, "secret": "lab-app-Secret~5", "roles": [], "mailboxes": ["*"]},
            # secret expired
            "aaaaaaaa-0000-4000-8000-000000000006": {
                "tenant": tid, "secret": "lab-app-Secret~6", "secret_expired": True,
                "roles": full, "mailboxes": ["*"]},
            # consent missing
            "aaaaaaaa-0000-4000-8000-000000000007": {
                "tenant": tid, "secret": "lab-app-Secret~7", "consented": False,
                "roles": full, "mailboxes": ["*"]},
            # roles granted but the service principal is not registered in Exchange
            "aaaaaaaa-0000-4000-8000-000000000008": {
                "tenant": tid, "secret": "lab-app-Secret~8", "roles": full,
                "mailboxes": ["*"], "exchange_registered": False},
        },
        "service_accounts": {
            sa_email: {"certificate": p("service-account.pem"), "key_id": sa_key_id,
                       "client_id": "104000000000000000001", "scopes": [GMAIL_SCOPE],
                       "delegation": True},
        },
    }
    write_private(p("config.json"), (json.dumps(cfg, indent=1) + "\n").encode())
    return cfg


def main(argv):
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "init":
        import argparse
        ap = argparse.ArgumentParser(prog="idp.py init")
        ap.add_argument("run")
        ap.add_argument("--base-url", required=True)
        ap.add_argument("--listen", required=True)
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--tls-cert", required=True)
        ap.add_argument("--tls-key", required=True)
        ap.add_argument("--users", required=True, help="file with one mailbox per line")
        a = ap.parse_args(argv[1:])
        with open(a.users, encoding="utf-8") as f:
            users = [line.strip() for line in f if line.strip()]
        init(a.run, a.base_url, a.listen, a.port, a.tls_cert, a.tls_key, users)
        return 0
    print("usage: idp.py init RUN --base-url URL --listen ADDR --port N --tls-cert F "
          "--tls-key F --users FILE | idp.py serve CONFIG", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
