// Reductions on `long double` (x87 extended precision), which Rust has no type for,
// are written in C: src/ldouble.c.
fn main() {
    println!("cargo:rerun-if-changed=src/ldouble.c");
    cc::Build::new()
        .file("src/ldouble.c")
        .flag_if_supported("-std=c11")
        .opt_level(2)
        .compile("fmi_mpi_ldouble");
}
