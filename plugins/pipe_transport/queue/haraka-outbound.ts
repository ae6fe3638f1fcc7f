// Haraka's outbound, as the DSN after a partial failure needs it: it queues (and retries) the DSN,
// and the host name Haraka gives itself (config/me) names the DSN's sender and reporting MTA.
import { hostname } from 'node:os'
import { OK } from 'haraka-constants'
import type { HarakaOutbound, HarakaPlugin } from '../types/haraka-types.js'
import { failure, ok } from '../util/result.js'
import type { Outbound } from './queue-transaction.js'

export function outboundOf(plugin: HarakaPlugin): Outbound {
  return {
    // Asked only for a DSN: a config lookup is not free, and most transactions send none.
    hostname: () => {
      const me = plugin.config.get('me')
      return typeof me === 'string' && me.trim() !== '' ? me.trim() : hostname()
    },
    send: (to, message) =>
      new Promise((done) => {
        const outbound = plugin.haraka_require('outbound') as HarakaOutbound
        outbound.send_email(
          '<>',
          `<${to}>`,
          message,
          (code, reason) => done(code === OK ? ok(undefined) : failure(String(reason))),
          { origin: plugin },
        )
      }),
  }
}
