// The circuit breaker's keys: an instance's own, or [main]'s as the default. It is on unless
// `circuit_breaker = false`; the thresholds are named after what they count or wait for.
import type { SectionReader } from './section-reader.js'
import type { CircuitBreakerConfig } from './vocabulary.js'

export const CIRCUIT_BREAKER_DEFAULTS = {
  failures: 5,
  waitSeconds: 30,
  maxWaitSeconds: 300,
  scope: 'instance',
} as const

export const CIRCUIT_BREAKER_KEYS = [
  'circuit_breaker',
  'circuit_breaker_failures',
  'circuit_breaker_wait',
  'circuit_breaker_max_wait',
  'circuit_breaker_scope',
] as const

export function readCircuitBreaker(reader: SectionReader): CircuitBreakerConfig | undefined {
  if (!reader.flag('circuit_breaker', true)) {
    // [main]'s thresholds are defaults for the instances that keep the breaker on.
    for (const key of CIRCUIT_BREAKER_KEYS.slice(1))
      if (reader.lookup(key)?.section === reader.section) reader.warn(key, 'has no effect: circuit_breaker = false')
    return undefined
  }
  const failures = reader.integer('circuit_breaker_failures', CIRCUIT_BREAKER_DEFAULTS.failures, 1, 1000)
  const waitSeconds = reader.integer('circuit_breaker_wait', CIRCUIT_BREAKER_DEFAULTS.waitSeconds, 1, 3600)
  const maxWaitSeconds = reader.integer(
    'circuit_breaker_max_wait',
    Math.max(CIRCUIT_BREAKER_DEFAULTS.maxWaitSeconds, waitSeconds),
    1,
    86400,
  )
  if (maxWaitSeconds < waitSeconds)
    reader.fail('circuit_breaker_max_wait', `${maxWaitSeconds} is less than circuit_breaker_wait (${waitSeconds})`)
  const scope = reader.choice('circuit_breaker_scope', ['instance', 'route_data'], CIRCUIT_BREAKER_DEFAULTS.scope)
  return { failures, waitSeconds, maxWaitSeconds, scope }
}
