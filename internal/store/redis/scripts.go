package redis

import goredis "github.com/redis/go-redis/v9"

// Every state change is one Lua script, so that it is atomic in Redis: Redis is
// the commit point of a cluster, and exactly one caller sees each transition.
// All keys share the hash tag of the prefix, so a Redis Cluster keeps them in
// one slot. ARGV[1] is always the key prefix.

// common is prepended to every script.
const common = feedLua + `
local p = ARGV[1]
local function skey(id) return p .. 's:' .. id end

-- offset returns the epoch offset (ms): a deadline D is stored in the set dl as
-- D - offset, so that catchUp moves every deadline on with one INCRBY.
local function offset() return tonumber(redis.call('GET', p .. 'off') or '0') end

-- rel returns deadline (ms) as it is stored in dl.
local function rel(deadline) return string.format('%d', deadline - offset()) end

-- dropped tells every node's cache (cache.go) that the auth facts of the
-- sign-ins listed as "id:gen" changed or ended.
local function dropped(list)
  if #list > 0 then redis.call('PUBLISH', p .. 'auth', 'd ' .. table.concat(list, ',')) end
end

-- push appends one event (JSON without seq) to id's queue with the next seq,
-- bounded by qmax (oldest dropped and counted), and wakes pollers; with a qmax
-- below 0 it only feeds it. An event marked '!' (a drop-events fault dropped
-- it) takes its seq and is fed, and counted as dropped instead of queued.
local function push(id, ev, qmax, pushMode)
  local q = p .. 'q:' .. id
  local dropped = string.sub(ev, 1, 1) == '!'
  if dropped then ev = string.sub(ev, 2) end
  local seq = redis.call('INCR', p .. 'seq:' .. id)
  feed('e', id, seq .. ' ' .. ev)
  if qmax < 0 then return seq end -- a simulated agent's: the feed only (feed.go)
  if dropped then
    redis.call('HINCRBY', p .. 'stats', 'queued', 1)
    redis.call('HINCRBY', p .. 'stats', 'drop:fault', 1)
    return seq
  end
  redis.call('RPUSH', q, seq .. ' ' .. ev)
  redis.call('HINCRBY', p .. 'stats', 'queued', 1)
  local n = redis.call('LLEN', q)
  if n > qmax then
    redis.call('LTRIM', q, n - qmax, -1)
    redis.call('HINCRBY', p .. 'stats', 'drop:queue_full', n - qmax)
  end
  if pushMode then redis.call('SADD', p .. 'pushpending', id) end
  redis.call('PUBLISH', p .. 'ev', id)
  return seq
end

-- genOf returns the gen of a session's raw JSON as written: cjson reads numbers
-- as doubles, and a gen (nanoseconds) has more digits than a double keeps.
local function genOf(raw) return string.match(raw, '"gen":(%d+)') end

-- finish ends session raw of id for cause, as the node decided it
-- (ccgw.EndingOf, ending.go): out of the table, the deadline sets (or sim) and
-- the skill index; the queued events dropped first for drop (a reason, or '');
-- then, with a shutdown event, that event queued last and the queue kept as
-- a tombstone for the old GUID, and without one the queue discarded. The
-- tombstone record t:<id> is tomb; it is filed in tombs to end at tombEnd (ms),
-- when a tick counts what its client did not collect (tick), and both keys
-- expire by themselves a ttl later, should no node sweep. The caller tells
-- the caches (dropped).
local function finish(id, raw, cause, drop, shutdown, tomb, ttl, qmax, tombEnd)
  local s = cjson.decode(raw)
  feed('o', id, raw)
  redis.call('DEL', skey(id))
  redis.call('ZREM', p .. 'live', id)
  redis.call('ZREM', p .. 'dl', id)
  redis.call('ZREM', p .. 'dlc', id)
  redis.call('SREM', p .. 'sim', id)
  if type(s.skills) == 'table' then
    for _, sk in ipairs(s.skills) do redis.call('SREM', p .. 'sk:' .. sk, id) end
  end
  redis.call('HINCRBY', p .. 'stats', 'signout:' .. cause, 1)
  local q = p .. 'q:' .. id
  if drop ~= '' then
    local n = redis.call('LLEN', q)
    if n > 0 then redis.call('HINCRBY', p .. 'stats', 'drop:' .. drop, n) end
    redis.call('DEL', q)
  end
  if shutdown == '' or qmax < 0 then
    if shutdown ~= '' then push(id, shutdown, -1, false) end -- a simulated agent's: the feed only
    redis.call('DEL', q, p .. 'seq:' .. id, p .. 'tq:' .. id)
    redis.call('SREM', p .. 'pushpending', id)
    redis.call('SET', p .. 't:' .. id, tomb, 'PX', 2 * ttl)
    redis.call('ZADD', p .. 'tombs', tombEnd, id)
    redis.call('PUBLISH', p .. 'ev', id) -- held polls see the end
    return
  end
  push(id, shutdown, qmax + 1, tonumber(s.mode) == 1)
  local tq = p .. 'tq:' .. id
  local n = redis.call('LLEN', tq)
  if n > 0 then redis.call('HINCRBY', p .. 'stats', 'drop:session_ended', n) end
  redis.call('DEL', tq)
  if redis.call('EXISTS', q) == 1 then
    redis.call('RENAME', q, tq)
    redis.call('PEXPIRE', tq, 2 * ttl)
  end
  redis.call('SET', p .. 't:' .. id, tomb, 'PX', 2 * ttl)
  redis.call('ZADD', p .. 'tombs', tombEnd, id)
  redis.call('DEL', p .. 'seq:' .. id)
end

-- catchUp extends every deadline by the time nobody swept (Redis or every node
-- was down), so that no agent is signed out for the gateway's fault: one
-- INCRBY of the offset, however many sessions there are.
local function catchUp(now, grace)
  local last = tonumber(redis.call('GET', p .. 'swept') or '')
  if last and now - last > grace then
    redis.call('INCRBY', p .. 'off', string.format('%d', now - last))
    redis.call('HINCRBY', p .. 'stats', 'extended', redis.call('ZCARD', p .. 'dl'))
  end
  if not last or now > last then redis.call('SET', p .. 'swept', string.format('%d', now)) end
end

-- record applies rotation records from ARGV[i] on, 8 fields each: id, gen,
-- expect, next, fragment, n, issued, prevUntil. A record sets the GUID block
-- of sign-in gen's JSON (from "guid" to "loginTime", as encoding/json writes
-- it; fragment is the new block) if its GUID is still expect; one whose GUID is
-- next already is done; any other is a conflict. The caches are told the
-- rotations ('r id:gen:n:issued:prevUntil,...'); the conflicts' ids are returned.
local function record(i)
  local conflicts, done = {}, {}
  while i + 7 <= #ARGV do
    local id, gen, expect, nxt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local raw = redis.call('GET', skey(id))
    if raw and genOf(raw) == gen then
      local a = string.find(raw, '"guid":"', 1, true)
      local b = a and string.find(raw, ',"loginTime":', a, true)
      local cur = a and string.match(raw, '^"guid":"([^"]*)"', a)
      if cur == nxt then
        -- recorded already (by another node, or an earlier record)
      elseif cur == expect and b then
        redis.call('SET', skey(id), string.sub(raw, 1, a - 1) .. ARGV[i + 4] .. string.sub(raw, b))
        table.insert(done, id .. ':' .. gen .. ':' .. ARGV[i + 5] .. ':' .. ARGV[i + 6] .. ':' .. ARGV[i + 7])
      else
        table.insert(conflicts, id)
      end
    end
    i = i + 8
  end
  if #done > 0 then redis.call('PUBLISH', p .. 'auth', 'r ' .. table.concat(done, ',')) end
  return conflicts
end
`

// signIn: ARGV id, newRaw, force, expect, deadline, ttl, qmax, pushMode,
// skills (comma separated), simulated, then the ending of the session it
// replaces (its qmax, drop, shutdown, tomb, tombEnd: endingArgs), then the
// events. expect is the gen of the session the node found and decided to
// replace (empty for none): another one there now is {'100-002'} without
// force, else {'conflict'} (the node decides again). Returns {retcode,
// oldRaw}. A simulated session (the call simulator's own agents) never
// expires: it is kept in the set sim, not in the deadline set.
var signInScript = goredis.NewScript(common + `
local id, raw, force, expect = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local deadline, ttl, qmax = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local pushMode = ARGV[9] == '1'
local old = redis.call('GET', skey(id))
if old then
  if genOf(old) ~= expect then
    if force ~= '1' then return {'100-002', ''} end
    return {'conflict', ''}
  end
  finish(id, old, 'replaced', ARGV[13], ARGV[14], ARGV[15], ttl, tonumber(ARGV[12]), ARGV[16])
  dropped({id .. ':' .. expect})
end
redis.call('SET', skey(id), raw)
redis.call('ZADD', p .. 'live', id, id)
if ARGV[11] == '1' then
  redis.call('SADD', p .. 'sim', id)
else
  redis.call('ZADD', p .. 'dl', rel(deadline), id)
end
redis.call('DEL', p .. 'q:' .. id, p .. 'seq:' .. id)
for sk in string.gmatch(ARGV[10], '[^,]+') do redis.call('SADD', p .. 'sk:' .. sk, id) end
for i = 17, #ARGV do push(id, ARGV[i], qmax, pushMode) end
feed('s', id, raw)
redis.call('HINCRBY', p .. 'stats', 'signin', 1)
return {'0', old or ''}
`)

// update: compare-and-set. ARGV id, oldRaw, newRaw, qmax, pushMode, skillsOff,
// skillsOn, authChanged ('1': the caches drop the session), then the events.
// Returns 'ok', 'gone' or 'conflict'.
var updateScript = goredis.NewScript(common + `
local id = ARGV[2]
local cur = redis.call('GET', skey(id))
if not cur then return 'gone' end
if cur ~= ARGV[3] then return 'conflict' end
redis.call('SET', skey(id), ARGV[4])
local qmax, pushMode = tonumber(ARGV[5]), ARGV[6] == '1'
for sk in string.gmatch(ARGV[7], '[^,]+') do redis.call('SREM', p .. 'sk:' .. sk, id) end
for sk in string.gmatch(ARGV[8], '[^,]+') do redis.call('SADD', p .. 'sk:' .. sk, id) end
if ARGV[9] == '1' then dropped({id .. ':' .. genOf(cur)}) end
for i = 10, #ARGV do push(id, ARGV[i], qmax, pushMode) end
feed('s', id, ARGV[4])
return 'ok'
`)

// end: compare-and-end. ARGV id, gen, expect, cause, ttl, then the ending
// (qmax, drop, shutdown, tomb, tombEnd: endingArgs). Ends sign-in gen of id,
// if it is the one stored and, unless expect is empty, stored exactly as
// expect (nothing changed since the node's checks). Returns {'0', raw},
// {'gone'} (another sign-in, or none) or {'conflict'}.
var endScript = goredis.NewScript(common + `
local id, gen, expect, cause = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local raw = redis.call('GET', skey(id))
if not raw or genOf(raw) ~= gen then return {'gone'} end
if expect ~= '' and raw ~= expect then return {'conflict'} end
finish(id, raw, cause, ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[11])
dropped({id .. ':' .. gen})
return {'0', raw}
`)

// expire: the end of sessions a tick claimed for a timeout. ARGV ttl, then
// per session id, gen and its ending (qmax, drop, shutdown, tomb, tombEnd:
// endingArgs). Each is signed out if sign-in gen is still stored: whichever
// node's call gets it first. Returns the raw JSON of those it signed out.
var expireScript = goredis.NewScript(common + `
local ttl = tonumber(ARGV[2])
local ended, gone = {}, {}
for i = 3, #ARGV - 6, 7 do
  local id, gen = ARGV[i], ARGV[i + 1]
  local raw = redis.call('GET', skey(id))
  if raw and genOf(raw) == gen then
    finish(id, raw, 'timeout', ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ttl, tonumber(ARGV[i + 2]), ARGV[i + 6])
    table.insert(ended, raw)
    table.insert(gone, id .. ':' .. gen)
  end
end
if #gone > 0 then
  redis.call('HINCRBY', p .. 'stats', 'expiries', #gone)
  dropped(gone)
end
return ended
`)

// pop: ARGV id, gen. Takes the next event of id's queue while sign-in gen is
// live. Returns {'0', event or ”}, or {'gone'}.
var popScript = goredis.NewScript(common + `
local raw = redis.call('GET', skey(ARGV[2]))
if not raw or genOf(raw) ~= ARGV[3] then return {'gone'} end
return {'0', redis.call('LPOP', p .. 'q:' .. ARGV[2]) or ''}
`)

// popTomb: ARGV id, gen. Takes the next of the last events of id's ended
// sign-in gen, if its tombstone is still that sign-in's (the tombstone expires
// by itself). Returns the event, or ”.
var popTombScript = goredis.NewScript(common + `
local traw = redis.call('GET', p .. 't:' .. ARGV[2])
if not traw or tostring(cjson.decode(traw).gen) ~= ARGV[3] then return '' end
return redis.call('LPOP', p .. 'tq:' .. ARGV[2]) or ''
`)

// tick: a node's work for one tick, or for one more batch of expiries. ARGV
// now, claim, limit, ttl, qmax, grace, restLimit, pending ('1': return the
// agents with push work), nRenew, lease, then nRenew (deadline, id) pairs, then
// rotation records (record). In order:
//   - catchUp, if nobody swept for longer than grace (an outage);
//   - the node's batched renewals: ZADD XX GT, chunked (a session signed out
//     meanwhile is not brought back; a deadline is never moved back);
//   - its rotation records;
//   - the expiry claim: up to limit sessions whose stored deadline is at least
//     claim (one tick: the renewals a node answered but has not written yet)
//     before now leave the deadline set for the claimed set dlc, scored with
//     now, each claimed by one node; the node then decides their endings and
//     ends them (expireScript). A claim older than lease (its node died or
//     lost the answer) is taken over, within the same limit;
//   - up to restLimit due rests, claimed (removed) as "id:restSeq", and up to
//     1000 tombstones whose time is up, deleted, their events counted as
//     dropped (session_ended);
//   - with pending, the members of pushpending.
//
// Returns {offset, claimed, rests, conflicts, pending}: claimed as (raw,
// deadline) pairs, the deadline absolute (a taken-over claim's: when it was
// claimed).
var tickScript = goredis.NewScript(common + `
local now, claim, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, qmax, grace = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local restLimit, wantPending, nRenew = tonumber(ARGV[8]), ARGV[9] == '1', tonumber(ARGV[10])
local lease = tonumber(ARGV[11])
catchUp(now, grace)
local off = offset()
local i, batch = 12, {}
for _ = 1, nRenew do
  table.insert(batch, string.format('%d', tonumber(ARGV[i]) - off))
  table.insert(batch, ARGV[i + 1])
  i = i + 2
  if #batch >= 1000 then
    redis.call('ZADD', p .. 'dl', 'XX', 'GT', unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('ZADD', p .. 'dl', 'XX', 'GT', unpack(batch)) end
local conflicts = record(i)
local claimed = {}
if limit > 0 then
  local due = redis.call('ZRANGEBYSCORE', p .. 'dl', '-inf', string.format('%d', now - off - claim), 'WITHSCORES', 'LIMIT', 0, limit)
  for j = 1, #due, 2 do
    local id = due[j]
    redis.call('ZREM', p .. 'dl', id)
    local raw = redis.call('GET', skey(id))
    if raw then
      redis.call('ZADD', p .. 'dlc', now, id)
      table.insert(claimed, raw)
      table.insert(claimed, string.format('%d', tonumber(due[j + 1]) + off))
    end
  end
  -- claims whose node never ended them (it died, or lost the answer)
  local left = limit - #claimed / 2
  if left > 0 then
    local lapsed = redis.call('ZRANGEBYSCORE', p .. 'dlc', '-inf', string.format('%d', now - lease), 'WITHSCORES', 'LIMIT', 0, left)
    for j = 1, #lapsed, 2 do
      local id = lapsed[j]
      local raw = redis.call('GET', skey(id))
      if raw then
        redis.call('ZADD', p .. 'dlc', now, id)
        table.insert(claimed, raw)
        table.insert(claimed, lapsed[j + 1])
      else
        redis.call('ZREM', p .. 'dlc', id)
      end
    end
  end
end
local rests = {}
if restLimit > 0 then
  rests = redis.call('ZRANGEBYSCORE', p .. 'rest', '-inf', now, 'LIMIT', 0, restLimit)
  for _, m in ipairs(rests) do redis.call('ZREM', p .. 'rest', m) end
  -- tombstones whose time is up (1000 a tick: a storm's, a timeout after it,
  -- are ended over a few ticks): what their clients did not collect is dropped
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'tombs', '-inf', now, 'LIMIT', 0, math.min(restLimit, 1000))) do
    local n = redis.call('LLEN', p .. 'tq:' .. id)
    if n > 0 then redis.call('HINCRBY', p .. 'stats', 'drop:session_ended', n) end
    redis.call('DEL', p .. 'tq:' .. id, p .. 't:' .. id)
    redis.call('ZREM', p .. 'tombs', id)
  end
end
local pending = {}
if wantPending then pending = redis.call('SMEMBERS', p .. 'pushpending') end
return {string.format('%d', off), claimed, rests, conflicts, pending}
`)

// rotate: ARGV rotation records (record). Returns the conflicts' ids.
var rotateScript = goredis.NewScript(common + `
return record(2)
`)

// ack: ARGV id, tomb ('1' for the tombstone queue), seq, dropReason (” when
// delivered). Removes the queue's head events up to seq. Returns how many.
var ackScript = goredis.NewScript(common + `
local id = ARGV[2]
local q = p .. 'q:' .. id
local raw = redis.call('GET', skey(id))
if not raw or genOf(raw) ~= ARGV[3] then
  local traw = redis.call('GET', p .. 't:' .. id)
  if not traw or tostring(cjson.decode(traw).gen) ~= ARGV[3] then return 0 end
  q = p .. 'tq:' .. id
end
local seq = tonumber(ARGV[4])
local n = 0
while true do
  local head = redis.call('LINDEX', q, 0)
  if not head then break end
  local s = tonumber(string.match(head, '^(%d+) '))
  if not s or s > seq then break end
  redis.call('LPOP', q)
  n = n + 1
end
if ARGV[5] ~= '' and n > 0 then redis.call('HINCRBY', p .. 'stats', 'drop:' .. ARGV[5], n) end
if redis.call('LLEN', p .. 'q:' .. id) == 0 and redis.call('LLEN', p .. 'tq:' .. id) == 0 then
  redis.call('SREM', p .. 'pushpending', id)
end
return n
`)

// claim: ARGV id, node, lease ms. Takes or keeps the push claim on id.
var claimScript = goredis.NewScript(common + `
local k = p .. 'pl:' .. ARGV[2]
local cur = redis.call('GET', k)
if cur and cur ~= ARGV[3] then return 0 end
redis.call('SET', k, ARGV[3], 'PX', tonumber(ARGV[4]))
return 1
`)

// release: ARGV id, node. Gives up the push claim if held by node.
var releaseScript = goredis.NewScript(common + `
local k = p .. 'pl:' .. ARGV[2]
if redis.call('GET', k) == ARGV[3] then redis.call('DEL', k) end
return 0
`)

// swapPassword: ARGV id, old, rec. Sets agent id's field of the password hash
// to rec if it is still old ("" for none); returns 1 if it did, else 0.
var swapPasswordScript = goredis.NewScript(common + `
local k = p .. 'pw'
if (redis.call('HGET', k, ARGV[2]) or '') ~= ARGV[3] then return 0 end
redis.call('HSET', k, ARGV[2], ARGV[4])
return 1
`)

// addLoginFailure: ARGV id, now, window, attempts, duration (ms). Applies
// ccgw.LockoutPolicy.Fail to agent id's record, the hash lk:<id> {n, since,
// until} (0: none), and returns it as {n, since, until}. The key expires (in
// Redis's own time) when the record stops mattering: its lock and window over.
var addLoginFailureScript = goredis.NewScript(common + `
local k = p .. 'lk:' .. ARGV[2]
local now, win, att, dur = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local r = redis.call('HMGET', k, 'n', 'since', 'until')
local n, since, untl = tonumber(r[1]) or 0, tonumber(r[2]) or 0, tonumber(r[3]) or 0
if n == 0 or now >= since + win then n, since = 0, now end
n = n + 1
if n >= att then n, since, untl = 0, 0, now + dur end
local exp = untl
if n > 0 and since + win > exp then exp = since + win end
if exp <= now then
  redis.call('DEL', k)
else
  redis.call('HSET', k, 'n', n, 'since', since, 'until', untl)
  redis.call('PEXPIRE', k, exp - now)
end
return {n, since, untl}
`)

// clearLoginFailures: ARGV id, now (ms). Deletes agent id's record unless its
// lock runs at now; returns the record as it was, {n, since, until}.
var clearLoginFailuresScript = goredis.NewScript(common + `
local k = p .. 'lk:' .. ARGV[2]
local r = redis.call('HMGET', k, 'n', 'since', 'until')
local n, since, untl = tonumber(r[1]) or 0, tonumber(r[2]) or 0, tonumber(r[3]) or 0
if untl <= tonumber(ARGV[3]) and (n > 0 or untl > 0) then redis.call('DEL', k) end
return {n, since, untl}
`)
