"""The committed OpenAPI document is the application's: CI fails when they differ.

Regenerate with ``.venv/bin/msedocs serve --print-openapi > docs/openapi.json``.
"""

from __future__ import annotations

import json

from msedocs.api.cli import openapi_json

from .conftest import ROOT

COMMITTED = ROOT / "docs" / "openapi.json"


def test_committed_openapi_is_the_apps():
    fresh = openapi_json()
    assert COMMITTED.read_text(encoding="utf-8") == fresh, (
        "docs/openapi.json is stale: run `.venv/bin/msedocs serve --print-openapi > docs/openapi.json`"
    )


def test_openapi_describes_every_route_and_the_render_body(client):
    served = client.get("/openapi.json").json()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served["paths"].keys() == committed["paths"].keys()
    assert served["openapi"].startswith("3.1")
    render = committed["paths"]["/v1/renders"]["post"]
    schema = render["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/RenderRequest"}
    assert {"Idempotency-Key", "Prefer"} <= {p["name"] for p in render["parameters"]}
    assert "RenderRequest" in committed["components"]["schemas"] and "SignOptions" in committed["components"]["schemas"]
    for path, methods in committed["paths"].items():
        for method, op in methods.items():
            if path not in ("/healthz", "/readyz") and not path.startswith("/v1/problems"):
                assert "401" in op["responses"] or op.get("security"), (method, path)
