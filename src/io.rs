//! Writing result files, for every command that leaves some behind.
//!
//! Results are written whole or not at all, so that a reader, or a rerun after a crash, never
//! finds half a file. Here rather than in `report` because `run`, `sweep` and `check` write files
//! too and sit below `report`.
//!
//! A run writes several files that only make sense together, so a run's files are written as one
//! set: into a fresh staging folder inside the output directory, then moved into place with a
//! [`MANIFEST`] naming every file and its checksum moved in last. A reader ([`verify_set`]) refuses
//! a directory whose files do not match its manifest, or that holds a run's files but no manifest
//! (a run killed while moving its files in, or another program's files): files of two runs are
//! never read as one. The set is moved file by file rather than by swapping the whole directory
//! because the directory may hold a user's own files, which a run must not delete. (A sweep's
//! results are kept apart: `sweep` writes into `output/<name>-sweep/`, and `run` refuses a
//! directory holding a sweep's results.)

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The most bytes stampede reads back from a file it wrote (result CSVs, summaries, manifests):
/// far above what a run writes (a time series keeps at most 1,000,000 rows per policy), low
/// enough that a wrong file is refused instead of read into memory.
pub const MAX_RESULT_FILE_BYTES: u64 = 1 << 30;

/// The most bytes of a baseline or a sweep's manifest or point file: each is a few kilobytes to a
/// few megabytes.
pub const MAX_SMALL_FILE_BYTES: u64 = 64 << 20;

/// Reads the file at `path` whole, refusing (with [`std::io::ErrorKind::InvalidData`]) one larger
/// than `limit` bytes after reading just one byte past it: `/dev/zero` or a log file given in the
/// wrong place fails at once.
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, the most stampede reads from a file of this kind (is it the right file?)",
                limit >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// [`read_at_most`] as UTF-8 text.
pub fn read_text_at_most(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_at_most(path, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The prefix of every temporary file and folder stampede writes; what a killed run leaves
/// behind is recognised by it and removed by the next write.
pub const TEMP_PREFIX: &str = ".stampede-tmp";

/// The file that lists a run's files and their checksums, moved in after them.
pub const MANIFEST: &str = "manifest.json";

/// The files a run writes into its directory (top level): every one present must be in the
/// manifest, and those a new run does not write are removed when it moves its files in.
pub const RUN_FILES: [&str; 8] = [
    "summary.json",
    "summary.csv",
    "runs.csv",
    "latency.csv",
    "tenants.csv",
    "providers.csv",
    "timeseries.csv",
    "scenario.toml",
];

/// Files drawn from a run's files by `stampede report`; a new run removes them, since they
/// describe the run it replaces.
const DERIVED_FILES: [&str; 2] = ["report.html", "report.md"];

/// The subfolder charts are drawn into; moved in whole with the run's files.
const CHARTS: &str = "charts";

/// Writes `bytes` to `path` whole or not at all: a temporary file in the same directory, synced,
/// then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Temporary files are private (0600); a result is an ordinary file others may read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Creates directory `dir` (and its parents) for results; an error names the real cause, e.g.
/// a file standing where the directory should be (which the OS reports as "File exists").
pub fn create_output_dir(dir: &Path) -> std::io::Result<()> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        let blocker = dir
            .ancestors()
            .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir());
        return Err(match blocker {
            Some(file) => std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} exists and is not a directory", file.display()),
            ),
            None => e,
        });
    }
    Ok(())
}

/// Removes what killed writers left in `dir`: temporary files and staging folders, by prefix.
/// Only called where no other writer is at work in `dir`.
pub fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        let _ = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

/// Removes what killed writers left in `dir` at least `age` ago: where other processes may be
/// writing at the same time (shards sharing a sweep directory), a temporary file that old is
/// dead, since [`write_atomic`] renames its file as soon as it is written.
pub fn remove_old_leftovers(dir: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed >= age);
        if old
            && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A run's files being written: a staging folder in the output directory, moved into place by
/// [`Staging::commit`]; dropped uncommitted, it is removed and the directory is left as it was.
pub struct Staging {
    dir: PathBuf,
    tmp: tempfile::TempDir,
    /// Files of this kind of output besides a run's: removed when the new set lacks them.
    owned: &'static [&'static str],
}

impl Staging {
    /// Creates `dir` if missing, removes what killed runs left in it, and opens a staging folder.
    pub fn new(dir: &Path) -> std::io::Result<Staging> {
        Self::owning(dir, &[])
    }

    /// [`Staging::new`] for an output that also writes `owned` (a tune's CSVs): those an earlier
    /// set left and this one does not write are removed when it moves in.
    pub fn owning(dir: &Path, owned: &'static [&'static str]) -> std::io::Result<Staging> {
        create_output_dir(dir)?;
        remove_leftovers(dir);
        remove_leftovers(&dir.join(CHARTS));
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(dir)?;
        Ok(Staging {
            dir: dir.to_path_buf(),
            tmp,
            owned,
        })
    }

    /// Where to write the run's files (top level) and its `charts/`.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes the manifest of the files staged so far into the staging folder, so that what is
    /// read from it (charts) passes [`verify_set`]; [`Staging::commit`] rewrites it.
    pub fn seal(&self) -> std::io::Result<()> {
        let manifest = manifest(self.path())?;
        write_atomic(&self.path().join(MANIFEST), manifest.as_bytes())
    }

    /// Moves the staged files into the directory: the old manifest out first (from then on a
    /// reader refuses the directory until the new one is in), the old run's files that this run
    /// does not write removed, the new files and `charts/` moved in, the manifest last.
    pub fn commit(self) -> std::io::Result<()> {
        let staged = self.path();
        let manifest = manifest(staged)?;
        write_atomic(&staged.join(MANIFEST), manifest.as_bytes())?;
        remove_if_present(&self.dir.join(MANIFEST))?;
        for name in RUN_FILES.iter().chain(&DERIVED_FILES).chain(self.owned) {
            if !staged.join(name).exists() {
                remove_if_present(&self.dir.join(name))?;
            }
        }
        for name in staged_files(staged)? {
            if name != MANIFEST {
                std::fs::rename(staged.join(&name), self.dir.join(&name))?;
            }
        }
        let charts = self.dir.join(CHARTS);
        if charts.exists() {
            std::fs::rename(&charts, staged.join(format!("{TEMP_PREFIX}-old-{CHARTS}")))?;
        }
        if staged.join(CHARTS).is_dir() {
            std::fs::rename(staged.join(CHARTS), &charts)?;
        }
        std::fs::rename(staged.join(MANIFEST), self.dir.join(MANIFEST))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.tmp.close()
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The names of the regular files at the top of `dir`, sorted, temporary files left out.
fn staged_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && !name.starts_with(TEMP_PREFIX) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The manifest of the files at the top of `dir` (charts are redrawn by `plot`, so not listed).
fn manifest(dir: &Path) -> std::io::Result<String> {
    let mut files = BTreeMap::new();
    for name in staged_files(dir)? {
        if name != MANIFEST {
            files.insert(name.clone(), checksum(&std::fs::read(dir.join(&name))?));
        }
    }
    let doc = serde_json::json!({ "files": files });
    let mut s = serde_json::to_string_pretty(&doc).expect("a map of strings serialises");
    s.push('\n');
    Ok(s)
}

/// FNV-1a, 64 bits, in hex: enough to tell one run's file from another's (not an integrity
/// check against an adversary).
fn checksum(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// Checks that the run files in `dir` are one run's set: when there is a manifest, each file it
/// lists is there unchanged and every run file there is listed; without one, that no run file is
/// there (a sweep's or hand-made CSVs are read as they are). `Err` says what does not belong.
pub fn verify_set(dir: &Path) -> Result<(), String> {
    let path = dir.join(MANIFEST);
    let bytes = match read_at_most(&path, MAX_SMALL_FILE_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join("summary.json").exists() {
                return Err(format!(
                    "{} holds a run's summary.json but no {MANIFEST}: a run that was stopped while moving its files in, or files of different runs; run the scenario again into this directory",
                    dir.display()
                ));
            }
            return Ok(());
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}:{}: {e}", path.display(), e.line()))?;
    let files = doc
        .get("files")
        .and_then(|f| f.as_object())
        .ok_or_else(|| format!("{}: no \"files\" table", path.display()))?;
    for (name, sum) in files {
        let file = dir.join(name);
        let bytes = read_at_most(&file, MAX_RESULT_FILE_BYTES).map_err(|e| {
            format!(
                "{} is listed in {MANIFEST} but cannot be read ({e}): the directory does not hold one run's whole set; run the scenario again",
                file.display()
            )
        })?;
        if sum.as_str() != Some(checksum(&bytes).as_str()) {
            return Err(format!(
                "{} is not the file the run in {MANIFEST} wrote: the directory mixes files of different runs; run the scenario again",
                file.display()
            ));
        }
    }
    for name in RUN_FILES {
        if dir.join(name).exists() && !files.contains_key(name) {
            return Err(format!(
                "{} is not one of the files the run in {MANIFEST} wrote: the directory mixes files of different runs; remove it or run the scenario again",
                dir.join(name).display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn results_are_written_readable_by_others_like_any_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        super::write_atomic(&path, b"{}").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
