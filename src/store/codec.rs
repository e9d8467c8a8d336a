//! Byte formats of the store: the packed head row of one poll, compressed chunk columns
//! (pco) and presence bitmaps. Pure functions on bytes; must not touch SQLite or threads.
//!
//! Everything read back from the database is treated as untrusted: a damaged blob gives a
//! `CodecError`, never a panic.

use std::fmt;

use crate::model::Millis;

/// Why a stored blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(what: impl Into<String>) -> CodecError {
    CodecError(what.into())
}

// Column tags. A constant column (very common: `up`, build info, idle counters) costs 9 bytes
// instead of pco's header; an evenly spaced timestamp column costs 17.
const TAG_EMPTY: u8 = 0;
const TAG_CONST: u8 = 1;
const TAG_PCO: u8 = 2;
const TAG_STEP: u8 = 3;

/// Compress a value column. Values are kept bit-exact (NaN payloads included) because pco
/// maps floats to integers losslessly.
pub fn encode_values(values: &[f64]) -> Vec<u8> {
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    match bits.first() {
        None => vec![TAG_EMPTY],
        Some(&first) if bits.iter().all(|&b| b == first) => {
            let mut out = Vec::with_capacity(9);
            out.push(TAG_CONST);
            out.extend_from_slice(&first.to_le_bytes());
            out
        }
        Some(_) => {
            // Compressing the floats (not their bit patterns) lets pco find float structure
            // such as decimal multipliers; it still round-trips every bit.
            match pco::standalone::simple_compress(values, &pco::ChunkConfig::default()) {
                Ok(body) => {
                    let mut out = Vec::with_capacity(body.len() + 1);
                    out.push(TAG_PCO);
                    out.extend_from_slice(&body);
                    out
                }
                // pco only fails on invalid configs; keep the data rather than lose it.
                Err(_) => raw_u64(&bits),
            }
        }
    }
}

const TAG_RAW: u8 = 4;

fn raw_u64(bits: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 8 * bits.len());
    out.push(TAG_RAW);
    for b in bits {
        out.extend_from_slice(&b.to_le_bytes());
    }
    out
}

fn decode_raw_u64(body: &[u8], n: usize) -> Result<Vec<u64>, CodecError> {
    if body.len() != n.saturating_mul(8) {
        return Err(err(format!(
            "raw column has {} bytes, expected {} for {n} values",
            body.len(),
            n.saturating_mul(8)
        )));
    }
    Ok(body
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
        .collect())
}

fn read_u64(body: &[u8]) -> Result<u64, CodecError> {
    let a: [u8; 8] = body
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| err("column ends inside an 8-byte field"))?;
    Ok(u64::from_le_bytes(a))
}

/// Largest sample count a stored column may claim. Chunks hold one window of one series
/// (a day at 1 s is 86,400), so anything near this is a damaged count, and refusing it keeps
/// a bad row from allocating gigabytes.
pub const MAX_COLUMN_LEN: usize = 1 << 24;

fn check_len(n: usize) -> Result<(), CodecError> {
    if n > MAX_COLUMN_LEN {
        return Err(err(format!(
            "column claims {n} entries; at most {MAX_COLUMN_LEN} are accepted"
        )));
    }
    Ok(())
}

/// Decode a value column that must hold exactly `n` values.
pub fn decode_values(blob: &[u8], n: usize) -> Result<Vec<f64>, CodecError> {
    check_len(n)?;
    let (&tag, body) = blob
        .split_first()
        .ok_or_else(|| err("empty value column"))?;
    let out = match tag {
        TAG_EMPTY => Vec::new(),
        TAG_CONST => vec![f64::from_bits(read_u64(body)?); n],
        TAG_PCO => pco::standalone::simple_decompress::<f64>(body)
            .map_err(|e| err(format!("value column: pco: {e}")))?,
        TAG_RAW => decode_raw_u64(body, n)?
            .into_iter()
            .map(f64::from_bits)
            .collect(),
        other => return Err(err(format!("value column has unknown tag {other}"))),
    };
    if out.len() != n {
        return Err(err(format!(
            "value column holds {} values, expected {n}",
            out.len()
        )));
    }
    Ok(out)
}

/// Compress a timestamp column (any order; the store passes sorted columns).
pub fn encode_times(ts: &[Millis]) -> Vec<u8> {
    match ts {
        [] => vec![TAG_EMPTY],
        [first, rest @ ..] => {
            let step = rest.first().map_or(0, |s| s.wrapping_sub(*first));
            let even = ts.windows(2).all(|w| match w {
                [a, b] => b.wrapping_sub(*a) == step,
                _ => true,
            });
            if even {
                let mut out = Vec::with_capacity(17);
                out.push(TAG_STEP);
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&step.to_le_bytes());
                return out;
            }
            match pco::standalone::simple_compress(ts, &pco::ChunkConfig::default()) {
                Ok(body) => {
                    let mut out = Vec::with_capacity(body.len() + 1);
                    out.push(TAG_PCO);
                    out.extend_from_slice(&body);
                    out
                }
                Err(_) => raw_u64(&ts.iter().map(|&t| t as u64).collect::<Vec<_>>()),
            }
        }
    }
}

/// Decode a timestamp column that must hold exactly `n` timestamps.
pub fn decode_times(blob: &[u8], n: usize) -> Result<Vec<Millis>, CodecError> {
    check_len(n)?;
    let (&tag, body) = blob
        .split_first()
        .ok_or_else(|| err("empty timestamp column"))?;
    let out = match tag {
        TAG_EMPTY => Vec::new(),
        TAG_STEP => {
            let first = read_u64(body)? as i64;
            let step = read_u64(body.get(8..).unwrap_or_default())? as i64;
            let mut v = Vec::with_capacity(n);
            let mut t = first;
            for _ in 0..n {
                v.push(t);
                t = t.wrapping_add(step);
            }
            v
        }
        TAG_PCO => pco::standalone::simple_decompress::<i64>(body)
            .map_err(|e| err(format!("timestamp column: pco: {e}")))?,
        TAG_RAW => decode_raw_u64(body, n)?
            .into_iter()
            .map(|b| b as i64)
            .collect(),
        other => return Err(err(format!("timestamp column has unknown tag {other}"))),
    };
    if out.len() != n {
        return Err(err(format!(
            "timestamp column holds {} values, expected {n}",
            out.len()
        )));
    }
    Ok(out)
}

/// Bitmap of which of a block's shared timestamps a series has (bit i = timestamp i).
pub fn encode_bitmap(present: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; present.len().div_ceil(8)];
    for (i, _) in present.iter().enumerate().filter(|(_, p)| **p) {
        if let Some(byte) = out.get_mut(i / 8) {
            *byte |= 1 << (i % 8);
        }
    }
    out
}

/// Positions set in a bitmap of `len` bits.
pub fn decode_bitmap(bitmap: &[u8], len: usize) -> Result<Vec<usize>, CodecError> {
    check_len(len)?;
    if bitmap.len() != len.div_ceil(8) {
        return Err(err(format!(
            "bitmap has {} bytes, expected {} for {len} timestamps",
            bitmap.len(),
            len.div_ceil(8)
        )));
    }
    Ok((0..len)
        .filter(|i| bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
        .collect())
}

/// One poll's samples as stored in a head row: columns sorted by persistent series id so a
/// reader can binary-search one series without decoding the rest.
///
/// Layout (little endian): `flags u8`, `n u32`, `n × sid u32`, `n × value bits u64`, and when
/// flag bit 0 is set (some sample carries its own timestamp) `n × ts i64`; otherwise every
/// sample has the row's timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRow {
    pub sids: Vec<u32>,
    pub values: Vec<f64>,
    /// `None` when every sample has the row timestamp.
    pub times: Option<Vec<Millis>>,
}

const HEAD_HAS_TIMES: u8 = 1;
const HEAD_PREFIX: usize = 5;

/// Pack samples `(series id, ts, value)` of one poll taken at `at`. Sorts by (sid, ts).
pub fn encode_head(at: Millis, samples: &mut [(u32, Millis, f64)]) -> Vec<u8> {
    samples.sort_by_key(|s| (s.0, s.1));
    let own_times = samples.iter().any(|s| s.1 != at);
    let n = samples.len();
    let mut out = Vec::with_capacity(HEAD_PREFIX + n * if own_times { 20 } else { 12 });
    out.push(if own_times { HEAD_HAS_TIMES } else { 0 });
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for s in samples.iter() {
        out.extend_from_slice(&s.0.to_le_bytes());
    }
    for s in samples.iter() {
        out.extend_from_slice(&s.2.to_bits().to_le_bytes());
    }
    if own_times {
        for s in samples.iter() {
            out.extend_from_slice(&s.1.to_le_bytes());
        }
    }
    out
}

/// Checked view of a head blob; `n` and the column offsets are validated once.
struct HeadView<'a> {
    n: usize,
    sids: &'a [u8],
    values: &'a [u8],
    times: Option<&'a [u8]>,
}

fn head_view(blob: &[u8]) -> Result<HeadView<'_>, CodecError> {
    let flags = *blob.first().ok_or_else(|| err("empty head row"))?;
    if flags & !HEAD_HAS_TIMES != 0 {
        return Err(err(format!("head row has unknown flags {flags:#x}")));
    }
    let n_bytes: [u8; 4] = blob
        .get(1..HEAD_PREFIX)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| err("head row shorter than its header"))?;
    let n = u32::from_le_bytes(n_bytes) as usize;
    let per = if flags & HEAD_HAS_TIMES != 0 { 20 } else { 12 };
    let want = HEAD_PREFIX + n * per;
    if blob.len() != want {
        return Err(err(format!(
            "head row has {} bytes, expected {want} for {n} samples",
            blob.len()
        )));
    }
    let sids_end = HEAD_PREFIX + 4 * n;
    let values_end = sids_end + 8 * n;
    Ok(HeadView {
        n,
        sids: blob.get(HEAD_PREFIX..sids_end).unwrap_or_default(),
        values: blob.get(sids_end..values_end).unwrap_or_default(),
        times: (flags & HEAD_HAS_TIMES != 0).then(|| blob.get(values_end..).unwrap_or_default()),
    })
}

fn u32_at(col: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = col.get(i * 4..i * 4 + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn u64_at(col: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = col.get(i * 8..i * 8 + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Decode a whole head row.
pub fn decode_head(blob: &[u8]) -> Result<HeadRow, CodecError> {
    let v = head_view(blob)?;
    Ok(HeadRow {
        sids: (0..v.n).map(|i| u32_at(v.sids, i)).collect(),
        values: (0..v.n)
            .map(|i| f64::from_bits(u64_at(v.values, i)))
            .collect(),
        times: v
            .times
            .map(|t| (0..v.n).map(|i| u64_at(t, i) as i64).collect()),
    })
}

/// Append the samples of one series from a head row taken at `at` to `out`, using binary
/// search on the sorted id column so the other series are never decoded.
pub fn head_lookup(
    blob: &[u8],
    at: Millis,
    sid: u32,
    out: &mut Vec<(Millis, f64)>,
) -> Result<(), CodecError> {
    head_lookup_with(
        blob.len(),
        at,
        sid,
        |off, buf| {
            let src = blob
                .get(off..off + buf.len())
                .ok_or_else(|| err("head row read past its end"))?;
            buf.copy_from_slice(src);
            Ok(())
        },
        out,
    )
}

/// `head_lookup` over random-access reads of a blob of `len` bytes, so a reader can touch
/// only the bytes the binary search needs (SQLite incremental blob I/O) instead of loading
/// the whole poll.
pub fn head_lookup_with<F>(
    len: usize,
    at: Millis,
    sid: u32,
    mut read: F,
    out: &mut Vec<(Millis, f64)>,
) -> Result<(), CodecError>
where
    F: FnMut(usize, &mut [u8]) -> Result<(), CodecError>,
{
    let mut hdr = [0u8; HEAD_PREFIX];
    read(0, &mut hdr)?;
    let [flags, n0, n1, n2, n3] = hdr;
    if flags & !HEAD_HAS_TIMES != 0 {
        return Err(err(format!("head row has unknown flags {flags:#x}")));
    }
    let n = u32::from_le_bytes([n0, n1, n2, n3]) as usize;
    let has_times = flags & HEAD_HAS_TIMES != 0;
    let want = HEAD_PREFIX + n * if has_times { 20 } else { 12 };
    if len != want {
        return Err(err(format!(
            "head row has {len} bytes, expected {want} for {n} samples"
        )));
    }
    let sids_at = HEAD_PREFIX;
    let values_at = sids_at + 4 * n;
    let times_at = values_at + 8 * n;
    let sid_of = |i: usize, read: &mut F| {
        let mut b = [0u8; 4];
        read(sids_at + 4 * i, &mut b).map(|()| u32::from_le_bytes(b))
    };
    // First index whose sid is >= the wanted one.
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if sid_of(mid, &mut read)? < sid {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut i = lo;
    while i < n && sid_of(i, &mut read)? == sid {
        let mut v = [0u8; 8];
        read(values_at + 8 * i, &mut v)?;
        let ts = if has_times {
            let mut t = [0u8; 8];
            read(times_at + 8 * i, &mut t)?;
            i64::from_le_bytes(t)
        } else {
            at
        };
        out.push((ts, f64::from_bits(u64::from_le_bytes(v))));
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_and_step_columns_are_small() {
        assert_eq!(encode_values(&[1.0; 240]).len(), 9);
        let ts: Vec<i64> = (0..240).map(|i| 1_000 + 15_000 * i).collect();
        assert_eq!(encode_times(&ts).len(), 17);
        assert_eq!(decode_times(&encode_times(&ts), 240), Ok(ts));
    }

    #[test]
    fn damaged_columns_are_errors() {
        let cases: &[(&[u8], usize)] = &[
            (&[], 1),
            (&[9], 1),
            (&[TAG_CONST, 1, 2], 1),
            (&[TAG_PCO, 1, 2, 3], 3),
            (&[TAG_RAW, 0, 0, 0, 0, 0, 0, 0, 0], 2),
            (&[TAG_EMPTY], 1),
        ];
        for (blob, n) in cases {
            assert!(decode_values(blob, *n).is_err(), "{blob:?}");
            assert!(decode_times(blob, *n).is_err(), "{blob:?}");
        }
        assert!(decode_head(&[0, 2, 0, 0, 0, 1]).is_err());
        assert!(decode_head(&[2, 0, 0, 0, 0]).is_err());
        assert!(decode_bitmap(&[1, 2], 3).is_err());
    }
}
