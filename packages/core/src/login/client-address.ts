/**
 * The group a client address is counted in by the per-address login limit: an IPv4 address
 * stands for itself, an IPv6 address for its /64 (what one subscriber, one host or one VM is
 * usually given, so walking through one's own /64 does not reset the count), and an IPv4-mapped
 * IPv6 address (`::ffff:192.0.2.1`, how a dual-stack socket reports IPv4 peers) for the IPv4
 * address.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The 8 groups of a valid IPv6 address (zone and brackets already removed). */
function ipv6Groups(address: string): number[] {
  let text = address
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    // an embedded dotted IPv4 address is the last two groups
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number)
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = rest === undefined ? [] : parse(rest)
  const zeros = 8 - left.length - right.length
  return [...left, ...Array.from({ length: zeros }, () => 0), ...right]
}

/**
 * The key of the per-address limit for `address`: `'192.0.2.1'` for IPv4 and IPv4-mapped IPv6,
 * `'2001:db8:0:1::/64'` for any IPv6 address in that /64 (whatever its spelling, zone or
 * brackets), and the trimmed, lower-cased text for anything that is not an IP address.
 *
 * @example
 * clientAddressGroup('::ffff:192.0.2.1')            // '192.0.2.1'
 * clientAddressGroup('2001:DB8::1:2:3:4')           // '2001:db8:0:0::/64'
 * clientAddressGroup('[2001:db8::ffff:1%eth0]')     // '2001:db8:0:0::/64'
 */
export function clientAddressGroup(address: string): string {
  let text = address.trim().toLowerCase()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  const zone = text.indexOf('%')
  if (zone >= 0 && isIPv6(text.slice(0, zone))) text = text.slice(0, zone)
  if (isIPv4(text)) return text
  if (!isIPv6(text)) return text
  const groups = ipv6Groups(text)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6)
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}
