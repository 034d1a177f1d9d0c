"""Which ComfyUI the pack is loaded into, and a warning when it is older than any we test on."""
from __future__ import annotations

import logging
import re
from typing import Optional

OLDEST_SUPPORTED = (0, 3, 64)
TESTED = ("0.3.64", "0.33.0")  # the hosts every tier runs on (README, "Supported ComfyUI")

log = logging.getLogger(__name__)


def parse_version(text: str) -> Optional[tuple[int, ...]]:
    """'0.33.0' -> (0, 33, 0); None for anything that is not dotted numbers (a dev build's suffix is dropped)."""
    found = re.match(r"^\s*(\d+(?:\.\d+)*)", text or "")
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def running_version() -> Optional[str]:
    """The running ComfyUI's version (its comfyui_version module), or None when it has none."""
    try:
        import comfyui_version
    except ImportError:  # ComfyUI before comfyui_version.py existed (2025): older than supported
        return None
    return getattr(comfyui_version, "__version__", None)


def check_host_version(version: Optional[str]) -> bool:
    """False, after one warning saying what to do, when ``version`` is older than supported (the pack still loads).

    None means the host has no comfyui_version module, which only ComfyUI older than supported lacks.
    A version that is not dotted numbers cannot be compared and is taken as supported.
    """
    parsed = parse_version(version) if version is not None else (0,)
    if parsed is None or parsed >= OLDEST_SUPPORTED:
        return True
    oldest = ".".join(map(str, OLDEST_SUPPORTED))
    log.warning("[Truncated CFG] this ComfyUI (%s) is older than %s, the oldest version the pack is tested on "
                "(tested: %s). The nodes load, but if one fails, update ComfyUI.",
                version or "version unknown", oldest, ", ".join(TESTED))
    return False
