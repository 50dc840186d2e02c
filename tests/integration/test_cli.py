"""Command-line contract: help, version, usage errors (64), bad values (65)."""
import subprocess

from conftest import cutover_bin


def run(*args):
    return subprocess.run([cutover_bin(), *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_version():
    p = run("--version")
    assert p.returncode == 0
    assert p.stdout.startswith("cutover ")


def test_help_teaches_with_examples():
    p = run("--help")
    assert p.returncode == 0
    assert "cutover dns example.com" in p.stdout
    for cmd in ("dns", "audit"):
        h = run(cmd, "--help")
        assert h.returncode == 0
        assert "Example" in h.stdout
        assert "Exit codes" in h.stdout


def test_no_arguments_is_usage():
    p = run()
    assert p.returncode == 64
    assert "Usage" in p.stderr


def test_unknown_command_suggests():
    p = run("dsn", "example.com")
    assert p.returncode == 64
    assert "unknown command 'dsn'" in p.stderr
    assert "did you mean 'dns'" in p.stderr


def test_unknown_option_suggests():
    p = run("dns", "example.com", "--resolvr", "127.0.0.1")
    assert p.returncode == 64
    assert "unknown option '--resolvr'" in p.stderr
    assert "--resolver" in p.stderr


def test_missing_domain():
    p = run("dns")
    assert p.returncode == 64
    assert "which domain" in p.stderr


def test_option_for_another_command():
    p = run("dns", "example.com", "--only", "dns")
    assert p.returncode == 64
    assert "does not apply" in p.stderr


def test_bad_values_are_data_errors():
    for args, word in [(["--timeout", "abc"], "--timeout"),
                       (["--concurrency", "0"], "--concurrency"),
                       (["--expect", "exchange2010"], "--expect"),
                       (["--resolver", "not-an-ip"], "not-an-ip")]:
        p = run("dns", "example.com", *args)
        assert p.returncode == 65, (args, p.stderr)
        assert word in p.stderr


def test_unknown_only_group():
    # (smtp was the example of an unknown group until the smtp group came)
    p = run("audit", "plan.json", "--only", "dns,ldap")
    assert p.returncode == 64
    assert "ldap" in p.stderr


def test_bad_domain_is_a_data_error_before_any_query():
    for cmd in (["dns", "exa mple..com"], ["dns", ""],
                ["propagation", "bad..name", "--expect-mx", "mx.example", "--no-public"]):
        p = run(*cmd)
        assert p.returncode == 65, (cmd, p.stderr)
        assert "not a domain name" in p.stderr
        assert p.stdout == ""  # nothing was checked


def test_unwritable_report_fails_before_the_run(tmp_path):
    p = run("dns", "rs.test", "--json", str(tmp_path / "missing" / "r.json"))
    assert p.returncode == 74
    assert "cannot write in" in p.stderr and "missing" in p.stderr
    assert p.stdout == ""  # no check ran
    p = run("dns", "rs.test", "--html", str(tmp_path))
    assert p.returncode == 74 and "is a folder" in p.stderr
