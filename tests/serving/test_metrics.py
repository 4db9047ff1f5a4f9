"""Each service instance gets a BentoML home of its own that shares the model store."""

from __future__ import annotations

from serving.metrics import instance_home


def test_each_port_gets_its_own_home_sharing_the_model_store(tmp_path) -> None:
    shared = tmp_path / "bentoml"
    first, second = instance_home(3000, shared), instance_home(3001, shared)
    assert first != second and first.parent == second.parent == shared.resolve() / "instances"
    assert (first / "models").resolve() == (second / "models").resolve() == (shared / "models").resolve()
    (shared / "models" / "crm-bundle").mkdir()
    assert (first / "models" / "crm-bundle").is_dir()
    assert instance_home(3000, shared) == first  # a restart on the same port reuses the folder


def test_a_link_to_a_moved_store_is_renewed(tmp_path) -> None:
    home = instance_home(3000, tmp_path / "old")
    (home / "models").unlink()
    (home / "models").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert (instance_home(3000, tmp_path / "old") / "models").resolve() == (tmp_path / "old" / "models").resolve()
