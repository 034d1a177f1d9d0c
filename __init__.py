"""Truncated CFG: classifier-free guidance that skips the second model call where it adds little.

ComfyUI imports this folder from custom_nodes/. Export only comfy_entrypoint and WEB_DIRECTORY: the
loader ignores comfy_entrypoint as soon as a V1 node mapping is present.
"""
from .nodes.extension import TruncatedCFGExtension, make_extension

WEB_DIRECTORY = "./web"


async def comfy_entrypoint() -> TruncatedCFGExtension:
    return make_extension()
