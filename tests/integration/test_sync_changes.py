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


USER2 = "user027@lab.test"


def test_plan_sync_settings_and_since(mail_lab, tmp_path, cutover):
    """The plan's "sync" object (since, exclude, delete) is what every pass
    uses; --since on the command line overrides it."""
    import calendar
    lab = mail_lab
    sh.wipe(lab, "source", USER2)
    sh.wipe(lab, "destination", USER2)
    old = calendar.timegm((2018, 6, 1, 12, 0, 0))
    new = calendar.timegm((2021, 6, 1, 12, 0, 0))
    sh.append_bulk(lab, "source", USER2, "INBOX", [
        (sh.message(f"old-{i}", 400, seed="since"), "", old + i) for i in range(10)] + [
        (sh.message(f"new-{i}", 400, seed="since"), "", new + i) for i in range(10)])
    sh.append_bulk(lab, "source", USER2, "Junk", [
        (sh.message(f"junk-{i}", 300, seed="since"), "", new) for i in range(5)])
    plan = sh.plan(tmp_path, lab, [USER2], state_dir=tmp_path / "state",
                   extra={"sync": {"since": "2020-01-01", "exclude": ["Junk"], "delete": True}})
    r = cutover("sync", plan, "--no-progress")
    c = r.check("sync.mailbox", USER2)
    assert c["status"] == "pass", c
    d = c["details"]
    assert d["copied"] == 10, d
    inbox = [f for f in d["folders"] if f["source"] == "INBOX"][0]
    assert inbox["older_than_since"] == 10
    assert "Junk" not in [f["source"] for f in d["folders"]]
    assert r.check("mailbox.compare", USER2)["status"] in ("pass", "warn")
    dst = sh.snapshot(lab, "destination", USER2)
    assert len(dst["INBOX"]) == 10 and "Junk" not in dst
    # delete: true from the plan: two new ones deleted at the source go.
    expunge(lab, "source", USER2, "INBOX", [11, 12])
    r = cutover("sync", plan, "--no-progress")
    d = r.check("sync.mailbox", USER2)["details"]
    assert d["deleted"] == 2 and d["copied"] == 0, d
    # --since on the command line wins: the older ones come now.
    r = cutover("sync", plan, "--no-progress", "--since", "2000-01-01")
    d = r.check("sync.mailbox", USER2)["details"]
    assert d["copied"] == 10, d
    src = sh.snapshot(lab, "source", USER2, only=["INBOX"])["INBOX"]
    assert sh.snapshot(lab, "destination", USER2)["INBOX"] == src
    # A malformed day is refused naming the place.
    bad = sh.plan(tmp_path, lab, [USER2], state_dir=tmp_path / "state",
                  extra={"sync": {"since": "2019-02-30"}})
    r = cutover("sync", bad, "--no-progress", json_report=False)
    assert r.rc == 65 and "sync.since" in r.stderr, r.stderr
