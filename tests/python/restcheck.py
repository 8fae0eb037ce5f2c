"""What the REST client scripts share: the server's address, a checker that records every
failed expectation and carries on (so one run reports every problem, not just the first),
and validators for proto3 JSON as the server writes it (proto field names, 64-bit integers
as strings, enums by name, RFC 3339 timestamps).

Every script takes the server's HTTP address (`host:port`) as its first argument and ends
with one summary line, `<script>: N checks, M failures`; it exits 1 if any check failed and
2 if it could not run to the end. tests/rest_clients.rs reads that line.
"""

import datetime
import json
import os
import re
import sys
import traceback

#: The test server's payment API keys (tests/common/mod.rs, `test_config`), passed by the test.
API_KEY = os.environ.get("REST_TEST_API_KEY", "sk_test_integration")
OTHER_API_KEY = os.environ.get("REST_TEST_OTHER_API_KEY", "sk_test_other")

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
INT64_TEXT = re.compile(r"^-?[0-9]+$")


def base_url():
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} HOST:PORT")
    return f"http://{sys.argv[1]}"


class Checks:
    """Counts checks; prints each failure as it happens."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failures = []

    def check(self, condition, what, detail=None):
        if condition:
            self.passed += 1
        else:
            message = what if detail is None else f"{what}: {detail}"
            self.failures.append(message)
            print(f"FAIL {message}", flush=True)
        return bool(condition)

    def equal(self, actual, expected, what):
        return self.check(actual == expected, what, f"expected {expected!r}, got {actual!r}")

    def status(self, response, expected, what):
        """The response's HTTP status is `expected` (an int, or a collection of ints)."""
        allowed = {expected} if isinstance(expected, int) else set(expected)
        return self.check(
            response.status_code in allowed,
            what,
            f"expected HTTP {sorted(allowed)}, got {response.status_code} for "
            f"{response.request.method} {response.request.url}: {body_text(response)}",
        )

    def ok_json(self, response, what):
        """A 200 with a JSON object body; the object, or None."""
        if not self.status(response, 200, what):
            return None
        return self.json_object(response, what)

    def json_object(self, response, what):
        content_type = response.headers.get("content-type", "")
        self.check(content_type.split(";")[0].strip() == "application/json", f"{what}: JSON content type", content_type)
        try:
            body = response.json()
        except ValueError as error:
            self.check(False, f"{what}: body is JSON", f"{error}: {body_text(response)}")
            return None
        self.check(isinstance(body, dict), f"{what}: body is a JSON object", body)
        return body if isinstance(body, dict) else None

    def error(self, response, http_status, what, code=None):
        """An error answer: `http_status`, and a google.rpc.Status JSON body (`code`, an int,
        `message`, a non-empty string, and perhaps `details`), with gRPC code `code` if
        given. The body, or None."""
        if not self.status(response, http_status, what):
            return None
        return self.status_body(response, what, code)

    def status_body(self, response, what, code=None):
        body = self.json_object(response, f"{what} (error body)")
        if body is None:
            return None
        self.check(set(body) <= {"code", "message", "details"}, f"{what}: only Status fields", sorted(body))
        self.check(type(body.get("code")) is int, f"{what}: `code` is an int", body)
        self.check(
            isinstance(body.get("message"), str) and body["message"] != "", f"{what}: `message` is text", body
        )
        if "details" in body:
            details = body["details"]
            self.check(
                isinstance(details, list) and all(isinstance(d, dict) and "@type" in d for d in details),
                f"{what}: `details` are typed Any messages",
                details,
            )
        if code is not None:
            self.equal(body.get("code"), code, f"{what}: gRPC code")
        return body

    def shape(self, value, spec, what):
        """`value` is a JSON object with exactly the keys of `spec`, each value accepted by
        its validator (see the functions below)."""
        if not self.check(isinstance(value, dict), f"{what}: an object", value):
            return False
        good = self.equal(sorted(value), sorted(spec), f"{what}: its fields")
        for key, validator in spec.items():
            if key in value:
                problem = validator(value[key])
                good &= self.check(problem is None, f"{what}.{key}", f"{problem}: {value[key]!r}")
        return good

    def finish(self):
        print(f"{self.name}: {self.passed + len(self.failures)} checks, {len(self.failures)} failures", flush=True)
        sys.exit(1 if self.failures else 0)


def run(name, body):
    """Runs `body(checks)`; an exception ends the script with its traceback and exit code 2."""
    checks = Checks(name)
    try:
        body(checks)
    except Exception:  # noqa: BLE001 - everything is reported
        traceback.print_exc()
        print(f"{name}: stopped by an exception after {checks.passed + len(checks.failures)} checks", flush=True)
        sys.exit(2)
    checks.finish()


def body_text(response, limit=500):
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a streamed body not read
        return "<body not read>"
    return text if len(text) <= limit else text[:limit] + "..."


# --- Validators: None when the value is acceptable, else what is wrong. --------------------


def int64(value):
    """proto3 JSON int64/uint64: a decimal string."""
    if isinstance(value, str) and INT64_TEXT.match(value):
        return None
    return "not an int64 written as a decimal string"


def int32(value):
    if type(value) is int and -(2**31) <= value < 2**31:
        return None
    return "not an int32 JSON number"


def string(value):
    return None if isinstance(value, str) else "not a string"


def boolean(value):
    return None if isinstance(value, bool) else "not a boolean"


def timestamp(value):
    """An RFC 3339 timestamp in UTC-offset form, as proto3 JSON writes google.protobuf.Timestamp."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return "not an RFC 3339 timestamp"
    try:
        parse_time(value)
    except ValueError as error:
        return f"not a valid time ({error})"
    return None


def exactly(expected):
    return lambda value: None if value == expected else f"expected {expected!r}"


def matching(pattern):
    compiled = re.compile(pattern)
    return lambda value: None if isinstance(value, str) and compiled.fullmatch(value) else f"does not match {pattern}"


def enum(*names):
    return lambda value: None if isinstance(value, str) and value in names else f"not one of the enum names {names}"


def list_of(validator):
    def check(value):
        if not isinstance(value, list):
            return "not a list"
        for index, item in enumerate(value):
            problem = validator(item)
            if problem is not None:
                return f"[{index}] {problem}"
        return None

    return check


def obj(spec):
    """A nested object with exactly these fields."""

    def check(value):
        if not isinstance(value, dict):
            return "not an object"
        if sorted(value) != sorted(spec):
            return f"fields {sorted(value)}, expected {sorted(spec)}"
        for key, validator in spec.items():
            problem = validator(value[key])
            if problem is not None:
                return f".{key} {problem}"
        return None

    return check


def parse_time(text):
    """An RFC 3339 timestamp (nanoseconds cut to microseconds) as an aware datetime."""
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", text)
    if not match:
        raise ValueError(text)
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.datetime.fromisoformat(match.group(1) + fraction + zone)


def dumps(value):
    return json.dumps(value, sort_keys=True)
