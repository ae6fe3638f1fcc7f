// The circuit breakers' state as the running Haraka reports it, for --dry-run: read from its own
// metrics endpoint (metrics_listen), which sums every worker's circuits. The breakers live in the
// Haraka processes, so without metrics the try command cannot know them.
import type { ListenAddress } from '../settings/vocabulary.js'
import { messageOf } from '../util/error-message.js'

export type LiveCircuits =
  | { readonly kind: 'unknown'; readonly why: string }
  /** Open circuits by instance, summed over Haraka's processes. */
  | { readonly kind: 'read'; readonly url: string; readonly open: ReadonlyMap<string, number> }

const OPEN_LINE = /^pipe_transport_circuits_open\{instance_name="([^"]*)"\} (\d+)$/gm

export async function liveCircuits(listen: ListenAddress | undefined): Promise<LiveCircuits> {
  if (!listen) return { kind: 'unknown', why: "set metrics_listen to see the running Haraka's circuits here" }
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}/metrics`
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
    if (!response.ok) return { kind: 'unknown', why: `${url} answered ${response.status}` }
    const text = await response.text()
    return {
      kind: 'read',
      url,
      open: new Map([...text.matchAll(OPEN_LINE)].map(([, name = '', n]) => [name, Number(n)])),
    }
  } catch (err) {
    return { kind: 'unknown', why: `${url} did not answer (${messageOf(err)})` }
  }
}
