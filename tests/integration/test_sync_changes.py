"""The final pass brings the source's changes since the pre-stage pass across
(issue 15): flags and keywords changed at the source are changed on the
destination, a change made only on the destination is kept, a message changed
on both sides keeps everything (the union, counted as a conflict), messages
deleted at the source are counted and, with --delete, expunged on the
destination (only copies cutover made), and new mail is copied.
"""
import time

import synchelp as sh

USER = "user026@lab.test"
N = 60


def store(lab, side, user, folder, uids, op, flags):
    m = sh.connect(lab, side, user)
    try:
        assert m.select(sh.quote(folder))[0] == "OK"
        for u in uids:
            typ, data = m.uid("STORE", str(u), op, f"({flags})")
            assert typ == "OK", data
    finally:
        m.logout()


def expunge(lab, side, user, folder, uids):
    m = sh.connect(lab, side, user)
    try:
        assert m.select(sh.quote(folder))[0] == "OK"
        for u in uids:
            m.uid("STORE", str(u), "+FLAGS.SILENT", "(\\Deleted)")
        m.expunge()
    finally:
        m.logout()


def by_body(lab, side, user, folder):
    """{sha256: (flags, date)} of FOLDER."""
    return {sha: (fl, date) for sha, _, fl, date in
            sh.snapshot(lab, side, user, only=[folder])[folder]}


def test_final_pass_follows_the_source(mail_lab, tmp_path, cutover):
    lab = mail_lab
    sh.wipe(lab, "source", USER)
    sh.wipe(lab, "destination", USER)
    sh.append_bulk(lab, "source", USER, "INBOX", [
        (sh.message(f"chg-{i}", 300 + i, seed="changes"), "\\Seen" if i < 20 else "",
         time.time() - 3600 * i) for i in range(N)])
    plan = sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state")
    r = cutover("sync", plan, "--no-progress")
    assert r.check("sync.mailbox", USER)["details"]["copied"] == N
    # Weeks of use at the source: UIDs 1-60 are messages 0-59.
    store(lab, "source", USER, "INBOX", range(21, 41), "+FLAGS", "\\Seen")     # read
    store(lab, "source", USER, "INBOX", range(1, 6), "-FLAGS", "\\Seen")       # unread
    store(lab, "source", USER, "INBOX", range(41, 46), "+FLAGS", "\\Flagged")
    store(lab, "source", USER, "INBOX", range(46, 50), "+FLAGS", "$Label1")
    expunge(lab, "source", USER, "INBOX", range(51, 56))                      # 5 deleted
    # ...and one change on the destination only (the user already works there),
    # one on both sides.
    store(lab, "destination", USER, "INBOX", [57], "+FLAGS", "\\Answered")
    store(lab, "destination", USER, "INBOX", [41], "+FLAGS", "$Dest")
    sh.append_bulk(lab, "source", USER, "INBOX", [
        (sh.message(f"new-{i}", 500, seed="changes"), "", time.time()) for i in range(7)])

    # Without --delete: flags follow, the deletions are only counted.
    r = cutover("sync", plan, "--no-progress")
    c = r.check("sync.mailbox", USER)
    assert c["status"] == "pass", c
    d = c["details"]
    assert d["copied"] == 7
    assert d["flags_updated"] == 20 + 5 + 5 + 4, d
    assert d["conflicts"] == 1 and d["deleted"] == 0 and d["deleted_pending"] == 5, d
    src, dst = by_body(lab, "source", USER, "INBOX"), by_body(lab, "destination", USER, "INBOX")
    assert len(dst) == N + 7
    answered = [k for k, (fl, _) in dst.items() if "\\Answered" in fl]
    assert len(answered) == 1  # the destination's own change is kept
    both = [k for k, (fl, _) in dst.items() if "$Dest" in fl]
    assert len(both) == 1 and dst[both[0]][0] == ("$Dest", "\\Flagged")
    for k, (fl, date) in src.items():
        want = tuple(sorted(set(fl) | set(dst[k][0]))) if k in both + answered else fl
        assert dst[k] == (want, date), (k, dst[k], fl)

    # With --delete: the five are expunged, nothing else; a rerun changes nothing.
    r = cutover("sync", plan, "--no-progress", "--delete")
    d = r.check("sync.mailbox", USER)["details"]
    assert d["deleted"] == 5 and d["copied"] == 0 and d["flags_updated"] == 0, d
    dst = by_body(lab, "destination", USER, "INBOX")
    assert set(dst) == set(src)
    r = cutover("sync", plan, "--no-progress", "--delete")
    d = r.check("sync.mailbox", USER)["details"]
    assert (d["copied"], d["flags_updated"], d["deleted"], d["deleted_pending"]) == (0, 0, 0, 0)
    assert r.check("mailbox.compare", USER)["status"] == "pass"
