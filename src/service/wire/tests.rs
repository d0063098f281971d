//! The shared reader over real loopback sockets: cancelled reads leave nothing behind, an
//! over-long line is reported once and its tail is never a line, and the watch ends waits.
