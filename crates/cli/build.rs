fn main() {
    // ferrosync-simulate is started once per CIB by scripts: pack its
    // relative relocations (DT_RELR, glibc >= 2.36) so the dynamic loader
    // has less to do at start-up.
    println!("cargo:rustc-link-arg-bin=ferrosync-simulate=-Wl,-z,pack-relative-relocs");
    println!("cargo:rustc-link-arg-bin=ferrosync-simulate=-no-pie");
    // The unwinder from static libgcc_eh instead of libgcc_s.so: whole, so
    // that every _Unwind_* symbol is defined before the linker meets
    // -lgcc_s, which --as-needed then leaves out. Loading libgcc_s ran its
    // constructor __cpu_indicator_init, whose cpuid instructions trap in a
    // VM: about a quarter of ferrosync-simulate's start-up time.
    // Only where Rust links libgcc_s itself: glibc targets without
    // crt-static (a static build takes libgcc_eh already).
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let crt_static = std::env::var("CARGO_CFG_TARGET_FEATURE").is_ok_and(|f| f.split(',').any(|f| f == "crt-static"));
    if gnu && !crt_static {
        println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
    }
}
