"""Shared fixtures: the real cutover binary and the real lab servers.

The lab runs from a private LAB_RUN folder on its own ports, so a demo lab
(`make lab-up`) can keep running while the tests do.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from schema_check import validate_report  # noqa: E402

DNS_ADDR = "127.0.0.1"
DNS_PORT = int(os.environ.get("TEST_DNS_PORT", "5310"))
RESOLVER = f"{DNS_ADDR}:{DNS_PORT}"


def cutover_bin():
    return os.environ.get("CUTOVER_BIN", str(ROOT / "cutover"))


class Run:
    """One finished cutover run: exit code, output, and the parsed report."""

    def __init__(self, proc, report):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.report = report

    def check(self, check_id, subject=None, side=None):
        found = [c for c in self.report["checks"] if c["id"] == check_id
                 and (subject is None or c["subject"] == subject)
                 and (side is None or c["side"] == side)]
        assert len(found) == 1, f"expected one {check_id} check, got {found}"
        return found[0]


@pytest.fixture(scope="session")
def lab_run(tmp_path_factory):
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def dns_lab(lab_run):
    env = dict(os.environ, LAB_RUN=str(lab_run), LAB_DNS_ADDR=DNS_ADDR,
               LAB_DNS_PORT=str(DNS_PORT))
    script = ROOT / "contrib/lab/dns/dns.sh"
    subprocess.run(["bash", str(script), "up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    yield RESOLVER
    subprocess.run(["bash", str(script), "down"], env=env, check=False,
                   stdout=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def cutover(tmp_path):
    """Run cutover with a JSON report; returns a Run. The report is validated
    against reports/report.schema.json whenever one was written."""

    def run(*args, json_report=True, env=None, timeout=60):
        report_path = tmp_path / "report.json"
        if report_path.exists():
            report_path.unlink()
        argv = [cutover_bin(), *map(str, args)]
        if json_report:
            argv += ["--json", str(report_path)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
        report = None
        if json_report and report_path.exists():
            report = json.loads(report_path.read_text())
            validate_report(report)
        return Run(proc, report)

    return run
