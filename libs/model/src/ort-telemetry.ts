/**
 * ONNX Runtime ≥ 1.29 on Linux and macOS collects usage telemetry for Microsoft when it creates
 * its environment: it keeps a device identifier and an SQLite event cache under
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` and uploads events over HTTPS, unless
 * `ORT_DISABLE_TELEMETRY=1` is in the process environment by then. A batch pipeline over private
 * buckets does not do that by default: this sets the variable when it is not set.
 * `ORT_DISABLE_TELEMETRY=0` (or any other value the user sets) is left as it is.
 *
 * Runs on the main thread before the inference thread starts: ONNX Runtime reads the process
 * environment itself, and only the main thread's `process.env` writes it (a worker thread's is a
 * copy of its own).
 */
export function turnOffOrtTelemetryUnlessSet(env: NodeJS.ProcessEnv = process.env): void {
  if (env['ORT_DISABLE_TELEMETRY'] === undefined) env['ORT_DISABLE_TELEMETRY'] = '1';
}
