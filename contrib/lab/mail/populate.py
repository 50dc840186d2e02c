#!/usr/bin/python3
"""Deterministic population of the cutover mail lab (stdlib only).

Writes Maildir++ folders and message files directly into the users' homes
under $LAB_RUN/mail/<side>/home/<user>/Maildir (replacing what was there),
including dovecot-uidlist (fixed UIDVALIDITY and UIDs) and dovecot-keywords,
then lets Dovecot index them with `doveadm mailbox status`, recalculates quota,
subscribes the folders, and checks Dovecot's counts against what was written.

The expected result is written to $LAB_RUN/mail/manifest.json (see README.md).
The lab must be up (contrib/lab/mail/mail.sh up).

  populate.py                       source side: alice, bob, carol
  populate.py --sides source,destination
  populate.py --large-over 157286400  the large message exceeds 150 MiB
  populate.py --sides hoster        the hoster source (INBOX. prefix, no SPECIAL-USE)
                                    and its public namespace
"""

import argparse
import base64
import datetime
import email.utils
import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = {"source": ".", "destination": "/", "hoster": "."}
# personal namespace prefix of each side (mail.sh: the hoster's is "INBOX.")
PREFIX = {"source": "", "destination": "", "hoster": "INBOX."}
LARGE_STREAM = 1024 * 1024  # attachments above this are generated in chunks
WORDS = ("migration mailbox folder server message quota report meeting budget "
         "invoice project review draft schedule client partner travel hotel "
         "flight agenda summary notes update status weekly monthly archive "
         "contract proposal design release testing deadline feedback team "
         "office lunch coffee plan phase alpha beta gamma delta invoice total "
         "payment receipt order shipping delivery address account password "
         "reset security notice welcome thanks regards hello again please "
         "attached document spreadsheet slides minutes action items next steps"
         ).split()
NAMES = ("Dana Fox", "Erik Lund", "Fatima Zahra", "Gérard Dupont", "Hana Sato",
         "Ivan Petrov", "Jürgen Weiß", "Kim Lee", "Laura Rossi", "Mateo García")
UMLAUT_SUBJECTS = ("Grüße aus München", "Réunion à Zürich", "Angebot für Q3",
                   "Ça va? Café", "Überprüfung der Größe")


# ------------------------------------------------------------ names
def mutf7(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3)."""
    out, run = [], []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def storage_dir(parts, side):
    """Maildir++ directory name for a folder given as hierarchy parts.

    On-disk separator is always "."; the listescape plugin escapes characters
    that can't be in a Maildir++ name as \\NN hex (done before mUTF-7, both
    leave ASCII alone so the order doesn't matter here)."""
    enc = []
    for p in parts:
        e = []
        for i, ch in enumerate(p):
            if ch in "./\\" or (ch == "~" and i == 0):
                e.append("\\%02x" % ord(ch))
            else:
                e.append(ch)
        enc.append(mutf7("".join(e)))
    return "." + ".".join(enc)


# ------------------------------------------------------------ messages
def hdr(s):
    """RFC 2047 encoded-word for non-ASCII header text."""
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        return "=?UTF-8?B?%s?=" % base64.b64encode(s.encode()).decode()


def fmt_date(ts):
    return email.utils.formatdate(ts, localtime=False, usegmt=False)


class MessageFactory:
    def __init__(self, rng, user):
        self.rng = rng
        self.user = user
        self.counter = 0

    def words(self, n):
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def body(self, lines):
        r = self.rng
        return "".join(self.words(r.randint(4, 14)) + "\n" for _ in range(lines))

    def make(self, ts, folder_key, msgid="auto", attach=0, subject=None,
             outgoing=False):
        """Return the message as an iterable of byte chunks (LF line endings)
        and its Message-ID (or None)."""
        r = self.rng
        self.counter += 1
        peer_name = r.choice(NAMES)
        peer = peer_name.split()[0].lower() + "@partner.example"
        me = self.user
        if subject is None:
            subject = (r.choice(UMLAUT_SUBJECTS) if r.random() < 0.05
                       else self.words(r.randint(2, 6)).capitalize())
        if msgid == "auto":
            msgid = "<lab.%s.%d.%s@lab.test>" % (
                hashlib.sha1(folder_key.encode()).hexdigest()[:8], self.counter,
                me.split("@")[0])
        h = []
        h.append("Return-Path: <%s>" % (me if outgoing else peer))
        h.append("Date: " + fmt_date(ts))
        if outgoing:
            h.append("From: %s <%s>" % (me.split("@")[0].capitalize(), me))
            h.append("To: %s <%s>" % (hdr(peer_name), peer))
        else:
            h.append("From: %s <%s>" % (hdr(peer_name), peer))
            h.append("To: %s" % me)
        h.append("Subject: " + hdr(subject))
        if msgid is not None:
            h.append("Message-ID: " + msgid)
        h.append("MIME-Version: 1.0")
        text = self.body(r.randint(3, 30))
        if attach:
            boundary = "=_lab_%08x" % r.getrandbits(32)
            h.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
            nbytes = attach * 3 // 4 + 1
            if nbytes <= LARGE_STREAM:
                b64 = [base64.encodebytes(r.randbytes(nbytes))]  # 76-char lines
            else:
                b64 = self.large_b64(nbytes)
            parts = [
                "This is a multi-part message in MIME format.\n",
                "--%s\n" % boundary,
                "Content-Type: text/plain; charset=utf-8\n",
                "Content-Transfer-Encoding: 8bit\n\n",
                text,
                "--%s\n" % boundary,
                'Content-Type: application/octet-stream; name="file%d.bin"\n' % self.counter,
                "Content-Transfer-Encoding: base64\n",
                'Content-Disposition: attachment; filename="file%d.bin"\n\n' % self.counter,
            ]
            head = ("\n".join(h) + "\n\n" + "".join(parts)).encode("utf-8")
            tail = ("--%s--\n" % boundary).encode()
            if isinstance(b64, list):
                return [head] + b64 + [tail], msgid
            return itertools.chain([head], b64, [tail]), msgid
        h.append("Content-Type: text/plain; charset=utf-8")
        h.append("Content-Transfer-Encoding: 8bit")
        return [("\n".join(h) + "\n\n" + text).encode("utf-8")], msgid

    def large_b64(self, nbytes):
        """Base64 lines of nbytes pseudo-random bytes, streamed in chunks (a
        random block repeated; its own RNG so the main sequence is unaffected)."""
        block = random.Random("large/%s/%d" % (self.user, nbytes)).randbytes(57 * 16384)
        left = nbytes
        while left > 0:
            chunk = block if left >= len(block) else block[:left]
            left -= len(chunk)
            yield base64.encodebytes(chunk)


# ------------------------------------------------------------ layout
# (name parts, message count, special_use, options)
def alice_source(large_over):
    return [
        (["INBOX"], 400, None, {"flags": "inbox", "specials": "inbox"}),
        (["Sent"], 250, "\\Sent", {"outgoing": True}),
        (["Drafts"], 6, "\\Drafts", {"flags": "drafts"}),
        (["Trash"], 30, "\\Trash", {}),
        (["Junk"], 15, "\\Junk", {}),
        (["Archive"], 40, None, {"specials": "archive"}),
        (["Archive", "2019"], 10001, None, {"year": 2019, "specials": "archive2019"}),
        (["Archive", "2020"], 600, None, {"year": 2020}),
        (["Projects"], 25, None, {"keywords": ["ProjectX"]}),
        (["Projects", "Alpha"], 35, None, {"keywords": ["ProjectX", "$Label1"]}),
        (["Projects", "Alpha", "Specs"], 12, None, {"attach": 0.3}),
        (["Invoices, 2023"], 48, None, {"attach": 0.5}),
        (["Clients/Partners"], 22, None, {}),
        (["Tom & Jerry"], 9, None, {}),
        (["Entwürfe"], 7, None, {}),
        (["Çàlendrier"], 5, None, {}),
        (["Empty"], 0, None, {}),
        (["Newsletters"], 300, None, {}),
        (["Work"], 200, None, {"flags": "inbox", "keywords": ["$Forwarded", "$Label1", "ProjectX"]}),
        (["Work", "Reports"], 120, None, {"attach": 0.2}),
        (["Travel"], 14, None, {"specials": "large"}),
    ]


# The hoster source: what many hosters' servers hold (see mail.sh): every
# folder under "INBOX.", no special-use attributes, a localized Drafts beside
# the real one, an archive tree, a name with '/', one folder not subscribed.
def hoster_alice(large_over):
    return [
        (["INBOX"], 30, None, {"flags": "inbox"}),
        (["Sent"], 12, None, {"outgoing": True}),
        (["Drafts"], 3, None, {"flags": "drafts"}),
        (["Entw\u00fcrfe"], 2, None, {"flags": "drafts"}),
        (["Trash"], 5, None, {}),
        (["Spam"], 4, None, {}),
        (["Archive"], 4, None, {}),
        (["Archive", "2019"], 20, None, {"year": 2019}),
        (["Archive", "2019", "Q4"], 3, None, {"year": 2019}),
        (["Archive", "2020"], 6, None, {"year": 2020}),
        (["Clients/Partners"], 3, None, {}),
        (["Old Newsletters"], 5, None, {"unsubscribed": True}),
    ]


LAYOUTS = {
    ("source", "alice@lab.test"): alice_source,
    ("source", "bob@lab.test"): lambda lo: [
        (["INBOX"], 40, None, {"flags": "inbox"}),
        (["Sent"], 15, "\\Sent", {"outgoing": True}),
        (["Old Stuff"], 10, None, {}),
        (["Old Stuff", "2018"], 5, None, {"year": 2018}),
        # A folder name that is markup: reports must show it as text.
        (["<img src=x onerror=alert(1)>"], 1, None, {}),
    ],
    ("source", "carol@lab.test"): lambda lo: [
        (["INBOX"], 5, None, {"specials": "carol"}),
        (["Sent"], 2, "\\Sent", {"outgoing": True}),
    ],
    ("hoster", "alice@lab.test"): hoster_alice,
    ("hoster", "bob@lab.test"): lambda lo: [
        (["INBOX"], 5, None, {"flags": "inbox"}),
        (["Sent"], 2, None, {"outgoing": True}),
    ],
    # destination: a partly migrated alice, for compare tests
    ("destination", "alice@lab.test"): lambda lo: [
        (["INBOX"], 10, None, {"flags": "inbox"}),
        (["Sent Items"], 5, "\\Sent", {"outgoing": True}),
        (["Archive", "2019"], 100, None, {"year": 2019}),
        (["Reports.2024"], 3, None, {}),
        (["Tom & Jerry"], 2, None, {}),
    ],
}


def read_passwd(path):
    homes = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) >= 6:
                homes[fields[0]] = fields[5]
    return homes


class Writer:
    def __init__(self, side, user, home, owner, seed, large_over):
        self.side, self.user, self.home, self.owner = side, user, home, owner
        self.rng = random.Random("%s/%s/%s" % (seed, side, user))
        self.fac = MessageFactory(self.rng, user)
        self.large_over = large_over
        self.maildir = os.path.join(home, "Maildir")
        self.specials = {"no_message_id": [], "duplicate_message_id": [],
                         "large": []}
        self.mtime_base = 1546300800  # 2019-01-01

    def chown(self, path):
        if self.owner is not None:
            os.chown(path, *self.owner)

    def mkdirs(self, d, maildirfolder):
        for sub in ("", "cur", "new", "tmp"):
            p = os.path.join(d, sub)
            os.makedirs(p, exist_ok=True)
            os.chmod(p, 0o700)
            self.chown(p)
        if maildirfolder:
            p = os.path.join(d, "maildirfolder")
            open(p, "w").close()
            self.chown(p)

    def folder(self, idx, parts, count, special_use, opt):
        sep = SEP[self.side]
        is_inbox = parts == ["INBOX"]
        prefix = "" if is_inbox else PREFIX.get(self.side, "")
        name = prefix + sep.join(parts)
        d = self.maildir if is_inbox else os.path.join(self.maildir, storage_dir(parts, self.side))
        self.mkdirs(d, not is_inbox)
        r = self.rng
        year = opt.get("year")
        if year:
            t0 = int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
            span = 365 * 86400
        else:
            t0, span = 1672531200, 2 * 365 * 86400  # 2023-2024
        keywords = list(opt.get("keywords", []))
        special = opt.get("specials")
        plan = []  # per message: dict(msgid=..., attach=..., subject=...)
        for i in range(count):
            m = {"msgid": "auto", "attach": 0}
            if r.random() < opt.get("attach", 0.02):
                m["attach"] = r.randint(2000, 40000)
            plan.append(m)
        if special == "inbox":
            for i in (5, 77, 190):
                plan[i]["msgid"] = None
                plan[i]["subject"] = "No Message-ID here %d" % i
            plan[10]["msgid"] = plan[11]["msgid"] = "<dup-1@lab.test>"
            plan[10]["subject"] = plan[11]["subject"] = "Duplicate Message-ID (same folder)"
            plan[20]["msgid"] = "<dup-2@lab.test>"
            plan[20]["subject"] = "Duplicate Message-ID (INBOX and Archive)"
        elif special == "archive":
            plan[3]["msgid"] = "<dup-2@lab.test>"
            plan[3]["subject"] = "Duplicate Message-ID (INBOX and Archive)"
        elif special == "archive2019":
            plan[4242]["msgid"] = None
            plan[4242]["subject"] = "No Message-ID in the big folder"
        elif special == "large":
            plan[7]["attach"] = self.large_over + 1
            plan[7]["subject"] = "Holiday photos (large attachment)"
            plan[7]["large"] = True
        elif special == "carol":
            plan[2]["attach"] = 150 * 1024
            plan[2]["subject"] = "Scanned contract (150 KiB)"

        uidvalidity = 1700000000 + idx
        kw_index = {k: i for i, k in enumerate(["$Forwarded", "$Label1", "ProjectX"])}
        kw_used = set()
        stats = {"messages": 0, "bytes": 0, "physical_bytes": 0,
                 "flags": {}, "keywords": {}}
        uidlist = []
        times = sorted(t0 + r.randrange(span) for _ in range(count))
        for uid, (m, ts) in enumerate(zip(plan, times), start=1):
            data, msgid = self.fac.make(ts, "%s/%s" % (self.user, name), msgid=m["msgid"],
                                        attach=m["attach"], subject=m.get("subject"),
                                        outgoing=opt.get("outgoing", False))
            tmp = None
            if isinstance(data, list):  # small: sizes known before writing
                size = sum(len(c) for c in data)
                lines = sum(c.count(b"\n") for c in data)
            else:  # streamed large message: write first, name it afterwards
                tmp = os.path.join(d, "tmp", "populate.tmp")
                size = lines = 0
                with open(tmp, "wb") as f:
                    for chunk in data:
                        f.write(chunk)
                        size += len(chunk)
                        lines += chunk.count(b"\n")
            vsize = size + lines
            flags = set()
            fl = opt.get("flags")
            if fl == "drafts":
                flags.add("D")
            elif opt.get("outgoing"):
                flags.add("S")
            else:
                if r.random() < 0.75:
                    flags.add("S")
                if r.random() < 0.05:
                    flags.add("F")
                if fl == "inbox" and r.random() < 0.10:
                    flags.add("R")
            kws = []
            for k in keywords:
                if r.random() < 0.15:
                    kws.append(k)
            if special == "inbox" and uid in (30, 31, 32):
                kws = ["$Forwarded", "$Label1", "ProjectX"][: uid - 29]
                flags |= {"S", "F", "R"}
            for k in kws:
                kw_used.add(k)
            letters = "".join(sorted(flags)) + "".join(
                sorted(chr(ord("a") + kw_index[k]) for k in kws))
            base = "%d.M%dP%d.cutover-lab,S=%d,W=%d" % (ts, uid, idx, size, vsize)
            path = os.path.join(d, "cur", base + ":2," + letters)
            if tmp is None:
                with open(path, "wb") as f:
                    f.writelines(data)
            else:
                os.rename(tmp, path)
            os.utime(path, (ts, ts))
            self.chown(path)
            uidlist.append("%d :%s\n" % (uid, base))
            stats["messages"] += 1
            stats["bytes"] += vsize
            stats["physical_bytes"] += size
            for letter, fname in (("S", "\\Seen"), ("F", "\\Flagged"), ("R", "\\Answered"),
                                  ("D", "\\Draft")):
                if letter in flags:
                    stats["flags"][fname] = stats["flags"].get(fname, 0) + 1
            for k in kws:
                stats["keywords"][k] = stats["keywords"].get(k, 0) + 1
            ref = {"folder": name, "uid": uid, "message_id": msgid, "bytes": vsize}
            if msgid is None:
                self.specials["no_message_id"].append(ref)
            elif msgid.startswith("<dup-"):
                self.specials["duplicate_message_id"].append(ref)
            if m.get("large") or m["attach"] > 100 * 1024:
                self.specials["large"].append(ref)
        guid = hashlib.md5(("%s/%s/%s" % (self.side, self.user, name)).encode()).hexdigest()
        p = os.path.join(d, "dovecot-uidlist")
        with open(p, "w") as f:
            f.write("3 V%d N%d G%s\n" % (uidvalidity, count + 1, guid))
            f.writelines(uidlist)
        self.chown(p)
        if kw_used:
            p = os.path.join(d, "dovecot-keywords")
            with open(p, "w") as f:
                for k, i in sorted(kw_index.items(), key=lambda kv: kv[1]):
                    f.write("%d %s\n" % (i, k))
            self.chown(p)
        return {
            "name": name,
            "raw_name": prefix + sep.join(mutf7(p) for p in parts),
            "subscribed": not is_inbox and not opt.get("unsubscribed", False),
            "parts": parts,
            "storage_dir": os.path.relpath(d, self.maildir),
            "special_use": special_use,
            "uidvalidity": uidvalidity,
            "messages": stats["messages"],
            "bytes": stats["bytes"],
            "physical_bytes": stats["physical_bytes"],
            "flags": stats["flags"],
            "keywords": stats["keywords"],
        }

    def run(self, layout):
        if os.path.exists(self.maildir):
            shutil.rmtree(self.maildir)
        os.makedirs(self.home, exist_ok=True)
        self.chown(self.home)
        self.mkdirs(self.maildir, False)
        folders = [self.folder(i, parts, n, su, opt)
                   for i, (parts, n, su, opt) in enumerate(layout)]
        return {
            "separator": SEP[self.side],
            "maildir": self.maildir,
            "folders": folders,
            "total_messages": sum(f["messages"] for f in folders),
            "total_bytes": sum(f["bytes"] for f in folders),
            "specials": self.specials,
        }


def doveadm(conf, *args, check=True):
    p = subprocess.run(["doveadm", "-c", conf] + list(args), capture_output=True,
                       text=True, encoding="utf-8")
    if check and p.returncode != 0:
        sys.exit("populate.py: doveadm %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                                p.stderr.strip()))
    return p.stdout


def verify(conf, user, expected, prefix=""):
    # with a namespace prefix (and the hoster's public namespace) "*" lists
    # nothing in doveadm 2.3: ask for INBOX and what is below the prefix
    masks = ["INBOX", prefix + "*"] if prefix else ["*"]
    out = doveadm(conf, "-f", "tab", "mailbox", "status", "-u", user, "messages vsize", *masks)
    lines = out.splitlines()
    got = {}
    for line in lines[1:]:
        name, messages, vsize = line.split("\t")
        got[name] = (int(messages), int(vsize))
    problems = []
    for f in expected["folders"]:
        g = got.get(f["name"])
        if g != (f["messages"], f["bytes"]):
            problems.append("%s: expected %d messages/%d bytes, dovecot says %s"
                            % (f["name"], f["messages"], f["bytes"], g))
    return problems, got


def populate_public(conf, root, owner, seed, large_over, user):
    """The hoster's public namespace ("Public.", mail.sh): one folder with
    three messages, seen by every user; not the user's own mail."""
    w = Writer("hoster", "public", root, owner, seed, large_over)
    um = w.run([(["Announcements"], 3, None, {})])
    if user is not None:
        doveadm(conf, "force-resync", "-u", user, "Public.*")
    return {"prefix": "Public.", "folders": [{"name": "Public." + ".".join(f["parts"]),
                                              "messages": f["messages"]}
                                             for f in um["folders"]]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab-run", default=os.environ.get("LAB_RUN",
                    os.path.join(os.path.dirname(HERE), "run")))
    ap.add_argument("--sides", default="source",
                    help="comma-separated: source, destination (default: source)")
    ap.add_argument("--seed", default="cutover-lab-1")
    ap.add_argument("--large-over", type=int,
                    default=int(os.environ.get("LAB_LARGE_OVER", 2 * 1024 * 1024)),
                    help="the large message in alice's Travel is bigger than this many "
                         "bytes (default 2097152; env LAB_LARGE_OVER)")
    ap.add_argument("--no-verify", action="store_true")
    a = ap.parse_args()

    t_start = time.monotonic()
    run = os.path.abspath(a.lab_run)
    mail_run = os.path.join(run, "mail")
    manifest_path = os.path.join(mail_run, "manifest.json")
    sides = [s.strip() for s in a.sides.split(",") if s.strip()]
    for s in sides:
        if s not in SEP:
            sys.exit("populate.py: unknown side %r" % s)
    manifest = {}
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
        except ValueError:
            manifest = {}
    manifest.update({"generator": "contrib/lab/mail/populate.py", "seed": a.seed,
                     "large_over": a.large_over})
    manifest.setdefault("sides", {})
    failed = False
    for side in sides:
        conf = os.path.join(mail_run, side, "dovecot.conf")
        pidf = os.path.join(mail_run, side, "run", "master.pid")
        if not os.path.exists(conf) or not os.path.exists(pidf):
            sys.exit("populate.py: the %s instance is not up (run contrib/lab/mail/mail.sh up)" % side)
        homes = read_passwd(os.path.join(mail_run, side, "users.passwd"))
        st = os.stat(os.path.join(mail_run, side, "home"))
        owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
        side_m = {"separator": SEP[side], "users": {}}
        for (s, user), layout in LAYOUTS.items():
            if s != side:
                continue
            w = Writer(side, user, homes[user], owner, a.seed, a.large_over)
            um = w.run(layout(a.large_over))
            # let Dovecot index everything, then fix quota and subscriptions
            doveadm(conf, "force-resync", "-u", user, "*")
            doveadm(conf, "quota", "recalc", "-u", user)
            doveadm(conf, "mailbox", "subscribe", "-u", user,
                    *[f["name"] for f in um["folders"] if f["subscribed"]])
            if not a.no_verify:
                problems, _ = verify(conf, user, um, PREFIX.get(side, ""))
                for p in problems:
                    print("populate.py: MISMATCH %s %s %s" % (side, user, p), file=sys.stderr)
                failed |= bool(problems)
                q = doveadm(conf, "-f", "tab", "quota", "get", "-u", user).splitlines()
                for line in q[1:]:
                    cols = line.split("\t")
                    if len(cols) >= 4 and cols[1] == "STORAGE":
                        um["quota_storage_kib"] = {"used": int(cols[2]),
                                                   "limit": None if cols[3] == "-" else int(cols[3])}
            side_m["users"][user] = um
            print("populate.py: %s %s: %d folders, %d messages, %d bytes" % (
                side, user, len(um["folders"]), um["total_messages"], um["total_bytes"]),
                file=sys.stderr)
        if side == "hoster":
            side_m["public"] = populate_public(conf, os.path.join(mail_run, side, "public"),
                                               owner, a.seed, a.large_over,
                                               next(iter(side_m["users"]), None))
        manifest["sides"][side] = side_m
    tmp = manifest_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, manifest_path)
    print("populate.py: manifest %s (%.1f s)%s" % (
        manifest_path, time.monotonic() - t_start,
        "" if a.no_verify else (" - MISMATCHES" if failed else " - verified with doveadm")),
        file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
