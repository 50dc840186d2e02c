"""The official SPF test suites, every test, against the real binary and Knot.

tests/spf-suite/ holds the OpenSPF suites as pyspf ships them
(rfc7208-tests.yml, rfc4408-tests.yml, with their licences). For each
scenario (one YAML document), contrib/lab/dns/spfsuite.py turns its zonedata
into a root zone served by a lab Knot instance (dns.sh, one scenario at a
time), behind a front that never answers for the scenario's TIMEOUT names.
Then every test of the scenario runs `cutover dns` with --ip (host),
--sender (mailfrom; "" checks the HELO identity) and --helo, and the
dns.spf evaluation must give the expected result (or one of the listed
ones) and, where the test names one, the expected explanation; `DEFAULT`
means cutover's own default explanation (no exp= or an exp= that failed).
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import DNS_PORT, ROOT, cutover_bin

yaml = pytest.importorskip("yaml")
sys.path.insert(0, str(ROOT / "contrib/lab/dns"))
import spfsuite  # noqa: E402

SUITES = ("rfc7208-tests.yml", "rfc4408-tests.yml")
# The front (what cutover asks) and the Knot behind it: from TEST_DNS_PORT
# unless set, so parallel test runs each have their own.
FRONT_PORT = int(os.environ.get("TEST_SPF_SUITE_PORT", str(DNS_PORT + 2)))
KNOT_PORT = int(os.environ.get("TEST_SPF_SUITE_KNOT_PORT", str(DNS_PORT + 3)))


def scenarios():
    out = []
    for suite in SUITES:
        with open(ROOT / "tests/spf-suite" / suite, encoding="utf-8") as f:
            for i, doc in enumerate(yaml.safe_load_all(f)):
                out.append(pytest.param(suite, doc, id=f"{suite[:7]}-{i}"))
    return out


@pytest.fixture(scope="module")
def suite_lab(lab_run):
    env = dict(os.environ, LAB_RUN=str(lab_run))
    script = ROOT / "contrib/lab/dns/dns.sh"
    front = spfsuite.TimeoutFront("127.0.0.1", FRONT_PORT, "127.0.0.1", KNOT_PORT)
    zones = lab_run / "spf-suite-zones"

    def load(zonedata):
        front.timeouts = spfsuite.zone_set(zonedata, zones)
        subprocess.run(["bash", str(script), "up", "spfsuite", "127.0.0.1", str(KNOT_PORT),
                        str(zones)], env=env, check=True, stdout=subprocess.DEVNULL,
                       timeout=60)

    yield load
    subprocess.run(["bash", str(script), "down", "spfsuite"], env=env, check=False,
                   stdout=subprocess.DEVNULL, timeout=60)
    front.close()


def run_one(name, t):
    """One suite test through `cutover dns`; returns (name, evaluation, rc)."""
    argv = [cutover_bin(), "dns", "spf-suite.invalid", "--resolver", f"127.0.0.1:{FRONT_PORT}",
            "--ip", t["host"], "--sender", t.get("mailfrom", ""), "--helo", t.get("helo", ""),
            "--timeout", "2", "--json", "-", "--quiet", "--no-progress"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode not in (0, 1, 2):  # a crash or a sanitizer report
        return name, None, f"rc {proc.returncode}: {proc.stderr[-2000:]}"
    try:
        report = json.loads(proc.stdout)
        check = [c for c in report["checks"] if c["id"] == "dns.spf"][0]
        return name, check["details"]["evaluation"], report
    except (ValueError, KeyError, IndexError) as e:
        return name, None, f"rc {proc.returncode}: {e}: {proc.stderr[-500:]}"


@pytest.mark.parametrize("suite,doc", scenarios())
def test_spf_suite_scenario(suite_lab, suite, doc):
    from schema_check import validate_report

    suite_lab(doc.get("zonedata"))
    tests = doc["tests"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda kv: run_one(*kv), tests.items()))
    failures = []
    for name, ev, report in outcomes:
        t = tests[name]
        if ev is None:
            failures.append(f"{name}: no evaluation ({report})")
            continue
        validate_report(report)
        want = t["result"] if isinstance(t["result"], list) else [t["result"]]
        if ev["result"] not in want:
            failures.append(f"{name} (spec {t.get('spec')}): result {ev['result']}, "
                            f"expected {' or '.join(want)}; reason: {ev.get('reason')}")
            continue
        if "explanation" in t:
            exp = t["explanation"]
            if exp == "DEFAULT":
                ok = ev.get("explanation_source") == "default"
            else:
                ok = (ev.get("explanation") == exp
                      and ev.get("explanation_source") == "exp")
            if not ok:
                failures.append(f"{name}: explanation {ev.get('explanation')!r} "
                                f"({ev.get('explanation_source')}), expected {exp!r}")
    assert not failures, (f"{suite} \"{doc.get('description')}\": {len(failures)} of "
                          f"{len(tests)} tests fail:\n  " + "\n  ".join(failures))
