//! Everything a run checks and builds before its first step. Each problem is a value
//! ([`Failure`]), reported once by the caller.

use burn::tensor::Device;

use super::super::checkpoint::Checkpoint;
use super::super::protocol::BackendInfo;
use super::super::run_folder::{RunFolderClaim, claim};
use super::RunOptions;
use super::resume::resumable;
use crate::catalogue::methods::cpc;
use crate::catalogue::{MethodInfo, Params};
use crate::data::Dataset;
use crate::engine::backend::select_device;
use crate::methods::{self, BuildContext, Method};
use crate::model::EncoderKind;
use crate::preset::Experiment;

/// Why a run could not start (or resume), at which step.
#[derive(Debug)]
pub struct Failure {
    pub step: u64,
    pub message: String,
}

fn at_start(message: impl Into<String>) -> Failure {
    Failure {
        step: 0,
        message: message.into(),
    }
}

/// A run ready for its first step.
pub struct Prepared {
    pub method: Box<dyn Method>,
    /// The checkpoint it continues, already loaded into `method`.
    pub resume: Option<Checkpoint>,
    /// The folders it writes, held for the whole run.
    pub claims: Vec<RunFolderClaim>,
    /// Evaluation's device; training uses its autodiff form, `train_device`.
    pub device: Device,
    pub train_device: Device,
    pub backend: BackendInfo,
    /// The method uses multi-crop's local crops (others are not made for it).
    pub uses_local_crops: bool,
    /// `Dataset::fingerprint`, for the checkpoints.
    pub fingerprint: String,
}

pub fn prepare(
    exp: &Experiment,
    dataset: &Dataset,
    options: &RunOptions,
) -> Result<Prepared, Failure> {
    exp.validate()
        .map_err(|message| at_start(format!("invalid experiment: {message}")))?;
    if dataset.train.len() < 2 || dataset.test.is_empty() {
        return Err(at_start(too_small(exp, dataset)));
    }
    let resume = options
        .resume_from
        .as_deref()
        .map(|p| resumable(p, exp))
        .transpose()
        .map_err(|e| at_start(format!("cannot resume: {e:#}")))?;
    let fingerprint = dataset.fingerprint();
    if let Some(then) = resume.as_ref().and_then(|c| c.dataset.as_ref())
        && *then != fingerprint
    {
        return Err(at_start(format!(
            "cannot resume: the dataset changed since the checkpoint was written: it trained \
             on {then}, the dataset {} now has {fingerprint}",
            dataset.name
        )));
    }
    // A second process writing the same folders is refused now, before any training,
    // and not at the first export.
    let folders = options
        .checkpoints
        .as_ref()
        .map(|p| &p.dir)
        .into_iter()
        .chain(options.export_each_eval.as_ref());
    let claims = folders
        .map(|dir| claim(dir, options.force))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at_start(format!("{e:#}")))?;
    let (device, backend) = select_device(&exp.train).map_err(at_start)?;
    device.seed(exp.seed);
    let (info, params) = methods::resolve(&exp.method).map_err(at_start)?;
    if info.needs.colour && dataset.train.is_grayscale() {
        return Err(at_start(format!(
            "{} needs colour images: dataset {} is greyscale, so its colour (ab) view would be \
             empty; pick a colour dataset such as shapes",
            info.name, dataset.name
        )));
    }
    if info.needs.labels && dataset.class_names.len() < 2 {
        return Err(at_start(format!(
            "{} trains on the labels: dataset {} has {} class ({}), so every image would be \
             every other's positive; pick a labelled dataset (class subfolders, IDX, CIFAR)",
            info.name,
            dataset.name,
            dataset.class_names.len(),
            dataset.class_names.join(", ")
        )));
    }
    let images = format!("dataset {}'s images", dataset.name);
    vit_inputs_fit(exp, info, &params, dataset.image_size(), &images).map_err(at_start)?;
    let train_device = device.clone().autodiff();
    let mut method = methods::build(
        info,
        &BuildContext {
            device: &train_device,
            encoder: &exp.encoder,
            params: &params,
            train: &exp.train,
            dataset_len: dataset.train.len(),
            image_size: dataset.image_size(),
            normalize: exp.views.normalize,
            seed: exp.seed,
        },
    );
    if let Some(ckpt) = &resume {
        method.load_state(&ckpt.state).map_err(|e| Failure {
            step: ckpt.step,
            message: format!("cannot resume: the checkpoint does not fit this method: {e:#}"),
        })?;
    }
    Ok(Prepared {
        method,
        resume,
        claims,
        device,
        train_device,
        backend,
        uses_local_crops: info.needs.local_crops,
        fingerprint,
    })
}

/// A ViT embeds `patch x patch` pieces of its input: every image size the method feeds
/// the encoder must hold one (a smaller one ended the run at step 0 inside the
/// convolution). Those sizes are the images' (`image`, described as `images`),
/// multi-crop's local crops' and CPC's patches'.
pub fn vit_inputs_fit(
    exp: &Experiment,
    info: &MethodInfo,
    params: &Params,
    image: usize,
    images: &str,
) -> Result<(), String> {
    let patch = exp.encoder.patch;
    if exp.encoder.kind != EncoderKind::Vit {
        return Ok(());
    }
    let mut inputs = vec![(images.to_string(), image)];
    if info.needs.local_crops && exp.views.local.count > 0 {
        inputs.push(("views.local.size".to_string(), exp.views.local.size));
    }
    if info.id == "cpc" {
        let (grid, _) = cpc::geometry(&cpc::Settings::read(params), image);
        inputs.push(("CPC's patches".to_string(), grid.patch));
    }
    match inputs.into_iter().find(|(_, size)| *size < patch) {
        None => Ok(()),
        Some((what, size)) => Err(format!(
            "encoder.patch = {patch} is larger than {what} ({size}x{size} pixels): the ViT \
             cuts its input into {patch}x{patch} patches; use encoder.patch <= {size}"
        )),
    }
}

fn too_small(exp: &Experiment, dataset: &Dataset) -> String {
    if dataset.test.is_empty() && exp.dataset.held_out() == Some(0.0) {
        "dataset.held_out = 0 holds no images out for evaluation: set it between 0 and 1 \
         (0.2 is usual), or give the folder a val/ or test/ split"
            .to_string()
    } else {
        format!(
            "dataset {} is too small: {} train and {} test images",
            dataset.name,
            dataset.train.len(),
            dataset.test.len()
        )
    }
}
