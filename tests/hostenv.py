"""Host-tier entry: every host and browser test module calls ``require_host()`` before importing ComfyUI.

It skips the module with the reason when there is no host, and otherwise imports the pack as the
package ``truncated_cfg``, as ComfyUI's loader imports the folder.
"""
import pytest

from devtools.host import import_host, import_pack


def require_host():
    path, reason = import_host()
    if path is None:
        pytest.skip(reason, allow_module_level=True)
    import_pack()
    return path
