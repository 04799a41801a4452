//! csr (being written)
