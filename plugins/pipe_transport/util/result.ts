// The one shape of a step that can fail: its value, or why not, as a sentence for the log or the
// operator. Checked with `result.ok`; the failure text is always `error`.

export type Result<T> = { readonly ok: true; readonly value: T } | Failure

export interface Failure {
  readonly ok: false
  readonly error: string
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value }
}

export function failure(error: string): Failure {
  return { ok: false, error }
}
