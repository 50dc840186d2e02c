#!/usr/bin/python3
"""Token check of the OAuth2 lab's second passdb (a Lua passdb of the OAuth2
Dovecot, contrib/lab/oauth/oauth.sh, runs it for app-only tokens).

Dovecot 2.3's oauth2 passdb cannot tell its introspection endpoint which
mailbox is logging in (its URL takes no variables; 2.3.19 panics on one) and
insists the token names the login user, so an app-only token (Exchange's
client credentials, no user in it) can never pass it. This does what Exchange
does for those: it asks the lab IdP to introspect the token FOR this mailbox
and protocol (GET /introspect?user=U&service=S, Bearer token), and the IdP
checks signature, expiry, audience, the app role (IMAP.AccessAsApp /
POP.AccessAsApp) and the app's FullAccess on the mailbox. (Dovecot's
checkpassword passdb would be simpler but refuses passwords over 512 bytes.)

    checktoken.py IDP_URL CA_FILE USER SERVICE   < token

Exit 0: accepted; 1: refused; 111: the IdP could not be asked.
"""
import json
import ssl
import sys
import urllib.parse
import urllib.request


def main(argv):
    if len(argv) != 5:
        return 111
    url, ca, user, service = argv[1:]
    token = sys.stdin.read(1 << 16).strip()
    query = urllib.parse.urlencode({"user": user, "service": service})
    req = urllib.request.Request(f"{url}/introspect?{query}",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        ctx = ssl.create_default_context(cafile=ca)
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            answer = json.load(r)
    except (OSError, ValueError):
        return 111
    return 0 if answer.get("active") is True and answer.get("username") == user.lower() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
