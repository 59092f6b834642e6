//! Process hardening applied at `paycrypt serve` start, before the master key is read:
//!
//! * `prctl(PR_SET_DUMPABLE, 0)`: no core dump on a crash, and a process of the same user
//!   (without `CAP_SYS_PTRACE`) can no longer ptrace the server or read its `/proc/<pid>/mem`,
//!   `environ`, `maps`, ... (those files become owned by root).
//! * `setrlimit(RLIMIT_CORE, 0)` (soft and hard): no core file even if something makes the
//!   process dumpable again.
//! * `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)` (`--mlock`): no page of the process — clear keys,
//!   PINs in transit — is written to swap. `auto` (default) locks when that is safe and warns
//!   otherwise; `require` refuses to start without it; `off` skips it.
//!
//! Locking with `MCL_FUTURE` under a finite `RLIMIT_MEMLOCK` would make every allocation past
//! the limit fail later, under load; so the lock is taken only when the limit is (or can be
//! raised to) unlimited, or the process has `CAP_IPC_LOCK` (which lifts the limit).
//!
//! The OS calls go through `rustix` (safe wrappers; our crates forbid `unsafe`). On systems
//! other than Linux nothing is applied and the report says so.

/// The `serve --mlock` setting.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MlockMode {
    /// Lock all memory when that can be done without risking allocation failures later (no
    /// finite RLIMIT_MEMLOCK, or CAP_IPC_LOCK); otherwise warn and run unlocked.
    #[default]
    Auto,
    /// Refuse to start unless all memory is locked.
    Require,
    /// Do not lock memory.
    Off,
}

/// What [`apply`] achieved, read back from the kernel where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `Some(false)`: the process is not dumpable (read back with `PR_GET_DUMPABLE`).
    pub dumpable: Option<bool>,
    /// The core-file size limit now in force (soft), `None` when unknown.
    pub core_limit: Option<u64>,
    /// `locked`, `off`, or `skipped (...)` / `failed (...)` with the reason.
    pub mlock: String,
    /// Whether all memory is locked.
    pub locked: bool,
    /// Problems worth a warning (the server still starts unless `--mlock require`).
    pub warnings: Vec<String>,
}

impl Report {
    /// One line for the startup output: `dumpable=false core-limit=0 mlock=locked`.
    #[must_use]
    pub fn summary(&self) -> String {
        let dumpable = match self.dumpable {
            Some(d) => d.to_string(),
            None => "unknown".to_owned(),
        };
        let core = match self.core_limit {
            Some(c) => c.to_string(),
            None => "unknown".to_owned(),
        };
        format!("dumpable={dumpable} core-limit={core} mlock={}", self.mlock)
    }
}

/// Apply the hardening. Errors only with `MlockMode::Require` when memory could not be locked.
///
/// # Errors
/// A message saying why memory could not be locked, under `--mlock require`.
pub fn apply(mode: MlockMode) -> Result<Report, String> {
    let report = imp::apply(mode);
    if mode == MlockMode::Require && !report.locked {
        return Err(format!(
            "--mlock require: memory could not be locked: {}",
            report.mlock
        ));
    }
    Ok(report)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{MlockMode, Report};
    use rustix::mm::{mlockall, MlockAllFlags};
    use rustix::process::{
        dumpable_behavior, getrlimit, set_dumpable_behavior, setrlimit, DumpableBehavior, Resource,
        Rlimit,
    };

    /// `CAP_IPC_LOCK` is capability number 14.
    const CAP_IPC_LOCK: u32 = 14;

    pub(super) fn apply(mode: MlockMode) -> Report {
        let mut warnings = Vec::new();
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            warnings.push(format!("prctl(PR_SET_DUMPABLE, 0) failed: {e}"));
        }
        let dumpable = match dumpable_behavior() {
            Ok(d) => Some(d != DumpableBehavior::NotDumpable),
            Err(_) => None,
        };
        let zero = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, zero) {
            warnings.push(format!("setrlimit(RLIMIT_CORE, 0) failed: {e}"));
        }
        // `None` is RLIM_INFINITY.
        let core_limit = getrlimit(Resource::Core).current;
        let core_limit = if core_limit.is_none() {
            Some(u64::MAX)
        } else {
            core_limit
        };
        let (mlock, locked) = match mode {
            MlockMode::Off => ("off".to_owned(), false),
            MlockMode::Auto | MlockMode::Require => match lock_all() {
                Ok(()) => ("locked".to_owned(), true),
                Err(why) => {
                    warnings.push(format!("memory not locked: {why}"));
                    (why, false)
                }
            },
        };
        Report {
            dumpable,
            core_limit,
            mlock,
            locked,
            warnings,
        }
    }

    fn lock_all() -> Result<(), String> {
        if getrlimit(Resource::Memlock).current.is_some() {
            // Raise to unlimited: allowed when the hard limit is unlimited or with
            // CAP_SYS_RESOURCE; a refusal is fine (checked below).
            let _ = setrlimit(
                Resource::Memlock,
                Rlimit {
                    current: None,
                    maximum: None,
                },
            );
        }
        if let Some(limit) = getrlimit(Resource::Memlock).current {
            if !has_capability(CAP_IPC_LOCK) {
                return Err(format!(
                    "skipped (RLIMIT_MEMLOCK is {} KiB and no CAP_IPC_LOCK: locking all memory \
                     would make allocations fail past the limit; raise it with `ulimit -l \
                     unlimited` / systemd LimitMEMLOCK=infinity, or grant CAP_IPC_LOCK)",
                    limit / 1024
                ));
            }
        }
        // ONFAULT: lock pages as they are touched instead of populating every mapping up front
        // (thread stacks, allocator arenas): same protection for every page that ever holds
        // data, without the resident cost of pages never used.
        mlockall(MlockAllFlags::CURRENT | MlockAllFlags::FUTURE | MlockAllFlags::ONFAULT)
            .map_err(|e| format!("failed (mlockall: {e})"))
    }

    /// Whether the effective capability set (`CapEff` in /proc/self/status) holds `cap`.
    fn has_capability(cap: u32) -> bool {
        let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
            return false;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .is_some_and(|bits| bits & (1u64 << cap) != 0)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{MlockMode, Report};

    pub(super) fn apply(mode: MlockMode) -> Report {
        let mlock = match mode {
            MlockMode::Off => "off",
            _ => "skipped (not available on this OS)",
        };
        Report {
            dumpable: None,
            core_limit: None,
            mlock: mlock.to_owned(),
            locked: false,
            warnings: vec!["no-core-dump and memory locking are implemented on Linux only".into()],
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn summary_format() {
        let r = Report {
            dumpable: Some(false),
            core_limit: Some(0),
            mlock: "locked".into(),
            locked: true,
            warnings: vec![],
        };
        assert_eq!(r.summary(), "dumpable=false core-limit=0 mlock=locked");
    }

    #[test]
    fn apply_makes_this_process_non_dumpable_with_no_core_limit() {
        // Read back from the kernel, not from what apply() believes.
        let r = apply(MlockMode::Off).unwrap();
        assert_eq!(r.dumpable, Some(false));
        assert_eq!(r.core_limit, Some(0));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
        assert_eq!(
            rustix::process::getrlimit(rustix::process::Resource::Core).maximum,
            Some(0)
        );
        assert_eq!(r.mlock, "off");
        assert!(!r.locked);
    }
}
