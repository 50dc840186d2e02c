"""What the sync state claims is checked against the destination (issue 18).

A user deletes copies on the destination: the next pass says so (a failure
naming the folder and the count) and copies them again, once. A state broken
the way issue 18 broke it (last_uid past messages that have no record and are
not on the destination): a plain pass ends with mailbox.compare failing, and
`--verify` finds the unrecorded messages and copies them, never twice.
"""
import sqlite3
import time

import pytest

import synchelp as sh


def sync(cutover, plan, *args):
    r = cutover("sync", plan, "--no-progress", *args)
    assert r.report is not None, r.stderr
    return r

USER = "user023@lab.test"
FOLDERS = {"INBOX": 40, "Archive.2020": 25}
FMAP = {"INBOX": "INBOX", "Archive.2020": "Archive/2020"}


@pytest.fixture
def synced(mail_lab, tmp_path, cutover):
    lab = mail_lab
    sh.wipe(lab, "source", USER)
    sh.wipe(lab, "destination", USER)
    for folder, n in FOLDERS.items():
        sh.append_bulk(lab, "source", USER, folder, [
            (sh.message(f"v-{folder}-{i}", 500 + 37 * i, seed="verify"),
             "\\Seen" if i % 3 else "", time.time() - 86400 * i) for i in range(n)])
    plan = sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state")
    r = cutover("sync", plan, "--no-progress", "--batch", "7")
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "pass" and c["details"]["copied"] == 65, c
    assert c["details"]["verify"]["checked"] == 65, c
    return plan


def expunge_on_destination(lab, folder, pred):
    """Delete the destination messages of FOLDER whose body matches PRED;
    returns how many."""
    m = sh.connect(lab, "destination", USER)
    try:
        typ, _ = m.select(sh.quote(folder))
        assert typ == "OK"
        typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        gone = []
        for item in data:
            if isinstance(item, tuple) and pred(item[1]):
                gone.append(item[0].split(b"UID ")[1].split()[0].decode())
        for uid in gone:
            m.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
        return len(gone)
    finally:
        m.logout()


def assert_same(lab):
    src = sh.snapshot(lab, "source", USER)
    dst = sh.snapshot(lab, "destination", USER)
    for s, d in FMAP.items():
        assert dst[d] == src[s], f"{s} -> {d}: not exactly once"


def test_copies_deleted_on_destination_are_copied_again(mail_lab, synced, cutover):
    lab = mail_lab
    n = expunge_on_destination(lab, "Archive/2020", lambda b: b"v-Archive.2020-1" in b)
    assert n == 11  # -1, -10 .. -19
    r = sync(cutover, synced)
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "fail", c
    assert "11 message(s)" in c["summary"] and "Archive/2020" in c["summary"], c
    assert c["details"]["verify"]["missing"] == 11
    assert c["details"]["copied"] == 11
    assert r.check("mailbox.compare", USER)["status"] == "pass"
    assert_same(lab)
    # Nothing more to do, nothing missing.
    r = sync(cutover, synced)
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "pass" and c["details"]["copied"] == 0, c


def test_verify_repairs_a_state_that_lost_a_batch(mail_lab, synced, cutover, tmp_path):
    lab = mail_lab
    # Issue 18's damage: INBOX's last_uid is past UIDs 8..14, which have no
    # row, and the destination does not have them.
    db = sqlite3.connect(tmp_path / "state" / "sync.db")
    fid = db.execute("SELECT id FROM folder WHERE src_name = 'INBOX'").fetchone()[0]
    db.execute("DELETE FROM msg WHERE folder_id = ? AND src_uid BETWEEN 8 AND 14", (fid,))
    db.commit()
    db.close()
    lost = {f"v-INBOX-{i}".encode() for i in range(7, 14)}  # UIDs 8..14
    n = expunge_on_destination(lab, "INBOX",
                               lambda b: any(x + b"@" in b or x + b" " in b for x in lost))
    assert n == 7
    # A plain pass cannot see it in the state, but mailbox.compare fails.
    r = sync(cutover, synced)
    assert r.rc == 2
    c = r.check("sync.mailbox", USER)
    assert c["details"]["copied"] == 0, c
    mc = r.check("mailbox.compare", USER)
    assert mc["status"] == "fail", mc
    assert mc["details"]["synced_folders_short"] == 1 and '"INBOX"' in mc["summary"], mc
    # --verify finds and copies them, once.
    r = sync(cutover, synced, "--verify")
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "fail", c
    v = c["details"]["verify"]
    assert v["mode"] == "sha256" and v["unrecorded"] == 7 and v["missing"] == 0, v
    assert c["details"]["copied"] == 7
    assert r.check("mailbox.compare", USER)["status"] == "pass"
    assert_same(lab)
    # And a second --verify finds everything in order, byte for byte.
    r = sync(cutover, synced, "--verify")
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "pass", c
    v = c["details"]["verify"]
    assert v["checked"] == 65 and v["missing"] == 0 and v["mismatched"] == 0, v
    assert v["unrecorded"] == 0 and c["details"]["copied"] == 0
