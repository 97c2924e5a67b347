export {
  type Adapter,
  type AdapterInput,
  type AdapterOptions,
  type AdapterSetup,
  createAdapter,
  type FrameworkHooks,
  type MiddlewareOptions,
  type Next,
  type PrebuiltAuthOptions,
  setupAdapter,
} from './adapter.js'
export { type AuditSink, type AuditSinkOptions, createAuditSink } from './audit/sink.js'
export { type Auth, CHANNELS, createAuth } from './authenticate.js'
export {
  DpopNonceRequiredError,
  DpopProofInvalidError,
  DpopRequiredError,
} from './dpop/errors.js'
export type { DpopReplayStore } from './dpop/replay.js'
export { requireDpop } from './dpop/require.js'
export {
  AuthError,
  type AuthErrorCode,
  type AuthenticationRequirements,
  type AuthFailure,
  AuthUnavailableError,
  CredentialsInvalidError,
  CredentialsMissingError,
  type DpopChallengeOptions,
  InsufficientUserAuthenticationError,
  InvalidRequestError,
  isAuthError,
  PermissionDeniedError,
  SessionInvalidError,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
  TokenRevokedError,
  TooManyAttemptsError,
  UserInactiveError,
} from './errors.js'
export { type BasicCredentials, parseBasic } from './extract/basic.js'
export {
  bearerChallenge,
  dpopChallenge,
  ERROR_TABLE,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
} from './http.js'
export * from './infra/index.js'
export * from './introspection/index.js'
export type { SecurityLogger } from './logging.js'
export * from './login/index.js'
export type {
  InfrastructureComponents,
  InfrastructureSnapshot,
  RedisLayerHealth,
  WatchedRedisLayer,
  WatchedRevocationList,
} from './metrics/health.js'
export { INFRASTRUCTURE_METRICS } from './metrics/health-prometheus.js'
export type { HistogramSnapshot } from './metrics/histogram.js'
export {
  type AuthMetrics,
  type AuthMetricsSnapshot,
  createMetrics,
  type Dependency,
  type Outcome,
} from './metrics/metrics.js'
export {
  type MetricFamily,
  type MetricSample,
  metricFamilies,
  PROMETHEUS_BUCKETS,
  type PromRegistry,
  prometheusText,
  registerPrometheusMetrics,
} from './metrics/prometheus.js'
export {
  type Authenticate,
  type Authorize,
  createMiddlewareKit,
  type MiddlewareArgs,
  type MiddlewareKit,
} from './middleware-kit.js'
export type { CertificateHeaderFormat } from './mtls/forwarded.js'
export { certificateThumbprint } from './mtls/thumbprint.js'
export {
  DEFAULT_DPOP_ALGORITHMS,
  DPOP_ALGORITHMS,
  type DpopAlgorithm,
  type DpopOptions,
  type DpopReplayOptions,
} from './options/dpop.js'
export {
  type AuthOptions,
  type BasicUser,
  type BasicVerify,
  type IssuerOptions,
  type IssuerResolver,
  type MtlsOptions,
  OPTION_NAMES,
  type PermissionMerge,
  type PermissionsClaim,
} from './options/types.js'
export type {
  ChainableCommander as RedisBatch,
  Pool as PgPool,
  PoolClient as PgPoolClient,
  PoolConfig as PgPoolConfig,
  PostgresPool,
  QueryResult as PgQueryResult,
  RedisClient,
  RedisCluster,
} from './peer-types.js'
export {
  chainGuards,
  createGuard,
  type Guard,
  type GuardEnvironment,
} from './permissions/guard.js'
export { compileGrants, type GrantSet } from './permissions/match.js'
export {
  allOf,
  anyOf,
  type CompiledRequirement,
  compileRequirement,
  not,
  type Predicate,
  type Requirement,
} from './permissions/predicates.js'
export { createStepUpGuard, type StepUpOptions } from './permissions/step-up.js'
export * from './permissions/store/index.js'
export {
  type FetchRequestHead,
  fetchRequestLike,
  type NodeRequestLike,
  type NodeSocketLike,
  requestInput,
  urlPath,
} from './request.js'
export { type ErrorResponse, errorResponse } from './response.js'
export type { RevokeTarget } from './revocation/entry.js'
export * from './revocation/index.js'
export { createMemoryRevocationList, type MemoryRevocationOptions } from './revocation/memory.js'
export * from './sessions/index.js'
export { createPathMatcher, type PathRule } from './skip.js'
export { type Algorithm, SUPPORTED_ALGORITHMS } from './token/algorithms.js'
export { parseCompact } from './token/compact.js'
export { COMPRESSED_PREFIX, decodeCompressed } from './token/compressed.js'
export type { RemoteKeySetOptions } from './token/jwks.js'
export type { KeyInput, PublicKeyInput, SecretInput } from './token/keys.js'
export {
  createSigner,
  generateSigningKey,
  jwkThumbprint,
  KEYGEN_ALGORITHMS,
  type SignClaims,
  type Signer,
  type SignerOptions,
} from './token/sign.js'
export type {
  AuthClaims,
  AuthContext,
  ClaimsOf,
  Clock,
  PermissionRecord,
  PermissionSource,
  RequestInput,
  RevocationEntry,
  RevocationList,
  RevocationSubject,
  SessionRecord,
  SessionSource,
  TokenIntrospector,
} from './types.js'
export { isPromise, type MaybePromise } from './util.js'
