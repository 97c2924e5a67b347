/**
 * Revocation: the embedded memory list, the distributed list (Redis + PostgreSQL), its PostgreSQL
 * source and the expiry sweep. Re-exported by the core entry.
 */

export {
  SWEEP_QUERIES,
  type SweepOptions,
  type SweepResult,
  sweepExpiredRevocations,
} from '../sweep.js'
export {
  createRevocationList,
  type DistributedRevocationList,
  type RevocationListState,
} from './distributed.js'
export {
  REVOCATION_LIST_DEFAULTS,
  type RevocationListOptions,
  type RevocationMode,
  type RevocationOperation,
} from './list-options.js'
export {
  type PostgresRevocationSourceOptions,
  postgresRevocationSource,
  REVOCATION_STATEMENTS,
  REVOCATIONS_LIVE_QUERY,
  REVOCATIONS_PAGE_QUERY,
  REVOKE_QUERY,
  type RevocationCursor,
  type RevocationPage,
  type RevocationSource,
} from './postgres.js'
