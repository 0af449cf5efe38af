// Module resolution hook (see fs_shim_register.mjs): only imports of fs made
// by the conformance package are redirected, and only on a Node without
// fs.globSync.
import fs from 'node:fs';

const needed = typeof fs.globSync !== 'function';
const shim = new URL('./fs_shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (needed && (specifier === 'fs' || specifier === 'node:fs') &&
      context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: shim, shortCircuit: true };
  }
  return next(specifier, context);
}
