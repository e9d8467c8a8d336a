//! Terminal set-up and restoration (raw mode, alternate screen, panic hook, signals).
