/**
 * `@siglip-batch/pipeline/start-up-errors`: the errors every command's exit code is chosen by,
 * an entry of its own so that the producer's start-up path (its `--help` and `--version`) loads
 * none of the rest of the lib.
 */
export { ConfigError } from './config-error';
export { RedisUnreachableError } from './redis-unreachable-error';
