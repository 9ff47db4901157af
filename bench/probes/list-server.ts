/**
 * A minimal S3 endpoint that answers ListObjectsV2 (pages of ≤ 1,000, continuation tokens,
 * prefix) for `keys` synthetic objects `photos/00000000.jpg …` of one bucket, generated on the
 * fly. moto spends ~0.2 s of Python per page (bench/README.md), which would make the producer
 * figures moto's; this serves 200,000 keys in seconds and lives in its own process, so it adds
 * nothing to the producer's RSS. `pageMs` delays each page as S3's own listing time does
 * (AWS answers a 1,000-key page in tens to hundreds of ms; moto in ~200 ms); 0 measures the
 * client's CPU cost alone. Prints `{"endpoint": …}` once listening.
 *
 *   npx tsx bench/probes/list-server.ts <keys> [pageMs]
 */
import { createServer } from 'node:http';

const keys = Number(process.argv[2] ?? 200_000);
const pageMs = Number(process.argv[3] ?? 0);
const keyOf = (i: number) => `photos/${String(i).padStart(8, '0')}.jpg`;
const modified = new Date(Date.UTC(2024, 0, 1)).toISOString();

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const [, bucket] = url.pathname.split('/');
  if (request.method !== 'GET' || url.searchParams.get('list-type') !== '2') {
    response.writeHead(501).end();
    return;
  }
  const prefix = url.searchParams.get('prefix') ?? '';
  const max = Math.min(1000, Number(url.searchParams.get('max-keys') ?? 1000));
  const after = url.searchParams.get('continuation-token') ?? url.searchParams.get('start-after') ?? '';
  // Keys are photos/<8 digits>.jpg, in order: the first index after `after`.
  let start = 0;
  if (after) start = Number(/(\d{8})/.exec(after)?.[1] ?? -1) + 1;
  const matches = prefix === '' || 'photos/'.startsWith(prefix) || prefix.startsWith('photos/');
  const end = matches ? Math.min(keys, start + max) : start;
  const parts: string[] = [];
  for (let i = start; i < end; i++) {
    const key = keyOf(i);
    if (!key.startsWith(prefix)) continue;
    parts.push(
      `<Contents><Key>${key}</Key><LastModified>${modified}</LastModified><ETag>&quot;${(i * 2654435761 >>> 0).toString(16).padStart(32, '0')}&quot;</ETag><Size>${50_000 + (i % 1000)}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  const truncated = end < keys && matches;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${parts.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
    `<IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${keyOf(end - 1)}</NextContinuationToken>` : ''}` +
    parts.join('') +
    `</ListBucketResult>`;
  const send = () => response.writeHead(200, { 'content-type': 'application/xml' }).end(body);
  if (pageMs > 0) setTimeout(send, pageMs);
  else send();
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(JSON.stringify({ endpoint: `http://127.0.0.1:${address.port}` }));
});
