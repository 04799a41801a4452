//! lifecycle (being written)
