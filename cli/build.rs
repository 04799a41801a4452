//! The CLI embeds CPython (script CA profiles with `"isolation": "inProcess"`). Without an
//! rpath the binary may load another libpython at run time than the one it was built against
//! (Debian's instead of pyenv's, say), so point it at the build interpreter's library.

fn main() {
    #[cfg(feature = "python")]
    pyo3_build_config::add_libpython_rpath_link_args();
}
