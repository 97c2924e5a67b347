/** One job in a child process, one `{ ok, ... }` answer back: both sides. */
import { fork, type Serializable } from 'node:child_process'

type Answer<T> = { ok: true } & T

/**
 * Forks `entry`, sends it `job`, and waits for one message `{ ok: true, ... }` (resolves) or
 * `{ ok: false, reason }` (rejects). The child is killed if it has not answered within `timeoutMs`.
 */
export function runInChild<T extends object>(
  entry: URL,
  job: Serializable,
  { execArgv = [], timeoutMs = 15 * 60 * 1000 }: { execArgv?: string[]; timeoutMs?: number } = {},
): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    const child = fork(entry, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`${entry.pathname} did not answer within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.once('message', (m: Answer<T> | { ok: false; reason: string }) => {
      clearTimeout(timer)
      if (m.ok) resolve(m)
      else reject(new Error(m.reason))
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${entry.pathname} exited with code ${code} before answering`))
    })
    child.send(job)
  })
}

/**
 * The child's side of {@link runInChild}: takes the one job it is sent, answers
 * `{ ok: true, ...result }` or `{ ok: false, reason }`, and exits.
 */
export function serveOneJob<J, R extends object>(work: (job: J) => Promise<R>): void {
  process.once('message', (job: J) => {
    work(job).then(
      (result) => process.send?.({ ok: true, ...result }, () => process.exit(0)),
      (error: unknown) =>
        process.send?.(
          { ok: false, reason: error instanceof Error ? error.message : String(error) },
          () => process.exit(0),
        ),
    )
  })
}
