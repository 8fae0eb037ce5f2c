#!/usr/bin/env python3
"""Side-by-side benchmarks of Switchboard and its peers (../../shared/peers), one run.

Each comparison runs its variants alternating A B A B ... (a fresh server per run, warm-up
excluded), records the machine's noise per run (hypervisor steal, CPU used by processes that
are not ours) and marks disturbed runs, then prints medians of the clean runs with ratios,
and writes every run to a JSON file. Loopback only; every load is bounded in time; every
process started is stopped by its PID.

Usage: bench.py [--quick] [--pairs N] [--duration S] [--only REGEX] [--out FILE] [--baseline BINARY]
(bench/run.sh builds everything first and then calls this.)
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.environ.get("WORK", "/tmp/switchboard-bench")
BIN = os.path.join(WORK, "bin")
SB = os.path.join(ROOT, "target", "release", "switchboard")
LOADGEN = os.path.join(ROOT, "target", "release", "sb-loadgen")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Ports: Switchboard's gRPC, legacy and HTTP/JSON ports, then the peers'.
SB_GRPC, SB_KV, SB_CHAT, SB_ECHO, SB_BIN, SB_HTTP = 50061, 50062, 50063, 50064, 50065, 50066
TONIC, GOECHO, REDIS, REDIS_AOF = 50071, 50072, 50073, 50074
WRK_LUA = os.path.join(HERE, "wrk")  # this project's wrk scripts (the peers' are copied to WORK)
SEED = {"rest": 18080, "chat": 18081, "kv": 18082, "bin": 18083, "echo": 18084}


# ----------------------------------------------------------------------------- processes

def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Server:
    def __init__(self, name, cmd, port, env=None, more_ports=()):
        self.name, self.cmd, self.port, self.env = name, cmd, port, env
        self.more_ports = tuple(more_ports)  # also listened on; start() waits for them too
        self.proc = None
        self.tmp = None

    def start(self):
        for port in (self.port, *self.more_ports):
            if not port_free(port):
                raise RuntimeError(f"port {port} busy before starting {self.name}")
        self.tmp = tempfile.mkdtemp(prefix="sbbench-")
        cmd = [c.replace("{tmp}", self.tmp) for c in self.cmd]
        env = dict(os.environ, **(self.env or {}))
        self.log = open(os.path.join(WORK, f"{self.name}.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            for port in (self.port, *self.more_ports):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log.name}")
                wait_port(port)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20


def machine_jiffies():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6]
    return {"busy": busy, "steal": cpu[7] if len(cpu) > 7 else 0, "total": sum(cpu)}


def children_cpu():
    """CPU seconds of finished children (load tools) of this process."""
    t = os.times()
    return t.children_user + t.children_system


def wait_idle(limit=60.0):
    """Waits (bounded) until the machine is quiet, so a run starts clean."""
    deadline = time.time() + limit
    while time.time() < deadline:
        a = machine_jiffies()
        time.sleep(1.0)
        b = machine_jiffies()
        if (b["busy"] - a["busy"]) / CLK_TCK < 0.2:
            return
    print("  (machine still busy; running anyway, the run will be marked if disturbed)")


def run_tool(cmd, timeout):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr[-800:]}")
    return out.stdout


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    raise RuntimeError(f"no RESULT line in: {text[-500:]}")


# ----------------------------------------------------------------------------- loads

def grpc_body(field1: bytes) -> bytes:
    """5-byte gRPC prefix + a protobuf message whose field 1 (string) is `field1`."""
    msg = b"\x0a" + varint(len(field1)) + field1
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def h2load(port, path, body, conns, streams, duration, warmup, resp_frame=None):
    """Loads a unary method; `resp_frame` is the size of one OK response's gRPC frame."""
    body_file = os.path.join(WORK, "body.bin")
    with open(body_file, "wb") as f:
        f.write(body)
    base = ["h2load", "-t", "1", "-c", str(conns), "-m", str(streams), "-H", "content-type: application/grpc",
            "-H", "te: trailers", "-d", body_file]
    url = f"http://127.0.0.1:{port}{path}"
    run_tool(base + ["-D", str(warmup), url], warmup + 30)
    log = os.path.join(WORK, "h2load.tsv")
    if os.path.exists(log):
        os.remove(log)
    out = run_tool(base + ["-D", str(duration), f"--log-file={log}", url], duration + 30)
    rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out).group(1))
    req = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    lat = []
    with open(log) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1] == "200":
                lat.append(int(parts[2]))
    lat.sort()
    # A gRPC error is HTTP 200 with no DATA: check the bytes received match the successes.
    data = re.search(r"traffic: .*?, [0-9.]+[KMG]?B \((\d+)\) data", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    frame = resp_frame or len(body)  # an echo's response frame is its request frame
    res = {"rps": rps, "p50_us": pct(lat, 50), "p99_us": pct(lat, 99), "requests": int(req.group(3)),
           "failed": int(req.group(4)) + int(req.group(5)), "data_bytes": int(data.group(1)) if data else 0,
           "mean": mean.group(1) if mean else None}
    # Fewer DATA bytes than successes × frame means some calls ended in a gRPC error.
    if res["failed"] or res["data_bytes"] < res["requests"] * frame:
        raise RuntimeError(f"gRPC errors under load: {res}")
    return res


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def loadgen(args, duration):
    result = parse_result(run_tool([LOADGEN] + args, duration + 120))
    return {k: (v if k == "windows_rps" else float(v)) for k, v in result.items()}


# ----------------------------------------------------------------------------- servers

_HTTP_FLAG = None


def sb_has_http():
    """Whether this build has the HTTP/JSON front door (`--http-listen`)."""
    global _HTTP_FLAG
    if _HTTP_FLAG is None:
        try:
            out = subprocess.run([SB, "--help"], capture_output=True, text=True, timeout=30).stdout
        except OSError:
            out = ""
        _HTTP_FLAG = "--http-listen" in out
    return _HTTP_FLAG


def switchboard(storage="sqlite", extra=(), http=False):
    """The real server, default configuration (durable SQLite storage, every layer on, the
    access log at `info` into a file) unless told otherwise; loopback ports so that the peers'
    ports stay free. A build with the HTTP/JSON front door always gets it on a loopback port
    (its default is 0.0.0.0:8080); `http=True` (the REST rows) requires it and waits for it."""
    cmd = [SB, "--listen", f"127.0.0.1:{SB_GRPC}",
           "--legacy-kv-listen", f"127.0.0.1:{SB_KV}", "--legacy-chat-listen", f"127.0.0.1:{SB_CHAT}",
           "--legacy-echo-listen", f"127.0.0.1:{SB_ECHO}", "--legacy-binary-listen", f"127.0.0.1:{SB_BIN}",
           "--storage", storage, "--data-dir", "{tmp}/data", *extra]
    if http and not sb_has_http():
        why = "has no --http-listen (the HTTP/JSON front door)" if os.path.exists(SB) else "is not built"
        raise RuntimeError(f"{SB} {why}: build it (bench/run.sh does)")
    if sb_has_http():
        cmd += ["--http-listen", f"127.0.0.1:{SB_HTTP}"]
    return Server(f"switchboard-{storage}", cmd, SB_GRPC, more_ports=[SB_HTTP] if http else [])


def seed(kind):
    port = SEED[kind]
    names = {"rest": "rest-users", "chat": "chat", "kv": "kv", "bin": "binproto", "echo": "echo"}
    cmd = [os.path.join(BIN, f"seed-{names[kind]}"), "-addr", f"127.0.0.1:{port}"]
    if kind != "rest":
        cmd.append("-quiet")
    return Server(f"seed-{kind}", cmd, port)


def tonic_echo():
    return Server("tonic-echo", [os.path.join(BIN, "tonic-echo"), f"127.0.0.1:{TONIC}"], TONIC)


def go_echo():
    return Server("grpc-go", [os.path.join(BIN, "goecho"), "-addr", f"127.0.0.1:{GOECHO}"], GOECHO)


def redis():
    return Server("redis", ["redis-server", "--port", str(REDIS), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no"], REDIS)


def redis_durable():
    """Redis as durable as Switchboard's default: every write appended and fsynced before the
    reply (`appendfsync always`; Redis fsyncs once per event-loop pass, so replies to several
    clients share an fsync), in a fresh directory of its own."""
    return Server("redis-aof", ["redis-server", "--port", str(REDIS_AOF), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "yes", "--appendfsync", "always", "--dir", "{tmp}"], REDIS_AOF)


# ----------------------------------------------------------------------------- comparisons
# A comparison: a name, variants [(label, server factory, measure(server, opts) -> dict)],
# the metric ratios are computed on, and which variant is the reference for each ratio.

ECHO_100 = b"x" * 100


def echo_grpc(port, path, c, m):
    return lambda srv, o: h2load(port, path, grpc_body(ECHO_100), c, m, o.duration, o.warmup)


def kv_get_grpc(c, m):
    def measure(srv, o):
        # Preload the key with one KvService/Set (SetRequest: key=1, value=2).
        set_msg = b"\x0a\x09bench-key" + b"\x12" + varint(100) + ECHO_100
        h2load_once(SB_GRPC, "/switchboard.v1.KvService/Set", b"\x00" + struct.pack(">I", len(set_msg)) + set_msg)
        # GetResponse: key=1 "bench-key", value=2 100 bytes → 113 bytes + 5-byte prefix.
        return h2load(SB_GRPC, "/switchboard.v1.KvService/Get", grpc_body(b"bench-key"), c, m, o.duration, o.warmup,
                      resp_frame=118)
    return measure


def h2load_once(port, path, body):
    """One call; returns the size of its response's DATA (its gRPC frame, when it succeeded)."""
    body_file = os.path.join(WORK, "once.bin")
    with open(body_file, "wb") as f:
        f.write(body)
    out = run_tool(["h2load", "-n", "1", "-c", "1", "-H", "content-type: application/grpc", "-H", "te: trailers",
                    "-d", body_file, f"http://127.0.0.1:{port}{path}"], 30)
    data = re.search(r"traffic: .*?, [0-9.]+[KMG]?B \((\d+)\) data", out)
    size = int(data.group(1)) if data else 0
    if size == 0:
        raise RuntimeError(f"{path} answered with an error: {out[-400:]}")
    return size


def pb_string(field, text):
    raw = text.encode()
    return bytes([field << 3 | 2]) + varint(len(raw)) + raw


def grpc_frame(message):
    return b"\x00" + struct.pack(">I", len(message)) + message


def get_user_grpc(c, m):
    def measure(srv, o):
        # CreateUserRequest{user: {username, email, age: 30}}; a fresh server gives it id 1.
        user = pb_string(2, "bench") + pb_string(3, "bench@example.test") + b"\x20\x1e"
        h2load_once(SB_GRPC, "/switchboard.v1.UserService/CreateUser", grpc_frame(b"\x0a" + varint(len(user)) + user))
        get = grpc_frame(b"\x08\x01")  # GetUserRequest{id: 1}
        frame = h2load_once(SB_GRPC, "/switchboard.v1.UserService/GetUser", get)
        return h2load(SB_GRPC, "/switchboard.v1.UserService/GetUser", get, c, m, o.duration, o.warmup, resp_frame=frame)
    return measure


def loadgen_unary(rpc, conns=50, window=None):
    def measure(srv, o):
        w = window or o.duration
        return loadgen(["unary", "--addr", f"127.0.0.1:{SB_GRPC}", "--rpc", rpc, "--connections", str(conns),
                        "--duration", str(o.duration if not window else 2 * window), "--warmup", str(o.warmup),
                        "--window", str(w), "--tag", f"t{time.time_ns()}"], 2 * w + o.duration)
    return measure


def wrk(port, script, duration, env=None, conns=50, threads=2):
    """One wrk run (HTTP/1.1, keep-alive). The run is invalid (raises, so it is recorded as a
    failed run) unless every response was 2xx and no socket error happened."""
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "-s", script,
           f"http://127.0.0.1:{port}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})),
                          timeout=duration + 60)
    out = proc.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ", out)
    if proc.returncode != 0 or not rps or not total:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {(out + proc.stderr)[-800:]}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+[a-z]+)\s*$", out, re.M))
    res = {"rps": float(rps.group(1)), "requests": int(total.group(1)),
           "p50_us": wrk_us(lat.get("50")), "p99_us": wrk_us(lat.get("99")),
           "non2xx": int(non2xx.group(1)) if non2xx else 0,
           "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}
    if res["non2xx"] or res["socket_errors"] or not res["requests"]:
        raise RuntimeError(f"invalid run (every response must be 2xx): {res}; {out.strip()[-300:]}")
    return res


def wrk_us(text):
    """wrk's latency figures ("812.00us", "1.07ms", "1.20s", "2.00m") in µs."""
    if not text:
        return None
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[m.group(2)] if m else None


def rest_post_windows(window):
    # The seed's own script; the rate is the first window's, as before (see rest_post for both).
    def measure(srv, o):
        outs = [wrk(SEED["rest"], os.path.join(WORK, "post_users.lua"), window, {"WRK_TAG": f"w{i}"})
                for i in range(2)]
        return {"rps": outs[0]["rps"], "windows_rps": ",".join(f"{x['rps']:.0f}" for x in outs)}
    return measure


def rest_get(srv, o):
    run_tool([os.path.join(BIN, "seed-restprep"), "-url", f"http://127.0.0.1:{SEED['rest']}", "-n", "1000"], 60)
    return {"rps": wrk(SEED["rest"], os.path.join(WORK, "get_user.lua"), o.duration)["rps"]}


# The REST rows: Switchboard's HTTP/JSON front door and the guide's Go server on the same
# HTTP/1.1 JSON work, driven by the same wrk scripts (bench/wrk/), only the path differs.
REST_PREFIX = {"switchboard": "/v1/users", "seed": "/api/users", "guide": "/api/users"}
REST_USERS = 1000


def seed_users(port, prefix, n=REST_USERS, conns=8):
    """Creates n users over HTTP/1.1 keep-alive (a few connections, so a durable server's
    commits can be shared) and returns their ids as the server gave them. Any non-2xx fails."""
    import http.client
    import threading
    ids, errors = [], []

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(k, n, conns):
                body = json.dumps({"username": f"prep{i}", "email": f"prep{i}@example.test", "age": 30})
                conn.request("POST", prefix, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if not 200 <= resp.status < 300:
                    raise RuntimeError(f"POST {prefix} answered {resp.status}: {data[:200]!r}")
                ids.append(int(json.loads(data)["id"]))  # proto3 JSON writes int64 as a string
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"seeding {n} users failed: {errors[0]}")
    if len(set(ids)) != n:
        raise RuntimeError(f"seeding: {len(set(ids))} distinct ids for {n} users")
    return sorted(ids)


def rest_get_users(port, prefix):
    """GET prefix/{id}, ids spread uniformly over the users seeded just before (wrk, 50 conns)."""
    def measure(srv, o):
        ids = seed_users(port, prefix)
        ids_file = os.path.join(WORK, "rest-ids.txt")
        with open(ids_file, "w") as f:
            f.write("\n".join(map(str, ids)) + "\n")
        env = {"WRK_PREFIX": prefix, "WRK_IDS": ids_file}
        script = os.path.join(WRK_LUA, "rest_get_user.lua")
        wrk(port, script, o.warmup, env)
        measured_from_here()  # server CPU per request counts the measured run only
        return dict(wrk(port, script, o.duration, env), users=len(ids))
    return measure


def rest_post(port, prefix, window):
    """POST prefix with a new user per request (wrk, 50 conns) on a fresh server: two
    consecutive runs of `window` s, so the second shows what the users already created cost.
    The rate is over both windows; the latencies are the second window's."""
    def measure(srv, o):
        script = os.path.join(WRK_LUA, "rest_post_user.lua")
        outs = [wrk(port, script, window, {"WRK_PREFIX": prefix, "WRK_TAG": f"w{i}"}) for i in range(2)]
        total = sum(x["requests"] for x in outs)
        return {"rps": total / sum(x["requests"] / x["rps"] for x in outs), "requests": total,
                "p50_us": outs[1]["p50_us"], "p99_us": outs[1]["p99_us"],
                "windows_rps": ",".join(f"{x['rps']:.0f}" for x in outs)}
    return measure


def kvload(port, proto, depth):
    return lambda srv, o: norm(parse_result(run_tool(
        [os.path.join(BIN, "seed-kvload"), "-addr", f"127.0.0.1:{port}", "-proto", proto, "-conns", "50",
         "-depth", str(depth), "-duration", f"{o.duration}s"], o.duration + 120)), "ops_s")


def chatload(port, senders, rate=0):
    return lambda srv, o: norm(parse_result(run_tool(
        [os.path.join(BIN, "seed-chatload"), "-addr", f"127.0.0.1:{port}", "-clients", "50", "-senders", str(senders),
         "-duration", f"{o.duration}s", "-rate", str(rate)], o.duration + 120)), "deliveries_s")


def binload(port, mode, size):
    return lambda srv, o: norm(parse_result(run_tool(
        [os.path.join(BIN, "seed-binload"), "-addr", f"127.0.0.1:{port}", "-mode", mode, "-conns", "50",
         "-size", str(size), "-duration", f"{o.duration}s"], o.duration + 120)), "frames_s")


def norm(result, rate_key):
    out = {k: float(v) if re.fullmatch(r"-?[\d.]+", v) else v for k, v in result.items()}
    out["rps"] = out[rate_key]
    return out


def idle_rss(srv, o):
    time.sleep(2)
    return {"rss_mib": srv.rss_mib()}


def held_rss(args, ready_word):
    def measure(srv, o):
        proc = subprocess.Popen([LOADGEN] + args, stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            if not line.startswith(ready_word):
                raise RuntimeError(f"loadgen did not get ready: {line!r}")
            time.sleep(1)
            rss = srv.rss_mib()
        finally:
            proc.wait(timeout=120)
        return {"rss_mib": rss}
    return measure


def comparisons(o):
    d = o.duration
    win = max(5, d)
    return [
        ("grpc echo 100 B, 50 conn x 10 streams", "rps", [
            ("switchboard", switchboard, echo_grpc(SB_GRPC, "/switchboard.v1.EchoService/Echo", 50, 10)),
            # What the default per-call access log line costs: the same server logging warnings only.
            ("switchboard-log-warn", lambda: switchboard(extra=["--log", "warn"]),
             echo_grpc(SB_GRPC, "/switchboard.v1.EchoService/Echo", 50, 10)),
            ("tonic", tonic_echo, echo_grpc(TONIC, "/perfanchor.echo.v1.Echo/UnaryEcho", 50, 10)),
            ("grpc-go", go_echo, echo_grpc(GOECHO, "/perfanchor.echo.v1.Echo/UnaryEcho", 50, 10)),
        ]),
        ("grpc echo 100 B, 1 conn x 1 stream", "rps", [
            ("switchboard", switchboard, echo_grpc(SB_GRPC, "/switchboard.v1.EchoService/Echo", 1, 1)),
            ("tonic", tonic_echo, echo_grpc(TONIC, "/perfanchor.echo.v1.Echo/UnaryEcho", 1, 1)),
            ("grpc-go", go_echo, echo_grpc(GOECHO, "/perfanchor.echo.v1.Echo/UnaryEcho", 1, 1)),
        ]),
        ("grpc Kv/Get hit, 50 conn x 10 streams (vs echo peers)", "rps", [
            ("switchboard", switchboard, kv_get_grpc(50, 10)),
            ("tonic", tonic_echo, echo_grpc(TONIC, "/perfanchor.echo.v1.Echo/UnaryEcho", 50, 10)),
            ("grpc-go", go_echo, echo_grpc(GOECHO, "/perfanchor.echo.v1.Echo/UnaryEcho", 50, 10)),
        ]),
        ("grpc Kv/Set, 50 writers: durable vs memory", "rps", [
            ("sqlite", lambda: switchboard("sqlite"), loadgen_unary("kv-set")),
            ("memory", lambda: switchboard("memory"), loadgen_unary("kv-set")),
        ]),
        (f"CreateUser 50 conns, two {win:.0f} s windows (durable) vs seed REST POST", "rps", [
            ("switchboard-sqlite", lambda: switchboard("sqlite"), loadgen_unary("create-user", window=win)),
            ("switchboard-memory", lambda: switchboard("memory"), loadgen_unary("create-user", window=win)),
            ("seed-rest", lambda: seed("rest"), rest_post_windows(win)),
        ]),
        ("GetUser 50 conns vs seed REST GET", "rps", [
            ("switchboard", switchboard, get_user_grpc(50, 1)),
            ("seed-rest", lambda: seed("rest"), rest_get),
            # The ceiling for any tonic server at the same 50 calls in flight.
            ("tonic-echo-50x1", tonic_echo, echo_grpc(TONIC, "/perfanchor.echo.v1.Echo/UnaryEcho", 50, 1)),
        ]),
        # The REST rows: the HTTP/JSON front door against the guide's REST server, same wrk work.
        ("REST GET /v1/users/{id} vs seed GET /api/users/{id}, 50 conns, 1,000 users", "rps", [
            ("switchboard", lambda: switchboard(http=True), rest_get_users(SB_HTTP, REST_PREFIX["switchboard"])),
            ("seed-rest", lambda: seed("rest"), rest_get_users(SEED["rest"], REST_PREFIX["seed"])),
        ], [("ratio", "switchboard", "seed-rest", 1.0)]),
        (f"REST POST /v1/users (durable) vs seed POST /api/users, 50 conns, two {win:.0f} s windows", "rps", [
            ("switchboard-sqlite", lambda: switchboard("sqlite", http=True),
             rest_post(SB_HTTP, REST_PREFIX["switchboard"], win)),
            ("seed-rest", lambda: seed("rest"), rest_post(SEED["rest"], REST_PREFIX["seed"], win)),
        ], [("ratio", "switchboard-sqlite", "seed-rest", 5.0), ("flat", "switchboard-sqlite", 0.9)]),
        # The guide's own endpoints on Switchboard (the same paths and shapes as the seed server).
        ("guide GET /api/users/{id} vs seed, 50 conns, 1,000 users", "rps", [
            ("switchboard", lambda: switchboard(http=True), rest_get_users(SB_HTTP, REST_PREFIX["guide"])),
            ("seed-rest", lambda: seed("rest"), rest_get_users(SEED["rest"], REST_PREFIX["seed"])),
        ], [("ratio", "switchboard", "seed-rest", 1.0)]),
        (f"guide POST /api/users (durable) vs seed, 50 conns, two {win:.0f} s windows", "rps", [
            ("switchboard-sqlite", lambda: switchboard("sqlite", http=True),
             rest_post(SB_HTTP, REST_PREFIX["guide"], win)),
            ("seed-rest", lambda: seed("rest"), rest_post(SEED["rest"], REST_PREFIX["seed"], win)),
        ], [("ratio", "switchboard-sqlite", "seed-rest", 5.0), ("flat", "switchboard-sqlite", 0.9)]),
        # redis-aof-always: Redis made as durable as the sqlite rows (fsync before every reply).
        ("legacy KV text 50 % SET, 50 conns, sequential", "rps", [
            ("switchboard-sqlite", lambda: switchboard("sqlite"), kvload(SB_KV, "kv", 1)),
            ("switchboard-memory", lambda: switchboard("memory"), kvload(SB_KV, "kv", 1)),
            ("seed-kv", lambda: seed("kv"), kvload(SEED["kv"], "kv", 1)),
            ("redis", redis, kvload(REDIS, "redis", 1)),
            ("redis-aof-always", redis_durable, kvload(REDIS_AOF, "redis", 1)),
        ]),
        ("legacy KV text, pipelined 16", "rps", [
            ("switchboard-sqlite", lambda: switchboard("sqlite"), kvload(SB_KV, "kv", 16)),
            ("switchboard-memory", lambda: switchboard("memory"), kvload(SB_KV, "kv", 16)),
            ("seed-kv", lambda: seed("kv"), kvload(SEED["kv"], "kv", 16)),
            ("redis", redis, kvload(REDIS, "redis", 16)),
            ("redis-aof-always", redis_durable, kvload(REDIS_AOF, "redis", 16)),
        ]),
        ("chat fan-out 50 members x 5 senders, full speed", "rps", [
            ("switchboard", switchboard, chatload(SB_CHAT, 5)),
            ("seed-chat", lambda: seed("chat"), chatload(SEED["chat"], 5)),
        ]),
        ("chat 50 members x 5 senders at 400 msg/s", "rps", [
            ("switchboard", switchboard, chatload(SB_CHAT, 5, 400)),
            ("seed-chat", lambda: seed("chat"), chatload(SEED["chat"], 5, 400)),
        ]),
        ("binary echo 64 B, 50 conns", "rps", [
            ("switchboard", switchboard, binload(SB_BIN, "frame", 64)),
            ("seed-binproto", lambda: seed("bin"), binload(SEED["bin"], "frame", 64)),
        ]),
        ("binary echo 4 KiB, 50 conns", "rps", [
            ("switchboard", switchboard, binload(SB_BIN, "frame", 4096)),
            ("seed-binproto", lambda: seed("bin"), binload(SEED["bin"], "frame", 4096)),
        ]),
        ("line echo 64 B, 50 conns", "rps", [
            ("switchboard", switchboard, binload(SB_ECHO, "line", 64)),
            ("seed-echo", lambda: seed("echo"), binload(SEED["echo"], "line", 64)),
        ]),
        ("memory: idle RSS (MiB)", "rss_mib", [
            ("switchboard", switchboard, idle_rss),
        ]),
        ("memory: 10,000 idle legacy connections (MiB)", "rss_mib", [
            # One load generator is one address: lift the per-address cap (256) for this test.
            ("switchboard", lambda: switchboard(extra=["--legacy-max-connections-per-peer", "0"]),
             held_rss(["idle-tcp", "--addr", f"127.0.0.1:{SB_KV}", "--connections", "10000", "--hold", "5"], "READY")),
        ]),
        ("memory: 1,000 idle chat streams (MiB)", "rss_mib", [
            ("switchboard", switchboard,
             held_rss(["chat-idle", "--addr", f"127.0.0.1:{SB_GRPC}", "--streams", "1000", "--hold", "5"], "READY")),
        ]),
    ] + webchat_comparisons(o)


# ----------------------------------------------------------------------------- web chat (issue 14)
# WebSocket members (the web chat's /v1/chat/ws) in the chat fan-out, beside the same room with
# gRPC members only, and the memory of idle WebSocket members. sb-loadgen checks each member's
# room sequence numbers: `unreported` counts skipped events that no `missed` event announced
# (must be 0); `missed` counts announced ones; `dropped` is both, as seed-chatload counts it.

def chat_fanout(websocket):
    def measure(srv, o):
        result = loadgen(["chat-fanout", "--grpc", f"127.0.0.1:{SB_GRPC}", "--http", f"127.0.0.1:{SB_HTTP}",
                          "--members", "50", "--websocket", str(websocket), "--senders", "5",
                          "--duration", str(o.duration), "--warmup", str(o.warmup)], o.duration + o.warmup)
        result["rps"] = result["deliveries_s"]
        result["dropped"] = result["missed"] + result["unreported"]
        return result
    return measure


def webchat_comparisons(o):
    return [
        ("chat fan-out 50 members x 5 gRPC senders: all gRPC vs 25 on WebSocket", "rps", [
            ("switchboard-grpc-only", lambda: switchboard(http=True), chat_fanout(0)),
            ("switchboard-25-websocket", lambda: switchboard(http=True), chat_fanout(25)),
        ]),
        ("memory: 1,000 idle WebSocket chat members (MiB)", "rss_mib", [
            ("switchboard", lambda: switchboard(http=True),
             held_rss(["ws-idle", "--addr", f"127.0.0.1:{SB_HTTP}", "--members", "1000", "--hold", "5"], "READY")),
        ]),
    ]


# ----------------------------------------------------------------------------- driver

_MARK = None


def measured_from_here():
    """Called by a measure after its preparation (seeding, warm-up): the run's CPU, wall time
    and noise are counted from here. Measures that never call it are counted whole."""
    if _MARK:
        _MARK()


def measure_once(label, factory, measure, o):
    global _MARK
    wait_idle(o.idle_wait)
    srv = factory()
    srv.start()
    try:
        base = {}

        def mark():
            base.update(j=machine_jiffies(), c=srv.cpu_seconds(), t=time.time(), child=children_cpu())
        mark()
        _MARK = mark
        try:
            result = measure(srv, o)
        finally:
            _MARK = None
        j0, c0, t0, child0 = base["j"], base["c"], base["t"], base["child"]
        j1, c1, t1 = machine_jiffies(), srv.cpu_seconds(), time.time()
        child1 = children_cpu()
        result["rss_end_mib"] = round(srv.rss_mib(), 1)
    finally:
        srv.stop()
    wall = max(t1 - t0, 1e-6)
    server_cores = (c1 - c0) / wall
    tool_cores = (child1 - child0) / wall
    busy_cores = (j1["busy"] - j0["busy"]) / CLK_TCK / wall
    steal = (j1["steal"] - j0["steal"]) / max(j1["total"] - j0["total"], 1)
    foreign = max(0.0, busy_cores - server_cores - tool_cores)
    result.update(server=label, wall_s=round(wall, 2), server_cpu_cores=round(server_cores, 3),
                  foreign_cores=round(foreign, 3), steal_pct=round(100 * steal, 1))
    reqs = result.get("requests")
    if reqs:
        result["cpu_us_per_req"] = round((c1 - c0) * 1e6 / float(reqs), 1)
    windows = [float(x) for x in str(result.get("windows_rps") or "").split(",") if x]
    if len(windows) >= 2 and windows[0] > 0:
        result["flat"] = round(windows[-1] / windows[0], 3)  # last window ÷ first: 1.0 is flat
    result["disturbed"] = foreign > o.max_foreign or steal > o.max_steal
    return result


def with_binary(factory, binary):
    """`factory`, starting `binary` instead of this tree's build."""
    def make():
        global SB, _HTTP_FLAG
        saved = SB, _HTTP_FLAG
        SB, _HTTP_FLAG = binary, None
        try:
            return factory()
        finally:
            SB, _HTTP_FLAG = saved
    return make


def with_baseline(variants, binary):
    out = []
    for label, factory, measure in variants:
        out.append((label, factory, measure))
        if label.startswith("switchboard"):
            out.append((f"{label}@baseline", with_binary(factory, os.path.abspath(binary)), measure))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 pair of 2 s runs")
    p.add_argument("--pairs", type=int, default=5)
    # Whole seconds: h2load and wrk take nothing else.
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--only", default=".", help="regex of comparison names to run")
    p.add_argument("--out", default=os.path.join(WORK, f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    p.add_argument("--max-foreign", type=float, default=0.15, help="cores of foreign CPU that mark a run disturbed")
    p.add_argument("--max-steal", type=float, default=0.10)
    p.add_argument("--idle-wait", type=float, default=30.0)
    p.add_argument("--baseline", metavar="BINARY",
                   help="an earlier build of switchboard: each switchboard variant is also run with it, "
                        "labelled <label>@baseline, for a before/after table in one run")
    o = p.parse_args()
    if o.quick:
        o.pairs, o.duration, o.warmup, o.idle_wait = 1, 2, 1, 2.0
    os.makedirs(WORK, exist_ok=True)

    runs, table = [], []
    for name, metric, variants, *extra in comparisons(o):
        if not re.search(o.only, name):
            continue
        targets = extra[0] if extra else []
        if o.baseline:
            variants = with_baseline(variants, o.baseline)
        print(f"== {name}")
        per_variant = {label: [] for label, _, _ in variants}
        for pair in range(o.pairs):
            for label, factory, measure in variants:
                try:
                    r = measure_once(label, factory, measure, o)
                except Exception as e:  # a failed run is recorded, never hidden
                    r = {"server": label, "error": str(e), "disturbed": True}
                r.update(comparison=name, pair=pair)
                runs.append(r)
                per_variant[label].append(r)
                flag = " DISTURBED" if r.get("disturbed") else ""
                print(f"  [{pair}] {label:20} {fmt(r.get(metric))} {metric}{flag}"
                      + (f"  error: {r['error']}" if "error" in r else ""))
        ref = variants[0][0]
        medians = {}
        for label, rs in per_variant.items():
            clean = [r for r in rs if not r.get("disturbed") and r.get(metric) is not None]
            pool = clean or [r for r in rs if r.get(metric) is not None]
            medians[label] = {
                "median": statistics.median(float(r[metric]) for r in pool) if pool else None,
                "p50_us": med(pool, "p50_us"), "p99_us": med(pool, "p99_us"),
                "cpu_us_per_req": med(pool, "cpu_us_per_req"), "rss_end_mib": med(pool, "rss_end_mib"),
                "windows_rps": pool[0].get("windows_rps") if pool else None,
                "dropped": med(pool, "dropped"), "flat": med(pool, "flat"),
                "clean_runs": len(clean), "runs": len(rs),
            }
        table.append((name, metric, ref, medians, targets))

    with open(o.out, "w") as f:
        json.dump({"machine": machine(), "options": vars(o), "runs": runs}, f, indent=1)
    print()
    print(f"| comparison | server | {'value':>10} | ratio | p50 µs | p99 µs | CPU µs/req | RSS MiB | clean/runs | notes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, metric, ref, medians, _ in table:
        base = medians[ref]["median"]
        for label, m in medians.items():
            ratio = "" if label == ref or not base or not m["median"] else f"{base / m['median']:.2f}×"
            notes = []
            if m["windows_rps"]:
                notes.append(f"windows {m['windows_rps']}")
            if m["flat"] is not None:
                notes.append(f"last÷first window {m['flat']:.2f}×")
            if m["dropped"] is not None:
                notes.append(f"dropped {m['dropped']:.0f}")
            print(f"| {name} | {label} | {fmt(m['median'])} | {ratio} | {fmt(m['p50_us'])} | {fmt(m['p99_us'])} | "
                  f"{fmt(m['cpu_us_per_req'])} | {fmt(m['rss_end_mib'])} | {m['clean_runs']}/{m['runs']} | "
                  f"{'; '.join(notes)} |")
    print(f"\nratio = first row (Switchboard) ÷ that row. Every run: {o.out}")
    print("\nSwitchboard ÷ each peer (medians):")
    for name, metric, ref, medians, _ in table:
        ours = {k: v["median"] for k, v in medians.items() if k.startswith(("switchboard", "sqlite", "memory"))}
        peers = {k: v["median"] for k, v in medians.items() if k not in ours}
        pairs = [f"{o_label} ÷ {p_label} = {o_val / p_val:.2f}×" for o_label, o_val in ours.items()
                 for p_label, p_val in peers.items() if o_val and p_val]
        if pairs:
            print(f"- {name}: " + "; ".join(pairs))
    lines = [target_line(name, medians, t) for name, _, _, medians, targets in table for t in targets]
    if lines:
        print("\nTargets (medians" + (", --quick: a smoke run, not a verdict" if o.quick else "") + "):")
        for line in lines:
            print(line)


def target_line(name, medians, target):
    """("ratio", ours, peer, minimum): ours ÷ peer ≥ minimum; ("flat", label, minimum): that
    variant's last window ÷ its first ≥ minimum."""
    if target[0] == "ratio":
        _, ours, peer, minimum = target
        a, b = medians[ours]["median"], medians[peer]["median"]
        value, what = (a / b if a and b else None), f"{ours} ÷ {peer}"
    else:
        _, ours, minimum = target
        value, what = medians[ours]["flat"], f"{ours} last window ÷ first"
    verdict = "no result" if value is None else ("met" if value >= minimum else "MISSED")
    shown = "–" if value is None else f"{value:.2f}×"
    return f"- {name}: {what} = {shown} (target ≥ {minimum}×): {verdict}"


def med(rs, key):
    vals = [float(r[key]) for r in rs if r.get(key) not in (None, "")]
    return statistics.median(vals) if vals else None


def fmt(v):
    if v is None:
        return "–"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def machine():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


if __name__ == "__main__":
    sys.exit(main())
