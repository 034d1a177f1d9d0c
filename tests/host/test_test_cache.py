"""The host tier's cache of big built files (devtools/test_cache.py): built once, reused, keyed by what makes them."""
from hostenv import require_host

require_host()

from devtools import test_cache  # noqa: E402


def test_a_cached_file_is_built_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(test_cache, "CACHE_ROOT", tmp_path)
    builds = []

    def build(path):
        builds.append(path)
        path.write_text("weights")

    first = test_cache.cached("model.safetensors", build)
    again = test_cache.cached("model.safetensors", build)
    assert first == again and first.read_text() == "weights" and len(builds) == 1
    assert first.parent.name == test_cache.content_key()
    assert not list(first.parent.glob(".*.partial"))  # built beside its place, then renamed into it


def test_a_new_key_removes_the_old_keys_of_the_same_comfyui_version_only(tmp_path, monkeypatch):
    monkeypatch.setattr(test_cache, "CACHE_ROOT", tmp_path)
    stale, other_host = tmp_path / "0123456789abcdef", tmp_path / "fedcba9876543210"
    for folder, version in ((stale, test_cache.comfyui_version()), (other_host, "0.0.1")):
        (folder / "models").mkdir(parents=True)
        (folder / test_cache.VERSION_FILE).write_text(version)
    test_cache.cached("models", lambda path: path.mkdir())
    assert not stale.exists() and other_host.exists()


def test_the_key_follows_the_code_that_writes_the_files(tmp_path, monkeypatch):
    before = test_cache.content_key()
    source = tmp_path / "checkpoints.py"
    source.write_text("# another way to write the checkpoints\n")
    monkeypatch.setattr(test_cache, "PACK_ROOT", tmp_path)
    monkeypatch.setattr(test_cache, "SOURCES", ("checkpoints.py",))
    assert test_cache.content_key() != before


def test_processes_side_by_side_build_once_and_the_others_wait_for_it(tmp_path, monkeypatch):
    """pytest-xdist's workers ask for the same tree at once: one builds, the others get its result."""
    import threading
    import time

    monkeypatch.setattr(test_cache, "CACHE_ROOT", tmp_path)
    builds, results = [], []

    def build(path):
        builds.append(path)
        time.sleep(0.3)  # long enough for the others to arrive while it builds
        path.write_text("weights")

    workers = [threading.Thread(target=lambda: results.append(test_cache.cached("model.safetensors", build)))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(builds) == 1 and len(set(results)) == 1 and results[0].read_text() == "weights"
