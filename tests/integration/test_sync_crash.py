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
