//! sixgate-testnet
