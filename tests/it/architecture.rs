//! The library's shape, checked on its source: the core (the transformation, the
//! processor, the export converter, the shared support) imports no I/O crate and nothing
//! of the edges; only `src/aws/` knows the AWS SDK and only `src/runtime/` (and the
//! binaries) the Lambda runtime. Besides: no function over [`MAX_FUNCTION_LINES`] lines,
//! and every binary under [`MAX_BINARY_LINES`], so that each stays thin glue.
//!
//! The files are read as Rust syntax (`syn`), so a path written inline
//! (`aws_sdk_s3::Client::new`) counts as much as a `use`.

use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

/// Crates (and modules) that do I/O: none of them may appear in a core module.
const IO_PATHS: [&str; 7] = [
    "aws_sdk_",
    "aws_config",
    "aws_smithy_",
    "aws_types",
    "lambda_runtime",
    "hyper",
    "tokio::net",
];

/// The library's edges, as `src/`-relative folders: the only places that may name the
/// crates of [`IO_PATHS`]. The core may not import them either (`crate::aws::…`).
const EDGES: [&str; 2] = ["aws", "runtime"];

/// Longest function anywhere in `src/`, in lines from its signature to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;
/// Longest binary source file, in lines.
const MAX_BINARY_LINES: usize = 60;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// Every source file of `src/`, as its `src/`-relative path with `/` separators.
fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(src()).unwrap();
            let name = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Core,
    Edge,
    Binary,
}

fn layer(file: &str) -> Layer {
    if file == "main.rs" || file.starts_with("bin/") {
        Layer::Binary
    } else if EDGES
        .iter()
        .any(|edge| file.starts_with(&format!("{edge}/")) || file == format!("{edge}.rs"))
    {
        Layer::Edge
    } else {
        Layer::Core
    }
}

/// Every path a file names, in `use` items and in code, as `a::b::c`.
#[derive(Default)]
struct Paths {
    found: Vec<(String, usize)>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &str, tree: &syn::UseTree) {
        let join = |name: String| {
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(path) => self.use_tree(&join(path.ident.to_string()), &path.tree),
            syn::UseTree::Name(name) => self
                .found
                .push((join(name.ident.to_string()), name.span().start().line)),
            syn::UseTree::Rename(rename) => self
                .found
                .push((join(rename.ident.to_string()), rename.span().start().line)),
            syn::UseTree::Glob(glob) => self
                .found
                .push((join("*".into()), glob.span().start().line)),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree("", &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let text = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect::<Vec<_>>()
            .join("::");
        self.found.push((text, path.span().start().line));
        syn::visit::visit_path(self, path);
    }

    fn visit_item_extern_crate(&mut self, item: &'ast syn::ItemExternCrate) {
        self.found
            .push((item.ident.to_string(), item.span().start().line));
    }
}

/// What a core file imports that it may not: `file:line path`.
fn layer_violations(file: &str, source: &str) -> Vec<String> {
    if layer(file) != Layer::Core {
        return Vec::new();
    }
    let syntax = syn::parse_file(source).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut paths = Paths::default();
    paths.visit_file(&syntax);
    let upward: Vec<String> = EDGES
        .iter()
        .flat_map(|edge| [format!("crate::{edge}"), format!("super::{edge}")])
        .collect();
    paths
        .found
        .into_iter()
        .filter(|(path, _)| {
            IO_PATHS.iter().any(|io| path.starts_with(io))
                || upward
                    .iter()
                    .any(|edge| path == edge || path.starts_with(&format!("{edge}::")))
        })
        .map(|(path, line)| format!("src/{file}:{line} {path}"))
        .collect()
}

/// Every function (free, in an impl or a trait, nested ones too) and its length in lines.
#[derive(Default)]
struct Functions {
    lengths: Vec<(String, usize, usize)>,
}

impl Functions {
    fn add(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
        let (start, end) = (span.start().line, span.end().line);
        self.lengths
            .push((name.to_string(), start, end + 1 - start));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        // From the signature: the doc comments and attributes above it do not count.
        let span = item.sig.span().join(item.block.span()).unwrap();
        self.add(&item.sig.ident, span);
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let span = item.sig.span().join(item.block.span()).unwrap();
        self.add(&item.sig.ident, span);
        syn::visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            let span = item.sig.span().join(block.span()).unwrap();
            self.add(&item.sig.ident, span);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }
}

/// Functions of `source` over [`MAX_FUNCTION_LINES`]: `file:line name (N lines)`.
fn long_functions(file: &str, source: &str) -> Vec<String> {
    let syntax = syn::parse_file(source).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut functions = Functions::default();
    functions.visit_file(&syntax);
    functions
        .lengths
        .into_iter()
        .filter(|(_, _, lines)| *lines > MAX_FUNCTION_LINES)
        .map(|(name, line, lines)| format!("src/{file}:{line} {name} ({lines} lines)"))
        .collect()
}

#[test]
fn the_core_imports_no_io_crate_and_nothing_of_the_edges() {
    let sources = sources();
    assert!(
        sources.iter().any(|(file, _)| layer(file) == Layer::Core)
            && EDGES.iter().all(|edge| sources
                .iter()
                .any(|(file, _)| file.starts_with(&format!("{edge}/")))),
        "the layers are where this test looks for them"
    );
    let violations: Vec<String> = sources
        .iter()
        .flat_map(|(file, source)| layer_violations(file, source))
        .collect();
    assert!(
        violations.is_empty(),
        "core modules import I/O crates or edge modules:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let long: Vec<String> = sources()
        .iter()
        .flat_map(|(file, source)| long_functions(file, source))
        .collect();
    assert!(long.is_empty(), "functions too long:\n{}", long.join("\n"));
}

#[test]
fn every_binary_is_thin() {
    let binaries: Vec<(String, usize)> = sources()
        .into_iter()
        .filter(|(file, _)| layer(file) == Layer::Binary)
        .map(|(file, source)| (file, source.lines().count()))
        .collect();
    assert!(binaries.len() >= 2, "{binaries:?}");
    for (file, lines) in binaries {
        assert!(
            lines < MAX_BINARY_LINES,
            "src/{file}: {lines} lines; a binary is tracing, configuration and the run of a \
             service that lives in the library"
        );
    }
}

/// The checks themselves find what they are for (so that a clean tree means something).
#[test]
fn the_checks_catch_deliberate_violations() {
    let core = "use std::io;\nuse aws_sdk_s3::Client;\nfn f() { let _ = hyper::Uri::default(); }\n\
                use crate::aws::s3::S3Store;\nuse tokio::{net::TcpStream, sync::Mutex};\n";
    let found = layer_violations("export/convert.rs", core);
    assert_eq!(
        found,
        [
            "src/export/convert.rs:2 aws_sdk_s3::Client",
            "src/export/convert.rs:3 hyper::Uri::default",
            "src/export/convert.rs:4 crate::aws::s3::S3Store",
            "src/export/convert.rs:5 tokio::net::TcpStream",
        ]
    );
    assert!(layer_violations("aws/s3.rs", core).is_empty(), "edges may");
    assert!(layer_violations("bin/export-converter.rs", core).is_empty());

    let body = "    let _ = 1;\n".repeat(MAX_FUNCTION_LINES - 1);
    let long = format!("/// Doc.\nfn long() {{\n{body}}}\nimpl A {{ fn short() {{}} }}\n");
    assert_eq!(
        long_functions("x.rs", &long),
        [format!(
            "src/x.rs:2 long ({} lines)",
            MAX_FUNCTION_LINES + 1
        )]
    );
    let fits = format!(
        "fn fits() {{\n{}}}\n",
        "    let _ = 1;\n".repeat(MAX_FUNCTION_LINES - 2)
    );
    assert!(long_functions("x.rs", &fits).is_empty());
}
