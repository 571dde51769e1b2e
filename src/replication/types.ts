// Contracts of the replication probe: what the primary says about each standby, what a standby says about
// itself, and how one standby's failure is reported without failing the others.

/** A standby as configured: its name is the application_name it connects to the primary with. */
export interface StandbyTarget {
  name: string;
  /** A connection to the standby itself, for its own view (replay delay, paused). Optional. */
  url?: string | undefined;
}

export interface ProbeReplicationOptions {
  /** Per connection; default 5 s. */
  connectTimeoutMs?: number;
  /** statement_timeout of the probe's queries; default 5 s. */
  queryTimeoutMs?: number;
  /** application_name of the probe's own connections; default `pgwarden-probe`. */
  applicationName?: string;
}

/** One row of the primary's pg_stat_replication. */
export interface PrimaryView {
  pid: number;
  /** startup | catchup | streaming | backup | stopping; null when the role may not see the details. */
  state: string | null;
  syncState: string | null;
  clientAddr: string | null;
  sentLsn: string | null;
  writeLsn: string | null;
  flushLsn: string | null;
  replayLsn: string | null;
  /**
   * The primary's write_lag / flush_lag / replay_lag in seconds. PostgreSQL shows NULL once a standby
   * has caught up and the primary is idle: that is reported as 0. null only when the standby has not
   * reported any position yet (lag unknown).
   */
  writeLagSeconds: number | null;
  flushLagSeconds: number | null;
  replayLagSeconds: number | null;
  /** pg_wal_lsn_diff(current WAL position, replay_lsn): WAL the standby has not replayed yet. */
  replayLagBytes: number | null;
  /** When the primary last heard from the standby. */
  replyTime: Date | null;
}

/** The standby's own view, read on the standby. */
export interface StandbyView {
  /** false: the server at the standby URL is not in recovery (promoted, or the wrong server). */
  inRecovery: boolean;
  receiveLsn: string | null;
  replayLsn: string | null;
  /** Commit time (on the primary) of the last transaction the standby replayed. */
  lastReplayAt: Date | null;
  replayPaused: boolean;
  /**
   * How far behind the standby's data is, in seconds. The rule:
   * - received WAL not yet replayed (receive LSN > replay LSN): now() − pg_last_xact_replay_timestamp(),
   *   so the figure grows for as long as replay is paused or slow while the primary keeps writing;
   * - everything received is replayed: 0 (an idle primary commits nothing, so the last commit's age
   *   says nothing about lag);
   * - null when unknown: not in recovery, nothing streamed (no receive LSN), or no transaction replayed
   *   since the standby started.
   * Caveat: the first WAL after a long idle period makes it jump to the age of the last commit until
   * that WAL is replayed, usually within one probe.
   */
  replayDelaySeconds: number | null;
  /** pg_wal_lsn_diff(receive, replay), at least 0: received and waiting to be replayed. */
  unreplayedBytes: number | null;
}

export interface StandbyReport {
  name: string;
  /** Listed in the config (false: connected to the primary but not configured). */
  configured: boolean;
  /**
   * Listed in the primary's pg_stat_replication. null when the primary could not be asked (then the
   * primary's error says why): unknown, not "disconnected".
   */
  connected: boolean | null;
  primary: PrimaryView | null;
  standby: StandbyView | null;
  /** Why the standby's own view is missing although a URL is configured. */
  standbyError: string | null;
  /**
   * The headline lag in seconds: the larger of the primary's replay_lag and the standby's replay
   * delay, whichever are known; null when neither is, and whenever the primary does not list the
   * standby (its own view would then read "caught up" while it receives nothing).
   */
  lagSeconds: number | null;
  /** The primary's replayLagBytes. */
  lagBytes: number | null;
}

export interface ReplicationReport {
  checkedAt: Date;
  /** The primary could not be asked (unreachable, or the role cannot read pg_stat_replication's details). */
  primaryError: string | null;
  /** The primary is itself a standby (cascading replication): lag bytes are against its replay position. */
  primaryInRecovery: boolean | null;
  /** Standbys listed by the primary (configured or not); null when the primary could not be asked. */
  connectedCount: number | null;
  /** Configured standbys first, in config order, then connected standbys that are not configured. */
  standbys: StandbyReport[];
}
