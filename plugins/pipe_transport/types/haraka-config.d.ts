// haraka-config ships no types; these are its INI parser and line grammar, which the entry hands
// to settings/ini-text.ts.
declare module 'haraka-config/lib/readers/ini' {
  /** Parses INI text as haraka-config's `get('x.ini')` would; `name` only appears in its log lines. */
  export function parseIni(
    name: string,
    options: Record<string, unknown>,
    data: string,
  ): Record<string, Record<string, unknown>>
}

declare module 'haraka-config/lib/regex' {
  const regex: {
    readonly section: RegExp
    readonly param: RegExp
    readonly comment: RegExp
    readonly blank: RegExp
    readonly continuation: RegExp
    readonly is_array: RegExp
  }
  export = regex
}

declare module 'haraka-config/lib/unsafe-keys' {
  /** Section and key names haraka-config ignores, so that no config reaches a prototype. */
  export const UNSAFE_KEYS: ReadonlySet<string>
}
