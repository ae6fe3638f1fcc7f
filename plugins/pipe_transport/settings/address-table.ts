// The `[NAME.address]` entries of every instance, in one compact table: keys and route data as
// bytes in a single buffer, found through an open-addressing hash index. Why not a Map: a Map of
// 100,000 addresses is 100,000 strings and as many small objects, which V8 keeps growing its
// young generation for while they are built (measured: Haraka 77 MB larger than with a one-line
// table). Here the table is two typed arrays outside V8's heap, and building it leaves nothing
// behind but short-lived strings.
//
// Keys and route data are UTF-8. Keys are lower-cased addresses, mostly ASCII, which are looked up
// as they are; a key with other characters is looked up by its UTF-8 bytes.

/** Bytes before an entry's key: key length and data length (16 bits each), owner (16 bits). */
const ENTRY_HEADER = 6
const EMPTY = 0

export interface AddressHit {
  /** The owner's index, as given to add(): the instance in settings.ts. */
  readonly owner: number
  readonly data: string
}

export class AddressTable {
  private bytes: Buffer
  private used = 0
  /** Slot -> entry offset + 1 (0 is an empty slot). Its size is a power of two, at most half full. */
  private index: Int32Array
  private entries = 0

  /**
   * Sized for what is coming, so that building it never leaves outgrown copies behind for the
   * garbage collector: `expected.bytes` what their lines in the config take, `expected.entries`
   * how many lines. An entry is never longer than its line plus its header.
   */
  constructor(expected: { readonly bytes: number; readonly entries: number } = { bytes: 4096, entries: 256 }) {
    this.bytes = Buffer.allocUnsafe(Math.max(64, expected.bytes + expected.entries * ENTRY_HEADER))
    this.index = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(16, expected.entries * 2))))
  }

  get size(): number {
    return this.entries
  }

  /** Adds a key, or returns the hit it already has (and changes nothing). */
  add(text: string, owner: number, data: string): AddressHit | undefined {
    const existing = this.get(text)
    if (existing) return existing
    const key = keyBytes(text)
    if (key.length > 0xffff || owner > 0xffff)
      throw new Error(`address table: key of ${key.length} bytes or owner ${owner} too large`)
    const dataBytes = Buffer.byteLength(data)
    if (dataBytes > 0xffff) throw new Error(`address table: route data of ${dataBytes} bytes too large`)
    this.reserve(ENTRY_HEADER + key.length + dataBytes)
    const offset = this.used
    this.bytes.writeUInt16LE(key.length, offset)
    this.bytes.writeUInt16LE(dataBytes, offset + 2)
    this.bytes.writeUInt16LE(owner, offset + 4)
    this.bytes.write(text, offset + ENTRY_HEADER, 'utf8')
    this.bytes.write(data, offset + ENTRY_HEADER + key.length, 'utf8')
    this.used += ENTRY_HEADER + key.length + dataBytes
    if (++this.entries * 2 > this.index.length) this.rehash(this.index.length * 2)
    this.place(key, offset)
    return undefined
  }

  get(text: string): AddressHit | undefined {
    const key = keyBytes(text)
    const mask = this.index.length - 1
    for (let slot = hash(key) & mask; ; slot = (slot + 1) & mask) {
      const stored = this.index[slot] ?? EMPTY
      if (stored === EMPTY) return undefined
      const offset = stored - 1
      if (this.keyAt(offset, key)) {
        const keyLength = this.bytes.readUInt16LE(offset)
        const start = offset + ENTRY_HEADER + keyLength
        return {
          owner: this.bytes.readUInt16LE(offset + 4),
          data: this.bytes.toString('utf8', start, start + this.bytes.readUInt16LE(offset + 2)),
        }
      }
    }
  }

  private keyAt(offset: number, key: Key): boolean {
    if (this.bytes.readUInt16LE(offset) !== key.length) return false
    const start = offset + ENTRY_HEADER
    for (let i = 0; i < key.length; i++) if (this.bytes[start + i] !== byteAt(key, i)) return false
    return true
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.bytes.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + bytes))
    this.bytes.copy(grown, 0, 0, this.used)
    this.bytes = grown
  }

  private place(key: Key, offset: number): void {
    const mask = this.index.length - 1
    let slot = hash(key) & mask
    while ((this.index[slot] ?? EMPTY) !== EMPTY) slot = (slot + 1) & mask
    this.index[slot] = offset + 1
  }

  private rehash(size: number): void {
    const old = this.index
    this.index = new Int32Array(size)
    for (const stored of old) {
      if (stored === EMPTY) continue
      const offset = stored - 1
      const mask = size - 1
      let slot = hashBytes(this.bytes, offset + ENTRY_HEADER, this.bytes.readUInt16LE(offset)) & mask
      while ((this.index[slot] ?? EMPTY) !== EMPTY) slot = (slot + 1) & mask
      this.index[slot] = stored
    }
  }
}

/** A key's UTF-8 bytes: an ASCII string is its own bytes, one per character, and needs no copy. */
type Key = string | Buffer

/** Any character beyond ASCII (a UTF-16 unit of U+0080 or above). */
const NON_ASCII = /[\u0080-\uffff]/

function keyBytes(text: string): Key {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8') : text
}

function byteAt(key: Key, index: number): number {
  return typeof key === 'string' ? key.charCodeAt(index) : (key[index] ?? 0)
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a over the key's bytes. */
function hash(key: Key): number {
  let h = FNV_OFFSET
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ byteAt(key, i), FNV_PRIME)
  return h >>> 0
}

/** The same hash over a stored key's bytes. */
function hashBytes(bytes: Buffer, start: number, length: number): number {
  let h = FNV_OFFSET
  for (let i = start; i < start + length; i++) h = Math.imul(h ^ (bytes[i] ?? 0), FNV_PRIME)
  return h >>> 0
}
