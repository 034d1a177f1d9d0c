"""Truncated CFG: classifier-free guidance that skips the second model call where it adds little.

ComfyUI imports this folder from custom_nodes/. Export only comfy_entrypoint: the loader ignores
it as soon as a V1 node mapping is present.
"""
from .nodes.extension import TruncatedCFGExtension


async def comfy_entrypoint() -> TruncatedCFGExtension:
    return TruncatedCFGExtension()
