/**
 * @siglip-batch/retrieval — reading finished runs back (README.md): nearest-neighbour search
 * (vector cache, DuckDB, full scan), LanceDB tables, retagging with new labels.
 */
// Search a run
export { searchRun, prepareRunSearch, type SearchEngine } from './run-search';
export { assertRunModel, embedTextQuery, embedImageQuery } from './query-embedding';
// A finished run's manifest
export { readFinishedManifest } from './finished-manifest';
// LanceDB tables
export { openLanceTarget, defaultLanceUri, type LanceTarget } from './lance/lance-target';
export { LANCE_INDEX_TYPES, type LanceIndexType } from './lance/lance-info';
export { buildLanceIndex, type BuildLanceIndexResult } from './lance/lance-build';
export { buildLatestLanceIndex } from './lance/lance-latest';
export { LanceSearcher } from './lance/lance-search';
// Retag
export { retagRun } from './run-retagger';
