-- wrk script: POST <WRK_PREFIX> with a new user per request: a username and e-mail unique per
-- run tag (WRK_TAG), wrk thread and per-thread counter. The body is Switchboard's user JSON;
-- the guide's Go server reads the same body (it ignores "age"), so both servers get the same
-- bytes apart from the path (WRK_PREFIX=/v1/users or /api/users).
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

function init(args)
  counter = 0
  prefix = os.getenv("WRK_PREFIX") or "/api/users"
  tag = os.getenv("WRK_TAG") or "t"
  headers = {["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local body = string.format('{"username":"u%s_%d_%d","email":"%s_%d_%d@example.test","age":30}',
                             tag, tid, counter, tag, tid, counter)
  return wrk.format("POST", prefix, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("LUA requests=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeout=%d\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
