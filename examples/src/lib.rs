//! # duet-examples
//!
//! Example models to read and run: LeNet-5, AlexNet (CIFAR-sized) and an MLP, written with the
//! functional API ([`functional_models`]), with the module API ([`module_models`]), and directly
//! with burn ([`burn_models`], the overhead baseline), and an MLP over any value type for nested
//! forward mode ([`on_values`]); ResNet-20 ([`resnet`]) and a GPT language model ([`gpt`]) in
//! both APIs with PyTorch's parameter paths; the architectures by name ([`models`]);
//! what a checkpoint records about its run ([`run_info`]); the `duet` command ([`cli`]) and its
//! allocator setup ([`alloc`]).

pub mod alloc;
pub mod burn_models;
pub mod cli;
pub mod functional_models;
pub mod gpt;
pub mod models;
pub mod module_models;
pub mod on_values;
pub mod resnet;
pub mod run_info;
pub mod vae;
