"""Bad input on every REST route: each answer is the right 4xx with a google.rpc.Status JSON
body (`code` an int, `message` text), and nothing changes (the state read back with GETs
after every refused write is the state before).

Usage: bad_input.py HOST:PORT MAX_MESSAGE_BYTES MAX_UPLOAD_BYTES
"""

import http.client
import json
import socket
import sys
import threading
import uuid

import httpx

from restcheck import API_KEY, base_url, dumps, run

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNIMPLEMENTED, UNAUTHENTICATED = 3, 5, 8, 12, 16


def main(checks):
    max_message_bytes, max_upload_bytes = int(sys.argv[2]), int(sys.argv[3])
    client = httpx.Client(base_url=base_url(), timeout=10.0)
    # Reads state on connections of its own, so a connection the server closes after a refusal
    # cannot make a read fail (that is checked once, on purpose, by `keep_alive_after`).
    reader = httpx.Client(base_url=base_url(), timeout=10.0)
    key = {"x-api-key": API_KEY}

    # --- What is there before: one of each thing. -------------------------------------------
    user = client.post("/v1/users", json={"username": "keep", "email": "keep@example.com", "age": 20}).json()
    client.put("/v1/kv/bad/key", json={"value": "original"}).raise_for_status()
    payment = client.post(
        "/v1/payments",
        json={"amount_minor": "1000", "currency": "USD", "customer_id": "cust_keep"},
        headers={**key, "idempotency-key": "bad-input-fixture"},
    ).json()
    client.put("/v1/files/keep.txt", content=b"keep me", headers={"content-type": "text/plain"}).raise_for_status()
    uid, pid = user["id"], payment["id"]

    def state():
        """Everything a refused request could have changed, read back through REST."""
        return dumps(
            {
                "users": reader.get("/v1/users").json(),
                "user": reader.get(f"/v1/users/{uid}").json(),
                "keys": reader.get("/v1/kv").json(),
                "value": reader.get("/v1/kv/bad/key").json(),
                "payments": reader.get("/v1/payments", headers=key).json(),
                "payment": reader.get(f"/v1/payments/{pid}", headers=key).json(),
                "files": reader.get("/v1/files").json(),
                "file": reader.get("/v1/files/keep.txt").content.decode(),
                "members": reader.get("/v1/chat/members").json(),
            }
        )

    before = state()

    def refused(method, url, http_status, what, code, unchanged=True, **kwargs):
        """Sends a request that must be refused with `http_status` and gRPC `code`; for any
        method but GET, checks that nothing changed. The Status body, or None."""
        response = client.request(method, url, **kwargs)
        body = checks.error(response, http_status, f"{what} [{method} {url}]", code=code)
        if unchanged and method != "GET":
            after = state()
            checks.check(after == before, f"{what} [{method} {url}] changes nothing", after)
        return body

    def bad_request(body, fields, what):
        """`body` carries a google.rpc.BadRequest naming exactly `fields`."""
        details = (body or {}).get("details") or [{}]
        if checks.equal(details[0].get("@type"), BAD_REQUEST_TYPE, f"{what}: details[0] is a BadRequest"):
            violations = details[0].get("field_violations", [])
            checks.equal([v.get("field") for v in violations], fields, f"{what}: the field violations")
            checks.check(
                all(isinstance(v.get("description"), str) and v["description"] for v in violations),
                f"{what}: each violation is described",
                violations,
            )

    def idem():
        return {"idempotency-key": f"bad-{uuid.uuid4()}"}

    # --- Routes with a JSON body: (method, url, a valid body, headers, a body of a wrong type). -
    json_routes = [
        ("POST", "/v1/users", {"username": "zed", "email": "zed@example.com", "age": 5}, {}, {"username": 5}),
        ("PATCH", f"/v1/users/{uid}", {"age": 77}, {}, {"age": "old"}),
        ("PUT", "/v1/kv/bad/key", {"value": "changed"}, {}, {"value": ["x"]}),
        (
            "POST",
            "/v1/payments",
            {"amount_minor": "100", "currency": "USD", "customer_id": "cust_bad"},
            key,
            {"amount_minor": "a lot"},
        ),
        ("POST", f"/v1/payments/{pid}:refund", {"amount_minor": "1"}, key, {"amount_minor": "1.5"}),
        ("POST", "/v1/echo", {"message": "x"}, {}, {"message": {"nested": 1}}),
    ]
    json_type = {"content-type": "application/json"}
    for method, url, valid, headers, wrong_type in json_routes:

        def send(content, extra=None, *, http_status=400, code=INVALID_ARGUMENT, what):
            request_headers = {**headers, **idem(), **json_type, **(extra or {})}
            return refused(method, url, http_status, what, code, content=content, headers=request_headers)

        body = send(b'{"username": ', what="malformed JSON")
        send(b"[1, 2]", what="a JSON array, not an object")
        send(b"null", what="JSON null, not an object")
        body = send(dumps({**valid, "colour": "red"}).encode(), what="an unknown field")
        checks.check("colour" in (body or {}).get("message", ""), "the unknown field is named", body)
        send(dumps(wrong_type).encode(), what="a field of the wrong JSON type")
        send(dumps(valid).encode(), {"content-type": "text/plain"}, http_status=415, what="Content-Type text/plain")
        send(
            dumps(valid).encode(),
            {"content-type": "application/x-www-form-urlencoded"},
            http_status=415,
            what="a form content type",
        )
        big = dumps({**valid, "padding": "x" * (max_message_bytes + 1000)}).encode()
        send(big, http_status=413, code=RESOURCE_EXHAUSTED, what="a body larger than --max-message-bytes")
        refused(
            method,
            url + "?colour=red",
            400,
            "an unknown query parameter",
            INVALID_ARGUMENT,
            content=dumps(valid).encode(),
            headers={**headers, **idem(), **json_type},
        )
        refused(
            method,
            url,
            400,
            "a malformed X-Request-Timeout",
            INVALID_ARGUMENT,
            content=dumps(valid).encode(),
            headers={**headers, **idem(), **json_type, "x-request-timeout": "soon"},
        )

    # --- Validation: 400 with a google.rpc.BadRequest naming every bad field. ---------------
    body = refused(
        "POST", "/v1/users", 400, "an invalid user", INVALID_ARGUMENT, json={"username": "", "email": "nope", "age": 200}
    )
    bad_request(body, ["user.username", "user.email", "user.age"], "an invalid user")
    body = refused("POST", "/v1/users", 400, "a duplicate-looking empty user", INVALID_ARGUMENT, json={})
    bad_request(body, ["user.username", "user.email"], "an empty user")
    body = refused("PATCH", f"/v1/users/{uid}", 400, "an invalid age", INVALID_ARGUMENT, json={"age": 500})
    bad_request(body, ["user.age"], "an invalid age")
    body = refused(
        "PATCH", f"/v1/users/{uid}?update_mask=colour", 400, "a mask naming no field", INVALID_ARGUMENT, json={"age": 1}
    )
    bad_request(body, ["update_mask"], "a mask naming no field")
    body = refused("PUT", "/v1/kv/bad%20key", 400, "a key with a space", INVALID_ARGUMENT, json={"value": "v"})
    bad_request(body, ["key"], "a key with a space")
    body = refused("PUT", "/v1/kv/bad/key", 400, "a value with a line break", INVALID_ARGUMENT, json={"value": "a\nb"})
    bad_request(body, ["value"], "a value with a line break")
    body = refused(
        "POST",
        "/v1/payments",
        400,
        "an invalid payment",
        INVALID_ARGUMENT,
        json={"amount_minor": "0", "currency": "usd", "customer_id": ""},
        headers={**key, **idem()},
    )
    bad_request(body, ["amount_minor", "currency", "customer_id"], "an invalid payment")
    body = refused(
        "POST",
        "/v1/payments",
        400,
        "a payment without an Idempotency-Key",
        INVALID_ARGUMENT,
        json={"amount_minor": "100", "currency": "USD", "customer_id": "cust_bad"},
        headers=key,
    )
    bad_request(body, ["idempotency-key"], "a payment without an Idempotency-Key")
    body = refused(
        "POST",
        f"/v1/payments/{pid}:refund",
        400,
        "a negative refund",
        INVALID_ARGUMENT,
        json={"amount_minor": "-5"},
        headers={**key, **idem()},
    )
    bad_request(body, ["amount_minor"], "a negative refund")
    refused(
        "POST",
        f"/v1/payments/{pid}:refund",
        400,
        "refunding more than was paid",
        9,
        json={"amount_minor": "1001"},
        headers={**key, **idem()},
    )
    for url in ["/v1/users", "/v1/kv", "/v1/files", "/v1/payments"]:
        body = refused("GET", f"{url}?page_size=-1", 400, "a negative page_size", INVALID_ARGUMENT, headers=key)
        bad_request(body, ["page_size"], f"GET {url}?page_size=-1")
        refused("GET", f"{url}?page_size=ten", 400, "a non-numeric page_size", INVALID_ARGUMENT, headers=key)
        body = refused("GET", f"{url}?page_token=forged", 400, "a forged page_token", INVALID_ARGUMENT, headers=key)
        bad_request(body, ["page_token"], f"GET {url}?page_token=forged")
    body = refused("GET", "/v1/kv:watch?prefix=" + "p" * 300, 400, "a watch prefix too long", INVALID_ARGUMENT)
    bad_request(body, ["prefix"], "a watch prefix too long")

    # --- Ids: non-numeric, zero, malformed. ---------------------------------------------------
    for method, kwargs in [("GET", {}), ("DELETE", {}), ("PATCH", {"json": {"age": 3}})]:
        refused(method, "/v1/users/abc", 400, "a non-numeric user id", INVALID_ARGUMENT, **kwargs)
        refused(method, "/v1/users/12345678901234567890", 400, "a user id beyond int64", INVALID_ARGUMENT, **kwargs)
        body = refused(method, "/v1/users/0", 400, "user id 0", INVALID_ARGUMENT, **kwargs)
        bad_request(body, ["user.id" if method == "PATCH" else "id"], f"{method} /v1/users/0")
    body = refused("GET", "/v1/payments/bogus", 400, "a malformed payment id", INVALID_ARGUMENT, headers=key)
    bad_request(body, ["id"], "a malformed payment id")
    body = refused(
        "POST", "/v1/payments/bogus:refund", 400, "refunding a malformed id", INVALID_ARGUMENT,
        json={}, headers={**key, **idem()},
    )
    bad_request(body, ["payment_id"], "refunding a malformed id")

    # --- File names that point elsewhere. -----------------------------------------------------
    for name in ["..%2Fetc%2Fpasswd", "%2E%2E%2Fetc%2Fpasswd", "%2E%2E", ".hidden", "a%2Fb"]:
        body = refused("GET", f"/v1/files/{name}", 400, "a file name that is a path", INVALID_ARGUMENT)
        bad_request(body, ["name"], f"GET /v1/files/{name}")
        body = refused("DELETE", f"/v1/files/{name}", 400, "deleting a path", INVALID_ARGUMENT)
        bad_request(body, ["name"], f"DELETE /v1/files/{name}")
        body = refused(
            "PUT", f"/v1/files/{name}", 400, "uploading to a path", INVALID_ARGUMENT,
            content=b"root::0:0", headers={"content-type": "text/plain"},
        )
        bad_request(body, ["info.name"], f"PUT /v1/files/{name}")
    # Dot segments sent as they are (httpx would resolve them): no route, and no file.
    for raw in ["/v1/files/../etc/passwd", "/v1/files/../../etc/passwd", "/v1/files/%2e%2e/%2e%2e/etc/passwd"]:
        status, body = raw_request(client, "GET", raw)
        checks.check(status in (400, 404) and isinstance(body, dict) and type(body.get("code")) is int,
                     f"GET {raw} as sent is refused with a Status", (status, body))

    # --- Uploads: too large, size mismatch, unknown query parameter. ---------------------------
    too_large = b"z" * (max_upload_bytes + 4096)
    # 413, not 429 with Retry-After: the same upload can never fit.
    refused(
        "PUT", "/v1/files/too-large.bin", 413, "an upload larger than --max-upload-bytes", RESOURCE_EXHAUSTED,
        content=too_large, headers={"content-type": "application/octet-stream"},
    )
    body = refused(
        "PUT", "/v1/files/sized.txt?info.size=5", 400, "an upload longer than its announced size", INVALID_ARGUMENT,
        content=b"0123456789", headers={"content-type": "text/plain"},
    )
    bad_request(body, ["info.size"], "an upload longer than its announced size")
    refused(
        "PUT", "/v1/files/keep.txt?colour=red", 400, "an upload with an unknown query parameter", INVALID_ARGUMENT,
        content=b"overwritten", headers={"content-type": "text/plain"},
    )

    # --- Unknown query parameters on every route without a JSON body. --------------------------
    for method, url in [
        ("GET", f"/v1/users/{uid}"),
        ("DELETE", f"/v1/users/{uid}"),
        ("GET", "/v1/users"),
        ("GET", "/v1/kv/bad/key"),
        ("DELETE", "/v1/kv/bad/key"),
        ("GET", "/v1/kv"),
        ("GET", "/v1/kv:watch"),
        ("GET", "/v1/payments"),
        ("GET", f"/v1/payments/{pid}"),
        ("GET", "/v1/files"),
        ("GET", "/v1/files/keep.txt"),
        ("DELETE", "/v1/files/keep.txt"),
        ("GET", "/v1/ping"),
        ("GET", "/v1/chat/members"),
        ("GET", "/v1/chat/events"),
    ]:
        body = refused(method, f"{url}?colour=red", 400, "an unknown query parameter", INVALID_ARGUMENT, headers=key)
        checks.check("colour" in (body or {}).get("message", ""), f"{method} {url}: the parameter is named", body)
    # A field that the path binds cannot be set again from the query, nor a single value twice.
    refused("GET", f"/v1/users/{uid}?id=1", 400, "a query parameter bound by the path", INVALID_ARGUMENT)
    refused("GET", "/v1/users?page_size=1&page_size=2", 400, "a repeated single-valued parameter", INVALID_ARGUMENT)

    # --- Payments without a valid API key. ----------------------------------------------------
    for api_key in [None, "sk_test_wrong"]:
        headers = {} if api_key is None else {"x-api-key": api_key}
        what = "no API key" if api_key is None else "an unknown API key"
        for method, url, kwargs in [
            ("GET", "/v1/payments", {}),
            ("GET", f"/v1/payments/{pid}", {}),
            ("POST", "/v1/payments", {"json": {"amount_minor": "100", "currency": "USD", "customer_id": "c"}}),
            ("POST", f"/v1/payments/{pid}:refund", {"json": {"amount_minor": "1"}}),
        ]:
            refused(method, url, 401, what, UNAUTHENTICATED, headers={**headers, **idem()}, **kwargs)

    # --- Unknown paths: 404 with a Status. -----------------------------------------------------
    for method, url in [
        ("GET", "/v1/nothing"),
        ("GET", "/v2/users"),
        ("GET", "/v1/users/"),
        ("GET", f"/v1/users/{uid}/extra"),
        ("GET", "/v1/kv/"),
        ("POST", "/v1/echo:shout"),
        ("GET", "/v1/files/a/b"),
        ("GET", "/openapi.json/extra"),
    ]:
        refused(method, url, 404, "an unknown path", NOT_FOUND, headers=key)

    # --- Wrong methods: 405, an Allow header naming the right ones, and a Status. ---------------
    for method, url, allowed in [
        ("PUT", "/v1/users", {"GET", "POST"}),
        ("POST", f"/v1/users/{uid}", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/v1/kv", {"GET"}),
        ("POST", "/v1/kv/bad/key", {"GET", "PUT", "DELETE"}),
        ("POST", "/v1/kv:watch", {"GET"}),
        ("DELETE", "/v1/payments", {"GET", "POST"}),
        ("PUT", f"/v1/payments/{pid}", {"GET"}),
        # `{id}` takes any one segment, so this path is also GetPayment's (id "pay_…:refund"), as
        # in grpc-gateway: GET is allowed here.
        ("PUT", f"/v1/payments/{pid}:refund", {"POST", "GET"}),
        ("POST", "/v1/files", {"GET"}),
        ("POST", "/v1/files/keep.txt", {"GET", "PUT", "DELETE"}),
        ("GET", "/v1/echo", {"POST"}),
        ("POST", "/v1/ping", {"GET"}),
        ("DELETE", "/v1/chat/members", {"GET"}),
        ("POST", "/v1/chat/events", {"GET"}),
        # A fixed route's 405 has a google.rpc.Status body like every other error.
        ("POST", "/openapi.json", {"GET", "HEAD"}),
    ]:
        response = client.request(method, url, json={}, headers={**key, **idem()})
        what = f"{method} {url} (wrong method)"
        checks.error(response, 405, what, code=UNIMPLEMENTED)
        allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
        checks.check(allowed <= allow and allow <= allowed | {"HEAD"}, f"{what}: Allow header", allow)
        checks.check(state() == before, f"{what} changes nothing")

    # --- A refused large body leaves the connection usable, or says that it closes it. -------
    # A refused upload's body may be left unread: the answer says `Connection: close`, so a
    # keep-alive client opens a new connection for its next request instead of failing.
    upload = b"z" * (2 * max_upload_bytes)
    keep_alive_after(checks, client, "PUT", "/v1/files/too-large.bin", "application/octet-stream", upload)
    big_json = dumps({"message": "x" * (max_message_bytes + 1000)}).encode()
    keep_alive_after(checks, client, "POST", "/v1/echo", "application/json", big_json)

    checks.equal(state(), before, "after every bad request, everything is as it was")


def keep_alive_after(checks, client, method, path, content_type, body):
    """Sends a request whose body the server refuses on one HTTP/1.1 connection, then a GET on
    the same connection: either the refusal said `Connection: close`, or the GET is answered."""
    url = client.base_url
    what = f"the connection after a refused {len(body)}-byte {method} {path}"
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        def send():
            try:
                sock.sendall(head.encode() + body)
            except OSError:
                pass  # the server may stop reading once it has refused; its answer is still there

        # The body goes out while the answer is read, so the answer is read as soon as it comes.
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        reader = sock.makefile("rb")
        try:
            status, headers = read_head(reader)
            reader.read(int(headers.get("content-length", "0")))
        except (OSError, ValueError) as error:
            checks.check(False, f"{what}: the refusal can be read", error)
            return
        sender.join(timeout=10)
        checks.check(400 <= status < 500, f"{what}: refused", status)
        if "close" in headers.get("connection", "").lower():
            checks.check(True, what)
            return
        try:
            sock.sendall(f"GET /v1/ping HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode())
            next_status, _ = read_head(reader)
        except (OSError, ValueError) as error:
            next_status = f"no answer ({error})"
        checks.equal(next_status, 200, f"{what}: without `Connection: close`, a next request is answered")


def read_head(reader):
    line = reader.readline()
    if not line:
        raise ValueError("the server closed the connection")
    status = int(line.split()[1])
    headers = {}
    while True:
        line = reader.readline().decode("latin-1").strip()
        if not line:
            return status, headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


def raw_request(client, method, path):
    """A request whose path is sent exactly as given (no dot-segment removal)."""
    url = client.base_url
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data
    finally:
        connection.close()


if __name__ == "__main__":
    run("bad_input", main)
