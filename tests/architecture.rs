//! The layering rules of ARCHITECTURE.md, checked on the module graph parsed from the
//! source (not on its text): every `use` tree, expression, type and macro path and the
//! paths inside macro invocations, resolved from the module they are written in
//! (`crate::`, `self::`, `super::`, a child module's name) or naming an external crate.
//! Comments and strings are not paths. Each rule is shown to catch a broken case by
//! `each_rule_catches_a_broken_case`, through the same checker. The rules are on direct
//! references (a module may reach burn through another module's types). The panels'
//! habits (no `&mut WorkbenchApp`, no threads, no `view_rng`) stay text checks.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// The external crates the rules name.
const EXTERNAL: &[&str] = &["burn", "egui", "eframe", "egui_plot"];

/// A layering rule: modules `within` (and everything inside them) never reference a path
/// under any of `forbidden` (`crate::...` or an external crate's name).
struct Rule {
    name: &'static str,
    within: &'static [&'static str],
    forbidden: &'static [&'static str],
    why: &'static str,
}

/// Below the UI: the engine and everything it is built from.
const BELOW_THE_UI: &[&str] = &[
    "data",
    "views",
    "device_views",
    "model",
    "losses",
    "methods",
    "engine",
    "metrics",
    "projection",
];

const RULES: &[Rule] = &[
    Rule {
        name: "app-burn",
        within: &["app"],
        forbidden: &["burn"],
        why: "the window shows plain data; burn stays below it",
    },
    Rule {
        name: "app-methods",
        within: &["app"],
        forbidden: &["crate::methods"],
        why: "the window reads the burn-free catalogue, not the methods",
    },
    Rule {
        name: "catalogue-burn",
        within: &["catalogue"],
        forbidden: &["burn"],
        why: "the catalogue is plain data",
    },
    Rule {
        name: "catalogue-methods",
        within: &["catalogue"],
        forbidden: &["crate::methods"],
        why: "the methods register against the catalogue, never the other way round",
    },
    Rule {
        name: "lessons-burn",
        within: &["lessons"],
        forbidden: &["burn"],
        why: "lessons are data the window shows",
    },
    Rule {
        name: "lessons-methods",
        within: &["lessons"],
        forbidden: &["crate::methods"],
        why: "lessons read the catalogue",
    },
    Rule {
        name: "preset-methods",
        within: &["preset"],
        forbidden: &["crate::methods"],
        why: "presets describe methods through the catalogue",
    },
    Rule {
        name: "sweep-plain",
        within: &["sweep"],
        forbidden: &["burn", "crate::methods", "egui", "eframe", "crate::app"],
        why: "sweep planning is plain data shared by the window and the command line",
    },
    Rule {
        name: "views-plain",
        within: &["views"],
        forbidden: &["burn", "crate::device_views", "crate::model"],
        why: "views are plain CPU code on pixels, shared by the trainer and the preview; the \
              device renders them in device_views",
    },
    Rule {
        name: "egui-below-the-ui",
        within: BELOW_THE_UI,
        forbidden: &["egui", "eframe", "egui_plot"],
        why: "the engine and what it is built from have no UI dependency",
    },
];

/// Where devices may be created (outside `#[cfg(test)]` code).
const DEVICE_MAKER: &str = "engine::backend";

/// One source file: the module it is (`""` for the crate root) and its text.
struct Source {
    module: String,
    file: String,
    text: String,
}

/// One edge of the module graph: `from` references `to` (a `crate::` path, resolved, or an
/// external crate's name), written `written`.
#[derive(Debug)]
struct Edge {
    from: String,
    file: String,
    written: String,
    to: String,
}

/// A device constructor called (`Device::flex`, `Device::wgpu_options`, ...).
#[derive(Debug)]
struct DeviceCall {
    module: String,
    file: String,
    written: String,
    in_test: bool,
}

/// A broken rule.
#[derive(Debug)]
struct Violation {
    rule: &'static str,
    message: String,
}

fn join(segments: &[String]) -> String {
    segments.join("::")
}

/// `module` is `scope` or inside it.
fn within(module: &str, scope: &str) -> bool {
    module == scope || module.starts_with(&format!("{scope}::"))
}

/// `#[cfg(test)]`: the item is test code.
fn is_cfg_test(attr: &syn::Attribute) -> bool {
    match &attr.meta {
        syn::Meta::List(l) => l.path.is_ident("cfg") && l.tokens.to_string() == "test",
        _ => false,
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Every path a `use` tree brings in: groups flattened, renames and `self` reduced to the
/// path they name, globs to their module.
fn use_paths(tree: &syn::UseTree, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let with = |ident: &syn::Ident| {
        let mut p = prefix.to_vec();
        if ident != "self" {
            p.push(ident.to_string());
        }
        p
    };
    match tree {
        syn::UseTree::Path(p) => use_paths(&p.tree, &with(&p.ident), out),
        syn::UseTree::Name(n) => out.push(with(&n.ident)),
        syn::UseTree::Rename(r) => out.push(with(&r.ident)),
        syn::UseTree::Glob(_) => out.push(prefix.to_vec()),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_paths(t, prefix, out)),
    }
}

/// The paths (`a::b::c`, two segments or more) in a macro's tokens, which syn leaves
/// unparsed: `vec![crate::x::f()]`, `$crate::catalogue::trained`.
fn token_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let colon = |i: usize| matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':');
    let colons = |i: usize| colon(i) && colon(i + 1);
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) => token_paths(g.stream(), out),
            // A path starts at an identifier that does not continue one.
            TokenTree::Ident(first) if i < 2 || !colons(i - 2) => {
                let mut path = vec![first.to_string()];
                while colons(i + 1) {
                    let Some(TokenTree::Ident(next)) = tokens.get(i + 3) else {
                        break;
                    };
                    path.push(next.to_string());
                    i += 3;
                }
                if path.len() > 1 {
                    out.push(path);
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// Walks one file, recording every path it writes as an edge of the graph.
struct Collector<'a> {
    modules: &'a BTreeSet<String>,
    file: &'a str,
    module: Vec<String>,
    tests: usize,
    edges: Vec<Edge>,
    devices: Vec<DeviceCall>,
}

impl Collector<'_> {
    /// What `segments` (written in the current module) name: `crate::...` or an external
    /// crate; `None` for anything else (std, other crates, local items).
    fn resolve(&self, segments: &[String], leading_colon: bool) -> Option<String> {
        let first = segments.first()?.as_str();
        if leading_colon || EXTERNAL.contains(&first) {
            return EXTERNAL.contains(&first).then(|| first.to_string());
        }
        let (base, rest) = match first {
            "crate" => (Vec::new(), &segments[1..]),
            "self" => (self.module.clone(), &segments[1..]),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let keep = self.module.len().saturating_sub(ups);
                (self.module[..keep].to_vec(), &segments[ups..])
            }
            child => {
                let mut m = self.module.clone();
                m.push(child.to_string());
                if !self.modules.contains(&join(&m)) {
                    return None;
                }
                (self.module.clone(), segments)
            }
        };
        let mut path = vec!["crate".to_string()];
        path.extend(base);
        path.extend(rest.iter().cloned());
        Some(join(&path))
    }

    fn record(&mut self, segments: &[String], leading_colon: bool) {
        let written = join(segments);
        let in_test = self.tests > 0;
        let from = join(&self.module);
        let makes_device = segments.windows(2).any(|w| {
            w[0] == "Device"
                && (["flex", "default", "enumerate", "remote_options"].contains(&w[1].as_str())
                    || w[1].starts_with("wgpu")
                    || w[1].starts_with("cuda"))
        });
        if makes_device {
            self.devices.push(DeviceCall {
                module: from.clone(),
                file: self.file.to_string(),
                written: written.clone(),
                in_test,
            });
        }
        if let Some(to) = self.resolve(segments, leading_colon) {
            self.edges.push(Edge {
                from,
                file: self.file.to_string(),
                written,
                to,
            });
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let test = item_attrs(item).iter().any(is_cfg_test);
        self.tests += usize::from(test);
        visit::visit_item(self, item);
        self.tests -= usize::from(test);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let inline = m.content.is_some();
        if inline {
            self.module.push(m.ident.to_string());
        }
        visit::visit_item_mod(self, m);
        if inline {
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&u.tree, &[], &mut paths);
        for p in paths {
            self.record(&p, u.leading_colon.is_some());
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        // A lone identifier is a local name (a variable, a type in scope), not a module.
        if segments.len() > 1 || p.leading_colon.is_some() {
            self.record(&segments, p.leading_colon.is_some());
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        visit::visit_macro(self, m);
        let mut paths = Vec::new();
        token_paths(m.tokens.clone(), &mut paths);
        for p in paths {
            self.record(&p, false);
        }
    }
}

/// Inline modules (`mod tests { .. }`) declared in `items`, under `module`.
fn inline_modules(items: &[syn::Item], module: &[String], out: &mut BTreeSet<String>) {
    for item in items {
        if let syn::Item::Mod(m) = item
            && let Some((_, content)) = &m.content
        {
            let mut inner = module.to_vec();
            inner.push(m.ident.to_string());
            out.insert(join(&inner));
            inline_modules(content, &inner, out);
        }
    }
}

fn segments_of(module: &str) -> Vec<String> {
    module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The module graph of `sources` (its edges), and every device constructor called.
fn graph(sources: &[Source]) -> (Vec<Edge>, Vec<DeviceCall>) {
    let parsed: Vec<(&Source, syn::File)> = sources
        .iter()
        .map(|s| {
            let file = syn::parse_file(&s.text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", s.file));
            (s, file)
        })
        .collect();
    let mut modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    for (s, file) in &parsed {
        inline_modules(&file.items, &segments_of(&s.module), &mut modules);
    }
    let (mut edges, mut devices) = (Vec::new(), Vec::new());
    for (s, file) in &parsed {
        let mut c = Collector {
            modules: &modules,
            file: &s.file,
            module: segments_of(&s.module),
            tests: 0,
            edges: Vec::new(),
            devices: Vec::new(),
        };
        c.visit_file(file);
        edges.extend(c.edges);
        devices.extend(c.devices);
    }
    (edges, devices)
}

/// Every rule `sources` break.
fn violations(sources: &[Source]) -> Vec<Violation> {
    let (edges, devices) = graph(sources);
    let mut out = Vec::new();
    for rule in RULES {
        for e in &edges {
            let applies = rule.within.iter().any(|scope| within(&e.from, scope));
            if applies && rule.forbidden.iter().any(|f| within(&e.to, f)) {
                out.push(Violation {
                    rule: rule.name,
                    message: format!(
                        "{} ({}) references {} as `{}`: {}",
                        e.from, e.file, e.to, e.written, rule.why
                    ),
                });
            }
        }
    }
    for d in devices {
        if !d.in_test && !within(&d.module, DEVICE_MAKER) {
            out.push(Violation {
                rule: "devices",
                message: format!(
                    "{} ({}) creates a device (`{}`): only {DEVICE_MAKER} does",
                    d.module, d.file, d.written
                ),
            });
        }
    }
    out
}

/// The library's files, each with its module (`src/a/b.rs` and `src/a/b/mod.rs` are
/// `a::b`; `src/lib.rs` is the root). `main.rs` is the binary's crate, not this one.
fn crate_sources() -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") || p == root.join("main.rs") {
                continue;
            }
            let relative = p.strip_prefix(root).unwrap().with_extension("");
            let mut segments: Vec<String> = relative
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
                segments.pop();
            }
            out.push(Source {
                module: segments.join("::"),
                file: p.display().to_string(),
                text: std::fs::read_to_string(&p).unwrap(),
            });
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// The crate's violations of the rules named `rules`, one line each.
fn crate_violations(rules: &[&str]) -> String {
    violations(&crate_sources())
        .into_iter()
        .filter(|v| rules.contains(&v.rule))
        .map(|v| format!("{}: {}", v.rule, v.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn synthetic(module: &str, text: &str) -> Source {
    Source {
        module: module.into(),
        file: format!("<{module}>"),
        text: text.into(),
    }
}

#[test]
fn the_ui_never_uses_burn() {
    let found = crate_violations(&["app-burn"]);
    assert!(found.is_empty(), "{found}");
}

#[test]
fn below_the_ui_nothing_uses_egui() {
    let found = crate_violations(&["egui-below-the-ui"]);
    assert!(found.is_empty(), "{found}");
}

#[test]
fn the_ui_reads_the_burn_free_catalogue_not_the_methods() {
    let found = crate_violations(&[
        "app-methods",
        "catalogue-burn",
        "catalogue-methods",
        "lessons-burn",
        "lessons-methods",
        "preset-methods",
        "sweep-plain",
    ]);
    assert!(found.is_empty(), "{found}");
}

#[test]
fn views_stay_plain_cpu_code() {
    let found = crate_violations(&["views-plain"]);
    assert!(found.is_empty(), "{found}");
}

#[test]
fn only_the_backend_module_creates_devices() {
    let found = crate_violations(&["devices"]);
    assert!(found.is_empty(), "{found}");
}

/// The checks above pass only if the graph sees the crate's references at all: a few
/// edges every version of the crate has.
#[test]
fn the_graph_holds_the_references_the_source_makes() {
    let (edges, devices) = graph(&crate_sources());
    let modules: BTreeMap<&str, BTreeSet<&str>> = edges.iter().fold(BTreeMap::new(), |mut g, e| {
        g.entry(e.from.as_str()).or_default().insert(e.to.as_str());
        g
    });
    let reaches = |from: &str, to: &str| {
        modules
            .iter()
            .any(|(m, targets)| within(m, from) && targets.iter().any(|t| within(t, to)))
    };
    assert!(reaches("app", "crate::catalogue"));
    assert!(reaches("app", "egui"));
    assert!(reaches("methods", "burn"));
    assert!(reaches("methods", "crate::catalogue::methods"));
    assert!(reaches("engine", "crate::methods"));
    assert!(reaches("catalogue::methods", "crate::catalogue"));
    // Device constructors are found, in the backend and in unit tests elsewhere.
    assert!(devices.iter().any(|d| within(&d.module, DEVICE_MAKER)));
    assert!(devices.iter().any(|d| d.in_test));
}

/// Every rule reports a small broken source fed through the same checker.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a table of broken sources, one or more per rule, then one loop"
)]
fn each_rule_catches_a_broken_case() {
    let cases = [
        (
            "app-methods",
            "app::panels::training",
            "use crate::methods::simclr;",
        ),
        (
            "app-methods",
            "app",
            "use crate::{catalogue, methods::{self as m}};",
        ),
        (
            "app-methods",
            "app::workbench",
            "fn f() { let _ = vec![crate::methods::build]; }",
        ),
        (
            "app-burn",
            "app::panels::dashboard",
            "fn f(t: burn::tensor::Tensor<2>) {}",
        ),
        ("app-burn", "app", "use ::burn as b;"),
        (
            "catalogue-methods",
            "catalogue::params",
            "use super::super::methods::REGISTRY;",
        ),
        (
            "catalogue-methods",
            "catalogue",
            "fn f() { crate::methods::build(a, b); }",
        ),
        (
            "catalogue-methods",
            "catalogue::methods::simclr",
            "type B = crate::methods::Registered;",
        ),
        (
            "catalogue-burn",
            "catalogue::settings",
            "use burn::tensor::Tensor;",
        ),
        (
            "catalogue-burn",
            "catalogue::methods::cpc",
            "mod inner { use burn::module::Module; }",
        ),
        (
            "lessons-burn",
            "lessons",
            "struct L { t: burn::tensor::Tensor<1> }",
        ),
        (
            "lessons-methods",
            "lessons::simclr",
            "fn f() { let _ = crate::methods::simclr::build; }",
        ),
        (
            "preset-methods",
            "preset",
            "fn f() -> crate::methods::MethodSpec { todo!() }",
        ),
        (
            "egui-below-the-ui",
            "engine::session",
            "impl egui::Widget for X {}",
        ),
        (
            "egui-below-the-ui",
            "metrics::knn",
            "fn f() { let _ = ::eframe::run_native; }",
        ),
        (
            "egui-below-the-ui",
            "projection",
            "use egui_plot::{Line, Plot};",
        ),
        (
            "egui-below-the-ui",
            "methods::simclr",
            "fn f() { assert!(egui::lerp(0.0..=1.0, 0.5) > 0.0); }",
        ),
        (
            "sweep-plain",
            "sweep::axis",
            "use crate::methods::Registered;",
        ),
        (
            "sweep-plain",
            "sweep",
            "fn f(_: burn::tensor::Tensor<2>) {}",
        ),
        (
            "views-plain",
            "views::plan",
            "fn f(_: burn::tensor::Tensor<4>) {}",
        ),
        (
            "views-plain",
            "views::batch",
            "use crate::device_views::render;",
        ),
        (
            "devices",
            "model::ema",
            "fn f() { let _ = burn::tensor::Device::flex(); }",
        ),
        (
            "devices",
            "methods::moco",
            "fn f() { let _ = Device::wgpu_options(); }",
        ),
        (
            "devices",
            "engine::session",
            "fn f() { let _ = Device::default(); }",
        ),
    ];
    for (rule, module, text) in cases {
        let found = violations(&[synthetic(module, text)]);
        assert!(
            found.iter().any(|v| v.rule == rule),
            "{rule} misses `{text}` in {module}: {found:?}"
        );
    }
}

/// What the rules allow is not reported: relative paths resolve from their own module,
/// strings and comments are not paths, test code may create devices.
#[test]
fn what_the_rules_allow_is_not_reported() {
    let cases = [
        // super::super from catalogue::methods::simclr is the catalogue: its own methods.
        (
            "catalogue::methods::simclr",
            "use super::super::methods::METHODS;",
        ),
        ("catalogue::methods::simclr", "use super::cpc::Settings;"),
        // A child module named `methods` is not crate::methods.
        (
            "catalogue",
            "pub mod methods { pub fn f() {} }\nfn g() { methods::f(); }",
        ),
        (
            "app::panels::method_diagram",
            "/// Built by `crate::methods::build` with burn::tensor.\n\
             fn f() -> &'static str { \"burn::tensor and crate::methods::simclr\" }",
        ),
        ("app", "use crate::catalogue::methods::simclr::INFO;"),
        (
            "engine::session",
            "use burn::tensor::Tensor; use crate::methods::Method;",
        ),
        (
            "model::ema",
            "#[cfg(test)]\nmod tests { fn f() { let _ = burn::tensor::Device::flex(); } }",
        ),
        (
            "engine::backend::gpu",
            "fn f() { let _ = Device::wgpu_options(); }",
        ),
        ("engine", "fn f() { let _ = DispatchDevice::Flex(x); }"),
    ];
    for (module, text) in cases {
        let found = violations(&[synthetic(module, text)]);
        assert!(found.is_empty(), "`{text}` in {module}: {found:?}");
    }
}

fn panel_sources() -> Vec<(String, String)> {
    crate_sources()
        .into_iter()
        .filter(|s| within(&s.module, "app::panels"))
        .map(|s| (s.file, s.text))
        .collect()
}

#[test]
fn panels_borrow_what_they_draw_and_never_the_whole_app_mutably() {
    let panels = panel_sources();
    assert!(!panels.is_empty(), "no panels found under app::panels");
    for (path, text) in panels {
        assert!(
            !text.contains("&mut WorkbenchApp"),
            "{path} takes the whole app mutably: borrow its own state and return actions"
        );
        assert!(
            !text.contains("LayoutWorker::start") && !text.contains("thread::"),
            "{path} starts threads from drawing code"
        );
        // The preview calls the functions training uses, never its own random streams.
        assert!(
            !text.contains("view_rng"),
            "{path} draws views itself: call views::batch::training_view / local_crop"
        );
    }
}
