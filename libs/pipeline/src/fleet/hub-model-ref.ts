/**
 * `hf://org/name[@revision]`: a model repository on the Hugging Face Hub (or a mirror at
 * `HF_ENDPOINT`), optionally pinned to a branch, tag or commit.
 */

export interface HubModelRef {
  /** `org/name`. */
  repo: string;
  /** Branch, tag or commit as given; `main` when absent. */
  revision: string;
}

/** Repository ids as the Hub accepts them: `org/name`, letters, digits, `-`, `_`, `.`; no `--` or `..`. */
const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Branch / tag names and commit ids: no whitespace, no `..`, no leading `/` or `-`. */
const REVISION = /^[A-Za-z0-9._][A-Za-z0-9._/-]{0,199}$/;

export function isHubModelUri(model: string): boolean {
  return /^hf:\/\//i.test(model);
}

/** A full 40-hex commit id: a revision that can never move, so the cache can answer without the Hub. */
export function isCommitId(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

export function validateRepoId(repo: string): string | undefined {
  if (!REPO_ID.test(repo) || repo.includes('--') || repo.includes('..')) {
    return `"${repo}" is not a Hub repository id (org/name: letters, digits, - _ .)`;
  }
  return undefined;
}

export function validateRevision(revision: string): string | undefined {
  if (!REVISION.test(revision) || revision.includes('..') || revision.endsWith('/')) return `"${revision}" is not a branch, tag or commit`;
  return undefined;
}

/** Parses `hf://org/name[@revision]`; throws one error naming what is wrong. */
export function parseHubModelUri(uri: string): HubModelRef {
  if (!isHubModelUri(uri)) throw new Error(`not an hf:// model: ${uri}`);
  const rest = uri.slice('hf://'.length).replace(/\/+$/, '');
  const at = rest.indexOf('@');
  const repo = at < 0 ? rest : rest.slice(0, at);
  const revision = at < 0 ? 'main' : rest.slice(at + 1);
  const problems = [validateRepoId(repo), at >= 0 && revision === '' ? 'empty revision after @' : validateRevision(revision)].filter(
    (p): p is string => typeof p === 'string',
  );
  // The URI itself is not repeated: log redaction would read `hf://org/name@rev` as user-info.
  if (problems.length) throw new Error(`hf:// model: ${problems.join('; ')} (expected hf://org/name[@revision])`);
  return { repo, revision };
}
