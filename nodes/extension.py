"""The ComfyExtension listing every node of the pack."""
from __future__ import annotations

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .guider import TruncatedCFGGuider
from .lumina2_loader import Lumina2Loader
from .model_patch import TruncatedCFGModelPatch
from .renorm import TruncatedCFGRenorm
from .wan_a14b import WanA14BExperts, WanA14BLoader


class TruncatedCFGExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [TruncatedCFGGuider, TruncatedCFGModelPatch, TruncatedCFGRenorm, Lumina2Loader, WanA14BLoader,
                WanA14BExperts]
