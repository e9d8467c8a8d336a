//! Anomaly detection maths: the hand-written LSTM autoencoder, baselines, forecasts and model
//! files, on ndarray alone. Must not depend on engine, store or UI types.
