// The package's `install` script: `npm install /path/to/bindings-node` (from another project)
// compiles the addon from this source tree with cargo, release profile, unless an addon is
// already there (a prebuilt package, or one `npm run build` made).
//
// Inside this folder (`npm install` / `npm ci` for development) it does nothing: `npm run
// build` builds there, and regenerates index.js / index.d.ts. CERTLOOP_NODE_PROFILE=dev builds
// the dev profile instead of release (faster, shares target/debug with `cargo build`).
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'

import { addonPath, buildAddon, here } from './addon.mjs'

const invokedHere = process.env.INIT_CWD && resolve(process.env.INIT_CWD) === resolve(here)
if (invokedHere) {
  console.log('certloop: development install; build the addon with `npm run build`')
} else if (existsSync(addonPath())) {
  console.log(`certloop: using the addon at ${addonPath()}`)
} else {
  const release = process.env.CERTLOOP_NODE_PROFILE !== 'dev'
  console.log(`certloop: compiling the addon with cargo (${release ? 'release' : 'dev'} profile; a first build takes a few minutes)`)
  try {
    console.log(`certloop: built ${buildAddon({ release })}`)
  } catch (e) {
    console.error(`certloop: building the addon failed: ${e.message}`)
    console.error('certloop: it needs Rust (https://rustup.rs) and this package inside the certloop source tree')
    process.exit(1)
  }
}
