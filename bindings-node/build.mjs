// `npm run build`: compile the addon with cargo (addon.mjs) and write index.js / index.d.ts with
// @napi-rs/cli's own generators.
//
// Why not `napi build`: @napi-rs/cli 3 always passes `--target <host triple>` to cargo, which
// puts the build under target/<triple>/ and compiles every dependency a second time. Here cargo
// builds into the workspace's own target/debug (or target/release with --release), sharing the
// dependencies that `cargo build`/`cargo test` already compiled; the generated files are the
// same ones `napi build --platform` writes.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { generateTypeDef, writeJsBinding } from '@napi-rs/cli'

import { buildAddon, crate, here, pkg, targetDir } from './addon.mjs'

const release = process.argv.includes('--release')
const target = targetDir()

// napi-derive writes one type-definition file per crate while it expands `#[napi]`; a crate that
// is already compiled writes nothing, so force a rebuild when the file is missing.
const typeDefDir = join(target, 'napi-rs', `${crate}-type-def-${release ? 'release' : 'dev'}`)
mkdirSync(typeDefDir, { recursive: true })
const env = { ...process.env, NAPI_TYPE_DEF_TMP_FOLDER: typeDefDir }
if (!existsSync(join(typeDefDir, crate))) {
  env[`NAPI_FORCE_BUILD_${crate.replace(/-/g, '_').toUpperCase()}`] = String(Date.now())
}
const addon = buildAddon({ release, env, target })

const { exports, dts } = await generateTypeDef({
  typeDefDir,
  cwd: here,
  configDtsHeaderFile: pkg.napi.dtsHeaderFile,
  declareBindingTarget: true,
})
writeFileSync(join(here, 'index.d.ts'), dts)
await writeJsBinding({
  platform: true,
  idents: exports,
  binaryName: pkg.napi.binaryName,
  packageName: pkg.name,
  version: pkg.version,
  outputDir: here,
})
console.log(`built ${addon} (${release ? 'release' : 'dev'}), index.js, index.d.ts`)
