/**
 * A TCP proxy on 127.0.0.1 in front of a real service, which a test can take down (refusing new
 * connections and cutting the open ones) and bring back, to see Sluice lose and regain a
 * dependency for real without stopping the service that other tests share.
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: 55432 })
 *   proxy.url('postgres://u:p@127.0.0.1:55432/db')   // the same URL through the proxy
 *   await proxy.down(); ...; await proxy.up()
 */
import net from 'node:net'

export interface TcpProxy {
  port: number
  /** `target` with its host:port replaced by the proxy's. */
  url(target: string): string
  down(): Promise<void>
  up(): Promise<void>
  /** New connections go to `next` (a restarted server on another port); open ones are cut. */
  retarget(next: { host: string; port: number }): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let current = target
  let server: net.Server | null = null
  let port = 0

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(current.port, current.host)
        for (const sock of [client, upstream]) {
          sockets.add(sock)
          sock.on('close', () => sockets.delete(sock))
          sock.on('error', () => {
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        const address = s.address()
        port = typeof address === 'object' && address ? address.port : port
        server = s
        resolve()
      })
    })

  const down = async () => {
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await listen()
  return {
    get port() {
      return port
    },
    url(t) {
      const u = new URL(t)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.toString()
    },
    down,
    retarget(next) {
      current = next
      for (const sock of sockets) sock.destroy()
      sockets.clear()
    },
    up: async () => {
      if (!server) await listen()
    },
    close: down,
  }
}
