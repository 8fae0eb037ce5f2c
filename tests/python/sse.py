"""Server-Sent Events with plain httpx streaming, parsed by the SSE rules (WHATWG HTML,
"Server-sent events"): `GET /v1/kv:watch?prefix=p` sees this script's PUTs and DELETEs in
order; `GET /v1/chat/events` sees a member, driven over gRPC by the test, join, speak and
leave; when the server drains, both streams end with `event: end` whose data is a
google.rpc.Status: code 0 after a `goodbye` for the room, and for the KV watch code 14
(UNAVAILABLE, "watch again"), as over gRPC and as the README says.

Talks to the test on stdin/stdout, one line each way:
  -> `READY chat`     the chat stream is open: join a member now
  <- `JOINED`         the member is in the room
  -> `CHECKED`        the member list was read
  <- `LEFT`           the member has said its line and quit
  -> `READY drain`    both streams are open: shut the server down now

Usage: sse.py HOST:PORT
"""

import json
import sys

import httpx

from restcheck import base_url, int64, matching, obj, run, string, timestamp

WAIT = 10.0  # seconds: the longest any read, and so any step, may take


class EventStream:
    """One SSE response, read event by event."""

    def __init__(self, client, url):
        self.response = client.send(client.build_request("GET", url), stream=True)
        self.lines = self.response.iter_lines()
        self.comments = 0
        self.ended = False

    def next(self):
        """The next event as (type, data, id), or None at the end of the stream."""
        event_type, data, event_id = "", [], None
        for line in self.lines:
            if line == "":
                if data:
                    return (event_type or "message", "\n".join(data), event_id)
                event_type = ""
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            field, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "event":
                event_type = value
            elif field == "id":
                event_id = value
            # `retry` and unknown fields are ignored, as the spec says.
        self.ended = True
        return None

    def close(self):
        self.response.close()


def say(line):
    print(line, flush=True)


def expect_line(checks, expected):
    line = sys.stdin.readline().strip()
    return checks.equal(line, expected, "the test's next step")


def json_of(checks, data, what):
    try:
        return json.loads(data)
    except ValueError as error:
        checks.check(False, f"{what}: data is JSON", f"{error}: {data!r}")
        return None


def main(checks):
    client = httpx.Client(base_url=base_url(), timeout=httpx.Timeout(WAIT))
    writer = httpx.Client(base_url=base_url(), timeout=httpx.Timeout(WAIT))

    # --- KV watch: this script's own writes, in order. ---------------------------------------
    kv = EventStream(client, "/v1/kv:watch?prefix=p")
    checks.status(kv.response, 200, "GET /v1/kv:watch?prefix=p")
    checks.equal(kv.response.headers.get("content-type"), "text/event-stream", "the watch's Content-Type")
    checks.equal(kv.response.headers.get("cache-control"), "no-cache", "the watch's Cache-Control")
    writes = [
        ("PUT", "p/one", "1"),
        ("PUT", "other", "not watched"),
        ("PUT", "p/two", "2 ✓"),
        ("PUT", "p/one", "1b"),
        ("DELETE", "p/one", None),
    ]
    for method, key, value in writes:
        response = writer.request(method, f"/v1/kv/{key}", json=None if value is None else {"value": value})
        checks.status(response, 200, f"{method} /v1/kv/{key}")
    expected = [("SET", "p/one", "1"), ("SET", "p/two", "2 ✓"), ("SET", "p/one", "1b"), ("DELETED", "p/one", "")]
    watch_event = obj({"kind": string, "key": string, "value": string, "time": timestamp})
    seen = []
    for index in range(len(expected)):
        event = kv.next()
        if not checks.check(event is not None, f"kv event {index} arrives"):
            break
        event_type, data, _ = event
        checks.equal(event_type, "message", f"kv event {index} is a plain data event")
        body = json_of(checks, data, f"kv event {index}")
        if body is not None:
            problem = watch_event(body)
            checks.check(problem is None, f"kv event {index} is a WatchEvent", f"{problem}: {body}")
            seen.append((body.get("kind"), body.get("key"), body.get("value")))
    checks.equal(seen, expected, "the watch saw the writes under the prefix, in order, and nothing else")

    # --- Chat events: a member driven over gRPC by the test. ----------------------------------
    chat = EventStream(client, "/v1/chat/events")
    checks.status(chat.response, 200, "GET /v1/chat/events")
    checks.equal(chat.response.headers.get("content-type"), "text/event-stream", "the room's Content-Type")
    say("READY chat")
    if expect_line(checks, "JOINED"):
        members = writer.get("/v1/chat/members")
        checks.equal(checks.ok_json(members, "GET /v1/chat/members"), {"names": ["rusty"]}, "the member is listed")
    say("CHECKED")
    expect_line(checks, "LEFT")
    sequence = matching(r"[1-9][0-9]*")
    expected_events = [
        {"member_joined": {"name": "rusty"}},
        {"message": {"from": "rusty", "text": "hello over gRPC ✓"}},
        {"member_left": {"name": "rusty", "reason": "QUIT"}},
    ]
    numbers = []
    for index, want in enumerate(expected_events):
        event = chat.next()
        if not checks.check(event is not None, f"chat event {index} arrives"):
            break
        body = json_of(checks, event[1], f"chat event {index}")
        if body is None:
            continue
        checks.equal(sorted(body), sorted(["sequence", "time", *want]), f"chat event {index}'s fields")
        checks.check(sequence(body.get("sequence")) is None, f"chat event {index}: sequence is a uint64 string", body)
        checks.check(timestamp(body.get("time")) is None, f"chat event {index}: time is RFC 3339", body)
        checks.equal({k: v for k, v in body.items() if k not in ("sequence", "time")}, want, f"chat event {index}")
        if int64(body.get("sequence")) is None:
            numbers.append(int(body["sequence"]))
    checks.check(
        len(numbers) == 3 and numbers == list(range(numbers[0], numbers[0] + 3)),
        "room sequences increase by one",
        numbers,
    )

    # --- The drain: both streams end with `event: end` and a google.rpc.Status. ---------------
    say("READY drain")
    goodbye = chat.next()
    body = json_of(checks, goodbye[1], "the room's last event") if goodbye else None
    checks.check(
        body is not None and body.get("sequence") == "0" and "goodbye" in body and timestamp(body.get("time")) is None,
        "a follower gets a goodbye when the server drains",
        goodbye,
    )
    # The room's stream ended normally; the watch did not (its watcher must watch again).
    for name, stream, code in [("kv:watch", kv, 14), ("chat/events", chat, 0)]:
        end = stream.next()
        if checks.check(end is not None and end[0] == "end", f"{name}: the stream ends with `event: end`", end):
            status = json_of(checks, end[1], f"{name}: the end event")
            if status is not None:
                checks.check(
                    status.get("code", "absent") == code,
                    f"{name}: the end event is a google.rpc.Status with code {code}, written out",
                    status,
                )
                if code != 0:
                    checks.check(status.get("message"), f"{name}: the end event says why", status)
                checks.check(set(status) <= {"code", "message", "details"}, f"{name}: only Status fields", status)
        checks.equal(stream.next(), None, f"{name}: nothing follows the end event")
        checks.check(stream.ended, f"{name}: the response body is complete")
        stream.close()


if __name__ == "__main__":
    run("sse", main)
