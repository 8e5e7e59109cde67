"""schemathesis against the committed OpenAPI document, on the JSON endpoints of a live server
(the session's service under uvicorn in a thread on 127.0.0.1): no 5xx, and every response, of
success or problem, matches its schema and its declared status. A bounded number of examples per
operation (``MSEDOCS_SCHEMATHESIS_EXAMPLES``, default 12)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from msedocs.api.app import create_app

from .conftest import ROOT, free_port


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx, value) -> bytes:
    """The body of a JSON Lines request: what was generated (a string), as UTF-8."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


EXAMPLES = int(os.environ.get("MSEDOCS_SCHEMATHESIS_EXAMPLES", "12"))

schema = (
    schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
    # not JSON: a PDF, XML, a ZIP or Prometheus text back, or a multipart upload to verify
    .exclude(path_regex=r"^/(metrics|v1/forms/\{form_id\}/xsd|v1/signatures/validate|v1/xml/validate)$")
    .exclude(path_regex=r"/(outputs/\{name\}|document)$")
    # order 692n: without the vault's key and the official СЭМД package (this server has neither)
    # they answer 503 referrals-unavailable by design; tests/api/test_api_referrals.py covers them
    .exclude(path_regex=r"^/v1/(referrals|bureaus|audit)")
)


@pytest.fixture(scope="module")
def live(service) -> Iterator[str]:
    """The session's service behind uvicorn on a free port (one lifespan for every example)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service.config, service=service), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(30)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_json_endpoints_answer_by_their_schema(case, live, keys):
    case.call_and_validate(
        base_url=live,
        headers={"Authorization": f"Bearer {keys['admin']}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
        timeout=60,
    )
