//! The differential suite: each scenario runs through the original (jinlava 8.3.0's real
//! `lava-worker`, from PyPI) and through this project on the same moto, realm and servers, and
//! what each wrote is compared field by field. A scenario matches, or differs only where it lists
//! a deliberate difference with its reason (ARCHITECTURE.md, "Deliberate differences").

mod compare;
mod executables;
mod harness;
