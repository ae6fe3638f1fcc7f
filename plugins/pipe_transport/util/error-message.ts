// What a caught value says, for a log line or a reply. Node's errors can come from another realm
// (Haraka runs the entry in a vm sandbox), where `instanceof Error` is false, so the native-error
// check comes first.
import { isNativeError } from 'node:util/types'

export function messageOf(error: unknown): string {
  return isNativeError(error) || error instanceof Error ? error.message : String(error)
}
