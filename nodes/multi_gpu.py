"""Core's MultiGPU CFG Split (``comfy_extras/nodes_multigpu.py``, ComfyUI 0.33) puts deep clones of the model on
further GPUs, as additional models under the key "multigpu", and runs the batch's chunks (the two CFG branches
among them) on them side by side: a step that runs one branch frees a GPU, but takes as long."""
from __future__ import annotations

from typing import Optional

MULTIGPU_KEY = "multigpu"


def cfg_split_note(model_patcher) -> Optional[str]:
    clones = getattr(model_patcher, "get_additional_models_with_key", lambda key: [])(MULTIGPU_KEY)
    if not clones:
        return None
    return (f"the model runs on {len(clones) + 1} GPUs (MultiGPU CFG Split), the two branches side by side: a "
            "truncated step frees a GPU for its time but does not take less wall time; the model calls saved are "
            "GPU time")
