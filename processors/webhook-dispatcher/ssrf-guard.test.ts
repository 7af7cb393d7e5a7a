import { describe, expect, it } from 'vitest'
import { fakeLookup } from './test-helpers.ts'
import { forbiddenAddressReason, isForbiddenAddress, resolveDestination } from './ssrf-guard.ts'

// Pure: nothing here connects anywhere, so private and metadata addresses are plain strings.
const FORBIDDEN: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'CGNAT'],
  ['100.127.255.255', 'CGNAT'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['169.254.0.1', 'link-local'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.0.170', 'IETF protocol assignments'],
  ['192.0.2.1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['203.0.113.5', 'documentation'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback, as IPv4-mapped 127.0.0.1'],
  ['::ffff:7f00:1', 'loopback, as IPv4-mapped 127.0.0.1'],
  ['::FFFF:7F00:0001', 'loopback'],
  ['0:0:0:0:0:ffff:c0a8:101', 'private, as IPv4-mapped 192.168.1.1'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:169.254.169.254', 'link-local (cloud metadata), as IPv4-mapped 169.254.169.254'],
  ['::ffff:a9fe:a9fe', 'cloud metadata'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::127.0.0.1', 'reserved (::/8, e.g. IPv4-compatible)'],
  ['::ffff:0:127.0.0.1', 'reserved'],
  ['64:ff9b::127.0.0.1', 'loopback, as NAT64 127.0.0.1'],
  ['64:ff9b::a9fe:a9fe', 'cloud metadata), as NAT64'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  ['2002:7f00:1::1', 'loopback, as 6to4 127.0.0.1'],
  ['2002:a9fe:a9fe::', 'as 6to4 169.254.169.254'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['fc00::1', 'unique-local'],
  ['fd00:ec2::254', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['2001:db8::1', 'documentation'],
  ['2001::1', 'Teredo'],
  ['100::1', 'discard-only'],
  // Not an address at all: the guard fails closed.
  ['', 'not an IP address'],
  ['localhost', 'not an IP address'],
  ['127.1', 'not an IP address'],
  ['0x7f.0.0.1', 'not an IP address'],
  ['999.1.1.1', 'not an IP address'],
  ['1.2.3.4.5', 'not an IP address'],
  ['[::1]', 'not an IP address'],
  ['1::2::3', 'not an IP address'],
]

const ALLOWED = [
  '1.1.1.1',
  '8.8.8.8',
  '11.0.0.1',
  '93.184.216.34',
  '100.63.255.255',
  '100.128.0.0',
  '169.253.255.255',
  '172.15.255.255',
  '172.32.0.0',
  '192.167.255.255',
  '192.169.0.0',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2001:200::1',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '::ffff:808:808',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
]

describe('isForbiddenAddress', () => {
  it.each(FORBIDDEN)('refuses %s (%s)', (ip, reason) => {
    expect(isForbiddenAddress(ip)).toBe(true)
    expect(forbiddenAddressReason(ip)).toContain(reason)
  })

  it.each(ALLOWED)('allows %s', (ip) => {
    expect(forbiddenAddressReason(ip)).toBeNull()
  })
})

describe('resolveDestination', () => {
  const guarded = { allowPrivate: false }

  it('refuses what is not an http(s) URL, and credentials', async () => {
    for (const url of ['not a url', 'ftp://files.example.test/x', 'file:///etc/passwd', 'gopher://x.test/', 'http://user:pw@hooks.example.test/']) {
      expect((await resolveDestination(url, { ...guarded, lookup: fakeLookup({}) })).kind).toBe('refused')
    }
  })

  it('resolves a public name to its first address, keeping the name for Host and TLS', async () => {
    const asked: string[] = []
    const r = await resolveDestination('https://hooks.example.test/in?x=1', {
      ...guarded,
      lookup: fakeLookup({ 'hooks.example.test': ['93.184.216.34', '2606:2800:220:1::1'] }, asked),
    })
    expect(r.kind).toBe('resolved')
    if (r.kind !== 'resolved') return
    expect(r.destination).toMatchObject({ hostname: 'hooks.example.test', port: 443, tls: true, address: '93.184.216.34', family: 4 })
    expect(asked).toEqual(['hooks.example.test'])
  })

  it('refuses a name when ANY of its addresses is forbidden', async () => {
    const r = await resolveDestination('http://mixed.example.test/', {
      ...guarded,
      lookup: fakeLookup({ 'mixed.example.test': ['93.184.216.34', '10.0.0.8'] }),
    })
    expect(r).toEqual({ kind: 'refused', error: 'mixed.example.test resolves to 10.0.0.8, which is private: not allowed as a webhook destination' })
  })

  it('judges IP literals without a lookup, however the URL spells them', async () => {
    const asked: string[] = []
    const lookup = fakeLookup({}, asked)
    for (const url of [
      'http://10.1.2.3/hook',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://0251.0376.0251.0376/latest/meta-data/',
      'http://[::ffff:127.0.0.1]:8080/',
      'http://[::1]/',
      'http://[fd00:ec2::254]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://0.0.0.0:8080/',
    ]) {
      expect((await resolveDestination(url, { ...guarded, lookup })).kind, url).toBe('refused')
    }
    expect(asked).toEqual([])
  })

  it('lets anything through with allowPrivate, and exact test addresses with allowAddressesForTests', async () => {
    expect((await resolveDestination('http://10.1.2.3/hook', { allowPrivate: true })).kind).toBe('resolved')
    const lookup = fakeLookup({ 'public.example.test': ['127.0.0.1'] })
    const r = await resolveDestination('http://public.example.test:9/x', { ...guarded, lookup, allowAddressesForTests: ['127.0.0.1'] })
    expect(r.kind === 'resolved' && r.destination.address).toBe('127.0.0.1')
    expect((await resolveDestination('http://127.0.0.2/', { ...guarded, allowAddressesForTests: ['127.0.0.1'] })).kind).toBe('refused')
  })

  it('calls a failed lookup unresolved (retryable), not refused', async () => {
    const r = await resolveDestination('http://gone.example.test/', { ...guarded, lookup: fakeLookup({}) })
    expect(r).toEqual({ kind: 'unresolved', error: 'DNS lookup of gone.example.test failed (ENOTFOUND)' })
    const empty = await resolveDestination('http://empty.example.test/', { ...guarded, lookup: fakeLookup({ 'empty.example.test': [] }) })
    expect(empty.kind).toBe('unresolved')
  })
})
