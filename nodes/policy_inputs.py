"""The truncation inputs the guider and the model patch share, declared from the rows of ``sampling/rules.py``.

Both nodes hand every one of them on by name, as one dict, to ``TruncationPolicy.from_inputs``. Adding:
- a rule or setting: its row in ``sampling/rules.py`` (at the end: saved graphs store widget values by
  position) and its tests; then ``bash devtools/build_saved_graphs.sh`` rebuilds every saved graph;
- a keep mode: its entry in ``sampling/keep.py``, and a colour and legend word for its kind in
  ``web/js/step_strip.js`` (``COLORS``, ``LEGEND``) if the kind is new, and its tests.
Nothing here changes for either.
"""
from __future__ import annotations

import inspect
import math

from comfy_api.latest import io

from ..sampling.rules import (BY_NAME, CHOICE, FLOAT, GUIDANCE_SCALE_MAX, INPUTS, INT, TEXT, PolicyInput,
                              cfg_schedule_scales)


# ComfyUI 0.33's inputs can be folded behind the frontend's advanced toggle; 0.3.64's take no such argument.
FOLDS_ADVANCED = "advanced" in inspect.signature(io.Float.Input.__init__).parameters


def declare(row: PolicyInput):
    """The V3 input of one row."""
    common = {"tooltip": row.tooltip, "optional": not row.required}
    if FOLDS_ADVANCED and row.advanced:
        common["advanced"] = True
    if row.type == CHOICE:
        return io.Combo.Input(row.name, options=list(row.choices), default=row.default, **common)
    bounds = {key: value for key, value in (("min", row.minimum), ("max", row.maximum), ("step", row.step),
                                            ("round", row.round)) if value is not None}
    if row.type == INT:
        return io.Int.Input(row.name, default=row.default, **bounds, **common)
    if row.type == FLOAT:
        return io.Float.Input(row.name, default=row.default, **bounds, **common)
    if row.type == TEXT:
        return io.String.Input(row.name, default=row.default, **common)
    raise ValueError(f"{row.name}: no input type {row.type!r}")


def policy_inputs() -> list:
    return [declare(row) for row in INPUTS]


def validated_scales(cfg_schedule=None, **scales):
    """A node's ``validate_inputs`` on its guidance scales and its cfg_schedule (POST /prompt then refuses a bad
    graph before it runs): True, or what is wrong, each by its input's name. ComfyUI skips its own bounds check of
    inputs a node validates itself, and lets NaN through it anyway, so both are done here; the bounds are the
    widget's. A value of None (an input fed by a link) is left to the run."""
    wrong = []
    for name, value in scales.items():
        maximum = BY_NAME[name].maximum if name in BY_NAME else GUIDANCE_SCALE_MAX
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            wrong.append(f"{name} is {value!r}: give a finite guidance scale (4.0, say)")
        elif not 0.0 <= value <= maximum:
            wrong.append(f"{name} must be in [0, {maximum:g}], got {value}")
    if isinstance(cfg_schedule, str):
        try:
            cfg_schedule_scales(cfg_schedule)
        except ValueError as exc:
            wrong.append(str(exc))
    return "; ".join(wrong) or True
