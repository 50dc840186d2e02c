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


USER2 = "user032@lab.test"


def bodies(lab, side, user, folder):
    """[(uid, sha256 bytes, size)] of FOLDER."""
    import hashlib
    import re
    m = sh.connect(lab, side, user)
    try:
        typ, data = m.select(sh.quote(folder), readonly=True)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return []
        typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
        return [(int(re.search(rb"UID (\d+)", it[0]).group(1)), hashlib.sha256(it[1]).digest(),
                 len(it[1])) for it in data if isinstance(it, tuple)]
    finally:
        m.logout()


def status(lab, side, user, folder):
    import re
    m = sh.connect(lab, side, user)
    try:
        typ, data = m.status(sh.quote(folder), "(UIDVALIDITY UIDNEXT)")
        assert typ == "OK", data
        return (int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)),
                int(re.search(rb"UIDNEXT (\d+)", data[0]).group(1)))
    finally:
        m.logout()


def prestage_and_file(lab, tmp_path, cutover, user, n=60, filed=range(11, 41)):
    """INBOX of N messages and an Archive of 2, copied; then the user files
    FILED (INBOX UIDs) into the Archive at the source. Returns the plan and
    the folder map."""
    sh.wipe(lab, "source", user)
    sh.wipe(lab, "destination", user)
    sh.append_bulk(lab, "source", user, "INBOX", [
        (sh.message(f"k-{i}", 300 + 11 * i, seed="mvkill"), "\\Seen" if i % 2 else "",
         time.time() - 60 * i) for i in range(n)])
    sh.append_bulk(lab, "source", user, ARCHIVE, [
        (sh.message(f"a-{i}", 500, seed="mvkill"), "", time.time()) for i in range(2)])
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "state")
    r = cutover("sync", plan, "--no-progress")
    c = r.check("sync.mailbox", user)
    assert c["details"]["copied"] == n + 2, c
    m = session(lab, "source", user, "INBOX")
    try:
        assert m.uid("MOVE", uid_set(filed), sh.quote(ARCHIVE))[0] == "OK"
    finally:
        m.logout()
    return plan, sh.folder_map(c)


def kill_after_intents(lab, tmp_path, user, fmap, moved_on_destination):
    """The state and the destination as a run killed in the moves step
    leaves them: INTENT rows in the Archive's folder for the filed messages
    (committed before the command), the INBOX rows still DONE; with
    MOVED_ON_DESTINATION the UID MOVE reached the destination too (killed
    before its answer was recorded)."""
    db = sqlite3.connect(str(tmp_path / "state" / "sync.db"))
    try:
        fid = {name: i for i, name in db.execute("SELECT id, src_name FROM folder")}
        rows = {bytes(sha): (uid, size, mid, duv, duid, sf, df)
                for uid, size, sha, mid, duv, duid, sf, df in db.execute(
                    "SELECT src_uid, size, sha256, message_id, dst_uidvalidity, dst_uid, "
                    "src_flags, dst_flags FROM msg WHERE folder_id = ? AND state = 1",
                    (fid["INBOX"],))}
        known = {u for (u,) in db.execute("SELECT src_uid FROM msg WHERE folder_id = ?",
                                          (fid[ARCHIVE],))}
        uv, uidnext = status(lab, "destination", user, fmap[ARCHIVE])
        filed = [(uid, sha) for uid, sha, _ in bodies(lab, "source", user, ARCHIVE)
                 if uid not in known]
        assert len(filed) == 30
        for uid, sha in filed:
            _, size, mid, _, _, sf, df = rows[sha]
            db.execute("INSERT INTO msg(folder_id, src_uid, state, size, sha256, message_id, "
                       "dst_uidvalidity, dst_uidnext, dst_uid, updated_at, written_ms, "
                       "src_flags, dst_flags) VALUES(?, ?, 0, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?)",
                       (fid[ARCHIVE], uid, size, sha, mid, uv, uidnext, sf, df))
        db.commit()
        dst_uids = [rows[sha][4] for _, sha in filed]
    finally:
        db.close()
    if moved_on_destination:
        m = session(lab, "destination", user, "INBOX")
        try:
            assert m.uid("MOVE", uid_set(sorted(dst_uids)), sh.quote(fmap[ARCHIVE]))[0] == "OK"
        finally:
            m.logout()


def same_everywhere(lab, user, fmap):
    src = sh.snapshot(lab, "source", user)
    dst = sh.snapshot(lab, "destination", user)
    for sf, df in fmap.items():
        assert by_body(src[sf]) == by_body(dst[df]), sf


def test_a_move_killed_after_the_command_is_reconciled(mail_lab, tmp_path, cutover):
    """Killed after UID MOVE reached the destination, before COPYUID was
    recorded: the next pass finds the moved copies (I3) and copies nothing,
    the origin's rows whose copies left with them go, nothing is deleted."""
    plan, fmap = prestage_and_file(mail_lab, tmp_path, cutover, USER2)
    kill_after_intents(mail_lab, tmp_path, USER2, fmap, moved_on_destination=True)
    r = cutover("sync", plan, "--no-progress", "--delete")
    c = r.check("sync.mailbox", USER2)
    assert c["status"] == "pass", c
    d = c["details"]
    assert (d["copied"], d["reconciled"], d["moved"], d["deleted"]) == (0, 30, 0, 0), d
    same_everywhere(mail_lab, USER2, fmap)
    r = cutover("sync", plan, "--no-progress", "--delete")
    d = r.check("sync.mailbox", USER2)["details"]
    assert (d["copied"], d["moved"], d["deleted"], d["reconciled"]) == (0, 0, 0, 0), d
    same_everywhere(mail_lab, USER2, fmap)


def test_a_move_killed_before_the_command_copies_once(mail_lab, tmp_path, cutover):
    """Killed after the intents were committed, before UID MOVE was sent:
    the next pass drops the intents, copies the filed messages once and
    (--delete) expunges the copies left in INBOX: no duplicate, no loss."""
    plan, fmap = prestage_and_file(mail_lab, tmp_path, cutover, USER2)
    kill_after_intents(mail_lab, tmp_path, USER2, fmap, moved_on_destination=False)
    r = cutover("sync", plan, "--no-progress", "--delete", "--timeout", "5")
    c = r.check("sync.mailbox", USER2)
    assert c["status"] == "pass", c
    d = c["details"]
    assert (d["copied"], d["moved"], d["deleted"]) == (30, 0, 30), d
    same_everywhere(mail_lab, USER2, fmap)
    r = cutover("sync", plan, "--no-progress", "--delete")
    d = r.check("sync.mailbox", USER2)["details"]
    assert (d["copied"], d["moved"], d["deleted"]) == (0, 0, 0), d


def test_without_move_the_copy_is_copied_then_expunged(mail_lab, tmp_path, cutover):
    """A destination without MOVE (the lab's "hoster" server offers UIDPLUS
    only): UID COPY, then \\Deleted and UID EXPUNGE of exactly those UIDs.
    Without --delete: a move is no deletion."""
    lab = mail_lab
    user, dest = USER2, "bob@lab.test"
    sh.wipe(lab, "source", user)
    sh.wipe(lab, "hoster", dest)
    sh.append_bulk(lab, "source", user, "INBOX", [
        (sh.message(f"h-{i}", 400 + i, seed="mvhoster"), "", time.time()) for i in range(20)])
    sh.append_bulk(lab, "source", user, ARCHIVE, [
        (sh.message("h-a", 500, seed="mvhoster"), "", time.time())])
    plan = sh.plan(tmp_path, lab, [user], state_dir=tmp_path / "state", extra={
        "destination": {"imap": f"imaps://127.0.0.7:{lab.ports['hoster']['imaps']}"},
        "mailboxes": [{"source_user": user, "source_password": lab.password("source", user),
                       "dest_user": dest, "dest_password": lab.password("hoster", dest)}]})
    r = cutover("sync", plan, "--no-progress")
    c = r.check("sync.mailbox", user)
    assert c["details"]["copied"] == 21, c
    fmap = sh.folder_map(c)
    m = sh.connect(lab, "hoster", dest)
    try:
        assert "MOVE" not in m.capabilities and "UIDPLUS" in m.capabilities
    finally:
        m.logout()
    m = session(lab, "source", user, "INBOX")
    try:
        assert m.uid("MOVE", "5:12", sh.quote(ARCHIVE))[0] == "OK"
    finally:
        m.logout()
    r = cutover("sync", plan, "--no-progress")
    d = r.check("sync.mailbox", user)["details"]
    assert (d["copied"], d["moved"], d["deleted"], d["deleted_pending"]) == (0, 8, 0, 0), d
    src = sh.snapshot(lab, "source", user)
    dst = sh.snapshot(lab, "hoster", dest)
    for sf, df in fmap.items():
        assert by_body(src[sf]) == by_body(dst[df]), sf


USER3 = "user033@lab.test"
KILL_FOLDERS = ["INBOX", ARCHIVE, "Work"]
KILL_ROUNDS = 16


def test_sigkill_while_the_user_keeps_filing(mail_lab, tmp_path):
    """Between passes the user files messages from folder to folder (and
    deletes a few); each pass (--delete) is killed with SIGKILL at a seeded
    random moment, many of them in the moves step. The pass that runs to the
    end leaves every folder holding exactly what the source folder holds
    (SHA-256, size, flags, INTERNALDATE: no duplicate, nothing lost), and
    the next pass has nothing to do."""
    import json
    import random
    import signal
    import subprocess

    from conftest import cutover_bin

    lab = mail_lab
    rng = random.Random(20261207)
    sh.wipe(lab, "source", USER3)
    sh.wipe(lab, "destination", USER3)
    for folder, n in (("INBOX", 240), (ARCHIVE, 60), ("Work", 60)):
        sh.append_bulk(lab, "source", USER3, folder, [
            (sh.message(f"{folder}-{i}", rng.choice([800, 20000, 60000]), seed="mvcrash"),
             rng.choice(["", "\\Seen", "\\Seen $Label1"]), time.time() - 60 * i)
            for i in range(n)])
    plan = sh.plan(tmp_path, lab, [USER3], state_dir=tmp_path / "state")
    argv = [cutover_bin(), "sync", str(plan), "--no-progress", "-q", "--no-compare",
            "--delete", "--timeout", "5"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    killed = 0
    for k in range(KILL_ROUNDS):
        src, dst = rng.sample(KILL_FOLDERS, 2)
        m = session(lab, "source", USER3, src)
        try:
            typ, data = m.uid("SEARCH", "ALL")
            uids = [int(u) for u in data[0].split()]
            if not uids:
                continue
            pick = sorted(rng.sample(uids, min(60, len(uids))))
            assert m.uid("MOVE", uid_set(pick), sh.quote(dst))[0] == "OK"
            gone = [u for u in uids if u not in pick][:3]
            if k % 3 == 0 and gone:  # and deletes a few
                m.uid("STORE", uid_set(gone), "+FLAGS.SILENT", "(\\Deleted)")
                assert m.uid("EXPUNGE", uid_set(gone))[0] == "OK"
        finally:
            m.logout()
        # ...and new mail arrives, copied slowly (--max-rate) after the moves.
        sh.append_bulk(lab, "source", USER3, rng.choice(KILL_FOLDERS), [
            (sh.message(f"new{k}-{i}", 3000, seed="mvcrash"), "", time.time())
            for i in range(10)])
        p = subprocess.Popen(argv + ["--max-rate", "40"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # On the lab the moves step runs from about 0.1 s to 0.15-0.3 s.
        time.sleep(rng.uniform(0.05, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait(timeout=60)
    assert killed > 0, "every pass finished before its kill: the test proved nothing"
    out = subprocess.run(argv + ["--json", str(tmp_path / "final.json")],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    rep = json.loads((tmp_path / "final.json").read_text())
    c = [x for x in rep["checks"] if x["id"] == "sync.mailbox"][0]
    fmap = sh.folder_map(c)
    src = sh.snapshot(lab, "source", USER3)
    dst = sh.snapshot(lab, "destination", USER3)
    for s, d in fmap.items():
        assert dst.get(d) == src[s], f"{s} -> {d}: not exactly once " \
            f"({len(src[s])} on the source, {len(dst.get(d, []))} on the destination)"
    out = subprocess.run(argv + ["--json", str(tmp_path / "again.json")],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    rep = json.loads((tmp_path / "again.json").read_text())
    d = [x for x in rep["checks"] if x["id"] == "sync.mailbox"][0]["details"]
    assert (d["copied"], d["moved"], d["deleted"], d["flags_updated"]) == (0, 0, 0, 0), d
    print(f"{killed} of {KILL_ROUNDS} passes killed")
