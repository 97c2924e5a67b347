/** The per-address login limit's groups: IPv4 itself, IPv6 by /64, IPv4-mapped IPv6 as IPv4. */
import { describe, expect, it } from 'vitest'
import { clientAddressGroup } from '../../src/login/index.js'

describe('clientAddressGroup', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:C000:201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0:0:FFFF:FFFF:FFFF:FFFF', '2001:db8:0:0::/64'],
    ['[2001:db8::1]', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:aa:bb:cc::', '2001:db8:aa:bb::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['not-an-address', 'not-an-address'],
    ['Unix-Socket', 'unix-socket'],
  ])('%s → %s', (address, group) => {
    expect(clientAddressGroup(address)).toBe(group)
  })

  it('puts addresses of one /64 together and the neighbouring /64s apart', () => {
    const group = clientAddressGroup('2001:db8:1:2::1')
    expect(clientAddressGroup('2001:db8:1:2:ffff::9')).toBe(group)
    expect(clientAddressGroup('2001:db8:1:3::1')).not.toBe(group)
    expect(clientAddressGroup('2001:db8:1:1:ffff:ffff:ffff:ffff')).not.toBe(group)
  })
})
