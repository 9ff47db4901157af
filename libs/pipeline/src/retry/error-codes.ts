import { ERROR_CODES } from '@siglip-batch/jobs';

/**
 * `--codes a,b`: the error codes whose rows a retry plans, sorted and without repeats so that
 * `b,a` freezes the same run as `a,b`. A code no errors file holds is fine (it plans nothing);
 * a word that is no error code at all is a typo, refused with the list of codes.
 */
export function parseErrorCodes(list: string): string[] {
  const codes = [...new Set(list.split(',').map((code) => code.trim()).filter((code) => code !== ''))].sort();
  if (codes.length === 0) throw new Error(`--codes needs at least one error code (one of ${ERROR_CODES.join(', ')})`);
  const known = new Set<string>(ERROR_CODES);
  const unknown = codes.filter((code) => !known.has(code));
  if (unknown.length > 0) {
    const names = unknown.map((code) => JSON.stringify(code)).join(', ');
    throw new Error(`--codes: ${names} ${unknown.length === 1 ? 'is not an error code' : 'are not error codes'}; error codes are ${ERROR_CODES.join(', ')}`);
  }
  return codes;
}
