// Prints the closing line of CI ("N passed, N failed") from vitest's JSON report, and fails the
// run when a test failed, was skipped (integration tests must never be skipped silently), or when
// vitest, the benchmark smoke run or the packed-install job exited non-zero, or the Redis Cluster
// tests did not run.
import { readFileSync } from 'node:fs'

const [file, testStatus, benchStatus, packedStatus = '0'] = process.argv.slice(2)
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
// the `cluster` project (a local Redis Cluster) must have run: its own files end in .cluster.test.ts
const clusterMissing = report.testResults.some((suite) => suite.name.endsWith('.cluster.test.ts'))
  ? 0
  : 1
if (clusterMissing) console.error('the Redis Cluster tests (vitest project "cluster") did not run')
const benchFailed = Number(benchStatus) !== 0 ? 1 : 0
const packedFailed = Number(packedStatus) !== 0 ? 1 : 0
if (packedFailed) console.error('the packed-install job failed (scripts/packed-install.sh)')
const jobsFailed = benchFailed + packedFailed + clusterMissing
console.log(
  `${passed} passed, ${failed + jobsFailed} failed${skipped ? `, ${skipped} skipped` : ''}`,
)
process.exit(failed || skipped || jobsFailed || Number(testStatus) !== 0 ? 1 : 0)
