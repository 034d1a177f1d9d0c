"""The Comfy Registry's own check of the pack: comfy-cli's ``comfy node validate``, what ``comfy node publish``
runs before it uploads (pyproject.toml's registry fields, then ruff's exec / eval / one-line-statements rules
over the tree). .ci/run installs comfy-cli beside ruff; elsewhere point TCFG_COMFY_CLI at its ``comfy``."""
import os
import shutil
import subprocess

import pytest

from devtools.host import PACK_ROOT

COMFY_CLI = os.environ.get("TCFG_COMFY_CLI") or shutil.which("comfy")


@pytest.mark.skipif(not COMFY_CLI, reason="comfy-cli is not installed (pip install comfy-cli==1.23.0, or set "
                                          "TCFG_COMFY_CLI to its comfy): the registry's validation did not run")
def test_the_registry_validates_the_pack():
    result = subprocess.run([COMFY_CLI, "--skip-prompt", "--no-enable-telemetry", "node", "validate"],
                            cwd=PACK_ROOT, capture_output=True, text=True, timeout=300)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    # It warns about exec, eval and one-line statements with exit status 0; a warning is a failure here.
    assert "Security warnings" not in said and "All validation checks passed" in said, said
