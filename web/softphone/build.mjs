// Builds dist/, the directory voip-server serves at /softphone/:
// app.js bundled with JsSIP (from node_modules, no CDN) by esbuild, and
// index.html and style.css copied. Runs after `npm ci` (postinstall) and
// with `npm run build`.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(here, 'app.js')],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: join(dist, 'app.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) {
  await copyFile(join(here, file), join(dist, file));
}
console.log(`softphone: built ${dist}`);
