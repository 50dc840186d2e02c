"""Folders on any server (issue 15): the lab's third source, "hoster" (a
Dovecot shaped like many hosters' servers: every folder under the "INBOX."
namespace prefix, '.' separator, no SPECIAL-USE, no LIST-EXTENDED, a public
namespace), synced to the Exchange-like destination (no prefix, '/',
SPECIAL-USE "Sent Items", "Deleted Items", "Junk Email", Drafts, Archive).

What a user checks afterwards, over IMAP: every folder where they expect it
(no INBOX/ prefix, Drafts in Drafts, the archive tree whole), every message
(by SHA-256) in it, the folders subscribed as they were, the public folder
not copied into the mailbox; the audit showed the same mapping before; a
re-run copies nothing; the plan's folder_map moves and leaves out folders.
"""
import base64
import json

import pytest

import synchelp as sh

USER = "alice@lab.test"

# Where a user expects each hoster folder on the Exchange-like destination,
# and which rule puts it there. "Entwürfe" is a second drafts folder: the
# real Drafts takes the destination's Drafts (exact name); Entwürfe stays a
# folder of its own rather than merging into it.
EXPECT = {
    "INBOX": ("INBOX", "name"),
    "INBOX.Sent": ("Sent Items", "guess"),
    "INBOX.Drafts": ("Drafts", "name"),
    "INBOX.Entwürfe": ("Entwürfe", "new"),
    "INBOX.Trash": ("Deleted Items", "guess"),
    "INBOX.Spam": ("Junk Email", "guess"),
    "INBOX.Archive": ("Archive", "name"),
    "INBOX.Archive.2019": ("Archive/2019", "new"),
    "INBOX.Archive.2019.Q4": ("Archive/2019/Q4", "new"),
    "INBOX.Archive.2020": ("Archive/2020", "new"),
    "INBOX.Clients/Partners": ("Clients-Partners", "new"),
    "INBOX.Old Newsletters": ("Old Newsletters", "new"),
}


def raw(name):
    """Modified UTF-7 (RFC 3501 5.1.3) of a UTF-8 folder name."""
    out, run = [], []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


@pytest.fixture(scope="module")
def lab(hoster_lab):
    return hoster_lab


def hoster_plan(tmp_path, lab, dest_user, extra=None):
    p = {"domain": "lab.test", "ca_file": lab.ca,
         "source": {"imap": f"imaps://127.0.0.7:{lab.ports['hoster']['imaps']}"},
         "destination": {"imap": f"imaps://127.0.0.2:{lab.ports['destination']['imaps']}"},
         "mailboxes": [{"source_user": USER, "source_password": lab.password("hoster", USER),
                        "dest_user": dest_user,
                        "dest_password": lab.password("destination", dest_user)}],
         "state_dir": str(tmp_path / "state")}
    p.update(extra or {})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(p))
    return path


def source_folders(lab):
    return {f["name"]: f for f in lab.hoster_manifest["users"][USER]["folders"]}


def subscribed(lab, side, user):
    m = sh.connect(lab, side, user)
    try:
        typ, data = m.lsub('""', "*")
        assert typ == "OK", data
        out = set()
        for line in data:
            if line is None:
                continue
            if isinstance(line, tuple):
                out.add(line[1].decode())
                continue
            mm = sh.LIST_RE.match(line)
            name = mm.group("name")
            if name.startswith(b'"'):
                name = name[1:-1]
            out.add(name.decode())
        return out
    finally:
        m.logout()


def test_audit_shows_where_every_folder_goes(lab, cutover, tmp_path):
    dest = "user150@lab.test"
    sh.wipe(lab, "destination", dest)
    run = cutover("audit", hoster_plan(tmp_path, lab, dest), "--only", "folders",
                  "--no-progress")
    c = run.check("mailbox.folder_map", USER)
    assert c["status"] == "pass", c["summary"]
    got = {f["source"]: (f["destination"], f["mapped_by"]) for f in c["details"]["folders"]}
    assert got == EXPECT
    assert "INBOX.Archive.2019 -> Archive/2019" in c["summary"]
    assert c["details"]["namespaces"]["source"] == {
        "method": "NAMESPACE", "prefix": "INBOX.", "delimiter": "."}
    assert c["details"]["namespaces"]["destination"]["prefix"] == ""
    # The public namespace is not alice's mail: left out, and said so.
    left = {x["source"]: x["reason"] for x in c["details"]["left_out"]}
    assert left.get("Public.Announcements") == "foreign_namespace"
    counts = {f["source"]: f["messages"] for f in c["details"]["folders"]}
    assert counts == {n: f["messages"] for n, f in source_folders(lab).items()}


def test_sync_lands_every_folder_where_a_user_expects_it(lab, cutover, tmp_path):
    dest = "user151@lab.test"
    sh.wipe(lab, "destination", dest)
    plan = hoster_plan(tmp_path, lab, dest)
    run = cutover("sync", plan, "--no-progress", timeout=120)
    assert run.rc == 0, run.stdout + run.stderr
    c = run.check("sync.mailbox", USER)
    assert c["status"] == "pass", c["summary"]
    by = {f["source"]: (f["destination"], f["mapped_by"]) for f in c["details"]["folders"]}
    assert by == EXPECT
    srcf = source_folders(lab)
    assert c["details"]["copied"] == sum(f["messages"] for f in srcf.values())
    assert {x["source"] for x in c["details"]["left_out"]} >= {"Public.Announcements"}

    # Over IMAP: every message in the folder a user expects, nothing under INBOX/.
    src = sh.snapshot(lab, "hoster", USER, only={f["raw_name"] for f in srcf.values()})
    dst = sh.snapshot(lab, "destination", dest)
    assert not [n for n in dst if n.upper().startswith("INBOX/")], sorted(dst)
    assert "Public" not in " ".join(dst)
    for name, (dname, _) in EXPECT.items():
        s_msgs = src[srcf[name]["raw_name"]]
        d_msgs = dst[raw(dname)]
        assert [m[0] for m in d_msgs] == [m[0] for m in s_msgs], (name, dname)
    # The archive tree is whole.
    assert {"Archive", "Archive/2019", "Archive/2019/Q4", "Archive/2020"} <= set(dst)

    # Subscriptions kept: what was subscribed on the source is on the destination.
    src_sub = subscribed(lab, "hoster", USER)
    dst_sub = subscribed(lab, "destination", dest)
    for name, (dname, _) in EXPECT.items():
        if name == "INBOX":
            continue
        assert (raw(dname) in dst_sub) == (srcf[name]["raw_name"] in src_sub), name
    assert "Old Newsletters" not in dst_sub  # not subscribed on the source either
    assert c["details"]["folders_subscribed"] >= 5

    # The pass ends with mailbox.compare, paired the same way: nothing missing.
    cmp_ = run.check("mailbox.compare", USER)
    assert cmp_["status"] == "pass", cmp_["summary"]
    assert cmp_["details"]["missing_folders"] == []

    # A re-run copies nothing and creates nothing.
    again = cutover("sync", plan, "--no-progress", timeout=120)
    c2 = again.check("sync.mailbox", USER)
    assert c2["details"]["copied"] == 0
    assert c2["details"]["folders_created"] == 0
    assert c2["details"]["folders_subscribed"] == 0
    assert again.check("mailbox.compare", USER)["status"] == "pass"


def test_plan_folder_map_moves_and_leaves_out(lab, cutover, tmp_path):
    dest = "user152@lab.test"
    sh.wipe(lab, "destination", dest)
    fmap = {"Old Newsletters": None,              # leave out
            "Archive/2020": "Archive/Older/2020",  # '/' between levels, any server
            "INBOX.Spam": "Spam",                  # wins over the guess Junk Email
            "No Such Folder": "X"}
    plan = hoster_plan(tmp_path, lab, dest, {"sync": {"folder_map": fmap}})

    audit = cutover("audit", plan, "--only", "folders", "--no-progress")
    fm = audit.check("mailbox.folder_map", USER)
    assert fm["status"] == "warn"  # the rule naming no folder
    assert fm["details"]["unused_rules"] == ["No Such Folder"]
    got = {f["source"]: (f["destination"], f["mapped_by"]) for f in fm["details"]["folders"]}
    assert got["INBOX.Archive.2020"] == ("Archive/Older/2020", "plan")
    assert got["INBOX.Spam"] == ("Spam", "plan")
    assert "INBOX.Old Newsletters" not in got
    assert {"source": "INBOX.Old Newsletters", "reason": "plan"} in fm["details"]["left_out"]

    run = cutover("sync", plan, "--no-progress", timeout=120)
    assert run.rc == 0, run.stdout + run.stderr
    c = run.check("sync.mailbox", USER)
    by = {f["source"]: (f["destination"], f["mapped_by"]) for f in c["details"]["folders"]}
    assert by == {k: v for k, v in got.items()}
    dst = sh.snapshot(lab, "destination", dest)
    assert len(dst["Archive/Older/2020"]) == source_folders(lab)["INBOX.Archive.2020"]["messages"]
    assert len(dst["Spam"]) == source_folders(lab)["INBOX.Spam"]["messages"]
    assert dst["Junk Email"] == []
    assert "Old Newsletters" not in dst
    assert "Archive/2020" not in dst
    # compare pairs by the plan too and does not miss the folder left out.
    cmp_ = run.check("mailbox.compare", USER)
    assert cmp_["status"] == "pass", cmp_["summary"]
    assert {"source": "INBOX.Old Newsletters", "reason": "plan"} in cmp_["details"]["left_out"]


def test_compare_fails_on_a_folder_with_mail_on_one_side_only(lab, cutover, tmp_path):
    dest = "user153@lab.test"
    sh.wipe(lab, "destination", dest)
    plan = hoster_plan(tmp_path, lab, dest)
    assert cutover("sync", plan, "--no-progress", timeout=120).rc == 0
    sh.append(lab, "destination", dest, "INBOX/Archive/2019", sh.message(1, 500, seed="stray"))
    run = cutover("audit", plan, "--only", "compare", "--no-progress")
    c = run.check("mailbox.compare", USER)
    assert c["status"] == "fail", c["summary"]
    assert c["details"]["one_sided_with_messages"] == 1
    assert "INBOX/Archive/2019" in c["summary"]
    assert run.rc != 0


def test_without_namespace_the_list_decides_and_the_report_says_so(lab, cutover, tmp_path):
    """A server without NAMESPACE (hidden with CUTOVER_IMAP_IGNORE): the
    delimiter comes from LIST "" "", the prefix from the folder names (most
    sit below INBOX.), and mailbox.folder_map warns that it was guessed."""
    dest = "user154@lab.test"
    sh.wipe(lab, "destination", dest)
    run = cutover("audit", hoster_plan(tmp_path, lab, dest), "--only", "folders",
                  "--no-progress", env={"CUTOVER_IMAP_IGNORE": "NAMESPACE"})
    c = run.check("mailbox.folder_map", USER)
    assert c["status"] == "warn", c["summary"]
    assert "NAMESPACE" in c["summary"]
    assert c["details"]["namespaces"]["source"] == {
        "method": "LIST", "prefix": "INBOX.", "delimiter": "."}
    got = {f["source"]: (f["destination"], f["mapped_by"]) for f in c["details"]["folders"]}
    assert {k: v for k, v in got.items() if k in EXPECT} == EXPECT
    # Without NAMESPACE nothing says the public folder is not alice's own.
    assert got["Public.Announcements"] == ("Public/Announcements", "new")


def test_a_bad_folder_map_names_file_and_field(cutover, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text('{"domain": "lab.test",\n "sync": {"folder_map": {\n  "Junk": 5}}}\n')
    for cmd in ("sync", "audit"):
        run = cutover(cmd, plan, "--no-progress", json_report=False)
        assert run.rc == 65, run.stderr
        assert f"{plan}:3: sync.folder_map.Junk: expected a destination folder name or null" \
            in run.stderr
