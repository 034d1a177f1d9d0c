"""The ComfyExtension listing every node of the pack."""
from __future__ import annotations

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .guider import TruncatedCFGGuider
from .host_version import check_host_version, running_version
from .model_patch import TruncatedCFGModelPatch
from .models.lumina2 import Lumina2Loader
from .models.wan_a14b import WanA14BExperts, WanA14BLoader
from .renorm import TruncatedCFGRenorm


class TruncatedCFGExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [TruncatedCFGGuider, TruncatedCFGModelPatch, TruncatedCFGRenorm, Lumina2Loader, WanA14BLoader,
                WanA14BExperts]


def make_extension() -> TruncatedCFGExtension:
    """What comfy_entrypoint hands ComfyUI's loader, after checking the host's version once."""
    check_host_version(running_version())
    return TruncatedCFGExtension()
