"""Puts the pack root on sys.path (unit tests import ``sampling``, host tests ``devtools``) and tests/
itself, for the helpers shared by the host and browser tiers (hostenv, server_support)."""
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
