//! knockd.conf syntax (in progress).
