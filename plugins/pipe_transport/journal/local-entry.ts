// The value stored under each key in the local store: what state, until when, and for a claim
// whose. A fixed binary layout of 9 or 25 bytes keeps an entry small (the store holds a week of
// recipients) and needs no serialiser:
//   byte 0      'D' delivered, 'C' claimed
//   bytes 1-8   expiry, milliseconds since the epoch (float64, big-endian)
//   bytes 9-24  claims only: the owner token of the begin() that took it
// Expiry lives in the value because LMDB has no TTL of its own: a reader treats an expired entry
// as absent, and the pruner removes it later.

export type LocalEntry =
  | { readonly kind: 'delivered'; readonly expiresAt: number }
  | { readonly kind: 'claimed'; readonly expiresAt: number; readonly token: Buffer }

const DELIVERED = 0x44
const CLAIMED = 0x43
const HEADER = 9

export function encodeDelivered(expiresAt: number): Buffer {
  const value = Buffer.allocUnsafe(HEADER)
  value[0] = DELIVERED
  value.writeDoubleBE(expiresAt, 1)
  return value
}

export function encodeClaim(expiresAt: number, token: Buffer): Buffer {
  const value = Buffer.allocUnsafe(HEADER + token.length)
  value[0] = CLAIMED
  value.writeDoubleBE(expiresAt, 1)
  token.copy(value, HEADER)
  return value
}

/** undefined for a missing or unreadable value: either way nothing valid is recorded there. */
export function decodeEntry(value: Buffer | undefined): LocalEntry | undefined {
  if (value === undefined || value.length < HEADER) return undefined
  const expiresAt = value.readDoubleBE(1)
  if (value[0] === DELIVERED) return { kind: 'delivered', expiresAt }
  if (value[0] === CLAIMED) return { kind: 'claimed', expiresAt, token: value.subarray(HEADER) }
  return undefined
}
