/** Load generation with autocannon, in the parent process; per-request latencies kept exactly. */
import { hrtime } from 'node:process'
import autocannon from 'autocannon'
import { quantileSorted } from '../stats.js'

export interface LoadSettings {
  readonly connections: number
  /** Seconds; ignored when `amount` is given. */
  readonly durationS: number
  /** Total requests instead of a duration (used to walk a whole token pool once). */
  readonly amount?: number
}

export interface LoadResult {
  readonly responses: number
  readonly non2xx: number
  readonly errors: number
  readonly elapsedS: number
  readonly reqPerSec: number
  /** Milliseconds. */
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

/**
 * Runs autocannon against `url`. `nextHeader` gives each request's Authorization value (or
 * `undefined` for none); it is called once per request, so every scenario pays the same client cost.
 */
export function load(
  url: string,
  settings: LoadSettings,
  nextHeader: () => string | undefined,
  keepLatencies = true,
): Promise<LoadResult> {
  const latencies: number[] = []
  let non2xx = 0
  let responses = 0
  return new Promise((resolve, reject) => {
    const t0 = hrtime.bigint()
    const instance = autocannon(
      {
        url,
        connections: settings.connections,
        pipelining: 1,
        // autocannon checks for the end of a run once per sample interval (1 s by default).
        sampleInt: 100,
        ...(settings.amount ? { amount: settings.amount } : { duration: settings.durationS }),
        timeout: 10,
        requests: [
          {
            method: 'GET',
            path: '/',
            setupRequest: (req) => {
              const value = nextHeader()
              if (value !== undefined) req.headers = { ...req.headers, authorization: value }
              return req
            },
          },
        ],
      },
      (error, result) => {
        const elapsedS = Number(hrtime.bigint() - t0) / 1e9
        if (error) return reject(error)
        const sorted = latencies.sort((a, b) => a - b)
        resolve({
          responses,
          non2xx,
          errors: result.errors + result.timeouts,
          elapsedS,
          reqPerSec: responses / elapsedS,
          p50: quantileSorted(sorted, 0.5),
          p95: quantileSorted(sorted, 0.95),
          p99: quantileSorted(sorted, 0.99),
        })
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++
      if (statusCode < 200 || statusCode > 299) non2xx++
      if (keepLatencies) latencies.push(responseTime)
    })
  })
}
