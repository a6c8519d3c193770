//! Nuisance attributes for an image folder, from `attributes.csv` at the folder's root:
//! a header `file,<attribute>,<attribute>,...` and one row per image, `file` relative to
//! the folder with `/` between folders (`cats/001.png`). Values are any text; each
//! attribute's values are numbered in the order they first appear. The projection can
//! then be coloured by each attribute, and kNN predicts each one beside the class, as for
//! the built-in shapes' colour, background and size.
//!
//! An image without a row gets the value `(none)`, and a row for a file that is not
//! among the loaded images is a warning; a malformed file (no `file` column first, an
//! empty or repeated attribute name, a row with the wrong number of fields, a file listed
//! twice) is an error naming the line.

use std::collections::HashMap;
use std::path::Path;

use super::image_folder::MAX_CLASSES;
use super::{Attribute, DataError, ImageSet};

/// The file an image folder's attributes are read from.
pub const ATTRIBUTES_FILE: &str = "attributes.csv";

/// The value of an image the file does not list.
pub const UNLISTED: &str = "(none)";

/// The attribute names and each listed file's values.
#[derive(Debug, PartialEq)]
pub struct AttributeTable {
    names: Vec<String>,
    rows: HashMap<String, Vec<String>>,
}

/// `root/attributes.csv`, or `None` when the folder has none.
pub fn read(root: &Path) -> Result<Option<AttributeTable>, DataError> {
    let path = root.join(ATTRIBUTES_FILE);
    if let Some(problem) = super::image_folder::not_a_plain_file(&path) {
        return Err(DataError::format(&path, problem));
    }
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
    parse(&text)
        .map(Some)
        .map_err(|problem| DataError::format(&path, problem))
}

/// Parses the file's text; the error names the line.
pub fn parse(text: &str) -> Result<AttributeTable, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .clone();
    if header.get(0) != Some("file") {
        return Err(format!(
            "line 1: the header must start with `file` (then one column per attribute), \
             found {:?}",
            header.get(0).unwrap_or("")
        ));
    }
    let names: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
    if names.is_empty() {
        return Err("line 1: no attribute columns after `file`".into());
    }
    for (k, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("line 1: column {} has no name", k + 2));
        }
        if names[..k].contains(name) {
            return Err(format!("line 1: attribute {name:?} appears twice"));
        }
    }
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != names.len() + 1 {
            return Err(format!(
                "line {line}: {} fields, the header has {}",
                record.len(),
                names.len() + 1
            ));
        }
        let file = record[0].replace('\\', "/");
        if file.is_empty() {
            return Err(format!("line {line}: the file name is empty"));
        }
        let values = record.iter().skip(1).map(str::to_string).collect();
        if rows.insert(file.clone(), values).is_some() {
            return Err(format!("line {line}: {file} is listed twice"));
        }
    }
    Ok(AttributeTable { names, rows })
}

impl AttributeTable {
    /// The attributes, with each image's value in `train` and `test` (whose `sources` are
    /// paths under `root`). Warns, in `warnings`, of rows no loaded image matched.
    pub fn apply(
        &self,
        root: &Path,
        mut sets: [&mut ImageSet; 2],
        warnings: &mut Vec<String>,
    ) -> Vec<Attribute> {
        let mut attributes: Vec<Attribute> = self
            .names
            .iter()
            .map(|name| Attribute {
                name: name.clone(),
                values: Vec::new(),
            })
            .collect();
        let mut matched = std::collections::HashSet::new();
        // Each attribute's values by name, so a column of many values is not quadratic.
        let mut index: Vec<HashMap<String, u16>> = vec![HashMap::new(); self.names.len()];
        let mut too_many = vec![false; self.names.len()];
        for set in sets.iter_mut() {
            set.attributes = vec![Vec::with_capacity(set.sources.len()); self.names.len()];
            for source in &set.sources {
                let key = relative(root, source);
                let row = self.rows.get(&key);
                if row.is_some() {
                    matched.insert(key);
                }
                for (k, attribute) in attributes.iter_mut().enumerate() {
                    let value = row.map_or(UNLISTED, |r| r[k].as_str());
                    let label = index_of(&mut attribute.values, &mut index[k], value);
                    too_many[k] |= label.is_none();
                    set.attributes[k].push(label.unwrap_or(0));
                }
            }
        }
        // Values are u16 labels; a column with more (an id, a file name) is not a grouping.
        for k in (0..attributes.len()).rev().filter(|&k| too_many[k]) {
            warnings.push(format!(
                "{ATTRIBUTES_FILE}: attribute {:?} has more than {MAX_CLASSES} different \
                 values, so it groups nothing; left out",
                attributes[k].name
            ));
            attributes.remove(k);
            for set in sets.iter_mut() {
                set.attributes.remove(k);
            }
        }
        let mut unmatched: Vec<&String> =
            self.rows.keys().filter(|f| !matched.contains(*f)).collect();
        unmatched.sort();
        if let Some(first) = unmatched.first() {
            warnings.push(format!(
                "{ATTRIBUTES_FILE}: {} of its {} rows name no loaded image (first: {first})",
                unmatched.len(),
                self.rows.len(),
            ));
        }
        attributes
    }
}

/// `source` relative to `root`, with `/` between folders.
fn relative(root: &Path, source: &str) -> String {
    let path = Path::new(source);
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The index of `value` among `values` (`index` maps each to its position), added at the
/// end when new; `None` when a new value would be past the last u16 label.
fn index_of(
    values: &mut Vec<String>,
    index: &mut HashMap<String, u16>,
    value: &str,
) -> Option<u16> {
    if let Some(&i) = index.get(value) {
        return Some(i);
    }
    if values.len() >= MAX_CLASSES {
        return None;
    }
    let i = values.len() as u16;
    values.push(value.to_string());
    index.insert(value.to_string(), i);
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_read_and_bad_ones_name_the_line() {
        let t = parse("file,colour,pose\ncats/1.png,red,left\n\"dogs/a, b.png\", blue ,right\n")
            .unwrap();
        assert_eq!(t.names, ["colour", "pose"]);
        assert_eq!(t.rows["dogs/a, b.png"], ["blue", "right"]);
        let err = |text: &str| parse(text).unwrap_err();
        assert!(err("name,colour\n").contains("line 1: the header must start with `file`"));
        assert!(err("file\na.png\n").contains("no attribute columns"));
        assert!(err("file,colour,colour\n").contains("\"colour\" appears twice"));
        let e = err("file,colour\na.png,red\nb.png,red,extra\n");
        assert!(e.contains("line 3: 3 fields, the header has 2"), "{e}");
        let e = err("file,colour\na.png,red\na.png,blue\n");
        assert!(e.contains("line 3: a.png is listed twice"), "{e}");
    }

    #[test]
    fn values_are_numbered_and_unlisted_images_get_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let t =
            parse("file,colour\nc/1.png,red\nc/2.png,blue\nc/3.png,red\ngone.png,red\n").unwrap();
        let source = |f: &str| root.join(f).display().to_string();
        let mut train = ImageSet {
            sources: vec![source("c/1.png"), source("c/2.png")],
            ..ImageSet::default()
        };
        let mut test = ImageSet {
            sources: vec![source("c/3.png"), source("c/4.png")],
            ..ImageSet::default()
        };
        let mut warnings = Vec::new();
        let attributes = t.apply(root, [&mut train, &mut test], &mut warnings);
        assert_eq!(attributes[0].name, "colour");
        assert_eq!(attributes[0].values, ["red", "blue", UNLISTED]);
        assert_eq!(train.attributes, [vec![0, 1]]);
        assert_eq!(test.attributes, [vec![0, 2]]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("1 of its 4 rows name no loaded image (first: gone.png)"));
    }

    #[test]
    fn a_column_of_more_values_than_labels_is_left_out_with_a_warning() {
        // An id column: one value per image, 65,537 images; beside it a real grouping.
        let n = MAX_CLASSES + 1;
        let mut text = String::from("file,id,half\n");
        for i in 0..n {
            text.push_str(&format!("{i}.png,id{i},{}\n", i % 2));
        }
        let t = parse(&text).unwrap();
        let root = Path::new("/data");
        let mut train = ImageSet {
            sources: (0..n).map(|i| format!("/data/{i}.png")).collect(),
            ..ImageSet::default()
        };
        let mut test = ImageSet::default();
        let mut warnings = Vec::new();
        let attributes = t.apply(root, [&mut train, &mut test], &mut warnings);
        assert_eq!(attributes.len(), 1);
        assert_eq!(attributes[0].name, "half");
        assert_eq!(train.attributes.len(), 1);
        assert_eq!(train.attributes[0][..3], [0, 1, 0]);
        assert_eq!(test.attributes.len(), 1);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("\"id\" has more than 65536")),
            "{warnings:?}"
        );
    }
}
