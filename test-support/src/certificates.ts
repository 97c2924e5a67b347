/**
 * Self-signed X.509 certificates made at run time (never committed), for TLS client certificate
 * tests: a P-256 key and a minimal v3 certificate, DER-encoded by hand (node:crypto signs but does
 * not issue certificates).
 */
import { createHash, generateKeyPairSync, type KeyObject, sign, X509Certificate } from 'node:crypto'

export interface TestCertificate {
  /** The private key, PEM (PKCS #8), for `tls` options. */
  readonly key: string
  readonly keyObject: KeyObject
  /** The certificate, PEM. */
  readonly cert: string
  readonly der: Buffer
  /** Its RFC 8705 `x5t#S256`, computed from OpenSSL's own SHA-256 fingerprint. */
  readonly thumbprint: string
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

/** One DER TLV. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}

const seq = (...content: Buffer[]) => tlv(0x30, ...content)

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const bytes = [40 * a + b]
  for (const arc of rest) {
    const groups = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128))
      groups.unshift(0x80 | (v & 0x7f))
    bytes.push(...groups)
  }
  return tlv(0x06, Buffer.from(bytes))
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'))

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))))
}

/**
 * A self-signed certificate for `commonName`, valid from 2020 to 2099.
 *
 * @example
 * const client = selfSignedCertificate('client-a')
 * https.request({ ..., key: client.key, cert: client.cert })
 */
export function selfSignedCertificate(commonName: string): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const serial = createHash('sha256').update(commonName).digest().subarray(0, 8)
  serial[0]! &= 0x7f // a positive INTEGER
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ECDSA_SHA256,
    name(commonName),
    seq(tlv(0x17, Buffer.from('200101000000Z')), tlv(0x18, Buffer.from('20991231235959Z'))),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
  )
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' })
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature))
  const x509 = new X509Certificate(der)
  const lines = der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyObject: privateKey,
    cert: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
    der,
    thumbprint: Buffer.from(x509.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url'),
  }
}
