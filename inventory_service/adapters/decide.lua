-- Decide a batch of commands (of sales of one hash tag), in order, atomically and idempotently.
-- It implements inventory_service/domain.py (the tests hold both to the same answers).
--
-- ARGV[1]  key prefix ("<namespace>:"); the prelude (shared/contracts/redis_layout.py) reads it
--          and defines sale_key(), ticket_key(), ..., the field names and moves_forward()
-- ARGV[2]  JSON array of commands:
--          {"k":"p","tid":ticket,"sid":sale,"uid":user,"at":requested_at_ms}   purchase
--          {"k":"s","cid":command,"sid":sale,"q":quantity,"at":requested_at_ms} stock top-up
--          {"k":"x","cid":command,"sid":sale,"uid":user,"at":requested_at_ms}  release a unit
--          {"k":"c","cid":command,"sid":sale}                                   close waitlist
--          {"k":"d","cid":command,"sid":sale,"at":now_ms,"seed":seed}          draw the room
-- Returns one string per command:
--          "a" accepted | "r:<reason>" rejected | "w:<seq>" waitlisted |
--          "s:<stock>:<remaining>" stock added, "s:<stock>:<remaining>:<ticket>:<user>;..."
--          with the first units given to those waitlisted tickets |
--          "x" released to stock | "x:<ticket>:<user>" released to that waitlisted ticket |
--          "c" waitlist closed, "c:<ticket>:<user>;<ticket>:<user>..." with those refused |
--          "m" in the sale's waiting room (decided at its draw) |
--          "d:<seed>:<drawn at ms>;<ticket>,<user>,<requested at>,<decision>;..." the room
--          drawn: its tickets in drawn order, each with its decision (a, r:<reason>, w:<seq>) |
--          "u" unknown sale (nothing recorded: the caller dead-letters the command)
--
-- After the batch, each sale it changed is published on SALE_UPDATES (counters and a version
-- that grows with every change), so gateways learn "sold out" within milliseconds, and the
-- tickets it moved to "accepted" or "waitlisted" on TICKET_UPDATES.
--
-- Idempotency: the first decision of a ticket (or command) is stored with it and returned
-- again on redelivery, so a redelivered intent never decrements twice.
--
-- A fair start (shared/contracts/fair_start.py): until its room is drawn, a purchase made
-- from the room's opening to the end of the fair window goes into the room ("m"); the draw
-- (a "d" command, once per sale) orders the room by SHA-1 of "<seed>:<ticket>" and decides
-- each ticket in that order as if bought at the start. A purchase made after the window must
-- not be decided before the draw: the caller puts the draw in front of it, and a batch that
-- breaks this rule is refused whole (DRAWFIRST) before anything is written.
--
-- KEYS[1]  the sale key of the batch's first command. Every command of one call has a sale of
--          one hash tag (the caller splits a partition's batch by tag), and ticket ids end in
--          their sale's tag, so every key built here from the prefix is in KEYS[1]'s slot: on
--          a Redis Cluster the call runs on the node that holds them all.

local commands = cjson.decode(ARGV[2])
local out = {}
local ticket_changes = {}

-- Sale hashes read once per batch: a batch usually holds one sale's crowd.
local sales = {}
local function sale_of(sid)
  local sale = sales[sid]
  if sale == nil then
    local key = sale_key(sid)
    local f = redis.call("HMGET", key, SALE.remaining, SALE.starts_at_ms, SALE.ends_at_ms,
                         SALE.per_user_limit, SALE.waitlist_size, SALE.waitlisted,
                         SALE.waiting_room_opens_at_ms, SALE.fair_window_ms, SALE.drawn_at_ms)
    if f[1] == false then
      sale = false
    else
      local opens, window = tonumber(f[7] or "0"), tonumber(f[8] or "0")
      sale = {sid = sid, key = key, buyers = buyers_key(sid), waitlist = waitlist_key(sid),
              remaining = tonumber(f[1]), starts = tonumber(f[2]), ends = tonumber(f[3]),
              limit = tonumber(f[4]), waitlist_size = tonumber(f[5] or "0"),
              waitlisted = tonumber(f[6] or "0"), changed = false,
              fair = opens > 0 or window > 0, drawn = f[9] ~= false,
              room = room_key(sid), room_buyers = room_buyers_key(sid)}
      sale.room_opens = opens > 0 and opens or sale.starts
      sale.draw_at = sale.starts + window
    end
    sales[sid] = sale
  end
  return sale
end

-- A ticket takes a status (and tells the gateways) unless it is already further on: a late
-- redelivery must not pull a confirmed ticket back.
local function advance(tid, status, seq)
  local tkey = ticket_key(tid)
  if moves_forward(redis.call("HGET", tkey, TICKET.status), status) then
    redis.call("HSET", tkey, TICKET.status, status)
    if seq ~= "" then redis.call("HSET", tkey, TICKET.waitlist_seq, seq) end
    ticket_changes[#ticket_changes + 1] = {tid, status, "", "", "", seq}
  end
end

local function in_room(sale, at)
  return sale.fair and at >= sale.room_opens and at < sale.draw_at
end

-- A purchase: window, then sold out (no unit and no room to wait), then the buyer's limit,
-- then a unit or a place on the waitlist (which counts against the limit too). The decision
-- is stored with the ticket (tkey). A purchase of a waiting room counts as made at the start.
local function decide_purchase(c, sale, tkey)
  local decision
  local at = c.at
  if in_room(sale, at) and at < sale.starts then at = sale.starts end
  if at < sale.starts or at >= sale.ends then
    decision = "r:sale_not_active"
  elseif sale.remaining <= 0 and sale.waitlisted >= sale.waitlist_size then
    decision = "r:sold_out"
  elseif tonumber(redis.call("HGET", sale.buyers, c.uid) or "0") >= sale.limit then
    decision = "r:limit_reached"
  elseif sale.remaining > 0 then
    decision = "a"
  else
    sale.waitlisted = sale.waitlisted + 1
    decision = "w:" .. sale.waitlisted
  end
  sale.changed = true
  -- The buyer and sale too, and a status if it has none: the gateway wrote them when it
  -- issued the ticket, but a Redis failover can lose that write (only decisions wait for a
  -- replica), and a record without them reads as "no such ticket" for a decided purchase.
  redis.call("HSET", tkey, TICKET.decision, decision, TICKET.sale_id, c.sid, TICKET.user_id, c.uid)
  redis.call("HSETNX", tkey, TICKET.status, "queued")
  if decision == "a" then
    sale.remaining = sale.remaining - 1
    redis.call("HINCRBY", sale.buyers, c.uid, 1)
    redis.call("HINCRBY", sale.key, SALE.remaining, -1)
    redis.call("HINCRBY", sale.key, SALE.accepted, 1)
    advance(c.tid, "accepted", "")
  elseif decision:sub(1, 1) == "w" then
    redis.call("HINCRBY", sale.buyers, c.uid, 1)
    redis.call("HINCRBY", sale.key, SALE.waitlisted, 1)
    redis.call("RPUSH", sale.waitlist, c.tid .. ":" .. c.uid)
    advance(c.tid, "waitlisted", tostring(sale.waitlisted))
  else
    redis.call("HINCRBY", sale.key, SALE.rejected, 1)
  end
  return decision
end

-- A purchase of a fair start before its draw: into the room, one ticket per buyer (a second
-- is refused); nil if it is not the room's. Stored as decision "m" until the draw decides it.
local function enter_room(c, sale, tkey)
  if not sale.fair or sale.drawn or not in_room(sale, c.at) then return nil end
  local holder = redis.call("HGET", sale.room_buyers, c.uid)
  local decision = "m"
  sale.changed = true
  if holder and holder ~= c.tid then
    decision = "r:limit_reached"
    redis.call("HINCRBY", sale.key, SALE.rejected, 1)
  else
    redis.call("HSET", sale.room_buyers, c.uid, c.tid)
    redis.call("RPUSH", sale.room, c.tid .. ":" .. c.uid .. ":" .. string.format("%d", c.at))
    redis.call("HINCRBY", sale.key, SALE.room, 1)
  end
  redis.call("HSET", tkey, TICKET.decision, decision, TICKET.sale_id, c.sid, TICKET.user_id, c.uid)
  redis.call("HSETNX", tkey, TICKET.status, "waiting_room")
  return decision
end

-- The room's draw: every ticket in it, ordered by SHA-1 of "<seed>:<ticket>" (ties by ticket),
-- gets its drawn position and is decided at it. Stored under its command id (ckey).
local function draw_room(c, sale, ckey)
  local drawn = {}
  for i, entry in ipairs(redis.call("LRANGE", sale.room, 0, -1)) do
    local tid, uid, at = entry:match("^([^:]+):([^:]+):([^:]+)$")
    drawn[i] = {key = redis.sha1hex(c.seed .. ":" .. tid), tid = tid, uid = uid, at = tonumber(at)}
  end
  table.sort(drawn, function(a, b)
    if a.key ~= b.key then return a.key < b.key end
    return a.tid < b.tid
  end)
  sale.drawn = true
  sale.changed = true
  redis.call("HSET", sale.key, SALE.drawn_at_ms, c.at, SALE.draw_seed, c.seed)
  local parts = {}
  for position, e in ipairs(drawn) do
    local tkey = ticket_key(e.tid)
    redis.call("HSET", tkey, TICKET.drawn_position, position)
    ticket_changes[#ticket_changes + 1] = {e.tid, "waiting_room", "", "", "", "", tostring(position)}
    local decision = decide_purchase({tid = e.tid, sid = c.sid, uid = e.uid, at = e.at}, sale, tkey)
    parts[position] = e.tid .. "," .. e.uid .. "," .. string.format("%d", e.at) .. "," .. decision
  end
  local result = "d:" .. c.seed .. ":" .. string.format("%d", c.at) .. ";" .. table.concat(parts, ";")
  redis.call("SET", ckey, result)
  return result
end

-- An expired order's unit: to the first buyer on the waitlist while the sale is open, else
-- back to stock; the expired buyer's slot is free again. Stored under its command id.
local function release_unit(c, sale, ckey)
  local result = "x"
  redis.call("HINCRBY", sale.key, SALE.released, 1)
  if tonumber(redis.call("HGET", sale.buyers, c.uid) or "0") > 0 then
    redis.call("HINCRBY", sale.buyers, c.uid, -1)
  end
  local first = false
  if c.at < sale.ends then first = redis.call("LPOP", sale.waitlist) end
  if first then
    redis.call("HINCRBY", sale.key, SALE.waitlist_served, 1)
    result = "x:" .. first
    advance(first:match("^([^:]+)"), "accepted", "")
  else
    sale.remaining = redis.call("HINCRBY", sale.key, SALE.remaining, 1)
  end
  sale.changed = true
  redis.call("SET", ckey, result)
  return result
end

-- The sale ended: whoever still waits is refused (the order service finalises them).
local function close_waitlist(c, sale, ckey)
  local waiting = redis.call("LRANGE", sale.waitlist, 0, -1)
  redis.call("DEL", sale.waitlist)
  local result = "c"
  if #waiting > 0 then
    result = "c:" .. table.concat(waiting, ";")
    redis.call("HINCRBY", sale.key, SALE.waitlist_dropped, #waiting)
    redis.call("HINCRBY", sale.key, SALE.rejected, #waiting)
    sale.changed = true
  end
  redis.call("SET", ckey, result)
  return result
end

-- A stock top-up; its outcome is stored under its command id (ckey).
-- A stock top-up: while the sale is open, its first units go to the waitlist in order (they
-- were in line first), the rest to stock. Its outcome is stored under its command id (ckey).
local function add_stock(c, sale, ckey)
  local stock = redis.call("HINCRBY", sale.key, SALE.stock, c.q)
  local promoted = {}
  if (c.at or 0) < sale.ends then
    while #promoted < c.q do
      local first = redis.call("LPOP", sale.waitlist)
      if not first then break end
      promoted[#promoted + 1] = first
      advance(first:match("^([^:]+)"), "accepted", "")
    end
  end
  if #promoted > 0 then
    redis.call("HINCRBY", sale.key, SALE.waitlist_served, #promoted)
  end
  local remaining = redis.call("HINCRBY", sale.key, SALE.remaining, c.q - #promoted)
  sale.remaining = remaining
  sale.changed = true
  local result = "s:" .. stock .. ":" .. remaining
  if #promoted > 0 then result = result .. ":" .. table.concat(promoted, ";") end
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

-- Before any write: no purchase after a fair window is decided ahead of its room's draw.
local drawing = {}
for _, c in ipairs(commands) do
  if c.k == "d" then
    drawing[c.sid] = true
  elseif c.k == "p" and not drawing[c.sid] then
    local sale = sale_of(c.sid)
    if sale and sale.fair and not sale.drawn and c.at >= sale.draw_at then
      return redis.error_reply("DRAWFIRST the waiting room of sale " .. c.sid .. " is not drawn")
    end
  end
end

local function purchase(c, sale, tkey)
  return enter_room(c, sale, tkey) or decide_purchase(c, sale, tkey)
end

for i, c in ipairs(commands) do
  if c.k == "p" then
    local tkey = ticket_key(c.tid)
    out[i] = once(redis.call("HGET", tkey, TICKET.decision), c.sid, purchase, tkey, c)
  elseif c.k == "s" or c.k == "x" or c.k == "c" or c.k == "d" then
    local ckey = command_key(c.sid, c.cid)
    local apply = add_stock
    if c.k == "x" then apply = release_unit elseif c.k == "c" then apply = close_waitlist end
    if c.k == "d" then apply = draw_room end
    out[i] = once(redis.call("GET", ckey), c.sid, apply, ckey, c)
  else
    return redis.error_reply("unknown command kind " .. tostring(c.k))
  end
end

for _, sale in pairs(sales) do
  if sale and sale.changed then
    local version = redis.call("HINCRBY", sale.key, SALE.version, 1)
    local f = redis.call("HMGET", sale.key, SALE.stock, SALE.remaining, SALE.accepted,
                         SALE.rejected, SALE.enqueued, SALE.waitlisted, SALE.waitlist_served,
                         SALE.waitlist_dropped, SALE.released, SALE.room, SALE.drawn_at_ms,
                         SALE.draw_seed)
    redis.call("PUBLISH", SALE_UPDATES, cjson.encode({
      sale_id = sale.sid, version = version, stock = tonumber(f[1]),
      remaining = tonumber(f[2]), accepted = tonumber(f[3]), rejected = tonumber(f[4]),
      enqueued = tonumber(f[5] or "0"), waitlisted = tonumber(f[6] or "0"),
      waitlist_served = tonumber(f[7] or "0"), waitlist_dropped = tonumber(f[8] or "0"),
      released = tonumber(f[9] or "0"), room = tonumber(f[10] or "0"),
      drawn_at_ms = tonumber(f[11] or "0"), draw_seed = f[12] or ""}))
  end
end
if #ticket_changes > 0 then
  redis.call("PUBLISH", TICKET_UPDATES, cjson.encode(ticket_changes))
end
return out
