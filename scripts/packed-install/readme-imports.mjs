// The READMEs agree with the tarballs: every value a README imports from @authframework/* (in
// its code blocks) is exported by the installed package. Runs in the app, after npm install;
// arguments: further README files to check (the repository's own).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const readmes = [
  ...readdirSync('node_modules/@authframework').map((name) =>
    join('node_modules/@authframework', name, 'README.md'),
  ),
  ...process.argv.slice(2),
]
const IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(@authframework\/[a-z/]+)'/g
const problems = []
let checked = 0
for (const file of readmes) {
  const text = readFileSync(file, 'utf8')
  const code = [...text.matchAll(/```(?:ts|js|typescript)\n([\s\S]*?)```/g)].map((m) => m[1])
  for (const block of code) {
    for (const [, typeOnly, names, specifier] of block.matchAll(IMPORT)) {
      if (typeOnly) continue
      let module
      try {
        module = await import(specifier)
      } catch (error) {
        problems.push(`${file}: ${specifier} cannot be imported (${error.code ?? error.message})`)
        continue
      }
      for (const raw of names.split(',')) {
        const name = raw.trim().split(/\s+as\s+/)[0]
        if (name === '' || name.startsWith('type ')) continue
        checked++
        if (!(name in module)) problems.push(`${file}: ${specifier} exports no ${name}`)
      }
    }
  }
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`readme: ${problem}`)
  process.exit(1)
}
console.log(`READMEs: ${checked} imported names, all exported (${readmes.length} files)`)
