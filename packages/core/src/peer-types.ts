/**
 * What the core accepts from its optional peers (ioredis, pg, pg-pool), as structural types of its
 * own: the published declarations then need none of them installed, even with
 * `skipLibCheck: false`. An ioredis `Redis`, a `pg.Pool` and a pg-pool `Pool` satisfy them
 * (test/types.test-d.ts checks it). The names are those of the peers, so that a module switches by
 * its import line alone.
 */
import type { ConnectionOptions } from 'node:tls'

/** A queued command's answer, as ioredis' `exec()` gives it; `null` when a MULTI was aborted. */
export type RedisExecResult = [error: Error | null, result: unknown][] | null

/** An ioredis pipeline or MULTI (`ChainableCommander`): the commands the core queues. */
export interface ChainableCommander {
  get(key: string): ChainableCommander
  mget(...keys: string[]): ChainableCommander
  set(key: string, value: string | number): ChainableCommander
  set(key: string, value: string | number, mode: 'EX', ttl: number): ChainableCommander
  set(key: string, value: string | number, mode: 'PX', ttl: number): ChainableCommander
  set(key: string, value: string | number, mode: 'EX', ttl: number, nx: 'NX'): ChainableCommander
  set(key: string, value: string | number, mode: 'PX', ttl: number, nx: 'NX'): ChainableCommander
  del(...keys: string[]): ChainableCommander
  incr(key: string): ChainableCommander
  pttl(key: string): ChainableCommander
  publish(channel: string, message: string): ChainableCommander
  eval(script: string, numKeys: number, ...args: (string | number)[]): ChainableCommander
  exec(): Promise<RedisExecResult>
}

/**
 * The commands and events the core uses on a Redis connection, a single client or a Cluster alike:
 * every command names its keys, so that a Cluster routes it to the node of its slot.
 */
export interface RedisCommands {
  /** ioredis' connection state: `'ready'` once commands can be sent. */
  readonly status: string
  readonly options?:
    | {
        readonly enableOfflineQueue?: boolean | undefined
        /** A Cluster node's address, as ioredis names it in `slots` (`host:port`). */
        readonly host?: string | undefined
        readonly port?: number | undefined
      }
    | undefined
  get(key: string): Promise<string | null>
  mget(keys: string[]): Promise<(string | null)[]>
  mget(...keys: string[]): Promise<(string | null)[]>
  set(key: string, value: string | number): Promise<'OK'>
  set(key: string, value: string | number, mode: 'EX', ttl: number): Promise<'OK'>
  set(key: string, value: string | number, mode: 'PX', ttl: number): Promise<'OK'>
  set(key: string, value: string | number, mode: 'EX', ttl: number, nx: 'NX'): Promise<'OK' | null>
  set(key: string, value: string | number, mode: 'PX', ttl: number, nx: 'NX'): Promise<'OK' | null>
  del(...keys: string[]): Promise<number>
  exists(...keys: string[]): Promise<number>
  publish(channel: string, message: string): Promise<number>
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  evalsha(sha1: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  multi(): ChainableCommander
  pipeline(): ChainableCommander
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'ready' | 'close' | 'end' | 'connect', listener: () => void): unknown
  once(event: 'ready' | 'close' | 'end' | 'connect', listener: () => void): unknown
  /** Connects a client made with `lazyConnect` (status `'wait'`). */
  connect?(): Promise<void>
  /** `true`: close the connection and reconnect at once (a stalled connection is replaced). */
  disconnect(reconnect?: boolean): void
}

/** An ioredis client (`new Redis(url, options)`): one connection to one Redis server. */
export interface Redis extends RedisCommands {
  subscribe(...channels: string[]): Promise<unknown>
  /** Also sent on a subscribed connection, as its heartbeat. */
  ping(): Promise<unknown>
  /** A new connection with the same options, overridden by `options`. */
  duplicate(options?: {
    readonly enableOfflineQueue?: boolean
    readonly maxRetriesPerRequest?: number | null
    readonly lazyConnect?: boolean
    readonly commandTimeout?: number | undefined
    readonly autoResubscribe?: boolean
    readonly disableClientInfo?: boolean
  }): Redis
}

/**
 * An ioredis Cluster (`new Cluster(startupNodes, options)`): commands go to the node that serves
 * their keys' slot; a command, a MULTI or a Lua script must keep its keys within one slot, and a
 * pipeline within one node.
 */
export interface RedisCluster extends RedisCommands {
  /** `true` on a Cluster (an ioredis client says `false`). */
  readonly isCluster: boolean
  /** The connections to the nodes ioredis knows now (masters and replicas). */
  nodes(role?: 'all' | 'master' | 'slave'): Redis[]
  /** Per slot, the nodes (`host:port`) that serve it, master first; empty before the first refresh. */
  readonly slots: ReadonlyArray<ReadonlyArray<string> | undefined>
}

/** What every Redis user of the core accepts: an ioredis client or an ioredis Cluster. */
export type RedisClient = Redis | RedisCluster

/** The answer of a query: pg's `QueryResult`. */
export interface QueryResult<R = Record<string, unknown>> {
  readonly rows: R[]
  readonly rowCount: number | null
}

/** A query with a name (a prepared statement), as pg takes it. */
export interface QueryConfig {
  readonly name?: string | undefined
  readonly text: string
  readonly values?: unknown[] | undefined
}

/** A connection checked out of a pool: pg's `PoolClient`. */
export interface PoolClient {
  // biome-ignore lint/suspicious/noExplicitAny: pg's own row default, so that pg's types fit
  query<R extends Record<string, any> = Record<string, unknown>>(
    config: QueryConfig,
  ): Promise<QueryResult<R>>
  // biome-ignore lint/suspicious/noExplicitAny: pg's own row default, so that pg's types fit
  query<R extends Record<string, any> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>>
  release(error?: Error | boolean): void
  /** Held connections: a socket failure is emitted here (the pool listens only while idle). */
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** A `pg.Pool` or a pg-pool `Pool`: the calls the core makes. */
export interface Pool {
  // biome-ignore lint/suspicious/noExplicitAny: pg's own row default, so that pg's types fit
  query<R extends Record<string, any> = Record<string, unknown>>(
    config: QueryConfig,
  ): Promise<QueryResult<R>>
  // biome-ignore lint/suspicious/noExplicitAny: pg's own row default, so that pg's types fit
  query<R extends Record<string, any> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>>
  connect(): Promise<PoolClient>
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** A pool the core created (`createPostgresPool`): a `pg.Pool`, typed by what the core knows of it. */
export interface PostgresPool extends Pool {
  readonly options: PoolConfig
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

/** The pool options of pg (`PoolConfig`) the core knows; any of them may be given. */
export interface PoolConfig {
  connectionString?: string | undefined
  host?: string | undefined
  port?: number | undefined
  user?: string | undefined
  database?: string | undefined
  password?: string | (() => string | Promise<string>) | undefined
  ssl?: boolean | ConnectionOptions | undefined
  options?: string | undefined
  application_name?: string | undefined
  keepAlive?: boolean | undefined
  keepAliveInitialDelayMillis?: number | undefined
  statement_timeout?: false | number | undefined
  query_timeout?: number | undefined
  lock_timeout?: number | undefined
  idle_in_transaction_session_timeout?: number | undefined
  connectionTimeoutMillis?: number | undefined
  max?: number | undefined
  min?: number | undefined
  idleTimeoutMillis?: number | undefined | null
  allowExitOnIdle?: boolean | undefined
  maxUses?: number | undefined
  maxLifetimeSeconds?: number | undefined
}
