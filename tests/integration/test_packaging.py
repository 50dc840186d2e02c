"""What ships around the binary: the container image and the package sets.

The image itself is built by `make image` (CI builds it when buildah or a
docker engine works); these tests check what can be checked without one."""
import re
import shutil
import subprocess

from conftest import ROOT

DOCKERFILE = ROOT / "contrib" / "Dockerfile"


def deps(*args):
    p = subprocess.run(["bash", str(ROOT / "contrib" / "deps.sh"), "--list", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_demo_installs_only_what_the_demo_needs():
    everything, demo = set(deps()), set(deps("--demo"))
    assert demo < everything
    # the demo builds, and runs the lab: DNS, mail (populated with python3), web
    assert {"gcc", "make", "pkg-config", "libcurl4-openssl-dev", "knot", "dovecot-imapd",
            "nginx-light", "openssl", "python3"} <= demo
    # the browser, the fuzzing compiler and the test tools come with make check
    assert not demo & {"chromium", "clang", "python3-pytest", "libcmocka-dev", "isync"}
    make = (ROOT / "Makefile").read_text()
    demo_rule = re.search(r"^demo:.*?(?=^\S)", make, re.M | re.S).group(0)
    assert "deps.sh --demo" in demo_rule and "deps" not in demo_rule.split(":")[1].split("\n")[0]


def test_dockerfile_is_multi_stage_slim_non_root_with_cutover_as_entry_point():
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) == 2 and all(re.match(r"debian:[\w.-]+-slim$", f) for f in froms)
    assert "COPY --from=build" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/cutover"\]', text, re.M)
    # the runtime stage carries no compiler
    runtime = text.split("\nFROM ", 2)[2]
    assert "gcc" not in runtime and "-dev" not in runtime


def test_kubernetes_jobs_run_the_image_as_non_root():
    for name in ("audit-job.yaml", "merge-job.yaml"):
        y = (ROOT / "contrib" / "k8s" / name).read_text()
        assert re.search(r"image: \S+/cutover:0\.1\.0\s+# built by `make image`", y), name
        assert "runAsNonRoot: true" in y and "runAsUser: 10001" in y, name


def engine_available():
    for cmd in (["buildah", "info"], ["docker", "info"]):
        if shutil.which(cmd[0]) and subprocess.run(
                cmd, capture_output=True, timeout=60).returncode == 0:
            return True
    return False


def test_make_image_says_when_it_skips():
    if engine_available():
        return  # it would build the image: CI's own step does that
    p = subprocess.run(["make", "-s", "-C", str(ROOT), "image"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("image: skipped:"), p.stdout
