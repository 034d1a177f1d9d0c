"""The TeaCache and MagCache packs replace the network's forward and keep no holder: the pack only recognises them,
by the settings they put into transformer_options (read from their source), to warn where they can answer a full
step's negative branch from several steps back."""
from __future__ import annotations

FORWARD_CACHES = {"TeaCache": ("rel_l1_thresh", "coefficients"), "MagCache": ("magcache_thresh", "mag_ratios")}


def forward_caches_of(transformer_options: dict) -> list[str]:
    """The packs that replace the network's forward whose settings the model carries."""
    return [name for name, keys in FORWARD_CACHES.items() if all(k in transformer_options for k in keys)]
