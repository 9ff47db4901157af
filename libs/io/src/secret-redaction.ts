/**
 * The one place that removes secrets from text shown to people: logs, status output, dashboard
 * pages and error messages (our own and those of ioredis or the AWS SDK that quote a URL; a
 * shard's error is redacted before BullMQ and the run record keep it). Both apps and every lib
 * use it, so a credential form added here is hidden everywhere at once.
 *
 * What is hidden:
 * - the user-info of any `scheme://user:password@host` (Redis, `rediss://`, `redis+sentinel://`,
 *   an S3 endpoint such as `https://key:secret@minio:9000`): each of user and password becomes
 *   `***`, so `redis://:pw@h` → `redis://:***@h`;
 * - credential query parameters, with or without a scheme (ioredis reads any option from the
 *   query, unix socket paths included: `/tmp/redis.sock?password=…`): `password`, `username`,
 *   `user`, `pass`, `pwd`, `sentinelPassword`, `sentinelUsername`, `auth`, `token`, `secret`,
 *   `key`, and the signed-URL parts `X-Amz-Credential`, `X-Amz-Signature`, `X-Amz-Security-Token`;
 * - `Credential=`, `Signature=`, `SessionToken=`, `SecretAccessKey=` pairs of authorization
 *   headers, and AWS access key ids (`AKIA…`, `ASIA…`, …);
 * - the values of secret environment variables wherever they appear verbatim (an SDK message
 *   may quote a decoded password): the AWS keys, the dashboard password, and the password of
 *   `REDIS_URL` (not its user name: `default` is one, and a common word).
 */

const MASK = '***';

/**
 * `scheme://` then the authority's user-info up to its last `@`. The user-info is taken up to
 * the next whitespace or quote rather than the next `/`, so a password holding an unencoded
 * `/`, `?` or `#` (which no URL parser reads as a password, but a person may still type) is
 * hidden too. `s3://`, `file://` and `hf://` URIs have no user-info: their keys may hold `@`, and
 * `hf://org/name@revision` names a revision.
 * ioredis also takes protocol-relative `//:password@host`.
 */
const USER_INFO = /(\b(?!s3:|file:|hf:)[a-z][a-z0-9+.-]*:\/\/|(?<![:/\w])\/\/)((?:[^\s"'<>`@]*@)+)/gi;

/** Credential parameters of a URL's query (`?`, `&`, `;` before the name). */
const QUERY_PARAM =
  /([?&;])(password|pass|pwd|username|user|sentinelPassword|sentinelUsername|auth|token|secret|key|access_token|X-Amz-Credential|X-Amz-Signature|X-Amz-Security-Token|AWSAccessKeyId|Signature)=([^&#\s"'<>`]*)/gi;

/** `Credential=…` and friends inside headers or SDK messages, whatever precedes them. */
const HEADER_PAIR = /\b(Credential|Signature|SessionToken|SecretAccessKey|X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature)=([^&\s,"'<>`]+)/gi;

/** AWS access key ids: a four-letter kind then at least 12 upper-case letters or digits. */
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}\b/g;

/** Variables whose whole value is a secret. */
const SECRET_VARIABLES = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN', 'AWS_ACCESS_KEY_ID', 'SIGLIP_BATCH_DASHBOARD_PASSWORD', 'HF_TOKEN'];

/** A value shorter than this is not replaced verbatim: it would blank ordinary words. */
const MIN_VERBATIM_LENGTH = 6;

/**
 * `text` with every credential it holds replaced by `***` (see the file comment for the
 * forms). Works on a bare URL (`redactSecrets(process.env.REDIS_URL)`) as on any message that
 * embeds one. `env` supplies the secret values hidden verbatim; it defaults to the process's.
 */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  for (const value of knownSecrets(env)) out = out.split(value).join(MASK);
  out = maskWholeUrlUserInfo(out);
  out = out.replace(USER_INFO, (_match, scheme: string, userInfo: string) => `${scheme}${maskUserInfo(userInfo.slice(0, -1))}@`);
  out = out.replace(QUERY_PARAM, (_match, sep: string, name: string) => `${sep}${name}=${MASK}`);
  out = out.replace(HEADER_PAIR, (_match, name: string) => `${name}=${MASK}`);
  out = out.replace(ACCESS_KEY_ID, MASK);
  return out;
}

/**
 * A text that is one URL and nothing else (`REDIS_URL` itself): its user-info runs to the last
 * `@` before the query, whatever it holds — a space included, which the pattern for URLs inside
 * messages cannot allow.
 */
function maskWholeUrlUserInfo(text: string): string {
  const match = /^(\s*(?:[a-z][a-z0-9+.-]*:)?\/\/)([^\n]*)$/i.exec(text);
  if (!match || /^\s*(s3|file|hf):/i.test(text)) return text;
  const rest = match[2]!;
  const query = rest.indexOf('?');
  const at = rest.lastIndexOf('@', query === -1 ? undefined : query);
  if (at === -1) return text;
  return `${match[1]}${maskUserInfo(rest.slice(0, at))}${rest.slice(at)}`;
}

/** `user:password` → `***:***`, `:password` → `:***`, `token` → `***`. */
function maskUserInfo(userInfo: string): string {
  const colon = userInfo.indexOf(':');
  if (colon === -1) return userInfo === '' ? '' : MASK;
  const user = userInfo.slice(0, colon);
  return `${user === '' ? '' : MASK}:${MASK}`;
}

/** The secret values of the environment, raw and as they appear percent-encoded in a URL. */
function knownSecrets(env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value) values.push(value);
  }
  const redisUrl = env['REDIS_URL'];
  if (redisUrl) values.push(...redisUrlSecrets(redisUrl));
  const found = new Set<string>();
  for (const value of values) {
    for (const form of [value, safeDecode(value), encodeURIComponent(value)]) {
      if (form.length >= MIN_VERBATIM_LENGTH) found.add(form);
    }
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** The passwords a Redis URL carries, in user-info (a lone one is a token) or query. */
function redisUrlSecrets(url: string): string[] {
  const secrets: string[] = [];
  const query = url.indexOf('?');
  if (query !== -1) {
    for (const [name, value] of new URLSearchParams(url.slice(query + 1))) {
      if (/^(password|sentinelPassword)$/i.test(name) && value) secrets.push(value);
    }
  }
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^\s]*)@/i.exec(query === -1 ? url : url.slice(0, query));
  if (match) {
    const userInfo = match[1]!;
    const colon = userInfo.indexOf(':');
    const password = colon === -1 ? userInfo : userInfo.slice(colon + 1);
    if (password) secrets.push(password);
  }
  return secrets;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
