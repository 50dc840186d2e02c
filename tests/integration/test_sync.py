"""cutover sync against the Dovecot mail lab (source Maildir++ with '.', the
destination with '/' and Microsoft-style special-use folders).

What a user checks after a sync: every source folder has a destination
folder holding exactly the same messages (SHA-256 of the bytes), with the
same flags, keywords and INTERNALDATE; a second pass copies nothing; new
messages are copied by the next pass and nothing else; Sent goes to "Sent
Items"; memory stays flat for a large message.
"""
import os
import resource
import subprocess
import time

import pytest

import synchelp as sh
from conftest import cutover_bin


@pytest.fixture(scope="module")
def lab(mail_lab):
    sh.populate(mail_lab)
    for u in ("alice@lab.test", "user010@lab.test", "user011@lab.test", "user012@lab.test"):
        sh.wipe(mail_lab, "destination", u)
    return mail_lab


def sync(cutover, plan, *args, timeout=300):
    return cutover("sync", plan, "--no-progress", *args, timeout=timeout)


def assert_same(lab, user, fmap, only_src=None):
    src = sh.snapshot(lab, "source", user, only=only_src)
    dst = sh.snapshot(lab, "destination", user)
    for s, msgs in src.items():
        d = fmap[s]
        assert d in dst, f"{s} -> {d} missing on the destination"
        assert dst[d] == msgs, f"{s} -> {d}: contents differ"
    return src, dst


def test_full_delta_and_mapping(lab, cutover, tmp_path):
    user = "alice@lab.test"
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "state")

    # Pass 1: everything.
    r = sync(cutover, plan)
    c = r.check("sync.mailbox", user)
    assert c["status"] == "pass", c
    d = c["details"]
    assert d["copied"] == 12139 and d["errors"] == 0
    fmap = sh.folder_map(c)
    # Special use first, then names with the delimiter translated.
    assert fmap["Sent"] == "Sent Items"
    assert fmap["Trash"] == "Deleted Items"
    assert fmap["Junk"] == "Junk Email"
    assert fmap["Archive.2019"] == "Archive/2019"
    assert fmap["Projects.Alpha.Specs"] == "Projects/Alpha/Specs"
    # The destination's delimiter inside a name is rewritten and reported.
    assert fmap["Clients/Partners"] == "Clients-Partners"
    assert [x["source"] for x in d["rewritten"]] == ["Clients/Partners"]
    # Modified UTF-7 names round-trip byte for byte.
    assert fmap["Entw&APw-rfe"] == "Entw&APw-rfe"
    assert fmap["&AMcA4A-lendrier"] == "&AMcA4A-lendrier"
    by_src = {f["source"]: f for f in d["folders"]}
    assert by_src["Entwürfe"]["destination"] == "Entwürfe"
    assert by_src["Sent"]["mapped_by"] == "special-use"
    # Byte-identical, flags, keywords and INTERNALDATE equal, folder by folder.
    src, dst = assert_same(lab, user, fmap)
    inbox = src["INBOX"]
    assert any("ProjectX" in m[2] and "$Label1" in m[2] for m in inbox)
    assert sum(len(v) for v in src.values()) == 12139
    # The state: 0700 folder, 0600 database, no password anywhere in it.
    st = tmp_path / "state"
    assert (st.stat().st_mode & 0o777) == 0o700
    assert (st / "sync.db").stat().st_mode & 0o777 == 0o600
    blob = b"".join(p.read_bytes() for p in st.iterdir())
    assert lab.password("source", user).encode() not in blob
    assert lab.password("destination", user).encode() not in blob
    assert lab.password("source", user) not in r.stdout + r.stderr

    # Pass 2: nothing new, nothing copied.
    r = sync(cutover, plan)
    c = r.check("sync.mailbox", user)
    assert c["status"] == "pass"
    assert c["details"]["copied"] == 0
    assert c["details"]["skipped"] == 12139
    assert "nothing new" in c["summary"]

    # New mail on the source: the next pass copies exactly that.
    now = time.time() - 3600
    sh.append(lab, "source", user, "INBOX", sh.message(1, 3000, seed="new"),
              flags="\\Seen $Label1", date=now)
    sh.append(lab, "source", user, "INBOX", sh.message(2, 500, msgid=False, seed="new"),
              date=now - 86400)
    sh.append(lab, "source", user, "Work.Reports", sh.message(3, 8000, seed="new"),
              flags="\\Flagged")
    # A duplicate of an existing message (same Message-ID, same bytes) is copied too.
    sh.append(lab, "source", user, "Archive", sh.message(1, 3000, seed="new"), date=now)

    # --dry-run says so and changes nothing.
    r = sync(cutover, plan, "--dry-run")
    c = r.check("sync.mailbox", user)
    assert c["details"]["dry_run"] is True
    assert c["details"]["would_copy"] == 4
    assert c["details"]["copied"] == 0
    assert all(x["id"] != "mailbox.compare" for x in r.report["checks"])

    r = sync(cutover, plan)
    c = r.check("sync.mailbox", user)
    assert c["details"]["copied"] == 4, c
    per = {f["source"]: f["copied"] for f in c["details"]["folders"] if f["copied"]}
    assert per == {"INBOX": 2, "Work.Reports": 1, "Archive": 1}
    assert_same(lab, user, fmap, only_src={"INBOX", "Work.Reports", "Archive"})

    # The report ends with the audit's mailbox.compare.
    cmp_ = r.check("mailbox.compare", user)
    assert cmp_["details"]["user"] == user
    # After a full sync nothing is missing, the rewritten Clients-Partners too.
    assert cmp_["status"] == "pass", cmp_["summary"]
    assert cmp_["details"]["missing_folders"] == [] and cmp_["details"]["differences"] == 0
    assert r.rc == 0


def test_folder_filters_and_mailbox_pick(lab, cutover, tmp_path):
    user = "user010@lab.test"
    sh.append_many(lab, "source", user, "INBOX",
                   [(sh.message(i, 400, seed="f"), "\\Seen", time.time()) for i in range(3)])
    sh.append_many(lab, "source", user, "Junk",
                   [(sh.message(i, 400, seed="j"), "", time.time()) for i in range(2)])
    sh.append_many(lab, "source", user, "Lists.Debian",
                   [(sh.message(i, 400, seed="l"), "", time.time()) for i in range(2)])
    plan = sh.plan(tmp_path, lab, [user, "user011@lab.test"], state_dir=tmp_path / "st")
    r = sync(cutover, plan, "--mailbox", user, "--exclude", "Junk", "--exclude", "Lists*")
    c = r.check("sync.mailbox", user)
    assert {f["source"] for f in c["details"]["folders"]} == {"INBOX"}
    assert c["details"]["copied"] == 3
    assert [x["subject"] for x in r.report["checks"] if x["id"] == "sync.mailbox"] == [user]
    r = sync(cutover, plan, "--mailbox", user, "--folders", "Lists.*")
    c = r.check("sync.mailbox", user)
    assert {f["source"]: f["destination"] for f in c["details"]["folders"]} == \
        {"Lists.Debian": "Lists/Debian"}
    assert c["details"]["copied"] == 2
    r = sync(cutover, plan, "--mailbox", "nobody@lab.test")
    assert r.rc == 65
    assert "nobody@lab.test" in r.stderr


def peak_rss_kib(argv):
    """Run ARGV; return (exit code, its own peak RSS in KiB)."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_maxrss


def test_large_message_memory_flat(lab, tmp_path):
    """A 64 MiB message streams from FETCH into APPEND: peak RSS stays close to
    that of syncing a 1 KiB message."""
    big = sh.message(0, 64 * 1024 * 1024, seed="big")
    sh.append(lab, "source", "user011@lab.test", "INBOX", big, flags="\\Seen")
    sh.append(lab, "source", "user012@lab.test", "INBOX", sh.message(0, 1024, seed="small"))
    rss = {}
    for user in ("user012@lab.test", "user011@lab.test"):
        plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "st")
        rc, rss[user] = peak_rss_kib([cutover_bin(), "sync", str(plan), "--mailbox", user,
                                      "--no-progress", "-q", "--no-compare"])
        assert rc == 0
    small, large = rss["user012@lab.test"], rss["user011@lab.test"]
    assert large < small + 16 * 1024, f"peak RSS {large} KiB for 64 MiB vs {small} KiB"
    src = sh.snapshot(lab, "source", "user011@lab.test", only={"INBOX"})
    dst = sh.snapshot(lab, "destination", "user011@lab.test", only={"INBOX"})
    assert src["INBOX"] == dst["INBOX"] and src["INBOX"][0][1] == len(big)


def test_state_dir_unwritable(lab, cutover, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    plan = sh.plan(tmp_path, lab, ["user010@lab.test"], state_dir=blocker / "state")
    r = cutover("sync", plan, json_report=False)
    assert r.rc == 74
    assert "state" in r.stderr


def test_help_teaches():
    out = subprocess.run([cutover_bin(), "sync", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("--dry-run", "--max-rate", "--mailbox", "--folders", "Sent Items",
                 "Examples"):
        assert word in out.stdout


def test_uidvalidity_change_recovered(lab, cutover, tmp_path):
    """The source renumbers a folder (new UIDVALIDITY): messages already copied
    are matched by (Message-ID, size, SHA-256), not copied again; duplicates
    and messages without a Message-ID included."""
    user = "user013@lab.test"
    sh.wipe(lab, "source", user)
    sh.wipe(lab, "destination", user)
    now = time.time()
    bodies = [(sh.message(i, 700 + 13 * i, msgid=i % 4 != 0, seed="uv"), "\\Seen", now)
              for i in range(25)]
    bodies.append(bodies[3])  # the same bytes twice
    sh.append_many(lab, "source", user, "INBOX", bodies)
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "st")
    r = sync(cutover, plan)
    assert r.check("sync.mailbox", user)["details"]["copied"] == 26
    subprocess.run(["bash", str(sh.ROOT / "contrib/lab/mail/mail.sh"), "doveadm", "source",
                    "mailbox", "update", "--uid-validity", "777", "-u", user, "INBOX"],
                   env=lab.env, check=True, timeout=60)
    sh.append(lab, "source", user, "INBOX", sh.message(100, 900, seed="uv-new"))
    r = sync(cutover, plan)
    d = r.check("sync.mailbox", user)["details"]
    assert d["recovered"] == 26
    assert d["copied"] == 1
    src = sh.snapshot(lab, "source", user)
    dst = sh.snapshot(lab, "destination", user)
    assert [m[:2] for m in src["INBOX"]] == [m[:2] for m in dst["INBOX"]]


def test_per_host_counts_every_connection(lab, cutover, tmp_path):
    """--per-host bounds the connections each server sees, whatever --jobs
    asks: 3 mailboxes x 4 jobs with --per-host 2 never hold more than 2
    sessions open on either server (counted in Dovecot's logs)."""
    users = [f"user0{n}@lab.test" for n in (20, 21, 22)]
    for u in users:
        sh.wipe(lab, "destination", u)
        for folder in ("INBOX", "Lists", "Lists.Debian", "Work"):
            sh.append_many(lab, "source", u, folder,
                           [(sh.message(i, 600, seed=u + folder), "", time.time())
                            for i in range(3)])
    plan = sh.plan(tmp_path, lab, users, state_dir=tmp_path / "ph")
    since = {s: lab.log_size(s) for s in ("source", "destination")}
    r = sync(cutover, plan, "--per-host", "2", "--jobs", "4", "--no-compare")
    assert r.rc == 0, r.stdout[-2000:]
    for u in users:
        assert r.check("sync.mailbox", u)["details"]["copied"] == 12
    for side in ("source", "destination"):
        for _ in range(100):  # the last Disconnected line may lag the exit a moment
            st = lab.connections(side, since[side], lport=lab.ports[side]["imaps"])
            if st["open_sessions"] == 0:
                break
            time.sleep(0.1)
        assert st["logins"] >= 3, st
        assert 1 <= st["max_concurrent"] <= 2, st


def test_without_literal_plus_and_multiappend(lab, cutover, tmp_path):
    """Servers without LITERAL+ (RFC 7888) and MULTIAPPEND (RFC 3502), as
    Exchange Online is: synchronizing literals that wait for the server's
    "+", one APPEND per message; the copy is still exact."""
    user = "user030@lab.test"
    sh.wipe(lab, "destination", user)
    sh.append_many(lab, "source", user, "INBOX",
                   [(sh.message(i, 300 + 5000 * i, seed="nolit"), "\\Seen", time.time())
                    for i in range(5)])
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "nl")
    r = cutover("sync", plan, "--no-progress", "--no-compare", timeout=300,
                env={"CUTOVER_IMAP_IGNORE": "LITERAL+,MULTIAPPEND"})
    assert r.rc == 0, r.stdout[-2000:]
    c = r.check("sync.mailbox", user)
    assert c["details"]["copied"] == 5
    fmap = sh.folder_map(c)
    assert_same(lab, user, fmap, only_src={"INBOX"})
