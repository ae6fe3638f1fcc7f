// haraka-dsn ships no types; this is the one call the plugin makes.
declare module 'haraka-dsn' {
  class DSN {
    /** `DSN.create(452, 'text', 5, 3)` answers `452 4.5.3 text` at RCPT. */
    static create(code: number, message: string, subject?: number, detail?: number): DSN
  }
  export = DSN
}
