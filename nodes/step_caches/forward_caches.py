"""The TeaCache and MagCache packs replace the network's forward and keep no holder: the pack only recognises them,
by the settings they put into transformer_options (read from their source), and says where they meet one-branch
steps badly:

- both keep one cache per branch and skip both together, so after truncated steps a full-CFG step can get its
  negative branch from several steps back: rules that run full CFG again after truncated ones (``cfg_every``, a
  ``sigma_high`` window, the refresh, reuse across a Wan expert switch) then take guidance from it;
- MagCache's Qwen-Image, Chroma and HunyuanVideo 1.5 variants pick each call's state by its parity (two calls a
  step, positive and negative), so any step that runs one branch shifts every later call onto the other's state,
  whatever rule truncated it.
"""
from __future__ import annotations

FORWARD_CACHES = {"TeaCache": ("rel_l1_thresh", "coefficients"), "MagCache": ("magcache_thresh", "mag_ratios")}
COORDINATED = "core EasyCache or LazyCache, which the pack coordinates with"


def forward_caches_of(transformer_options: dict) -> list[str]:
    """The packs that replace the network's forward whose settings the model carries."""
    return [name for name, keys in FORWARD_CACHES.items() if all(k in transformer_options for k in keys)]


def forward_cache_warnings(transformer_options: dict, resuming_rules: str, truncates: bool) -> list[str]:
    """What to tell a user whose forward cache meets these rules (``resuming_rules``: those that run full CFG after
    truncated steps, "" for none; ``truncates``: any step of the run is truncated)."""
    found = forward_caches_of(transformer_options)
    warnings = []
    if resuming_rules:
        warnings += [f"{name} is on this model: it can answer a full-CFG step's negative branch from several steps "
                     f"back (it keeps one cache per branch and skips both together), and guidance is then taken from "
                     f"that. With {resuming_rules}, prefer cfg_truncate_steps, cfg_trunc_ratio or sigma_low, or "
                     f"{COORDINATED}." for name in found]
    if truncates and "MagCache" in found:
        warnings.append("MagCache is on this model: its Qwen-Image, Chroma and HunyuanVideo 1.5 variants take each "
                        "call's state by its parity (positive, negative), which every one-branch step shifts for the "
                        f"rest of the run. With those models, turn the truncation rules off or use {COORDINATED}.")
    return warnings
