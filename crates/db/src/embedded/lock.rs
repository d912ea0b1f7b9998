//! An exclusive advisory lock on a file, held until the guard is dropped.

use crate::error::DbError;
use std::fs::{File, OpenOptions};
use std::path::Path;

#[derive(Debug)]
pub struct FileLock {
    file: File,
}

/// Blocks until this process holds the lock on `path` (created if missing).
pub fn exclusive(path: &Path) -> Result<FileLock, DbError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(DbError::io(path))?;
    file.lock().map_err(DbError::io(path))?;
    Ok(FileLock { file })
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
