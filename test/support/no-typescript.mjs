// `node --import ./test/support/no-typescript.mjs ...`: the process refuses to load a TypeScript
// loader (tsx) or any .ts file, so a test that starts the service with it proves the compiled
// JavaScript runs on its own.
import { register } from 'node:module';

const hooks = `
const banned = (s) => s === 'tsx' || s.startsWith('tsx/') || /\\.[cm]?tsx?(\\?|$)/.test(s);
export async function resolve(specifier, context, next) {
  if (banned(specifier)) throw new Error('no TypeScript at run time: tried to load ' + specifier);
  const r = await next(specifier, context);
  if (banned(r.url) || /\\/node_modules\\/tsx\\//.test(r.url)) throw new Error('no TypeScript at run time: tried to load ' + r.url);
  return r;
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
