"""tests/run.sh: which tiers and hosts a command line picks (pytest only collects here, so it is quick)."""
import os
import subprocess
import sys

from devtools.host import PACK_ROOT


def run_sh(*args, hosts="/nonexistent", dry=False):
    env = {**os.environ, "TCFG_PYTHON": sys.executable, "COMFYUI_PATH": hosts, **({"TCFG_DRY_RUN": "1"} if dry else {})}
    done = subprocess.run(["bash", "tests/run.sh", *args, "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=PACK_ROOT, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_a_unit_file_runs_the_unit_tier_alone():
    status, out = run_sh("tests/unit/test_hosts.py")
    assert status == 0, out
    assert "== unit tier" in out and "== host" not in out
    assert "unit/test_hosts.py::" in out and "unit/test_policy.py::" not in out  # ids relative to tests/


def test_the_browser_tier_alone_skips_with_the_reason_when_there_is_no_host():
    status, out = run_sh("tests/browser")
    assert status == 0, out
    assert "== unit tier" not in out
    assert "== host and browser tiers: COMFYUI_PATH=/nonexistent: /nonexistent is not a ComfyUI checkout" in out
    assert "host and browser tiers (no host: skipped): passed" in out


def test_an_option_value_that_names_a_path_stays_an_option():
    status, out = run_sh("tests/unit/test_hosts.py", "-k", "tests")
    assert status == 0, out
    assert "== host" not in out  # "tests" went to -k, not to the tier selection


def test_each_tier_runs_on_every_core_unless_the_command_line_says_otherwise():
    cores = len(os.sched_getaffinity(0))
    status, out = run_sh("tests/unit/test_hosts.py", dry=True)
    assert status == 0 and f"== unit tier ({cores} workers)" in out, out
    assert f"-n {cores} --dist worksteal" in out
    assert "unit tier: passed in " in out and "all tiers: " in out  # each tier's time, and the whole run's
    for off in (("-n", "0"), ("-p", "no:xdist")):
        status, out = run_sh("tests/unit/test_hosts.py", *off, dry=True)
        assert status == 0 and "== unit tier (workers as the command line says)" in out, out
        assert "--dist" not in out and " ".join(off) in out
    status, out = run_sh("tests/unit/test_hosts.py", "-p", "no:cacheprovider", dry=True)
    assert f"-n {cores} --dist worksteal" in out  # another plugin switched off leaves the workers alone


def test_quick_runs_the_unit_tier_and_the_core_host_files_on_the_first_host_only(tmp_path):
    import re

    quick = re.search(r"QUICK_FILES=\(([^)]*)\)", (PACK_ROOT / "tests" / "run.sh").read_text()).group(1).split()
    assert quick and all((PACK_ROOT / f).is_file() and f.startswith("tests/host/") for f in quick)
    hosts = []
    for name, version in (("first", "0.33.0"), ("second", "0.3.64")):  # what find_hosts takes for a checkout
        (tmp_path / name / "comfy").mkdir(parents=True)
        (tmp_path / name / "main.py").write_text("")
        (tmp_path / name / "comfy" / "samplers.py").write_text("")
        (tmp_path / name / "comfyui_version.py").write_text(f'__version__ = "{version}"\n')
        hosts.append(str(tmp_path / name))
    status, out = run_sh("--quick", hosts=":".join(hosts), dry=True)
    assert status == 0, out
    unit, hosted = [line for line in out.splitlines() if line.startswith("would run:")]
    assert unit.split(" -m pytest ")[1].startswith("tests/unit ")
    assert hosted.split(" -m pytest ")[1].split(" -n ")[0].split() == quick
    assert f"ComfyUI 0.33.0 at {hosts[0]}" in out and "0.3.64" not in out and "--quick" not in out
