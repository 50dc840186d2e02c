"""`cutover audit PLAN`: plan errors are one clear message with the place
(exit 65, no password in it); a good plan runs its checks against the lab."""
import json
import os

import pytest

SECRET = "hunter2-secret-Pw"


def write_plan(tmp_path, text, name="plan.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def good_plan(resolver, **overrides):
    plan = {
        "domain": "rs.test",
        "resolvers": [resolver],
        "source": {"profile": "rackspace", "imap": "imaps://localhost:10993"},
        "destination": {"profile": "microsoft365", "imap": "imaps://localhost:20993"},
        "mailboxes": [{"source_user": "alice@lab.test", "source_password": SECRET,
                       "dest_user": "alice@lab.test", "dest_password": "env:ALICE_DST_PW"}],
    }
    plan.update(overrides)
    return json.dumps(plan, indent=2)


DEFAULT_ENV = {"ALICE_DST_PW": "x-dst"}


def audit(cutover, path, *extra, env=DEFAULT_ENV):
    return cutover("audit", str(path), *extra, env=env)


def assert_one_clear_error(run, *fragments):
    assert run.rc == 65, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert SECRET not in run.stderr and SECRET not in run.stdout
    assert run.report is None  # nothing was checked, no report written


def test_syntax_error_names_line_and_column(cutover, tmp_path):
    text = good_plan("127.0.0.1:5310").replace('"domain": "rs.test",', '"domain": "rs.test"')
    run = audit(cutover, write_plan(tmp_path, text))
    assert_one_clear_error(run, "plan.json:3:3: syntax error")


def test_unknown_key_suggests(cutover, tmp_path):
    text = good_plan("127.0.0.1:5310").replace('"imap": "imaps://localhost:10993"',
                                               '"imapp": "imaps://localhost:10993"')
    run = audit(cutover, write_plan(tmp_path, text))
    assert_one_clear_error(run, "plan.json:", "source.imapp: unknown key",
                           'did you mean "imap"')


def test_missing_field_names_path(cutover, tmp_path):
    plan = json.loads(good_plan("127.0.0.1:5310"))
    del plan["mailboxes"][0]["dest_user"]
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)))
    assert_one_clear_error(run, "mailboxes[0].dest_user: missing")


def test_missing_env_variable(cutover, tmp_path):
    run = audit(cutover, write_plan(tmp_path, good_plan("127.0.0.1:5310")), env={})
    # the environment is inherited otherwise: the variable must really be unset
    assert "ALICE_DST_PW" not in os.environ
    assert_one_clear_error(run, "mailboxes[0].dest_password",
                           "environment variable ALICE_DST_PW is not set")


def test_unreadable_password_file(cutover, tmp_path):
    secret = tmp_path / "alice.pw"
    secret.write_text(SECRET + "\n")
    secret.chmod(0)
    plan = json.loads(good_plan("127.0.0.1:5310"))
    plan["mailboxes"][0]["dest_password"] = "file:missing/alice.pw"
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)))
    assert_one_clear_error(run, "mailboxes[0].dest_password", "cannot read",
                           "missing/alice.pw", "No such file")


def test_unknown_profile(cutover, tmp_path):
    plan = json.loads(good_plan("127.0.0.1:5310"))
    plan["destination"]["profile"] = "microsoft356"
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)))
    assert_one_clear_error(run, "destination.profile", 'did you mean "microsoft365"')


def test_bad_csv_row_names_file_and_line(cutover, tmp_path):
    (tmp_path / "users.csv").write_text(
        "source_user,source_password,dest_user,dest_password\r\n"
        "bob@lab.test,%s,bob@lab.test\r\n" % SECRET)
    plan = json.loads(good_plan("127.0.0.1:5310"))
    plan["mailboxes_csv"] = "users.csv"
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)))
    assert_one_clear_error(run, "users.csv:2:", "expected 4 fields")


def test_missing_plan_file(cutover, tmp_path):
    run = audit(cutover, tmp_path / "nope.json")
    assert run.rc == 65
    assert "nope.json" in run.stderr


@pytest.mark.usefixtures("dns_lab")
def test_good_plan_runs_dns_group(cutover, tmp_path, dns_lab):
    run = audit(cutover, write_plan(tmp_path, good_plan(dns_lab)), "--only", "dns")
    assert run.report["command"] == "audit"
    mx = run.check("dns.mx", "rs.test")
    assert mx["status"] == "pass"
    # The plan's destination profile is the expectation, and says so.
    assert mx["details"]["expected"]["origin"] == "microsoft365"
    assert mx["details"]["expected"]["matches"] is False
    assert SECRET not in json.dumps(run.report) and SECRET not in run.stdout
