"""Host-tier entry: every host test module calls ``require_host()`` before importing ComfyUI."""
import pytest

from devtools.host import import_host


def require_host():
    path, reason = import_host()
    if path is None:
        pytest.skip(reason, allow_module_level=True)
    return path
