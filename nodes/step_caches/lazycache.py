"""Core LazyCache (``comfy_extras/nodes_easycache.py``): decides in a PREDICT_NOISE wrapper, which the pack's own
encloses, so a cached call is a whole sampler call that never reaches the guider. It holds one state for the
guided output, with no notion of branches."""
from __future__ import annotations

import comfy.patcher_extension

from .adapter import CoreCacheAdapter

ADAPTER = CoreCacheAdapter(name="LazyCache", node="comfy_extras.nodes_easycache:LazyCacheNode",
                           holder_class="LazyCacheHolder",
                           decides_in=(comfy.patcher_extension.WrappersMP.PREDICT_NOISE, "lazycache"))
