// The clocks behind the local store's entries. A claim lasts as long as a run can, and must not end
// early or late when someone steps the wall clock (ntpd, an operator, a VM resumed from a
// snapshot): a step forward would let a retry run the message a second time while the first run
// still goes, a step back would answer a stale claim "still running" long after its lease. So a
// claim's lease is measured by CLOCK_MONOTONIC, which no step moves and which every process of one
// boot shares, together with the boot's id: a claim of an earlier boot has ended, since no program
// survives a reboot. A delivered record is kept for days, across reboots, so it needs the wall
// clock; a step only makes it last a little longer or shorter.
import { readFileSync } from 'node:fs'

/** One reading of the clocks, taken once per write transaction. */
export interface Instant {
  /** /proc/sys/kernel/random/boot_id as 16 bytes: changes at every boot. */
  readonly bootId: Buffer
  /** CLOCK_MONOTONIC in milliseconds: time since this boot, never stepped. */
  readonly monotonicMs: number
  /** Milliseconds since the epoch, as the wall clock says now. */
  readonly wallMs: number
}

export type LeaseClock = () => Instant

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id'

/** The system's clocks. Throws where the boot id cannot be read (not Linux). */
export function systemClock(): LeaseClock {
  const bootId = Buffer.from(readFileSync(BOOT_ID_FILE, 'latin1').trim().replaceAll('-', ''), 'hex')
  if (bootId.length !== 16) throw new Error(`${BOOT_ID_FILE} does not hold a boot id`)
  // libuv's hrtime is CLOCK_MONOTONIC: the same clock in every process of this boot.
  return () => ({ bootId, monotonicMs: Number(process.hrtime.bigint() / 1_000_000n), wallMs: Date.now() })
}
