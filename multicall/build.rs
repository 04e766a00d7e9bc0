//! The table of side-cars, generated from bins/: each crate there is a
//! side-car, run under its directory's name by its library's `main`. The
//! one thing bins/ cannot say is cargo's dependency on it, so a crate of
//! bins/ that multicall/Cargo.toml does not list stops the build with the
//! line to add.

use std::path::Path;

fn main() {
    let bins = Path::new("../bins");
    println!("cargo:rerun-if-changed=../bins");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let manifest = std::fs::read_to_string("Cargo.toml").expect("multicall/Cargo.toml");
    let mut names: Vec<String> = std::fs::read_dir(bins)
        .expect("bins/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    // Sorted: the same table, and the same bytes, from any checkout.
    names.sort();
    let mut table = format!(
        "/// Each side-car's name and main: the crates of bins/.\nconst SIDECARS: [(&str, fn()); {}] = [\n",
        names.len()
    );
    for name in &names {
        let dependency = format!("{name} = {{ path = \"../bins/{name}\" }}");
        if !manifest.contains(&dependency) {
            panic!("bins/{name} is a side-car: add `{dependency}` to [dependencies] in multicall/Cargo.toml");
        }
        table.push_str(&format!(
            "    (\"{name}\", {}::main),\n",
            name.replace('-', "_")
        ));
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("sidecars.rs");
    std::fs::write(out, table).expect("write the table");
}
