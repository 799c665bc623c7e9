// Builds the API reference the local stack serves at /docs/api (local/src/reference.rs):
// a page that has Redoc render the contract the gateway serves (/v1/openapi.json), and
// Redoc's standalone bundle beside it, so nothing is loaded from a CDN at run time.
// Output: target/api-reference/ (or API_REFERENCE_DIR).

import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.API_REFERENCE_DIR ?? path.join(here, '..', 'target', 'api-reference');
const bundle = createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js');

await mkdir(out, { recursive: true });
await copyFile(bundle, path.join(out, 'redoc.standalone.js'));
await writeFile(path.join(out, 'index.html'), `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>API reference — 3-D Secure gateway</title>
  <style>body { margin: 0; }</style>
</head>
<body>
  <redoc spec-url="/v1/openapi.json" hide-download-button="false" expand-responses="200,201"
         native-scrollbars></redoc>
  <script src="/docs/api/redoc.standalone.js"></script>
</body>
</html>
`);
console.log(`API reference: ${out}/index.html (Redoc ${createRequire(import.meta.url)('redoc/package.json').version})`);
