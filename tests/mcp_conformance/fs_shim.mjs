// node:fs plus a small globSync for the one pattern form the conformance
// package uses ("**/<file name>", relative to options.cwd).
import fs from 'node:fs';
import path from 'node:path';

export * from 'node:fs';
export default fs;

export function globSync(pattern, options = {}) {
  const match = /^\*\*\/([^*?/[\]{}]+)$/.exec(pattern);
  if (!match) throw new Error(`fs_shim globSync: unsupported pattern ${pattern}`);
  const root = options.cwd ?? process.cwd();
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 16) return;
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? path.join(dir, entry.name) : entry.name;
      if (entry.isDirectory()) walk(rel, depth + 1);
      else if (entry.name === match[1]) found.push(rel);
    }
  };
  walk('', 0);
  return found;
}
