#!/usr/bin/python3
"""Validate cutover JSON reports against reports/report.schema.json.

As a module:
    from schema_check import validate_report, ReportInvalid
    validate_report("report.json")      # or a dict already loaded
    # raises ReportInvalid (a ValueError) listing every problem with its path

As a program:
    python3 tests/integration/schema_check.py report.json [more.json ...]
    exit 0 when all are valid, 1 when one is not, 64 on usage errors.

Uses Debian's python3-jsonschema (4.10, draft 2020-12).
"""
import json
import os
import sys

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "reports", "report.schema.json")

_validator = None


class ReportInvalid(ValueError):
    """The report does not match the schema; .errors lists 'path: message'."""

    def __init__(self, source, errors):
        self.source = source
        self.errors = errors
        super().__init__("%s: %d schema error(s):\n  %s"
                         % (source, len(errors), "\n  ".join(errors)))


def load_schema():
    """The parsed schema (checked itself against the draft's meta-schema)."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _get_validator():
    global _validator
    if _validator is None:
        _validator = jsonschema.Draft202012Validator(load_schema())
    return _validator


def _path(error):
    """'checks[3].details.records[0].ttl' for an error's instance path."""
    out = ""
    for part in error.absolute_path:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out or "(report)"


def _leaves(error):
    """The most specific errors under ERROR (if/then and $ref nest them)."""
    if not error.context:
        return [error]
    out = []
    for sub in error.context:
        out.extend(_leaves(sub))
    return out


def errors_of(report):
    """All problems of the REPORT dict as sorted 'path: message' strings."""
    found = set()
    for error in _get_validator().iter_errors(report):
        for leaf in _leaves(error):
            found.add("%s: %s" % (_path(leaf), leaf.message))
    return sorted(found)


def validate_report(path_or_dict):
    """Validate a report given as a file path or an already-loaded dict.

    Returns the report dict; raises ReportInvalid (ValueError) with every
    problem and its JSON path, or ValueError when the file is not JSON.
    """
    if isinstance(path_or_dict, dict):
        report, source = path_or_dict, "report"
    else:
        source = os.fspath(path_or_dict)
        with open(source, encoding="utf-8") as f:
            try:
                report = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d:%d: not valid JSON: %s"
                                 % (source, e.lineno, e.colno, e.msg)) from None
    errors = errors_of(report)
    if errors:
        raise ReportInvalid(source, errors)
    return report


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: schema_check.py REPORT.json [REPORT.json ...]\n")
        return 64
    status = 0
    for path in argv[1:]:
        try:
            validate_report(path)
            print("%s: valid" % path)
        except (OSError, ValueError) as e:
            sys.stderr.write("%s\n" % e)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
