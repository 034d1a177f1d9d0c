"""tests/run.sh: which tiers and hosts a command line picks (pytest only collects here, so it is quick)."""
import os
import subprocess
import sys

from devtools.host import PACK_ROOT


def run_sh(*args, hosts="/nonexistent"):
    env = {**os.environ, "TCFG_PYTHON": sys.executable, "COMFYUI_PATH": hosts}
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
