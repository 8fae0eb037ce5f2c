"""A user's walk through every service over REST with httpx: users, kv, payments, files,
echo, ping and chat members, each response checked field by field as proto3 JSON (proto
field names, int64 as strings, enums by name, RFC 3339 timestamps).

Usage: walk.py HOST:PORT MAX_MESSAGE_BYTES
"""

import datetime
import hashlib
import random
import sys

import httpx

from restcheck import (
    API_KEY,
    OTHER_API_KEY,
    base_url,
    enum,
    int32,
    int64,
    list_of,
    matching,
    obj,
    parse_time,
    run,
    string,
    timestamp,
)

USER = {
    "id": int64,
    "username": string,
    "email": string,
    "age": int32,
    "create_time": timestamp,
    "update_time": timestamp,
}
PAYMENT_STATUS = enum("SUCCEEDED", "FAILED", "PARTIALLY_REFUNDED", "REFUNDED")
PAYMENT = {
    "id": matching(r"pay_[0-9a-f]{32}"),
    "amount_minor": int64,
    "currency": string,
    "customer_id": string,
    "description": string,
    "status": PAYMENT_STATUS,
    "refunded_minor": int64,
    "failure_code": string,
    "failure_message": string,
    "create_time": timestamp,
    "update_time": timestamp,
}
REFUND = {
    "id": matching(r"re_[0-9a-f]{32}"),
    "payment_id": string,
    "amount_minor": int64,
    "currency": string,
    "reason": string,
    "payment": obj(PAYMENT),
    "create_time": timestamp,
}
FILE_INFO = {
    "name": string,
    "size": int64,
    "content_type": string,
    "sha256": matching(r"[0-9a-f]{64}"),
    "create_time": timestamp,
}


def main(checks):
    max_message_bytes = int(sys.argv[2])
    client = httpx.Client(base_url=base_url(), timeout=10.0)
    users(checks, client)
    kv(checks, client)
    payments(checks, client)
    files(checks, client, max_message_bytes)
    echo_ping_chat(checks, client)


def users(checks, client):
    created = []
    for name, age in [("alice", 30), ("bob", 41), ("carol", 0)]:
        response = client.post("/v1/users", json={"username": name, "email": f"{name}@example.com", "age": age})
        user = checks.ok_json(response, f"POST /v1/users ({name})")
        if user is None:
            return
        checks.shape(user, USER, f"created user {name}")
        checks.equal((user["username"], user["email"], user["age"]), (name, f"{name}@example.com", age), f"{name}'s fields")
        checks.equal(user["create_time"], user["update_time"], f"{name}: a new user's update_time is its create_time")
        created.append(user)
    alice, bob, carol = created
    checks.check(int(alice["id"]) < int(bob["id"]) < int(carol["id"]), "ids increase", [u["id"] for u in created])

    got = checks.ok_json(client.get(f"/v1/users/{alice['id']}"), "GET /v1/users/{id}")
    checks.equal(got, alice, "GET returns the created user")

    # Paging: two pages of two and one, in id order, the second reached with page_token.
    first = checks.ok_json(client.get("/v1/users", params={"page_size": 2}), "GET /v1/users?page_size=2")
    if first is not None:
        checks.shape(first, {"users": list_of(obj(USER)), "next_page_token": string}, "the first page")
        checks.equal(first["users"], [alice, bob], "the first page holds alice and bob")
        checks.check(first["next_page_token"] != "", "the first page has a next_page_token")
        second = checks.ok_json(
            client.get("/v1/users", params={"page_size": 2, "page_token": first["next_page_token"]}),
            "GET /v1/users?page_token=…",
        )
        if second is not None:
            checks.equal(second, {"users": [carol], "next_page_token": ""}, "the last page")
    filtered = checks.ok_json(client.get("/v1/users", params={"query": "BOB"}), "GET /v1/users?query=BOB")
    checks.equal(filtered, {"users": [bob], "next_page_token": ""}, "the query filters, ignoring case")

    # PATCH with the mask inferred from the body: only age changes.
    patched = checks.ok_json(client.patch(f"/v1/users/{alice['id']}", json={"age": 31}), "PATCH (mask from the body)")
    if patched is not None:
        checks.shape(patched, USER, "the patched user")
        checks.equal(
            {k: patched[k] for k in ("id", "username", "email", "age", "create_time")},
            {**{k: alice[k] for k in ("id", "username", "email", "create_time")}, "age": 31},
            "only age changed",
        )
        checks.check(
            parse_time(patched["update_time"]) > parse_time(alice["update_time"]),
            "update_time moved on",
            (alice["update_time"], patched["update_time"]),
        )
    # PATCH with an explicit ?update_mask=: the other fields in the body are ignored.
    response = client.patch(
        f"/v1/users/{alice['id']}",
        params={"update_mask": "username"},
        json={"username": "alice2", "email": "changed@example.com", "age": 99},
    )
    explicit = checks.ok_json(response, "PATCH ?update_mask=username")
    if explicit is not None:
        checks.equal(
            (explicit["username"], explicit["email"], explicit["age"]),
            ("alice2", "alice@example.com", 31),
            "only the masked field changed",
        )
    after = checks.ok_json(client.get(f"/v1/users/{alice['id']}"), "GET after the patches")
    checks.equal(after, explicit, "GET shows the patched user")

    deleted = checks.ok_json(client.delete(f"/v1/users/{bob['id']}"), "DELETE /v1/users/{id}")
    checks.equal(deleted, {}, "DELETE answers google.protobuf.Empty as {}")
    checks.error(client.get(f"/v1/users/{bob['id']}"), 404, "GET a deleted user", code=5)
    checks.error(client.delete(f"/v1/users/{bob['id']}"), 404, "DELETE a deleted user", code=5)
    remaining = checks.ok_json(client.get("/v1/users"), "GET /v1/users after the delete")
    if remaining is not None:
        checks.equal([u["id"] for u in remaining["users"]], [alice["id"], carol["id"]], "the remaining users")


def kv(checks, client):
    key = "walk/dir/file.txt"
    first = checks.ok_json(client.put(f"/v1/kv/{key}", json={"value": "one"}), "PUT /v1/kv/{key} with '/' in the key")
    checks.equal(first, {"replaced": False}, "a new key replaced nothing")
    second = checks.ok_json(client.put(f"/v1/kv/{key}", json={"value": "two ✓"}), "PUT the same key again")
    checks.equal(second, {"replaced": True}, "the second PUT replaced the value")
    got = checks.ok_json(client.get(f"/v1/kv/{key}"), "GET /v1/kv/{key}")
    checks.equal(got, {"key": key, "value": "two ✓"}, "GET returns the key and its value")
    for other in ["walk/a", "walk/b", "other"]:
        checks.status(client.put(f"/v1/kv/{other}", json={"value": other}), 200, f"PUT /v1/kv/{other}")

    listed = checks.ok_json(client.get("/v1/kv", params={"prefix": "walk/"}), "GET /v1/kv?prefix=walk/")
    checks.equal(listed, {"keys": ["walk/a", "walk/b", key], "next_page_token": ""}, "keys under the prefix, in order")
    keys, token, pages = [], "", 0
    while pages < 10:
        page = checks.ok_json(
            client.get("/v1/kv", params={"prefix": "walk/", "page_size": 2, "page_token": token}), "GET /v1/kv (paged)"
        )
        if page is None:
            break
        pages += 1
        keys += page["keys"]
        token = page["next_page_token"]
        if not token:
            break
    checks.equal((keys, pages), (["walk/a", "walk/b", key], 2), "two pages of keys")

    checks.equal(checks.ok_json(client.delete(f"/v1/kv/{key}"), "DELETE /v1/kv/{key}"), {}, "DELETE answers {}")
    checks.error(client.get(f"/v1/kv/{key}"), 404, "GET a deleted key", code=5)
    checks.error(client.delete(f"/v1/kv/{key}"), 404, "DELETE a deleted key", code=5)
    listed = checks.ok_json(client.get("/v1/kv", params={"prefix": "walk/"}), "GET /v1/kv after the delete")
    checks.equal(listed, {"keys": ["walk/a", "walk/b"], "next_page_token": ""}, "the deleted key is gone")


def payments(checks, client):
    key = {"x-api-key": API_KEY}
    order = {"amount_minor": "1999", "currency": "USD", "customer_id": "cust_walk", "description": "a walk"}
    response = client.post("/v1/payments", json=order, headers={**key, "Idempotency-Key": "walk-pay-1"})
    payment = checks.ok_json(response, "POST /v1/payments")
    if payment is None:
        return
    checks.shape(payment, PAYMENT, "the payment")
    checks.equal(
        {k: payment[k] for k in ("amount_minor", "currency", "customer_id", "description", "status", "refunded_minor")},
        {**order, "status": "SUCCEEDED", "refunded_minor": "0"},
        "the payment's fields",
    )
    checks.equal((payment["failure_code"], payment["failure_message"]), ("", ""), "a success has no failure")

    # A retry with the same key: the same payment, not a second one.
    retry = checks.ok_json(
        client.post("/v1/payments", json=order, headers={**key, "Idempotency-Key": "walk-pay-1"}), "retried POST"
    )
    checks.equal(retry, payment, "a retried POST with the same Idempotency-Key returns the same payment")
    # The same key with a different amount is refused.
    checks.error(
        client.post(
            "/v1/payments", json={**order, "amount_minor": "2999"}, headers={**key, "Idempotency-Key": "walk-pay-1"}
        ),
        400,
        "the same Idempotency-Key with a different amount",
        code=3,
    )
    # int64 fields are accepted as JSON numbers too; a declined charge is a FAILED payment.
    response = client.post(
        "/v1/payments",
        json={"amount_minor": 500, "currency": "EUR", "customer_id": "cust_declined"},
        headers={**key, "Idempotency-Key": "walk-pay-2"},
    )
    declined = checks.ok_json(response, "POST a declined payment")
    if declined is not None:
        checks.shape(declined, PAYMENT, "the declined payment")
        checks.equal(
            (declined["status"], declined["failure_code"], declined["amount_minor"]),
            ("FAILED", "card_declined", "500"),
            "a declined charge is FAILED with its reason",
        )

    got = checks.ok_json(client.get(f"/v1/payments/{payment['id']}", headers=key), "GET /v1/payments/{id}")
    checks.equal(got, payment, "GET returns the payment")
    listed = checks.ok_json(client.get("/v1/payments", headers=key), "GET /v1/payments")
    if listed is not None and declined is not None:
        checks.equal(listed, {"payments": [declined, payment], "next_page_token": ""}, "payments, newest first")
    first = checks.ok_json(client.get("/v1/payments", params={"page_size": 1}, headers=key), "GET /v1/payments paged")
    if first is not None and declined is not None:
        checks.equal(first["payments"], [declined], "the first page of one")
        rest = checks.ok_json(
            client.get("/v1/payments", params={"page_size": 1, "page_token": first["next_page_token"]}, headers=key),
            "GET /v1/payments?page_token=…",
        )
        if rest is not None:
            checks.equal(rest["payments"], [payment], "the second page of one")
    filtered = checks.ok_json(
        client.get("/v1/payments", params={"customer_id": "cust_walk"}, headers=key), "GET ?customer_id="
    )
    checks.equal(filtered, {"payments": [payment], "next_page_token": ""}, "payments of one customer")
    other = checks.ok_json(client.get("/v1/payments", headers={"x-api-key": OTHER_API_KEY}), "another key's list")
    checks.equal(other, {"payments": [], "next_page_token": ""}, "another API key sees none of these payments")
    checks.error(
        client.get(f"/v1/payments/{payment['id']}", headers={"x-api-key": OTHER_API_KEY}),
        404,
        "another API key cannot GET the payment",
        code=5,
    )

    # Refunds: a part, a retry of it, too much, then the rest.
    refund_url = f"/v1/payments/{payment['id']}:refund"
    partial = {"amount_minor": "500", "reason": "a partial refund"}
    response = client.post(refund_url, json=partial, headers={**key, "Idempotency-Key": "walk-refund-1"})
    refund = checks.ok_json(response, "POST /v1/payments/{id}:refund")
    if refund is not None:
        checks.shape(refund, REFUND, "the refund")
        checks.equal(
            {k: refund[k] for k in ("payment_id", "amount_minor", "currency", "reason")},
            {"payment_id": payment["id"], "amount_minor": "500", "currency": "USD", "reason": "a partial refund"},
            "the refund's fields",
        )
        checks.equal(
            (refund["payment"]["status"], refund["payment"]["refunded_minor"]),
            ("PARTIALLY_REFUNDED", "500"),
            "the payment after a partial refund",
        )
        again = checks.ok_json(
            client.post(refund_url, json=partial, headers={**key, "Idempotency-Key": "walk-refund-1"}), "retried refund"
        )
        checks.equal(again, refund, "a retried refund returns the same refund")
    checks.error(
        client.post(
            refund_url, json={"amount_minor": "5000"}, headers={**key, "Idempotency-Key": "walk-refund-too-much"}
        ),
        400,
        "refunding more than remains",
        code=9,
    )
    after = checks.ok_json(client.get(f"/v1/payments/{payment['id']}", headers=key), "GET after the over-refund")
    if after is not None:
        checks.equal(
            (after["status"], after["refunded_minor"]), ("PARTIALLY_REFUNDED", "500"), "an over-refund changes nothing"
        )
    rest = checks.ok_json(
        client.post(refund_url, json={"amount_minor": 0}, headers={**key, "Idempotency-Key": "walk-refund-rest"}),
        "refund the rest (amount 0)",
    )
    if rest is not None:
        checks.equal(rest["amount_minor"], "1499", "the rest is refunded")
        checks.equal(
            (rest["payment"]["status"], rest["payment"]["refunded_minor"]), ("REFUNDED", "1999"), "fully refunded"
        )


def files(checks, client, max_message_bytes):
    text = "hello, files ✓\n".encode()
    upload_file(checks, client, "hello.txt", text, "text/plain; charset=utf-8")
    # Raw bytes larger than one gRPC message: the upload is streamed through in pieces, and
    # the download comes back the same, with its type and length.
    # Larger than --max-message-bytes (64 KiB here), but within --max-upload-bytes: the upload
    # and the download are split into messages that fit.
    blob = random.Random(7).randbytes(3 * max_message_bytes + 12345)
    upload_file(checks, client, "blob.bin", blob, "application/x-walk")

    listed = checks.ok_json(client.get("/v1/files"), "GET /v1/files")
    if listed is not None:
        checks.shape(listed, {"files": list_of(obj(FILE_INFO)), "next_page_token": string}, "the file list")
        names = [f["name"] for f in listed["files"]]
        checks.equal(names, sorted(names), "files are listed by name")
        checks.check("hello.txt" in names, "the list holds hello.txt", names)
    deleted = checks.ok_json(client.delete("/v1/files/hello.txt"), "DELETE /v1/files/{name}")
    checks.equal(deleted, {}, "DELETE answers {}")
    checks.error(client.get("/v1/files/hello.txt"), 404, "GET a deleted file", code=5)
    checks.error(client.delete("/v1/files/hello.txt"), 404, "DELETE a deleted file", code=5)


def upload_file(checks, client, name, content, content_type):
    what = f"PUT /v1/files/{name} ({len(content)} bytes)"
    # On a connection of its own: when the server refuses an upload it may close the
    # connection without saying so (bad_input.py checks that), which would fail the next call.
    with httpx.Client(base_url=client.base_url, timeout=10.0) as once:
        response = once.put(f"/v1/files/{name}", content=content, headers={"content-type": content_type})
    info = checks.ok_json(response, what)
    if info is not None:
        checks.shape(info, FILE_INFO, f"{name}'s FileInfo")
        checks.equal(
            (info["name"], info["size"], info["content_type"], info["sha256"]),
            (name, str(len(content)), content_type, hashlib.sha256(content).hexdigest()),
            f"{name}'s FileInfo fields",
        )
    response = client.get(f"/v1/files/{name}")
    if checks.status(response, 200, f"GET /v1/files/{name}"):
        checks.check(response.content == content, f"GET /v1/files/{name} returns the exact bytes", len(response.content))
        checks.equal(response.headers.get("content-type"), content_type, f"{name}'s Content-Type")
        checks.equal(response.headers.get("content-length"), str(len(content)), f"{name}'s Content-Length")


def echo_ping_chat(checks, client):
    message = "héllo ✓ \"quoted\" \\ \t"
    echoed = checks.ok_json(client.post("/v1/echo", json={"message": message}), "POST /v1/echo")
    checks.equal(echoed, {"message": message}, "echo returns the message unchanged")
    empty = checks.ok_json(client.post("/v1/echo", json={}), "POST /v1/echo with {}")
    checks.equal(empty, {"message": ""}, "zero values are written out")

    before = datetime.datetime.now(datetime.timezone.utc)
    response = client.get("/v1/ping", headers={"x-request-id": "walk-ping-1"})
    ping = checks.ok_json(response, "GET /v1/ping")
    if ping is not None and checks.shape(ping, {"server_time": timestamp}, "the ping"):
        skew = abs((parse_time(ping["server_time"]) - before).total_seconds())
        checks.check(skew < 60, "server_time is now", ping["server_time"])
    checks.equal(response.headers.get("x-request-id"), "walk-ping-1", "X-Request-Id is echoed")

    members = checks.ok_json(client.get("/v1/chat/members"), "GET /v1/chat/members")
    checks.equal(members, {"names": []}, "an empty room has no members")


if __name__ == "__main__":
    run("walk", main)
