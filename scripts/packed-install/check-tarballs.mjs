// Checks what `pnpm pack` put into each tarball: built JavaScript, declarations and source maps
// for every export, the README and the LICENSE, no `workspace:` range and no `.ts` entry point.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const [dir, licenseFile] = process.argv.slice(2)
const license = readFileSync(licenseFile, 'utf8')
const problems = []
const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'))
if (tarballs.length !== 7) problems.push(`expected 7 tarballs, found ${tarballs.length}`)

function targets(value) {
  if (typeof value === 'string') return [value]
  if (value === null || typeof value !== 'object') return []
  return Object.values(value).flatMap(targets)
}

for (const tarball of tarballs) {
  const path = join(dir, tarball)
  const files = new Set(
    execFileSync('tar', ['tzf', path], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, '')),
  )
  const read = (file) =>
    execFileSync('tar', ['xzOf', path, `package/${file}`], { encoding: 'utf8' })
  const pkg = JSON.parse(read('package.json'))
  const fail = (message) => problems.push(`${pkg.name}: ${message}`)
  for (const field of ['repository', 'homepage', 'bugs', 'keywords', 'license', 'engines']) {
    if (pkg[field] === undefined) fail(`no "${field}"`)
  }
  if (!files.has('README.md')) fail('no README.md')
  if (!files.has('LICENSE')) fail('no LICENSE')
  else if (read('LICENSE') !== license) fail('LICENSE differs from the Apache-2.0 text at the root')
  for (const kind of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, range] of Object.entries(pkg[kind] ?? {})) {
      if (String(range).startsWith('workspace:')) fail(`${kind}.${name} is ${range}`)
    }
  }
  const entries = [...targets(pkg.exports), ...targets(pkg.bin), pkg.main, pkg.types].filter(
    Boolean,
  )
  if (entries.length === 0) fail('no entry point')
  for (const entry of entries) {
    const file = entry.replace(/^\.\//, '')
    if (/\.(c|m)?ts$/.test(file) && !/\.d\.(c|m)?ts$/.test(file))
      fail(`entry point ${entry} is TypeScript`)
    if (!files.has(file)) fail(`entry point ${entry} is not in the tarball`)
    if (file.endsWith('.js') && !files.has(`${file}.map`)) fail(`no source map for ${entry}`)
  }
  if (pkg.exports) {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target !== 'object' || Object.keys(target)[0] !== 'types') {
        fail(`exports["${subpath}"] must list "types" first`)
      }
    }
  }
  console.log(`${pkg.name}@${pkg.version}: ${files.size} files`)
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`tarball: ${problem}`)
  process.exit(1)
}
