/**
 * The Lua scripts that change a run's state in Redis: each compares the current state with the
 * ones the transition table allows and sets the new one in a single step, so two processes that
 * change one run at once (a `cancel` and the finaliser, two finalise deliveries) can never both
 * win, and nothing is written for a run Redis has no record of.
 */

/**
 * KEYS[1] run record. ARGV: [1] new state, [2] allowed current states (comma-separated, each
 * between commas), [3] states allowed once the manifest is being written (same form), [4] what to do
 * with the reason (`keep`, `clear` or `set`), [5] 1 when the new state ends the run, [6] now (ISO),
 * [7] the reason to set.
 * Returns {1, previous state} or {0, current state or '', 1 when the manifest is being written}.
 */
export const TRANSITION_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], 'spec') == 0 then return {0, '', 0} end
local state = redis.call('HGET', KEYS[1], 'state') or 'listing'
local committing = redis.call('HEXISTS', KEYS[1], 'committingAt')
if not string.find(ARGV[2], ',' .. state .. ',', 1, true) then return {0, state, committing} end
if committing == 1 and not string.find(ARGV[3], ',' .. ARGV[1] .. ',', 1, true) then return {0, state, 1} end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'stateAt', ARGV[6])
if ARGV[4] == 'clear' then redis.call('HDEL', KEYS[1], 'reason') elseif ARGV[4] == 'set' then redis.call('HSET', KEYS[1], 'reason', ARGV[7]) end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'finishedAt', ARGV[6]) else redis.call('HDEL', KEYS[1], 'finishedAt') end
if ARGV[1] ~= 'finalizing' and ARGV[1] ~= 'completed' then redis.call('HDEL', KEYS[1], 'committingAt') end
return {1, state}
`;

/**
 * KEYS[1] run record. ARGV[1] now (ISO). Marks the manifest as being written, only while the
 * run is finalizing: from then on it cannot be cancelled. Returns {1, 'finalizing'} or
 * {0, current state or ''}.
 */
export const BEGIN_COMMIT_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], 'spec') == 0 then return {0, ''} end
local state = redis.call('HGET', KEYS[1], 'state') or 'listing'
if state ~= 'finalizing' then return {0, state} end
redis.call('HSETNX', KEYS[1], 'committingAt', ARGV[1])
return {1, state}
`;
