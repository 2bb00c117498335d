//! The events table as a hive-partitioned Parquet dataset, bucketed by device:
//! `DIR/bucket=07/part-0.parquet`, one directory a bucket, which Spark, DuckDB
//! (`hive_partitioning`), polars (`scan_parquet(..., hive_partitioning=True)`) and pyarrow
//! (`pyarrow.dataset.dataset(DIR, partitioning="hive")`) read as one table with a `bucket` column.
//!
//! A device's bucket is [`bucket_of`]: FNV-1a (64 bit) over the hub's bytes, one `0xff` byte (which
//! no UTF-8 text holds, so `("ab", "c")` and `("a", "bc")` differ) and the device id's bytes,
//! modulo the bucket count. The hash is fixed here, not std's or the interner's, so a device lands
//! in the same bucket in every run, on every machine and in every version that keeps this
//! definition; another tool can compute it too. Modules share their device's bucket, so all of a
//! device's records (what its sessions need) are in one file.
//!
//! Each file is the events table [`crate::frame::write_events`] writes, its rows in the order they
//! were given: the bucket lives only in the path, as hive partitioning has it, so dropscope reads
//! the files back (a directory is walked) as any other events table.

use std::fs;
use std::path::{Path, PathBuf};

use dropscope_model::Event;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// The bucket count when none is asked for: a few files a core on large machines, and few
/// enough that a small export does not scatter into tiny files.
pub const DEFAULT_BUCKETS: u32 = 32;

/// The largest bucket count: past it the files get too small to be worth a task.
pub const MAX_BUCKETS: u32 = 4096;

/// The bucket, in `0..buckets`, of a device of a hub: FNV-1a of `hub`, `0xff`, `device_id`.
/// `buckets` must be at least 1.
pub fn bucket_of(hub: &str, device_id: &str, buckets: u32) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in hub.bytes().chain([0xff]).chain(device_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    (hash % u64::from(buckets.max(1))) as u32
}

/// The directory name of a bucket: `bucket=07`, zero-padded to the width of the largest bucket
/// number (at least two digits) so the directories sort in bucket order.
pub fn bucket_dir(bucket: u32, buckets: u32) -> String {
    let width = buckets.saturating_sub(1).to_string().len().max(2);
    format!("bucket={bucket:0width$}")
}

/// One file of a partitioned dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketFile {
    /// The bucket number.
    pub bucket: u32,
    /// The file written.
    pub path: PathBuf,
    /// Its rows.
    pub rows: usize,
}

/// Writes `events` under `dir` as `bucket=NN/part-0.parquet`, one file for each bucket that holds
/// a device (empty buckets get no directory), rows in their order in `events`. `dir` is created
/// when missing; the caller makes sure it holds no older dataset (a bucket left from a run with
/// another count would join this one). The files are encoded in parallel, one a thread.
pub fn write_events_partitioned(
    dir: &Path,
    events: &[Event],
    buckets: u32,
) -> Result<Vec<BucketFile>> {
    let buckets = buckets.clamp(1, MAX_BUCKETS);
    let of: Vec<u32> = events
        .par_iter()
        .map(|event| bucket_of(event.hub.as_str(), event.device_id.as_str(), buckets))
        .collect();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); buckets as usize];
    for (row, &bucket) in of.iter().enumerate() {
        rows[bucket as usize].push(row);
    }
    drop(of);
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    rows.into_par_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(bucket, rows)| {
            let bucket = bucket as u32;
            let sub = dir.join(bucket_dir(bucket, buckets));
            fs::create_dir_all(&sub).map_err(write_err(&sub))?;
            let path = sub.join("part-0.parquet");
            let part: Vec<Event> = rows.iter().map(|&row| events[row].clone()).collect();
            crate::frame::write_events_parquet(&path, &part)?;
            Ok(BucketFile { bucket, path, rows: part.len() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use dropscope_model::{Operation, Timestamp};

    use super::*;

    #[test]
    fn buckets_are_fixed() {
        // FNV-1a of the one byte 0xff, and buckets computed apart from this code (Python, the
        // module doc's definition): they pin the definition other tools may rely on.
        assert_eq!(bucket_of("", "", u32::MAX), (0xaf64_724c_8602_eb6e_u64 % 0xffff_ffff) as u32);
        let got = ["sensor-000001", "sensor-000002", "edge1"].map(|d| bucket_of("hub", d, 32));
        assert_eq!(got, [1, 8, 3]);
        assert_eq!(bucket_of("contoso-hub", "sensor-000042", 32), 10);
        assert_ne!(bucket_of("ab", "c", 1 << 20), bucket_of("a", "bc", 1 << 20));
        assert_eq!(bucket_of("hub", "d", 1), 0);
        assert_eq!(bucket_of("hub", "d", 0), 0);
    }

    #[test]
    fn bucket_names_sort_in_order() {
        assert_eq!(bucket_dir(7, 32), "bucket=07");
        assert_eq!(bucket_dir(7, 1000), "bucket=007");
        assert_eq!(bucket_dir(0, 1), "bucket=00");
    }

    #[test]
    fn every_event_lands_in_its_device_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = (0..40)
            .map(|i| {
                let device = format!("d{}", i % 7);
                Event::new(Timestamp::from_secs(i), "hub", &device, Operation::Connect)
            })
            .collect();
        let files = write_events_partitioned(dir.path(), &events, 4).unwrap();
        assert_eq!(files.iter().map(|f| f.rows).sum::<usize>(), 40);
        for file in &files {
            let back = crate::frame::read_events(&fs::read(&file.path).unwrap(), 0).unwrap();
            assert_eq!(back.len(), file.rows);
            assert!(back.iter().all(|e| bucket_of("hub", e.device_id.as_str(), 4) == file.bucket));
            assert!(back.windows(2).all(|w| w[0].time <= w[1].time), "input order kept");
        }
    }
}
