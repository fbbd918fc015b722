//! Calls that glibc versioned anew after 2.26, and that a host link on a newer glibc (2.34 on
//! Debian 12) binds to the new versions: `__libc_start_main` and the pthread functions
//! (GLIBC_2.34, through `main` and `std::thread`), `pow`/`exp`/`log` (2.29, as in DataFusion's
//! math functions), `stat` (2.33, `std::fs::metadata`), `dlsym` (2.34, std's weak symbols),
//! and `getrandom` (2.25, what ring and aws-lc use for entropy). Linked for glibc 2.26 they
//! must all bind to versions at most 2.26. Prints one line so the test sees it ran.

fn main() {
    let x: f64 = std::env::args().count() as f64 + 0.5;
    let math =
        x.powf(1.7) + x.exp() + x.ln() + x.log2() + f64::from((x as f32).exp()) + x.hypot(2.0);
    let len = std::fs::metadata("/").map(|m| m.len()).unwrap_or(0);
    let mut buf = [0u8; 8];
    // SAFETY: buf is a valid, writable 8-byte buffer.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    let joined = std::thread::spawn(move || got + 1).join().unwrap_or(-1);
    println!("glibc-probe ok: math={math:.3} dir_len={len} getrandom={got} thread={joined}");
}
