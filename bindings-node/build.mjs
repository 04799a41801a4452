// `npm run build`: compile the addon with cargo and write index.js / index.d.ts with
// @napi-rs/cli's own generators.
//
// Why not `napi build`: @napi-rs/cli 3 always passes `--target <host triple>` to cargo, which
// puts the build under target/<triple>/ and compiles every dependency a second time. Here cargo
// builds into the workspace's own target/debug (or target/release with --release), sharing the
// dependencies that `cargo build`/`cargo test` already compiled; the generated files are the
// same ones `napi build --platform` writes.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { generateTypeDef, writeJsBinding } from '@napi-rs/cli'

const here = dirname(fileURLToPath(import.meta.url))
const release = process.argv.includes('--release')
const crate = 'certloop-node'
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))
const { binaryName } = pkg.napi

if (process.platform !== 'linux' || process.arch !== 'x64') {
  throw new Error(`build.mjs knows linux-x64 only (this is ${process.platform}-${process.arch}); use \`npx napi build --platform\``)
}
const platformArchAbi = 'linux-x64-gnu'

const metadata = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: here, encoding: 'utf8' }))
const targetDir = metadata.target_directory
const profileDir = join(targetDir, release ? 'release' : 'debug')

// napi-derive writes one type-definition file per crate while it expands `#[napi]`; a crate that
// is already compiled writes nothing, so force a rebuild when the file is missing.
const typeDefDir = join(targetDir, 'napi-rs', `${crate}-type-def-${release ? 'release' : 'dev'}`)
mkdirSync(typeDefDir, { recursive: true })
const env = { ...process.env, NAPI_TYPE_DEF_TMP_FOLDER: typeDefDir }
if (!existsSync(join(typeDefDir, crate))) {
  env[`NAPI_FORCE_BUILD_${crate.replace(/-/g, '_').toUpperCase()}`] = String(Date.now())
}
const cargoArgs = ['build', '-p', crate, ...(release ? ['--release'] : [])]
execFileSync('cargo', cargoArgs, { cwd: here, env, stdio: 'inherit' })

// The addon, named as the generated loader looks for it.
const library = join(profileDir, `lib${crate.replace(/-/g, '_')}.so`)
const addon = join(here, `${binaryName}.${platformArchAbi}.node`)
copyFileSync(library, `${addon}.tmp`)
renameSync(`${addon}.tmp`, addon)

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
  binaryName,
  packageName: pkg.name,
  version: pkg.version,
  outputDir: here,
})
console.log(`built ${addon} (${release ? 'release' : 'dev'}), index.js, index.d.ts`)
