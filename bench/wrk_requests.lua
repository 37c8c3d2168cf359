-- A wrk script (wrk -t1 ... -s bench/wrk_requests.lua URL -- LIMIT [TOKENS [MODE [FIRST]]])
-- for two things plain wrk cannot do: send an exact number of requests, and send every
-- request with its own bearer token.
--
--   LIMIT   0: no limit, wrk's -d decides. N > 0: send exactly N requests, wait for their N
--           answers, then end wrk at once (however long -d is). Once N are sent, request()
--           returns an empty request, which wrk "writes" as 0 bytes: nothing reaches the server,
--           so the server sees exactly N requests (no overshoot), and `sent` below counts them.
--   TOKENS  a file of bearer tokens, one a line ("-" or absent: no Authorization header).
--           Request k carries the k-th token (from FIRST, default 1).
--   MODE    "once" (default): a token is never sent twice; when the file runs out the script
--           stops sending, ends wrk and prints "tokens: EXHAUSTED", so the run cannot pass for
--           a full one. "cycle": after the last token, start again from the first.
--
-- With WRK_PROBE_PID and WRK_PROBE_AT in the environment, reads that process's VmHWM from
-- /proc when the WRK_PROBE_AT-th answer arrives, in the middle of the run (no reconnect).
--
-- Needs -t1 (the counts are one thread's). Prints, after wrk's own summary:
--   lua: sent S, answered A, non-2xx N  (A and N only counted when LIMIT > 0)
--   tokens: used U of T, from line FIRST, MODE[, EXHAUSTED]
--   probe: VmHWM K kB at A answers
--
-- wrk ends its run by sleeping for -d in its main thread; wrk.thread:stop() only ends the
-- worker's loop. So to end early the script also sends wrk SIGINT, as Ctrl-C would (see
-- finish() below).

-- Globals, so that done() (in wrk's main Lua state, where init() never ran) can read them
-- with thread:get().
sent, answered, non2xx, used, exhausted = 0, 0, 0, 0, false
probe_pid, probe_at, probe_hwm = os.getenv("WRK_PROBE_PID"), tonumber(os.getenv("WRK_PROBE_AT") or "0"), -1
limit, ntokens, first, mode = 0, 0, 1, "once"

local tokens, cycle
local plain, before, after
local finished = false
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  if #threads > 1 then
    io.stderr:write("wrk_requests.lua: use -t1 (the counts are one thread's)\n")
    os.exit(2)
  end
end

-- Ends the run: this thread's loop, and wrk's main thread, which sleeps for -d. SIGINT ends
-- that sleep (wrk then prints its summary), but only when the main thread is the one that
-- takes it: so this thread blocks SIGINT first, and the kernel gives it to the main thread.
-- (LuaJIT's FFI, with glibc's x86-64/arm64 values: SIG_BLOCK 0, SIGINT 2.)
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { unsigned long bits[16]; } wrk_sigset_t;
  int sigemptyset(wrk_sigset_t *set);
  int sigaddset(wrk_sigset_t *set, int sig);
  int pthread_sigmask(int how, const wrk_sigset_t *set, wrk_sigset_t *old);
  int getpid(void);
  int kill(int pid, int sig);
]]

local function finish()
  if finished then return end
  finished = true
  wrk.thread:stop()
  local set = ffi.new("wrk_sigset_t")
  ffi.C.sigemptyset(set)
  ffi.C.sigaddset(set, 2)
  if ffi.C.pthread_sigmask(0, set, nil) ~= 0 or ffi.C.kill(ffi.C.getpid(), 2) ~= 0 then
    io.stderr:write("wrk_requests.lua: could not end wrk early; it runs to the end of -d\n")
  end
end

function init(args)
  limit = tonumber(args[1] or "0")
  if not limit or limit < 0 or limit % 1 ~= 0 then
    io.stderr:write("wrk_requests.lua: LIMIT must be 0 or a whole number of requests\n")
    os.exit(2)
  end
  local file = args[2]
  mode = args[3] or "once"
  first = tonumber(args[4] or "1")
  if mode ~= "once" and mode ~= "cycle" then
    io.stderr:write("wrk_requests.lua: MODE is once or cycle\n")
    os.exit(2)
  end
  cycle = mode == "cycle"
  if file and file ~= "" and file ~= "-" then
    tokens = {}
    for line in io.lines(file) do
      if line ~= "" then
        ntokens = ntokens + 1
        tokens[ntokens] = line
      end
    end
    if ntokens == 0 or not first or first < 1 or first > ntokens then
      io.stderr:write("wrk_requests.lua: no tokens in " .. file .. " from " .. tostring(first) .. "\n")
      os.exit(2)
    end
    -- The request with its token in the middle, built once: wrk.format() per request would
    -- cost the load generator more than the concatenation.
    local marker = "@@TOKEN@@"
    local template = wrk.format(nil, nil, { Authorization = "Bearer " .. marker })
    local at = template:find(marker, 1, true)
    before, after = template:sub(1, at - 1), template:sub(at + #marker)
  else
    plain = wrk.format()
  end
  if limit == 0 then
    response = nil -- nothing to count: wrk then skips the headers and bodies
  end
end

local nexttoken = nil
local checked = false

function request()
  if not checked then
    -- wrk calls request() once before the run, to check that it parses (wrk's
    -- script_verify_request), and never sends that one: it is neither counted nor given a
    -- token of its own.
    checked = true
    return plain or (before .. tokens[first] .. after)
  end
  if finished or (limit > 0 and sent >= limit) then
    return ""
  end
  local req
  if tokens then
    nexttoken = nexttoken or first
    if nexttoken > ntokens then
      if not cycle then
        exhausted = true
        finish()
        return ""
      end
      nexttoken = 1
    end
    req = before .. tokens[nexttoken] .. after
    nexttoken = nexttoken + 1
    used = used + 1
  else
    req = plain
  end
  sent = sent + 1
  return req
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1 -- (wrk's own count, "Non-2xx or 3xx responses", is of status > 399)
  end
  if answered == probe_at and probe_pid then
    local status = io.open("/proc/" .. probe_pid .. "/status")
    if status then
      probe_hwm = tonumber(status:read("*a"):match("VmHWM:%s*(%d+)")) or -1
      status:close()
    end
  end
  if answered >= limit then
    finish()
  end
end

function done(summary, latency, requests)
  local t = threads[1]
  local line = string.format("lua: sent %d", t:get("sent"))
  if t:get("limit") > 0 then
    line = line .. string.format(", answered %d, non-2xx %d", t:get("answered"), t:get("non2xx"))
  end
  print(line)
  if t:get("probe_at") > 0 then
    print(string.format("probe: VmHWM %d kB at %d answers", t:get("probe_hwm"), t:get("probe_at")))
  end
  if t:get("ntokens") > 0 then
    print(string.format("tokens: used %d of %d, from line %d, %s%s", t:get("used"), t:get("ntokens"),
      t:get("first"), t:get("mode"), t:get("exhausted") and ", EXHAUSTED" or ""))
  end
end
