// The Lua scripts behind the Redis journal. Redis runs a script atomically, so each call is one
// round trip for all of a message's recipients and no other client sees a half-done state.
// Values: 'D' for delivered; 'C' followed by the 16-byte owner token for a claim. Expiry is
// Redis's own (PX), measured by the Redis server's clock, so MX hosts need not agree on the time.

/** KEYS: the keys. ARGV: the claim value, the lease in ms. Replies 0 delivered, 1 claimed, 2 busy per key. */
export const BEGIN = `
local states = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    states[i] = 1
  elseif redis.call('GET', key) == 'D' then
    states[i] = 0
  else
    states[i] = 2
  end
end
return states
`

/** KEYS: the keys. ARGV: the retention in ms. Replaces claims: a delivered run is a fact. */
export const DELIVERED = `
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 'D', 'PX', ARGV[1])
end
return #KEYS
`

/** KEYS: the keys. ARGV: this claim's value. Compare and delete: never drops another's claim. */
export const RELEASE = `
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    released = released + redis.call('DEL', key)
  end
end
return released
`
