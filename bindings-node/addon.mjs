// Compile the addon with cargo and put it where the generated index.js loads it from. Shared by
// build.mjs (`npm run build`, which also regenerates index.js / index.d.ts) and install.mjs
// (`npm install <this folder>`, which needs no devDependencies). Plain Node, no packages.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = dirname(fileURLToPath(import.meta.url))
export const crate = 'certloop-node'
export const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))

/** The `<platform>-<arch>-<abi>` part of the addon's file name, as index.js looks for it. */
export function platformArchAbi() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`certloop's build scripts know linux-x64 only (this is ${process.platform}-${process.arch}); use \`npx napi build --platform\``)
  }
  return 'linux-x64-gnu'
}

/** The path index.js loads the addon from. */
export function addonPath() {
  return join(here, `${pkg.napi.binaryName}.${platformArchAbi()}.node`)
}

/** The workspace's cargo target directory. */
export function targetDir() {
  const metadata = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: here, encoding: 'utf8' }))
  return metadata.target_directory
}

/**
 * `cargo build -p certloop-node` (the dev profile, or release) in the workspace's own target
 * directory, then copy the library to `addonPath()` (atomically: a running process never sees
 * half a file). `env` is the environment of cargo.
 */
export function buildAddon({ release = false, env = process.env, target = targetDir() } = {}) {
  const args = ['build', '-p', crate, '--locked', ...(release ? ['--release'] : [])]
  execFileSync('cargo', args, { cwd: here, env, stdio: 'inherit' })
  const library = join(target, release ? 'release' : 'debug', `lib${crate.replace(/-/g, '_')}.so`)
  if (!existsSync(library)) throw new Error(`cargo built no ${library}`)
  const addon = addonPath()
  copyFileSync(library, `${addon}.tmp`)
  renameSync(`${addon}.tmp`, addon)
  return addon
}
