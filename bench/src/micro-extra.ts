/**
 * Micro-benchmark groups for issuing (sign ops/s per algorithm, issue 5) and for the cost of
 * metrics recording and diagnostics-channel tracing on the cached hot path (issue 7). Same paired,
 * alternating harness as the verification groups (src/micro.ts).
 */
import { randomUUID } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createSigner as fastJwtSigner } from 'fast-jwt'
import { SignJWT } from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import type { Contender, GroupResult, MicroOptions, Role } from './micro.js'
import { payloadSub, runGroup } from './micro.js'
import { DEFAULT_CACHE, type OursCore, oursOptions } from './ours.js'
import { ALGORITHMS, AUDIENCE, generateKeyMaterial, ISSUER, type KeyMaterial } from './tokens.js'

interface OursSigner {
  sign(claims: { sub: string; perms?: readonly string[] }): string
}

interface OursSignCore {
  createSigner(options: Record<string, unknown>): OursSigner
}

interface OursAuthenticate {
  authenticate(input: unknown): unknown
  verify(token: string): Promise<unknown>
}

interface OursRequestCore {
  requestInput(raw: unknown): unknown
  CHANNELS: Record<string, string>
}

const PERMS = ['orders:read', 'orders:write', 'profile:read']
const TTL_SECONDS = 900
const KID = 'bench-key'

/** `sub` of a compact JWT (for the correctness check of a signer). */
const signedSub = (result: unknown): unknown => {
  const part = String(result).split('.')[1] ?? ''
  return (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub?: unknown }).sub
}

/** Sign ops per algorithm: ours `createSigner` vs jose `SignJWT`, fast-jwt, jsonwebtoken. */
export async function runSigning(opts: MicroOptions, core: unknown): Promise<GroupResult[]> {
  const ours = core as Partial<OursSignCore> | undefined
  const subs = Array.from({ length: opts.poolSize }, (_, i) => `user-${i}`)
  const groups: GroupResult[] = []
  for (const alg of ALGORITHMS) {
    const m: KeyMaterial = generateKeyMaterial(alg)
    const key = alg === 'HS256' ? (m.secret as string) : m.signPem
    const contenders: Contender[] = []
    const skipped: { name: string; role: Role; reason: string }[] = []
    if (typeof ours?.createSigner === 'function') {
      const signer = ours.createSigner({
        ...(alg === 'HS256' ? { secret: m.secret } : { privateKey: m.signKey }),
        algorithm: alg,
        issuer: ISSUER,
        audience: AUDIENCE,
        ttlSeconds: TTL_SECONDS,
        keyId: KID,
      })
      contenders.push({
        name: 'ours createSigner',
        role: 'ours',
        tokens: subs,
        run: (sub) => signer.sign({ sub, perms: PERMS }),
        async: false,
        subOf: signedSub,
      })
    } else {
      skipped.push({
        name: 'ours createSigner',
        role: 'ours',
        reason: '@authframework/core does not export createSigner',
      })
    }
    // Every peer signs the same claims ours does: sub, perms, iat, exp, iss, aud, a random jti, kid.
    const fj = fastJwtSigner({
      key,
      algorithm: alg as never,
      iss: ISSUER,
      aud: AUDIENCE,
      expiresIn: TTL_SECONDS * 1000,
      kid: KID,
    })
    contenders.push(
      {
        name: 'fast-jwt createSigner',
        role: 'peer',
        tokens: subs,
        run: (sub) => fj({ sub, perms: PERMS, jti: randomUUID() }),
        async: false,
        subOf: signedSub,
      },
      {
        name: 'jose SignJWT',
        role: 'peer',
        tokens: subs,
        run: (sub) =>
          new SignJWT({ perms: PERMS })
            .setProtectedHeader({ alg, kid: KID })
            .setSubject(sub)
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setIssuedAt()
            .setExpirationTime(`${TTL_SECONDS}s`)
            .setJti(randomUUID())
            .sign(m.signKey),
        async: true,
        subOf: signedSub,
      },
    )
    if (alg === 'EdDSA') {
      skipped.push({
        name: 'jsonwebtoken',
        role: 'peer',
        reason: 'jsonwebtoken 9 does not support EdDSA',
      })
    } else {
      contenders.push({
        name: 'jsonwebtoken',
        role: 'peer',
        tokens: subs,
        run: (sub) =>
          jsonwebtoken.sign({ sub, perms: PERMS }, m.signKey, {
            algorithm: alg as 'RS256',
            issuer: ISSUER,
            audience: AUDIENCE,
            expiresIn: TTL_SECONDS,
            jwtid: randomUUID(),
            keyid: KID,
          }),
        async: false,
        subOf: signedSub,
      })
    }
    groups.push(
      await runGroup(
        `sign-${alg}`,
        `Signing, ${alg}`,
        'One token per call (sub, perms, iat, exp, iss, aud, random jti, kid header), sync signers in a loop, jose awaited. Ratios are to ours (×1 = as fast as ours; above 1 = slower than ours).',
        contenders,
        skipped,
        opts,
      ),
    )
  }
  return groups
}

/**
 * What metrics recording costs on the cached hot path: `auth.authenticate(requestInput(...))` with
 * `metrics: false`, with the default metrics, and with a diagnostics-channel subscriber on all
 * three channels (subscribed only around that contender's own batches), against `auth.verify` on
 * the same cached tokens.
 */
export async function runMetricsCost(
  opts: MicroOptions,
  core: OursCore,
  m: KeyMaterial,
): Promise<GroupResult> {
  const req = core as unknown as Partial<OursRequestCore>
  const create = (metrics: boolean) =>
    (core.createAuth as unknown as (o: unknown) => OursAuthenticate)({
      ...oursOptions(m, DEFAULT_CACHE),
      ...(metrics ? {} : { metrics: false }),
    })
  const { signTokens } = await import('./tokens.js')
  const tokens = signTokens(m, opts.poolSize)
  const headers = tokens.map((t) => `Bearer ${t}`)
  const requestInput = req.requestInput as (raw: unknown) => unknown
  const channels = Object.values(req.CHANNELS ?? {})
  let traced = 0
  const onMessage = () => {
    traced++
  }
  const authenticating = (
    name: string,
    role: Role,
    auth: OursAuthenticate,
    traced: boolean,
  ): Contender => ({
    name,
    role,
    tokens: headers,
    run: (h) => auth.authenticate(requestInput({ headers: { authorization: h } })),
    async: true,
    subOf: payloadSub,
    prime: async () => {
      for (const h of headers)
        await auth.authenticate(requestInput({ headers: { authorization: h } }))
    },
    ...(traced
      ? {
          enter: () => {
            for (const c of channels) subscribe(c, onMessage)
          },
          exit: () => {
            for (const c of channels) unsubscribe(c, onMessage)
          },
        }
      : {}),
  })
  const verifyAuth = create(true)
  const contenders: Contender[] = [
    authenticating('authenticate, metrics: false', 'reference', create(false), false),
    authenticating('authenticate, metrics on (default)', 'ours', create(true), false),
    authenticating('authenticate, metrics on + diagnostics subscriber', 'ours', create(true), true),
    {
      name: 'auth.verify (cache hit), metrics on',
      role: 'reference',
      tokens,
      run: (t) => verifyAuth.verify(t),
      async: true,
      subOf: payloadSub,
      prime: async () => {
        for (const t of tokens) await verifyAuth.verify(t)
      },
    },
  ]
  const skipped =
    typeof requestInput === 'function'
      ? []
      : [{ name: 'authenticate', role: 'ours' as const, reason: 'core lacks requestInput' }]
  const group = await runGroup(
    'metrics-cost',
    'Metrics recording on the cached hot path, RS256',
    `\`auth.authenticate(requestInput(req))\` on ${tokens.length} cached tokens (cache max ${DEFAULT_CACHE.max}); the subscriber listens on ${channels.length} diagnostics channels only during its own batches. Ratios are to \`metrics: false\`.`,
    typeof requestInput === 'function' ? contenders : contenders.slice(3),
    skipped,
    opts,
  )
  if (traced < 0) opts.log(String(traced))
  return group
}
