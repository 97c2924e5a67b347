/**
 * HTTP server child. Builds one app (framework × variant), listens on 127.0.0.1 on an ephemeral
 * port and reports its CPU time between a `start` and a `stop` message from the parent. Exits when
 * the parent says so, when the IPC channel closes, or after a hard lifetime limit.
 */
import { closers, counter, loadBuilder } from './apps/common.js'
import type { AppConfig, Command, Event } from './variants.js'

const MAX_LIFETIME_MS = 30 * 60 * 1000

function send(event: Event): void {
  process.send?.(event)
}

async function main(cfg: AppConfig): Promise<void> {
  // Only the chosen framework (and its peer) is loaded.
  const build = await loadBuilder(cfg.framework)
  const { port, close } = await build(cfg)
  let cpu0 = process.cpuUsage()
  const shutdown = () => {
    close()
      .then(() => Promise.allSettled(closers.map((c) => c())))
      .finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('message', (message: Command) => {
    if (message.cmd === 'start') {
      counter.requests = 0
      cpu0 = process.cpuUsage()
      send({ evt: 'started' })
    } else if (message.cmd === 'stop') {
      const cpu = process.cpuUsage(cpu0)
      send({
        evt: 'stopped',
        cpuUs: cpu.user + cpu.system,
        requests: counter.requests,
        rssBytes: process.memoryUsage.rss(),
      })
    } else if (message.cmd === 'exit') {
      shutdown()
    }
  })
  process.on('disconnect', shutdown)
  setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref()
  send({ evt: 'ready', port })
}

process.once('message', (cfg: AppConfig) => {
  main(cfg).catch((error: unknown) => {
    send({ evt: 'failed', reason: error instanceof Error ? error.message : String(error) })
    setTimeout(() => process.exit(1), 100)
  })
})
