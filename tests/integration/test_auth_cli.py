"""`cutover auth login`: its command-line contract before any sign-in.

The device sign-in itself runs against the lab identity provider
(contrib/lab/oauth) in the OAuth2 integration tests; here: help, usage
errors (64) and plans that have nothing to sign in to (65), all without
network traffic.
"""
import json
import subprocess

from conftest import cutover_bin


def run(*args):
    return subprocess.run([cutover_bin(), *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def plan(tmp_path, destination):
    p = tmp_path / "plan.json"
    p.write_text(json.dumps({
        "domain": "example.com",
        "destination": destination,
        "mailboxes": [{"source_user": "alice@example.com", "source_password": "x",
                       "dest_user": "alice@example.com", "dest_password": "y"}],
    }))
    return str(p)


def test_help_teaches():
    p = run("auth", "--help")
    assert p.returncode == 0
    assert "cutover auth login plan.json --side destination" in p.stdout
    assert "0600" in p.stdout
    assert "auth login PLAN" in run("--help").stdout


def test_usage_errors():
    p = run("auth")
    assert p.returncode == 64 and "cutover auth login plan.json" in p.stderr
    p = run("auth", "logout", "plan.json")
    assert p.returncode == 64 and "only 'login'" in p.stderr
    p = run("auth", "login", "plan.json")
    assert p.returncode == 64 and "--side" in p.stderr
    p = run("auth", "login", "plan.json", "--side", "left")
    assert p.returncode == 65 and "source or destination" in p.stderr


def test_a_side_without_auth_is_a_data_error(tmp_path):
    path = plan(tmp_path, {"profile": "microsoft365", "imap": "imaps://127.0.0.1:1"})
    p = run("auth", "login", path, "--side", "destination")
    assert p.returncode == 65
    assert 'the destination has no "auth" object' in p.stderr
    assert not list(tmp_path.glob("**/oauth2-*.token"))  # nothing was written
