"""Messages the user files into another folder between the pre-stage pass and
the final pass are moved on the destination, not copied a second time
(issue 15): the final pass transfers only the new mail, the moved messages
keep their flags (and the changes made to them on either side), the ones the
user deleted go with --delete, and an interrupted move is finished by the
next pass without a duplicate or a loss.
"""
import sqlite3
import time

import synchelp as sh

USER = "user031@lab.test"
ARCHIVE = "Archive.2020"  # the source's hierarchy delimiter is "."

N_INBOX, N_ARCHIVE = 800, 40
UNREAD, FLAGGED, LABELLED, DELETED, MOVED, NEW = 40, 100, 50, 150, 300, 500


def session(lab, side, user, folder):
    m = sh.connect(lab, side, user)
    typ, data = m.select(sh.quote(folder))
    assert typ == "OK", data
    return m


def uid_set(uids):
    return ",".join(str(u) for u in uids)


def by_body(snap):
    """{sha256: flags} of a folder snapshot (every body once: no duplicates)."""
    out = {sha: fl for sha, _, fl, _ in snap}
    assert len(out) == len(snap), "a message is there twice"
    return out


def test_final_pass_moves_what_the_user_filed(mail_lab, tmp_path, cutover):
    lab = mail_lab
    sh.wipe(lab, "source", USER)
    sh.wipe(lab, "destination", USER)
    now = time.time()
    sh.append_bulk(lab, "source", USER, "INBOX", [
        (sh.message(f"in-{i}", 300 + (i * 37) % 1500, seed="moves"),
         "\\Seen" if i % 3 == 0 else "", now - 3600 * i) for i in range(N_INBOX)])
    sh.append_bulk(lab, "source", USER, ARCHIVE, [
        (sh.message(f"ar-{i}", 400 + i, seed="moves"), "\\Seen", now - 86400 * i)
        for i in range(N_ARCHIVE)])
    plan = sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state")
    r = cutover("sync", plan, "--no-progress")
    c = r.check("sync.mailbox", USER)
    assert c["details"]["copied"] == N_INBOX + N_ARCHIVE, c
    fmap = sh.folder_map(c)

    # The user works at the source. INBOX UIDs 1-800 are messages 0-799.
    m = session(lab, "source", USER, "INBOX")
    try:
        assert m.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Seen)")[0] == "OK"   # reads all
        unread = range(1, 1 + UNREAD)
        flagged = range(41, 41 + FLAGGED)
        labelled = range(141, 141 + LABELLED)
        deleted = range(201, 201 + DELETED)
        moved = range(401, 401 + MOVED)
        assert m.uid("STORE", "1:40", "-FLAGS.SILENT", "(\\Seen)")[0] == "OK"
        assert m.uid("STORE", "41:140", "+FLAGS.SILENT", "(\\Flagged)")[0] == "OK"
        assert m.uid("STORE", "141:190", "+FLAGS.SILENT", "($Label1)")[0] == "OK"
        # Flagged before it is filed: the change travels with the message.
        assert m.uid("STORE", "401:410", "+FLAGS.SILENT", "(\\Flagged)")[0] == "OK"
        assert m.uid("STORE", "201:350", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
        assert m.uid("EXPUNGE", "201:350")[0] == "OK"
        typ, data = m.uid("MOVE", "401:700", sh.quote(ARCHIVE))
        assert typ == "OK", data
    finally:
        m.logout()
    assert len(unread) + len(flagged) + len(labelled) + len(deleted) + len(moved) == 640
    # ...and one change at the destination, on a message the user then filed:
    # it is kept where the message goes.
    m = session(lab, "destination", USER, "INBOX")
    try:
        assert m.uid("STORE", "420", "+FLAGS.SILENT", "(\\Answered)")[0] == "OK"
    finally:
        m.logout()
    new = [(sh.message(f"new-{i}", 200 + (i * 53) % 3000, seed="moves"), "", now)
           for i in range(NEW)]
    sh.append_bulk(lab, "source", USER, "INBOX", new)

    t0 = time.monotonic()
    r = cutover("sync", plan, "--no-progress", "--delete")
    took = time.monotonic() - t0
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "pass", c
    d = c["details"]
    print(f"final pass: {took:.1f} s, {d['copied']} copied, {d['moved']} moved, "
          f"{d['deleted']} deleted, {d['flags_updated']} flags updated")
    assert d["moved"] == MOVED, d
    assert d["copied"] == NEW, d
    assert d["bytes"] == sum(len(b) for b, _, _ in new), d
    assert d["deleted"] == DELETED and d["deleted_pending"] == 0, d
    folders = {f["source_raw"]: f for f in d["folders"]}
    assert folders[ARCHIVE]["moved"] == MOVED and folders[ARCHIVE]["copied"] == 0
    assert folders["INBOX"]["moved"] == 0 and folders["INBOX"]["deleted"] == DELETED

    src = sh.snapshot(lab, "source", USER)
    dst = sh.snapshot(lab, "destination", USER)
    answered = None
    for sf, df in fmap.items():
        s, dd = by_body(src[sf]), by_body(dst[df])
        assert set(s) == set(dd), (sf, len(s), len(dd))
        for sha, fl in s.items():
            if "\\Answered" in dd[sha]:
                answered = (sf, sha)
                fl = tuple(sorted(fl + ("\\Answered",)))
            assert dd[sha] == fl, (sf, sha, fl, dd[sha])
    assert len(src["INBOX"]) == N_INBOX - DELETED - MOVED + NEW
    assert len(src[ARCHIVE]) == N_ARCHIVE + MOVED
    assert answered is not None and answered[0] == ARCHIVE  # kept, and moved with it
    flagged_moved = [k for k, fl in by_body(dst[fmap[ARCHIVE]]).items() if "\\Flagged" in fl]
    assert len(flagged_moved) == 10

    # A pass after it has nothing to do.
    r = cutover("sync", plan, "--no-progress", "--delete")
    d = r.check("sync.mailbox", USER)["details"]
    assert (d["copied"], d["moved"], d["deleted"], d["flags_updated"]) == (0, 0, 0, 0), d
    assert r.check("mailbox.compare", USER)["status"] == "pass"
