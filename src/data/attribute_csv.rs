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
        sets: [&mut ImageSet; 2],
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
        for set in sets {
            set.attributes = vec![Vec::with_capacity(set.sources.len()); self.names.len()];
            for source in &set.sources {
                let key = relative(root, source);
                let row = self.rows.get(&key);
                if row.is_some() {
                    matched.insert(key);
                }
                for (k, attribute) in attributes.iter_mut().enumerate() {
                    let value = row.map_or(UNLISTED, |r| r[k].as_str());
                    set.attributes[k].push(index_of(&mut attribute.values, value));
                }
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

/// The index of `value` among `values`, added at the end when new.
fn index_of(values: &mut Vec<String>, value: &str) -> u16 {
    match values.iter().position(|v| v == value) {
        Some(i) => i as u16,
        None => {
            values.push(value.to_string());
            (values.len() - 1) as u16
        }
    }
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
}
