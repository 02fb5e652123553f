//! What a built binary needs from the machine that runs it: its
//! architecture, read from the ELF header, and the newest glibc symbol
//! version it links, as `readelf` lists them.

use std::path::Path;
use std::process::Command;

/// The newest glibc symbol version Amazon Linux 2023 has: the instances'
/// AMI and the `provided.al2023` Lambda runtime. The local stand-ins run
/// this machine's C library, so only this check keeps a binary that needs
/// a newer one from passing every local test and failing in AWS.
pub const AL2023_GLIBC: (u32, u32) = (2, 34);

/// The ELF `e_machine` values of the two architectures both stacks offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    X86_64 = 62,
    Aarch64 = 183,
}

/// Fails the test unless `binary` is a 64-bit little-endian ELF for
/// `machine` whose glibc symbols are no newer than [`AL2023_GLIBC`].
pub fn assert_runs_on_amazon_linux_2023(binary: &Path, machine: Machine) {
    let bytes = std::fs::read(binary)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", binary.display()));
    assert_eq!(
        elf_machine(&bytes),
        Some(machine as u16),
        "{} is not a 64-bit little-endian {machine:?} ELF",
        binary.display()
    );
    let (newest, line) = newest_glibc_symbol(binary);
    assert!(
        newest <= AL2023_GLIBC,
        "{} needs glibc {}.{} (Amazon Linux 2023 has {}.{}): {line}",
        binary.display(),
        newest.0,
        newest.1,
        AL2023_GLIBC.0,
        AL2023_GLIBC.1
    );
}

/// The header's `e_machine`, if `bytes` start as a 64-bit little-endian ELF.
fn elf_machine(bytes: &[u8]) -> Option<u16> {
    let header = bytes.get(..20)?;
    let is_elf64_le = header[..4] == *b"\x7fELF" && header[4] == 2 && header[5] == 1;
    is_elf64_le.then(|| u16::from_le_bytes([header[18], header[19]]))
}

/// The newest `GLIBC_x.y` among the binary's dynamic symbols, with the
/// line that names it. `readelf` reads any architecture's ELF.
fn newest_glibc_symbol(binary: &Path) -> ((u32, u32), String) {
    let output = Command::new("readelf")
        .args(["--dyn-syms", "--wide"])
        .arg(binary)
        .output()
        .expect("readelf (binutils) runs");
    assert!(output.status.success(), "readelf failed: {output:?}");
    let symbols = String::from_utf8_lossy(&output.stdout);
    symbols
        .lines()
        .filter_map(|line| Some((glibc_version(line)?, line.trim().to_string())))
        .max()
        .unwrap_or_else(|| {
            panic!(
                "no glibc symbols in {}: is it dynamically linked?",
                binary.display()
            )
        })
}

/// The version in a symbol written `memcpy@GLIBC_2.14 (3)`.
fn glibc_version(line: &str) -> Option<(u32, u32)> {
    let (_, version) = line.split_once("@GLIBC_")?;
    let mut numbers = version.split(|c: char| !c.is_ascii_digit());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_line_gives_its_glibc_version() {
        let line = "2: 0000000000000000 0 FUNC GLOBAL DEFAULT UND memcpy@GLIBC_2.14 (3)";
        assert_eq!(glibc_version(line), Some((2, 14)));
        assert_eq!(
            glibc_version("5: 0 FUNC GLOBAL DEFAULT UND x@@GLIBC_2.2.5"),
            Some((2, 2))
        );
        assert_eq!(
            glibc_version("6: 0 FUNC GLOBAL DEFAULT UND y@GCC_3.0"),
            None
        );
    }

    #[test]
    fn the_header_gives_the_machine() {
        let mut header = b"\x7fELF\x02\x01".to_vec();
        header.resize(20, 0);
        header[18] = 183;
        assert_eq!(elf_machine(&header), Some(Machine::Aarch64 as u16));
        header[4] = 1; // 32-bit
        assert_eq!(elf_machine(&header), None);
        assert_eq!(elf_machine(b"#!/bin/sh"), None);
    }
}
