fn main() {
    // ferrosync-simulate is started once per CIB by scripts: pack its
    // relative relocations (DT_RELR, glibc >= 2.36) so the dynamic loader
    // has less to do at start-up.
    println!("cargo:rustc-link-arg-bin=ferrosync-simulate=-Wl,-z,pack-relative-relocs");
    println!("cargo:rustc-link-arg-bin=ferrosync-simulate=-no-pie");
}
