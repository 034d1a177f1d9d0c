"""Find the ComfyUI host the pack runs in, and import it for tests and benchmarks on the CPU.

The project never contains, fetches or builds ComfyUI: it finds one through COMFYUI_PATH, by
sitting in ``<ComfyUI>/custom_nodes/``, or at /opt/ComfyUI, in that order.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Optional

PACK_ROOT = Path(__file__).resolve().parents[1]
PACK_MODULE = "truncated_cfg"
DEFAULT_HOST = Path("/opt/ComfyUI")


def is_comfyui(path: Path) -> bool:
    return (path / "main.py").is_file() and (path / "comfy" / "samplers.py").is_file()


def find_host() -> tuple[Optional[Path], str]:
    """(path, how it was found) or (None, why there is none)."""
    env = os.environ.get("COMFYUI_PATH")
    if env:
        path = Path(env).expanduser().resolve()
        if is_comfyui(path):
            return path, f"COMFYUI_PATH={env}"
        return None, f"COMFYUI_PATH={env} is not a ComfyUI checkout (no main.py and comfy/samplers.py there)"
    parent = PACK_ROOT.parent
    if parent.name == "custom_nodes" and is_comfyui(parent.parent):
        return parent.parent, f"the pack sits in {parent}"
    if is_comfyui(DEFAULT_HOST):
        return DEFAULT_HOST, f"the default {DEFAULT_HOST}"
    return None, ("no ComfyUI host found: set COMFYUI_PATH to a ComfyUI checkout, put the pack in "
                  f"<ComfyUI>/custom_nodes/, or have one at {DEFAULT_HOST}")


def import_host() -> tuple[Optional[Path], str]:
    """Make ``import comfy`` work on the CPU. Returns (path, reason); path is None when it cannot."""
    path, how = find_host()
    if path is None:
        return None, how
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    try:
        import comfy.cli_args
    except ImportError as exc:
        return None, f"ComfyUI at {path} ({how}) does not import with this Python ({sys.executable}): {exc}"
    # Must precede comfy.model_management, which raises on a machine without a GPU otherwise.
    comfy.cli_args.args.cpu = True
    try:
        # As main.py does first: ComfyUI's `utils` package must be imported before `nodes` puts
        # comfy/ (with its utils.py) at the front of sys.path, or `server` cannot be imported.
        import utils.extra_config  # noqa: F401
        import comfy.model_management  # noqa: F401
        import comfy_api.latest  # noqa: F401
    except ImportError as exc:
        return None, (f"ComfyUI at {path} lacks a requirement in this Python ({sys.executable}): {exc}; "
                      "run the tests with the Python that runs ComfyUI (TCFG_PYTHON)")
    return path, how


def import_pack():
    """The pack imported as a package, as ComfyUI's loader would import the folder."""
    if PACK_MODULE in sys.modules:
        return sys.modules[PACK_MODULE]
    spec = importlib.util.spec_from_file_location(PACK_MODULE, PACK_ROOT / "__init__.py",
                                                  submodule_search_locations=[str(PACK_ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_MODULE] = module
    spec.loader.exec_module(module)
    return module


def start_script(with_pack: bool = True) -> bool:
    """For the command-line scripts: import the host (and the pack) with ComfyUI's progress bars off.

    False, after printing why, when there is no usable host; the script then exits with 2.
    """
    path, reason = import_host()
    if path is None:
        print(f"error: {reason}", file=sys.stderr)
        return False
    if with_pack:
        import_pack()
    import comfy.utils

    comfy.utils.PROGRESS_BAR_ENABLED = False
    return True
