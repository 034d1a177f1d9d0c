"""Finding ComfyUI hosts (devtools/host.py) and the pack's own check of the host's version."""
import logging

import pytest

from devtools import host
from nodes.host_version import OLDEST_SUPPORTED, check_host_version, parse_version


def fake_comfyui(path, version=None):
    (path / "comfy").mkdir(parents=True)
    (path / "main.py").write_text("")
    (path / "comfy" / "samplers.py").write_text("")
    if version is not None:
        (path / "comfyui_version.py").write_text(f'# generated\n__version__ = "{version}"\n')
    return path


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No COMFYUI_PATH, the pack outside custom_nodes/, and the conventional place under tmp_path."""
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    monkeypatch.setattr(host, "PACK_ROOT", tmp_path / "elsewhere" / "pack")
    monkeypatch.setattr(host, "DEFAULT_HOST", tmp_path / "opt" / "ComfyUI")
    return tmp_path


def test_several_hosts_in_comfyui_path_are_all_found_in_order(nowhere, monkeypatch):
    a, b = fake_comfyui(nowhere / "a"), fake_comfyui(nowhere / "b")
    monkeypatch.setenv("COMFYUI_PATH", f"{b}:{a}:{b}")
    hosts, how = host.find_hosts()
    assert hosts == [b, a] and how.startswith("COMFYUI_PATH=")
    assert host.find_host()[0] == b


def test_a_comfyui_path_entry_that_is_no_checkout_is_named(nowhere, monkeypatch):
    a = fake_comfyui(nowhere / "a")
    monkeypatch.setenv("COMFYUI_PATH", f"{a}:{nowhere / 'missing'}")
    hosts, why = host.find_hosts()
    assert hosts == [] and "missing is not a ComfyUI checkout" in why


def test_the_conventional_places_are_the_default_and_its_versioned_siblings(nowhere):
    assert host.find_hosts()[0] == []
    assert "no ComfyUI host found" in host.find_hosts()[1]
    old = fake_comfyui(nowhere / "opt" / "ComfyUI-0.3.64", "0.3.64")
    current = fake_comfyui(nowhere / "opt" / "ComfyUI", "0.33.0")
    (nowhere / "opt" / "ComfyUI-notes").mkdir()  # not a checkout: ignored
    assert host.find_hosts()[0] == [current, old]
    assert [host.host_version(p) for p in host.find_hosts()[0]] == ["0.33.0", "0.3.64"]


def test_a_pack_inside_custom_nodes_uses_that_comfyui_only(nowhere, monkeypatch):
    fake_comfyui(nowhere / "opt" / "ComfyUI")
    comfy = fake_comfyui(nowhere / "mine")
    monkeypatch.setattr(host, "PACK_ROOT", comfy / "custom_nodes" / "ComfyUI-TruncatedCFG")
    assert host.find_hosts()[0] == [comfy]


def test_a_checkout_without_a_version_file_says_unknown(tmp_path):
    assert host.host_version(fake_comfyui(tmp_path / "c")) == "unknown"


@pytest.mark.parametrize("text, parsed", [("0.33.0", (0, 33, 0)), ("0.3.64", (0, 3, 64)), ("1.2.3rc1", (1, 2, 3)),
                                          ("nightly", None), ("", None)])
def test_versions_parse_as_numbers(text, parsed):
    assert parse_version(text) == parsed


@pytest.mark.parametrize("version, supported", [("0.3.64", True), ("0.33.0", True), ("0.4.1", True),
                                                ("0.3.63", False), ("0.3.9", False), (None, False),
                                                ("a custom build", True)])
def test_an_older_host_gets_one_warning_and_a_supported_one_none(caplog, version, supported):
    with caplog.at_level(logging.WARNING):
        assert check_host_version(version) is supported
    warnings = [r.getMessage() for r in caplog.records]
    if supported:
        assert warnings == []
    else:
        oldest = ".".join(map(str, OLDEST_SUPPORTED))
        assert len(warnings) == 1 and f"older than {oldest}" in warnings[0] and "update ComfyUI" in warnings[0]


def test_the_registry_metadata_names_the_oldest_supported_comfyui():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    from devtools.host import PACK_ROOT

    meta = tomllib.loads((PACK_ROOT / "pyproject.toml").read_text())
    assert meta["tool"]["comfy"]["requires-comfyui"] == ">=" + ".".join(map(str, OLDEST_SUPPORTED))
    assert meta["project"]["dependencies"] == []  # ComfyUI provides torch; Manager would reinstall it
