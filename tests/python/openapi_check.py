"""GET /openapi.json: a valid OpenAPI 3.1 document (openapi-spec-validator) that lists every
REST route, and every operation it lists answers its documented method (never 404 or 405,
never 5xx) with its documented content type.

Usage: openapi_check.py HOST:PORT
"""

import uuid

import httpx
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from restcheck import API_KEY, base_url, run

#: Every path the HTTP rules of the protos declare, with its methods. The rules' templates
#: `/v1/users/{user.id}` (PATCH) and `/v1/files/{info.name}` (PUT) have the shape of
#: `/v1/users/{id}` and `/v1/files/{name}`, and OpenAPI 3.1 says that templated paths of the
#: same hierarchy with different variable names "MUST NOT exist as they are identical": the
#: document lists each shape once, under the plainer spelling.
EXPECTED_PATHS = {
    "/v1/users": {"get", "post"},
    "/v1/users/{id}": {"get", "patch", "delete"},
    "/v1/kv": {"get"},
    "/v1/kv/{key}": {"get", "put", "delete"},
    "/v1/kv:watch": {"get"},
    "/v1/payments": {"get", "post"},
    "/v1/payments/{id}": {"get"},
    "/v1/payments/{payment_id}:refund": {"post"},
    "/v1/files": {"get"},
    "/v1/files/{name}": {"get", "put", "delete"},
    "/v1/echo": {"post"},
    "/v1/ping": {"get"},
    "/v1/chat/members": {"get"},
    "/v1/chat/events": {"get"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def main(checks):
    client = httpx.Client(base_url=base_url(), timeout=10.0)
    response = client.get("/openapi.json")
    checks.status(response, 200, "GET /openapi.json")
    document = checks.json_object(response, "GET /openapi.json")
    if document is None:
        return

    # --- The document is valid OpenAPI 3.1. -------------------------------------------------
    checks.equal(document.get("openapi"), "3.1.0", "the OpenAPI version")
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    for error in errors:
        checks.check(False, "openapi-spec-validator (3.1)", f"{error.message} at {list(error.absolute_path)}")
    checks.check(not errors, "the document validates as OpenAPI 3.1")

    # --- Every route is listed, with its methods, and nothing else. ---------------------------
    paths = document.get("paths", {})
    for path, methods in EXPECTED_PATHS.items():
        if checks.check(path in paths, f"the document lists {path}", sorted(paths)):
            listed = {m for m in paths[path] if m in HTTP_METHODS}
            checks.equal(listed, methods, f"the methods of {path}")
    checks.equal(set(paths) - set(EXPECTED_PATHS), set(), "paths in the document that no rule declares")
    shapes = {}
    for path in paths:
        shapes.setdefault(shape(path), []).append(path)
    for same in shapes.values():
        checks.check(len(same) == 1, "no two paths of the same hierarchy (OpenAPI 3.1, Paths Object)", same)

    operation_ids = []
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            what = f"{method.upper()} {path}"
            operation_ids.append(operation.get("operationId"))
            responses = operation.get("responses", {})
            checks.check("200" in responses, f"{what} documents its 200 response", sorted(responses))
            default = responses.get("default", {}).get("content", {}).get("application/json", {}).get("schema")
            checks.equal(default, {"$ref": "#/components/schemas/google.rpc.Status"}, f"{what}: errors are Status")
            declared = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            in_template = [part[1:-1] for part in _template_variables(path)]
            checks.equal(sorted(declared), sorted(in_template), f"{what}: path parameters declared")
    checks.equal(len(operation_ids), len(set(operation_ids)), "operationIds are unique")

    # --- Every documented operation answers its method. ---------------------------------------
    fixtures = make_fixtures(checks, client)
    operations = [(path, method, op) for path, item in paths.items() for method, op in item.items() if method in HTTP_METHODS]
    # Deletes last, so every other call finds what it names.
    operations.sort(key=lambda entry: entry[1] == "delete")
    for path, method, operation in operations:
        probe(checks, client, path, method, operation, fixtures)


def _template_variables(path):
    out, start = [], None
    for index, char in enumerate(path):
        if char == "{":
            start = index
        elif char == "}" and start is not None:
            out.append(path[start : index + 1])
            start = None
    return out


def shape(path):
    """The path with its variables' names left out: `/v1/users/{}`."""
    for variable in _template_variables(path):
        path = path.replace(variable, "{}")
    return path


def make_fixtures(checks, client):
    """One thing of each kind, so that no operation is answered 404 for want of it."""
    user = client.post("/v1/users", json={"username": "openapi", "email": "openapi@example.com", "age": 40})
    checks.status(user, 200, "fixture: create a user")
    kv = client.put("/v1/kv/openapi/key", json={"value": "v"})
    checks.status(kv, 200, "fixture: set a key")
    payment = client.post(
        "/v1/payments",
        json={"amount_minor": "5000", "currency": "EUR", "customer_id": "cust_openapi"},
        headers={"x-api-key": API_KEY, "idempotency-key": "openapi-fixture"},
    )
    checks.status(payment, 200, "fixture: create a payment")
    upload = client.put("/v1/files/openapi.txt", content=b"fixture", headers={"content-type": "text/plain"})
    checks.status(upload, 200, "fixture: upload a file")
    return {
        "/v1/users": user.json().get("id", "1") if user.status_code == 200 else "1",
        "/v1/kv": "openapi/key",
        "/v1/payments": payment.json().get("id", "pay_x") if payment.status_code == 200 else "pay_x",
        "/v1/files": "openapi.txt",
    }


def probe(checks, client, path, method, operation, fixtures):
    what = f"{method.upper()} {path}"
    url = path
    for variable in _template_variables(path):
        prefix = next((p for p in fixtures if path.startswith(p)), None)
        url = url.replace(variable, fixtures.get(prefix, "x"))
    headers = {}
    if operation.get("security"):
        headers["x-api-key"] = API_KEY
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header":
            headers[parameter["name"]] = f"openapi-{uuid.uuid4()}"
    content = None
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        headers["content-type"] = "application/json"
        content = b"{}"
    elif "application/octet-stream" in body:
        headers["content-type"] = "application/octet-stream"
        content = b"probe"
    documented = set(operation.get("responses", {}).get("200", {}).get("content", {}))
    request = client.build_request(method.upper(), url, headers=headers, content=content)
    response = client.send(request, stream=True)
    try:
        answered = response.status_code not in (404, 405) and response.status_code < 500
        # Only a failure's body is read: a stream's never ends.
        detail = None if answered else f"HTTP {response.status_code}: {response.read().decode(errors='replace')[:300]}"
        checks.check(answered, f"{what} answers ({url})", detail)
        if response.status_code == 200:
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            checks.check(
                content_type in documented or "*/*" in documented,
                f"{what}: the 200 has a documented content type",
                f"{content_type!r} not in {sorted(documented)}",
            )
    finally:
        response.close()


if __name__ == "__main__":
    run("openapi_check", main)
