//! What each method is, one file each: its typed settings, its texts, its diagram and what
//! its Views tab shows. Plain data with no burn types; the burn side of a method (networks,
//! training step, `build`) lives in `methods`, registered against these entries.

pub mod barlow_twins;
pub mod byol;
pub mod cmc;
pub mod cpc;
pub mod dcl;
pub mod dim;
pub mod dino;
pub mod hadsell;
pub mod instdisc;
pub mod moco;
pub mod moco_v3;
pub mod nce;
pub mod nnclr;
pub mod pixpro;
pub mod simclr;
pub mod simsiam;
pub mod sup_con;
pub mod swav;
pub mod triplet;
pub mod vicreg;

use super::MethodInfo;

/// Every method the workbench offers, in the order the window lists them.
pub static METHODS: &[&MethodInfo] = &[
    &simclr::INFO,
    &moco::INFO,
    &moco_v3::INFO,
    &byol::INFO,
    &simsiam::INFO,
    &barlow_twins::INFO,
    &vicreg::INFO,
    &instdisc::INFO,
    &cmc::INFO,
    &dim::INFO,
    &cpc::INFO,
    &pixpro::INFO,
    &hadsell::INFO,
    &triplet::INFO,
    &nce::INFO,
    &dino::INFO,
    &nnclr::INFO,
    &dcl::INFO,
    &sup_con::INFO,
    &swav::INFO,
];
