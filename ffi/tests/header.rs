//! The committed `include/certloop.h` is exactly what the pinned cbindgen generates from the
//! sources. `CERTLOOP_BLESS=1` rewrites it instead of failing.

use std::path::Path;

#[test]
fn committed_header_matches_cbindgen_output() {
    let generated = include_str!(env!("CERTLOOP_GENERATED_HEADER"));
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/certloop.h");
    if std::env::var_os("CERTLOOP_BLESS").is_some() {
        std::fs::write(&committed_path, generated).expect("include/certloop.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi/include/certloop.h differs from what cbindgen generates from ffi/src; regenerate it \
         with `CERTLOOP_BLESS=1 cargo test -p certloop-ffi --test header` and commit it"
    );
}
