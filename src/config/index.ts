// The config module's public API: load and validate a config file, and print it without secrets.
export { cronProblem } from './cron.js';
export { parseDuration } from './duration.js';
export { loadConfig, parseConfig } from './load.js';
export { REDACTED, redactConfig, redactUrl, scrubSecrets, secretValues } from './redact.js';
export { ALERT_CHANNELS, configSchema, LOG_LEVELS } from './schema.js';
export type * from './types.js';
