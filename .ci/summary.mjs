// Prints the closing line of CI ("N passed, N failed") from vitest's JSON report, and fails the
// run when a test failed, was skipped (integration tests must never be skipped silently), or when
// vitest or the benchmark smoke run exited non-zero.
import { readFileSync } from 'node:fs'

const [file, testStatus, benchStatus] = process.argv.slice(2)
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch {
  console.log('0 passed, 1 failed')
  console.error('no test report was written')
  process.exit(1)
}
const passed = report.numPassedTests
const failed = report.numFailedTests + (report.numFailedTestSuites ?? 0)
const skipped = report.numPendingTests + report.numTodoTests
if (skipped > 0) {
  for (const suite of report.testResults) {
    for (const t of suite.assertionResults) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') {
        console.error(`skipped: ${t.fullName}`)
      }
    }
  }
}
const benchFailed = Number(benchStatus) !== 0 ? 1 : 0
console.log(
  `${passed} passed, ${failed + benchFailed} failed${skipped ? `, ${skipped} skipped` : ''}`,
)
process.exit(failed || skipped || benchFailed || Number(testStatus) !== 0 ? 1 : 0)
