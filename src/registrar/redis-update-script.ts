/**
 * The update of one AOR (applyUpdate in apply-update.ts) as a Redis script, so that it runs
 * atomically next to the data: two instances refreshing the same AOR at once are serialised by
 * Redis, and the ordering rule sees the other's write. One key per AOR (a hash: field `k` marks the
 * AOR known, `b:<binding key>` holds each binding's JSON), so it also runs on a Redis Cluster.
 *
 * KEYS[1] the AOR's hash. ARGV: now, Call-ID, CSeq, removeAll ('1' or '0'), maxBindings, keepUntil,
 * then three per change: field, the binding's JSON ('' removes it), its expiresAt.
 * Returns {'ok', json...} with the live bindings after the update, or {'out-of-order'} / {'too-many'}.
 */
export const UPDATE_SCRIPT = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local callId = ARGV[2]
local cseq = tonumber(ARGV[3])
local max = tonumber(ARGV[5])
local keepUntil = tonumber(ARGV[6])
local cur = {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local f = flat[i]
  if string.sub(f, 1, 2) == 'b:' then
    local b = cjson.decode(flat[i + 1])
    if b.expiresAt > now then cur[f] = { j = flat[i + 1], exp = b.expiresAt, cid = b.callId, cs = b.cseq } end
  end
end
if ARGV[4] == '1' then
  for _, e in pairs(cur) do
    if e.cid == callId and e.cs >= cseq then return { 'out-of-order' } end
  end
  cur = {}
else
  local added = 0
  for i = 7, #ARGV, 3 do
    local f = ARGV[i]
    local old = cur[f]
    if old ~= nil and old.cid == callId and old.cs >= cseq then return { 'out-of-order' } end
    cur[f] = nil
    if ARGV[i + 1] ~= '' then
      cur[f] = { j = ARGV[i + 1], exp = tonumber(ARGV[i + 2]), new = true }
      added = added + 1
    end
  end
  if added > max then return { 'too-many' } end
  local others = {}
  local n = 0
  for f, e in pairs(cur) do
    n = n + 1
    if not e.new then others[#others + 1] = f end
  end
  if n > max then
    table.sort(others, function(a, b)
      if cur[a].exp ~= cur[b].exp then return cur[a].exp < cur[b].exp end
      return a < b
    end)
    for i = 1, n - max do cur[others[i]] = nil end
  end
end
redis.call('DEL', key)
local args = { 'k', '1' }
local out = { 'ok' }
local keep = keepUntil
for f, e in pairs(cur) do
  args[#args + 1] = f
  args[#args + 1] = e.j
  out[#out + 1] = e.j
  if e.exp > keep then keep = e.exp end
end
redis.call('HSET', key, unpack(args))
redis.call('PEXPIREAT', key, string.format('%d', keep))
return out
`;
