"""The pack loads through ComfyUI's own custom-node loader and every node is what the design names."""
import asyncio
import logging

from hostenv import require_host

require_host()

import nodes  # noqa: E402

from devtools.host import PACK_ROOT  # noqa: E402
from sampling.rules import INPUTS  # noqa: E402

EXPECTED = {
    "TruncatedCFGGuider": "Truncated CFG Guider",
    "TruncatedCFGModelPatch": "Truncated CFG (model patch)",
    "TruncatedCFGRenorm": "CFG Renorm",
    "TruncatedCFGLumina2Loader": "Lumina2 Loader",
    "TruncatedCFGWanA14BLoader": "Wan A14B Loader",
    "TruncatedCFGWanA14BExperts": "Wan A14B Experts",
}
# The truncation inputs in the table's order (tests/unit/test_rules.py pins the released ones' places).
GUIDER_INPUTS = ["model", "positive", "cfg"] + [row.name for row in INPUTS if row.required]
OPTIONAL = [row.name for row in INPUTS if not row.required]
# The guider's own optional inputs: the negative prompt (optional with a negative model, as core's DualModelGuider)
# and the negative model, around the policy's.
GUIDER_OPTIONAL = ["negative"] + OPTIONAL + ["model_negative"]


def load_pack(caplog):
    asyncio.run(nodes.init_builtin_extra_nodes())
    core_ids = set(nodes.NODE_CLASS_MAPPINGS)
    caplog.clear()  # core's own import warnings (torchaudio) are not ours
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(nodes.load_custom_node(str(PACK_ROOT)))
    return core_ids


def test_loader_registers_every_node_with_its_display_name(caplog):
    core_ids = load_pack(caplog)
    assert caplog.text == "", "loading the pack logged warnings"
    assert {"CFGGuider", "RenormCFG", "CFGNorm"} <= core_ids
    assert not core_ids & set(EXPECTED), "a node ID collides with core; core would win silently"
    for node_id, display in EXPECTED.items():
        assert node_id in nodes.NODE_CLASS_MAPPINGS
        assert nodes.NODE_DISPLAY_NAME_MAPPINGS[node_id] == display


def test_inputs_are_named_as_the_design_and_every_one_has_a_tooltip(caplog):
    load_pack(caplog)
    infos = {node_id: nodes.NODE_CLASS_MAPPINGS[node_id].INPUT_TYPES() for node_id in EXPECTED}
    guider = infos["TruncatedCFGGuider"]
    assert list(guider["required"]) == GUIDER_INPUTS and list(guider["optional"]) == GUIDER_OPTIONAL
    patch = infos["TruncatedCFGModelPatch"]
    assert list(patch["required"]) == ["model"] + GUIDER_INPUTS[3:] and list(patch["optional"]) == OPTIONAL
    assert list(infos["TruncatedCFGRenorm"]["required"]) == ["model", "renorm_cfg", "mode"]
    assert list(infos["TruncatedCFGLumina2Loader"]["required"]) == ["unet_name", "clip_name", "vae_name", "shift",
                                                                    "weight_dtype"]
    assert list(infos["TruncatedCFGWanA14BLoader"]["required"]) == [
        "high_noise_unet", "low_noise_unet", "clip_name", "vae_name", "task", "shift", "boundary", "weight_dtype"]
    assert list(infos["TruncatedCFGWanA14BExperts"]["required"]) == ["high_noise_model", "low_noise_model", "task",
                                                                     "boundary"]
    for node_id, info in infos.items():
        for section in ("required", "optional"):
            for name, spec in info.get(section, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    for row in INPUTS:
        spec = guider["required" if row.required else "optional"][row.name][1]
        assert spec["default"] == row.default and spec["tooltip"] == row.tooltip
    assert guider["optional"]["adaptive_threshold"][1]["default"] == 0.0  # advanced rules default to off
    assert guider["required"]["cfg_trunc_ratio"][1]["default"] == 1.0


def test_the_rules_most_users_set_show_and_the_rest_fold_behind_the_advanced_toggle(caplog):
    """On a host whose inputs take ``advanced`` (ComfyUI 0.33); 0.3.64's show every input."""
    from truncated_cfg.nodes.policy_inputs import FOLDS_ADVANCED

    load_pack(caplog)
    guider = nodes.NODE_CLASS_MAPPINGS["TruncatedCFGGuider"].INPUT_TYPES()
    specs = {name: spec[1] for section in ("required", "optional") for name, spec in guider.get(section, {}).items()}
    folded = {name for name, spec in specs.items() if spec.get("advanced")}
    assert folded == ({row.name for row in INPUTS if row.advanced} if FOLDS_ADVANCED else set())
    if FOLDS_ADVANCED:
        assert {"cfg", "cfg_truncate_steps", "cfg_trunc_ratio", "keep", "cfg_every"}.isdisjoint(folded)
        sockets = {name for section in ("required", "optional") for name, spec in guider.get(section, {}).items()
                   if spec[0] in ("MODEL", "CONDITIONING")}
        assert sockets == {"model", "positive", "negative", "model_negative"}
        assert len(specs) - len(sockets) - len(folded) <= 7  # the widgets shown: cfg and six rules


def test_a_host_older_than_supported_gets_one_warning_and_the_nodes_still_load(caplog, monkeypatch):
    import comfyui_version

    monkeypatch.setattr(comfyui_version, "__version__", "0.3.40")
    asyncio.run(nodes.init_builtin_extra_nodes())
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(nodes.load_custom_node(str(PACK_ROOT)))
    ours = [r.getMessage() for r in caplog.records if "Truncated CFG" in r.getMessage()]
    assert len(ours) == 1 and "ComfyUI (0.3.40) is older than 0.3.64" in ours[0]
    assert set(EXPECTED) <= set(nodes.NODE_CLASS_MAPPINGS)
