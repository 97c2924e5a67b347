/** A public path: exact (`/health`), a prefix ending in `/*` (`/public/*`), or a RegExp. */
export type PathRule = string | RegExp

/**
 * Compiles the `unless` paths of the Express and Koa middleware into one predicate over the
 * request path (without the query string). Exact paths are a `Set` lookup.
 *
 * @example
 * const isPublic = createPathMatcher(['/health', '/docs/*'])
 * isPublic('/docs/intro') // true
 */
export function createPathMatcher(rules: readonly PathRule[]): (path: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  const patterns: RegExp[] = []
  for (const rule of rules) {
    if (rule instanceof RegExp) patterns.push(rule)
    else if (typeof rule === 'string' && rule.startsWith('/')) {
      if (rule.endsWith('/*')) prefixes.push(rule.slice(0, -1))
      else exact.add(rule)
    } else
      throw new TypeError(
        `unless: ${JSON.stringify(rule)} is not a path starting with "/" or a RegExp`,
      )
  }
  return (path) => {
    if (exact.has(path)) return true
    for (const prefix of prefixes) if (path.startsWith(prefix)) return true
    for (const pattern of patterns) {
      pattern.lastIndex = 0
      if (pattern.test(path)) return true
    }
    return false
  }
}
