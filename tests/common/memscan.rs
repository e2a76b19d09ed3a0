//! Scanning a process's memory for secret bytes (the memory-hygiene
//! tests: nothing left after Lock).

use std::io::{Read, Seek, SeekFrom};

/// Every readable mapping of `pid`, through /proc/PID/mem (needs root, as
/// the daemon is not dumpable).
pub fn memory_of(pid: u32) -> Vec<(String, Vec<u8>)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem"))
        .expect("reading another process's memory needs root");
    let mut regions = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (range, perms) = (f.next().unwrap(), f.next().unwrap());
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !perms.starts_with('r') || name.starts_with("[vvar") || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut buf = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut buf).is_ok() {
            regions.push((line.to_owned(), buf));
        }
    }
    regions
}

pub fn contains(regions: &[(String, Vec<u8>)], needle: &[u8]) -> bool {
    let mut found = false;
    for (map, bytes) in regions {
        let hits: Vec<usize> = memchr::memmem::find_iter(bytes, needle).collect();
        if !hits.is_empty() {
            eprintln!("found in {map} at offsets {hits:?}");
            found = true;
        }
    }
    found
}
