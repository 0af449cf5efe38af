// Node 20 lacks fs.globSync (added in Node 22), which the conformance
// package (@modelcontextprotocol/conformance 0.1.16) imports by name; Debian
// bookworm machines here run Node 20. Loaded with `node --import`, this
// hands that package an `fs` that adds globSync and is otherwise node:fs.
import { register } from 'node:module';

register('./fs_shim_hooks.mjs', import.meta.url);
