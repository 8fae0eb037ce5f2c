-- wrk script: GET <WRK_PREFIX>/<id>, the id drawn uniformly from WRK_IDS (a file of ids, one a
-- line: the users bench.py created before the run). The same script loads Switchboard
-- (WRK_PREFIX=/v1/users) and the guide's Go server (/api/users). The requests are formatted
-- once per thread, so the load generator spends the same on either server.
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

function init(args)
  local prefix = os.getenv("WRK_PREFIX") or "/api/users"
  local path = assert(os.getenv("WRK_IDS"), "WRK_IDS (file of user ids) is not set")
  reqs = {}
  for line in io.lines(path) do
    local id = line:match("^%s*(%d+)%s*$")
    if id then
      reqs[#reqs + 1] = wrk.format("GET", prefix .. "/" .. id)
    end
  end
  assert(#reqs > 0, "no ids in " .. path)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function request()
  return reqs[math.random(#reqs)]
end

function done(summary, latency, requests)
  io.write(string.format("LUA requests=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeout=%d\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
