// The config module's contracts: the parsed, frozen Config every other module receives.
import type * as z from 'zod';
import type { ALERT_CHANNELS, configSchema, LOG_LEVELS } from './schema.js';

/** Readonly all the way down, matching the runtime `Object.freeze` of a loaded config. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** What the schema produces, before freezing. */
export type ParsedConfig = z.output<typeof configSchema>;

/** A validated config with every default filled in; deeply frozen. */
export type Config = DeepReadonly<ParsedConfig>;

export type DatabaseConfig = Config['databases'][number];
export type StandbyConfig = DatabaseConfig['standbys'][number];
export type StorageConfig = Config['storage'];
export type S3Config = NonNullable<StorageConfig['s3']>;
export type GcsConfig = NonNullable<StorageConfig['gcs']>;
export type LocalStorageConfig = NonNullable<StorageConfig['local']>;
export type EncryptionConfig = NonNullable<Config['encryption']>;
export type EncryptionKeyConfig = NonNullable<EncryptionConfig['keys']>[number];
export type KmsConfig = NonNullable<EncryptionConfig['kms']>;
export type SchedulesConfig = Config['schedules'];
export type RetentionConfig = Config['retention'];
export type BackupConfig = Config['backup'];
export type ServerConfig = Config['server'];
export type AlertsConfig = Config['alerts'];
export type ChannelsConfig = Config['channels'];
export type AlertChannel = (typeof ALERT_CHANNELS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ParseConfigOptions {
  /** Where `${VAR}` and `VAR_FILE` are looked up; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The directory relative paths (local storage, `*_FILE` keys) are resolved from; defaults to the cwd. */
  baseDir?: string;
  /** Named in error messages, e.g. the config file's path. */
  source?: string;
}

/** One thing wrong with the config, at a field path such as `['databases', 0, 'url']`. */
export interface ConfigProblem {
  path: readonly PropertyKey[];
  message: string;
}
