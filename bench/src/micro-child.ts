/** Runs the micro-benchmarks in their own process (plain JavaScript, see src/build.ts). */
import { type MicroOptions, runMicro } from './micro.js'

process.once('message', (options: Omit<MicroOptions, 'log'>) => {
  runMicro({ ...options, log: (line) => process.stdout.write(`${line}\n`) }).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.(
        {
          ok: false,
          reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
        },
        () => process.exit(1),
      ),
  )
})
