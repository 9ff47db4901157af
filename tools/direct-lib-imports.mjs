// An esbuild plugin for tools/build.mjs: `import { a, b } from '@siglip-batch/<lib>'` is bundled
// as imports of the modules that define `a` and `b`, as if the lib had no index.
//
// Why: with code splitting (several entry points, or any dynamic import()), esbuild ignores
// "sideEffects": false for a named import or re-export. A lib index of
// `export { … } from './module'` lines then brings every module it names, and every npm package
// those import, into each chunk that imports anything from the index: `embed` loaded bullmq
// through `@siglip-batch/jobs` although it never opens a queue. (`export * from` is left out
// when unused, but it is not an explicit list of what a lib offers.) Going around the index
// keeps a chunk to the modules it names. Type-only imports are dropped (esbuild erases them).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const IMPORT = /^([ \t]*)(import|export)\s+(type\s+)?\{([^}]*)\}\s*from\s*(['"])(@siglip-batch\/[\w-]+)\5[ \t]*;?/gm;
const REEXPORT = /^export\s+(type\s+)?\{([^}]*)\}\s*from\s*['"](\.[^'"]+)['"]/gm;

/**
 * @param entries `@siglip-batch/<lib>` → its index file (absolute), as in the build's aliases.
 * @param consulted Receives every index file read, for the build's list of inputs.
 */
export function directLibImports(entries, consulted = new Set()) {
  const exportsOf = new Map();
  function definitions(specifier) {
    if (!exportsOf.has(specifier)) {
      const entry = entries[specifier];
      const names = new Map();
      consulted.add(entry);
      // Only `export { … } from './x'`: a name the index gets otherwise (`export *`) is imported
      // from the index as before.
      for (const [, typeOnly, list, from] of readFileSync(entry, 'utf8').matchAll(REEXPORT)) {
        if (typeOnly) continue;
        const file = moduleFile(join(dirname(entry), from));
        for (const element of elements(list)) if (!element.typeOnly) names.set(element.local, { file, name: element.imported });
      }
      exportsOf.set(specifier, names);
    }
    return exportsOf.get(specifier);
  }
  return {
    name: 'direct-lib-imports',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes('/node_modules/')) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('@siglip-batch/')) return undefined;
        const contents = source.replace(IMPORT, (match, indent, keyword, typeOnly, list, _quote, specifier) => {
          if (!entries[specifier]) return match;
          if (typeOnly) return '\n'.repeat(lineBreaks(match));
          const names = definitions(specifier);
          const byFile = new Map();
          const rest = [];
          for (const element of elements(list)) {
            if (element.typeOnly) continue;
            const found = names.get(element.imported);
            if (!found) rest.push(element.text);
            else byFile.set(found.file, [...(byFile.get(found.file) ?? []), found.name === element.local ? found.name : `${found.name} as ${element.local}`]);
          }
          const statements = [...byFile].map(([file, list]) => `${keyword} { ${list.join(', ')} } from ${JSON.stringify(file)};`);
          if (rest.length > 0) statements.push(`${keyword} { ${rest.join(', ')} } from '${specifier}';`);
          // Same line count, so that the source map still points at the right lines.
          return indent + statements.join(' ') + '\n'.repeat(lineBreaks(match));
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}

/** `a`, `type B`, `c as d` of an import or export list. */
function elements(list) {
  return list
    .split(',')
    .map((text) => text.replace(/\/\/.*$|\/\*.*?\*\//gm, '').trim())
    .filter(Boolean)
    .map((text) => {
      const typeOnly = /^type\s/.test(text);
      const [imported, local = imported] = text.replace(/^type\s+/, '').split(/\s+as\s+/);
      return { text, typeOnly, imported, local };
    });
}

function moduleFile(path) {
  for (const candidate of [`${path}.ts`, join(path, 'index.ts'), path]) if (existsSync(candidate)) return candidate;
  throw new Error(`direct-lib-imports: no module at ${path}`);
}

function lineBreaks(text) {
  return text.split('\n').length - 1;
}
