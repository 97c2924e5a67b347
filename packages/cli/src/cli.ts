#!/usr/bin/env node
/** The `authframework` executable. */
import { main } from './main.js'

// Library warnings (e.g. "no audience is set") as one line each, not Node's two-line format.
process.removeAllListeners('warning')
process.on('warning', (warning) => {
  process.stderr.write(`authframework: note: ${warning.message}\n`)
})

process.exitCode = await main(process.argv.slice(2))
