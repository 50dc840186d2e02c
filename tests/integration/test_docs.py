"""The documentation exists in the repository and stays true.

- every Markdown link resolves to a file of the repository (none leaves it);
- the manual page's plan example is contrib/examples/plan.json;
- docs/plan.md names every key the plan parser knows and every profile.
"""
import json
import re
import subprocess

from conftest import ROOT

LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")


def markdown_files():
    skip = {".git", "node_modules", "build", "build-san", "build-fuzz", "run", "out"}
    return [p for p in ROOT.rglob("*.md")
            if not (set(p.relative_to(ROOT).parts) & skip)
            and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]


def test_every_link_stays_in_the_repository_and_resolves():
    files = markdown_files()
    assert (ROOT / "README.md") in files and (ROOT / "docs" / "plan.md") in files
    bad = []
    for md in files:
        text = md.read_text()
        # links inside code blocks are text, not links
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for m in LINK.finditer(text):
            target = m.group(1) or m.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                bad.append(f"{md.relative_to(ROOT)}: {target}: leaves the repository")
                continue
            path = target.split("#", 1)[0]
            if not path:
                continue
            resolved = (md.parent / path).resolve()
            try:
                resolved.relative_to(ROOT.resolve())
            except ValueError:
                bad.append(f"{md.relative_to(ROOT)}: {target}: outside the repository")
                continue
            if not resolved.exists():
                bad.append(f"{md.relative_to(ROOT)}: {target}: no such file")
    assert not bad, "\n".join(bad)


def test_readme_links_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/plan.md)" in readme and "(docs/architecture.md)" in readme
    assert "DESIGN.md" not in readme


def man_example():
    """The plan example of the manual page, as groff renders it."""
    p = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=20000n", "-P-cbou",
                        str(ROOT / "contrib" / "man" / "cutover.1")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    text = p.stdout.translate({0x2010: "-", 0x2011: "-", 0x2212: "-", 0x2018: "'",
                               0x2019: "'", 0x201c: '"', 0x201d: '"'})
    start = text.index("An example is contrib/examples/plan.json:")
    block = text[start:].split("\n", 1)[1]
    end = block.index("\n   Top-level keys")
    return block[:end]


def test_man_page_example_is_the_example_file():
    example = (ROOT / "contrib" / "examples" / "plan.json").read_text()
    shown = man_example()
    assert json.loads(shown) == json.loads(example)
    # the same text, line by line (the page indents it)
    lines = [line.strip() for line in shown.strip().splitlines()]
    assert lines == [line.strip() for line in example.strip().splitlines()]


def test_plan_reference_names_every_key_and_profile():
    doc = (ROOT / "docs" / "plan.md").read_text()
    keys = set()
    for src in sorted((ROOT / "src").glob("plan*.c")):
        for block in re.findall(r"static const struct plan_key plan_\w+\[\] = \{(.*?)\n\};",
                                src.read_text(), re.S):
            keys |= set(re.findall(r'\.name = "(\w+)"', block))
    assert {"domain", "mailboxes_csv", "quota_headroom", "imap_other_port",
            "client_secret"} <= keys
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"docs/plan.md does not document {missing}"
    profiles = re.findall(r'\.name = "(\w+)"', (ROOT / "src" / "profile.c").read_text())
    assert len(profiles) >= 4
    assert all(f"`{p}`" in doc for p in profiles), profiles
