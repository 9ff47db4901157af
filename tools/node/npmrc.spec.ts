import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('.npmrc', () => {
  it('keeps npm from running dependencies’ install scripts (onnxruntime-node’s CUDA download)', () => {
    const settings = readFileSync(join(root, '.npmrc'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(settings).toContain('ignore-scripts=true');
    expect(execFileSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: root, encoding: 'utf8' }).trim()).toBe('true');
  });

  it('holds only settings npm knows (npm warns on every call about unknown ones)', () => {
    const result = spawnSync('npm', ['config', 'get', 'fund'], { cwd: root, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/Unknown (project|user|global) config/);
  });

  it('package.json asks for a supported Node (>= 22)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=22');
  });
});
