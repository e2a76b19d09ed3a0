// Regenerates the TypeScript types (proto-loader-gen-types) and the .proto
// copy the package loads at run time, from ../../proto.
//   npm run generate           rewrite them
//   npm run check-generated    exit 1 if they are stale
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const here = path.resolve(__dirname, '..');
const protoRoot = path.resolve(here, '../../proto');
const rel = 'fapi_agent/v1/agent.proto';

function generate(outRoot) {
  fs.mkdirSync(path.join(outRoot, 'proto', path.dirname(rel)), { recursive: true });
  fs.copyFileSync(path.join(protoRoot, rel), path.join(outRoot, 'proto', rel));
  // Relative paths: the generated files name their source, and must not
  // differ with the directory they were generated in.
  execFileSync(path.join(here, 'node_modules/.bin/proto-loader-gen-types'), [
    '--grpcLib=@grpc/grpc-js', '--outDir', 'src/generated',
    '--longs=String', '--enums=String', '--defaults', '--oneofs', '--keepCase',
    rel, '--includeDirs=proto',
  ], { cwd: outRoot, stdio: ['ignore', 'ignore', 'inherit'] });
}

function files(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true })
    .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

if (process.argv.includes('--check')) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fapi-gen-'));
  generate(tmp);
  const stale = [];
  for (const sub of ['proto', 'src/generated']) {
    const a = files(path.join(tmp, sub));
    const b = files(path.join(here, sub));
    for (const f of new Set([...a, ...b])) {
      const x = path.join(tmp, sub, f);
      const y = path.join(here, sub, f);
      if (!fs.existsSync(x) || !fs.existsSync(y) || !fs.readFileSync(x).equals(fs.readFileSync(y))) {
        stale.push(path.join(sub, f));
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  if (stale.length) {
    console.error(`generated code is stale against proto/: ${stale.join(', ')}; run npm run generate`);
    process.exit(1);
  }
  console.log('generated code is up to date');
} else {
  fs.rmSync(path.join(here, 'src/generated'), { recursive: true, force: true });
  generate(here);
  console.log('regenerated proto/ and src/generated/');
}
