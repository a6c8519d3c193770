//! The embeddings part of an export: the held-out images' representations as CSV, as NPY
//! (float32, C order, for `numpy.load`) and as the TensorFlow Embedding Projector pair
//! `vectors.tsv` + `metadata.tsv` (load both at projector.tensorflow.org).

use std::path::Path;

use burn::tensor::Device;

use super::evaluate::embed_images;
use super::run_folder::{claim, write_atomically};
use crate::data::Dataset;
use crate::methods::Method;
use crate::views::Normalize;

/// At most this many images are embedded in an export (the Projector stays responsive).
pub const MAX_EXPORTED: usize = 10_000;

/// Representations of a dataset split, one row per image.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingTable {
    pub dim: usize,
    /// `rows.len() * dim` values, row-major.
    pub values: Vec<f32>,
    /// Which split the images come from ("test", or "train" when there is no held-out set).
    pub split: &'static str,
    /// Per row: the image's index in its split and its label.
    pub rows: Vec<(usize, u16)>,
    /// Per row: the image's file (see `ImageSet::sources`; empty for generated images).
    pub sources: Vec<String>,
    pub class_names: Vec<String>,
    /// Nuisance attributes: the name, and each row's value name (the Projector colours by
    /// any metadata column).
    pub attributes: Vec<(String, Vec<String>)>,
}

impl EmbeddingTable {
    /// The held-out images (the training images if none are held out), up to
    /// [`MAX_EXPORTED`], through `method`'s representation.
    pub fn of(
        method: &dyn Method,
        dataset: &Dataset,
        normalize: &Normalize,
        device: &Device,
    ) -> Self {
        let (images, split) = if dataset.test.is_empty() {
            (&dataset.train, "train")
        } else {
            (&dataset.test, "test")
        };
        let indices: Vec<usize> = (0..images.len().min(MAX_EXPORTED)).collect();
        let (values, dim) = embed_images(method, images, &indices, normalize, device);
        Self {
            dim,
            values,
            split,
            rows: indices.iter().map(|&i| (i, images.labels[i])).collect(),
            sources: indices
                .iter()
                .map(|&i| images.source(i).to_string())
                .collect(),
            class_names: dataset.class_names.clone(),
            attributes: dataset
                .attributes
                .iter()
                .zip(&images.attributes)
                .map(|(a, values)| {
                    let name_of = |&i: &usize| {
                        a.values
                            .get(usize::from(values[i]))
                            .cloned()
                            .unwrap_or_default()
                    };
                    (a.name.clone(), indices.iter().map(name_of).collect())
                })
                .collect(),
        }
    }

    fn class(&self, label: u16) -> &str {
        self.class_names
            .get(usize::from(label))
            .map_or("?", String::as_str)
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.dim..(r + 1) * self.dim]
    }

    /// `split,index,label,class,e0,...`; the class is quoted when it needs to be.
    pub fn csv(&self) -> String {
        let mut s = String::from("split,index,label,class");
        for c in 0..self.dim {
            s += &format!(",e{c}");
        }
        s.push('\n');
        for (r, &(index, label)) in self.rows.iter().enumerate() {
            s += &format!(
                "{},{index},{label},{}",
                self.split,
                csv_field(self.class(label))
            );
            for v in self.row(r) {
                s += &format!(",{v}");
            }
            s.push('\n');
        }
        s
    }

    /// The Projector's vectors: one tab-separated row per image, no header.
    pub fn vectors_tsv(&self) -> String {
        let mut s = String::new();
        for r in 0..self.rows.len() {
            let cells: Vec<String> = self.row(r).iter().map(f32::to_string).collect();
            s += &cells.join("\t");
            s.push('\n');
        }
        s
    }

    /// The Projector's metadata: a header, then class, label, split, index, source and
    /// each nuisance attribute per image.
    pub fn metadata_tsv(&self) -> String {
        // Tabs and newlines would break the columns.
        let clean = |t: &str| t.replace(['\t', '\n'], " ");
        let mut s = String::from("class\tlabel\tsplit\tindex\tsource");
        for (name, _) in &self.attributes {
            s += &format!("\t{}", clean(name));
        }
        s.push('\n');
        for (r, &(index, label)) in self.rows.iter().enumerate() {
            let class = clean(self.class(label));
            let source = clean(self.sources.get(r).map_or("", String::as_str));
            s += &format!("{class}\t{label}\t{}\t{index}\t{source}", self.split);
            for (_, values) in &self.attributes {
                s += &format!("\t{}", clean(values.get(r).map_or("", String::as_str)));
            }
            s.push('\n');
        }
        s
    }

    /// The values as a `.npy` file.
    pub fn npy(&self) -> Vec<u8> {
        npy_f32(&self.values, self.rows.len(), self.dim)
    }

    /// Writes `embeddings.csv`, `embeddings.npy`, `vectors.tsv`, `metadata.tsv` into `dir`
    /// (created if needed), each atomically; returns their names.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<String>> {
        let _claim = claim(dir, false)?;
        let files = [
            ("embeddings.csv", self.csv().into_bytes()),
            ("embeddings.npy", self.npy()),
            ("vectors.tsv", self.vectors_tsv().into_bytes()),
            ("metadata.tsv", self.metadata_tsv().into_bytes()),
        ];
        let mut written = Vec::new();
        for (name, bytes) in files {
            write_atomically(&dir.join(name), &bytes)?;
            written.push(name.to_string());
        }
        Ok(written)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `.npy` (version 1.0) bytes of a float32 `[rows, cols]` matrix. Written by hand: the
/// format is a magic string, a Python-literal header padded to a multiple of 64 bytes and
/// the raw little-endian values, which a crate would not make shorter.
pub fn npy_f32(values: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * values.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> EmbeddingTable {
        EmbeddingTable {
            dim: 2,
            values: vec![0.5, -1.0, 2.0, 0.25],
            split: "test",
            rows: vec![(0, 1), (7, 0)],
            sources: vec!["a/t-shirt/0.png".into(), String::new()],
            class_names: vec!["cat".into(), "t-shirt, top".into()],
            attributes: vec![("colour".into(), vec!["red".into(), "blue".into()])],
        }
    }

    #[test]
    fn npy_header_is_padded_and_data_follows() {
        let bytes = npy_f32(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(
            header.contains("'shape': (2, 3)") && header.ends_with('\n'),
            "{header}"
        );
        let data = &bytes[10 + header_len..];
        assert_eq!(data.len(), 24);
        assert_eq!(
            f32::from_le_bytes([data[20], data[21], data[22], data[23]]),
            6.0
        );
    }

    #[test]
    fn csv_and_projector_files_hold_every_row() {
        let t = table();
        let csv = t.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "split,index,label,class,e0,e1");
        assert_eq!(lines[1], "test,0,1,\"t-shirt, top\",0.5,-1");
        assert_eq!(lines[2], "test,7,0,cat,2,0.25");
        assert_eq!(t.vectors_tsv(), "0.5\t-1\n2\t0.25\n");
        assert_eq!(
            t.metadata_tsv(),
            "class\tlabel\tsplit\tindex\tsource\tcolour\n\
             t-shirt, top\t1\ttest\t0\ta/t-shirt/0.png\tred\ncat\t0\ttest\t7\t\tblue\n"
        );
    }
}
