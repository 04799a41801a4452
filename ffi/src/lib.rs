//! The certloop C ABI: `libcertloop.so` / `libcertloop.a` and `include/certloop.h`.
//!
//! Conventions follow rustls-ffi: one opaque handle (`certloop_t`), `certloop_<type>_<verb>`
//! names, inputs before outputs, outputs written only on success, every pointer null-checked,
//! a panic boundary in every exported function ([`panic`]), numeric result codes in documented
//! ranges ([`errors`]) and the thread's last error message copied into a caller buffer.
//! Structured data crosses as UTF-8 JSON in the same camelCase shape as the Rust serde types;
//! returned strings are owned by the caller and freed with `certloop_string_free`.
//!
//! Every function body is small: borrow and parse the inputs, check the outputs are non-null,
//! run the façade operation on the handle's runtime, write the output; for the functions that
//! answer with JSON that sequence is one helper (`handle::json_call`). Logic lives in `core`.

mod acme;
mod authorities;
mod deploying;
mod discovering;
mod errors;
mod handle;
mod inspection;
mod inventory;
mod issuing;
mod managing;
mod panic;
mod policies;
mod revocation;
mod strings;
