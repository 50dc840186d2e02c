#!/usr/bin/python3
"""Many small mailboxes for the audit benchmark (stdlib only).

Adds users bench0001..benchNNNN to the running mail lab's source instance
(its users.passwd, which Dovecot re-reads when it changes) and writes, for
each, a Maildir++ tree with F folders (a few levels deep, one with a non-ASCII
name) of M small messages each, straight to disk: 500 x 20 x 3 takes a few
seconds. Prints nothing but errors; writes $LAB_RUN/mail/bench.csv (the
plan's mailbox sheet format).

  mkmailboxes.py LAB_RUN N [FOLDERS] [MESSAGES] [both]

With "both", every user is also added to the destination instance (same
folders, password bNNNN-dst-pw) and the sheet names that password, for
plans that log in on both sides (contrib/bench/scale.sh).

  mkmailboxes.py LAB_RUN big USER N

fills the existing source user USER (an empty mailbox of the lab, e.g.
user001@lab.test) with N messages for the sync benchmarks
(contrib/bench/final.sh): INBOX holds 75% (unread), Archive.2020 10%,
Archive.2019 7.5%, Projects 5%, Work 2.5% (read), bodies of about 0.5, 2 or
8 KB. 200,000 messages take about a minute.
"""
import os
import sys
import time


def mutf7_ascii(name):
    return name.replace("&", "&-")


FOLDER_NAMES = ["Sent", "Drafts", "Trash", "Junk", "Archive", "Archive.2023", "Archive.2024",
                "Projects", "Projects.Alpha", "Projects.Beta", "Clients", "Clients.Acme",
                "Invoices", "Newsletters", "Travel", "Work", "Work.Reports", "Receipts",
                "Entw&APw-rfe", "Family"]


def message(user, folder, i):
    body = (f"From: sender{i}@example.net\r\nTo: {user}\r\n"
            f"Subject: bench {folder} {i}\r\nMessage-ID: <{user}.{folder}.{i}@bench>\r\n"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n" + "lorem ipsum " * 40 + "\r\n")
    return body.replace("\r\n", "\n").encode()


BIG_FOLDERS = [("Archive.2020", 0.10), ("Archive.2019", 0.075), ("Projects", 0.05), ("Work", 0.025)]


def big(lab_run, user, n):
    home = os.path.join(lab_run, "mail", "source", "home")
    st = os.stat(home)
    md = os.path.join(home, user, "Maildir")
    counts = [(f, int(n * share)) for f, share in BIG_FOLDERS]
    counts.insert(0, ("INBOX", n - sum(c for _, c in counts)))
    filler = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do\n" * 140).encode()
    now = int(time.time())
    for j, (folder, count) in enumerate(counts):
        d = md if folder == "INBOX" else os.path.join(md, "." + folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        flags = "" if folder == "INBOX" else "S"
        for i in range(count):
            head = (f"From: sender{i % 997}@example.net\nTo: {user}\n"
                    f"Subject: {folder} message {i}\nMessage-ID: <big.{j}.{i}@bench>\n"
                    f"Date: Mon, 01 Jan 2024 10:00:00 +0000\n\n").encode()
            data = head + filler[:(500, 2000, 8000, 2000)[i % 4]] + b"\n"
            name = f"{now - count + i}.M{j}P{i}.bench,S={len(data)}:2,{flags}"
            path = os.path.join(d, "cur", name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (now - count + i, now - count + i))
    for r, dirs, files in os.walk(os.path.join(home, user)):
        os.chown(r, st.st_uid, st.st_gid)
        for f in files:
            os.chown(os.path.join(r, f), st.st_uid, st.st_gid)


def main():
    if len(sys.argv) == 5 and sys.argv[2] == "big":
        big(sys.argv[1], sys.argv[3], int(sys.argv[4]))
        return
    lab_run, n = sys.argv[1], int(sys.argv[2])
    nf = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    nm = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    both = len(sys.argv) > 5 and sys.argv[5] == "both"
    csv = ["source_user,source_password,dest_user,dest_password"]
    for k in range(1, n + 1):
        user = f"bench{k:04d}@lab.test"
        # without "both": no destination IMAP in the bench plan
        csv.append(f"{user},b{k:04d}-src-pw,{user},{f'b{k:04d}-dst-pw' if both else 'unused'}")
    add_users(lab_run, "source", "src", n, nf, nm)
    if both:
        add_users(lab_run, "destination", "dst", n, nf, nm)
    with open(os.path.join(lab_run, "mail", "bench.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(csv) + "\n")


def add_users(lab_run, side_name, tag, n, nf, nm):
    side = os.path.join(lab_run, "mail", side_name)
    home = os.path.join(side, "home")
    st = os.stat(home)
    passwd = os.path.join(side, "users.passwd")
    have = open(passwd, encoding="utf-8").read()
    lines = []
    now = int(time.time())
    for k in range(1, n + 1):
        user, pw = f"bench{k:04d}@lab.test", f"b{k:04d}-{tag}-pw"
        uhome = os.path.join(home, user)
        if f"\n{user}:" not in "\n" + have:
            lines.append(f"{user}:{{PLAIN}}{pw}::::{uhome}::\n")
        md = os.path.join(uhome, "Maildir")
        for j, folder in enumerate(["INBOX"] + FOLDER_NAMES[:nf - 1]):
            d = md if folder == "INBOX" else os.path.join(md, "." + folder)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            for i in range(nm):
                data = message(user, folder, i)
                name = f"{now - i}.M{j}P{i}.bench,S={len(data)}:2,S"
                with open(os.path.join(d, "cur", name), "wb") as f:
                    f.write(data)
        for root, dirs, files in os.walk(uhome):
            os.chown(root, st.st_uid, st.st_gid)
            for f in files:
                os.chown(os.path.join(root, f), st.st_uid, st.st_gid)
    with open(passwd, "a", encoding="utf-8") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
