// A Haraka plugin the bench installs in every mode (as `bench_no_pipelining`): it stops
// advertising PIPELINING. Haraka answers a pipelined MAIL FROM and RCPT TO with two small writes
// on a socket without TCP_NODELAY, so Nagle's algorithm holds the second until the client's
// delayed ACK: 40 ms per message on loopback, alike in every mode, hiding what is measured.

interface Connection {
  capabilities: string[]
}

export function hook_capabilities(next: () => void, connection: Connection): void {
  connection.capabilities = connection.capabilities.filter((capability) => capability !== 'PIPELINING')
  next()
}
