import { z } from 'zod';
import { getJson, putJson } from './json-document';
import { describe, expect, localStoreTest } from './testing/store-fixtures';

describe('putJson / getJson', () => {
  localStoreTest('with any zod schema', async ({ store }) => {
    const schema = z.object({ n: z.number() });
    await putJson(store, 'x.json', { n: 1 }, schema);
    expect(await getJson(store, 'x.json', schema)).toEqual({ n: 1 });
    expect(await getJson(store, 'absent.json', schema)).toBeUndefined();
    await store.put('empty.json', new Uint8Array(0));
    await expect(getJson(store, 'empty.json', schema)).rejects.toThrow(/empty\.json: not JSON/);
  });
});
