// The value stored under each key in the local store: what state, until when, and for a claim
// whose. A fixed binary layout of 9 or 41 bytes keeps an entry small (the store holds a week of
// recipients) and needs no serialiser:
//   delivered  byte 0 'D'; bytes 1-8 expiry, wall-clock milliseconds since the epoch (float64 BE)
//   claimed    byte 0 'L'; bytes 1-16 the boot id; bytes 17-24 expiry on that boot's monotonic
//              clock in milliseconds (float64 BE); bytes 25-40 the owner token of the begin() that
//              took it
// Expiry lives in the value because LMDB has no TTL of its own: a reader treats an expired entry
// as absent, and the sweep removes it later. An entry of another layout (a claim of an older
// version, or damage) counts as absent too, and is swept.
import type { Instant } from './lease-clock.js'

export type LocalEntry =
  | { readonly kind: 'delivered'; readonly expiresAt: number }
  | { readonly kind: 'claimed'; readonly bootId: Buffer; readonly expiresAtMonotonic: number; readonly token: Buffer }

const DELIVERED = 0x44
const CLAIMED = 0x4c
const DELIVERED_LENGTH = 9
const CLAIM_LENGTH = 41

export function encodeDelivered(expiresAt: number): Buffer {
  const value = Buffer.allocUnsafe(DELIVERED_LENGTH)
  value[0] = DELIVERED
  value.writeDoubleBE(expiresAt, 1)
  return value
}

/** A claim from `now` for `leaseMs`; the token is 16 bytes. */
export function encodeClaim(now: Instant, leaseMs: number, token: Buffer): Buffer {
  const value = Buffer.allocUnsafe(CLAIM_LENGTH)
  value[0] = CLAIMED
  now.bootId.copy(value, 1)
  value.writeDoubleBE(now.monotonicMs + leaseMs, 17)
  token.copy(value, 25)
  return value
}

/** undefined for a missing or unreadable value: either way nothing valid is recorded there. */
export function decodeEntry(value: Buffer | undefined): LocalEntry | undefined {
  if (value?.length === DELIVERED_LENGTH && value[0] === DELIVERED)
    return { kind: 'delivered', expiresAt: value.readDoubleBE(1) }
  if (value?.length === CLAIM_LENGTH && value[0] === CLAIMED) {
    return {
      kind: 'claimed',
      bootId: value.subarray(1, 17),
      expiresAtMonotonic: value.readDoubleBE(17),
      token: value.subarray(25),
    }
  }
  return undefined
}

/** Whether the entry still stands at `now`: a claim of an earlier boot has ended with that boot. */
export function isLive(entry: LocalEntry, now: Instant): boolean {
  if (entry.kind === 'delivered') return entry.expiresAt > now.wallMs
  return entry.bootId.equals(now.bootId) && entry.expiresAtMonotonic > now.monotonicMs
}
