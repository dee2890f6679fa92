-- Decide a batch of commands of one partition, in order, atomically and idempotently.
-- It implements inventory_service/domain.py (the tests hold both to the same answers).
--
-- ARGV[1]  key prefix ("<namespace>:"); the prelude (shared/contracts/redis_layout.py) reads it
--          and defines sale_key(), ticket_key(), ..., the field names and moves_forward()
-- ARGV[2]  JSON array of commands:
--          {"k":"p","tid":ticket,"sid":sale,"uid":user,"at":requested_at_ms}   purchase
--          {"k":"s","cid":command,"sid":sale,"q":quantity}                      stock top-up
-- Returns one string per command:
--          "a" accepted | "r:<reason>" rejected | "s:<stock>:<remaining>" stock added |
--          "u" unknown sale (nothing recorded: the caller dead-letters the command)
--
-- After the batch, each sale it changed is published on SALE_UPDATES (counters and a version
-- that grows with every change), so gateways learn "sold out" within milliseconds, and the
-- tickets it moved to "accepted" on TICKET_UPDATES.
--
-- Idempotency: the first decision of a ticket (or command) is stored with it and returned
-- again on redelivery, so a redelivered intent never decrements twice.
-- Keys are built here from the prefix (not passed as KEYS), so this script assumes a
-- single Redis, not a cluster.

local commands = cjson.decode(ARGV[2])
local out = {}
local newly_accepted = {}

-- Sale hashes read once per batch: a batch usually holds one sale's crowd.
local sales = {}
local function sale_of(sid)
  local sale = sales[sid]
  if sale == nil then
    local key = sale_key(sid)
    local f = redis.call("HMGET", key, SALE.remaining, SALE.starts_at_ms, SALE.ends_at_ms,
                         SALE.per_user_limit)
    if f[1] == false then
      sale = false
    else
      sale = {sid = sid, key = key, buyers = buyers_key(sid), remaining = tonumber(f[1]),
              starts = tonumber(f[2]), ends = tonumber(f[3]), limit = tonumber(f[4]),
              changed = false}
    end
    sales[sid] = sale
  end
  return sale
end

-- A purchase: window, then stock, then the buyer's limit; the decision is stored with the
-- ticket (tkey), which moves to "accepted" when it wins.
local function decide_purchase(c, sale, tkey)
  local decision
  if c.at < sale.starts or c.at >= sale.ends then
    decision = "r:sale_not_active"
  elseif sale.remaining <= 0 then
    decision = "r:sold_out"
  elseif tonumber(redis.call("HGET", sale.buyers, c.uid) or "0") >= sale.limit then
    decision = "r:limit_reached"
  else
    decision = "a"
  end
  sale.changed = true
  if decision == "a" then
    sale.remaining = sale.remaining - 1
    redis.call("HINCRBY", sale.buyers, c.uid, 1)
    redis.call("HINCRBY", sale.key, SALE.remaining, -1)
    redis.call("HINCRBY", sale.key, SALE.accepted, 1)
    -- A late redelivery must not pull a confirmed ticket back to "accepted".
    if moves_forward(redis.call("HGET", tkey, TICKET.status), "accepted") then
      redis.call("HSET", tkey, TICKET.decision, decision, TICKET.status, "accepted")
      newly_accepted[#newly_accepted + 1] = {c.tid, "accepted", "", ""}
      return decision
    end
  else
    redis.call("HINCRBY", sale.key, SALE.rejected, 1)
  end
  redis.call("HSET", tkey, TICKET.decision, decision)
  return decision
end

-- A stock top-up; its outcome is stored under its command id (ckey).
local function add_stock(c, sale, ckey)
  local stock = redis.call("HINCRBY", sale.key, SALE.stock, c.q)
  local remaining = redis.call("HINCRBY", sale.key, SALE.remaining, c.q)
  sale.remaining = remaining
  sale.changed = true
  local result = "s:" .. stock .. ":" .. remaining
  redis.call("SET", ckey, result)
  return result
end

-- Each command is decided once: a redelivery gets the stored decision; a command for a sale
-- nobody knows gets "u" and changes nothing.
local function once(prior, sid, decide, key, c)
  if prior then return prior end
  local sale = sale_of(sid)
  if not sale then return "u" end
  return decide(c, sale, key)
end

for i, c in ipairs(commands) do
  if c.k == "p" then
    local tkey = ticket_key(c.tid)
    out[i] = once(redis.call("HGET", tkey, TICKET.decision), c.sid, decide_purchase, tkey, c)
  elseif c.k == "s" then
    local ckey = command_key(c.cid)
    out[i] = once(redis.call("GET", ckey), c.sid, add_stock, ckey, c)
  else
    return redis.error_reply("unknown command kind " .. tostring(c.k))
  end
end

for _, sale in pairs(sales) do
  if sale and sale.changed then
    local version = redis.call("HINCRBY", sale.key, SALE.version, 1)
    local f = redis.call("HMGET", sale.key, SALE.stock, SALE.remaining, SALE.accepted,
                         SALE.rejected, SALE.enqueued)
    redis.call("PUBLISH", SALE_UPDATES, cjson.encode({
      sale_id = sale.sid, version = version, stock = tonumber(f[1]),
      remaining = tonumber(f[2]), accepted = tonumber(f[3]), rejected = tonumber(f[4]),
      enqueued = tonumber(f[5] or "0")}))
  end
end
if #newly_accepted > 0 then
  redis.call("PUBLISH", TICKET_UPDATES, cjson.encode(newly_accepted))
end
return out
