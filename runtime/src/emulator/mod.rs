//! Placeholder: the emulator.
