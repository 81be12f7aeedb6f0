//! knockd.conf doors turned into client profiles (in progress).
