/**
 * The strong check of the fault suite (issue 6): "nothing lost, nothing doubled", decided from
 * the store alone, the way a reader trusts a run (through its manifest):
 *
 * - the manifest lists exactly the part and errors files that exist for the planned shards,
 *   and nothing outside the plan;
 * - its row counts equal the rows in those files (DuckDB over exactly the listed files);
 * - every planned object has exactly one row across part and errors files;
 * - no part row has a null embedding;
 * - objects inferred (the run record's `inferred` counter) ≤ objects ok + objects of shards
 *   that needed more than one attempt (stats `attempt` > 1): the work amplification bound.
 *
 * Each scenario records a row (scenario, result, lost, duplicated, amplification) under
 * `.test-output/fault-report/`; `test/fault-zz-report.test.ts` prints the table.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { planFileSchema, runManifestSchema, shardStatsSchema, type RunManifest, type ShardStats } from '@siglip-batch/jobs';
import { manifestFiles, type ListedFile, type ManifestFiles } from './run-files';
import { REPO_ROOT } from './cli';

export const REPORT_DIR = join(REPO_ROOT, '.test-output', 'fault-report');

export interface RunCheck {
  manifest: RunManifest;
  /** The files it lists (its file table). */
  files: ManifestFiles;
  /** Planned objects (rows the run must have). */
  planned: number;
  /** Planned objects without a row. */
  lost: number;
  /** Rows beyond one per planned object (including rows of objects that were never planned). */
  duplicated: number;
  ok: number;
  error: number;
  /** Objects sent to inference (Redis counter). */
  inferred: number;
  /**
   * Objects run again by later executions of their shard: Σ planned × (attempt − 1) over the
   * stats. Each execution infers an object at most once, so inferred ≤ ok + this; a shard on its
   * third execution counts its objects twice.
   */
  retriedObjects: number;
  /** inferred / ok (1 = no object embedded twice). */
  amplification: number;
  /** Every stats object, by shard. */
  stats: ShardStats[];
  /** Error rows as uri → error_code. */
  errorCodes: Map<string, string>;
  /** Part rows as uri → sha256 and embedding rounded to 5 decimals (to compare runs). */
  fingerprints: Map<string, string>;
  /** Every violation found; empty when the run is right. */
  problems: string[];
}

export interface CheckRunOptions {
  s3: S3Client;
  bucket: string;
  /** Key prefix of the run folder, ending in `/`, e.g. `out/run-1/`. */
  runPrefix: string;
  /** The run record's `inferred` counter; omitted: the amplification bound is not checked. */
  inferred?: number;
  /**
   * Images the counter may have counted twice without being inferred twice: across a Redis
   * restart, ioredis resends a command whose reply was lost, and an HINCRBY Redis had applied
   * (and kept, with AOF) is applied again. At most one batch per worker is in flight.
   * @defaultValue 0
   */
  inferredSlack?: number;
  /** When given, the planned URIs must be exactly these. */
  expectedUris?: string[];
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return response.Body!.transformToString();
}

async function readBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return response.Body!.transformToByteArray();
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** Runs one query over a fresh in-memory DuckDB. */
export async function duck<T>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

export const sqlFiles = (paths: string[]) => `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}]`;

/** The strong check of one finished run; see the file comment. */
export async function checkRun(options: CheckRunOptions): Promise<RunCheck> {
  const { s3, bucket, runPrefix } = options;
  const problems: string[] = [];
  const keys = await listKeys(s3, bucket, runPrefix);
  const rel = keys.map((key) => key.slice(runPrefix.length));
  const manifest = runManifestSchema.parse(JSON.parse(await readText(s3, bucket, `${runPrefix}_manifest.json`)));
  const files = await manifestFiles(manifest, (key) => readBytes(s3, bucket, runPrefix + key));

  // The plan: every planned URI, with its multiplicity (a manifest source may repeat one).
  const planKeys = rel.filter((key) => /^_plan\/\d{8}\.json$/.test(key)).sort();
  const plannedCount = new Map<string, number>();
  let planned = 0;
  for (const key of planKeys) {
    const plan = planFileSchema.parse(JSON.parse(await readText(s3, bucket, runPrefix + key)));
    for (const object of plan.objects) {
      plannedCount.set(object.uri, (plannedCount.get(object.uri) ?? 0) + 1);
      planned++;
    }
  }
  const shards = planKeys.length;
  // The planned shard ids: 0 … n−1 for a run of one listing, a block per planning unit otherwise.
  const plannedShards = new Set(planKeys.map((key) => Number(/(\d{8})\.json$/.exec(key)![1])));
  if (manifest.shards !== shards) problems.push(`manifest says ${manifest.shards} shards, the store holds ${shards} plans`);
  if (manifest.counts.planned !== planned) problems.push(`manifest says ${manifest.counts.planned} planned, the plans hold ${planned}`);
  if (options.expectedUris) {
    const expected = [...options.expectedUris].sort();
    const actual = [...plannedCount.keys()].sort();
    if (JSON.stringify(expected) !== JSON.stringify(actual)) problems.push(`planned URIs differ from the expected ones (${actual.length} vs ${expected.length})`);
  }

  // Listed files = existing files of planned shards; nothing outside the plan.
  const shardOf = (key: string) => Number(/(\d{8})\.parquet$/.exec(key)![1]);
  for (const kind of ['part', 'errors'] as const) {
    const existing = rel.filter((key) => new RegExp(`^${kind === 'part' ? 'parts' : 'errors'}/${kind}-\\d{8}\\.parquet$`).test(key)).sort();
    const listed = (kind === 'part' ? files.parts : files.errors).map((file) => file.key).sort();
    for (const key of existing) {
      if (!plannedShards.has(shardOf(key))) problems.push(`${key} exists outside the plan (${shards} shards)`);
      if (!listed.includes(key)) problems.push(`${key} exists but the manifest does not list it`);
    }
    for (const key of listed) {
      if (!existing.includes(key)) problems.push(`the manifest lists ${key}, which does not exist`);
      if (!plannedShards.has(shardOf(key))) problems.push(`the manifest lists ${key}, outside the plan`);
    }
  }

  // Rows, through DuckDB over exactly the listed files.
  const work = mkdtempSync(join(tmpdir(), 'fault-check-'));
  const rowCount = new Map<string, number>();
  const errorCodes = new Map<string, string>();
  const fingerprints = new Map<string, string>();
  try {
    const download = async (key: string) => {
      const path = join(work, key.replaceAll('/', '_'));
      writeFileSync(path, await readBytes(s3, bucket, runPrefix + key));
      return path;
    };
    const partPaths = await Promise.all(files.parts.map((file) => download(file.key)));
    const errorPaths = await Promise.all(files.errors.map((file) => download(file.key)));
    const countsByFile = async (paths: string[], listed: ListedFile[]) => {
      if (paths.length === 0) return;
      const rows = await duck<{ filename: string; n: number | bigint }>(
        `SELECT filename, count(*) AS n FROM read_parquet(${sqlFiles(paths)}, filename = true) GROUP BY filename`,
      );
      const byFile = new Map(rows.map((row) => [row.filename, Number(row.n)]));
      listed.forEach((file, i) => {
        const actual = byFile.get(paths[i]!) ?? 0;
        if (actual !== file.rows) problems.push(`${file.key}: manifest says ${file.rows} rows, the file has ${actual}`);
      });
    };
    await countsByFile(partPaths, files.parts);
    await countsByFile(errorPaths, files.errors);
    if (partPaths.length > 0) {
      const [nulls] = await duck<{ n: number | bigint }>(`SELECT count(*) AS n FROM read_parquet(${sqlFiles(partPaths)}) WHERE embedding IS NULL`);
      if (Number(nulls!.n) > 0) problems.push(`${Number(nulls!.n)} part rows have a null embedding`);
      for (const row of await duck<{ uri: string; sha256: string; embedding: number[] }>(`SELECT uri, sha256, embedding FROM read_parquet(${sqlFiles(partPaths)})`)) {
        rowCount.set(row.uri, (rowCount.get(row.uri) ?? 0) + 1);
        fingerprints.set(row.uri, `${row.sha256}:${row.embedding.map((v) => v.toFixed(5)).join(',')}`);
      }
    }
    if (errorPaths.length > 0) {
      for (const row of await duck<{ uri: string; error_code: string }>(`SELECT uri, error_code FROM read_parquet(${sqlFiles(errorPaths)})`)) {
        rowCount.set(row.uri, (rowCount.get(row.uri) ?? 0) + 1);
        errorCodes.set(row.uri, row.error_code);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  let lost = 0;
  let duplicated = 0;
  for (const [uri, want] of plannedCount) {
    const have = rowCount.get(uri) ?? 0;
    if (have < want) lost += want - have;
    if (have > want) duplicated += have - want;
  }
  for (const [uri, have] of rowCount) if (!plannedCount.has(uri)) duplicated += have;
  if (lost > 0) problems.push(`${lost} planned objects have no row`);
  if (duplicated > 0) problems.push(`${duplicated} rows beyond one per planned object`);
  const ok = files.parts.reduce((n, file) => n + file.rows, 0);
  const error = files.errors.reduce((n, file) => n + file.rows, 0);
  if (manifest.counts.ok !== ok || manifest.counts.error !== error) {
    problems.push(`manifest counts ${manifest.counts.ok} ok / ${manifest.counts.error} error, its files ${ok} / ${error}`);
  }

  // Work amplification.
  const stats: ShardStats[] = [];
  for (const key of rel.filter((k) => /^_stats\/\d{8}\.json$/.test(k))) {
    stats.push(shardStatsSchema.parse(JSON.parse(await readText(s3, bucket, runPrefix + key))));
  }
  if (stats.length !== shards) problems.push(`${stats.length} stats objects for ${shards} planned shards`);
  const retriedObjects = stats.reduce((n, s) => n + s.planned * (s.attempt - 1), 0);
  const inferred = options.inferred ?? ok;
  if (options.inferred !== undefined) {
    if (inferred < ok) problems.push(`only ${inferred} objects inferred for ${ok} embedded`);
    if (inferred > ok + retriedObjects + (options.inferredSlack ?? 0)) problems.push(`${inferred} objects inferred > ${ok} ok + ${retriedObjects} run again by retries (shard attempts: ${stats.map((s) => s.attempt).join(' ')})`);
  }
  return {
    manifest,
    files,
    planned,
    lost,
    duplicated,
    ok,
    error,
    inferred,
    retriedObjects,
    amplification: ok > 0 ? inferred / ok : 1,
    stats: stats.sort((a, b) => a.shard - b.shard),
    errorCodes,
    fingerprints,
    problems,
  };
}

export interface ReportRow {
  scenario: string;
  result: 'pass' | 'fail';
  lost: number | null;
  duplicated: number | null;
  amplification: number | null;
  note?: string;
}

export function recordRow(row: ReportRow): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  const file = row.scenario.replace(/[^a-zA-Z0-9]+/g, '-').toLowerCase().slice(0, 80);
  writeFileSync(join(REPORT_DIR, `${file}.json`), JSON.stringify({ ...row, at: new Date().toISOString() }, null, 2));
}

/**
 * Runs a scenario and records its row: the scenario returns its {@link RunCheck} (or null when
 * it checks no run, e.g. a configuration refused at start); a throw records `fail`.
 */
export async function scenario(name: string, body: () => Promise<RunCheck | { note: string } | null>): Promise<void> {
  let outcome: RunCheck | { note: string } | null;
  try {
    outcome = await body();
  } catch (error) {
    recordRow({ scenario: name, result: 'fail', lost: null, duplicated: null, amplification: null, note: (error as Error).message.split('\n')[0]!.slice(0, 120) });
    throw error;
  }
  if (outcome && 'problems' in outcome) {
    recordRow({
      scenario: name,
      result: outcome.problems.length === 0 ? 'pass' : 'fail',
      lost: outcome.lost,
      duplicated: outcome.duplicated,
      amplification: Math.round(outcome.amplification * 1000) / 1000,
      note: `${outcome.planned} planned, ${outcome.ok} ok, ${outcome.error} error, ${outcome.retriedObjects} run again by retries`,
    });
  } else {
    recordRow({ scenario: name, result: 'pass', lost: null, duplicated: null, amplification: null, ...(outcome ? { note: outcome.note } : {}) });
  }
}

export function readReport(): Array<ReportRow & { at: string }> {
  let files: string[];
  try {
    files = readdirSync(REPORT_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .map((f) => JSON.parse(readFileSync(join(REPORT_DIR, f), 'utf8')) as ReportRow & { at: string })
    .sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
