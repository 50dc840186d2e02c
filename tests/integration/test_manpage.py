"""The man page (contrib/man/cutover.1) renders cleanly and says what the binary says.

The help texts of the binary are the source of truth: every subcommand of
`cutover --help` and every long option printed by `cutover COMMAND --help`
must appear in the man page, in the right place (a command's own options in
its COMMANDS subsection, the common options under COMMON OPTIONS), as must
every exit code, every check id of the report schema and the version. A new
option without a man page entry fails here.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, cutover_bin

# CUTOVER_MAN: check another copy (an installed page) against the binary.
MAN = Path(os.environ.get("CUTOVER_MAN", ROOT / "contrib" / "man" / "cutover.1"))
SCHEMA = ROOT / "reports" / "report.schema.json"
LONG_OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
# groff turns - and \- into Unicode hyphens/minus signs with -Tutf8.
DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                        "\u2212": "-", "\u00ad": ""})


def run(*args, env=None):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env)


def cutover_help(*args):
    p = run(cutover_bin(), *args, "--help")
    assert p.returncode == 0, f"cutover {' '.join(args)} --help: {p.stderr}"
    return p.stdout


def need(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is missing: install groff-base and man-db (contrib/deps.sh)"
    return path


@pytest.fixture(scope="module")
def page():
    """The man page rendered as plain text on lines long enough that nothing
    is broken or hyphenated, split into sections and subsections."""
    need("groff")
    p = run("groff", "-man", "-Tutf8", "-rLL=20000n", "-P-cbou", str(MAN))
    assert p.returncode == 0, p.stderr
    text = p.stdout.translate(DASHES)
    sections, subsections = {}, {}
    sec = sub = None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            sec, sub = line.strip(), None
            sections[sec] = []
            continue
        m = re.match(r"^ {3}(\S.*)$", line)
        if m and sec is not None:
            sub = m.group(1).strip()
            subsections[sub] = []
        if sec is not None:
            sections[sec].append(line)
        if sub is not None:
            subsections[sub].append(line)
    return {"text": text,
            "sections": {k: "\n".join(v) for k, v in sections.items()},
            "subsections": {k: "\n".join(v) for k, v in subsections.items()}}


def has_option(text, opt):
    return re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text) is not None


def commands():
    """(name, words) from `cutover --help`'s Commands list: ("audit", ["audit"]),
    ("report", ["report", "render"]), ("report", ["report", "merge"]), ..."""
    out = cutover_help()
    block = out.split("Commands:", 1)[1].split("\n\n", 1)[0]
    found = []
    for line in block.splitlines():
        m = re.match(r"^  ([a-z][a-z0-9-]*)(?: ([a-z|]+)(?= |$))?", line)
        if not m:
            continue
        if m.group(2):
            found += [(m.group(1), [m.group(1), s]) for s in m.group(2).split("|")]
        else:
            found.append((m.group(1), [m.group(1)]))
    return found


def split_help(text):
    """A command's help as (own part, common-options part), without the
    Examples blocks (examples may run other commands)."""
    own, _, common = text.partition("Common options:")
    kept, in_examples = [], False
    for line in own.splitlines():
        if line.startswith("Examples:"):
            in_examples = True
            continue
        if in_examples and line and not line.startswith(" "):
            in_examples = False
        if not in_examples:
            kept.append(line)
    return "\n".join(kept), common


def is_tag(text, opt):
    """OPT starts an indented paragraph tag (.TP) in the rendered TEXT."""
    return re.search(r"^ {7}(?:-[a-z], )?" + re.escape(opt) + r"(?![\w-])", text, re.M) is not None


def command_subsection(page, words):
    title = "cutover " + " ".join(words)
    hits = [v for k, v in page["subsections"].items()
            if k == title or k.startswith(title + " ")]
    assert hits, f"no COMMANDS subsection '{title} ...' in {MAN.name}"
    return hits[0]


def test_renders_without_warnings():
    need("groff")
    p = run("groff", "-man", "-Tutf8", "-ww", "-z", str(MAN))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    if shutil.which("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        m = run("man", "--warnings=all", "-l", str(MAN), env=env)
        assert m.returncode == 0, m.stderr
        assert m.stderr == "", m.stderr
        rendered = re.sub(r"\s+", " ", m.stdout.translate(DASHES))
        assert "cutover - readiness audit" in rendered


def test_has_the_sections_a_user_looks_for(page):
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "COMMON OPTIONS", "PLAN FILE",
                "CHECKS", "REPORTS", "EXIT STATUS", "ENVIRONMENT", "FILES", "SECURITY",
                "EXAMPLES", "SEE ALSO"):
        assert sec in page["sections"], f"section {sec} missing"


def test_every_subcommand_is_documented(page):
    cmds = commands()
    names = {n for n, _ in cmds}
    top, _ = split_help(cutover_help())
    for opt in LONG_OPT.findall(top):
        assert has_option(page["text"], opt), f"cutover --help mentions {opt}"
    assert {"audit", "dns", "propagation", "report"} <= names, cmds
    for _, words in cmds:
        title = "cutover " + " ".join(words)
        assert title in page["sections"]["SYNOPSIS"], f"'{title}' not in SYNOPSIS"
        command_subsection(page, words)


def test_every_command_option_is_in_its_subsection(page):
    checked = 0
    for name in sorted({n for n, _ in commands()}):
        own, _ = split_help(cutover_help(name))
        opts = set(LONG_OPT.findall(own)) - {"--help"}
        subs = [words for n, words in commands() if n == name]
        text = "\n".join(command_subsection(page, w) for w in subs)
        missing = sorted(o for o in opts if not has_option(text, o))
        assert not missing, f"cutover {name} --help prints {missing}: not in its man subsection"
        synopsis = page["sections"]["SYNOPSIS"]
        checked += len(opts)
        # The options a command declares itself have an entry of their own
        # (a tag in its subsection) and are in its SYNOPSIS.
        declared = set(re.findall(r"^ {2}(--[a-z][a-z0-9-]*)", own, re.M))
        untagged = sorted(o for o in declared if not is_tag(text, o))
        assert not untagged, f"cutover {name}: no entry for {untagged} in its man subsection"
        absent = sorted(o for o in declared if not has_option(synopsis, o))
        assert not absent, f"cutover {name}: {absent} not in SYNOPSIS"
    assert checked >= 30, checked


def test_every_common_option_is_in_common_options(page):
    common_text = page["sections"]["COMMON OPTIONS"]
    seen = set()
    for name in sorted({n for n, _ in commands()}):
        _, common = split_help(cutover_help(name))
        seen |= set(LONG_OPT.findall(common))
    assert {"--json", "--html", "--resolver", "--insecure", "--version"} <= seen, seen
    missing = sorted(o for o in seen if not is_tag(common_text, o))
    assert not missing, f"common options {missing} have no entry under COMMON OPTIONS"
    for short in ("-q", "-v", "-h"):
        assert is_tag(common_text, short)


def test_every_exit_code_is_documented(page):
    out = cutover_help("audit")
    codes = set(re.findall(r"\b(\d+) ", out.split("Exit codes:", 1)[1]))
    assert codes == {"0", "1", "2", "64", "65", "70", "74"}, codes
    status = page["sections"]["EXIT STATUS"]
    for code in codes:
        assert re.search(rf"^ {{7}}{code}\b", status, re.M), f"exit code {code} not a tag"


def test_every_check_id_is_documented(page):
    ids = set(re.findall(r'"const":\s*"([a-z0-9]+\.[a-z0-9_]+)"', SCHEMA.read_text()))
    for src in (ROOT / "checks").glob("*.c"):
        ids |= set(re.findall(r'\.id\s*=\s*"([a-z0-9]+\.[a-z0-9_]+)"', src.read_text()))
    assert len(ids) >= 20, ids
    checks = page["sections"]["CHECKS"]
    missing = sorted(i for i in ids if not re.search(rf"^ {{7}}{re.escape(i)}\b", checks, re.M))
    assert not missing, f"check ids {missing} not in CHECKS"


def test_plan_keys_and_environment(page):
    plan = page["sections"]["PLAN FILE"]
    for key in ("domain", "resolvers", "public_resolvers", "ca_file", "source", "destination",
                "expect", "mailboxes", "mailboxes_csv", "state_dir", "profile", "imap", "pop3",
                "webmail", "admin", "limits", "imap_other_port", "pop3_other_port",
                "folder_items", "message_bytes", "mailbox_bytes", "mailbox_items",
                "folder_count", "quota_headroom", "spf_include", "autodiscover",
                "source_user,source_password,dest_user,dest_password", "env:NAME",
                "file:PATH", "microsoft365", "rackspace", "google", "generic"):
        assert key in plan, f"plan key {key} not in PLAN FILE"
    env = page["sections"]["ENVIRONMENT"]
    for var in ("NO_COLOR", "CUTOVER_DOMAIN", "CUTOVER_REPORT", "CUTOVER_IMAP_IGNORE"):
        assert var in env


def test_version_matches_the_binary():
    p = run(cutover_bin(), "--version")
    version = p.stdout.split()[1]
    th = next(line for line in MAN.read_text().splitlines() if line.startswith(".TH "))
    assert f'"cutover {version}"' in th, th


def test_no_example_uses_an_option_the_binary_rejects(page):
    """Every --option in the man page's EXAMPLES is one some help documents
    (outside its examples)."""
    known = set(LONG_OPT.findall(cutover_help()))
    for name in {n for n, _ in commands()}:
        own, common = split_help(cutover_help(name))
        known |= set(LONG_OPT.findall(own)) | set(LONG_OPT.findall(common))
    used = set(LONG_OPT.findall(page["sections"]["EXAMPLES"]))
    unknown = sorted(used - known)
    assert not unknown, f"EXAMPLES use {unknown}, which no --help mentions"
