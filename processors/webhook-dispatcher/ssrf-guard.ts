import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'

/**
 * Keeps webhooks off the network Sluice itself lives on. A destination is refused when ANY address
 * its name resolves to is loopback, private, link-local (cloud metadata), multicast or otherwise
 * not a public unicast address, including those forms hidden inside IPv6 (IPv4-mapped, NAT64,
 * 6to4). The caller then connects to the vetted address itself (see `connectPinned`), so a second
 * DNS answer (rebinding) never decides where the bytes go.
 *
 * Written against node:net rather than ipaddr.js: that package is only here as a dependency of a
 * dependency, and the ranges below are the whole policy, in one place.
 */

type Bytes = readonly number[]

interface Range {
  prefix: Bytes
  bits: number
  reason: string
}

// Order matters only for the reason reported: narrower ranges come before wider ones.
const IPV4_FORBIDDEN: readonly Range[] = [
  v4Range('0.0.0.0/8', 'unspecified ("this network")'),
  v4Range('10.0.0.0/8', 'private'),
  v4Range('100.64.0.0/10', 'shared address space (CGNAT)'),
  v4Range('127.0.0.0/8', 'loopback'),
  v4Range('169.254.0.0/16', 'link-local (cloud metadata)'),
  v4Range('172.16.0.0/12', 'private'),
  v4Range('192.0.0.0/24', 'IETF protocol assignments'),
  v4Range('192.0.2.0/24', 'documentation'),
  v4Range('192.88.99.0/24', '6to4 relay anycast'),
  v4Range('192.168.0.0/16', 'private'),
  v4Range('198.18.0.0/15', 'benchmarking'),
  v4Range('198.51.100.0/24', 'documentation'),
  v4Range('203.0.113.0/24', 'documentation'),
  v4Range('224.0.0.0/4', 'multicast'),
  v4Range('255.255.255.255/32', 'broadcast'),
  v4Range('240.0.0.0/4', 'reserved'),
]

/** IPv6 ranges that carry an IPv4 address, judged by that address: [range, byte offset of the IPv4]. */
const IPV6_EMBEDDING: ReadonlyArray<readonly [Range, number]> = [
  [v6Range('::ffff:0:0/96', 'IPv4-mapped'), 12],
  [v6Range('64:ff9b::/96', 'NAT64'), 12],
  [v6Range('2002::/16', '6to4'), 2],
]

const IPV6_FORBIDDEN: readonly Range[] = [
  v6Range('::/128', 'unspecified'),
  v6Range('::1/128', 'loopback'),
  v6Range('64:ff9b:1::/48', 'local-use NAT64'),
  // The rest of ::/8: IPv4-compatible (::a.b.c.d, deprecated), IPv4-translated and unassigned.
  v6Range('::/8', 'reserved (::/8, e.g. IPv4-compatible)'),
  v6Range('100::/64', 'discard-only'),
  // Teredo (2001::/32, its IPv4 is obfuscated), benchmarking, ORCHID: nothing a webhook lives on.
  v6Range('2001::/23', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'),
  v6Range('2001:db8::/32', 'documentation'),
  v6Range('3fff::/20', 'documentation'),
  v6Range('5f00::/16', 'SRv6 segment identifiers'),
  v6Range('fc00::/7', 'unique-local (incl. fd00:ec2::254 metadata)'),
  v6Range('fe80::/10', 'link-local'),
  v6Range('fec0::/10', 'site-local (deprecated)'),
  v6Range('ff00::/8', 'multicast'),
]

/**
 * Why `ip` may not be a webhook destination, or null when it is a public unicast address. Anything
 * that is not an IP address is refused ('not an IP address'): the guard fails closed.
 */
export function forbiddenAddressReason(ip: string): string | null {
  const v4 = parseIPv4(ip)
  if (v4) return matchRange(v4, IPV4_FORBIDDEN)
  const v6 = parseIPv6(ip)
  if (!v6) return 'not an IP address'
  for (const [range, offset] of IPV6_EMBEDDING) {
    if (!inRange(v6, range)) continue
    const embedded = v6.slice(offset, offset + 4)
    const reason = matchRange(embedded, IPV4_FORBIDDEN)
    return reason === null ? null : `${reason}, as ${range.reason} ${embedded.join('.')}`
  }
  return matchRange(v6, IPV6_FORBIDDEN)
}

/** True when a webhook must not be sent to `ip` (see `forbiddenAddressReason`). */
export function isForbiddenAddress(ip: string): boolean {
  return forbiddenAddressReason(ip) !== null
}

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Every address a host name resolves to. Injectable so tests never ask a real resolver. */
export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>

export const systemLookup: LookupAll = async (hostname) =>
  (await dnsLookup(hostname, { all: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))

/** Where one HTTP request goes: the URL as written, and the one address vetted for it. */
export interface Destination {
  url: URL
  /** The host name without IPv6 brackets; the Host header and TLS SNI/certificate name. */
  hostname: string
  port: number
  tls: boolean
  address: string
  family: 4 | 6
}

export type Resolution =
  | { kind: 'resolved'; destination: Destination }
  /** Policy says no: never retried. */
  | { kind: 'refused'; error: string }
  /** DNS did not answer usefully: may work on a later attempt. */
  | { kind: 'unresolved'; error: string }

export interface ResolveOptions {
  allowPrivate: boolean
  lookup?: LookupAll
  /**
   * FOR TESTS ONLY: exact addresses accepted although forbidden (e.g. ['127.0.0.1'] to stand a local
   * receiver in for a public host). Not reachable from configuration.
   */
  allowAddressesForTests?: readonly string[]
}

/**
 * Parses and vets a webhook URL: http or https only, no credentials, every resolved address
 * allowed. Returns the first vetted address to connect to. IP literals are not looked up.
 */
export async function resolveDestination(rawUrl: string | URL, options: ResolveOptions): Promise<Resolution> {
  let url: URL
  try {
    url = new URL(rawUrl)
  } catch {
    return { kind: 'refused', error: 'not a valid URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'refused', error: `scheme ${url.protocol} is not allowed (http or https only)` }
  }
  if (url.username || url.password) return { kind: 'refused', error: 'credentials in the URL are not supported' }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (!hostname) return { kind: 'refused', error: 'the URL has no host' }
  const tls = url.protocol === 'https:'
  const port = url.port ? Number(url.port) : tls ? 443 : 80

  let addresses: ResolvedAddress[]
  const literal = isIP(hostname)
  if (literal) {
    addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }]
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(hostname)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      return { kind: 'unresolved', error: `DNS lookup of ${hostname} failed${code ? ` (${code})` : ''}` }
    }
    if (addresses.length === 0) return { kind: 'unresolved', error: `DNS lookup of ${hostname} returned no address` }
  }

  if (!options.allowPrivate) {
    const allowed = new Set(options.allowAddressesForTests ?? [])
    for (const { address } of addresses) {
      if (allowed.has(address)) continue
      const reason = forbiddenAddressReason(address)
      if (reason !== null) {
        const via = literal ? '' : `${hostname} resolves to `
        return { kind: 'refused', error: `${via}${address}, which is ${reason}: not allowed as a webhook destination` }
      }
    }
  }
  const { address, family } = addresses[0]!
  return { kind: 'resolved', destination: { url, hostname, port, tls, address, family } }
}

function matchRange(bytes: Bytes, ranges: readonly Range[]): string | null {
  for (const range of ranges) if (inRange(bytes, range)) return range.reason
  return null
}

function inRange(bytes: Bytes, range: Range): boolean {
  if (bytes.length !== range.prefix.length) return false
  const whole = Math.floor(range.bits / 8)
  for (let i = 0; i < whole; i++) if (bytes[i] !== range.prefix[i]) return false
  const rest = range.bits % 8
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((bytes[whole]! ^ range.prefix[whole]!) & mask) === 0
}

/** Dotted-quad only: what node:net and the WHATWG URL parser (which normalises 0x7f.1) produce. */
function parseIPv4(s: string): number[] | null {
  if (isIP(s) !== 4) return null
  return s.split('.').map(Number)
}

/** 16 bytes, or null. Accepts `::` compression, a trailing dotted quad and a zone (`fe80::1%eth0`). */
function parseIPv6(input: string): number[] | null {
  const zone = input.indexOf('%')
  let s = zone >= 0 ? input.slice(0, zone) : input
  if (isIP(s) !== 6) return null
  const lastColon = s.lastIndexOf(':')
  const quad = parseIPv4(s.slice(lastColon + 1))
  if (quad) {
    const hi = ((quad[0]! << 8) | quad[1]!).toString(16)
    const lo = ((quad[2]! << 8) | quad[3]!).toString(16)
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return null
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves[1] ? halves[1].split(':') : []
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  if (fill < 0) return null
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail]
  if (groups.length !== 8) return null
  const bytes: number[] = []
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null
    const n = parseInt(group, 16)
    bytes.push(n >> 8, n & 0xff)
  }
  return bytes
}

function v4Range(cidr: string, reason: string): Range {
  const [ip, bits] = cidr.split('/') as [string, string]
  return { prefix: parseIPv4(ip)!, bits: Number(bits), reason }
}

function v6Range(cidr: string, reason: string): Range {
  const [ip, bits] = cidr.split('/') as [string, string]
  return { prefix: parseIPv6(ip)!, bits: Number(bits), reason }
}
