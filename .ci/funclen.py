#!/usr/bin/env python3
"""Function-length guard: no function body in src/, checks/ or reports/ longer
than LIMIT lines, except those listed in .ci/funclen-allow.txt (functions
whose shape follows an RFC's: a state machine, a grammar), each with the
length it may have. The house style puts a definition's name at column 0 and
its braces at column 0, so a line scanner finds every body.

Usage: .ci/funclen.py [--limit N] [--report]   (--report: list the longest)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMIT = 120
NAME = re.compile(r"^\**([A-Za-z_][A-Za-z0-9_]*)\(")


def functions(path):
    lines = path.read_text(errors="replace").split("\n")
    name = None
    start = None
    for i, line in enumerate(lines):
        m = NAME.match(line)
        if m and start is None:
            name = m.group(1)
        elif line == "{" and name is not None and start is None:
            start = i
        elif line == "}" and start is not None:
            yield name, i - start - 1, i + 1
            name, start = None, None


def main(argv):
    limit = LIMIT
    if "--limit" in argv:
        limit = int(argv[argv.index("--limit") + 1])
    allow = {}
    allow_file = ROOT / ".ci/funclen-allow.txt"
    for line in allow_file.read_text().splitlines() if allow_file.exists() else []:
        line = line.split("#", 1)[0].strip()
        if line:
            where, n = line.split()[:2]
            allow[where] = int(n)
    found = []
    for d in ("src", "checks", "reports"):
        for path in sorted((ROOT / d).rglob("*.c")):
            rel = path.relative_to(ROOT).as_posix()
            for name, n, end in functions(path):
                found.append((n, f"{rel}:{name}", end))
    if "--report" in argv:
        for n, where, _ in sorted(found, reverse=True)[:40]:
            print(f"{n:5d} {where}")
        return 0
    bad = 0
    for n, where, end in found:
        cap = allow.get(where, limit)
        if n > cap:
            print(f"{where} (ends line {end}): {n} lines, more than {cap}"
                  + ("" if where not in allow else " (its allowance)"), file=sys.stderr)
            bad = 1
    stale = set(allow) - {w for _, w, _ in found}
    for where in sorted(stale):
        print(f".ci/funclen-allow.txt: {where} no longer exists; remove it", file=sys.stderr)
        bad = 1
    if bad:
        print(f"funclen: split the functions above (limit {limit} lines), or, for one "
              "whose shape is an RFC's, add it to .ci/funclen-allow.txt with a reason",
              file=sys.stderr)
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
