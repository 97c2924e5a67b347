/**
 * Traffic for the resharding test: each instance looks users up, verifies tokens and reads a
 * session in a loop, and every answer is checked against the changes made so far. A request that
 * begins more than the bound after a change and still allows what the change took away is a
 * violation; a token revoked before the traffic began is never accepted.
 */
import { codeOf } from '../revocation/setup.js'

/** What the test changes while the slots move: a user's role, a token, a session. */
export interface Change {
  readonly user: string
  readonly token: string
  readonly session: string
}

interface Served {
  readonly auth: { verify(token: string): Promise<unknown> }
  grants(id: string): Promise<boolean>
  readonly sessions: { get(id: string): Promise<unknown> }
}

export function startTraffic(
  instances: readonly Served[],
  users: readonly string[],
  change: Change,
  boundMs: number,
  revoked: readonly string[],
) {
  let changedAt = Number.POSITIVE_INFINITY
  let running = true
  const violations: string[] = []
  const counts: Record<string, number> = {}
  let lookupErrors = 0
  const count = (what: string) => {
    counts[what] = (counts[what] ?? 0) + 1
  }
  const late = (began: number) => began > changedAt + boundMs

  async function loop(instance: Served, n: number): Promise<void> {
    for (let k = n; running; k++) {
      const user = k % 3 === 0 ? change.user : users[k % users.length]!
      const began = performance.now()
      const granted = await instance.grants(user).catch(() => undefined)
      if (granted === undefined) lookupErrors++
      else count('lookups')
      if (granted === true && user === change.user && late(began)) {
        violations.push(
          `permission of ${user} granted ${(began - changedAt).toFixed(0)} ms after the change`,
        )
      }
      const code = await codeOf(instance.auth.verify(change.token))
      count(`verify ${code}`)
      if (code === 'ok' && late(began)) {
        violations.push(
          `revoked token accepted ${(began - changedAt).toFixed(0)} ms after the change`,
        )
      }
      const old = await codeOf(instance.auth.verify(revoked[k % revoked.length]!))
      if (old !== 'token_revoked') count(`earlier revocation ${old}`)
      if (old === 'ok') violations.push('a token revoked before the move accepted')
      const session = await instance.sessions.get(change.session).then(
        (value) => (value === null ? 'null' : 'session'),
        () => 'error',
      )
      count(`session ${session}`)
      if (session === 'session' && late(began)) {
        violations.push(
          `destroyed session served ${(began - changedAt).toFixed(0)} ms after the change`,
        )
      }
      // lets timers (change log polls, heartbeats) run between requests on a busy machine
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  const loops = instances.map((instance, n) => loop(instance, n))
  return {
    /** The changes were committed at `at` (performance.now()). */
    changed(at: number) {
      changedAt = at
    },
    async stop() {
      running = false
      await Promise.all(loops)
      return { violations, counts, lookupErrors }
    },
  }
}
