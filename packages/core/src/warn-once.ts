/**
 * What a warning may say about an error: its `code` or `name`, never its message (a driver's
 * message can carry a connection URL with a password).
 */
export function errorKind(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown } | null
  return String(e?.code ?? e?.name ?? 'error')
}

/**
 * A process-warning reporter that speaks once per cause (`key`), so a dependency that keeps
 * failing does not flood the log. The default `onError` of the stores and of the revocation list.
 *
 * @example
 * const warn = createWarnOnce('AUTHFRAMEWORK_LAYER_FAILURE')
 * warn('redis:read', error, (kind) => `the redis layer failed on read (${kind}).`)
 */
export function createWarnOnce(
  code: string,
): (key: string, error: unknown, message: (kind: string) => string) => void {
  const warned = new Set<string>()
  return (key, error, message) => {
    if (warned.has(key)) return
    warned.add(key)
    process.emitWarning(
      `${message(errorKind(error))} Further failures of this kind are not reported.`,
      { code },
    )
  }
}

/**
 * A caller's `onError` made safe to call from background work: what it throws is swallowed. When
 * there is none, a process warning once per cause (`key(context)`), worded by `message`.
 *
 * @example
 * const report = safeReporter(options.onError, 'AUTHFRAMEWORK_LAYER_FAILURE', {
 *   key: ({ layer, operation }) => `${layer}:${operation}`,
 *   message: ({ layer, operation }, kind) => `the ${layer} layer failed on ${operation} (${kind}).`,
 * })
 * report(error, { layer: 'redis', operation: 'read' })
 */
export function safeReporter<C>(
  onError: ((error: unknown, context: C) => void) | undefined,
  code: string,
  warning: {
    readonly key: (context: C) => string
    readonly message: (context: C, kind: string) => string
  },
): (error: unknown, context: C) => void {
  const warn = createWarnOnce(code)
  const report =
    onError ??
    ((error: unknown, context: C) =>
      warn(warning.key(context), error, (kind) => warning.message(context, kind)))
  return (error, context) => {
    try {
      report(error, context)
    } catch {
      // A failing reporter must not fail the work it reports on.
    }
  }
}
