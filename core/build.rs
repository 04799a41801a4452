//! With feature `python`, the test binaries embed CPython: give them an rpath to the libpython
//! they were built against, or they may load another (Debian's) one at run time.

fn main() {
    #[cfg(feature = "python")]
    pyo3_build_config::add_libpython_rpath_link_args();
}
