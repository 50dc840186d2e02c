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


def test_list_mailboxes_and_only_dns_need_no_secrets(cutover, tmp_path):
    """Secrets are resolved only when the run logs in: listing the mailboxes
    and a DNS-only audit work with an env: password whose variable is unset."""
    (tmp_path / "users.csv").write_text(
        "EmailAddress;UserName;Password;Notes\r\n"
        "carol@contoso.test;carol@lab.test;env:CAROL_SRC_PW;VIP\r\n")
    plan = json.loads(good_plan("127.0.0.1:9"))
    plan["mailboxes_csv"] = "users.csv"
    plan["destination"]["admin"] = {"user": "admin", "password": "env:DST_ADMIN_PW"}
    path = write_plan(tmp_path, json.dumps(plan, indent=2))
    run = audit(cutover, path, "--list-mailboxes", env={})
    assert run.rc == 0, run.stderr
    assert run.stdout.split() == ["alice@lab.test", "carol@lab.test"]
    # the ignored column is named once on stderr, its cells never
    assert 'ignoring column "Notes"' in run.stderr and "VIP" not in run.stderr
    run = audit(cutover, path, "--only", "dns", "--timeout", "1", env={})
    assert run.rc != 65, run.stderr
    assert "not set" not in run.stderr
    # a run that logs in still needs them, and says which one is missing
    run = audit(cutover, path, "--only", "imap", env={})
    assert_one_clear_error_or_warning(run, "environment variable DST_ADMIN_PW is not set")


def assert_one_clear_error_or_warning(run, fragment):
    assert run.rc == 65, run.stderr
    errors = [l for l in run.stderr.strip().splitlines() if "warning:" not in l]
    assert len(errors) == 1 and fragment in errors[0], run.stderr


def test_windows_1252_sheet_is_converted_not_passed_raw(cutover, tmp_path):
    (tmp_path / "users.csv").write_bytes(
        b"source_user,source_password,dest_user,dest_password\r\n"
        b"j\xfcrgen@lab.test,pw,j\xfcrgen@contoso.test,pw\r\n")
    plan = json.loads(good_plan("127.0.0.1:9"))
    plan["mailboxes_csv"] = "users.csv"
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)), "--list-mailboxes")
    assert run.rc == 0, run.stderr
    assert "read as Windows-1252" in run.stderr
    assert "j\u00fcrgen@lab.test" in run.stdout.splitlines()


def test_auth_error_names_the_field_never_the_secret(cutover, tmp_path):
    """An OAuth2 "auth" block (issue 13) that cannot work is one clear error at
    its field: here the tenant the Microsoft 365 token endpoint is built from."""
    plan = json.loads(good_plan("127.0.0.1:5310"))
    plan["destination"]["auth"] = {"type": "oauth2", "flow": "client_credentials",
                                   "client_id": "app", "client_secret": SECRET}
    run = audit(cutover, write_plan(tmp_path, json.dumps(plan, indent=2)))
    assert_one_clear_error(run, "plan.json:", "destination.auth.tenant: missing",
                           "token_url")


def test_auth_side_needs_no_passwords_and_resolves_only_to_log_in(cutover, tmp_path):
    (tmp_path / "users.csv").write_text("source_user,source_password,dest_user,dest_password\n"
                                        "carol@lab.test,env:CAROL_SRC_PW,carol@contoso.test,\n")
    plan = json.loads(good_plan("127.0.0.1:9"))
    del plan["mailboxes"][0]["dest_password"]
    plan["mailboxes_csv"] = "users.csv"
    plan["destination"]["auth"] = {"type": "oauth2", "flow": "client_credentials",
                                   "tenant": "contoso.onmicrosoft.com", "client_id": "app",
                                   "client_secret": "env:M365_TEST_SECRET"}
    path = write_plan(tmp_path, json.dumps(plan, indent=2))
    run = audit(cutover, path, "--list-mailboxes", env={})
    assert run.rc == 0, run.stderr
    assert run.stdout.split() == ["alice@lab.test", "carol@lab.test"]
    run = audit(cutover, path, "--only", "imap", env={"CAROL_SRC_PW": "x"})
    assert_one_clear_error(run, "destination.auth.client_secret",
                           "environment variable M365_TEST_SECRET is not set")
