"""Puts the pack root on sys.path: unit tests import ``sampling`` directly, host tests ``devtools``."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
