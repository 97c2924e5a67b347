import { createPublicKey, createSecretKey, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  ecKeyPair,
  ed25519KeyPair,
  fakeClock,
  rsaKeyPair,
  signJwt,
} from '../helpers.js'

const rsa = rsaKeyPair()
const rsa2 = rsaKeyPair()
const ec = ecKeyPair('P-256')
const ed = ed25519KeyPair()
const { clock } = fakeClock()

function build(options: Partial<AuthOptions>) {
  return createAuth({ audience: AUDIENCE, clock, cache: false, ...options } as AuthOptions)
}

function configError(options: Partial<AuthOptions>, message: RegExp) {
  expect(() => build(options)).toThrow(TypeError)
  expect(() => build(options)).toThrow(message)
}

describe('the key source', () => {
  it('needs exactly one of secret, publicKey, keys and jwksUri', () => {
    configError({ algorithms: ['RS256'] }, /must come from exactly one of/)
    configError(
      { algorithms: ['RS256'], publicKey: rsa.publicPem, keys: [rsa2.publicPem] },
      /must come from exactly one of/,
    )
    configError(
      { algorithms: ['HS256'], secret: randomBytes(32), jwksUri: 'https://issuer.example/jwks' },
      /must come from exactly one of/,
    )
  })
})

describe('algorithms', () => {
  it('are required for RSA keys, secrets and remote key sets', () => {
    configError({ publicKey: rsa.publicPem }, /^createAuth: algorithms must be given for RSA keys/)
    configError({ secret: randomBytes(64) }, /^createAuth: algorithms must be given/)
    configError({ jwksUri: 'https://issuer.example/jwks' }, /^createAuth: algorithms must be given/)
    configError({ keys: [rsa.publicPem, rsa2.publicPem] }, /^createAuth: algorithms must be given/)
  })

  it('are implied by an EC P-256 key (ES256 only)', async () => {
    const auth = build({ publicKey: ec.publicPem })
    await expect(
      auth.verify(await signJwt(claims(), ec.privateKey, { alg: 'ES256' })),
    ).resolves.toMatchObject({ sub: 'user-1' })
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(claims(), rsa.privateKey, { alg: 'RS256' })),
    )
    expect(error.message).toBe('The token algorithm is not allowed.')
  })

  it('are implied by an Ed25519 key', async () => {
    const auth = build({ publicKey: ed.publicPem })
    await expect(
      auth.verify(await signJwt(claims(), ed.privateKey, { alg: 'EdDSA' })),
    ).resolves.toMatchObject({ sub: 'user-1' })
  })

  it('are implied by a JWK with alg', async () => {
    const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), alg: 'PS256' }
    const auth = build({ publicKey: jwk })
    await expect(
      auth.verify(await signJwt(claims(), rsa.privateKey, { alg: 'PS256' })),
    ).resolves.toBeDefined()
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(claims(), rsa.privateKey, { alg: 'RS256' })),
    )
    expect(error.message).toBe('The token algorithm is not allowed.')
  })

  it('cannot mix HMAC and asymmetric algorithms', () => {
    configError(
      { algorithms: ['HS256', 'RS256'], publicKey: rsa.publicPem },
      /^createAuth: algorithms must not mix HMAC \(HS\*\) and asymmetric algorithms/,
    )
    configError({ algorithms: ['RS256', 'HS512'], secret: randomBytes(64) }, /must not mix/)
  })

  it.each([[[]], [['none']], [['rs256']], [['RS256', 'none']], [['HS1']], ['RS256']])(
    'refuses %j',
    (algorithms) => {
      configError(
        { algorithms: algorithms as AuthOptions['algorithms'], publicKey: rsa.publicPem },
        /^createAuth: algorithms must /,
      )
    },
  )

  it('must fit the key', () => {
    configError({ algorithms: ['ES256'], publicKey: rsa.publicPem }, /cannot be used with ES256/)
    configError({ algorithms: ['RS256'], publicKey: ec.publicPem }, /cannot be used with RS256/)
    configError({ algorithms: ['ES384'], publicKey: ec.publicPem }, /cannot be used with ES384/)
    configError({ algorithms: ['HS256'], publicKey: rsa.publicPem }, /cannot be used with HS256/)
    configError({ algorithms: ['RS256'], secret: randomBytes(64) }, /cannot be used with RS256/)
    configError({ algorithms: ['HS256'], jwksUri: 'https://issuer.example/jwks' }, /remote key set/)
  })
})

describe('secrets', () => {
  it.each([
    ['HS256', 32],
    ['HS384', 48],
    ['HS512', 64],
  ] as const)('%s needs %i bytes', async (alg, bytes) => {
    const short = randomBytes(bytes - 1)
    configError(
      { algorithms: [alg], secret: short },
      new RegExp(
        `^createAuth: secret must be at least ${bytes} bytes for ${alg} \\(this one has ${bytes - 1}\\), e\\.g\\. randomBytes\\(${bytes}\\)\\.$`,
      ),
    )
    configError({ algorithms: [alg], secret: 'x'.repeat(bytes - 1) }, /must be at least/)
    configError({ algorithms: [alg], secret: createSecretKey(short) }, /must be at least/)
    const exact = randomBytes(bytes)
    const auth = build({ algorithms: [alg], secret: exact })
    await expect(auth.verify(await signJwt(claims(), exact, { alg }))).resolves.toBeDefined()
  })

  it('must be long enough for every allowed HS algorithm', () => {
    configError(
      { algorithms: ['HS256', 'HS512'], secret: randomBytes(32) },
      /secret must be at least 64 bytes for HS512/,
    )
  })

  it('counts a string secret in UTF-8 bytes', () => {
    // 16 characters of 2 bytes each: 32 bytes
    expect(() => build({ algorithms: ['HS256'], secret: 'é'.repeat(16) })).not.toThrow()
    configError({ algorithms: ['HS256'], secret: 'é'.repeat(15) + 'e' }, /this one has 31/)
  })

  it('refuses an empty secret and a non-secret', () => {
    configError({ algorithms: ['HS256'], secret: '' }, /secret must be a non-empty secret/)
    configError(
      { algorithms: ['HS256'], secret: rsa.publicKey as never },
      /secret must be a secret KeyObject, e\.g\. createSecretKey\(bytes\)\./,
    )
    configError(
      { algorithms: ['HS256'], secret: 42 as never },
      /secret must be a string, a Uint8Array/,
    )
  })

  it('accepts an oct JWK', async () => {
    const bytes = randomBytes(32)
    const auth = build({
      algorithms: ['HS256'],
      secret: { kty: 'oct', k: bytes.toString('base64url') },
    })
    await expect(
      auth.verify(await signJwt(claims(), bytes, { alg: 'HS256' })),
    ).resolves.toBeDefined()
  })
})

describe('public keys', () => {
  it('accept a PEM with leading whitespace, a JWK and a KeyObject', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    for (const publicKey of [
      rsa.publicPem,
      `\n  \t${rsa.publicPem}`,
      rsa.publicKey,
      rsa.publicKey.export({ format: 'jwk' }),
    ]) {
      const auth = build({ algorithms: ['RS256'], publicKey })
      await expect(auth.verify(token)).resolves.toBeDefined()
    }
  })

  it('refuse RSA keys under 2048 bits, in every form', () => {
    const weak = rsaKeyPair(1024)
    for (const publicKey of [
      weak.publicPem,
      weak.publicKey,
      weak.publicKey.export({ format: 'jwk' }),
    ]) {
      configError(
        { algorithms: ['RS256'], publicKey },
        /publicKey must be an RSA key of at least 2048 bits \(this one has 1024\)/,
      )
    }
    const almost = rsaKeyPair(2040)
    configError({ algorithms: ['RS256'], publicKey: almost.publicPem }, /at least 2048 bits/)
  })

  it('refuse a PEM with text before -----BEGIN', () => {
    for (const prefix of ['key:\n', 'Here is the key: ', 'x', '"', '\u00a0', '\ufeff']) {
      configError(
        { algorithms: ['RS256'], publicKey: prefix + rsa.publicPem },
        /^createAuth: publicKey must be a PEM that starts with "-----BEGIN" \(remove anything before it\), e\.g\. /,
      )
    }
  })

  it('refuse private keys given as publicKey', () => {
    const pkcs8 = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const pkcs1 = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    const sec1 = ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString()
    for (const publicKey of [pkcs8, pkcs1, sec1]) {
      configError(
        { algorithms: ['RS256'], publicKey },
        /publicKey must be a public key, never the private one/,
      )
    }
    configError({ algorithms: ['RS256'], publicKey: rsa.privateKey }, /must be a public key/)
    configError(
      { algorithms: ['RS256'], publicKey: rsa.privateKey.export({ format: 'jwk' }) },
      /publicKey must be a public JWK, without "d"/,
    )
    configError(
      { algorithms: ['ES256'], publicKey: ec.privateKey.export({ format: 'jwk' }) },
      /publicKey must be a public JWK, without "d"/,
    )
  })

  it('refuse a symmetric JWK or secret KeyObject as publicKey', () => {
    configError(
      {
        algorithms: ['RS256'],
        publicKey: { kty: 'oct', k: randomBytes(32).toString('base64url') },
      },
      /a symmetric JWK is a secret: give it as `secret`/,
    )
    configError(
      { algorithms: ['RS256'], publicKey: createSecretKey(randomBytes(32)) },
      /publicKey must be a public key/,
    )
  })

  it('refuse a JWK meant for encryption', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' })
    configError(
      { algorithms: ['RS256'], publicKey: { ...jwk, use: 'enc' } },
      /must be a JWK for signatures/,
    )
    configError({ algorithms: ['RS256'], publicKey: { ...jwk, key_ops: ['encrypt'] } }, /key_ops/)
    expect(() =>
      build({ algorithms: ['RS256'], publicKey: { ...jwk, use: 'sig', key_ops: ['verify'] } }),
    ).not.toThrow()
  })

  it('refuse garbage', () => {
    configError(
      {
        algorithms: ['RS256'],
        publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      },
      /publicKey must be a PEM that parses \(SPKI or certificate\)/,
    )
    configError({ algorithms: ['RS256'], publicKey: 42 as never }, /must be a PEM string/)
  })

  it('says what to do with a JWK Set given as publicKey (keygen writes jwks.json)', () => {
    const jwk = createPublicKey(rsa.publicPem).export({ format: 'jwk' })
    const jwks = { keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] }
    configError(
      { algorithms: ['RS256'], publicKey: jwks as never },
      /publicKey must be one key, not a JWK Set \(\{ keys: \[\.\.\.\] \}\): give its keys as `keys: jwks\.keys`.*`jwksUri`/,
    )
    configError(
      { algorithms: ['RS256'], publicKey: JSON.stringify(jwks) },
      /publicKey must be a PEM or a parsed JWK, not JSON text.*`keys: jwks\.keys`/,
    )
    // and the hint is right: the same set as `keys` verifies
    expect(() => createAuth({ algorithms: ['RS256'], keys: jwks.keys })).not.toThrow()
  })
})

describe('keys: [...] for rotation', () => {
  const rotation = build({
    algorithms: ['RS256'],
    keys: [
      { kid: 'k1', publicKey: rsa.publicPem },
      { kid: 'k2', publicKey: rsa2.publicPem },
    ],
  })

  it('selects the key by kid', async () => {
    const one = await signJwt(claims({ sub: 'one' }), rsa.privateKey, { alg: 'RS256', kid: 'k1' })
    const two = await signJwt(claims({ sub: 'two' }), rsa2.privateKey, { alg: 'RS256', kid: 'k2' })
    await expect(rotation.verify(one)).resolves.toMatchObject({ sub: 'one' })
    await expect(rotation.verify(two)).resolves.toMatchObject({ sub: 'two' })
  })

  it('does not fall back to another labelled key when the kid names the wrong one', async () => {
    const swapped = await signJwt(claims(), rsa2.privateKey, { alg: 'RS256', kid: 'k1' })
    const error = await authErrorOf(() => rotation.verify(swapped))
    expect(error.message).toBe('The token signature is invalid.')
  })

  it('rejects an unknown kid', async () => {
    const unknown = await signJwt(claims(), rsa.privateKey, { alg: 'RS256', kid: 'k3' })
    const error = await authErrorOf(() => rotation.verify(unknown))
    expect(error).toMatchObject({ code: 'token_invalid', message: 'No key can verify the token.' })
  })

  it('tries every key for a token without kid', async () => {
    await expect(rotation.verify(await signJwt(claims(), rsa.privateKey))).resolves.toBeDefined()
    await expect(rotation.verify(await signJwt(claims(), rsa2.privateKey))).resolves.toBeDefined()
  })

  it('lets a kid-less key verify a token that names a kid', async () => {
    const single = build({ algorithms: ['RS256'], publicKey: rsa.publicPem })
    await expect(
      single.verify(await signJwt(claims(), rsa.privateKey, { alg: 'RS256', kid: 'anything' })),
    ).resolves.toBeDefined()
    const mixed = build({
      algorithms: ['RS256'],
      keys: [rsa.publicPem, { kid: 'k2', publicKey: rsa2.publicPem }],
    })
    await expect(
      mixed.verify(await signJwt(claims(), rsa.privateKey, { alg: 'RS256', kid: 'unknown' })),
    ).resolves.toBeDefined()
    // a labelled key only answers to its own kid
    const error = await authErrorOf(async () =>
      mixed.verify(await signJwt(claims(), rsa2.privateKey, { alg: 'RS256', kid: 'unknown' })),
    )
    expect(error.message).toBe('The token signature is invalid.')
  })

  it('takes the kid of a JWK', async () => {
    const jwks = build({
      algorithms: ['RS256'],
      keys: [
        { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'j1' },
        { ...rsa2.publicKey.export({ format: 'jwk' }), kid: 'j2' },
      ],
    })
    await expect(
      jwks.verify(await signJwt(claims(), rsa2.privateKey, { alg: 'RS256', kid: 'j2' })),
    ).resolves.toBeDefined()
    const error = await authErrorOf(async () =>
      jwks.verify(await signJwt(claims(), rsa2.privateKey, { alg: 'RS256', kid: 'j1' })),
    )
    expect(error.message).toBe('The token signature is invalid.')
  })

  it('rotates HMAC secrets too', async () => {
    const a = randomBytes(32)
    const b = randomBytes(32)
    const hs = build({
      algorithms: ['HS256'],
      keys: [
        { kid: 'a', secret: a },
        { kid: 'b', secret: b },
      ],
    })
    await expect(
      hs.verify(await signJwt(claims(), b, { alg: 'HS256', kid: 'b' })),
    ).resolves.toBeDefined()
    const error = await authErrorOf(async () =>
      hs.verify(await signJwt(claims(), b, { alg: 'HS256', kid: 'a' })),
    )
    expect(error.message).toBe('The token signature is invalid.')
  })

  it('refuses to mix secrets and public keys', () => {
    configError(
      { algorithms: ['RS256'], keys: [rsa.publicPem, { secret: randomBytes(64) }] },
      /^createAuth: keys must be all HMAC secrets or all public keys, not a mix, e\.g\. /,
    )
    configError(
      {
        algorithms: ['HS256'],
        keys: [
          { secret: randomBytes(64) },
          { kty: 'oct', k: randomBytes(32).toString('base64url') },
          rsa.publicKey,
        ],
      },
      /not a mix/,
    )
  })

  it('refuses an empty list and names a bad entry', () => {
    configError({ algorithms: ['RS256'], keys: [] }, /^createAuth: keys must be a non-empty array/)
    configError(
      { algorithms: ['RS256'], keys: [rsa.publicPem, `x${rsa2.publicPem}`] },
      /^createAuth: keys\[1\] must be a PEM that starts with "-----BEGIN"/,
    )
    configError({ algorithms: ['RS256'], keys: [rsa.publicPem, ec.publicPem] }, /keys\[1\]/)
  })
})
