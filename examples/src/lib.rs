//! # duet-examples
//!
//! Example models to read and run: LeNet-5, AlexNet (CIFAR-sized) and an MLP, written with the
//! functional API, with the module API, and directly with burn (the overhead baseline).

pub mod burn_models;
