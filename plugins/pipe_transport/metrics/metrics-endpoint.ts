// The HTTP endpoint Prometheus scrapes, at metrics_listen: GET /metrics. It is served by the
// process Haraka starts first (a single process, or the cluster master), moves when a reload
// changes metrics_listen, and never stops Haraka: a port it cannot listen on is an error in the
// log, and a scrape that fails is a 500 for Prometheus.
import { createServer, type Server } from 'node:http'
import type { ListenAddress } from '../settings/vocabulary.js'
import { messageOf } from '../util/error-message.js'
import type { ExpositionSource } from './exposition.js'

export interface EndpointLog {
  info(message: string): void
  error(message: string): void
}

export class MetricsEndpoint {
  private server: Server | undefined
  private address: ListenAddress | undefined

  constructor(
    private readonly exposition: ExpositionSource,
    private readonly log: EndpointLog,
  ) {}

  /** Serves at `address`, or nowhere when it is undefined; a change closes the old listener. */
  use(address: ListenAddress | undefined): void {
    if (address?.host === this.address?.host && address?.port === this.address?.port) return
    void this.close()
    this.address = address
    if (!address) return
    const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('pipe_transport serves GET /metrics\n')
        return
      }
      this.exposition().then(
        ({ contentType, text }) => response.writeHead(200, { 'content-type': contentType }).end(text),
        (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${messageOf(err)}\n`),
      )
    })
    server.on('error', (err) => {
      this.log.error(`metrics_listen ${where}: ${messageOf(err)}; metrics are not served`)
      // A reload with the same metrics_listen tries again.
      if (this.server === server) [this.server, this.address] = [undefined, undefined]
    })
    server.listen(address.port, address.host, () => this.log.info(`metrics served at http://${where}/metrics`))
    // Haraka's own listeners keep the process alive; this one must not keep it from exiting.
    server.unref()
    this.server = server
  }

  close(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (!server) return Promise.resolve()
    return new Promise((done) => {
      server.close(() => done())
      server.closeAllConnections()
    })
  }
}
