//! RIFF WAVE files: reading PCM 16-bit, PCM 8-bit, µ-law and A-law, and
//! writing 16-bit PCM with the sizes patched in at the end.
//!
//! Layout (little-endian): `RIFF <size> WAVE`, then chunks `<id> <size>
//! <data>` padded to even length. `fmt ` says format tag (1 PCM, 6 A-law,
//! 7 µ-law, 0xFFFE extensible with the tag in its sub-format GUID),
//! channels, rate and bits per sample; `data` holds the interleaved samples.
//! Other chunks (`LIST`, `fact`, ...) are skipped.

use std::io::{self, Seek, SeekFrom, Write};

use crate::codec::{alaw_decode, ulaw_decode};

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// Not a RIFF WAVE file.
    #[error("not a RIFF WAVE file")]
    NotWave,
    /// A chunk runs past the end of the file, or `fmt `/`data` is missing.
    #[error("truncated or incomplete WAV file: {0}")]
    Truncated(&'static str),
    /// A sample format this reader does not handle.
    #[error("unsupported WAV format: tag {tag}, {bits} bits")]
    Unsupported {
        /// The format tag.
        tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Zero channels or a zero sample rate.
    #[error("invalid WAV header: {0}")]
    Invalid(&'static str),
    /// Reading or writing the file failed.
    #[error("wav i/o: {0}")]
    Io(#[from] io::Error),
}

/// How the samples in a WAV file are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WavFormat {
    /// Signed 16-bit little-endian PCM.
    Pcm16,
    /// Unsigned 8-bit PCM.
    Pcm8,
    /// G.711 µ-law.
    Ulaw,
    /// G.711 A-law.
    Alaw,
}

/// A parsed WAV file: its format and its samples, decoded to 16-bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// The coding the file used.
    pub format: WavFormat,
    /// Interleaved 16-bit samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Parses a WAV file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Wav, WavError> {
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::NotWave);
        }
        let mut rest = &bytes[12..];
        let mut fmt: Option<(WavFormat, u16, u32)> = None;
        while rest.len() >= 8 {
            let id = &rest[0..4];
            let size = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let body_end = 8usize.saturating_add(size);
            // A data chunk cut short, or with size 0 (a recording that was
            // never finished), is read as far as the file goes.
            let unsized_data = id == b"data" && (size == 0 || body_end > rest.len());
            let body = if unsized_data {
                &rest[8..]
            } else if body_end <= rest.len() {
                &rest[8..body_end]
            } else {
                return Err(WavError::Truncated("chunk runs past the end"));
            };
            match id {
                b"fmt " => fmt = Some(parse_fmt(body)?),
                b"data" => {
                    let (format, channels, sample_rate) =
                        fmt.ok_or(WavError::Truncated("data before fmt"))?;
                    return Ok(Wav {
                        sample_rate,
                        channels,
                        format,
                        samples: decode_samples(format, channels, body),
                    });
                }
                _ => {}
            }
            let next = body_end + (size & 1);
            rest = rest.get(next..).unwrap_or(&[]);
        }
        Err(WavError::Truncated(if fmt.is_some() {
            "no data chunk"
        } else {
            "no fmt chunk"
        }))
    }

    /// Reads and parses a WAV file.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Wav, WavError> {
        Wav::parse(&std::fs::read(path)?)
    }

    /// The samples mixed down to mono (channels averaged).
    pub fn to_mono(&self) -> Vec<i16> {
        let ch = usize::from(self.channels.max(1));
        if ch == 1 {
            return self.samples.clone();
        }
        self.samples
            .chunks_exact(ch)
            .map(|frame| {
                let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
                (sum / ch as i32) as i16
            })
            .collect()
    }

    /// The file as bytes: 16-bit PCM, whatever the format it was read from.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let written =
            WavWriter::new(&mut out, self.sample_rate, self.channels).and_then(|mut w| {
                w.write_samples(&self.samples)?;
                w.finish()
            });
        // Writing to memory cannot fail.
        debug_assert!(written.is_ok());
        out.into_inner()
    }
}

fn parse_fmt(body: &[u8]) -> Result<(WavFormat, u16, u32), WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated("fmt chunk too short"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let bits = u16_at(14);
    if tag == 0xFFFE {
        // WAVE_FORMAT_EXTENSIBLE: the real tag starts the sub-format GUID.
        if body.len() < 26 {
            return Err(WavError::Truncated("extensible fmt chunk too short"));
        }
        tag = u16_at(24);
    }
    if channels == 0 || sample_rate == 0 {
        return Err(WavError::Invalid("zero channels or sample rate"));
    }
    let format = match (tag, bits) {
        (1, 16) => WavFormat::Pcm16,
        (1, 8) => WavFormat::Pcm8,
        (6, 8) => WavFormat::Alaw,
        (7, 8) => WavFormat::Ulaw,
        _ => return Err(WavError::Unsupported { tag, bits }),
    };
    Ok((format, channels, sample_rate))
}

fn decode_samples(format: WavFormat, channels: u16, data: &[u8]) -> Vec<i16> {
    let mut samples: Vec<i16> = match format {
        WavFormat::Pcm16 => data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
        WavFormat::Pcm8 => data.iter().map(|&b| (i16::from(b) - 128) << 8).collect(),
        WavFormat::Ulaw => data.iter().map(|&b| ulaw_decode(b)).collect(),
        WavFormat::Alaw => data.iter().map(|&b| alaw_decode(b)).collect(),
    };
    // Drop a trailing partial frame.
    let ch = usize::from(channels);
    samples.truncate(samples.len() / ch * ch);
    samples
}

/// Largest data chunk a RIFF file can describe.
const MAX_DATA: u64 = u32::MAX as u64 - 36;

/// Writes a 16-bit PCM WAV file; the header's sizes are patched in by
/// [`WavWriter::finish`]. A file that is never finished still holds its
/// samples behind a zero-size header, which [`Wav::parse`] reads anyway.
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    data_bytes: u64,
    channels: u16,
    sample_rate: u32,
    scratch: Vec<u8>,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a file: writes a 44-byte header with placeholder sizes.
    pub fn new(mut inner: W, sample_rate: u32, channels: u16) -> io::Result<Self> {
        inner.write_all(&header(sample_rate, channels, 0))?;
        Ok(Self {
            inner,
            data_bytes: 0,
            channels,
            sample_rate,
            scratch: Vec::new(),
        })
    }

    /// Appends interleaved samples. Past the 4 GiB a RIFF file can hold,
    /// samples are dropped and `Ok(false)` is returned.
    pub fn write_samples(&mut self, samples: &[i16]) -> io::Result<bool> {
        let room = (MAX_DATA - self.data_bytes) / 2;
        let take = samples.len().min(room as usize);
        self.scratch.clear();
        self.scratch
            .extend(samples[..take].iter().flat_map(|s| s.to_le_bytes()));
        self.inner.write_all(&self.scratch)?;
        self.data_bytes += 2 * take as u64;
        Ok(take == samples.len())
    }

    /// Bytes of sample data written so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Patches the RIFF and data sizes into the header and flushes.
    pub fn finish(mut self) -> io::Result<W> {
        self.patch()?;
        Ok(self.inner)
    }

    /// Patches the sizes without ending the file (a checkpoint).
    pub fn patch(&mut self) -> io::Result<()> {
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(0))?;
        self.inner.write_all(&header(
            self.sample_rate,
            self.channels,
            self.data_bytes as u32,
        ))?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()
    }
}

/// The 44-byte header of a 16-bit PCM file with `data_bytes` of samples.
pub fn header(sample_rate: u32, channels: u16, data_bytes: u32) -> [u8; 44] {
    let block_align = channels.saturating_mul(2);
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{alaw_encode, ulaw_encode};

    /// A WAV file with an arbitrary fmt body and data.
    fn file(fmt: &[u8], extra: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend(b"fmt ");
        v.extend((fmt.len() as u32).to_le_bytes());
        v.extend(fmt);
        v.extend(extra);
        v.extend(b"data");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        let size = (v.len() - 8) as u32;
        v[4..8].copy_from_slice(&size.to_le_bytes());
        v
    }

    fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut f = Vec::new();
        f.extend(tag.to_le_bytes());
        f.extend(channels.to_le_bytes());
        f.extend(rate.to_le_bytes());
        f.extend((rate * u32::from(align)).to_le_bytes());
        f.extend(align.to_le_bytes());
        f.extend(bits.to_le_bytes());
        f
    }

    #[test]
    fn writes_and_reads_back_16_bit_pcm() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 18000) as i16).collect();
        let mut cursor = io::Cursor::new(Vec::new());
        let mut w = WavWriter::new(&mut cursor, 16000, 2).unwrap();
        assert!(w.write_samples(&samples).unwrap());
        w.finish().unwrap();
        let bytes = cursor.into_inner();
        assert_eq!(bytes.len(), 44 + 2000);
        assert_eq!(&bytes[4..8], &(36u32 + 2000).to_le_bytes());
        assert_eq!(&bytes[40..44], &2000u32.to_le_bytes());
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(
            (wav.sample_rate, wav.channels, wav.format),
            (16000, 2, WavFormat::Pcm16)
        );
        assert_eq!(wav.samples, samples);
        assert_eq!(wav.to_mono().len(), 500);
        assert_eq!(Wav::parse(&wav.to_bytes()).unwrap(), wav);
    }

    #[test]
    fn reads_8_bit_ulaw_alaw_and_extensible() {
        let pcm8 = file(&fmt(1, 1, 8000, 8), &[], &[0, 128, 255]);
        assert_eq!(Wav::parse(&pcm8).unwrap().samples, vec![-32768, 0, 32512]);
        let ulaw = file(&fmt(7, 1, 8000, 8), &[], &[ulaw_encode(1000), 0xFF]);
        let wav = Wav::parse(&ulaw).unwrap();
        assert_eq!(wav.format, WavFormat::Ulaw);
        assert_eq!(wav.samples, vec![ulaw_decode(ulaw_encode(1000)), 0]);
        let alaw = file(&fmt(6, 1, 8000, 8), &[], &[alaw_encode(-1000)]);
        assert_eq!(
            Wav::parse(&alaw).unwrap().samples,
            vec![alaw_decode(alaw_encode(-1000))]
        );
        // WAVE_FORMAT_EXTENSIBLE wrapping PCM, plus a LIST chunk (odd size, padded).
        let mut ext = fmt(0xFFFE, 1, 22050, 16);
        ext.extend(22u16.to_le_bytes());
        ext.extend(16u16.to_le_bytes());
        ext.extend(4u32.to_le_bytes());
        ext.extend([
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), &[1, 2, 3, 0]].concat();
        let wav = Wav::parse(&file(&ext, &list, &[0x34, 0x12])).unwrap();
        assert_eq!(
            (wav.sample_rate, wav.samples.clone()),
            (22050, vec![0x1234])
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(matches!(Wav::parse(b"RIFX...."), Err(WavError::NotWave)));
        assert!(matches!(
            Wav::parse(&file(&fmt(3, 1, 8000, 32), &[], &[0; 8])),
            Err(WavError::Unsupported { tag: 3, bits: 32 })
        ));
        assert!(matches!(
            Wav::parse(&file(&fmt(1, 0, 8000, 16), &[], &[])),
            Err(WavError::Invalid(_))
        ));
        let mut no_data = file(&fmt(1, 1, 8000, 16), &[], &[]);
        no_data.truncate(no_data.len() - 8);
        assert!(matches!(Wav::parse(&no_data), Err(WavError::Truncated(_))));
        // Every prefix of a valid file parses or fails cleanly.
        let good = file(&fmt(1, 1, 8000, 16), &[], &[1, 2, 3, 4]);
        for n in 0..good.len() {
            let _ = Wav::parse(&good[..n]);
        }
    }

    #[test]
    fn an_unfinished_recording_still_reads() {
        let mut cursor = io::Cursor::new(Vec::new());
        let mut w = WavWriter::new(&mut cursor, 8000, 1).unwrap();
        w.write_samples(&[5, 6, 7]).unwrap();
        drop(w);
        assert_eq!(
            Wav::parse(&cursor.into_inner()).unwrap().samples,
            vec![5, 6, 7]
        );
    }
}
