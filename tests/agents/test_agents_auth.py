"""The agents pass credentials by file: the API agent's default is auth=token (a token file in
data_dir, or token_file), and the worker agent hands its workers token_file."""

from __future__ import annotations

import stat
from pathlib import Path

import requests

from fractal_service.client import FractalClient
from fractal_service.credentials import BearerFile
from tests.support.processes import wait_until

OK = 0


def test_the_api_agent_starts_the_api_with_a_token_and_workers_use_it(api_agent,
                                                                       worker_agent) -> None:
    del api_agent.params["auth"]  # the agent's default
    assert api_agent("start").rc == OK
    url = f"http://127.0.0.1:{api_agent.params['port']}"
    token_file = Path(api_agent.params["data_dir"]) / "api-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert requests.post(url + "/v1/jobs/claim", json={"worker": "w"},
                         timeout=5).status_code == 401
    client = FractalClient(url, auth=BearerFile(token_file))
    uuid = client.create({"width": 16, "height": 16, "iterations": 16})["uuid"]
    worker_agent.params.update(api_url=url, token_file=str(token_file))
    assert worker_agent("start").rc == OK
    wait_until(lambda: client.show(uuid)["state"] == "done", 30, "the workers to render it")
    assert token_file.read_text().strip() not in (api_agent("monitor").stderr
                                                  + worker_agent("monitor").stderr)
