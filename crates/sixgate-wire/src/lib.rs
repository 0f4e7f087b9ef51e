//! sixgate-wire
