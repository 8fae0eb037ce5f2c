"""schemathesis against /openapi.json: every documented operation, examples generated from
the document (a fixed seed, a bounded number per operation, one worker), each response
checked for server errors and against the document (status code, content type, body
schema). Passes only if every operation was tested and nothing failed.

Usage: fuzz.py HOST:PORT WORKDIR MAX_EXAMPLES
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import httpx

from restcheck import API_KEY, base_url, run

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"
SEED = "20261201"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def main(checks):
    workdir, max_examples = Path(sys.argv[2]), sys.argv[3]
    document = httpx.get(f"{base_url()}/openapi.json", timeout=10.0).json()
    operations = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }
    checks.check(len(operations) >= 22, "the document has every operation", sorted(operations))
    schema = workdir / "openapi.json"
    schema.write_text(json.dumps(document))
    junit = workdir / "junit.xml"
    command = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", str(schema),
        "--url", base_url(),
        "--header", f"x-api-key: {API_KEY}",
        "--checks", CHECKS,
        "--max-examples", max_examples,
        "--seed", SEED,
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", "10",
        "--report", "junit",
        "--report-junit-path", str(junit),
        "--no-color",
    ]
    print("$", " ".join(command[3:]), flush=True)
    result = subprocess.run(command, cwd=workdir, stdin=subprocess.DEVNULL, check=False)
    # schemathesis reads an OpenAPI 3.1 event-stream schema as the schema of each event
    # ({event, data, id, retry}); the document describes them so, and every event is checked.
    checks.equal(result.returncode, 0, "schemathesis's exit status")
    if not checks.check(junit.exists(), "schemathesis wrote its JUnit report"):
        return
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    tested, problems = set(), []
    for case in cases:
        name = case.get("name")
        tested.add(name)
        for outcome in ("failure", "error", "skipped"):
            for element in case.findall(outcome):
                problems.append(f"{name}: {outcome}: {(element.get('message') or element.text or '').strip()[:2000]}")
    for problem in problems:
        checks.check(False, "schemathesis", problem)
    # Besides one test case per operation, the report has one for the stateful phase.
    checks.equal(tested - {"Stateful tests"}, operations, "the operations schemathesis tested")


if __name__ == "__main__":
    run("fuzz", main)
