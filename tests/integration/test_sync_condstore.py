"""CONDSTORE (issue 15): a pass records each folder's UIDNEXT, MESSAGES and
HIGHESTMODSEQ once it settled; the next pass skips a folder whose STATUS says
the same (`unchanged` in the report: no SELECT, no flag listing), looks at a
folder whose HIGHESTMODSEQ moved, and lists only the flags that changed
since (CHANGEDSINCE) when no message is gone. What the user checks: the
destination's flags follow the source's, deletions are still seen, new mail
still comes, and a folder that did not change is not touched.
"""
import time

import synchelp as sh
from test_sync_changes import by_body, expunge, store

USER = "user028@lab.test"


def folders(r):
    return {f["source"]: f for f in r.check("sync.mailbox", USER)["details"]["folders"]}


def test_unchanged_folders_are_skipped(mail_lab, tmp_path, cutover):
    lab = mail_lab
    sh.wipe(lab, "source", USER)
    sh.wipe(lab, "destination", USER)
    for folder, n in (("INBOX", 40), ("Work", 25)):
        sh.append_bulk(lab, "source", USER, folder, [
            (sh.message(f"{folder}-{i}", 400 + i, seed="condstore"), "\\Seen" if i % 3 else "",
             time.time() - 600 * i) for i in range(n)])
    plan = sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state")
    r = cutover("sync", plan, "--no-progress")
    assert r.check("sync.mailbox", USER)["details"]["copied"] == 65
    assert not any(f["unchanged"] for f in folders(r).values())

    # Nothing changed: both folders are skipped as unchanged.
    r = cutover("sync", plan, "--no-progress")
    f = folders(r)
    assert f["INBOX"]["unchanged"] and f["Work"]["unchanged"], f
    assert r.check("sync.mailbox", USER)["details"]["copied"] == 0
    assert r.check("mailbox.compare", USER)["status"] == "pass"

    # Flags change in INBOX only: INBOX is looked at, Work is not.
    store(lab, "source", USER, "INBOX", [1, 2, 3], "+FLAGS", "\\Flagged")
    store(lab, "source", USER, "INBOX", [5], "-FLAGS", "\\Seen")
    r = cutover("sync", plan, "--no-progress")
    f = folders(r)
    assert not f["INBOX"]["unchanged"] and f["Work"]["unchanged"], f
    assert f["INBOX"]["flags_updated"] == 4, f["INBOX"]
    assert by_body(lab, "destination", USER, "INBOX") == by_body(lab, "source", USER, "INBOX")

    # Flags change and new mail arrives: both come across.
    store(lab, "source", USER, "Work", [10, 11], "+FLAGS", "$Label1")
    sh.append_bulk(lab, "source", USER, "Work", [
        (sh.message(f"Work-new-{i}", 700, seed="condstore"), "", time.time()) for i in range(3)])
    r = cutover("sync", plan, "--no-progress")
    f = folders(r)
    assert f["INBOX"]["unchanged"] and not f["Work"]["unchanged"], f
    assert f["Work"]["copied"] == 3 and f["Work"]["flags_updated"] == 2, f["Work"]
    assert by_body(lab, "destination", USER, "Work") == by_body(lab, "source", USER, "Work")

    # A deletion at the source (with a flag change) is still seen.
    expunge(lab, "source", USER, "INBOX", [7, 8])
    store(lab, "source", USER, "INBOX", [9], "+FLAGS", "\\Answered")
    r = cutover("sync", plan, "--no-progress")
    f = folders(r)
    assert f["INBOX"]["deleted_pending"] == 2 and f["INBOX"]["flags_updated"] == 1, f["INBOX"]
    # Pending deletions keep the folder from counting as settled: --delete
    # finds them even though the source did not change again.
    r = cutover("sync", plan, "--no-progress", "--delete")
    f = folders(r)
    assert not f["INBOX"]["unchanged"] and f["INBOX"]["deleted"] == 2, f["INBOX"]
    assert by_body(lab, "destination", USER, "INBOX") == by_body(lab, "source", USER, "INBOX")
    r = cutover("sync", plan, "--no-progress", "--delete")
    f = folders(r)
    assert f["INBOX"]["unchanged"] and f["Work"]["unchanged"], f
    assert r.check("mailbox.compare", USER)["status"] == "pass"
