"""Versions added and removed on disk while a client keeps predicting over REST."""

from __future__ import annotations

import shutil
import threading
import time

import httpx

from tests import models


class Hammer(threading.Thread):
    """Predicts in a loop on one path and records every answer until stopped."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, timeout=30)
        self.path = path
        self.answers: list[tuple[int, float | None]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            response = self.client.post(self.path, json={"instances": [[0.0] * 10]})
            value = response.json()["predictions"][0][0] if response.status_code == 200 else None
            self.answers.append((response.status_code, value))
        self.client.close()

    def finish(self) -> list[tuple[int, float | None]]:
        self.stopping.set()
        self.join(timeout=30)
        return self.answers


def wait_for(server, predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {server.read_log()}"
        time.sleep(0.05)


def states(server) -> dict[str, str]:
    rows = server.client.get("/v1/models/add").json()["model_version_status"]
    return {row["version"]: row["state"] for row in rows}


def test_add_and_remove_versions_under_load(start_server, tmp_path):
    base = tmp_path / "add"
    models.write_version(base, 1, models.add_one(value=1.0))
    server = start_server(
        "--model_name", "add", "--model_path", str(base),
        "--model_version_policy", '{"all": {}}', "--file_system_poll_wait_seconds", "1",
    )
    default = Hammer(server.url, "/v1/models/add:predict")
    pinned = Hammer(server.url, "/v1/models/add/versions/1:predict")
    default.start()
    pinned.start()
    wait_for(server, lambda: len(default.answers) > 5 and len(pinned.answers) > 5, "first answers")

    models.write_version(base, 2, models.add_one(value=2.0))
    wait_for(server, lambda: states(server).get("2") == "AVAILABLE", "version 2")
    models.write_version(base, 3, models.add_one(value=3.0))
    wait_for(server, lambda: states(server).get("3") == "AVAILABLE", "version 3")
    wait_for(server, lambda: any(v == 3.0 for _, v in default.answers[-5:]), "default moving to version 3")
    shutil.rmtree(base / "3")
    wait_for(server, lambda: states(server).get("3") == "END", "version 3 removed")
    wait_for(server, lambda: any(v == 2.0 for _, v in default.answers[-5:]), "default back on version 2")
    count = len(default.answers)
    wait_for(server, lambda: len(default.answers) > count + 5, "answers after the removal")

    default_answers, pinned_answers = default.finish(), pinned.finish()
    assert all(status == 200 for status, _ in default_answers), [a for a in default_answers if a[0] != 200][:3]
    assert all(answer == (200, 1.0) for answer in pinned_answers)  # version 1 stayed all along
    seen = {value for _, value in default_answers}
    assert {1.0, 3.0, 2.0} <= seen  # x = 0 plus the version number: versions 1, 3 and 2 answered in turn
    gone = server.client.post("/v1/models/add/versions/3:predict", json={"instances": [[0.0] * 10]})
    assert gone.status_code == 404 and "version 3" in gone.json()["error"]


def test_latest_policy_swaps_versions_without_failed_requests(start_server, tmp_path):
    base = tmp_path / "add"
    models.write_version(base, 1, models.add_one(value=1.0))
    server = start_server("--model_name", "add", "--model_path", str(base), "--file_system_poll_wait_seconds", "1")
    default = Hammer(server.url, "/v1/models/add:predict")
    default.start()
    wait_for(server, lambda: len(default.answers) > 5, "first answers")
    models.write_version(base, 2, models.add_one(value=2.0))
    wait_for(server, lambda: states(server) == {"1": "END", "2": "AVAILABLE"}, "swap to version 2")
    count = len(default.answers)
    wait_for(server, lambda: len(default.answers) > count + 5, "answers after the swap")
    answers = default.finish()
    assert all(status == 200 for status, _ in answers)
    assert answers[0][1] == 1.0 and answers[-1][1] == 2.0
