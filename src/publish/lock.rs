//! One writer at a time: the `_lock` object at the warehouse root.
//!
//! A run creates `_lock` only if it does not exist (an exclusive create on a local disk, a
//! conditional put on an object store) and deletes it when done. The lock names its holder
//! (run id, command, process id, host, start time), so a second run can say who holds it. A
//! lock left by a process that no longer runs on this host is taken over with a warning; one
//! held from another host can be removed with `churnlake unlock` once that run is known dead.

use crate::base::error::FromFile;
use crate::engine::warehouse::Warehouse;
use crate::publish::{Error, Result};
use serde::{Deserialize, Serialize};

pub const LOCK: &str = "_lock";

/// Who holds the lock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub run_id: String,
    pub command: String,
    pub pid: u32,
    pub host: String,
    pub started_at: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} (`churnlake {}`, pid {} on host {}, since {})",
            self.run_id, self.command, self.pid, self.host, self.started_at
        )
    }
}

impl Holder {
    fn is_dead(&self) -> bool {
        self.host == host_name() && !process_alive(self.pid)
    }
}

/// A held lock; [`Lock::release`] gives it up.
pub struct Lock {
    warehouse: Warehouse,
    pub holder: Holder,
    /// Set when a stale lock was taken over, for the operator.
    pub took_over: Option<Holder>,
}

impl Lock {
    /// Takes the warehouse lock, or fails (exit code 3) naming the run that holds it.
    pub async fn acquire(warehouse: &Warehouse, run_id: &str, command: &str) -> Result<Lock> {
        let holder = Holder {
            run_id: run_id.to_string(),
            command: command.to_string(),
            pid: std::process::id(),
            host: host_name(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let bytes = serde_json::to_vec_pretty(&holder).expect("a lock serializes");
        let mut took_over = None;
        for _ in 0..3 {
            if warehouse.put_new(LOCK, bytes.clone()).await? {
                return Ok(Lock {
                    warehouse: warehouse.clone(),
                    holder,
                    took_over,
                });
            }
            let Some(current) = read_holder(warehouse).await? else {
                // Released between our attempt and the read: try again.
                continue;
            };
            if current.is_dead() {
                warehouse.delete(LOCK).await?;
                took_over = Some(current);
                continue;
            }
            return Err(Error::io(
                warehouse.url_of(LOCK),
                format!(
                    "the warehouse is locked by {current}; wait for that run to finish. If it is \
                     no longer running, remove the lock with `churnlake unlock`"
                ),
            ));
        }
        Err(Error::io(
            warehouse.url_of(LOCK),
            "could not take the warehouse lock after three attempts; another run keeps taking it",
        ))
    }

    /// Gives the lock up, if it is still ours.
    pub async fn release(self) -> Result<()> {
        match read_holder(&self.warehouse).await? {
            Some(current) if current.run_id == self.holder.run_id => {
                Ok(self.warehouse.delete(LOCK).await?)
            }
            _ => Ok(()),
        }
    }
}

/// The current holder, if the warehouse is locked. A lock whose content cannot be read (a
/// writer killed mid-write) belongs to a dead process.
pub async fn read_holder(warehouse: &Warehouse) -> Result<Option<Holder>> {
    let Some(bytes) = warehouse.get(LOCK).await? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        Holder {
            run_id: "unknown".into(),
            command: "unknown".into(),
            pid: 0,
            host: host_name(),
            started_at: "unknown".into(),
        }
    })))
}

/// Removes the lock whoever holds it; returns the holder it removed.
pub async fn force_unlock(warehouse: &Warehouse) -> Result<Option<Holder>> {
    let holder = read_holder(warehouse).await?;
    if holder.is_some() {
        warehouse.delete(LOCK).await?;
    }
    Ok(holder)
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let proc = std::path::Path::new("/proc");
    if proc.join("self").exists() {
        // A zombie has exited; only its parent has not collected it yet.
        return match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        };
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}
