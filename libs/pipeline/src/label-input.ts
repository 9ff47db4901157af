import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { DEFAULT_LABEL_THRESHOLD, labelSpecSchema, type LabelSpec } from '@siglip-batch/jobs';

// yaml (~50 ms to load) only when a labels file is YAML: `embed --labels a,b` never needs it.
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

const labelEntrySchema = z.union([z.string().min(1), labelSpecSchema]);
const labelFileSchema = z.union([
  z.array(labelEntrySchema),
  z.object({ labels: z.array(labelEntrySchema), templates: z.array(z.string()).optional() }),
]);

export interface LabelInput {
  labels: LabelSpec[];
  /** Templates given by the file, if any (the command line's `--template` wins). */
  templates?: string[];
}

/** `--labels a,b,c`: comma-separated label names (empty items are an error). */
export function parseLabelList(text: string): LabelSpec[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.length === 0 || items.some((item) => item === '')) {
    throw new Error(`--labels must be a comma-separated list of non-empty labels, got ${JSON.stringify(text)}`);
  }
  return dedupe(items.map((label) => ({ label, prompts: [], threshold: DEFAULT_LABEL_THRESHOLD })));
}

/**
 * A labels file: text (one label per line, `#` comments), or JSON / YAML — a list of labels
 * (strings or `{label, prompts, threshold}`), or `{labels: [...], templates: [...]}`.
 */
export async function readLabelFile(path: string): Promise<LabelInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read labels file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseLabelFile(text, path);
}

export function parseLabelFile(text: string, name: string): LabelInput {
  const lower = name.toLowerCase();
  if (lower.endsWith('.json') || lower.endsWith('.yaml') || lower.endsWith('.yml')) {
    let value: unknown;
    try {
      value = lower.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (error) {
      throw new Error(`labels file ${name} is not valid ${lower.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
    }
    const parsed = labelFileSchema.safeParse(value);
    if (!parsed.success) {
      throw new Error(`labels file ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    const entries = Array.isArray(parsed.data) ? parsed.data : parsed.data.labels;
    const labels = dedupe(
      entries.map((entry) =>
        typeof entry === 'string' ? { label: entry, prompts: [], threshold: DEFAULT_LABEL_THRESHOLD } : entry,
      ),
    );
    if (labels.length === 0) throw new Error(`labels file ${name} has no labels`);
    const templates = Array.isArray(parsed.data) ? undefined : parsed.data.templates;
    return templates ? { labels, templates } : { labels };
  }
  const labels = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((label) => ({ label, prompts: [], threshold: DEFAULT_LABEL_THRESHOLD }));
  if (labels.length === 0) throw new Error(`labels file ${name} has no labels`);
  return { labels: dedupe(labels) };
}

function dedupe(labels: LabelSpec[]): LabelSpec[] {
  const seen = new Set<string>();
  for (const { label } of labels) {
    if (seen.has(label)) throw new Error(`label ${JSON.stringify(label)} is given twice`);
    seen.add(label);
  }
  return labels;
}
