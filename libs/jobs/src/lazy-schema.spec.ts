import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { runManifestSchema } from './run-manifest';
import { runSpecSchema } from './run-spec';

describe('lazySchema', () => {
  it('builds the schema on first use, once', () => {
    let builds = 0;
    const schema = lazySchema(() => {
      builds++;
      return z.object({ name: z.string().min(1) });
    });
    expect(builds).toBe(0);
    expect(schema.parse({ name: 'a' })).toEqual({ name: 'a' });
    expect(schema.safeParse({ name: '' }).success).toBe(false);
    expect(builds).toBe(1);
  });

  it('behaves as the schema it builds: nested, extended, defaults, refinements, instanceof', () => {
    const inner = lazySchema(() => z.object({ n: z.number().int().default(3) }));
    const outer = lazySchema(() => z.object({ items: z.array(inner).min(1), tag: inner.optional() }));
    expect(outer.parse({ items: [{}, { n: 5 }] })).toEqual({ items: [{ n: 3 }, { n: 5 }] });
    expect(outer.safeParse({ items: [{ n: 1.5 }] }).error?.issues[0]?.path).toEqual(['items', 0, 'n']);
    expect(inner.extend({ s: z.string() }).parse({ s: 'x' })).toEqual({ n: 3, s: 'x' });
    expect(inner instanceof z.ZodObject).toBe(true);
    expect(Object.keys(inner.shape)).toEqual(['n']);
    const refined = lazySchema(() => z.number().superRefine((n, ctx) => (n > 1 ? ctx.addIssue({ code: 'custom', message: 'too big' }) : undefined)));
    expect(refined.safeParse(2).error?.issues[0]?.message).toBe('too big');
  });

  it("keeps the job contract's schemas as strict as before", () => {
    expect(runSpecSchema.safeParse({}).success).toBe(false);
    expect(runSpecSchema.shape.labels.safeParse([]).success).toBe(false);
    // A schema 2 manifest that lists its parts inline is refused by the manifest's refinement.
    const issues = runManifestSchema.safeParse({ schemaVersion: 2, parts: [] }).error?.issues ?? [];
    expect(issues.length).toBeGreaterThan(0);
  });
});
