// metrics_listen, in [main]: where Haraka serves its Prometheus metrics. Unset, there are none.
import { isIP } from 'node:net'
import type { SectionReader } from './section-reader.js'
import type { ListenAddress } from './vocabulary.js'

export function readMetricsListen(main: SectionReader): ListenAddress | undefined {
  const text = main.single('metrics_listen')
  if (text === undefined) return undefined
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (host === undefined || port < 1 || port > 65535 || (match?.[1] !== undefined && isIP(host) !== 6)) {
    main.fail(
      'metrics_listen',
      `"${text}" must be HOST:PORT, e.g. 127.0.0.1:9464 (an IPv6 address in brackets: [::1]:9464)`,
    )
    return undefined
  }
  return { host, port }
}
