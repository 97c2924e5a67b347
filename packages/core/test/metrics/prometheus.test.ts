import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import {
  createAuth,
  createMetrics,
  createSigner,
  prometheusText,
  registerPrometheusMetrics,
  requestInput,
} from '../../src/index.js'

const SECRET = 'an-hmac-secret-of-more-than-thirty-two-bytes!!'

async function exercise() {
  const metrics = createMetrics()
  const signer = createSigner({ algorithm: 'HS256', secret: SECRET, audience: 'api' })
  const auth = createAuth({ algorithms: ['HS256'], secret: SECRET, audience: 'api', metrics })
  const token = signer.sign({ sub: 'user-secret-id', perms: ['a'] })
  const input = (h?: string) => requestInput({ headers: { authorization: h } })
  for (let i = 0; i < 10; i++) await auth.authenticate(input(`Bearer ${token}`))
  try {
    auth.authenticate(input())
  } catch {}
  await auth.authorize(auth.guard('a'), await auth.verify(token), {})
  return { metrics, token }
}

describe('Prometheus exposition', () => {
  it('writes conventional names, cumulative buckets, and no unbounded labels', async () => {
    const { metrics, token } = await exercise()
    const text = prometheusText(metrics)
    expect(text).toContain('# TYPE authframework_authentications_total counter')
    expect(text).toContain('authframework_authentications_total{outcome="ok"} 11')
    expect(text).toContain('authframework_authentications_total{outcome="credentials_missing"} 1')
    expect(text).toContain('authframework_verification_cache_total{result="hit"} 10')
    expect(text).toContain('authframework_decisions_total{guard="a",decision="allow"} 1')
    expect(text).toContain('# TYPE authframework_verify_duration_seconds histogram')
    expect(text).toContain('authframework_authenticate_duration_seconds_count 12')
    const buckets = [
      ...text.matchAll(/authframework_authenticate_duration_seconds_bucket\{le="([^"]+)"\} (\d+)/g),
    ]
    expect(buckets.at(-1)).toMatchObject({ 1: '+Inf', 2: '12' }) // 10 requests, 1 refused, 1 verify()
    const counts = buckets.map((m) => Number(m[2]))
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(text).not.toContain('user-secret-id')
    expect(text).not.toContain(token.slice(0, 20))
  })

  it('registers with a prom-client registry', async () => {
    const { metrics } = await exercise()
    const registry = new Registry()
    registerPrometheusMetrics(registry as never, metrics)
    const scraped = await registry.metrics()
    expect(scraped).toContain('authframework_authentications_total{outcome="ok"} 11')
    expect(scraped).toContain('authframework_verify_duration_seconds_count 1')
    expect(scraped).toContain('authframework_authenticate_duration_seconds_bucket{le="+Inf"} 12')
  })
})
