"""The big files the host tier and the main job build (the models/ tree, with its full-width Z-Image and Qwen-Image
checkpoints), built once and kept outside the checkout, so that a fresh clone on the same machine (CI's) reuses them:
under $TCFG_TEST_CACHE, else $XDG_CACHE_HOME/truncated-cfg/test-models (~/.cache/...). Keyed by their content's
inputs: the code that writes them, the ComfyUI version whose model
classes make them, and torch's version (its random draws are the weights). A change to any of them gives a new key,
so a stale file is never reused; the key's folders of older code on the same ComfyUI version are removed when a new
one is made. Each file or folder is built beside its place and renamed into it, so an interrupted build leaves
nothing that looks finished; test processes running side by side (pytest-xdist's workers) take a lock, so one
builds and the others wait for it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

from devtools.host import PACK_ROOT

CACHE_ROOT = Path(os.environ.get("TCFG_TEST_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                  / "truncated-cfg" / "test-models")
SOURCES = ("devtools/checkpoints.py", "devtools/model_tree.py", "devtools/stand_in_text_encoder.py",
           "devtools/architectures.py")
VERSION_FILE = "comfyui-version"


def comfyui_version() -> str:
    import comfyui_version as version

    return version.__version__


def content_key() -> str:
    import torch

    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update((PACK_ROOT / source).read_bytes())
    digest.update(f"comfyui {comfyui_version()} torch {torch.__version__}".encode())
    return digest.hexdigest()[:16]


def cached(name: str, build: Callable[[Path], object]) -> Path:
    """The file or folder ``name`` of the current key, made by ``build(path)`` when it is not there yet."""
    folder = CACHE_ROOT / content_key()
    target = folder / name
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when a build fails
        if target.exists():  # built by another process while this one waited
            return target
        (folder / VERSION_FILE).write_text(comfyui_version())
        remove_stale(folder)
        partial = folder / f".{name}.{os.getpid()}.partial"
        build(partial)
        os.replace(partial, target)
    return target


def remove_stale(current: Path) -> None:
    """Folders of other keys made for the same ComfyUI version: made by older code (or another torch)."""
    for other in CACHE_ROOT.iterdir():
        marker = other / VERSION_FILE
        if other != current and marker.is_file() and marker.read_text() == comfyui_version():
            shutil.rmtree(other)


def cached_model_tree() -> Path:
    """The demo's models/ tree (devtools/model_tree.py), built once per content and shared by every run here."""
    from devtools import model_tree

    return cached("models", model_tree.build)


def link_model_tree(base: Path) -> None:
    """``base``/models as a link to the models/ tree the tests share (built once per content), and the start image."""
    from devtools import model_tree

    tree, models = cached_model_tree(), base / "models"
    if models.is_symlink():
        models.unlink()
    elif models.exists():  # a tree an earlier main job built here: the shared one replaces it
        shutil.rmtree(models)
    models.parent.mkdir(parents=True, exist_ok=True)
    models.symlink_to(tree, target_is_directory=True)
    model_tree.write_start_image(base / "input" / model_tree.START_IMAGE)
    print(f"  {models} -> {tree}", flush=True)
