"""Find the ComfyUI hosts the pack runs in, and import one for tests and benchmarks on the CPU.

The project never contains, fetches or builds ComfyUI: it finds checkouts through COMFYUI_PATH (one
path, or several joined with ``:``), by sitting in ``<ComfyUI>/custom_nodes/``, or at the
conventional places /opt/ComfyUI and /opt/ComfyUI-<anything> (e.g. /opt/ComfyUI-0.3.64), in that
order. Tests run against every host found; a script that needs one takes the first.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Optional

PACK_ROOT = Path(__file__).resolve().parents[1]
PACK_MODULE = "truncated_cfg"
DEFAULT_HOST = Path("/opt/ComfyUI")
VERSION = re.compile(r"""__version__\s*=\s*["']([^"']+)["']""")


def is_comfyui(path: Path) -> bool:
    return (path / "main.py").is_file() and (path / "comfy" / "samplers.py").is_file()


def host_version(path: Path) -> str:
    """The version a checkout's comfyui_version.py declares, or "unknown" (read, never imported)."""
    try:
        found = VERSION.search((Path(path) / "comfyui_version.py").read_text())
    except OSError:
        return "unknown"
    return found.group(1) if found else "unknown"


def conventional_hosts() -> list[Path]:
    """/opt/ComfyUI, then /opt/ComfyUI-* in name order: the checkouts there that are ComfyUI."""
    candidates = [DEFAULT_HOST] + sorted(DEFAULT_HOST.parent.glob(DEFAULT_HOST.name + "-*"))
    return [path for path in candidates if is_comfyui(path)]


def find_hosts() -> tuple[list[Path], str]:
    """(every host found, how they were found), or ([], why there is none).

    A COMFYUI_PATH entry that is not a ComfyUI checkout is an error, not skipped: the caller asked
    for it.
    """
    env = os.environ.get("COMFYUI_PATH")
    if env:
        entries = [e for e in env.split(os.pathsep) if e.strip()]
        paths = [Path(e).expanduser().resolve() for e in entries]
        wrong = [e for e, p in zip(entries, paths, strict=True) if not is_comfyui(p)]
        if wrong or not paths:
            return [], (f"COMFYUI_PATH={env}: {', '.join(wrong) or 'empty'} is not a ComfyUI checkout "
                        "(no main.py and comfy/samplers.py there)")
        return list(dict.fromkeys(paths)), f"COMFYUI_PATH={env}"
    parent = PACK_ROOT.parent
    if parent.name == "custom_nodes" and is_comfyui(parent.parent):
        return [parent.parent], f"the pack sits in {parent}"
    found = conventional_hosts()
    if found:
        return found, f"the conventional places {DEFAULT_HOST} and {DEFAULT_HOST}-*"
    return [], ("no ComfyUI host found: set COMFYUI_PATH to a ComfyUI checkout (several joined with ':'), put the "
                f"pack in <ComfyUI>/custom_nodes/, or have one at {DEFAULT_HOST} or {DEFAULT_HOST}-<version>")


def find_host() -> tuple[Optional[Path], str]:
    """The first host found and how, or (None, why there is none): the host a script runs in."""
    hosts, how = find_hosts()
    return (hosts[0], how) if hosts else (None, how)


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


DISTRIBUTED_DEFAULT = Path("/opt/ComfyUI-Distributed")
DISTRIBUTED_TESTED_AT = "a91f9fb"


def find_distributed(host: Path) -> tuple[Optional[Path], str]:
    """ComfyUI-Distributed (robertvoy/ComfyUI-Distributed) for the multi-server test: COMFYUI_DISTRIBUTED_PATH, the
    host's custom_nodes/ComfyUI-Distributed, or /opt/ComfyUI-Distributed; (None, why) when there is none."""
    env = os.environ.get("COMFYUI_DISTRIBUTED_PATH")
    candidates = [Path(env).expanduser()] if env else [host / "custom_nodes" / "ComfyUI-Distributed",
                                                        DISTRIBUTED_DEFAULT]
    for path in candidates:
        if (path / "distributed.py").is_file() and (path / "nodes" / "collector.py").is_file():
            return path.resolve(), f"ComfyUI-Distributed at {path}"
    where = f"COMFYUI_DISTRIBUTED_PATH={env} is not a ComfyUI-Distributed checkout" if env else \
        f"no ComfyUI-Distributed at {' or '.join(map(str, candidates))}"
    return None, (f"{where}: put a checkout of robertvoy/ComfyUI-Distributed (tested at {DISTRIBUTED_TESTED_AT}) "
                  "there, or set COMFYUI_DISTRIBUTED_PATH (docs/testing.md)")
