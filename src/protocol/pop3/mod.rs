//! POP3 codec (placeholder).
