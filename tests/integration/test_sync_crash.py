"""Exactly once across crashes: cutover sync is killed with SIGKILL at 20
random moments (seeded), restarted each time, while new mail keeps arriving
on the source; at the end the destination holds every source message exactly
once, folder by folder (SHA-256 of the bytes, flags, INTERNALDATE), and one
more pass copies nothing.

Small batches and a rate limit stretch a pass over about a second, so the
kills land before, during and after APPENDs: between an intent's commit and
the APPEND's completion, during a MULTIAPPEND's literals, while APPENDUID
results are being recorded. No timing is asserted.
"""
import os
import random
import signal
import subprocess
import time

import synchelp as sh
from conftest import cutover_bin

USER = "user020@lab.test"
SEED = int(os.environ.get("TEST_SYNC_CRASH_SEED", "20261123"))
KILLS = 20
FOLDERS = ["INBOX", "Work.Sub", "Sent", "Caf&AOk-"]


def add_mail(lab, rng, n, tag):
    by_folder = {}
    for i in range(n):
        folder = rng.choice(FOLDERS)
        size = rng.choice([300, 2000, 6000, 30000, 120000])
        flags = rng.choice(["", "\\Seen", "\\Seen \\Flagged", "$Label1", "\\Answered Keep"])
        body = sh.message(f"{tag}-{i}", size, msgid=rng.random() > 0.1, seed="crash")
        by_folder.setdefault(folder, []).append(
            (body, flags, time.time() - rng.randrange(0, 10**7)))
    for folder, bodies in by_folder.items():
        sh.append_many(lab, "source", USER, folder, bodies)


def test_sigkill_twenty_times(mail_lab, tmp_path):
    lab = mail_lab
    rng = random.Random(SEED)
    sh.wipe(lab, "source", USER)
    sh.wipe(lab, "destination", USER)
    add_mail(lab, rng, 300, "base")
    # Two identical messages (same bytes, same Message-ID) must both arrive.
    dup = sh.message("dup", 1500, seed="crash")
    sh.append_many(lab, "source", USER, "INBOX", [(dup, "", time.time())] * 2)
    plan = sh.plan(tmp_path, lab, [USER], state_dir=tmp_path / "state")
    argv = [cutover_bin(), "sync", str(plan), "--no-progress", "-q", "--no-compare",
            "--batch", "7", "--max-rate", "400", "--jobs", "2"]
    finished = 0
    for k in range(KILLS):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.9))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        else:
            finished += 1
        p.wait(timeout=60)
        # Mail keeps arriving between the passes.
        if k % 4 == 3:
            add_mail(lab, rng, 12, f"late{k}")
    # The last pass runs to the end.
    out = subprocess.run(argv[:-6] + ["--json", str(tmp_path / "final.json")],
                         capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert out.returncode in (0, 1), out.stderr
    src = sh.snapshot(lab, "source", USER)
    dst = sh.snapshot(lab, "destination", USER)
    fmap = {"INBOX": "INBOX", "Work.Sub": "Work/Sub", "Sent": "Sent Items",
            "Caf&AOk-": "Caf&AOk-"}
    total = 0
    for s, d in fmap.items():
        assert dst.get(d) == src[s], f"{s} -> {d}: not exactly once " \
            f"({len(src[s])} on the source, {len(dst.get(d, []))} on the destination)"
        total += len(src[s])
    assert total == 302 + 12 * (KILLS // 4)
    assert finished < KILLS, "every pass finished before its kill: the test proved nothing"
    # And one more pass finds nothing to do.
    out = subprocess.run(argv[:-6] + ["--json", str(tmp_path / "again.json")],
                         capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    import json
    rep = json.loads((tmp_path / "again.json").read_text())
    c = [x for x in rep["checks"] if x["id"] == "sync.mailbox"][0]
    assert c["details"]["copied"] == 0, c


BIG_USER = "user021@lab.test"
BIG_FOLDERS = {"INBOX": 1200, "Archive.2019": 600, "Archive.2020": 500, "Sent": 400,
               "Work.Sub": 300}
BIG_KILLS = 60


def test_sigkill_sixty_times_with_batches_in_flight(mail_lab, tmp_path):
    """The experiment of issue 18 at test size: 3,000 small messages in five
    folders, MULTIAPPEND batches of 10 (many in flight on each of 2 jobs),
    60 SIGKILLs at seeded random moments (--max-rate spreads the copy over
    the kills, so that most land mid-copy); half of the restarts come at once,
    while the destination may still be storing the killed run's last batch.
    Then one pass to the end and --verify: every source message is on the
    destination exactly once, byte for byte, with its flags and date."""
    lab = mail_lab
    seed = SEED + 18
    print(f"seed {seed} (TEST_SYNC_CRASH_SEED={SEED})")
    rng = random.Random(seed)
    sh.wipe(lab, "source", BIG_USER)
    sh.wipe(lab, "destination", BIG_USER)
    flagsets = ["", "\\Seen", "\\Seen \\Flagged", "$Label1", "\\Answered"]
    for folder, n in BIG_FOLDERS.items():
        sh.append_bulk(lab, "source", BIG_USER, folder, [
            (sh.message(f"{folder}-{i}", rng.choice([200, 600, 1500]), seed="kill"),
             rng.choice(flagsets), 1.7e9 - rng.randrange(0, 10**8)) for i in range(n)])
    plan = sh.plan(tmp_path, lab, [BIG_USER], state_dir=tmp_path / "state")
    argv = [cutover_bin(), "sync", str(plan), "--no-progress", "-q", "--no-compare",
            "--batch", "10", "--jobs", "2"]
    finished = 0
    for k in range(BIG_KILLS):
        p = subprocess.Popen(argv + ["--max-rate", "250"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.03, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        else:
            finished += 1
        p.wait(timeout=60)
        if rng.random() < 0.5:
            time.sleep(0.3)  # otherwise restart at once, the old session still there
    print(f"{BIG_KILLS - finished} of {BIG_KILLS} passes killed")
    assert finished < 10, "most passes finished before their kill: the test proved nothing"
    final = subprocess.run(argv + ["--json", str(tmp_path / "final.json")],
                           capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
    assert final.returncode == 0, final.stderr
    fmap = {"INBOX": "INBOX", "Archive.2019": "Archive/2019", "Archive.2020": "Archive/2020",
            "Sent": "Sent Items", "Work.Sub": "Work/Sub"}
    # The passes alone, before --verify could repair anything, lost nothing.
    _assert_exactly_once(lab, fmap, seed)
    # And the state says so (I2): every source UID at or below a folder's
    # last_uid has a DONE row (the mailbox was filled fresh: UIDs 1..N).
    import sqlite3
    db = sqlite3.connect(tmp_path / "state" / "sync.db")
    for name, last, done in db.execute(
            "SELECT f.src_name, f.last_uid, (SELECT count(*) FROM msg m WHERE "
            "m.folder_id = f.id AND m.state = 1 AND m.src_uid <= f.last_uid) FROM folder f"):
        assert last == BIG_FOLDERS[name] and done == last, (seed, name, last, done)
    db.close()
    verify = subprocess.run(argv + ["--verify", "--json", str(tmp_path / "verify.json")],
                            capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert verify.returncode == 0, verify.stderr
    import json
    rep = json.loads((tmp_path / "verify.json").read_text())
    c = [x for x in rep["checks"] if x["id"] == "sync.mailbox"][0]
    assert c["status"] == "pass", c
    assert c["details"]["copied"] == 0, c
    assert c["details"]["verify"]["missing"] == 0, c
    _assert_exactly_once(lab, fmap, seed)


def _assert_exactly_once(lab, fmap, seed):
    src = sh.snapshot(lab, "source", BIG_USER)
    dst = sh.snapshot(lab, "destination", BIG_USER)
    for s, d in fmap.items():
        assert len(src[s]) == BIG_FOLDERS[s]
        missing = len(set(src[s]) - set(dst.get(d, [])))
        assert dst.get(d) == src[s], f"seed {seed}: {s} -> {d}: not exactly once " \
            f"({len(src[s])} on the source, {len(dst.get(d, []))} on the destination, " \
            f"{missing} missing)"
